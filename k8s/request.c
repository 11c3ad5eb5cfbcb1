/* SPDX-License-Identifier: MIT */
#include "k8s/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/tokenbucket.h"

#define ERROR_BODY_MAX (64 * 1024)

enum call_state { CALL_QUEUED, CALL_ACTIVE, CALL_DONE };

struct k8s_call {
    k8s_client *c;
    k8s_call *prev, *next; /* the client's queue or active list */
    enum call_state state;
    char *method, *url, *body, *content_type;
    size_t body_len;
    long timeout_ms;
    k8s_chunk_cb on_chunk;
    k8s_done_cb on_done;
    void *arg;
    http_request *req;
    eip_buf errbody; /* streaming mode: a non-2xx body, for its Status */
    bool retried_401;
};

typedef struct call_list {
    k8s_call *head, *tail;
    size_t n;
} call_list;

struct k8s_client {
    uv_loop_t *loop;
    http_client *http;
    bool own_http;
    const k8s_config *cfg;
    k8s_client_opts opts;
    char *user_agent_header;
    char *token;
    int64_t token_read_ms;
    eip_tokenbucket bucket;
    uv_timer_t timer; /* wakes the limiter queue */
    bool timer_armed;
    bool pumping;
    call_list queue, active;
    k8s_client_stats stats;
};

static void list_push(call_list *l, k8s_call *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
    l->n++;
}

static void list_remove(call_list *l, k8s_call *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
    l->n--;
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
    free(x->content_type);
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

static int dispatch(k8s_call *x);

static void done_cb(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    k8s_call *x = arg;
    k8s_client *c = x->c;
    x->req = NULL;
    if (resp->error == 0 && resp->status == 401 && !x->retried_401 && c->cfg->token_file) {
        /* Bound service-account tokens rotate: re-read and try once more. */
        x->retried_401 = true;
        c->stats.retries_401++;
        refresh_token(c, true);
        eip_buf_reset(&x->errbody);
        if (dispatch(x) == 0)
            return;
    }
    k8s_response r;
    memset(&r, 0, sizeof(r));
    r.http_status = resp->status;
    r.transport_error = resp->error;
    r.transport_message = resp->error_message ? resp->error_message : "";
    r.body = resp->body ? resp->body : "";
    r.body_len = resp->body_len;
    r.retry_after_ms = -1;
    if (x->on_chunk && x->errbody.len) {
        r.body = x->errbody.data;
        r.body_len = x->errbody.len;
    }
    json_t *json = NULL;
    if (resp->error != 0 && !(resp->error == HTTP_E_ABORTED && resp->status)) {
        r.result = resp->error == HTTP_E_TOO_LARGE ? K8S_E_TOO_LARGE : K8S_E_TRANSPORT;
        k8s_status_from_json(NULL, resp->status, &r.status);
        snprintf(r.status.message, sizeof(r.status.message), "%s%s%s", http_error_name(resp->error),
                 *r.transport_message ? ": " : "", r.transport_message);
    } else if (resp->status >= 200 && resp->status < 300) {
        r.result = K8S_OK;
        if (resp->error == HTTP_E_ABORTED) {
            r.result = K8S_E_TRANSPORT;
            r.transport_error = resp->error;
        } else if (!x->on_chunk && r.body_len) {
            json = json_loadb(r.body, r.body_len, 0, NULL);
            if (!json)
                r.result = K8S_E_PARSE;
        }
        r.json = json;
        k8s_status_from_json(NULL, resp->status, &r.status);
    } else {
        json = r.body_len ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
        k8s_status_from_json(json, resp->status, &r.status);
        r.result = k8s_result_from_status(resp->status, r.status.reason);
        if (resp->status == 429 || resp->status >= 500)
            r.retry_after_ms = k8s_parse_retry_after(http_response_header(resp, "Retry-After"));
        json_decref(json);
        json = NULL;
        if (!r.status.message[0])
            snprintf(r.status.message, sizeof(r.status.message), "HTTP %ld", resp->status);
    }
    log_debug("k8s: %s %s -> %ld %s", x->method, x->url, resp->status, k8s_result_name(r.result));
    list_remove(&c->active, x);
    x->state = CALL_DONE;
    c->stats.results[r.result]++;
    if (x->on_done)
        x->on_done(x, &r, x->arg);
    json_decref(json);
    call_free(x);
}

static int dispatch(k8s_call *x)
{
    k8s_client *c = x->c;
    refresh_token(c, false);
    const char *headers[6];
    size_t nh = 0;
    char *auth = NULL;
    char ctype[128];
    headers[nh++] = "Accept: application/json";
    headers[nh++] = c->user_agent_header;
    if (c->token) {
        size_t n = strlen(c->token) + 32;
        auth = malloc(n);
        if (!auth)
            return -ENOMEM;
        snprintf(auth, n, "Authorization: Bearer %s", c->token);
        headers[nh++] = auth;
    }
    if (x->content_type) {
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", x->content_type);
        headers[nh++] = ctype;
    }
    headers[nh] = NULL;
    const k8s_config *cfg = c->cfg;
    http_request_opts o;
    memset(&o, 0, sizeof(o));
    o.method = x->method;
    o.url = x->url;
    o.headers = headers;
    o.body = x->body;
    o.body_len = x->body_len;
    o.timeout_ms = x->timeout_ms;
    o.max_response_bytes = c->opts.max_response_bytes;
    o.ca_file = cfg->ca_file;
    o.ca_pem = cfg->ca_pem;
    o.client_cert_file = cfg->client_cert_file;
    o.client_key_file = cfg->client_key_file;
    o.client_cert_pem = cfg->client_cert_pem;
    o.client_key_pem = cfg->client_key_pem;
    o.tls_server_name = cfg->tls_server_name;
    o.insecure_skip_verify = cfg->insecure_skip_verify;
    o.on_chunk = x->on_chunk ? chunk_cb : NULL;
    o.on_done = done_cb;
    o.arg = x;
    int r = http_client_send(c->http, &o, &x->req);
    if (r == 0)
        c->stats.requests++;
    /* the header list is copied by the client */
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    return r;
}

static void fail_async(k8s_call *x, int err)
{
    k8s_client *c = x->c;
    k8s_response r;
    memset(&r, 0, sizeof(r));
    r.result = K8S_E_TRANSPORT;
    r.transport_error = HTTP_E_INTERNAL;
    r.transport_message = strerror(-err);
    r.body = "";
    r.retry_after_ms = -1;
    snprintf(r.status.message, sizeof(r.status.message), "cannot send: %s", strerror(-err));
    list_remove(&c->active, x);
    x->state = CALL_DONE;
    c->stats.results[r.result]++;
    if (x->on_done)
        x->on_done(x, &r, x->arg);
    call_free(x);
}

static void timer_cb(uv_timer_t *t);

static void pump(k8s_client *c)
{
    if (c->pumping)
        return;
    c->pumping = true;
    while (c->queue.head) {
        int64_t wait = eip_tokenbucket_take(&c->bucket, eip_time_mono_ms());
        if (wait > 0) {
            if (!c->timer_armed) {
                uv_timer_start(&c->timer, timer_cb, (uint64_t)wait, 0);
                c->timer_armed = true;
            }
            break;
        }
        k8s_call *x = c->queue.head;
        list_remove(&c->queue, x);
        list_push(&c->active, x);
        x->state = CALL_ACTIVE;
        int r = dispatch(x);
        if (r)
            fail_async(x, r);
    }
    c->pumping = false;
}

static void timer_cb(uv_timer_t *t)
{
    k8s_client *c = t->data;
    c->timer_armed = false;
    pump(c);
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
    eip_buf_init(&x->errbody, ERROR_BODY_MAX);
    size_t n = strlen(c->cfg->server) + strlen(o->path) + 1;
    x->url = malloc(n);
    x->method = strdup(o->method ? o->method : "GET");
    if (!x->url || !x->method)
        goto nomem;
    snprintf(x->url, n, "%s%s", c->cfg->server, o->path);
    if (o->body) {
        x->body = json_dumps(o->body, JSON_COMPACT);
        if (!x->body)
            goto nomem;
        x->body_len = strlen(x->body);
        x->content_type = strdup(o->content_type ? o->content_type : "application/json");
        if (!x->content_type)
            goto nomem;
    }
    x->timeout_ms = o->timeout_ms == 0 ? c->opts.timeout_ms : o->timeout_ms < 0 ? 0 : o->timeout_ms;
    x->on_chunk = o->on_chunk;
    x->on_done = o->on_done;
    x->arg = o->arg;
    if (!c->queue.head && !c->pumping &&
        eip_tokenbucket_take(&c->bucket, eip_time_mono_ms()) == 0) {
        /* Fast path: a token is free, send now and report failure synchronously. */
        list_push(&c->active, x);
        x->state = CALL_ACTIVE;
        int r = dispatch(x);
        if (r) {
            list_remove(&c->active, x);
            call_free(x);
            return r;
        }
    } else {
        x->state = CALL_QUEUED;
        c->stats.throttled++;
        list_push(&c->queue, x);
        pump(c);
    }
    if (out)
        *out = x;
    return 0;
nomem:
    call_free(x);
    return -ENOMEM;
}

void k8s_call_cancel(k8s_call *x)
{
    if (!x || x->state == CALL_DONE)
        return;
    k8s_client *c = x->c;
    if (x->state == CALL_QUEUED) {
        list_remove(&c->queue, x);
    } else {
        if (x->req)
            http_request_cancel(x->req);
        x->req = NULL;
        list_remove(&c->active, x);
    }
    x->state = CALL_DONE;
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

k8s_client *k8s_client_new(uv_loop_t *loop, http_client *http, const k8s_config *cfg,
                           const k8s_client_opts *opts, char *err, size_t errlen)
{
    k8s_client *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cfg = cfg;
    if (opts)
        c->opts = *opts;
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
    const char *ua = c->opts.user_agent ? c->opts.user_agent : "eip-agent/" EIP_AGENT_VERSION;
    size_t n = strlen(ua) + 16;
    c->user_agent_header = malloc(n);
    if (!c->user_agent_header)
        goto fail_nomem;
    snprintf(c->user_agent_header, n, "User-Agent: %s", ua);
    c->opts.user_agent = NULL; /* not kept: the caller's string may go */
    eip_tokenbucket_init(&c->bucket, c->opts.qps, c->opts.burst, eip_time_mono_ms());
    if (cfg->token_file) {
        if (k8s_config_read_token(cfg, &c->token, err, errlen) != 0)
            goto fail;
        c->token_read_ms = eip_time_mono_ms();
    } else if (cfg->token) {
        if (!(c->token = strdup(cfg->token)))
            goto fail_nomem;
    }
    if (!http) {
        http_client_opts ho = {.loop = loop};
        if (http_client_new(&http, &ho, err, errlen))
            goto fail;
        c->own_http = true;
    }
    c->http = http;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    return c;
fail_nomem:
    snprintf(err, errlen, "out of memory");
fail:
    free(c->user_agent_header);
    free(c->token);
    free(c);
    return NULL;
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void k8s_client_free(k8s_client *c)
{
    if (!c)
        return;
    while (c->queue.head)
        k8s_call_cancel(c->queue.head);
    while (c->active.head)
        k8s_call_cancel(c->active.head);
    if (c->own_http)
        http_client_free(c->http);
    free(c->user_agent_header);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
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
    return c->queue.n + c->active.n;
}

void k8s_client_get_stats(const k8s_client *c, k8s_client_stats *out)
{
    *out = c->stats;
}
