/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/check.h"

/* Test-only checks exercising the registry: synchronous, asynchronous, failing,
 * refusing to start, and one that never finishes (timeout + cancel). */

struct report {
    int calls;
    size_t n;
    char lines[8][160];
};

static void on_report(const struct check_result *res, size_t n, void *arg)
{
    struct report *rep = arg;
    rep->calls++;
    rep->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(rep->lines[i], sizeof(rep->lines[i]), "%s %s: %s", res[i].ok ? "ok" : "FAIL",
                 res[i].name, res[i].detail);
}

static int sync_ok(check_run *run, const struct check_env *env, void *arg)
{
    (void)env;
    check_done(run, true, "answered %s", (const char *)arg);
    return 0;
}

static int refuse(check_run *run, const struct check_env *env, void *arg)
{
    (void)run;
    (void)env;
    (void)arg;
    return -ENOTSUP;
}

/* Finishes from a timer, after delay_ms. */
struct async_check {
    uv_timer_t timer;
    check_run *run;
    unsigned delay_ms;
    bool ok;
    bool inited;
    int cancelled;
};

static void on_async_timer(uv_timer_t *t)
{
    struct async_check *a = t->data;
    check_run *run = a->run;
    a->run = NULL;
    check_done(run, a->ok, "after %u ms", a->delay_ms);
    check_done(run, true, "twice"); /* ignored */
}

static int async_start(check_run *run, const struct check_env *env, void *arg)
{
    struct async_check *a = arg;
    a->run = run;
    if (!a->inited) {
        uv_timer_init(env->loop, &a->timer);
        a->timer.data = a;
        a->inited = true;
    }
    uv_timer_start(&a->timer, on_async_timer, a->delay_ms, 0);
    return 0;
}

static void async_cancel(check_run *run, void *arg)
{
    (void)run;
    struct async_check *a = arg;
    a->cancelled++;
    uv_timer_stop(&a->timer);
    /* A cancel that still reports is ignored by the registry. */
    check_done(run, true, "too late");
}

static void run_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
}

static void close_timer(struct async_check *a)
{
    uv_close((uv_handle_t *)&a->timer, NULL);
}

static void registry_runs_all(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct agent_config cfg;
    agent_config_init(&cfg);
    cfg.check_timeout_ms = 200;

    struct async_check fast = {.delay_ms = 10, .ok = true};
    struct async_check failing = {.delay_ms = 5, .ok = false};
    struct async_check stuck = {.delay_ms = 60000, .ok = true};
    check_registry *reg;
    assert_int_equal(check_registry_new(&reg), 0);
    assert_int_equal(check_registry_add(reg, "sync", sync_ok, NULL, 0, (void *)(uintptr_t) "now"),
                     0);
    assert_int_equal(check_registry_add(reg, "sync", sync_ok, NULL, 0, (void *)(uintptr_t) "now"),
                     -EEXIST);
    assert_int_equal(check_registry_add(reg, "async", async_start, async_cancel, 0, &fast), 0);
    assert_int_equal(check_registry_add(reg, "failing", async_start, async_cancel, 0, &failing), 0);
    assert_int_equal(check_registry_add(reg, "refuses", refuse, NULL, 0, NULL), 0);
    assert_int_equal(check_registry_add(reg, "stuck", async_start, async_cancel, 50, &stuck), 0);
    assert_int_equal(check_registry_count(reg), 5);

    struct report rep = {0};
    struct check_env env = {&loop, &cfg, NULL};
    uv_update_time(&loop); /* timeouts count from the cached loop time */
    uint64_t t0 = uv_hrtime();
    assert_int_equal(check_registry_run(reg, &env, on_report, &rep), 0);
    assert_int_equal(rep.calls, 0); /* never from inside run() */
    assert_int_equal(check_registry_run(reg, &env, on_report, &rep), -EBUSY);
    run_loop(&loop);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(rep.calls, 1);
    assert_int_equal(rep.n, 5);
    /* registration order, not completion order */
    assert_string_equal(rep.lines[0], "ok sync: answered now");
    assert_string_equal(rep.lines[1], "ok async: after 10 ms");
    assert_string_equal(rep.lines[2], "FAIL failing: after 5 ms");
    assert_string_equal(rep.lines[3], "FAIL refuses: could not start: Operation not supported");
    assert_string_equal(rep.lines[4], "FAIL stuck: timed out after 50 ms");
    assert_int_equal(stuck.cancelled, 1);
    assert_int_equal(fast.cancelled, 0);
    if (ms < 45 || ms >= 5000)
        fail_msg("took %llu ms", (unsigned long long)ms);

    /* the registry can run again */
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(check_registry_run(reg, &env, on_report, &rep), 0);
    run_loop(&loop);
    assert_int_equal(rep.calls, 1);
    assert_int_equal(stuck.cancelled, 2);

    close_timer(&fast);
    close_timer(&failing);
    close_timer(&stuck);
    run_loop(&loop);
    check_registry_free(reg);
    agent_config_free(&cfg);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void empty_registry_reports(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    check_registry *reg;
    assert_int_equal(check_registry_new(&reg), 0);
    struct report rep = {0};
    struct check_env env = {&loop, NULL, NULL};
    assert_int_equal(check_registry_run(reg, &env, on_report, &rep), 0);
    run_loop(&loop);
    assert_int_equal(rep.calls, 1);
    assert_int_equal(rep.n, 0);
    check_registry_free(reg);
    check_registry_free(NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The built-in "listen" check against a free port and a taken one. */
static void listen_check(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_tcp_t holder;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_init(&loop, &holder), 0);
    assert_int_equal(uv_tcp_bind(&holder, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&holder, 1, NULL), 0);
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    assert_int_equal(uv_tcp_getsockname(&holder, (struct sockaddr *)&bound, &len), 0);
    int port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

    struct agent_config cfg;
    agent_config_init(&cfg);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    cfg.listen = strdup(addr);
    check_registry *reg;
    assert_int_equal(check_registry_new(&reg), 0);
    assert_int_equal(check_register_all(reg), 0);
    struct report rep = {0};
    struct check_env env = {&loop, &cfg, NULL};
    assert_int_equal(check_registry_run(reg, &env, on_report, &rep), 0);
    while (!rep.calls)
        uv_run(&loop, UV_RUN_ONCE);
    char want[128];
    snprintf(want, sizeof(want), "FAIL listen: 127.0.0.1:%d: address already in use", port);
    assert_string_equal(rep.lines[0], want);

    /* free the port: now it binds */
    uv_close((uv_handle_t *)&holder, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(check_registry_run(reg, &env, on_report, &rep), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    snprintf(want, sizeof(want), "ok listen: 127.0.0.1:%d can be bound", port);
    assert_string_equal(rep.lines[0], want);

    check_registry_free(reg);
    agent_config_free(&cfg);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_runs_all),
        cmocka_unit_test(empty_registry_reports),
        cmocka_unit_test(listen_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
