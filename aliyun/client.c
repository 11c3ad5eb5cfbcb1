/* SPDX-License-Identifier: MIT */
#include "aliyun/client.h"
#include "aliyun/errors_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aliyun/flow_internal.h"
#include "common/backoff.h"
#include "common/tokenbucket.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/timeutil.h"

#define BODY_MAX (1024 * 1024)

typedef struct action_bucket {
    struct action_bucket *next;
    eip_tokenbucket bucket;
    char name[];
} action_bucket;

enum call_state { CALL_QUEUED, CALL_CREDS, CALL_IN_FLIGHT, CALL_SLEEPING, CALL_FINISHING };

struct aliyun_call {
    aliyun_client *c;
    aliyun_call_spec spec; /* action and version point into strs below */
    char *action, *version;
    aliyun_params params;
    aliyun_call_cb cb;
    void *arg;
    enum call_state state;
    int attempts;
    bool refreshed;
    int64_t due_ms; /* CALL_SLEEPING: when to queue again */
    http_request *req;
    aliyun_creds_waiter waiter;
    aliyun_error last;
    aliyun_call *prev, *next; /* queue or sleeping list */
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

    action_bucket *buckets;
    aliyun_call *queue_head, *queue_tail;
    aliyun_call *sleeping;
    aliyun_call *in_flight_list; /* and CALL_CREDS calls */
    int in_flight;
    int queued;
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

/* "https://host:port/..." -> "host:port" (what curl sends as Host). */
static char *url_authority(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return NULL;
    p += 3;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (n == 0)
        return NULL;
    char *host = strndup(p, n);
    if (!host)
        return NULL;
    /* default ports are not part of the Host header curl sends */
    size_t hl = strlen(host);
    if (strncmp(url, "https://", 8) == 0 && hl > 4 && strcmp(host + hl - 4, ":443") == 0)
        host[hl - 4] = '\0';
    else if (strncmp(url, "http://", 7) == 0 && hl > 3 && strcmp(host + hl - 3, ":80") == 0)
        host[hl - 3] = '\0';
    return host;
}

static void pump_cb(uv_timer_t *t);

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
        if (!(c->host[s] = url_authority(c->endpoint[s]))) {
            eip_seterr(err, errlen, "%s endpoint %.128s: not a URL with a host", svc, ep);
            return -EINVAL; /* url_authority fails on ENOMEM too: rare, and still refused */
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
    if (!c || !(c->region = strdup(opts->region_id)))
        goto nomem;
    c->loop = opts->loop;
    c->tr = *opts->transport;
    c->creds = opts->creds;
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

static void free_call(aliyun_call *call)
{
    if (call->spec.arg_free)
        call->spec.arg_free(call->arg);
    aliyun_params_free(&call->params);
    aliyun_params_free(&call->next_params);
    free(call->next_action);
    free(call->action);
    free(call->version);
    free(call);
}

static void list_remove(aliyun_call **head, aliyun_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else if (*head == call)
        *head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

static void list_push(aliyun_call **head, aliyun_call *call)
{
    call->prev = NULL;
    call->next = *head;
    if (*head)
        (*head)->prev = call;
    *head = call;
}

static void queue_remove(aliyun_client *c, aliyun_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        c->queue_head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        c->queue_tail = call->prev;
    call->prev = call->next = NULL;
    c->queued--;
}

static void queue_push(aliyun_client *c, aliyun_call *call, bool front)
{
    call->state = CALL_QUEUED;
    if (front) {
        call->prev = NULL;
        call->next = c->queue_head;
        if (c->queue_head)
            c->queue_head->prev = call;
        else
            c->queue_tail = call;
        c->queue_head = call;
    } else {
        call->next = NULL;
        call->prev = c->queue_tail;
        if (c->queue_tail)
            c->queue_tail->next = call;
        else
            c->queue_head = call;
        c->queue_tail = call;
    }
    c->queued++;
}

/* Takes the call out of whatever list or request it is in, without callbacks. */
static void detach(aliyun_call *call)
{
    aliyun_client *c = call->c;
    switch (call->state) {
    case CALL_QUEUED:
        queue_remove(c, call);
        break;
    case CALL_SLEEPING:
        list_remove(&c->sleeping, call);
        break;
    case CALL_CREDS:
        aliyun_creds_waiter_cancel(&call->waiter);
        list_remove(&c->in_flight_list, call);
        break;
    case CALL_IN_FLIGHT:
        if (call->req)
            c->tr.cancel(c->tr.ctx, call->req);
        call->req = NULL;
        c->in_flight--;
        list_remove(&c->in_flight_list, call);
        break;
    case CALL_FINISHING: /* in no list: its callback is running */
        break;
    }
}

static void pump_closed(uv_handle_t *h)
{
    free(h);
}

static void client_release(aliyun_client *c);

/* Detaches and frees every call: queued, waiting to retry, or in flight. No
 * completion callback runs. */
static void free_calls(aliyun_client *c)
{
    while (c->queue_head) {
        aliyun_call *call = c->queue_head;
        detach(call);
        free_call(call);
    }
    while (c->sleeping) {
        aliyun_call *call = c->sleeping;
        detach(call);
        free_call(call);
    }
    while (c->in_flight_list) {
        aliyun_call *call = c->in_flight_list;
        detach(call);
        free_call(call);
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
            uv_timer_stop(c->pump);
        return;
    }
    client_release(c);
}

static void client_release(aliyun_client *c)
{
    free_calls(c);
    while (c->buckets) {
        action_bucket *b = c->buckets;
        c->buckets = b->next;
        free(b);
    }
    if (c->pump) {
        uv_timer_stop(c->pump);
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
    out->in_flight = c->in_flight;
    out->queued = c->queued;
}

int aliyun_client_token(char *out, size_t cap)
{
    return eip_random_hex(out, cap, 16);
}

static eip_tokenbucket *bucket_for(aliyun_client *c, const char *action)
{
    for (action_bucket *b = c->buckets; b; b = b->next)
        if (strcmp(b->name, action) == 0)
            return &b->bucket;
    size_t n = strlen(action);
    action_bucket *b = malloc(sizeof(*b) + n + 1);
    if (!b)
        return NULL;
    memcpy(b->name, action, n + 1);
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
    b->next = c->buckets;
    c->buckets = b;
    return &b->bucket;
}

static void schedule_pump(aliyun_client *c, int64_t delay_ms)
{
    if (!c->pump)
        return;
    int64_t now = (int64_t)uv_now(c->loop);
    int64_t due = now + (delay_ms < 0 ? 0 : delay_ms);
    if (c->pump_due >= 0 && uv_is_active((uv_handle_t *)c->pump) && c->pump_due <= due)
        return;
    c->pump_due = due;
    uv_timer_start(c->pump, pump_cb, (uint64_t)(due - now), 0);
}

static void finish(aliyun_call *call, int status, enum aliyun_err_class cls, json_t *body,
                   const char *request_id)
{
    aliyun_client *c = call->c;
    detach(call);
    call->state = CALL_FINISHING;
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
    aliyun_call_cb cb = call->cb;
    void *arg = call->arg;
    c->dispatching++;
    cb(&res, body, arg);
    c->dispatching--;
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
        queue_push(c, call, false);
        schedule_pump(c, 0);
        return;
    }
    free_call(call);
    if (c->free_pending) {
        if (c->dispatching == 0)
            client_release(c);
        return;
    }
    schedule_pump(c, 0);
}

int aliyun_call_rearm(aliyun_call *call, const char *action, aliyun_params *params)
{
    if (!call || !action || !params || call->state != CALL_FINISHING || call->rearm) {
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
} built_request;

static void built_free(built_request *b)
{
    free(b->url);
    if (b->body) {
        OPENSSL_cleanse(b->body, b->body_len);
        free(b->body);
    }
    aliyun_params_free(&b->headers);
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

static int build_rpc(aliyun_client *c, aliyun_call *call, const aliyun_credential *cred,
                     built_request *out)
{
    aliyun_params p;
    eip_buf body;
    char nonce[40], date[32];
    eip_buf_init(&body, BODY_MAX);
    int r = aliyun_params_copy(&p, &call->params);
    if (r)
        return r;
    r = nonce_and_date(nonce, sizeof(nonce), date, sizeof(date));
    if (!r)
        r = aliyun_params_set(&p, "Action", call->action);
    if (!r)
        r = aliyun_params_set(&p, "Version", call->version);
    if (!r)
        r = aliyun_params_set(&p, "Format", "JSON");
    if (!r)
        r = aliyun_params_set(&p, "Timestamp", date);
    if (!r)
        r = aliyun_params_set(&p, "SignatureNonce", nonce);
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

static void on_http_done(http_request *req, const http_response *resp, void *arg);
static void start_attempt(aliyun_call *call);

static void on_creds(aliyun_creds_waiter *w, int err, void *arg)
{
    (void)w;
    aliyun_call *call = arg;
    aliyun_client *c = call->c;
    list_remove(&c->in_flight_list, call);
    call->state = CALL_QUEUED; /* detached: not in the queue yet */
    if (err) {
        memset(&call->last, 0, sizeof(call->last));
        snprintf(call->last.code, sizeof(call->last.code), "%s", "CredentialUnavailable");
        snprintf(call->last.message, sizeof(call->last.message), "no credential from source %s: %s",
                 c->creds ? aliyun_creds_source_name(c->creds) : "none", strerror(-err));
        /* finish() detaches: put it where detach() expects it */
        queue_push(c, call, true);
        finish(call, err, ALIYUN_ERR_FATAL, NULL, NULL);
        return;
    }
    queue_push(c, call, true);
    schedule_pump(c, 0);
}

static void start_attempt(aliyun_call *call)
{
    aliyun_client *c = call->c;
    const aliyun_credential *cred = NULL;
    if (!call->spec.anonymous) {
        cred = c->creds ? aliyun_creds_current(c->creds) : NULL;
        if (!cred) {
            if (!c->creds) {
                queue_push(c, call, true);
                memset(&call->last, 0, sizeof(call->last));
                snprintf(call->last.code, sizeof(call->last.code), "%s", "CredentialUnavailable");
                finish(call, -ENOKEY, ALIYUN_ERR_FATAL, NULL, NULL);
                return;
            }
            call->state = CALL_CREDS;
            list_push(&c->in_flight_list, call);
            if (aliyun_creds_wait(c->creds, &call->waiter, on_creds, call) < 0) {
                list_remove(&c->in_flight_list, call);
                queue_push(c, call, true);
                finish(call, -ENOMEM, ALIYUN_ERR_FATAL, NULL, NULL);
            }
            return;
        }
    }

    built_request b = {0};
    int r = (c->sigver == ALIYUN_SIGN_RPC || call->spec.anonymous) ? build_rpc(c, call, cred, &b)
                                                                   : build_v3(c, call, cred, &b);
    const char **hdrs = NULL;
    if (!r) {
        hdrs = calloc(b.headers.n + 1, sizeof(*hdrs));
        if (!hdrs)
            r = -ENOMEM;
    }
    char **lines = NULL;
    if (!r) {
        lines = calloc(b.headers.n + 1, sizeof(*lines));
        if (!lines)
            r = -ENOMEM;
    }
    for (size_t i = 0; !r && i < b.headers.n; i++) {
        eip_buf l;
        eip_buf_init(&l, 64 * 1024);
        r = eip_buf_appendf(&l, "%s: %s", b.headers.v[i].key, b.headers.v[i].value);
        lines[i] = eip_buf_steal(&l);
        eip_buf_free(&l);
        if (!r && !lines[i])
            r = -ENOMEM;
        hdrs[i] = lines[i];
    }
    call->attempts++;
    c->stats.attempts++;
    if (r) {
        memset(&call->last, 0, sizeof(call->last));
        snprintf(call->last.code, sizeof(call->last.code), "%s", "RequestBuildFailed");
        queue_push(c, call, true);
        finish(call, r, ALIYUN_ERR_FATAL, NULL, NULL);
        goto out;
    }
    http_request_opts o = {
        .method = "POST",
        .url = b.url,
        .headers = hdrs,
        .body = b.body,
        .body_len = b.body_len,
        .connect_timeout_ms = c->connect_timeout_ms,
        .timeout_ms = c->timeout_ms,
        .max_response_bytes = c->max_response_bytes,
        .ca_file = c->ca_file,
        .on_done = on_http_done,
        .arg = call,
    };
    call->state = CALL_IN_FLIGHT;
    list_push(&c->in_flight_list, call);
    c->in_flight++;
    log_debug("aliyun: %s %s attempt %d", aliyun_service_name(call->spec.service), call->action,
              call->attempts);
    r = c->tr.send(c->tr.ctx, &o, &call->req);
    if (r) {
        /* treated like a connection failure: the retry logic decides */
        call->req = NULL;
        http_response fake = {.error = HTTP_E_INTERNAL, .error_message = "", .body = ""};
        on_http_done(NULL, &fake, call);
    }
out:
    if (lines) {
        for (size_t i = 0; i < b.headers.n; i++) {
            if (lines[i]) {
                OPENSSL_cleanse(lines[i], strlen(lines[i]));
                free(lines[i]);
            }
        }
    }
    free(lines);
    free(hdrs);
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

static void on_http_done(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    aliyun_call *call = arg;
    aliyun_client *c = call->c;
    call->req = NULL;
    list_remove(&c->in_flight_list, call);
    c->in_flight--;
    call->state = CALL_QUEUED; /* not in the queue: transient */

    aliyun_error e;
    memset(&e, 0, sizeof(e));
    json_t *root = NULL;
    enum aliyun_err_class cls;
    if (resp->error) {
        e.transport = resp->error;
        snprintf(e.message, sizeof(e.message), "%s",
                 resp->error_message ? resp->error_message : "");
        cls = aliyun_error_classify(call->action, &e);
    } else if (resp->status >= 200 && resp->status < 300) {
        json_error_t jerr;
        root = json_loadb(resp->body, resp->body_len, 0, &jerr);
        if (!root || !json_is_object(root)) {
            json_decref(root);
            root = NULL;
            e.http_status = resp->status;
            snprintf(e.code, sizeof(e.code), "%s", "InvalidResponse");
            snprintf(e.message, sizeof(e.message), "response is not a JSON object");
            cls = ALIYUN_ERR_FATAL;
        } else {
            cls = ALIYUN_ERR_NONE;
        }
    } else {
        aliyun_error_parse(&e, resp->status, resp->body, resp->body_len);
        redact_error(c, &e);
        cls = aliyun_error_classify(call->action, &e);
    }

    if (cls == ALIYUN_ERR_NONE) {
        json_t *rid = json_object_get(root, "RequestId");
        char request_id[96];
        snprintf(request_id, sizeof(request_id), "%s",
                 json_is_string(rid) ? json_string_value(rid) : "");
        queue_push(c, call, true);
        finish(call, 0, ALIYUN_ERR_NONE, root, request_id);
        json_decref(root);
        return;
    }
    call->last = e;
    if (e.code[0] && strncmp(e.code, "Throttling", 10) == 0)
        c->stats.throttled++;
    log_debug("aliyun: %s attempt %d: %s %s (%s)", call->action, call->attempts,
              e.transport ? http_error_name(e.transport) : "", e.code, aliyun_err_class_name(cls));

    if (cls == ALIYUN_ERR_DONE) {
        queue_push(c, call, true);
        finish(call, 0, ALIYUN_ERR_DONE, NULL, e.request_id);
        return;
    }
    if (cls == ALIYUN_ERR_CHECK) {
        /* not retried blindly: the caller looks at the resource (and may rearm) */
        queue_push(c, call, true);
        finish(call, -EAGAIN, ALIYUN_ERR_CHECK, NULL, NULL);
        return;
    }
    if (cls == ALIYUN_ERR_REFRESH && !call->refreshed && c->creds) {
        call->refreshed = true;
        aliyun_creds_invalidate(c->creds);
        c->stats.retries++;
        queue_push(c, call, true);
        schedule_pump(c, 0);
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
        call->state = CALL_SLEEPING;
        call->due_ms = (int64_t)uv_now(c->loop) + d;
        list_push(&c->sleeping, call);
        schedule_pump(c, d);
        return;
    }
    queue_push(c, call, true);
    finish(call, cls == ALIYUN_ERR_RETRY ? -EAGAIN : -EIO,
           cls == ALIYUN_ERR_REFRESH ? ALIYUN_ERR_FATAL : cls, NULL, NULL);
}

static void pump_cb(uv_timer_t *t)
{
    aliyun_client *c = t->data;
    c->pump_due = -1;
    c->dispatching++; /* a callback inside may free the client */
    int64_t now = (int64_t)uv_now(c->loop);
    int64_t next = -1;

    /* sleepers whose backoff ended go back to the queue, ahead of new calls */
    for (aliyun_call *s = c->sleeping, *nx; s; s = nx) {
        nx = s->next;
        if (s->due_ms <= now) {
            list_remove(&c->sleeping, s);
            queue_push(c, s, true);
        } else if (next < 0 || s->due_ms - now < next) {
            next = s->due_ms - now;
        }
    }
    for (aliyun_call *call = c->queue_head, *nx;
         call && c->in_flight < c->max_in_flight && !c->free_pending; call = nx) {
        nx = call->next;
        eip_tokenbucket *b = bucket_for(c, call->action);
        int64_t wait = b ? eip_tokenbucket_take(b, now) : 0;
        if (wait > 0) {
            if (next < 0 || wait < next)
                next = wait;
            continue;
        }
        queue_remove(c, call);
        start_attempt(call);
        /* start_attempt may finish calls and change the queue: start again */
        nx = c->queue_head;
    }
    c->dispatching--;
    if (c->free_pending) {
        if (c->dispatching == 0)
            client_release(c);
        return;
    }
    if (next >= 0)
        schedule_pump(c, next);
}

int aliyun_client_call(aliyun_client *c, const aliyun_call_spec *spec, aliyun_params *params,
                       aliyun_call_cb cb, void *arg, aliyun_call **out)
{
    int r = 0;
    aliyun_call *call = NULL;
    if (!c || !spec || !spec->action || !spec->version || !cb ||
        (unsigned)spec->service >= ALIYUN_SVC_COUNT) {
        r = -EINVAL;
        goto fail;
    }
    call = calloc(1, sizeof(*call));
    if (!call) {
        r = -ENOMEM;
        goto fail;
    }
    call->c = c;
    call->spec = *spec;
    call->action = strdup(spec->action);
    call->version = strdup(spec->version);
    if (!call->action || !call->version) {
        r = -ENOMEM;
        goto fail;
    }
    call->spec.action = call->action;
    call->spec.version = call->version;
    call->params = *params;
    aliyun_params_init(params);
    call->cb = cb;
    call->arg = arg;
    queue_push(c, call, false);
    c->stats.calls++;
    schedule_pump(c, 0);
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
    if (call->state == CALL_FINISHING) {
        /* inside its own callback: finish() frees it when the callback returns */
        call->cancelled = true;
        return;
    }
    aliyun_client *c = call->c;
    detach(call);
    free_call(call);
    schedule_pump(c, 0);
}
