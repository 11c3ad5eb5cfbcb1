/* SPDX-License-Identifier: MIT */
#include "support_fake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct fake_resp {
    http_response r;
    const fake_req *req;
} fake_resp;

static const char *fake_header(const http_response *resp, const char *name)
{
    const fake_resp *fr = (const fake_resp *)(const void *)resp;
    if (strcasecmp(name, "x-acs-retry-after") == 0)
        return fr->req->reply.retry_after;
    return NULL;
}

static void answer(uv_timer_t *t)
{
    fake_req *q = t->data;
    q->answered = true;
    q->ft->active--;
    fake_resp fr = {.req = q};
    fr.r.error = q->reply.transport_error;
    fr.r.error_message = "";
    fr.r.status = q->reply.transport_error ? 0 : q->reply.status;
    fr.r.body = q->reply.body ? q->reply.body : "";
    fr.r.body_len = q->reply.body_len ? q->reply.body_len : strlen(fr.r.body);
    q->on_done((http_request *)(void *)q, &fr.r, q->arg);
}

static void req_free(fake_req *q)
{
    if (!q)
        return;
    free(q->method);
    free(q->url);
    free(q->body);
    for (size_t i = 0; q->headers && i < q->n_headers; i++)
        free(q->headers[i]);
    free(q->headers);
    free(q);
}

/* A copy of what was sent, or NULL when memory ran out (the allocation-failure
 * walks, tests/unit/alloc/, fail the fake's allocations too). */
static fake_req *req_copy(fake_transport *ft, const http_request_opts *o)
{
    fake_req *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->ft = ft;
    q->method = strdup(o->method ? o->method : "GET");
    q->url = strdup(o->url);
    q->body = o->body ? strndup(o->body, o->body_len) : strdup("");
    size_t n = 0;
    for (const char *const *h = o->headers; h && *h; h++)
        n++;
    q->headers = calloc(n + 1, sizeof(*q->headers));
    bool ok = q->method && q->url && q->body && q->headers;
    for (size_t i = 0; ok && i < n; i++) {
        q->headers[i] = strdup(o->headers[i]);
        q->n_headers++;
        ok = q->headers[i] != NULL;
    }
    if (!ok) {
        req_free(q);
        return NULL;
    }
    return q;
}

/* Like http_client_send: -ENOMEM (nothing recorded, no callback) when memory
 * runs out. */
static int fake_send(void *ctx, const http_request_opts *o, http_request **out)
{
    fake_transport *ft = ctx;
    if (ft->n == ft->cap) {
        size_t cap = ft->cap ? ft->cap * 2 : 16;
        fake_req **reqs = realloc(ft->reqs, cap * sizeof(*ft->reqs));
        if (!reqs)
            return -ENOMEM;
        ft->reqs = reqs;
        ft->cap = cap;
    }
    fake_req *q = req_copy(ft, o);
    if (!q)
        return -ENOMEM;
    q->sent_ms = (int64_t)uv_now(ft->loop);
    q->on_done = o->on_done;
    q->arg = o->arg;
    q->index = ft->n;
    ft->reqs[ft->n++] = q;
    q->reply = ft->responder(ft, q, ft->arg);
    uv_timer_init(ft->loop, &q->timer);
    q->timer.data = q;
    uv_timer_start(&q->timer, answer, q->reply.delay_ms, 0);
    ft->active++;
    if (ft->active > ft->max_active)
        ft->max_active = ft->active;
    if (out)
        *out = (http_request *)(void *)q;
    return 0;
}

static void fake_cancel(void *ctx, http_request *req)
{
    fake_transport *ft = ctx;
    fake_req *q = (fake_req *)(void *)req;
    if (q->answered || q->cancelled)
        return;
    q->cancelled = true;
    uv_timer_stop(&q->timer);
    ft->active--;
}

void fake_init(fake_transport *ft, uv_loop_t *loop, fake_responder responder, void *arg)
{
    memset(ft, 0, sizeof(*ft));
    ft->loop = loop;
    ft->responder = responder;
    ft->arg = arg;
}

aliyun_transport fake_get(fake_transport *ft)
{
    aliyun_transport t = {
        .send = fake_send, .cancel = fake_cancel, .header = fake_header, .ctx = ft};
    return t;
}

static void req_closed(uv_handle_t *h)
{
    req_free(h->data);
}

void fake_free(fake_transport *ft)
{
    for (size_t i = 0; i < ft->n; i++)
        uv_close((uv_handle_t *)&ft->reqs[i]->timer, req_closed);
    uv_run(ft->loop, UV_RUN_DEFAULT);
    free(ft->reqs);
    memset(ft, 0, sizeof(*ft));
}

const char *fake_req_header(const fake_req *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *h = req->headers[i];
        if (strncasecmp(h, name, n) == 0 && h[n] == ':')
            return h + n + 1 + (h[n + 1] == ' ');
    }
    return NULL;
}

static const char *find_in(const char *s, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    const char *p = s;
    while (p && *p) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t l = strcspn(v, "&");
            snprintf(buf, cap, "%.*s", (int)l, v);
            return buf;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return NULL;
}

const char *fake_req_param(const fake_req *req, const char *name)
{
    static char buf[1024];
    const char *q = strchr(req->url, '?');
    const char *v = q ? find_in(q + 1, name, buf, sizeof(buf)) : NULL;
    return v ? v : find_in(req->body, name, buf, sizeof(buf));
}
