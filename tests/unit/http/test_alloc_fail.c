/* SPDX-License-Identifier: MIT */
/* http/ when allocations fail (tests/unit/test_alloc.h): the constructors fail
 * whole, with -ENOMEM, a reason and nothing left on the loop; a request between
 * our client and our server, with each allocation of the round trip failing in
 * turn, ends in exactly one outcome (an answer, a transport error or a refused
 * send) and leaves nothing behind; a connection that found no memory is still
 * served once memory is back. ASan's leak check runs at exit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "http/client.h"
#include "http/router_internal.h"
#include "http/server.h"
#include "test_alloc.h"

#define DEADLINE_MS 5000

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

/* Handles on the loop, closing ones included. */
static int handles(uv_loop_t *loop)
{
    int n = 0;
    uv_walk(loop, count_handle, &n);
    return n;
}

/* Runs the loop until every handle is closed, then closes it. */
static void loop_finish(uv_loop_t *loop)
{
    for (int i = 0; i < 100 && handles(loop) > 0; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(handles(loop), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void client_new_fails_whole(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_client_opts o = {.loop = &loop, .ca_file = "/ca.pem", .user_agent = "t/1"};
    long n = 0;
    for (;; n++) {
        http_client *c = (http_client *)(uintptr_t)1;
        char err[128] = "";
        test_alloc_fail(n, false);
        int r = http_client_new(&c, &o, err, sizeof(err));
        bool failed = test_alloc_failed();
        test_alloc_off();
        if (!failed) {
            assert_int_equal(r, 0);
            http_client_free(c);
            break;
        }
        assert_int_equal(r, -ENOMEM);
        assert_null(c);
        assert_string_equal(err, "cannot create the HTTP client: out of memory");
        assert_int_equal(handles(&loop), 0);
    }
    assert_true(n >= 3); /* the client, its CA file and its User-Agent */
    loop_finish(&loop);
}

static void server_new_fails_whole(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_server_opts o = {.loop = &loop};
    long n = 0;
    for (;; n++) {
        http_server *s = (http_server *)(uintptr_t)1;
        char err[128] = "";
        test_alloc_fail(n, false);
        int r = http_server_new(&s, &o, err, sizeof(err));
        bool failed = test_alloc_failed();
        test_alloc_off();
        if (!failed) {
            assert_int_equal(r, 0);
            http_server_free(s);
            break;
        }
        assert_int_equal(r, -ENOMEM);
        assert_null(s);
        assert_string_equal(err, "cannot create the HTTP server: out of memory");
        assert_int_equal(handles(&loop), 0);
    }
    assert_true(n >= 2); /* the server and its router */
    loop_finish(&loop);
}

static void h_noop(http_exchange *ex, void *arg)
{
    (void)ex;
    (void)arg;
}

/* Routing and request-target decoding: -ENOMEM and nothing half-built. */
static void router_fails_whole(void **state)
{
    (void)state;
    http_router *r = NULL;
    test_alloc_fail(0, false);
    assert_int_equal(http_router_new(&r), -ENOMEM);
    test_alloc_off();
    assert_null(r);
    assert_int_equal(http_router_new(&r), 0);
    for (long n = 0;; n++) {
        test_alloc_fail(n, false);
        int ret = http_router_add(r, "/v1/pods/{ns}/{name}/ready", h_noop, NULL);
        bool failed = test_alloc_failed();
        test_alloc_off();
        if (!failed) {
            assert_int_equal(ret, 0);
            break;
        }
        assert_int_equal(ret, -ENOMEM);
    }
    const char raw[] = "/v1/pods/a%20b/c/ready?x=1&y=%41";
    for (long n = 0;; n++) {
        http_target t;
        http_match m;
        test_alloc_fail(n, false);
        int ret = http_router_decide(r, "GET", raw, sizeof(raw) - 1, &t, &m);
        bool failed = test_alloc_failed();
        test_alloc_off();
        if (!failed) {
            assert_int_equal(ret, 0);
            assert_string_equal(m.params[0].value, "a b");
            assert_string_equal(http_target_query(&t, "y"), "A");
            http_target_free(&t);
            break;
        }
        assert_int_equal(ret, -ENOMEM);
        assert_null(t.path); /* nothing to free */
    }
    http_router_free(r);
}

/* ---- a round trip between our client and our server ---- */

typedef struct trip {
    uv_loop_t loop;
    http_server *s;
    http_client *c;
    char url[64];
    int done;
    int error;
    long status;
    char body[32];
    int observed;
    int observed_status;
} trip;

static void h_hello(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply(ex, 200, "text/plain", "hello", 5);
}

static void observe(const char *route, const char *method, int status, void *arg)
{
    (void)route;
    (void)method;
    trip *t = arg;
    t->observed++;
    t->observed_status = status;
}

static void on_done(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    trip *t = arg;
    t->done++;
    t->error = resp->error;
    t->status = resp->status;
    snprintf(t->body, sizeof(t->body), "%.*s", (int)resp->body_len, resp->body);
}

static void trip_start(trip *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(uv_loop_init(&t->loop), 0);
    http_server_opts so = {.loop = &t->loop};
    assert_int_equal(http_server_new(&t->s, &so, NULL, 0), 0);
    assert_int_equal(http_server_route(t->s, "/hello", h_hello, t), 0);
    http_server_set_observer(t->s, observe, t);
    assert_int_equal(http_server_listen(t->s, "127.0.0.1:0"), 0);
    snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d/hello", http_server_port(t->s));
    http_client_opts co = {.loop = &t->loop};
    assert_int_equal(http_client_new(&t->c, &co, NULL, 0), 0);
}

static void trip_stop(trip *t)
{
    http_client_free(t->c);
    http_server_free(t->s);
    loop_finish(&t->loop);
}

static void on_deadline(uv_timer_t *tm)
{
    *(bool *)tm->data = true;
}

/* Runs the loop until *flag is non-zero or DEADLINE_MS pass; true if it is. */
static bool run_until(uv_loop_t *loop, const int *flag)
{
    bool fired = false;
    uv_timer_t tm;
    uv_timer_init(loop, &tm);
    tm.data = &fired;
    uv_timer_start(&tm, on_deadline, DEADLINE_MS, 0);
    while (!*flag && !fired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tm, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag != 0;
}

static void round_trip_each_allocation_failing(void **state)
{
    (void)state;
    long n = 0;
    int answered = 0, refused = 0, transport = 0;
    for (;; n++) {
        trip t;
        trip_start(&t);
        http_request_opts ro = {.url = t.url, .on_done = on_done, .arg = &t};
        test_alloc_fail(n, false);
        int r = http_client_send(t.c, &ro, NULL);
        if (r == 0)
            assert_true(run_until(&t.loop, &t.done));
        bool failed = test_alloc_failed();
        test_alloc_off();
        if (r) {
            /* Refused synchronously: no callback, ever. */
            assert_true(failed);
            assert_int_equal(r, -ENOMEM);
            uv_run(&t.loop, UV_RUN_NOWAIT);
            assert_int_equal(t.done, 0);
            refused++;
        } else {
            assert_int_equal(t.done, 1);
            if (t.error == HTTP_OK) {
                /* A failure the server answered (its answer has no room: 500). */
                assert_true(t.status == 200 || (failed && t.status == 500));
                if (t.status == 200)
                    assert_string_equal(t.body, "hello");
                answered++;
            } else {
                assert_true(failed);
                assert_true(t.error == HTTP_E_INTERNAL || t.error == HTTP_E_CLOSED);
                transport++;
            }
        }
        trip_stop(&t);
        if (!failed)
            break;
    }
    print_message("round trip: %ld allocations; %d answered, %d refused, %d transport errors\n", n,
                  answered, refused, transport);
    assert_true(n >= 8);
    assert_true(refused > 0 && transport > 0);
}

/* libuv stops listening while a pending connection is not accepted; the
 * server must take it later, not leave the port deaf. */
static void connection_without_memory_served_later(void **state)
{
    (void)state;
    trip t;
    trip_start(&t);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)http_server_port(t.s))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);

    /* Every allocation fails while the server sees the connection. */
    test_alloc_fail(0, true);
    for (int i = 0; i < 20 && !test_alloc_failed(); i++)
        uv_run(&t.loop, UV_RUN_NOWAIT);
    bool failed = test_alloc_failed();
    test_alloc_off();
    assert_true(failed);
    assert_int_equal(http_server_connections(t.s), 0);

    assert_true(run_until(&t.loop, &t.observed));
    assert_int_equal(t.observed_status, 200);
    for (int i = 0; i < 10; i++)
        uv_run(&t.loop, UV_RUN_NOWAIT);
    struct timeval tv = {.tv_sec = 2};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    char buf[512];
    ssize_t k = read(fd, buf, sizeof(buf) - 1);
    assert_true(k > 0);
    buf[k] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    close(fd);
    trip_stop(&t);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_new_fails_whole),
        cmocka_unit_test(server_new_fails_whole),
        cmocka_unit_test(router_fails_whole),
        cmocka_unit_test(round_trip_each_allocation_failing),
        cmocka_unit_test(connection_without_memory_served_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
