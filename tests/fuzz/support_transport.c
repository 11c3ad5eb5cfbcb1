/* SPDX-License-Identifier: MIT */
#include "support_transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct fake_req {
    uv_timer_t timer;
    http_done_cb on_done;
    void *arg;
    long status;
    int transport_error;
    char *body;
    size_t body_len;
    bool live;
} fake_req;

static void req_closed(uv_handle_t *h)
{
    fake_req *q = h->data;
    free(q->body);
    free(q);
}

static void answer(uv_timer_t *t)
{
    fake_req *q = t->data;
    q->live = false;
    http_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.error = q->transport_error;
    resp.error_message = "";
    resp.status = q->transport_error ? 0 : q->status;
    resp.body = q->body;
    resp.body_len = q->body_len;
    q->on_done((http_request *)(void *)q, &resp, q->arg);
    uv_close((uv_handle_t *)&q->timer, req_closed);
}

static int fake_send(void *ctx, const http_request_opts *o, http_request **out)
{
    fuzz_transport *ft = ctx;
    fake_req *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->on_done = o->on_done;
    q->arg = o->arg;
    if (ft->in->n >= 4 && ft->sent < ft->max_requests) {
        uint16_t st = fuzz_u16(ft->in);
        size_t len = fuzz_u16(ft->in);
        if (len > ft->in->n)
            len = ft->in->n;
        if (st == 0)
            q->transport_error = 1 + (int)(len % 8);
        q->status = 100 + st % 500;
        q->body = malloc(len + 1);
        if (q->body) {
            memcpy(q->body, ft->in->p, len);
            q->body[len] = '\0';
        }
        ft->in->p += len;
        ft->in->n -= len;
        q->body_len = len;
    } else {
        q->status = ft->default_status;
        q->body = strdup(ft->default_body);
        q->body_len = strlen(ft->default_body);
    }
    if (!q->body) {
        free(q);
        return -ENOMEM;
    }
    ft->sent++;
    uv_timer_init(ft->loop, &q->timer);
    q->timer.data = q;
    q->live = true;
    uv_timer_start(&q->timer, answer, 0, 0);
    if (out)
        *out = (http_request *)(void *)q;
    return 0;
}

static void fake_cancel(void *ctx, http_request *req)
{
    (void)ctx;
    fake_req *q = (fake_req *)(void *)req;
    if (!q->live)
        return;
    q->live = false;
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, req_closed);
}

static const char *fake_header(const http_response *resp, const char *name)
{
    (void)resp;
    (void)name;
    return NULL; /* x-acs-retry-after would only make runs slow */
}

aliyun_transport fuzz_transport_get(fuzz_transport *ft)
{
    aliyun_transport tr = {fake_send, fake_cancel, fake_header, ft};
    return tr;
}
