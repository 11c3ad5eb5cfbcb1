/* SPDX-License-Identifier: MIT */
#include "k8s/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/list.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/tokenbucket.h"
#include "k8s/status_internal.h"

#define ERROR_BODY_MAX (64 * 1024)
#define URL_MAX (64 * 1024)
#define HEADER_MAX (80 * 1024)     /* one request header: a bearer token is at most 64 KiB */
#define BODY_MAX (3 * 1024 * 1024) /* the API server's own limit on a request body */

/* A call's lifecycle; call_set_state() is the only writer of the state and of
 * the list the call is in. */
enum call_state {
    CALL_NEW,       /* built, neither queued nor sent */
    CALL_QUEUED,    /* waiting for a token of the rate limiter (c->queue) */
    CALL_IN_FLIGHT, /* the HTTP request is out (c->active) */
    CALL_RETRY_401, /* answered 401: out again with a re-read token, once (c->active) */
    CALL_DONE,      /* answered, failed or cancelled: on_done runs (or not), then freed */
};

struct k8s_call {
    k8s_client *c;
    eip_list_node node; /* in c->queue or c->active, as the state says */
    enum call_state state;
    char *method, *url, *body, *ctype_header;
    size_t body_len;
    long timeout_ms;
    k8s_chunk_cb on_chunk;
    k8s_done_cb on_done;
    void *arg;
    http_request *req;
    eip_buf errbody; /* streaming mode: a non-2xx body, for its Status */
};

struct k8s_client {
    uv_loop_t *loop;
    http_client *http;
    const k8s_config *cfg;
    k8s_client_opts opts;
    char *user_agent_header;
    char *token;
    int64_t token_read_ms;
    eip_tokenbucket bucket;
    uv_timer_t timer; /* wakes the limiter queue */
    bool pumping;
    eip_list queue, active;
    k8s_client_stats stats;
};

static const char *call_state_name(enum call_state s)
{
    switch (s) {
    case CALL_NEW:
        return "new";
    case CALL_QUEUED:
        return "queued";
    case CALL_IN_FLIGHT:
        return "in-flight";
    case CALL_RETRY_401:
        return "retry-401";
    case CALL_DONE:
        return "done";
    }
    return "?";
}

static eip_list *state_list(k8s_client *c, enum call_state s)
{
    switch (s) {
    case CALL_QUEUED:
        return &c->queue;
    case CALL_IN_FLIGHT:
    case CALL_RETRY_401:
        return &c->active;
    case CALL_NEW:
    case CALL_DONE:
        break;
    }
    return NULL;
}

static void call_set_state(k8s_call *x, enum call_state s)
{
    if (x->state == s)
        return;
    log_debug("k8s: %s %s: %s -> %s", x->method, x->url, call_state_name(x->state),
              call_state_name(s));
    eip_list *from = state_list(x->c, x->state), *to = state_list(x->c, s);
    if (from != to) {
        if (from)
            eip_list_remove(from, &x->node);
        if (to)
            eip_list_push_back(to, &x->node);
    }
    x->state = s;
}

const char *k8s_patch_content_type(k8s_patch_type t)
{
    switch (t) {
    case K8S_PATCH_MERGE:
        return "application/merge-patch+json";
    case K8S_PATCH_STRATEGIC_MERGE:
        return "application/strategic-merge-patch+json";
    case K8S_PATCH_JSON:
        return "application/json-patch+json";
    }
    return "application/merge-patch+json";
}

/* Re-reads the token file when due (or forced). A failed re-read keeps the
 * previous token: a rotating file may be briefly absent. */
static void refresh_token(k8s_client *c, bool force)
{
    if (!c->cfg->token_file)
        return;
    int64_t now = eip_time_mono_ms();
    if (!force && c->token && now - c->token_read_ms < c->opts.token_refresh_ms)
        return;
    char *tok = NULL;
    char err[256];
    int r = k8s_config_read_token(c->cfg, &tok, err, sizeof(err));
    if (r || !tok) {
        log_debug("k8s: keeping the previous token: %s", r ? err : "empty");
        return;
    }
    if (!c->token || strcmp(c->token, tok) != 0)
        c->stats.token_reloads++;
    free(c->token);
    c->token = tok;
    c->token_read_ms = now;
}

static void call_free(k8s_call *x)
{
    if (!x)
        return;
    free(x->method);
    free(x->url);
    free(x->body);
    free(x->ctype_header);
    eip_buf_free(&x->errbody);
    free(x);
}

static int chunk_cb(http_request *req, const http_response *partial, const char *data, size_t len,
                    void *arg)
{
    (void)req;
    k8s_call *x = arg;
    if (partial->status < 200 || partial->status >= 300) {
        /* Keep only the start of an error body: enough for its Status. */
        size_t room = x->errbody.max - x->errbody.len;
        if (room)
            eip_buf_append(&x->errbody, data, len < room ? len : room);
        return 0;
    }
    return x->on_chunk(x, partial->status, data, len, x->arg);
}

/* The k8s_response of an HTTP response; *json (the caller releases it) is the
 * parsed 2xx body that r->json borrows. */
static void make_response(const k8s_call *x, const http_response *resp, k8s_response *r,
                          json_t **json)
{
    memset(r, 0, sizeof(*r));
    *json = NULL;
    r->http_status = resp->status;
    r->transport_error = resp->error;
    r->transport_message = resp->error_message ? resp->error_message : "";
    r->body = resp->body ? resp->body : "";
    r->body_len = resp->body_len;
    r->retry_after_ms = -1;
    if (x->on_chunk && x->errbody.len) {
        r->body = x->errbody.data;
        r->body_len = x->errbody.len;
    }
    if (resp->error != 0 && !(resp->error == HTTP_E_ABORTED && resp->status)) {
        r->result = resp->error == HTTP_E_TOO_LARGE ? K8S_E_TOO_LARGE : K8S_E_TRANSPORT;
        k8s_status_from_json(NULL, resp->status, &r->status);
        eip_seterr(r->status.message, sizeof(r->status.message), "%s%s%s",
                   http_error_name(resp->error), *r->transport_message ? ": " : "",
                   r->transport_message);
    } else if (resp->status >= 200 && resp->status < 300) {
        r->result = K8S_OK;
        if (resp->error == HTTP_E_ABORTED) {
            r->result = K8S_E_TRANSPORT;
        } else if (!x->on_chunk && r->body_len) {
            if (eip_json_loadb(r->body, r->body_len, 0, json, NULL))
                r->result = K8S_E_PARSE;
        }
        r->json = *json;
        k8s_status_from_json(NULL, resp->status, &r->status);
    } else {
        json_t *st = NULL;
        if (r->body_len)
            (void)eip_json_loadb(r->body, r->body_len, 0, &st, NULL); /* none: by the status */
        k8s_status_from_json(st, resp->status, &r->status);
        json_decref(st);
        r->result = k8s_result_from_status(resp->status, r->status.reason);
        if (resp->status == 429 || resp->status >= 500)
            r->retry_after_ms = k8s_parse_retry_after(http_response_header(resp, "Retry-After"));
        if (!r->status.message[0])
            eip_seterr(r->status.message, sizeof(r->status.message), "HTTP %ld", resp->status);
    }
}

/* The call is over: on_done gets r, then the call is freed. */
static void observe(const k8s_call *x, const k8s_response *r)
{
    const k8s_client_opts *o = &x->c->opts;
    if (!o->on_result)
        return;
    char verb[8];
    size_t i = 0;
    const char *m = x->on_chunk ? "watch" : x->method;
    for (; m[i] && i < sizeof(verb) - 1; i++)
        verb[i] = (char)(m[i] >= 'A' && m[i] <= 'Z' ? m[i] - 'A' + 'a' : m[i]);
    verb[i] = '\0';
    o->on_result(verb, r->http_status, r->result, o->on_result_arg);
}

static void finish(k8s_call *x, const k8s_response *r)
{
    call_set_state(x, CALL_DONE);
    x->c->stats.results[r->result]++;
    observe(x, r);
    if (x->on_done)
        x->on_done(x, r, x->arg);
    call_free(x);
}

static int dispatch(k8s_call *x);

static void done_cb(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    k8s_call *x = arg;
    k8s_client *c = x->c;
    x->req = NULL;
    if (resp->error == 0 && resp->status == 401 && x->state == CALL_IN_FLIGHT &&
        c->cfg->token_file) {
        /* Bound service-account tokens rotate: re-read and try once more. */
        call_set_state(x, CALL_RETRY_401);
        c->stats.retries_401++;
        refresh_token(c, true);
        eip_buf_reset(&x->errbody);
        if (dispatch(x) == 0)
            return;
    }
    k8s_response r;
    json_t *json = NULL;
    make_response(x, resp, &r, &json);
    log_debug("k8s: %s %s -> %ld %s", x->method, x->url, resp->status, k8s_result_name(r.result));
    finish(x, &r);
    json_decref(json);
}

/* "Authorization: Bearer <token>" into auth, or nothing without a token. */
static int auth_header(const k8s_client *c, eip_buf *auth)
{
    if (!c->token)
        return 0;
    return eip_buf_appendf(auth, "Authorization: Bearer %s", c->token);
}

static void request_opts(k8s_call *x, const char *const *headers, http_request_opts *o)
{
    const k8s_config *cfg = x->c->cfg;
    memset(o, 0, sizeof(*o));
    o->method = x->method;
    o->url = x->url;
    o->headers = headers;
    o->body = x->body;
    o->body_len = x->body_len;
    o->timeout_ms = x->timeout_ms;
    o->max_response_bytes = x->c->opts.max_response_bytes;
    o->ca_file = cfg->ca_file;
    o->ca_pem = cfg->ca_pem;
    o->client_cert_file = cfg->client_cert_file;
    o->client_key_file = cfg->client_key_file;
    o->client_cert_pem = cfg->client_cert_pem;
    o->client_key_pem = cfg->client_key_pem;
    o->tls_server_name = cfg->tls_server_name;
    o->insecure_skip_verify = cfg->insecure_skip_verify;
    o->on_chunk = x->on_chunk ? chunk_cb : NULL;
    o->on_done = done_cb;
    o->arg = x;
}

/* Sends x (in flight already). 0, or a negative errno and nothing sent. */
static int dispatch(k8s_call *x)
{
    k8s_client *c = x->c;
    refresh_token(c, false);
    eip_buf auth;
    eip_buf_init(&auth, HEADER_MAX);
    int r = auth_header(c, &auth);
    if (r)
        goto out;
    const char *headers[5];
    size_t nh = 0;
    headers[nh++] = "Accept: application/json";
    headers[nh++] = c->user_agent_header;
    if (auth.len)
        headers[nh++] = auth.data;
    if (x->ctype_header)
        headers[nh++] = x->ctype_header;
    headers[nh] = NULL;
    http_request_opts o;
    request_opts(x, headers, &o);
    r = http_client_send(c->http, &o, &x->req); /* copies the headers */
    if (r == 0)
        c->stats.requests++;
out:
    if (auth.data)
        memset(auth.data, 0, auth.len);
    eip_buf_free(&auth);
    return r;
}

/* A call that could not be sent from the queue: on_done gets a transport error. */
static void fail_async(k8s_call *x, int err)
{
    k8s_response r;
    memset(&r, 0, sizeof(r));
    r.result = K8S_E_TRANSPORT;
    r.transport_error = HTTP_E_INTERNAL;
    r.transport_message = strerror(-err);
    r.body = "";
    r.retry_after_ms = -1;
    eip_seterr(r.status.message, sizeof(r.status.message), "cannot send: %s", strerror(-err));
    finish(x, &r);
}

static k8s_call *queue_head(const k8s_client *c)
{
    eip_list_node *n = eip_list_first(&c->queue);
    return n ? eip_container_of(n, k8s_call, node) : NULL;
}

static void timer_cb(uv_timer_t *t);

/* Wakes the queue in wait_ms unless the timer is already running. */
static int arm_timer(k8s_client *c, int64_t wait_ms)
{
    if (uv_is_active((const uv_handle_t *)&c->timer))
        return 0;
    return uv_timer_start(&c->timer, timer_cb, (uint64_t)wait_ms, 0);
}

/* Sends the queued calls the limiter lets through, in order. */
static void pump(k8s_client *c)
{
    if (c->pumping)
        return;
    c->pumping = true;
    k8s_call *x;
    while ((x = queue_head(c))) {
        int64_t wait = eip_tokenbucket_take(&c->bucket, eip_time_mono_ms());
        int r = wait > 0 ? arm_timer(c, wait) : 0;
        if (wait > 0 && r == 0)
            break;
        if (r == 0) {
            call_set_state(x, CALL_IN_FLIGHT);
            r = dispatch(x);
        }
        if (r)
            fail_async(x, r); /* without a timer the queue cannot wait: fail it */
    }
    c->pumping = false;
}

static void timer_cb(uv_timer_t *t)
{
    pump(t->data);
}

/* The call's URL (the configured server and path), method, body and headers. */
static int call_build(k8s_call *x, const k8s_request_opts *o)
{
    k8s_client *c = x->c;
    eip_buf url;
    eip_buf_init(&url, URL_MAX);
    int r = eip_buf_appends(&url, c->cfg->server);
    if (!r)
        r = eip_buf_appends(&url, o->path);
    x->url = eip_buf_steal(&url);
    eip_buf_free(&url);
    if (r)
        return r;
    x->method = strdup(o->method ? o->method : "GET");
    if (!x->url || !x->method)
        return -ENOMEM;
    if (o->body) {
        r = eip_json_dump(o->body, JSON_COMPACT, BODY_MAX, &x->body, &x->body_len);
        if (r)
            return r;
        eip_buf h;
        eip_buf_init(&h, HEADER_MAX);
        r = eip_buf_appendf(&h, "Content-Type: %s",
                            o->content_type ? o->content_type : "application/json");
        x->ctype_header = eip_buf_steal(&h);
        eip_buf_free(&h);
        if (r)
            return r;
    }
    x->timeout_ms = o->timeout_ms == 0 ? c->opts.timeout_ms : o->timeout_ms < 0 ? 0 : o->timeout_ms;
    x->on_chunk = o->on_chunk;
    x->on_done = o->on_done;
    x->arg = o->arg;
    return 0;
}

int k8s_request(k8s_client *c, const k8s_request_opts *o, k8s_call **out)
{
    if (out)
        *out = NULL;
    if (!o->path || o->path[0] != '/')
        return -EINVAL;
    k8s_call *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->c = c;
    x->state = CALL_NEW;
    eip_list_node_init(&x->node);
    eip_buf_init(&x->errbody, ERROR_BODY_MAX);
    int r = call_build(x, o);
    if (r)
        goto out;
    /* Behind queued calls, or inside pump() (which sends what it can), wait in
     * line; else take a token now or queue for the time the limiter says. */
    int64_t wait = 1;
    if (eip_list_empty(&c->queue) && !c->pumping)
        wait = eip_tokenbucket_take(&c->bucket, eip_time_mono_ms());
    if (wait == 0) {
        call_set_state(x, CALL_IN_FLIGHT);
        r = dispatch(x); /* a failure is reported here, synchronously */
    } else {
        call_set_state(x, CALL_QUEUED);
        r = c->pumping ? 0 : arm_timer(c, wait);
        if (!r)
            c->stats.throttled++;
    }
out:
    if (r) {
        if (x->state != CALL_NEW)
            call_set_state(x, CALL_DONE);
        call_free(x);
        return r;
    }
    if (out)
        *out = x;
    return 0;
}

void k8s_call_cancel(k8s_call *x)
{
    if (!x || x->state == CALL_DONE)
        return;
    if (x->req)
        http_request_cancel(x->req);
    x->req = NULL;
    call_set_state(x, CALL_DONE);
    call_free(x);
}

static int simple(k8s_client *c, const char *method, const char *path, const json_t *body,
                  const char *ctype, k8s_done_cb cb, void *arg, k8s_call **out)
{
    k8s_request_opts o;
    memset(&o, 0, sizeof(o));
    o.method = method;
    o.path = path;
    o.body = body;
    o.content_type = ctype;
    o.on_done = cb;
    o.arg = arg;
    return k8s_request(c, &o, out);
}

int k8s_get(k8s_client *c, const char *path, k8s_done_cb cb, void *arg, k8s_call **out)
{
    return simple(c, "GET", path, NULL, NULL, cb, arg, out);
}

int k8s_post(k8s_client *c, const char *path, const json_t *body, k8s_done_cb cb, void *arg,
             k8s_call **out)
{
    return simple(c, "POST", path, body, NULL, cb, arg, out);
}

int k8s_put(k8s_client *c, const char *path, const json_t *body, k8s_done_cb cb, void *arg,
            k8s_call **out)
{
    return simple(c, "PUT", path, body, NULL, cb, arg, out);
}

int k8s_delete(k8s_client *c, const char *path, k8s_done_cb cb, void *arg, k8s_call **out)
{
    return simple(c, "DELETE", path, NULL, NULL, cb, arg, out);
}

int k8s_patch(k8s_client *c, const char *path, k8s_patch_type type, const json_t *body,
              k8s_done_cb cb, void *arg, k8s_call **out)
{
    return simple(c, "PATCH", path, body, k8s_patch_content_type(type), cb, arg, out);
}

/* Defaults for what opts left 0; the borrowed strings are not kept. */
static void set_defaults(k8s_client *c, const k8s_client_opts *opts)
{
    c->opts = *opts;
    c->opts.user_agent = NULL; /* copied into user_agent_header */
    if (c->opts.qps == 0)
        c->opts.qps = 20;
    if (c->opts.burst <= 0)
        c->opts.burst = 30;
    if (!c->opts.max_response_bytes)
        c->opts.max_response_bytes = 32u * 1024 * 1024;
    if (!c->opts.timeout_ms)
        c->opts.timeout_ms = 60000;
    if (c->opts.token_refresh_ms <= 0)
        c->opts.token_refresh_ms = 60000;
}

static void client_release(k8s_client *c)
{
    free(c->user_agent_header);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c);
}

int k8s_client_new(k8s_client **out, const k8s_client_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->loop || !opts->http || !opts->config || !opts->config->server) {
        eip_seterr(err, errlen,
                   "k8s client: a loop, an HTTP client and a configuration with a "
                   "server are required");
        return -EINVAL;
    }
    k8s_client *c = calloc(1, sizeof(*c));
    if (!c) {
        eip_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->loop = opts->loop;
    c->http = opts->http;
    c->cfg = opts->config;
    set_defaults(c, opts);
    eip_list_init(&c->queue);
    eip_list_init(&c->active);
    eip_tokenbucket_init(&c->bucket, c->opts.qps, c->opts.burst, eip_time_mono_ms());
    eip_buf ua;
    eip_buf_init(&ua, HEADER_MAX);
    int r = eip_buf_appendf(&ua, "User-Agent: %s",
                            opts->user_agent ? opts->user_agent : "eip-agent/" EIP_AGENT_VERSION);
    c->user_agent_header = eip_buf_steal(&ua);
    eip_buf_free(&ua);
    if (r) {
        eip_seterr(err, errlen, "k8s client: user agent: %s", strerror(-r));
        goto out;
    }
    if (c->cfg->token_file) {
        r = k8s_config_read_token(c->cfg, &c->token, err, errlen);
        c->token_read_ms = eip_time_mono_ms();
    } else if (c->cfg->token && !(c->token = strdup(c->cfg->token))) {
        r = -ENOMEM;
        eip_seterr(err, errlen, "out of memory");
    }
    if (r)
        goto out;
    r = uv_timer_init(c->loop, &c->timer);
    if (r)
        eip_seterr(err, errlen, "k8s client: timer: %s", uv_strerror(r));
    c->timer.data = c;
out:
    if (r) {
        client_release(c);
        return r;
    }
    *out = c;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    client_release(h->data);
}

void k8s_client_free(k8s_client *c)
{
    if (!c)
        return;
    k8s_call *x;
    while ((x = queue_head(c)))
        k8s_call_cancel(x);
    eip_list_node *n;
    while ((n = eip_list_first(&c->active)))
        k8s_call_cancel(eip_container_of(n, k8s_call, node));
    if (c->token) /* the memory goes once the timer has closed; the secret now */
        memset(c->token, 0, strlen(c->token));
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

uv_loop_t *k8s_client_loop(const k8s_client *c)
{
    return c->loop;
}

const k8s_config *k8s_client_config(const k8s_client *c)
{
    return c->cfg;
}

size_t k8s_client_pending(const k8s_client *c)
{
    return c->queue.len + c->active.len;
}

void k8s_client_get_stats(const k8s_client *c, k8s_client_stats *out)
{
    *out = c->stats;
}
