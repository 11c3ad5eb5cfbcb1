/* SPDX-License-Identifier: MIT */
/* The HTTP server against real loopback sockets. The client side runs in the
 * test's own loop (plain uv_tcp), and every wait drives that loop until a
 * condition holds or a deadline passes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "http/server.h"
#include "http/server_internal.h"

#define DEADLINE_MS 5000

/* ---- driving the loop ---- */

typedef struct deadline {
    uv_timer_t t;
    bool fired;
} deadline;

static void on_deadline(uv_timer_t *t)
{
    ((deadline *)t->data)->fired = true;
}

static void deadline_start(deadline *d, uv_loop_t *loop, unsigned ms)
{
    d->fired = false;
    uv_timer_init(loop, &d->t);
    d->t.data = d;
    uv_timer_start(&d->t, on_deadline, ms, 0);
}

static void deadline_stop(deadline *d, uv_loop_t *loop)
{
    uv_close((uv_handle_t *)&d->t, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* lets the close complete before d goes away */
}

/* Runs the loop until COND holds or MS pass; COND is evaluated again by the caller. */
#define RUN_UNTIL(loop, cond, ms)                                                                  \
    do {                                                                                           \
        deadline d_;                                                                               \
        deadline_start(&d_, (loop), (ms));                                                         \
        while (!(cond) && !d_.fired)                                                               \
            uv_run((loop), UV_RUN_ONCE);                                                           \
        deadline_stop(&d_, (loop));                                                                \
    } while (0)

/* Runs the loop for MS whatever happens (to show that something does NOT happen). */
#define RUN_FOR(loop, ms) RUN_UNTIL(loop, false, ms)

/* ---- fixture: a server with a few routes ---- */

typedef struct fx {
    uv_loop_t loop;
    http_server *s;
    int port;
    http_exchange *deferred[8];
    int ndeferred;
    int cancels;
    int fast_calls;
    int big_calls;
    int observed;
    char last_route[64];
    char last_method[16];
    int last_status;
    int drained;
} fx;

static void h_hello(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply(ex, 200, "text/plain", "hi", 2);
}

static void h_fast(http_exchange *ex, void *arg)
{
    fx *f = arg;
    f->fast_calls++;
    http_exchange_reply_json(ex, 200, json_pack("{s:s}", "who", "fast"));
}

static void on_cancel(http_exchange *ex, void *arg)
{
    fx *f = arg;
    f->cancels++;
    for (int i = 0; i < f->ndeferred; i++)
        if (f->deferred[i] == ex)
            f->deferred[i] = NULL;
}

static void h_slow(http_exchange *ex, void *arg)
{
    fx *f = arg;
    assert_true(f->ndeferred < 8);
    f->deferred[f->ndeferred++] = ex;
    http_exchange_defer(ex, on_cancel, f);
}

/* A cancel callback that (wrongly) answers: the answer must go nowhere. */
static void on_cancel_answers(http_exchange *ex, void *arg)
{
    fx *f = arg;
    f->cancels++;
    http_exchange_reply(ex, 200, "text/plain", "too late", 8);
    http_exchange_reply_error(ex, 500, "too late");
}

static void h_slow_bad(http_exchange *ex, void *arg)
{
    fx *f = arg;
    assert_true(f->ndeferred < 8);
    f->deferred[f->ndeferred++] = ex;
    http_exchange_defer(ex, on_cancel_answers, arg);
}

static void h_pod(http_exchange *ex, void *arg)
{
    (void)arg;
    const struct sockaddr_storage *peer = http_exchange_peer(ex);
    int port = peer->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)peer)->sin_port) : 0;
    const char *wait = http_exchange_query(ex, "wait");
    const char *hdr = http_exchange_header(ex, "x-test");
    const char *empty = http_exchange_header(ex, "X-EMPTY");
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:i, s:b}", "ns",
                          http_exchange_param(ex, "ns"), "name", http_exchange_param(ex, "name"),
                          "path", http_exchange_path(ex), "route", http_exchange_route(ex),
                          "method", http_exchange_method(ex), "wait", wait, "hdr", hdr, "empty",
                          empty, "peer_port", port, "nope_is_null",
                          http_exchange_param(ex, "nope") == NULL &&
                              http_exchange_query(ex, "nope") == NULL);
    http_exchange_reply_json(ex, 200, j);
}

static void h_big(http_exchange *ex, void *arg)
{
    fx *f = arg;
    f->big_calls++;
    size_t n = 1024 * 1024;
    char *body = malloc(n);
    assert_non_null(body);
    memset(body, 'x', n);
    http_exchange_reply(ex, 200, "application/octet-stream", body, n);
    free(body);
}

static void h_evil(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply(ex, 200, "text/plain\r\nX-Injected: 1", "x", 1);
}

static void h_nocontent(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply(ex, 204, NULL, "ignored", 7);
}

static void h_silent(http_exchange *ex, void *arg)
{
    (void)ex;
    (void)arg;
}

static void observe(const char *route, const char *method, int status, void *arg)
{
    fx *f = arg;
    f->observed++;
    snprintf(f->last_route, sizeof(f->last_route), "%s", route);
    snprintf(f->last_method, sizeof(f->last_method), "%s", method);
    f->last_status = status;
}

static void fx_start(fx *f, const http_server_limits *lim)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    http_server_opts o = {.loop = &f->loop};
    if (lim)
        o.limits = *lim;
    char err[128] = "";
    assert_int_equal(http_server_new(&f->s, &o, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(http_server_route(f->s, "/hello", h_hello, f), 0);
    assert_int_equal(http_server_route(f->s, "/fast", h_fast, f), 0);
    assert_int_equal(http_server_route(f->s, "/slow", h_slow, f), 0);
    assert_int_equal(http_server_route(f->s, "/big", h_big, f), 0);
    assert_int_equal(http_server_route(f->s, "/silent", h_silent, f), 0);
    assert_int_equal(http_server_route(f->s, "/evil", h_evil, f), 0);
    assert_int_equal(http_server_route(f->s, "/slowbad", h_slow_bad, f), 0);
    assert_int_equal(http_server_route(f->s, "/nocontent", h_nocontent, f), 0);
    assert_int_equal(http_server_route(f->s, "/v1/pods/{ns}/{name}/ready", h_pod, f), 0);
    http_server_set_observer(f->s, observe, f);
    assert_int_equal(http_server_listen(f->s, "127.0.0.1:0"), 0);
    f->port = http_server_port(f->s);
    assert_true(f->port > 0);
}

static void fx_stop(fx *f)
{
    http_server_free(f->s);
    f->s = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    /* Every handle (server's and clients') is closed and freed. */
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- a minimal client ---- */

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    fx *f;
    eip_buf in;
    bool connected;
    int connect_status;
    bool done_connecting;
    bool eof;
    unsigned head_mask; /* bit i: response i answers a HEAD */
} client;

typedef struct resp {
    int status;
    char *headers; /* status line and headers, NUL-terminated */
    char *body;
    size_t body_len;
} resp;

static void cl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void cl_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    client *c = st->data;
    if (nread > 0)
        assert_int_equal(eip_buf_append(&c->in, buf->base, (size_t)nread), 0);
    else if (nread < 0)
        c->eof = true;
    free(buf->base);
}

static void cl_connected(uv_connect_t *req, int status)
{
    client *c = req->data;
    c->done_connecting = true;
    c->connect_status = status;
    if (status == 0) {
        c->connected = true;
        uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cl_read);
    }
}

static void cl_closed(uv_handle_t *h)
{
    client *c = h->data;
    eip_buf_free(&c->in);
    free(c);
}

/* Starts connecting; the caller waits with RUN_UNTIL(c->done_connecting). */
static client *client_start(fx *f)
{
    client *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->f = f;
    eip_buf_init(&c->in, 128 * 1024 * 1024);
    assert_int_equal(uv_tcp_init(&f->loop, &c->tcp), 0);
    c->tcp.data = c;
    c->creq.data = c;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", f->port, &sa);
    assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&sa, cl_connected), 0);
    return c;
}

static client *client_new(fx *f)
{
    client *c = client_start(f);
    RUN_UNTIL(&f->loop, c->done_connecting, DEADLINE_MS);
    assert_true(c->connected);
    return c;
}

static void cl_written(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
    free(req);
}

static void client_send(client *c, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof(*w));
    char *copy = malloc(len);
    assert_non_null(w);
    assert_non_null(copy);
    memcpy(copy, data, len);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    assert_int_equal(uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, cl_written), 0);
}

static void client_sends(client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

static void client_close(client *c)
{
    uv_close((uv_handle_t *)&c->tcp, cl_closed);
}

/* Parses complete responses from the start of what the client received.
 * Responses carry Content-Length always (the server guarantees it). */
static size_t parse_responses(const client *c, resp *out, size_t max)
{
    size_t n = 0, off = 0;
    const char *d = c->in.data;
    while (d && n < max && off < c->in.len) {
        /* Heads are short: never scan a large body for them. */
        size_t win = c->in.len - off < 4096 ? c->in.len - off : 4096;
        const char *end = memmem(d + off, win, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t hl = (size_t)(end - (d + off)) + 4;
        const char *cl = memmem(d + off, hl, "\r\nContent-Length: ", 18);
        int status = (int)strtol(d + off + 9, NULL, 10);
        if (!cl && status != 204)
            break;
        size_t bl = cl ? (size_t)strtoul(cl + 18, NULL, 10) : 0;
        if (n < 32 && (c->head_mask & (1u << n)))
            bl = 0;
        if (off + hl + bl > c->in.len)
            break;
        if (out) {
            out[n].status = status;
            out[n].headers = strndup(d + off, hl);
            out[n].body = strndup(d + off + hl, bl);
            out[n].body_len = bl;
        }
        off += hl + bl;
        n++;
    }
    return n;
}

static size_t nresp(const client *c)
{
    return parse_responses(c, NULL, 64);
}

static void resp_free(resp *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].headers);
        free(r[i].body);
    }
}

static bool has_header(const resp *r, const char *line)
{
    char needle[256];
    snprintf(needle, sizeof(needle), "\r\n%s\r\n", line);
    return strstr(r->headers, needle) != NULL;
}

/* One request, one answer, on a fresh connection that is then closed. */
static resp request_once(fx *f, const char *raw, bool head)
{
    client *c = client_new(f);
    resp r[1];
    if (head)
        c->head_mask = 1;
    client_sends(c, raw);
    RUN_UNTIL(&f->loop, nresp(c) == 1, DEADLINE_MS);
    assert_int_equal(parse_responses(c, r, 1), 1);
    client_close(c);
    return r[0];
}

/* ---- tests ---- */

static void simple_get(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    resp r = request_once(&f, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", false);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hi");
    assert_true(has_header(&r, "Content-Length: 2"));
    assert_true(has_header(&r, "Content-Type: text/plain"));
    assert_true(has_header(&r, "Connection: keep-alive"));
    assert_non_null(strstr(r.headers, "\r\nDate: "));
    assert_non_null(strstr(r.headers, " GMT\r\n"));
    assert_int_equal(f.observed, 1);
    assert_string_equal(f.last_route, "/hello");
    assert_string_equal(f.last_method, "GET");
    assert_int_equal(f.last_status, 200);
    resp_free(&r, 1);
    fx_stop(&f);
}

static void accessors(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    client_sends(c, "GET /v1/pods/my%20ns/web-0/ready?wait=30&x=%41 HTTP/1.1\r\n"
                    "Host: x\r\nX-Empty:\r\nX-Test: yes \t\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 1, DEADLINE_MS);
    resp r[1];
    assert_int_equal(parse_responses(c, r, 1), 1);
    assert_int_equal(r[0].status, 200);
    assert_true(has_header(&r[0], "Content-Type: application/json"));
    json_error_t err;
    json_t *j = json_loads(r[0].body, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "ns")), "my ns");
    assert_string_equal(json_string_value(json_object_get(j, "name")), "web-0");
    assert_string_equal(json_string_value(json_object_get(j, "path")),
                        "/v1/pods/my ns/web-0/ready");
    assert_string_equal(json_string_value(json_object_get(j, "route")),
                        "/v1/pods/{ns}/{name}/ready");
    assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(j, "wait")), "30");
    assert_string_equal(json_string_value(json_object_get(j, "hdr")), "yes");
    assert_string_equal(json_string_value(json_object_get(j, "empty")), "");
    assert_true(json_is_true(json_object_get(j, "nope_is_null")));
    /* The peer is the client's own socket. */
    struct sockaddr_storage me;
    int len = (int)sizeof(me);
    assert_int_equal(uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&me, &len), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "peer_port")),
                     ntohs(((struct sockaddr_in *)&me)->sin_port));
    json_decref(j);
    resp_free(r, 1);
    client_close(c);
    fx_stop(&f);
}

static void head_has_no_body(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    c->head_mask = 1;
    /* If HEAD leaked a body, the GET's answer would not parse where expected. */
    client_sends(c,
                 "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 2, DEADLINE_MS);
    resp r[2];
    assert_int_equal(parse_responses(c, r, 2), 2);
    assert_int_equal(r[0].status, 200);
    assert_true(has_header(&r[0], "Content-Length: 2"));
    assert_int_equal(r[1].status, 200);
    assert_string_equal(r[1].body, "hi");
    assert_int_equal(strncmp(r[1].headers, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_string_equal(f.last_method, "GET");
    resp_free(r, 2);
    client_close(c);
    fx_stop(&f);
}

static void keep_alive_two_requests(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 1, DEADLINE_MS);
    assert_int_equal(nresp(c), 1);
    client_sends(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 2, DEADLINE_MS);
    resp r[2];
    assert_int_equal(parse_responses(c, r, 2), 2);
    assert_string_equal(r[1].body, "{\"who\":\"fast\"}");
    assert_false(c->eof);
    assert_int_equal(http_server_connections(f.s), 1);
    resp_free(r, 2);
    client_close(c);
    RUN_UNTIL(&f.loop, http_server_connections(f.s) == 0, DEADLINE_MS);
    assert_int_equal(http_server_connections(f.s), 0);
    fx_stop(&f);
}

static void http10_and_connection_close(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);

    /* HTTP/1.0 without keep-alive: one answer, then the server closes. */
    client *c = client_new(&f);
    client_sends(c, "GET /hello HTTP/1.0\r\n\r\n");
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    resp r[2];
    assert_int_equal(parse_responses(c, r, 2), 1);
    assert_true(has_header(&r[0], "Connection: close"));
    resp_free(r, 1);
    client_close(c);

    /* HTTP/1.0 with keep-alive: the connection stays. */
    c = client_new(&f);
    client_sends(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 1, DEADLINE_MS);
    client_sends(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 2, DEADLINE_MS);
    assert_int_equal(parse_responses(c, r, 2), 2);
    assert_true(has_header(&r[1], "Connection: keep-alive"));
    assert_false(c->eof);
    resp_free(r, 2);
    client_close(c);

    /* HTTP/1.1 Connection: close is honoured; a request after it is not answered. */
    c = client_new(&f);
    client_sends(c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    assert_true(c->eof);
    assert_int_equal(parse_responses(c, r, 2), 1);
    assert_true(has_header(&r[0], "Connection: close"));
    assert_int_equal(f.fast_calls, 0);
    resp_free(r, 1);
    client_close(c);
    fx_stop(&f);
}

static void pipelined_with_deferred_first(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    client_sends(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    RUN_UNTIL(&f.loop, f.fast_calls == 1 && f.observed == 2, DEADLINE_MS);
    assert_int_equal(f.ndeferred, 1);
    assert_int_equal(f.fast_calls, 1);
    /* The later answers are ready but must wait for the first. */
    RUN_FOR(&f.loop, 50);
    assert_int_equal(c->in.len, 0);

    http_exchange_reply(f.deferred[0], 200, "text/plain", "slow", 4);
    f.deferred[0] = NULL;
    RUN_UNTIL(&f.loop, nresp(c) == 3, DEADLINE_MS);
    resp r[3];
    assert_int_equal(parse_responses(c, r, 3), 3);
    assert_string_equal(r[0].body, "slow");
    assert_string_equal(r[1].body, "{\"who\":\"fast\"}");
    assert_string_equal(r[2].body, "hi");
    assert_int_equal(f.cancels, 0);
    resp_free(r, 3);
    client_close(c);
    fx_stop(&f);
}

static void deferred_cancelled_on_disconnect(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    /* Two deferred (pipelined) and an answered one behind them. */
    client_sends(c,
                 "GET /slow HTTP/1.1\r\n\r\nGET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, f.ndeferred == 2 && f.fast_calls == 1, DEADLINE_MS);
    assert_int_equal(f.ndeferred, 2);
    client_close(c);
    RUN_UNTIL(&f.loop, f.cancels == 2 && http_server_connections(f.s) == 0, DEADLINE_MS);
    assert_int_equal(f.cancels, 2);
    assert_null(f.deferred[0]);
    assert_null(f.deferred[1]);
    assert_int_equal(http_server_connections(f.s), 0);
    /* Nothing runs the cancel callback a second time. */
    RUN_FOR(&f.loop, 20);
    assert_int_equal(f.cancels, 2);
    fx_stop(&f);
    assert_int_equal(f.cancels, 2);
}

/* The disconnect is noticed even when no more requests are being taken:
 * after "Connection: close", and with the pipeline full behind the long-poll. */
static void deferred_cancelled_when_not_parsing(void **state)
{
    (void)state;
    fx f;
    http_server_limits lim = {.max_pipelined = 2};
    fx_start(&f, &lim);
    client *a = client_new(&f);
    client_sends(a, "GET /slow HTTP/1.1\r\nConnection: close\r\n\r\n");
    client *b = client_new(&f);
    client_sends(b, "GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n"
                    "GET /fast HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, f.ndeferred == 2 && f.fast_calls == 1, DEADLINE_MS);
    RUN_FOR(&f.loop, 20);
    assert_int_equal(f.ndeferred, 2);
    assert_int_equal(f.fast_calls, 1); /* the pipeline bound holds the rest back */
    client_close(a);
    client_close(b);
    RUN_UNTIL(&f.loop, f.cancels == 2 && http_server_connections(f.s) == 0, DEADLINE_MS);
    assert_int_equal(f.cancels, 2);
    assert_int_equal(f.fast_calls, 1);
    assert_int_equal(http_server_connections(f.s), 0);
    fx_stop(&f);
}

/* Requests held back by the pipeline bound are taken once the head is answered. */
static void pipeline_bound_resumes(void **state)
{
    (void)state;
    fx f;
    http_server_limits lim = {.max_pipelined = 2};
    fx_start(&f, &lim);
    client *c = client_new(&f);
    client_sends(c, "GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n"
                    "GET /hello?n=3 HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, f.ndeferred == 1 && f.fast_calls == 1, DEADLINE_MS);
    RUN_FOR(&f.loop, 20);
    assert_int_equal(f.fast_calls, 1);
    assert_int_equal(c->in.len, 0);
    http_exchange_reply(f.deferred[0], 200, "text/plain", "slow", 4);
    RUN_UNTIL(&f.loop, nresp(c) == 4, DEADLINE_MS);
    resp r[4];
    assert_int_equal(parse_responses(c, r, 4), 4);
    assert_string_equal(r[0].body, "slow");
    assert_string_equal(r[1].body, "{\"who\":\"fast\"}");
    assert_string_equal(r[2].body, "hi");
    assert_string_equal(r[3].body, "{\"who\":\"fast\"}");
    assert_int_equal(f.fast_calls, 2);
    resp_free(r, 4);
    client_close(c);
    fx_stop(&f);
}

static void error_statuses(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    char *big = malloc(12000);
    assert_non_null(big);
    resp r;

    /* 431: headers beyond 8 KiB. */
    int n = snprintf(big, 12000, "GET /hello HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'a', 9000);
    memcpy(big + n + 9000, "\r\n\r\n", 5);
    r = request_once(&f, big, false);
    assert_int_equal(r.status, 431);
    assert_true(has_header(&r, "Connection: close"));
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_non_null(strstr(r.body, "\"status\":431"));
    resp_free(&r, 1);

    /* 431 also when the head arrives in many small reads. */
    client *slow = client_new(&f);
    client_sends(slow, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 12 && !slow->eof; i++) {
        char line[1024];
        memset(line, 'h', sizeof(line));
        line[0] = 'X';
        line[1] = (char)('a' + i);
        line[2] = ':';
        line[sizeof(line) - 2] = '\r';
        line[sizeof(line) - 1] = '\n';
        client_send(slow, line, sizeof(line));
        RUN_FOR(&f.loop, 5);
    }
    RUN_UNTIL(&f.loop, slow->eof, DEADLINE_MS);
    assert_int_equal(parse_responses(slow, &r, 1), 1);
    assert_int_equal(r.status, 431);
    resp_free(&r, 1);
    client_close(slow);

    /* 414: URL beyond 2 KiB. */
    n = snprintf(big, 12000, "GET /");
    memset(big + n, 'u', 3000);
    memcpy(big + n + 3000, " HTTP/1.1\r\n\r\n", 14);
    r = request_once(&f, big, false);
    assert_int_equal(r.status, 414);
    resp_free(&r, 1);
    free(big);

    /* 413: any body on GET/HEAD. */
    r = request_once(&f, "GET /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", false);
    assert_int_equal(r.status, 413);
    resp_free(&r, 1);
    r = request_once(&f, "GET /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     false);
    assert_int_equal(r.status, 413);
    resp_free(&r, 1);
    /* Content-Length: 0 is no body. */
    r = request_once(&f, "GET /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false);
    assert_int_equal(r.status, 200);
    resp_free(&r, 1);

    /* 405 with Allow, JSON; the connection stays (no body to skip). */
    client *c = client_new(&f);
    client_sends(c, "DELETE /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 2, DEADLINE_MS);
    resp rr[2];
    assert_int_equal(parse_responses(c, rr, 2), 2);
    assert_int_equal(rr[0].status, 405);
    assert_true(has_header(&rr[0], "Allow: GET, HEAD"));
    assert_true(has_header(&rr[0], "Content-Type: application/json"));
    assert_string_equal(rr[0].body, "{\"error\":\"method not allowed\",\"status\":405}");
    assert_string_equal(f.last_route, "/hello");
    assert_int_equal(rr[1].status, 200);
    resp_free(rr, 2);
    client_close(c);

    /* 405 for a POST with a body: answered, then closed (bodies are not read). */
    r = request_once(&f, "POST /hello HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", false);
    assert_int_equal(r.status, 405);
    assert_true(has_header(&r, "Connection: close"));
    resp_free(&r, 1);

    /* 404, JSON, observed with an empty route. */
    r = request_once(&f, "GET /nowhere HTTP/1.1\r\n\r\n", false);
    assert_int_equal(r.status, 404);
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_string_equal(r.body, "{\"error\":\"not found\",\"status\":404}");
    assert_string_equal(f.last_route, "");
    assert_int_equal(f.last_status, 404);
    resp_free(&r, 1);
    r = request_once(&f, "HEAD /nowhere HTTP/1.1\r\n\r\n", true);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.body_len, 0);
    resp_free(&r, 1);

    /* 400: bad escapes in the target. */
    r = request_once(&f, "GET /v1/pods/a%00/b/ready HTTP/1.1\r\n\r\n", false);
    assert_int_equal(r.status, 400);
    resp_free(&r, 1);

    /* A content type with a line break is replaced, not sent. */
    r = request_once(&f, "GET /evil HTTP/1.1\r\n\r\n", false);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.headers, "X-Injected"));
    assert_true(has_header(&r, "Content-Type: text/plain; charset=utf-8"));
    resp_free(&r, 1);

    /* 204 has neither body nor Content-Length; the next answer follows it directly. */
    c = client_new(&f);
    client_sends(c, "GET /nocontent HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 2, DEADLINE_MS);
    assert_int_equal(parse_responses(c, rr, 2), 2);
    assert_int_equal(rr[0].status, 204);
    assert_null(strstr(rr[0].headers, "Content-Length"));
    assert_int_equal(rr[0].body_len, 0);
    assert_int_equal(strncmp(rr[1].headers, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_string_equal(rr[1].body, "hi");
    resp_free(rr, 2);
    client_close(c);

    /* 500: a handler that neither answers nor defers. */
    r = request_once(&f, "GET /silent HTTP/1.1\r\n\r\n", false);
    assert_int_equal(r.status, 500);
    resp_free(&r, 1);
    fx_stop(&f);
}

static void garbage_gets_400_and_others_unaffected(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *good = client_new(&f);
    client_sends(good, "GET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(good) == 1, DEADLINE_MS);

    client *bad = client_new(&f);
    client_send(bad, "\x01\x02 garbage \xff\r\n\r\n", 16);
    RUN_UNTIL(&f.loop, bad->eof, DEADLINE_MS);
    resp r[1];
    assert_true(bad->eof);
    assert_int_equal(parse_responses(bad, r, 1), 1);
    assert_int_equal(r[0].status, 400);
    assert_true(has_header(&r[0], "Connection: close"));
    assert_string_equal(f.last_method, "");
    resp_free(r, 1);
    client_close(bad);

    /* The other connection and new ones are still served. */
    client_sends(good, "GET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(good) == 2, DEADLINE_MS);
    assert_int_equal(nresp(good), 2);
    client_close(good);
    resp x = request_once(&f, "GET /hello HTTP/1.1\r\n\r\n", false);
    assert_int_equal(x.status, 200);
    resp_free(&x, 1);
    fx_stop(&f);
}

static void max_connections_503(void **state)
{
    (void)state;
    fx f;
    http_server_limits lim = {.max_connections = 2};
    fx_start(&f, &lim);
    client *a = client_new(&f);
    client *b = client_new(&f);
    RUN_UNTIL(&f.loop, http_server_connections(f.s) == 2, DEADLINE_MS);
    client *c = client_new(&f);
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    resp r[1];
    assert_int_equal(parse_responses(c, r, 1), 1);
    assert_int_equal(r[0].status, 503);
    assert_true(has_header(&r[0], "Connection: close"));
    assert_non_null(strstr(r[0].body, "\"status\":503"));
    resp_free(r, 1);
    client_close(c);
    /* The two admitted connections still work. */
    client_sends(a, "GET /hello HTTP/1.1\r\n\r\n");
    client_sends(b, "GET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(a) == 1 && nresp(b) == 1, DEADLINE_MS);
    assert_int_equal(nresp(a), 1);
    assert_int_equal(nresp(b), 1);
    /* A freed slot admits a new connection. */
    client_close(a);
    RUN_UNTIL(&f.loop, http_server_connections(f.s) == 1, DEADLINE_MS);
    resp x = request_once(&f, "GET /hello HTTP/1.1\r\n\r\n", false);
    assert_int_equal(x.status, 200);
    resp_free(&x, 1);
    client_close(b);
    fx_stop(&f);
}

static void header_timeout_408(void **state)
{
    (void)state;
    fx f;
    http_server_limits lim = {.header_timeout_ms = 100};
    fx_start(&f, &lim);
    client *c = client_new(&f);
    uv_update_time(&f.loop);
    uint64_t t0 = uv_now(&f.loop);
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    assert_true(c->eof);
    assert_true(uv_now(&f.loop) - t0 >= 90);
    resp r[1];
    assert_int_equal(parse_responses(c, r, 1), 1);
    assert_int_equal(r[0].status, 408);
    assert_true(has_header(&r[0], "Connection: close"));
    assert_int_equal(f.last_status, 408);
    resp_free(r, 1);
    client_close(c);

    /* The clock stops at the end of the head: a long-poll outlives it. */
    c = client_new(&f);
    client_sends(c, "GET /slow HTTP/1.1\r\n\r\n");
    RUN_FOR(&f.loop, 250);
    assert_false(c->eof);
    assert_int_equal(f.ndeferred, 1);
    http_exchange_reply(f.deferred[0], 200, "text/plain", "late", 4);
    RUN_UNTIL(&f.loop, nresp(c) == 1, DEADLINE_MS);
    assert_int_equal(parse_responses(c, r, 1), 1);
    assert_string_equal(r[0].body, "late");
    resp_free(r, 1);
    client_close(c);
    fx_stop(&f);
}

static void idle_timeout_closes(void **state)
{
    (void)state;
    fx f;
    http_server_limits lim = {.idle_timeout_ms = 100};
    fx_start(&f, &lim);
    client *c = client_new(&f);
    client_sends(c, "GET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 1, DEADLINE_MS);
    uv_update_time(&f.loop);
    uint64_t t0 = uv_now(&f.loop);
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    assert_true(c->eof);
    assert_true(uv_now(&f.loop) - t0 >= 90);
    assert_int_equal(nresp(c), 1); /* closed without another word */
    client_close(c);

    /* A connection that never sends anything is idle too. */
    c = client_new(&f);
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    assert_true(c->eof);
    assert_int_equal(c->in.len, 0);
    client_close(c);

    /* A deferred exchange is not idle: the long-poll outlives the idle time. */
    c = client_new(&f);
    client_sends(c, "GET /slow HTTP/1.1\r\n\r\n");
    RUN_FOR(&f.loop, 250);
    assert_false(c->eof);
    assert_int_equal(f.ndeferred, 1);
    http_exchange_reply_error(f.deferred[0], 503, "not bound yet");
    RUN_UNTIL(&f.loop, nresp(c) == 1, DEADLINE_MS);
    resp r[1];
    assert_int_equal(parse_responses(c, r, 1), 1);
    assert_int_equal(r[0].status, 503);
    assert_string_equal(r[0].body, "{\"error\":\"not bound yet\",\"status\":503}");
    resp_free(r, 1);
    client_close(c);
    fx_stop(&f);
}

static void on_drained(void *arg)
{
    ((fx *)arg)->drained++;
}

static void shutdown_drains(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *idle = client_new(&f);
    client *busy = client_new(&f);
    client_sends(busy, "GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, f.ndeferred == 1 && f.fast_calls == 1 && http_server_connections(f.s) == 2,
              DEADLINE_MS);
    assert_int_equal(http_server_connections(f.s), 2);

    http_server_shutdown(f.s, on_drained, &f);
    assert_int_equal(f.cancels, 1); /* deferred exchanges are cancelled at once */
    assert_int_equal(f.drained, 0);
    RUN_UNTIL(&f.loop, idle->eof && busy->eof, DEADLINE_MS);
    assert_true(idle->eof);
    assert_int_equal(idle->in.len, 0);
    assert_true(busy->eof);
    resp r[2];
    /* The cancelled one is answered 503 in its place; the finished one
     * follows in order and carries Connection: close. */
    assert_int_equal(parse_responses(busy, r, 2), 2);
    assert_int_equal(r[0].status, 503);
    assert_true(has_header(&r[0], "Connection: keep-alive"));
    assert_int_equal(r[1].status, 200);
    assert_true(has_header(&r[1], "Connection: close"));
    resp_free(r, 2);

    /* No more connections are accepted. */
    client *late = client_start(&f);
    RUN_UNTIL(&f.loop, late->done_connecting, DEADLINE_MS);
    assert_int_equal(late->connect_status, UV_ECONNREFUSED);
    client_close(late);

    client_close(idle);
    client_close(busy);
    RUN_UNTIL(&f.loop, f.drained == 1, DEADLINE_MS);
    assert_int_equal(f.drained, 1);
    assert_int_equal(http_server_connections(f.s), 0);
    assert_int_equal(f.cancels, 1);
    fx_stop(&f);
    assert_int_equal(f.drained, 1);
}

static void drained_then_free(void *arg)
{
    fx *f = arg;
    f->drained++;
    http_server_free(f->s); /* what the agent does */
    f->s = NULL;
}

static void free_inside_on_drained(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    client_sends(c, "GET /hello HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, nresp(c) == 1, DEADLINE_MS);
    http_server_shutdown(f.s, drained_then_free, &f);
    RUN_UNTIL(&f.loop, f.drained == 1 && c->eof, DEADLINE_MS);
    assert_int_equal(f.drained, 1);
    assert_null(f.s);
    client_close(c);
    fx_stop(&f);
}

static void answer_inside_cancel_is_ignored(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    /* Disconnect: the answer has nobody to go to and must not crash or leak. */
    client *c = client_new(&f);
    client_sends(c, "GET /slowbad HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, f.ndeferred == 1, DEADLINE_MS);
    assert_int_equal(f.ndeferred, 1);
    client_close(c);
    RUN_UNTIL(&f.loop, f.cancels == 1 && http_server_connections(f.s) == 0, DEADLINE_MS);
    assert_int_equal(f.cancels, 1);
    assert_int_equal(f.observed, 0);

    /* Shutdown: the client gets the server's 503, not the late answer. */
    c = client_new(&f);
    client_sends(c, "GET /slowbad HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, f.ndeferred == 2, DEADLINE_MS);
    assert_int_equal(f.ndeferred, 2);
    http_server_shutdown(f.s, on_drained, &f);
    assert_int_equal(f.cancels, 2);
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    resp r[2];
    assert_int_equal(parse_responses(c, r, 2), 1);
    assert_int_equal(r[0].status, 503);
    assert_true(has_header(&r[0], "Connection: close"));
    assert_int_equal(f.observed, 1);
    resp_free(r, 1);
    client_close(c);
    RUN_UNTIL(&f.loop, f.drained == 1, DEADLINE_MS);
    assert_int_equal(f.drained, 1);
    fx_stop(&f);
}

static void shutdown_without_connections(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    http_server_shutdown(f.s, on_drained, &f);
    assert_int_equal(f.drained, 1);
    http_server_shutdown(f.s, on_drained, &f);
    assert_int_equal(f.drained, 1);
    fx_stop(&f);
}

static void listen_addresses(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    char addr[64];

    http_server_opts o = {.loop = &f.loop};
    http_server *s2 = NULL;
    assert_int_equal(http_server_new(&s2, &o, NULL, 0), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
    assert_int_equal(http_server_listen(s2, addr), -EADDRINUSE);
    snprintf(addr, sizeof(addr), ":%d", f.port);
    assert_int_equal(http_server_listen(s2, addr), -EADDRINUSE);
    assert_int_equal(http_server_listen(s2, "nope"), -EINVAL);
    assert_int_equal(http_server_listen(s2, "127.0.0.1"), -EINVAL);
    assert_int_equal(http_server_listen(s2, "127.0.0.1:"), -EINVAL);
    assert_int_equal(http_server_listen(s2, "127.0.0.1:70000"), -EINVAL);
    assert_int_equal(http_server_listen(s2, "127.0.0.1:-1"), -EINVAL);
    assert_int_equal(http_server_listen(s2, "::1:80"), -EINVAL);
    assert_int_equal(http_server_listen(s2, "[::1]"), -EINVAL);
    assert_int_equal(http_server_listen(s2, "not.an.ip:80"), -EINVAL);
    assert_int_equal(http_server_listen(s2, ":0"), 0);
    assert_true(http_server_port(s2) > 0);
    assert_int_equal(http_server_listen(s2, ":0"), -EBUSY);
    http_server_free(s2);

    /* IPv6 loopback, when the machine has it. */
    http_server *s6 = NULL;
    assert_int_equal(http_server_new(&s6, &o, NULL, 0), 0);
    int r = http_server_listen(s6, "[::1]:0");
    if (r == 0)
        assert_true(http_server_port(s6) > 0);
    else
        assert_true(r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT);
    http_server_free(s6);
    fx_stop(&f);
}

static void slow_reader_bounds_writes(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    uv_read_stop((uv_stream_t *)&c->tcp);
    char req[48 * 32];
    size_t n = 0;
    for (int i = 0; i < 48; i++)
        n += (size_t)snprintf(req + n, sizeof(req) - n, "GET /big HTTP/1.1\r\n\r\n");
    client_send(c, req, n);
    RUN_UNTIL(&f.loop, f.big_calls >= 1, DEADLINE_MS);
    /* 48 MiB of answers were asked for; with nobody reading, the server must
     * stop producing them once the kernel buffers and a bounded queue are full. */
    RUN_FOR(&f.loop, 300);
    assert_true(f.big_calls >= 1);
    assert_true(f.big_calls < 24);
    uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cl_read);
    RUN_UNTIL(&f.loop, nresp(c) == 48, 30000);
    assert_int_equal(nresp(c), 48);
    assert_int_equal(f.big_calls, 48);
    client_close(c);
    fx_stop(&f);
}

static void adopt_socketpair(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(http_server_adopt(f.s, sv[0]), 0);
    const char req[] = "GET /hello HTTP/1.1\r\n\r\n";
    assert_int_equal(write(sv[1], req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    char buf[512];
    RUN_UNTIL(&f.loop, recv(sv[1], buf, 1, MSG_PEEK | MSG_DONTWAIT) > 0, DEADLINE_MS);
    ssize_t got = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(got > 0);
    buf[got] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    close(sv[1]);
    RUN_UNTIL(&f.loop, http_server_connections(f.s) == 0, DEADLINE_MS);
    assert_int_equal(http_server_connections(f.s), 0);
    fx_stop(&f);
}

static void free_cancels_deferred(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, NULL);
    client *c = client_new(&f);
    client_sends(c, "GET /slow HTTP/1.1\r\n\r\n");
    RUN_UNTIL(&f.loop, f.ndeferred == 1, DEADLINE_MS);
    http_server_free(f.s);
    f.s = NULL;
    assert_int_equal(f.cancels, 1);
    RUN_UNTIL(&f.loop, c->eof, DEADLINE_MS);
    assert_true(c->eof);
    client_close(c);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f.loop), 0);
    assert_int_equal(f.cancels, 1);
}

static void new_needs_a_loop(void **state)
{
    (void)state;
    http_server *s = (http_server *)(uintptr_t)1;
    char err[128] = "";
    assert_int_equal(http_server_new(&s, NULL, err, sizeof(err)), -EINVAL);
    assert_null(s);
    assert_string_equal(err, "cannot create the HTTP server: no event loop");
    http_server_opts o = {.limits = {.max_pipelined = 2}};
    s = (http_server *)(uintptr_t)1;
    assert_int_equal(http_server_new(&s, &o, NULL, 0), -EINVAL);
    assert_null(s);
    http_server_free(NULL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as agent/main.c does */
    if (getenv("EIP_TEST_DEBUG"))
        eip_log_set_level(EIP_LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_get),
        cmocka_unit_test(accessors),
        cmocka_unit_test(head_has_no_body),
        cmocka_unit_test(keep_alive_two_requests),
        cmocka_unit_test(http10_and_connection_close),
        cmocka_unit_test(pipelined_with_deferred_first),
        cmocka_unit_test(deferred_cancelled_on_disconnect),
        cmocka_unit_test(deferred_cancelled_when_not_parsing),
        cmocka_unit_test(pipeline_bound_resumes),
        cmocka_unit_test(error_statuses),
        cmocka_unit_test(garbage_gets_400_and_others_unaffected),
        cmocka_unit_test(max_connections_503),
        cmocka_unit_test(header_timeout_408),
        cmocka_unit_test(idle_timeout_closes),
        cmocka_unit_test(shutdown_drains),
        cmocka_unit_test(shutdown_without_connections),
        cmocka_unit_test(answer_inside_cancel_is_ignored),
        cmocka_unit_test(free_inside_on_drained),
        cmocka_unit_test(listen_addresses),
        cmocka_unit_test(new_needs_a_loop),
        cmocka_unit_test(slow_reader_bounds_writes),
        cmocka_unit_test(adopt_socketpair),
        cmocka_unit_test(free_cancels_deferred),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
