/* SPDX-License-Identifier: MIT */
/* k8s/request.c against the project's HTTP server on loopback (plain HTTP):
 * the rate limiter's FIFO queue and pace, the token re-read after a 401, Status
 * parsing, the size cap, cancel and free with calls in flight. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/timeutil.h"
#include "http/server.h"
#include "k8s/client.h"
#include "test_tmp.h"

#define MAX_SEEN 64

typedef struct fx {
    uv_loop_t loop;
    http_server *srv;
    http_client *http;
    k8s_config cfg;
    char dir[64];
    char token_path[96];
    char server_url[64];
    /* server side */
    char valid_token[64];
    int auth_hits;
    int seq[MAX_SEEN];
    int64_t seq_ms[MAX_SEEN];
    int nseq;
    char ua[128];
    /* client side */
    int done;
    k8s_result results[MAX_SEEN];
    k8s_status statuses[MAX_SEEN];
    long long retry_after[MAX_SEEN];
    size_t chunked;
} fx;

static void write_token(fx *f, const char *tok)
{
    FILE *fp = fopen(f->token_path, "w");
    assert_non_null(fp);
    fprintf(fp, "%s\n", tok);
    fclose(fp);
}

static void h_seq(http_exchange *ex, void *arg)
{
    fx *f = arg;
    const char *n = http_exchange_param(ex, "n");
    if (f->nseq < MAX_SEEN) {
        f->seq[f->nseq] = (int)strtol(n, NULL, 10);
        f->seq_ms[f->nseq] = eip_time_mono_ms();
        f->nseq++;
    }
    http_exchange_reply_json(ex, 200, json_pack("{s:s}", "n", n));
}

static void h_auth(http_exchange *ex, void *arg)
{
    fx *f = arg;
    f->auth_hits++;
    const char *a = http_exchange_header(ex, "Authorization");
    char want[96];
    snprintf(want, sizeof(want), "Bearer %s", f->valid_token);
    if (!a || strcmp(a, want) != 0) {
        http_exchange_reply_json(ex, 401,
                                 json_pack("{s:s, s:s, s:s, s:i}", "kind", "Status", "reason",
                                           "Unauthorized", "message", "Unauthorized", "code", 401));
        return;
    }
    http_exchange_reply_json(ex, 200, json_pack("{s:b}", "ok", 1));
}

static void h_conflict(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply_json(ex, 409,
                             json_pack("{s:s, s:s, s:s, s:s, s:i}", "kind", "Status", "status",
                                       "Failure", "reason", "Conflict", "message",
                                       "the object has been modified", "code", 409));
}

static void h_big(http_exchange *ex, void *arg)
{
    (void)arg;
    size_t n = 300000;
    char *body = malloc(n);
    assert_non_null(body);
    memset(body, ' ', n);
    body[0] = '{';
    body[n - 1] = '}';
    http_exchange_reply(ex, 200, "application/json", body, n);
    free(body);
}

static void h_text(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply(ex, 200, "text/plain", "not json", 8);
}

static void h_ua(http_exchange *ex, void *arg)
{
    fx *f = arg;
    const char *ua = http_exchange_header(ex, "User-Agent");
    snprintf(f->ua, sizeof(f->ua), "%s", ua ? ua : "");
    http_exchange_reply_json(ex, 200, json_pack("{}"));
}

static void h_hang(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_defer(ex, NULL, NULL);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    http_server_opts so = {.loop = &f->loop};
    assert_int_equal(http_server_new(&f->srv, &so, NULL, 0), 0);
    assert_int_equal(http_server_route(f->srv, "/api/v1/seq/{n}", h_seq, f), 0);
    assert_int_equal(http_server_route(f->srv, "/auth", h_auth, f), 0);
    assert_int_equal(http_server_route(f->srv, "/conflict", h_conflict, f), 0);
    assert_int_equal(http_server_route(f->srv, "/big", h_big, f), 0);
    assert_int_equal(http_server_route(f->srv, "/text", h_text, f), 0);
    assert_int_equal(http_server_route(f->srv, "/ua", h_ua, f), 0);
    assert_int_equal(http_server_route(f->srv, "/hang", h_hang, f), 0);
    assert_int_equal(http_server_listen(f->srv, "127.0.0.1:0"), 0);
    snprintf(f->server_url, sizeof(f->server_url), "http://127.0.0.1:%d", http_server_port(f->srv));
    assert_int_equal(eip_test_tmp_path(f->dir, sizeof(f->dir), "k8s-request-XXXXXX"), 0);
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->token_path, sizeof(f->token_path), "%s/token", f->dir);
    strcpy(f->valid_token, "tok-1");
    write_token(f, "tok-1");
    f->cfg.server = f->server_url;
    f->cfg.token_file = f->token_path;
    http_client_opts ho = {.loop = &f->loop};
    assert_int_equal(http_client_new(&f->http, &ho, NULL, 0), 0);
    assert_non_null(f->http);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    http_client_free(f->http);
    http_server_free(f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    unlink(f->token_path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void on_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    fx *f = arg;
    if (f->done < MAX_SEEN) {
        f->results[f->done] = resp->result;
        f->statuses[f->done] = resp->status;
        f->retry_after[f->done] = resp->retry_after_ms;
    }
    f->done++;
}

static int on_chunk(k8s_call *call, long status, const char *data, size_t len, void *arg)
{
    (void)call;
    (void)data;
    fx *f = arg;
    assert_int_equal(status, 200);
    f->chunked += len;
    return 0;
}

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until done reaches n or the deadline passes. */
static void run_until(fx *f, int n, int64_t timeout_ms)
{
    int64_t deadline = eip_time_mono_ms() + timeout_ms;
    uv_timer_t tick;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, tick_cb, 10, 10);
    while (f->done < n && eip_time_mono_ms() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void run_for(fx *f, int64_t ms)
{
    int64_t deadline = eip_time_mono_ms() + ms;
    uv_timer_t tick;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, tick_cb, 10, 10);
    while (eip_time_mono_ms() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static k8s_client *new_client(fx *f, double qps, int burst)
{
    char err[256];
    k8s_client_opts o = {.loop = &f->loop,
                         .http = f->http,
                         .config = &f->cfg,
                         .qps = qps,
                         .burst = burst,
                         .max_response_bytes = 100000};
    k8s_client *c = NULL;
    if (k8s_client_new(&c, &o, err, sizeof(err)) != 0)
        fail_msg("k8s_client_new: %s", err);
    return c;
}

static void limiter_paces_fifo(void **state)
{
    fx *f = *state;
    k8s_client *c = new_client(f, 10, 2);
    char path[64];
    int64_t t0 = eip_time_mono_ms();
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "/api/v1/seq/%d", i);
        assert_int_equal(k8s_get(c, path, on_done, f, NULL), 0);
    }
    assert_int_equal(k8s_client_pending(c), 6);
    run_until(f, 6, 10000);
    assert_int_equal(f->done, 6);
    assert_int_equal(f->nseq, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(f->seq[i], i); /* FIFO */
        assert_int_equal(f->results[i], K8S_OK);
    }
    /* burst 2 at once, then one per 100 ms: the 6th not before ~400 ms */
    assert_true(f->seq_ms[1] - t0 < 300);
    assert_true(f->seq_ms[5] - t0 >= 380);
    assert_true(f->seq_ms[5] - t0 < 3000);
    assert_int_equal(k8s_client_pending(c), 0);
    k8s_client_stats st;
    k8s_client_get_stats(c, &st);
    assert_int_equal(st.throttled, 4);
    assert_int_equal(st.requests, 6);
    k8s_client_free(c);
}

static void token_reread_after_401(void **state)
{
    fx *f = *state;
    k8s_client *c = new_client(f, -1, 0);
    assert_int_equal(k8s_get(c, "/auth", on_done, f, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(f->results[0], K8S_OK);
    assert_int_equal(f->auth_hits, 1);
    /* the token rotates: the file changes, the old token is refused */
    strcpy(f->valid_token, "tok-2");
    write_token(f, "tok-2");
    assert_int_equal(k8s_get(c, "/auth", on_done, f, NULL), 0);
    run_until(f, 2, 5000);
    assert_int_equal(f->results[1], K8S_OK);
    assert_int_equal(f->auth_hits, 3); /* 401, then the retry with the fresh token */
    /* a token that stays wrong: exactly one retry, then unauthorized */
    strcpy(f->valid_token, "tok-3");
    assert_int_equal(k8s_get(c, "/auth", on_done, f, NULL), 0);
    run_until(f, 3, 5000);
    assert_int_equal(f->results[2], K8S_E_UNAUTHORIZED);
    assert_int_equal(f->statuses[2].code, 401);
    assert_string_equal(f->statuses[2].reason, "Unauthorized");
    assert_int_equal(f->auth_hits, 5);
    k8s_client_stats st;
    k8s_client_get_stats(c, &st);
    assert_int_equal(st.requests, 5);
    assert_int_equal(st.retries_401, 2);
    assert_int_equal(st.token_reloads, 1); /* the second re-read found the same token */
    assert_int_equal(st.results[K8S_OK], 2);
    assert_int_equal(st.results[K8S_E_UNAUTHORIZED], 1);
    k8s_client_free(c);
}

static void status_conflict_and_parse(void **state)
{
    fx *f = *state;
    k8s_client *c = new_client(f, -1, 0);
    json_t *body = json_pack("{s:s}", "a", "b");
    /* the route answers 405 to PUT... */
    assert_int_equal(k8s_put(c, "/conflict", body, on_done, f, NULL), 0);
    assert_int_equal(k8s_get(c, "/conflict", on_done, f, NULL), 0);
    assert_int_equal(k8s_get(c, "/text", on_done, f, NULL), 0);
    assert_int_equal(k8s_get(c, "/nothing-here", on_done, f, NULL), 0);
    json_decref(body);
    run_until(f, 4, 5000);
    assert_int_equal(f->done, 4);
    assert_int_equal(f->results[0], K8S_E_OTHER); /* 405 */
    assert_int_equal(f->results[1], K8S_E_CONFLICT);
    assert_string_equal(f->statuses[1].reason, "Conflict");
    assert_string_equal(f->statuses[1].message, "the object has been modified");
    assert_int_equal(f->retry_after[1], -1);
    assert_int_equal(f->results[2], K8S_E_PARSE);
    assert_int_equal(f->results[3], K8S_E_NOT_FOUND);
    k8s_client_free(c);
}

static void size_cap_and_streaming(void **state)
{
    fx *f = *state;
    k8s_client *c = new_client(f, -1, 0);
    assert_int_equal(k8s_get(c, "/big", on_done, f, NULL), 0);
    run_until(f, 1, 5000);
    assert_int_equal(f->results[0], K8S_E_TOO_LARGE);
    /* streaming is not subject to the buffered cap */
    k8s_request_opts o = {.path = "/big", .on_chunk = on_chunk, .on_done = on_done, .arg = f};
    assert_int_equal(k8s_request(c, &o, NULL), 0);
    run_until(f, 2, 5000);
    assert_int_equal(f->results[1], K8S_OK);
    assert_int_equal(f->chunked, 300000);
    k8s_client_free(c);
}

static void user_agent_and_bad_path(void **state)
{
    fx *f = *state;
    k8s_client *c = new_client(f, -1, 0);
    assert_int_equal(k8s_get(c, "no-slash", on_done, f, NULL), -EINVAL);
    assert_int_equal(k8s_get(c, "/ua", on_done, f, NULL), 0);
    run_until(f, 1, 5000);
    assert_string_equal(f->ua, "eip-agent/" EIP_AGENT_VERSION);
    k8s_client_free(c);
}

/* A URL is the configured server plus the path, never cut: one that does not
 * fit is refused at once (no callback), not sent somewhere else. */
static void url_too_long_is_refused(void **state)
{
    fx *f = *state;
    k8s_client *c = new_client(f, -1, 0);
    size_t n = 70 * 1024;
    char *path = malloc(n + 1);
    assert_non_null(path);
    memset(path, 'a', n);
    path[0] = '/';
    path[n] = '\0';
    assert_int_equal(k8s_get(c, path, on_done, f, NULL), -E2BIG);
    assert_int_equal(k8s_client_pending(c), 0);
    free(path);
    run_for(f, 50);
    assert_int_equal(f->done, 0);
    k8s_client_free(c);
}

static void constructor_contract(void **state)
{
    fx *f = *state;
    char err[256] = "";
    k8s_client *c = (k8s_client *)f;                           /* must be reset */
    k8s_client_opts o = {.loop = &f->loop, .config = &f->cfg}; /* no HTTP client */
    assert_int_equal(k8s_client_new(&c, &o, err, sizeof(err)), -EINVAL);
    assert_null(c);
    assert_non_null(strstr(err, "HTTP client"));
    /* an unreadable token file: the reason names it */
    char missing[] = "/nonexistent/token";
    k8s_config bad = {.server = f->server_url, .token_file = missing};
    o.http = f->http;
    o.config = &bad;
    assert_int_equal(k8s_client_new(&c, &o, err, sizeof(err)), -ENOENT);
    assert_null(c);
    assert_non_null(strstr(err, "/nonexistent/token"));
}

static void cancel_queued_and_free_in_flight(void **state)
{
    fx *f = *state;
    k8s_client *c = new_client(f, 1, 1);
    k8s_call *first = NULL, *second = NULL;
    assert_int_equal(k8s_get(c, "/api/v1/seq/1", on_done, f, &first), 0);
    assert_int_equal(k8s_get(c, "/api/v1/seq/2", on_done, f, &second), 0);
    assert_int_equal(k8s_client_pending(c), 2);
    k8s_call_cancel(second); /* still queued behind the limiter */
    assert_int_equal(k8s_client_pending(c), 1);
    run_until(f, 1, 5000);
    run_for(f, 1200); /* the cancelled one would have gone after 1 s */
    assert_int_equal(f->done, 1);
    assert_int_equal(f->nseq, 1);
    assert_int_equal(f->seq[0], 1);
    /* a request that never gets an answer, and one queued: free drops both silently */
    k8s_client *c2 = new_client(f, 1, 1);
    assert_int_equal(k8s_get(c2, "/hang", on_done, f, NULL), 0);
    assert_int_equal(k8s_get(c2, "/api/v1/seq/3", on_done, f, NULL), 0);
    run_for(f, 100);
    k8s_client_free(c2);
    run_for(f, 50);
    assert_int_equal(f->done, 1);
    k8s_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(limiter_paces_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(url_too_long_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(constructor_contract, setup, teardown),
        cmocka_unit_test_setup_teardown(token_reread_after_401, setup, teardown),
        cmocka_unit_test_setup_teardown(status_conflict_and_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(size_cap_and_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(user_agent_and_bad_path, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_queued_and_free_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
