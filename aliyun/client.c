/* SPDX-License-Identifier: MIT */
#include "aliyun/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aliyun/client_internal.h"
#include "aliyun/errors_internal.h"
#include "aliyun/flow_internal.h"
#include "common/backoff.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/list.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/timeutil.h"
#include "common/tokenbucket.h"

#define BODY_MAX (1024 * 1024)

typedef struct action_bucket {
    eip_list_node node; /* in aliyun_client.buckets */
    eip_tokenbucket bucket;
    char name[];
} action_bucket;

/* The life of one call. call_set_state() is the only writer of call->state and
 * keeps the list the call is in in step with it (each state but NEW and DONE
 * has its list in the client):
 *
 *   NEW -> QUEUED                 aliyun_client_call (at the back)
 *   QUEUED -> SENDING             an in-flight slot and a token of the action's
 *                                 bucket; a credential at hand; request handed over
 *   QUEUED -> WAIT_CREDS          slot and token, but no credential yet
 *   WAIT_CREDS -> QUEUED          the credential came (at the front)
 *   SENDING -> QUEUED             the credential was refused: refreshed, once (front)
 *   SENDING|QUEUED -> BACKOFF     a retryable failure (QUEUED: the transport refused
 *                                 the request) with attempts left
 *   BACKOFF -> QUEUED             the backoff ended (at the front)
 *   QUEUED|WAIT_CREDS|SENDING|BACKOFF -> DONE
 *                                 an outcome (success, DONE, CHECK, fatal, attempts
 *                                 exhausted, no credential, request not buildable),
 *                                 or cancelled / the client freed (no callback)
 *   DONE -> QUEUED                aliyun_call_rearm from the callback (at the back)
 *
 * A call in DONE is in no list: its callback runs, then it is freed or rearmed. */
enum call_state {
    CALL_NEW,        /* being set up by aliyun_client_call */
    CALL_QUEUED,     /* c->queue: waits for an in-flight slot and a token of its action */
    CALL_WAIT_CREDS, /* c->waiting: waits for the credential chain (call->waiter) */
    CALL_SENDING,    /* c->sending: its HTTP request (call->req) is in flight */
    CALL_BACKOFF,    /* c->backoff (newest first): waits until due_ms after a retryable failure */
    CALL_DONE,       /* no list: finished or cancelled */
};

struct aliyun_call {
    aliyun_client *c;
    aliyun_call_spec spec; /* action and version point into the strings below */
    char *action, *version;
    aliyun_params params;
    enum call_state state; /* written by call_set_state() only */
    eip_list_node node;    /* in the list of its state */
    int attempts;
    bool refreshed;
    int64_t due_ms;    /* CALL_BACKOFF: when to queue again */
    uint64_t sent_ms;  /* when the attempt was sent (uv_now) */
    http_request *req; /* CALL_SENDING */
    aliyun_creds_waiter waiter;
    aliyun_error last;
    /* aliyun_call_rearm() from the callback: the next request of this call */
    bool rearm;
    bool cancelled; /* aliyun_call_cancel() from its own callback */
    char *next_action;
    aliyun_params next_params;
};

struct aliyun_client {
    uv_loop_t *loop;
    aliyun_transport tr;
    aliyun_creds *creds;
    char *region;
    char *endpoint[ALIYUN_SVC_COUNT];
    char *host[ALIYUN_SVC_COUNT];
    char *ca_file;
    enum aliyun_signature_version sigver;
    int64_t backoff_base_ms, backoff_cap_ms; /* common/backoff.h, full jitter */
    int max_attempts;                        /* attempts in all, the first one included */
    double qps, burst;
    double limit_scale;
    int max_in_flight;
    long connect_timeout_ms, timeout_ms;
    size_t max_response_bytes;
    void (*on_attempt)(const char *action, const char *code, int64_t duration_ms, void *arg);
    void *on_attempt_arg;

    eip_list buckets; /* action_bucket.node */
    /* aliyun_call.node, one list per state (enum call_state) */
    eip_list queue, waiting, sending, backoff;
    uv_timer_t *pump;  /* heap: its close callback frees it */
    int dispatching;   /* callbacks running right now */
    bool free_pending; /* aliyun_client_free was called inside one of them */
    int64_t pump_due;
    aliyun_client_stats stats;
};

const char *aliyun_service_name(enum aliyun_service svc)
{
    switch (svc) {
    case ALIYUN_SVC_VPC:
        return "vpc";
    case ALIYUN_SVC_ECS:
        return "ecs";
    case ALIYUN_SVC_STS:
        return "sts";
    default:
        return "?";
    }
}

int aliyun_signature_version_parse(const char *s, enum aliyun_signature_version *out)
{
    if (!s)
        return -EINVAL;
    if (strcasecmp(s, "v3") == 0 || strcasecmp(s, "ACS3-HMAC-SHA256") == 0) {
        *out = ALIYUN_SIGN_V3;
        return 0;
    }
    if (strcasecmp(s, "rpc") == 0 || strcasecmp(s, "v1") == 0 || strcasecmp(s, "HMAC-SHA1") == 0) {
        *out = ALIYUN_SIGN_RPC;
        return 0;
    }
    return -EINVAL;
}

int aliyun_endpoint_default(enum aliyun_service svc, const char *region, bool public_endpoint,
                            char *out, size_t cap)
{
    if (!region || !*region || (unsigned)svc >= ALIYUN_SVC_COUNT)
        return -EINVAL;
    for (const char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return -EINVAL;
    int n = snprintf(out, cap, "https://%s%s.%s.aliyuncs.com", aliyun_service_name(svc),
                     public_endpoint ? "" : "-vpc", region);
    return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
}

/* "https://host:port/..." -> "host:port" (what curl sends as Host) in *out:
 * 0, -EINVAL (no host) or -ENOMEM. */
static int url_authority(const char *url, char **out)
{
    *out = NULL;
    const char *p = strstr(url, "://");
    if (!p)
        return -EINVAL;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n == 0)
        return -EINVAL;
    char *host = strndup(p, n);
    if (!host)
        return -ENOMEM;
    /* default ports are not part of the Host header curl sends */
    size_t hl = strlen(host);
    if (strncmp(url, "https://", 8) == 0 && hl > 4 && strcmp(host + hl - 4, ":443") == 0)
        host[hl - 4] = '\0';
    else if (strncmp(url, "http://", 7) == 0 && hl > 3 && strcmp(host + hl - 3, ":80") == 0)
        host[hl - 3] = '\0';
    *out = host;
    return 0;
}

/* The endpoint of each service (configured, else the region's default) and
 * the Host it is signed with. */
static int set_endpoints(aliyun_client *c, const aliyun_client_opts *opts, char *err, size_t errlen)
{
    for (int s = 0; s < ALIYUN_SVC_COUNT; s++) {
        char def[256];
        const char *ep = opts->endpoint[s];
        const char *svc = aliyun_service_name((enum aliyun_service)s);
        if (!ep || !*ep) {
            int r = aliyun_endpoint_default((enum aliyun_service)s, opts->region_id,
                                            opts->use_public_endpoints, def, sizeof(def));
            if (r) {
                eip_seterr(err, errlen, "no default %s endpoint for region %.64s: %s", svc,
                           opts->region_id, r == -E2BIG ? "too long" : "bad region");
                return r;
            }
            ep = def;
        }
        size_t l = strlen(ep);
        while (l > 0 && ep[l - 1] == '/')
            l--;
        if (!(c->endpoint[s] = strndup(ep, l))) {
            eip_seterr(err, errlen, "out of memory");
            return -ENOMEM;
        }
        int r = url_authority(c->endpoint[s], &c->host[s]);
        if (r) {
            if (r == -ENOMEM)
                eip_seterr(err, errlen, "out of memory");
            else
                eip_seterr(err, errlen, "%s endpoint %.128s: not a URL with a host", svc, ep);
            return r;
        }
    }
    return 0;
}

int aliyun_client_new(aliyun_client **out, const aliyun_client_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->loop || !opts->transport || !opts->region_id) {
        eip_seterr(err, errlen, "cloud client: no %s",
                   !opts || !opts->loop ? "loop"
                   : !opts->transport   ? "transport"
                                        : "region");
        return -EINVAL;
    }
    int r = -ENOMEM;
    aliyun_client *c = calloc(1, sizeof(*c));
    if (!c)
        goto nomem;
    c->loop = opts->loop;
    c->tr = *opts->transport;
    c->creds = opts->creds;
    eip_list_init(&c->buckets);
    eip_list_init(&c->queue);
    eip_list_init(&c->waiting);
    eip_list_init(&c->sending);
    eip_list_init(&c->backoff);
    if (!(c->region = strdup(opts->region_id)))
        goto nomem;
    r = set_endpoints(c, opts, err, errlen);
    if (r)
        goto fail;
    r = -ENOMEM;
    if (opts->ca_file && !(c->ca_file = strdup(opts->ca_file)))
        goto nomem;
    c->sigver = opts->signature_version;
    c->qps = opts->qps == 0 ? 10 : opts->qps;
    c->burst = opts->burst > 0 ? opts->burst : (c->qps > 1 ? c->qps : 1);
    c->limit_scale = opts->limit_scale == 0 ? 1 : opts->limit_scale;
    c->max_in_flight = opts->max_in_flight > 0 ? opts->max_in_flight : 16;
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    c->backoff_base_ms = opts->backoff_base_ms > 0 ? opts->backoff_base_ms : 200;
    c->backoff_cap_ms = opts->backoff_cap_ms > 0 ? opts->backoff_cap_ms : 20000;
    c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 6;
    c->max_response_bytes =
        opts->max_response_bytes > 0 ? opts->max_response_bytes : 4 * 1024 * 1024;
    c->on_attempt = opts->on_attempt;
    c->on_attempt_arg = opts->on_attempt_arg;
    c->pump = malloc(sizeof(*c->pump));
    if (!c->pump)
        goto nomem;
    r = uv_timer_init(c->loop, c->pump);
    if (r) {
        free(c->pump);
        c->pump = NULL;
        eip_seterr(err, errlen, "cloud client: %s", uv_strerror(r));
        goto fail;
    }
    c->pump->data = c;
    c->pump_due = -1;
    *out = c;
    return 0;
nomem:
    eip_seterr(err, errlen, "out of memory");
fail:
    aliyun_client_free(c);
    return r;
}

static void pump_cb(uv_timer_t *t);

/* ---- the call state machine ---- */

static const char *state_name(enum call_state s)
{
    switch (s) {
    case CALL_NEW:
        return "new";
    case CALL_QUEUED:
        return "queued";
    case CALL_WAIT_CREDS:
        return "wait-creds";
    case CALL_SENDING:
        return "sending";
    case CALL_BACKOFF:
        return "backoff";
    case CALL_DONE:
        return "done";
    }
    return "?";
}

static eip_list *state_list(aliyun_client *c, enum call_state s)
{
    switch (s) {
    case CALL_QUEUED:
        return &c->queue;
    case CALL_WAIT_CREDS:
        return &c->waiting;
    case CALL_SENDING:
        return &c->sending;
    case CALL_BACKOFF:
        return &c->backoff;
    case CALL_NEW:
    case CALL_DONE:
        break;
    }
    return NULL;
}

/* The only writer of call->state: moves the call to the list of its new state
 * (front: at the head; for the queue, ahead of the calls that never ran) and
 * logs the transition. What a state holds (the request, the credential
 * waiter) is released by the caller before it leaves the state. */
static void call_set_state(aliyun_call *call, enum call_state to, bool front)
{
    aliyun_client *c = call->c;
    eip_list *from_list = state_list(c, call->state);
    eip_list *to_list = state_list(c, to);
    if (from_list)
        eip_list_remove(from_list, &call->node);
    if (to_list && front)
        eip_list_push_front(to_list, &call->node);
    else if (to_list)
        eip_list_push_back(to_list, &call->node);
    log_debug("aliyun: %s call %p: %s -> %s (attempt %d)", call->action, (void *)call,
              state_name(call->state), state_name(to), call->attempts);
    call->state = to;
}

static aliyun_call *call_of(eip_list_node *n)
{
    return eip_container_of(n, aliyun_call, node);
}

static void free_call(aliyun_call *call)
{
    if (call->spec.arg_free)
        call->spec.arg_free(call->spec.arg);
    aliyun_params_free(&call->params);
    aliyun_params_free(&call->next_params);
    free(call->next_action);
    free(call->action);
    free(call->version);
    free(call);
}

/* Any state -> DONE without a callback: the request or the credential wait is
 * dropped. */
static void call_abort(aliyun_call *call)
{
    aliyun_client *c = call->c;
    if (call->state == CALL_SENDING && call->req)
        c->tr.cancel(c->tr.ctx, call->req);
    call->req = NULL;
    if (call->state == CALL_WAIT_CREDS)
        aliyun_creds_waiter_cancel(&call->waiter);
    call_set_state(call, CALL_DONE, false);
}

static void pump_closed(uv_handle_t *h)
{
    free(h);
}

static void client_release(aliyun_client *c);

/* Aborts and frees every call in a list: no completion callback runs. */
static void free_calls(aliyun_client *c)
{
    eip_list *lists[] = {&c->queue, &c->backoff, &c->waiting, &c->sending};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        while (!eip_list_empty(lists[i])) {
            aliyun_call *call = call_of(eip_list_first(lists[i]));
            call_abort(call);
            free_call(call);
        }
    }
}

void aliyun_client_free(aliyun_client *c)
{
    if (!c)
        return;
    if (c->dispatching > 0) {
        /* inside a callback: cancel now, free when the callback has returned */
        c->free_pending = true;
        free_calls(c);
        if (c->pump)
            (void)uv_timer_stop(c->pump); /* never fails */
        return;
    }
    client_release(c);
}

static void client_release(aliyun_client *c)
{
    free_calls(c);
    while (!eip_list_empty(&c->buckets))
        free(eip_container_of(eip_list_pop_front(&c->buckets), action_bucket, node));
    if (c->pump) {
        (void)uv_timer_stop(c->pump);
        uv_close((uv_handle_t *)c->pump, pump_closed);
    }
    free(c->region);
    for (int s = 0; s < ALIYUN_SVC_COUNT; s++) {
        free(c->endpoint[s]);
        free(c->host[s]);
    }
    free(c->ca_file);
    free(c);
}

const char *aliyun_client_region(const aliyun_client *c)
{
    return c->region;
}

const char *aliyun_client_endpoint(const aliyun_client *c, enum aliyun_service svc)
{
    return (unsigned)svc < ALIYUN_SVC_COUNT ? c->endpoint[svc] : NULL;
}

aliyun_creds *aliyun_client_creds(const aliyun_client *c)
{
    return c->creds;
}

void aliyun_client_get_stats(const aliyun_client *c, aliyun_client_stats *out)
{
    *out = c->stats;
    out->in_flight = (int)c->sending.len;
    out->queued = (int)c->queue.len;
}

int aliyun_client_token(char *out, size_t cap)
{
    return eip_random_hex(out, cap, 16);
}

static eip_tokenbucket *bucket_for(aliyun_client *c, const char *action)
{
    eip_list_node *n;
    eip_list_foreach(&c->buckets, n)
    {
        action_bucket *b = eip_container_of(n, action_bucket, node);
        if (strcmp(b->name, action) == 0)
            return &b->bucket;
    }
    size_t len = strlen(action);
    action_bucket *b = malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    memcpy(b->name, action, len + 1);
    double rate = c->qps, burst = c->burst, calls, window;
    if (c->qps >= 0 && c->limit_scale > 0 && aliyun_action_limit(action, &calls, &window) == 0) {
        double wr, wb;
        aliyun_window_bucket(calls, window, c->limit_scale, &wr, &wb);
        /* both limits hold: the configured one and the documented window */
        if (rate <= 0 || wr < rate)
            rate = wr;
        if (burst <= 0 || wb < burst)
            burst = wb;
    }
    eip_tokenbucket_init(&b->bucket, rate, burst, (int64_t)uv_now(c->loop));
    eip_list_node_init(&b->node);
    eip_list_push_back(&c->buckets, &b->node);
    return &b->bucket;
}

/* Runs pump_cb delay_ms from now (or sooner, when it already is). 0 or the
 * libuv error (logged). */
static int schedule_pump(aliyun_client *c, int64_t delay_ms)
{
    if (!c->pump)
        return 0;
    int64_t now = (int64_t)uv_now(c->loop);
    int64_t due = now + (delay_ms < 0 ? 0 : delay_ms);
    if (c->pump_due >= 0 && uv_is_active((uv_handle_t *)c->pump) && c->pump_due <= due)
        return 0;
    int r = uv_timer_start(c->pump, pump_cb, (uint64_t)(due - now), 0);
    if (r) {
        log_debug("aliyun: cannot arm the pump timer: %s", uv_strerror(r));
        return r;
    }
    c->pump_due = due;
    return 0;
}

/* After the callback: the call goes on (rearmed: DONE -> QUEUED) or is freed. */
static void after_callback(aliyun_call *call)
{
    aliyun_client *c = call->c;
    if (call->rearm && !call->cancelled && !c->free_pending) {
        /* the same call goes on with another request (same handle, same arg) */
        free(call->action);
        call->action = call->next_action;
        call->next_action = NULL;
        call->spec.action = call->action;
        aliyun_params_free(&call->params);
        call->params = call->next_params;
        aliyun_params_init(&call->next_params);
        call->rearm = false;
        call->attempts = 0;
        call->refreshed = false;
        memset(&call->last, 0, sizeof(call->last));
        c->stats.calls++;
        call_set_state(call, CALL_QUEUED, false);
        (void)schedule_pump(c, 0);
        return;
    }
    free_call(call);
    if (c->free_pending) {
        if (c->dispatching == 0)
            client_release(c);
        return;
    }
    (void)schedule_pump(c, 0);
}

/* Any state -> DONE with the outcome for the callback. */
static void finish(aliyun_call *call, int status, enum aliyun_err_class cls, json_t *body,
                   const char *request_id)
{
    aliyun_client *c = call->c;
    call_set_state(call, CALL_DONE, false);
    aliyun_result res = {
        .status = status,
        .cls = cls,
        .error = call->last,
        .attempts = call->attempts,
        .action = call->action,
        .request_id = request_id ? request_id : "",
    };
    if (status < 0)
        c->stats.failures++;
    c->dispatching++;
    call->spec.cb(&res, body, call->spec.arg);
    c->dispatching--;
    after_callback(call);
}

/* A failure of ours (no credential, a request that cannot be built): the
 * error says code in place of the cloud's; the caller may add a message. */
static aliyun_error *local_error(aliyun_call *call, const char *code)
{
    memset(&call->last, 0, sizeof(call->last));
    eip_seterr(call->last.code, sizeof(call->last.code), "%s", code);
    return &call->last;
}

int aliyun_call_rearm(aliyun_call *call, const char *action, aliyun_params *params)
{
    if (!call || !action || !params || call->state != CALL_DONE || call->rearm) {
        if (params)
            aliyun_params_free(params);
        return -EINVAL;
    }
    call->next_action = strdup(action);
    if (!call->next_action) {
        aliyun_params_free(params);
        return -ENOMEM;
    }
    call->next_params = *params;
    aliyun_params_init(params);
    call->rearm = true;
    return 0;
}

/* ---- building one signed attempt ---- */

typedef struct built_request {
    char *url;
    char *body;
    size_t body_len;
    aliyun_params headers;
    char **lines; /* the headers as "Name: value", NULL-terminated (http_request_opts) */
} built_request;

static void built_free(built_request *b)
{
    free(b->url);
    if (b->body) {
        OPENSSL_cleanse(b->body, b->body_len);
        free(b->body);
    }
    aliyun_params_free(&b->headers);
    for (size_t i = 0; b->lines && b->lines[i]; i++) {
        OPENSSL_cleanse(b->lines[i], strlen(b->lines[i])); /* Authorization, token */
        free(b->lines[i]);
    }
    free(b->lines);
}

/* b->headers as the NULL-terminated lines the transport takes. */
static int header_lines(built_request *b)
{
    b->lines = calloc(b->headers.n + 1, sizeof(*b->lines));
    if (!b->lines)
        return -ENOMEM;
    for (size_t i = 0; i < b->headers.n; i++) {
        eip_buf l;
        eip_buf_init(&l, 64 * 1024);
        int r = eip_buf_appendf(&l, "%s: %s", b->headers.v[i].key, b->headers.v[i].value);
        b->lines[i] = eip_buf_steal(&l);
        eip_buf_free(&l);
        if (!r && !b->lines[i])
            r = -ENOMEM;
        if (r)
            return r;
    }
    return 0;
}

static int nonce_and_date(char *nonce, size_t ncap, char *date, size_t dcap)
{
    int r = eip_random_hex(nonce, ncap, 16);
    if (r)
        return r;
    if (!eip_time_format_rfc3339(date, dcap, (time_t)(eip_time_now_ms() / 1000)))
        return -EINVAL;
    return 0;
}

int aliyun_rpc_common_params(aliyun_params *p, const char *action, const char *version)
{
    char nonce[40], date[32];
    int r = nonce_and_date(nonce, sizeof(nonce), date, sizeof(date));
    if (!r)
        r = aliyun_params_set(p, "Action", action);
    if (!r)
        r = aliyun_params_set(p, "Version", version);
    if (!r)
        r = aliyun_params_set(p, "Format", "JSON");
    if (!r)
        r = aliyun_params_set(p, "Timestamp", date);
    if (!r)
        r = aliyun_params_set(p, "SignatureNonce", nonce);
    return r;
}

static int build_rpc(aliyun_client *c, aliyun_call *call, const aliyun_credential *cred,
                     built_request *out)
{
    aliyun_params p;
    eip_buf body;
    eip_buf_init(&body, BODY_MAX);
    int r = aliyun_params_copy(&p, &call->params);
    if (r)
        return r;
    r = aliyun_rpc_common_params(&p, call->action, call->version);
    if (!r && cred) {
        r = aliyun_params_set(&p, "AccessKeyId", cred->access_key_id);
        if (!r)
            r = aliyun_params_set(&p, "SignatureMethod", "HMAC-SHA1");
        if (!r)
            r = aliyun_params_set(&p, "SignatureVersion", "1.0");
        if (!r && cred->security_token)
            r = aliyun_params_set(&p, "SecurityToken", cred->security_token);
        char sig[64];
        if (!r)
            r = aliyun_sign_rpc("POST", &p, cred->access_key_secret, sig, sizeof(sig));
        if (!r)
            r = aliyun_params_set(&p, "Signature", sig);
    }
    if (r)
        goto out;
    aliyun_params_sort(&p);
    r = aliyun_canonical_query(&body, &p);
    if (r)
        goto out;
    out->body_len = body.len;
    out->body = eip_buf_steal(&body);
    if (!out->body && !(out->body = strdup("")))
        r = -ENOMEM;
    if (!r && !(out->url = strdup(c->endpoint[call->spec.service])))
        r = -ENOMEM;
    aliyun_params_init(&out->headers);
    if (!r)
        r = aliyun_params_add(&out->headers, "Content-Type", "application/x-www-form-urlencoded");
    if (!r)
        r = aliyun_params_add(&out->headers, "Accept", "application/json");
out:
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    eip_buf_free(&body);
    aliyun_params_free(&p);
    return r;
}

/* V3: the parameters go in the query string of a POST with an empty body, as the
 * official SDKs send RPC-style actions; host and every x-acs-* header are signed. */
static int build_v3(aliyun_client *c, aliyun_call *call, const aliyun_credential *cred,
                    built_request *out)
{
    aliyun_params q;
    eip_buf url, auth;
    char nonce[40], date[32], hashed[65];
    eip_buf_init(&url, BODY_MAX);
    eip_buf_init(&auth, 4096);
    aliyun_params_init(&out->headers);
    int r = aliyun_params_copy(&q, &call->params);
    if (r)
        return r;
    aliyun_params_sort(&q);
    r = nonce_and_date(nonce, sizeof(nonce), date, sizeof(date));
    aliyun_hex_sha256("", 0, hashed);
    aliyun_params *h = &out->headers;
    if (!r)
        r = aliyun_params_add(h, "host", c->host[call->spec.service]);
    if (!r)
        r = aliyun_params_add(h, "x-acs-action", call->action);
    if (!r)
        r = aliyun_params_add(h, "x-acs-version", call->version);
    if (!r)
        r = aliyun_params_add(h, "x-acs-date", date);
    if (!r)
        r = aliyun_params_add(h, "x-acs-signature-nonce", nonce);
    if (!r)
        r = aliyun_params_add(h, "x-acs-content-sha256", hashed);
    if (!r && cred && cred->security_token)
        r = aliyun_params_add(h, "x-acs-security-token", cred->security_token);
    if (!r && cred) {
        aliyun_v3_request v3 = {
            .method = "POST", .path = "/", .query = &q, .headers = h, .body = "", .body_len = 0};
        char sig[65];
        r = aliyun_sign_v3(&v3, cred->access_key_id, cred->access_key_secret, sig, &auth);
        if (!r)
            r = aliyun_params_add(h, "Authorization", auth.data);
    }
    if (!r)
        r = aliyun_params_add(h, "Accept", "application/json");
    if (!r)
        r = eip_buf_appendf(&url, "%s/", c->endpoint[call->spec.service]);
    if (!r && q.n > 0) {
        r = eip_buf_append(&url, "?", 1);
        if (!r)
            r = aliyun_canonical_query(&url, &q);
    }
    if (!r) {
        out->url = eip_buf_steal(&url);
        out->body = NULL;
        out->body_len = 0;
    }
    eip_buf_free(&url);
    eip_buf_free(&auth);
    aliyun_params_free(&q);
    return r;
}

/* The build step: the signed request of this attempt (fresh nonce and date). */
static int build_request(aliyun_client *c, aliyun_call *call, const aliyun_credential *cred,
                         built_request *b)
{
    int r = (c->sigver == ALIYUN_SIGN_RPC || call->spec.anonymous) ? build_rpc(c, call, cred, b)
                                                                   : build_v3(c, call, cred, b);
    return r ? r : header_lines(b);
}

static void on_http_done(http_request *req, const http_response *resp, void *arg);
static void on_creds(aliyun_creds_waiter *w, int err, void *arg);
static void handle_response(aliyun_call *call, const http_response *resp);

/* The credential for a QUEUED call: 0 and *out (NULL for an anonymous call), or
 * 1 when the call left QUEUED (WAIT_CREDS, or DONE without a chain). */
static int call_credential(aliyun_call *call, const aliyun_credential **out)
{
    aliyun_client *c = call->c;
    *out = NULL;
    if (call->spec.anonymous)
        return 0;
    if (!c->creds) {
        local_error(call, "CredentialUnavailable");
        finish(call, -ENOKEY, ALIYUN_ERR_FATAL, NULL, NULL);
        return 1;
    }
    if ((*out = aliyun_creds_current(c->creds)) != NULL)
        return 0;
    int r = aliyun_creds_wait(c->creds, &call->waiter, on_creds, call);
    if (r) {
        aliyun_error *e = local_error(call, "CredentialUnavailable");
        eip_seterr(e->message, sizeof(e->message), "cannot wait for a credential: %s",
                   strerror(-r));
        finish(call, r, ALIYUN_ERR_FATAL, NULL, NULL);
        return 1;
    }
    call_set_state(call, CALL_WAIT_CREDS, false);
    return 1;
}

/* WAIT_CREDS -> QUEUED (at the front) or DONE. */
static void on_creds(aliyun_creds_waiter *w, int err, void *arg)
{
    (void)w;
    aliyun_call *call = arg;
    aliyun_client *c = call->c;
    if (err) {
        aliyun_error *e = local_error(call, "CredentialUnavailable");
        eip_seterr(e->message, sizeof(e->message), "no credential from source %s: %s",
                   aliyun_creds_source_name(c->creds), strerror(-err));
        finish(call, err, ALIYUN_ERR_FATAL, NULL, NULL);
        return;
    }
    call_set_state(call, CALL_QUEUED, true);
    (void)schedule_pump(c, 0);
}

/* The send step: QUEUED -> SENDING, or (the transport refused it) the outcome
 * of a transport failure. */
static void send_request(aliyun_call *call, const built_request *b)
{
    aliyun_client *c = call->c;
    http_request_opts o = {
        .method = "POST",
        .url = b->url,
        .headers = (const char *const *)b->lines,
        .body = b->body,
        .body_len = b->body_len,
        .connect_timeout_ms = c->connect_timeout_ms,
        .timeout_ms = c->timeout_ms,
        .max_response_bytes = c->max_response_bytes,
        .ca_file = c->ca_file,
        .on_done = on_http_done,
        .arg = call,
    };
    log_debug("aliyun: %s %s attempt %d", aliyun_service_name(call->spec.service), call->action,
              call->attempts);
    call->sent_ms = uv_now(c->loop);
    int r = c->tr.send(c->tr.ctx, &o, &call->req);
    if (r) {
        /* like a connection failure: the retry step decides */
        call->req = NULL;
        http_response fake = {.error = HTTP_E_INTERNAL, .error_message = "", .body = ""};
        handle_response(call, &fake);
        return;
    }
    call_set_state(call, CALL_SENDING, false);
}

/* A QUEUED call got its slot and token: credential, build, send. */
static void start_attempt(aliyun_call *call)
{
    const aliyun_credential *cred = NULL;
    if (call_credential(call, &cred))
        return;
    aliyun_client *c = call->c;
    built_request b = {0};
    int r = build_request(c, call, cred, &b);
    call->attempts++;
    c->stats.attempts++;
    if (r) {
        aliyun_error *e = local_error(call, "RequestBuildFailed");
        eip_seterr(e->message, sizeof(e->message), "%s", strerror(-r));
        finish(call, r, ALIYUN_ERR_FATAL, NULL, NULL);
    } else {
        send_request(call, &b);
    }
    built_free(&b);
}

static void redact_error(aliyun_client *c, aliyun_error *e)
{
    const aliyun_credential *cred = c->creds ? aliyun_creds_current(c->creds) : NULL;
    if (!cred)
        return;
    aliyun_redact(e->message, cred->access_key_secret);
    aliyun_redact(e->recommend, cred->access_key_secret);
    if (cred->security_token) {
        aliyun_redact(e->message, cred->security_token);
        aliyun_redact(e->recommend, cred->security_token);
    }
}

/* The classify step: what the response says. e is filled for a failure; on
 * success *root is the parsed body (the caller's reference). */
static enum aliyun_err_class classify(aliyun_call *call, const http_response *resp, aliyun_error *e,
                                      json_t **root)
{
    memset(e, 0, sizeof(*e));
    *root = NULL;
    if (resp->error) {
        e->transport = resp->error;
        eip_seterr(e->message, sizeof(e->message), "%s",
                   resp->error_message ? resp->error_message : "");
        return aliyun_error_classify(call->action, e);
    }
    if (resp->status < 200 || resp->status >= 300) {
        aliyun_error_parse(e, resp->status, resp->body, resp->body_len);
        redact_error(call->c, e);
        return aliyun_error_classify(call->action, e);
    }
    json_error_t jerr;
    int r = eip_json_loadb(resp->body, resp->body_len, 0, root, &jerr);
    if (json_is_object(*root))
        return ALIYUN_ERR_NONE;
    json_decref(*root);
    *root = NULL;
    e->http_status = resp->status;
    eip_seterr(e->code, sizeof(e->code), "%s", "InvalidResponse");
    eip_seterr(e->message, sizeof(e->message), "%s",
               r == -ENOMEM ? "no memory to read the response" : "response is not a JSON object");
    return ALIYUN_ERR_FATAL;
}

/* The retry step for a failed attempt: once more after a credential refresh
 * (-> QUEUED), again after a backoff (-> BACKOFF), or the end (-> DONE). */
static void retry_or_finish(aliyun_call *call, const http_response *resp, enum aliyun_err_class cls)
{
    aliyun_client *c = call->c;
    if (cls == ALIYUN_ERR_REFRESH && !call->refreshed && c->creds) {
        call->refreshed = true;
        aliyun_creds_invalidate(c->creds);
        c->stats.retries++;
        call_set_state(call, CALL_QUEUED, true);
        (void)schedule_pump(c, 0);
        return;
    }
    if (cls == ALIYUN_ERR_RETRY && call->attempts < c->max_attempts) {
        int64_t ra = -1;
        if (!resp->error && c->tr.header)
            ra = aliyun_parse_retry_after_ms(c->tr.header(resp, "x-acs-retry-after"));
        int64_t d = aliyun_retry_after_floor_ms(
            eip_backoff_delay_ms(c->backoff_base_ms, c->backoff_cap_ms, call->attempts,
                                 EIP_JITTER_FULL, 0, eip_backoff_rand01()),
            ra);
        c->stats.retries++;
        call->due_ms = (int64_t)uv_now(c->loop) + d;
        call_set_state(call, CALL_BACKOFF, true); /* newest first: see wake_backoffs */
        (void)schedule_pump(c, d);
        return;
    }
    finish(call, cls == ALIYUN_ERR_RETRY ? -EAGAIN : -EIO,
           cls == ALIYUN_ERR_REFRESH ? ALIYUN_ERR_FATAL : cls, NULL, NULL);
}

/* An attempt's outcome (SENDING, or QUEUED when the transport refused it). */
static void observe(aliyun_call *call, const http_response *resp, const aliyun_error *e, bool ok)
{
    aliyun_client *c = call->c;
    if (!c->on_attempt)
        return;
    char code[sizeof(e->code)];
    if (ok)
        eip_seterr(code, sizeof(code), "OK");
    else if (e->code[0])
        eip_seterr(code, sizeof(code), "%s", e->code);
    else if (resp->error)
        eip_seterr(code, sizeof(code), "%s", http_error_name(resp->error));
    else
        eip_seterr(code, sizeof(code), "HTTP %ld", resp->status);
    c->on_attempt(call->action, code, (int64_t)(uv_now(c->loop) - call->sent_ms),
                  c->on_attempt_arg);
}

static void handle_response(aliyun_call *call, const http_response *resp)
{
    aliyun_error e;
    json_t *root = NULL;
    enum aliyun_err_class cls = classify(call, resp, &e, &root);
    observe(call, resp, &e, cls == ALIYUN_ERR_NONE);
    if (cls == ALIYUN_ERR_NONE) {
        json_t *rid = json_object_get(root, "RequestId");
        finish(call, 0, ALIYUN_ERR_NONE, root, json_is_string(rid) ? json_string_value(rid) : "");
        json_decref(root);
        return;
    }
    call->last = e;
    if (e.code[0] && strncmp(e.code, "Throttling", 10) == 0)
        call->c->stats.throttled++;
    log_debug("aliyun: %s attempt %d: %s %s (%s)", call->action, call->attempts,
              e.transport ? http_error_name(e.transport) : "", e.code, aliyun_err_class_name(cls));
    if (cls == ALIYUN_ERR_DONE)
        finish(call, 0, ALIYUN_ERR_DONE, NULL, e.request_id);
    else if (cls == ALIYUN_ERR_CHECK) /* not retried blindly: the caller looks (and may rearm) */
        finish(call, -EAGAIN, ALIYUN_ERR_CHECK, NULL, NULL);
    else
        retry_or_finish(call, resp, cls);
}

static void on_http_done(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    aliyun_call *call = arg;
    call->req = NULL;
    handle_response(call, resp);
}

/* ---- the pump: backoffs that ended, then the queue in order ---- */

/* BACKOFF -> QUEUED (at the front, the longest waiting first) for every call
 * whose backoff ended; the wait for the next one, -1 when none. */
static int64_t wake_backoffs(aliyun_client *c, int64_t now)
{
    int64_t next = -1;
    /* the list is newest first and each goes to the front: the oldest ends at the head */
    eip_list_node *n, *tmp;
    eip_list_foreach_safe(&c->backoff, n, tmp)
    {
        aliyun_call *call = call_of(n);
        if (call->due_ms <= now)
            call_set_state(call, CALL_QUEUED, true);
        else if (next < 0 || call->due_ms - now < next)
            next = call->due_ms - now;
    }
    return next;
}

/* Starts the queued calls that get an in-flight slot and a token of their
 * action's bucket, in order; the wait for the first token missing, -1 when none. */
static int64_t dispatch_queue(aliyun_client *c, int64_t now)
{
    int64_t next = -1;
    eip_list_node *n = eip_list_first(&c->queue);
    while (n && c->sending.len < (size_t)c->max_in_flight && !c->free_pending) {
        aliyun_call *call = call_of(n);
        eip_tokenbucket *b = bucket_for(c, call->action);
        int64_t wait = b ? eip_tokenbucket_take(b, now) : 0;
        if (wait > 0) {
            if (next < 0 || wait < next)
                next = wait;
            n = eip_list_next(&c->queue, n);
            continue;
        }
        start_attempt(call);
        /* callbacks inside may have finished, cancelled or added calls: start over */
        n = eip_list_first(&c->queue);
    }
    return next;
}

static void pump_cb(uv_timer_t *t)
{
    aliyun_client *c = t->data;
    c->pump_due = -1;
    c->dispatching++; /* a callback inside may free the client */
    int64_t now = (int64_t)uv_now(c->loop);
    int64_t next = wake_backoffs(c, now);
    int64_t wait = dispatch_queue(c, now);
    if (wait >= 0 && (next < 0 || wait < next))
        next = wait;
    c->dispatching--;
    if (c->free_pending) {
        if (c->dispatching == 0)
            client_release(c);
        return;
    }
    if (next >= 0)
        (void)schedule_pump(c, next);
}

int aliyun_client_call(aliyun_client *c, const aliyun_call_spec *spec, aliyun_params *params,
                       aliyun_call **out)
{
    int r = -EINVAL;
    aliyun_call *call = NULL;
    if (!c || !spec || !spec->action || !spec->version || !spec->cb ||
        (unsigned)spec->service >= ALIYUN_SVC_COUNT)
        goto fail;
    r = -ENOMEM;
    call = calloc(1, sizeof(*call));
    if (!call)
        goto fail;
    call->c = c;
    call->spec = *spec;
    eip_list_node_init(&call->node);
    call->action = strdup(spec->action);
    call->version = strdup(spec->version);
    if (!call->action || !call->version)
        goto fail;
    call->spec.action = call->action;
    call->spec.version = call->version;
    call->params = *params;
    aliyun_params_init(params);
    call_set_state(call, CALL_QUEUED, false);
    r = schedule_pump(c, 0);
    if (r) {
        call_set_state(call, CALL_DONE, false);
        goto fail;
    }
    c->stats.calls++;
    if (out)
        *out = call;
    return 0;
fail:
    if (call) {
        call->spec.arg_free = NULL; /* failure: the caller still owns arg */
        free_call(call);
    }
    if (params)
        aliyun_params_free(params);
    return r;
}

void aliyun_call_cancel(aliyun_call *call)
{
    if (!call)
        return;
    if (call->state == CALL_DONE) {
        /* inside its own callback: freed when the callback returns */
        call->cancelled = true;
        return;
    }
    aliyun_client *c = call->c;
    call_abort(call);
    free_call(call);
    (void)schedule_pump(c, 0);
}
