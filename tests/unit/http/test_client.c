/* SPDX-License-Identifier: MIT */
/* Unit tests of http/client.c that need no outside peer: error names, option
 * validation, header lookup, and the request lifecycle (completion, cancel,
 * free with requests in flight, calls from inside callbacks) against a tiny
 * in-process libuv server on 127.0.0.1 or a closed loopback port. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "http/client.h"

/* ---- a canned-response server on the test's loop -------------------------------- */

struct conn;

struct srv {
    uv_tcp_t tcp;
    int port;
    const char *response; /* sent once the request ends with \r\n\r\n plus body_wait bytes */
    size_t body_wait;
    int accepted;
    char rx[65536];
    size_t rx_len;
    struct conn *conns;
};

struct conn {
    uv_tcp_t tcp;
    struct srv *s;
    struct conn *next;
    bool responded;
    bool silent; /* GET /silent: never answer */
    char buf[8192];
    size_t len;
    char rbuf[4096];
    uv_write_t w;
};

static void conn_closed(uv_handle_t *h)
{
    struct conn *cn = h->data;
    struct conn **p = &cn->s->conns;
    while (*p && *p != cn)
        p = &(*p)->next;
    if (*p)
        *p = cn->next;
    free(cn);
}

static void conn_close(struct conn *cn)
{
    if (!uv_is_closing((uv_handle_t *)&cn->tcp))
        uv_close((uv_handle_t *)&cn->tcp, conn_closed);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct conn *cn = h->data;
    *buf = uv_buf_init(cn->rbuf, sizeof(cn->rbuf));
}

static void conn_written(uv_write_t *w, int status)
{
    (void)status;
    conn_close(w->data);
}

static void conn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct conn *cn = st->data;
    struct srv *s = cn->s;
    if (n < 0) {
        conn_close(cn);
        return;
    }
    size_t un = (size_t)n;
    if (un > sizeof(cn->buf) - 1 - cn->len)
        un = sizeof(cn->buf) - 1 - cn->len;
    memcpy(cn->buf + cn->len, buf->base, un);
    cn->len += un;
    cn->buf[cn->len] = '\0';
    size_t sn = (size_t)n < sizeof(s->rx) - s->rx_len ? (size_t)n : sizeof(s->rx) - s->rx_len;
    memcpy(s->rx + s->rx_len, buf->base, sn);
    s->rx_len += sn;
    if (strncmp(cn->buf, "GET /silent", 11) == 0)
        cn->silent = true;
    const char *end = strstr(cn->buf, "\r\n\r\n");
    if (!end || cn->silent || cn->responded || !s->response)
        return;
    if (cn->len - (size_t)(end + 4 - cn->buf) < s->body_wait)
        return;
    cn->responded = true;
    uv_buf_t out = uv_buf_init((char *)(uintptr_t)s->response, (unsigned)strlen(s->response));
    cn->w.data = cn;
    if (uv_write(&cn->w, st, &out, 1, conn_written) != 0)
        conn_close(cn);
}

static void srv_on_conn(uv_stream_t *l, int status)
{
    struct srv *s = l->data;
    if (status < 0)
        return;
    struct conn *cn = calloc(1, sizeof(*cn));
    assert_non_null(cn);
    cn->s = s;
    uv_tcp_init(l->loop, &cn->tcp);
    cn->tcp.data = cn;
    cn->next = s->conns;
    s->conns = cn;
    if (uv_accept(l, (uv_stream_t *)&cn->tcp) == 0) {
        s->accepted++;
        uv_read_start((uv_stream_t *)&cn->tcp, conn_alloc, conn_read);
    } else {
        conn_close(cn);
    }
}

static void srv_start(uv_loop_t *loop, struct srv *s, const char *response)
{
    memset(s, 0, sizeof(*s));
    s->response = response;
    assert_int_equal(uv_tcp_init(loop, &s->tcp), 0);
    s->tcp.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 128, srv_on_conn), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void srv_stop(struct srv *s)
{
    for (struct conn *cn = s->conns; cn; cn = cn->next)
        conn_close(cn);
    uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* A loopback port where nothing listens. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- test fixture ---------------------------------------------------------------- */

#define MAX_RESULTS 16

struct result {
    int calls;
    int error;
    long status;
    char body[256];
    char hdr[4][128]; /* values of the looked-up names, "-" when absent */
};

struct ctx {
    uv_loop_t loop;
    http_client *client;
    struct srv srv;
    bool have_srv;
    uv_timer_t guard;
    bool guard_fired;
    struct result res[MAX_RESULTS];
    const char *lookup[4];
    /* hooks for callbacks */
    http_request *reqs[MAX_RESULTS];
    int cancel_in_done;        /* index whose on_done cancels itself */
    bool free_in_done;         /* on_done of any request frees the client */
    int cancel_other_in_chunk; /* index of a request that on_chunk cancels, or -1 */
    bool send_in_chunk;
    bool cancel_self_in_chunk;
    bool free_in_chunk;
    int chunks;
    char url_refused[64];
    long chunk_status;
    char chunk_hdr[128];
};

static void on_guard(uv_timer_t *t)
{
    struct ctx *c = t->data;
    c->guard_fired = true;
}

static void ctx_init(struct ctx *c, const char *response)
{
    memset(c, 0, sizeof(*c));
    c->cancel_in_done = -1;
    c->cancel_other_in_chunk = -1;
    assert_int_equal(uv_loop_init(&c->loop), 0);
    http_client_opts o = {.loop = &c->loop};
    assert_int_equal(http_client_new(&c->client, &o, NULL, 0), 0);
    if (response) {
        srv_start(&c->loop, &c->srv, response);
        c->have_srv = true;
    }
    uv_timer_init(&c->loop, &c->guard);
    c->guard.data = c;
    uv_timer_start(&c->guard, on_guard, 10000, 0);
    snprintf(c->url_refused, sizeof(c->url_refused), "http://127.0.0.1:%d/", closed_port());
}

/* Runs the loop until pred holds (or fails the test after 10 s). */
static void run_until(struct ctx *c, bool (*pred)(struct ctx *))
{
    while (!pred(c)) {
        assert_false(c->guard_fired);
        uv_run(&c->loop, UV_RUN_ONCE);
    }
}

static void ctx_finish(struct ctx *c)
{
    http_client_free(c->client); /* no-op when the test freed it */
    if (c->have_srv)
        srv_stop(&c->srv);
    uv_close((uv_handle_t *)&c->guard, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0); /* every handle was closed */
}

static int index_of(struct ctx *c, http_request *req)
{
    for (int i = 0; i < MAX_RESULTS; i++)
        if (c->reqs[i] == req)
            return i;
    return MAX_RESULTS - 1; /* a request sent with out == NULL */
}

static void on_done(http_request *req, const http_response *resp, void *arg)
{
    struct ctx *c = arg;
    int i = index_of(c, req);
    struct result *r = &c->res[i];
    r->calls++;
    r->error = resp->error;
    r->status = resp->status;
    assert_non_null(resp->body);
    assert_non_null(resp->error_message);
    assert_int_equal(strlen(resp->body), resp->body_len);
    snprintf(r->body, sizeof(r->body), "%s", resp->body);
    for (int k = 0; k < 4 && c->lookup[k]; k++) {
        const char *v = http_response_header(resp, c->lookup[k]);
        snprintf(r->hdr[k], sizeof(r->hdr[k]), "%s", v ? v : "-");
    }
    if (c->cancel_in_done == i)
        http_request_cancel(req); /* a no-op: it is completing */
    if (c->free_in_done) {
        http_client_free(c->client); /* the second call (nested) is a no-op */
        c->client = NULL;
    }
}

static int on_chunk(http_request *req, const http_response *partial, const char *data, size_t len,
                    void *arg)
{
    (void)data;
    (void)len;
    struct ctx *c = arg;
    c->chunks++;
    c->chunk_status = partial->status;
    const char *v = http_response_header(partial, "x-a");
    snprintf(c->chunk_hdr, sizeof(c->chunk_hdr), "%s", v ? v : "-");
    if (c->cancel_other_in_chunk >= 0) {
        http_request_cancel(c->reqs[c->cancel_other_in_chunk]);
        c->cancel_other_in_chunk = -1;
    }
    if (c->send_in_chunk) {
        c->send_in_chunk = false;
        http_request_opts o = {.url = c->url_refused, .on_done = on_done, .arg = c};
        assert_int_equal(http_client_send(c->client, &o, &c->reqs[5]), 0);
    }
    if (c->free_in_chunk) {
        http_client_free(c->client);
        c->client = NULL;
    }
    if (c->cancel_self_in_chunk) {
        http_request_cancel(req);
        http_request_cancel(req);
    }
    return 0;
}

static int send_get(struct ctx *c, int i, const char *path, bool stream)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", c->srv.port, path);
    http_request_opts o = {.url = url, .on_done = on_done, .arg = c};
    if (stream)
        o.on_chunk = on_chunk;
    return http_client_send(c->client, &o, &c->reqs[i]);
}

static bool done0(struct ctx *c)
{
    return c->res[0].calls > 0;
}

static bool done01(struct ctx *c)
{
    return c->res[0].calls > 0 && c->res[1].calls > 0;
}

static bool accepted3(struct ctx *c)
{
    return c->srv.accepted >= 3;
}

static bool accepted1(struct ctx *c)
{
    return c->srv.accepted >= 1;
}

static bool client_idle(struct ctx *c)
{
    return http_client_active(c->client) == 0;
}

/* ---- tests ---------------------------------------------------------------------- */

static void error_names(void **state)
{
    (void)state;
    const struct {
        int e;
        const char *n;
    } t[] = {{HTTP_OK, "HTTP_OK"},
             {HTTP_E_CONNECT, "HTTP_E_CONNECT"},
             {HTTP_E_TIMEOUT, "HTTP_E_TIMEOUT"},
             {HTTP_E_TLS, "HTTP_E_TLS"},
             {HTTP_E_TOO_LARGE, "HTTP_E_TOO_LARGE"},
             {HTTP_E_ABORTED, "HTTP_E_ABORTED"},
             {HTTP_E_CLOSED, "HTTP_E_CLOSED"},
             {HTTP_E_INTERNAL, "HTTP_E_INTERNAL"},
             {HTTP_E_CANCELLED, "HTTP_E_CANCELLED"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_string_equal(http_error_name(t[i].e), t[i].n);
    assert_string_equal(http_error_name(-1), "HTTP_E_UNKNOWN");
    assert_string_equal(http_error_name(12345), "HTTP_E_UNKNOWN");
}

static void header_lookup_on_hand_built_response(void **state)
{
    (void)state;
    http_response r = {.status = 200, .body = "", .error_message = ""};
    assert_null(http_response_header(&r, "content-type"));
    assert_null(http_response_header(NULL, "content-type"));
    assert_null(http_response_header(&r, NULL));
}

static void free_and_cancel_null(void **state)
{
    (void)state;
    http_client_free(NULL);
    http_request_cancel(NULL);
    assert_int_equal(http_client_active(NULL), 0);
    http_client *c = (http_client *)(uintptr_t)1;
    char err[128] = "";
    assert_int_equal(http_client_new(&c, NULL, err, sizeof(err)), -EINVAL);
    assert_null(c);
    assert_string_equal(err, "cannot create the HTTP client: no event loop");
    http_client_opts o = {.loop = NULL};
    assert_int_equal(http_client_new(&c, &o, NULL, 0), -EINVAL);
    assert_null(c);
}

static void options_validation(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, NULL);
    const char *crlf[] = {"X-A: 1\r\nX-Injected: 2", NULL};
    const char *nocolon[] = {"NoColon", NULL};
    const char *noname[] = {": v", NULL};
    const char *badname[] = {"Bad Name: v", NULL};
    const char *good[] = {"X-A: 1", NULL};
    http_request_opts base = {.url = c.url_refused, .on_done = on_done, .arg = &c};
    struct {
        const char *what;
        http_request_opts o;
    } bad[] = {
        {"no url", {.on_done = on_done}},
        {"no on_done", {.url = c.url_refused}},
        {"ftp", {.url = "ftp://127.0.0.1/x", .on_done = on_done}},
        {"file", {.url = "file:///etc/passwd", .on_done = on_done}},
        {"garbage url", {.url = "not a url", .on_done = on_done}},
        {"no host", {.url = "http://", .on_done = on_done}},
        {"method space", {.url = c.url_refused, .method = "GE T", .on_done = on_done}},
        {"method empty", {.url = c.url_refused, .method = "", .on_done = on_done}},
        {"header crlf", {.url = c.url_refused, .headers = crlf, .on_done = on_done}},
        {"header no colon", {.url = c.url_refused, .headers = nocolon, .on_done = on_done}},
        {"header no name", {.url = c.url_refused, .headers = noname, .on_done = on_done}},
        {"header bad name", {.url = c.url_refused, .headers = badname, .on_done = on_done}},
        {"body_len no body", {.url = c.url_refused, .body_len = 3, .on_done = on_done}},
        {"negative timeout", {.url = c.url_refused, .timeout_ms = -1, .on_done = on_done}},
        {"negative connect", {.url = c.url_refused, .connect_timeout_ms = -5, .on_done = on_done}},
        {"key without cert", {.url = c.url_refused, .client_key_file = "/k", .on_done = on_done}},
        {"two certs",
         {.url = c.url_refused,
          .client_cert_file = "/c",
          .client_cert_pem = "x",
          .on_done = on_done}},
        {"two keys",
         {.url = c.url_refused,
          .client_cert_file = "/c",
          .client_key_file = "/k",
          .client_key_pem = "x",
          .on_done = on_done}},
        {"server name with slash",
         {.url = c.url_refused, .tls_server_name = "a/b", .on_done = on_done}},
        {"server name empty", {.url = c.url_refused, .tls_server_name = "", .on_done = on_done}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_request *req = (http_request *)&c; /* must be reset to NULL */
        bad[i].o.arg = &c;
        int r = http_client_send(c.client, &bad[i].o, &req);
        if (r != -EINVAL)
            fail_msg("%s: got %d", bad[i].what, r);
        assert_null(req);
    }
    assert_int_equal(http_client_send(NULL, &base, NULL), -EINVAL);
    assert_int_equal(http_client_send(c.client, NULL, NULL), -EINVAL);
    assert_int_equal(http_client_active(c.client), 0);
    /* A good one (out may be NULL). */
    base.headers = good;
    assert_int_equal(http_client_send(c.client, &base, NULL), 0);
    assert_int_equal(http_client_send(c.client, &base, &c.reqs[0]), 0);
    assert_int_equal(http_client_active(c.client), 2);
    http_request_cancel(c.reqs[0]);
    assert_int_equal(http_client_active(c.client), 1);
    http_client_free(c.client);
    c.client = NULL;
    assert_int_equal(c.res[MAX_RESULTS - 1].calls, 1);
    assert_int_equal(c.res[MAX_RESULTS - 1].error, HTTP_E_CANCELLED);
    /* No callback fired for any rejected or cancelled request. */
    for (int i = 0; i < MAX_RESULTS - 1; i++)
        assert_int_equal(c.res[i].calls, 0);
    ctx_finish(&c);
}

static void refused_completes_with_connect(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, NULL);
    const char *h[] = {"Authorization: Bearer s3cret", NULL};
    http_request_opts o = {.url = c.url_refused, .headers = h, .on_done = on_done, .arg = &c};
    assert_int_equal(http_client_send(c.client, &o, &c.reqs[0]), 0);
    assert_int_equal(c.res[0].calls, 0); /* never synchronously */
    assert_int_equal(http_client_active(c.client), 1);
    run_until(&c, done0);
    assert_int_equal(c.res[0].error, HTTP_E_CONNECT);
    assert_int_equal(c.res[0].status, 0);
    assert_int_equal(http_client_active(c.client), 0);
    uv_run(&c.loop, UV_RUN_NOWAIT);
    assert_int_equal(c.res[0].calls, 1);
    ctx_finish(&c);
}

static const char RESP_HEADERS[] = "HTTP/1.1 100 Continue\r\nX-Early: yes\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "X-Dup: first\r\n"
                                   "x-dup: second\r\n"
                                   "X-Spaces:   padded value  \r\n"
                                   "Content-Length: 5\r\n"
                                   "Connection: close\r\n\r\nhello";

static void response_headers_lookup(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, RESP_HEADERS);
    c.lookup[0] = "X-DUP";
    c.lookup[1] = "content-type";
    c.lookup[2] = "x-early";
    c.lookup[3] = "x-spaces";
    assert_int_equal(send_get(&c, 0, "/", false), 0);
    run_until(&c, done0);
    struct result *r = &c.res[0];
    assert_int_equal(r->error, HTTP_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
    assert_string_equal(r->hdr[0], "second"); /* case-insensitive, last wins */
    assert_string_equal(r->hdr[1], "text/plain");
    assert_string_equal(r->hdr[2], "-");            /* the 100's headers were dropped */
    assert_string_equal(r->hdr[3], "padded value"); /* trimmed */
    ctx_finish(&c);
}

static void body_is_copied(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    c.srv.body_wait = 11;
    char body[] = "hello world";
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/p", c.srv.port);
    http_request_opts o = {.method = "PUT",
                           .url = url,
                           .body = body,
                           .body_len = strlen(body),
                           .on_done = on_done,
                           .arg = &c};
    assert_int_equal(http_client_send(c.client, &o, &c.reqs[0]), 0);
    memset(body, 'X', strlen(body)); /* the caller's buffer is not used any more */
    run_until(&c, done0);
    assert_int_equal(c.res[0].error, HTTP_OK);
    assert_int_equal(c.res[0].status, 204);
    assert_non_null(strstr(c.srv.rx, "PUT /p HTTP/1.1\r\n"));
    assert_non_null(strstr(c.srv.rx, "\r\n\r\nhello world"));
    assert_null(strstr(c.srv.rx, "XXXX"));
    ctx_finish(&c);
}

static void cancel_before_completion(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    /* Cancelled right away (before the loop ran) and after the server accepted. */
    http_request_opts o = {.url = c.url_refused, .on_done = on_done, .arg = &c};
    assert_int_equal(http_client_send(c.client, &o, &c.reqs[0]), 0);
    http_request_cancel(c.reqs[0]);
    assert_int_equal(send_get(&c, 1, "/silent", false), 0);
    assert_int_equal(http_client_active(c.client), 1);
    run_until(&c, accepted1);
    http_request_cancel(c.reqs[1]);
    assert_int_equal(http_client_active(c.client), 0);
    /* A third request still works after the cancels. */
    assert_int_equal(send_get(&c, 2, "/", false), 0);
    while (c.res[2].calls == 0) {
        assert_false(c.guard_fired);
        uv_run(&c.loop, UV_RUN_ONCE);
    }
    assert_int_equal(c.res[2].error, HTTP_OK);
    assert_int_equal(c.res[0].calls, 0);
    assert_int_equal(c.res[1].calls, 0);
    ctx_finish(&c);
    assert_int_equal(c.res[0].calls, 0);
    assert_int_equal(c.res[1].calls, 0);
    assert_int_equal(c.res[2].calls, 1);
}

static void free_with_requests_in_flight(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    for (int i = 0; i < 3; i++)
        assert_int_equal(send_get(&c, i, "/silent", false), 0);
    http_request_opts o = {.url = c.url_refused, .on_done = on_done, .arg = &c};
    /* One more that never reached curl's loop at all. */
    run_until(&c, accepted3);
    assert_int_equal(http_client_send(c.client, &o, &c.reqs[3]), 0);
    assert_int_equal(http_client_active(c.client), 4);
    http_client_free(c.client);
    c.client = NULL;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.res[i].calls, 1);
        assert_int_equal(c.res[i].error, HTTP_E_CANCELLED);
    }
    ctx_finish(&c); /* runs the loop: no second callback, every handle closes */
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.res[i].calls, 1);
}

static void free_inside_on_done(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(send_get(&c, 1, "/silent", false), 0);
    run_until(&c, accepted1);
    http_request_opts o = {.url = c.url_refused, .on_done = on_done, .arg = &c};
    assert_int_equal(http_client_send(c.client, &o, &c.reqs[0]), 0);
    c.free_in_done = true;
    c.cancel_in_done = 0;
    run_until(&c, done01);
    assert_int_equal(c.res[0].error, HTTP_E_CONNECT);
    assert_int_equal(c.res[1].error, HTTP_E_CANCELLED);
    ctx_finish(&c);
    assert_int_equal(c.res[0].calls, 1);
    assert_int_equal(c.res[1].calls, 1);
}

static const char RESP_CHUNKED[] = "HTTP/1.1 200 OK\r\nX-A: streamed\r\n"
                                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                   "5\r\nhello\r\n0\r\n\r\n";

static void streaming_partial_has_status_and_headers(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, RESP_CHUNKED);
    c.lookup[0] = "x-a";
    assert_int_equal(send_get(&c, 0, "/", true), 0);
    run_until(&c, done0);
    assert_int_equal(c.res[0].error, HTTP_OK);
    assert_true(c.chunks >= 1);
    assert_int_equal(c.chunk_status, 200);
    assert_string_equal(c.chunk_hdr, "streamed");
    assert_string_equal(c.res[0].body, "");
    assert_string_equal(c.res[0].hdr[0], "streamed");
    ctx_finish(&c);
}

static void calls_from_inside_on_chunk(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, RESP_CHUNKED);
    /* Request 1 waits on the server; request 0's chunk cancels it and sends
     * request 5 (both while curl is on the stack). */
    assert_int_equal(send_get(&c, 1, "/silent", false), 0);
    run_until(&c, accepted1);
    c.cancel_other_in_chunk = 1;
    c.send_in_chunk = true;
    assert_int_equal(send_get(&c, 0, "/", true), 0);
    run_until(&c, done0);
    assert_int_equal(c.res[0].error, HTTP_OK);
    while (c.res[5].calls == 0) {
        assert_false(c.guard_fired);
        uv_run(&c.loop, UV_RUN_ONCE);
    }
    assert_int_equal(c.res[5].error, HTTP_E_CONNECT);
    assert_int_equal(c.res[1].calls, 0);
    run_until(&c, client_idle);
    ctx_finish(&c);
    assert_int_equal(c.res[1].calls, 0);
    assert_int_equal(c.res[0].calls, 1);
    assert_int_equal(c.res[5].calls, 1);
}

static void cancel_self_inside_on_chunk(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, RESP_CHUNKED);
    c.cancel_self_in_chunk = true;
    assert_int_equal(send_get(&c, 0, "/", true), 0);
    while (c.chunks == 0) {
        assert_false(c.guard_fired);
        uv_run(&c.loop, UV_RUN_ONCE);
    }
    assert_int_equal(http_client_active(c.client), 0);
    ctx_finish(&c);
    assert_int_equal(c.chunks, 1);
    assert_int_equal(c.res[0].calls, 0);
}

static void free_inside_on_chunk(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, RESP_CHUNKED);
    assert_int_equal(send_get(&c, 1, "/silent", false), 0);
    run_until(&c, accepted1);
    c.free_in_chunk = true;
    assert_int_equal(send_get(&c, 0, "/", true), 0);
    run_until(&c, done01);
    /* Both get exactly one on_done(HTTP_E_CANCELLED), after the chunk callback returned. */
    assert_int_equal(c.chunks, 1);
    assert_int_equal(c.res[0].error, HTTP_E_CANCELLED);
    assert_int_equal(c.res[1].error, HTTP_E_CANCELLED);
    ctx_finish(&c);
    assert_int_equal(c.res[0].calls, 1);
    assert_int_equal(c.res[1].calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_names),
        cmocka_unit_test(header_lookup_on_hand_built_response),
        cmocka_unit_test(free_and_cancel_null),
        cmocka_unit_test(options_validation),
        cmocka_unit_test(refused_completes_with_connect),
        cmocka_unit_test(response_headers_lookup),
        cmocka_unit_test(body_is_copied),
        cmocka_unit_test(cancel_before_completion),
        cmocka_unit_test(free_with_requests_in_flight),
        cmocka_unit_test(free_inside_on_done),
        cmocka_unit_test(streaming_partial_has_status_and_headers),
        cmocka_unit_test(calls_from_inside_on_chunk),
        cmocka_unit_test(cancel_self_inside_on_chunk),
        cmocka_unit_test(free_inside_on_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
