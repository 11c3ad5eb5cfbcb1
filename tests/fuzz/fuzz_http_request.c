/* SPDX-License-Identifier: MIT */
/* Feeds arbitrary bytes to the HTTP server as one client connection (one end
 * of a socketpair adopted by the server), with routes that answer, echo the
 * decoded request, defer and fail, and runs the loop until the server has
 * closed the connection. Sanitizers catch memory errors, leaks and UB. */
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server.h"
#include "http/server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_ctx {
    http_exchange *deferred;
    int cancels;
} fuzz_ctx;

static void h_plain(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply(ex, 200, "text/plain", "ok", 2);
}

static void h_echo(http_exchange *ex, void *arg)
{
    (void)arg;
    json_t *j =
        json_pack("{s:s?, s:s?, s:s, s:s, s:s?, s:s?, s:s?}", "ns", http_exchange_param(ex, "ns"),
                  "name", http_exchange_param(ex, "name"), "path", http_exchange_path(ex), "method",
                  http_exchange_method(ex), "wait", http_exchange_query(ex, "wait"), "host",
                  http_exchange_header(ex, "host"), "ua", http_exchange_header(ex, "user-agent"));
    /* Decoded values need not be UTF-8: then json_pack fails and so do we. */
    if (!j)
        http_exchange_reply_error(ex, 400, "not utf-8");
    else
        http_exchange_reply_json(ex, 200, j);
}

static void on_cancel(http_exchange *ex, void *arg)
{
    fuzz_ctx *f = arg;
    if (f->deferred == ex)
        f->deferred = NULL;
    f->cancels++;
}

static void h_defer(http_exchange *ex, void *arg)
{
    fuzz_ctx *f = arg;
    /* One long-poll at a time is answered by the next request; others wait
     * for the disconnect. */
    if (f->deferred) {
        http_exchange *old = f->deferred;
        f->deferred = NULL;
        http_exchange_reply_error(old, 503, "replaced");
    }
    f->deferred = ex;
    http_exchange_defer(ex, on_cancel, f);
}

static void h_silent(http_exchange *ex, void *arg)
{
    (void)ex;
    (void)arg;
}

static void on_client_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        uv_read_stop(st);
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char sink[65536];
    (void)h;
    (void)suggested;
    buf->base = sink;
    buf->len = sizeof(sink);
}

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    (void)status;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uv_loop_t loop;
    uv_pipe_t client;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    fuzz_ctx f = {0};
    int sv[2];

    if (size > 65536)
        return 0;
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop) != 0)
        return 0;
    /* Short timers so that inputs which stall (partial heads) end quickly. */
    http_server_opts so = {
        .loop = &loop,
        .limits = {.header_timeout_ms = 20, .idle_timeout_ms = 20, .max_pipelined = 4}};
    http_server *s = NULL;
    if (http_server_new(&s, &so, NULL, 0) != 0)
        abort();
    http_server_route(s, "/", h_plain, &f);
    http_server_route(s, "/healthz", h_plain, &f);
    http_server_route(s, "/v1/pods/{ns}/{name}", h_echo, &f);
    http_server_route(s, "/v1/pods/{ns}/{name}/ready", h_defer, &f);
    http_server_route(s, "/v1/pods/self/{name}/ready", h_echo, &f);
    http_server_route(s, "/silent", h_silent, &f);

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    if (http_server_adopt(s, sv[0]) != 0)
        abort();
    uv_pipe_init(&loop, &client, 0);
    if (uv_pipe_open(&client, sv[1]) != 0)
        abort();
    uv_read_start((uv_stream_t *)&client, on_client_alloc, on_client_read);
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)size);
    uv_write(&wreq, (uv_stream_t *)&client, &b, 1, on_written);
    uv_shutdown(&sreq, (uv_stream_t *)&client, on_shutdown);

    /* The client half-closed: the server must end the connection by itself. */
    while (http_server_connections(s) > 0)
        uv_run(&loop, UV_RUN_ONCE);

    if (f.deferred)
        abort(); /* a deferred exchange outlived its connection */
    http_server_free(s);
    uv_close((uv_handle_t *)&client, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        abort();
    return 0;
}
