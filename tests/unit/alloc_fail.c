/* SPDX-License-Identifier: MIT */
#include "alloc_fail.h"
#include "test_alloc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <sanitizer/lsan_interface.h>

#if !defined(__SANITIZE_ADDRESS__)
#error "the allocation-failure walks check leaks with LeakSanitizer: build with ENABLE_ASAN"
#endif

static void *json_malloc(size_t n)
{
    return malloc(n); /* wrapped: counted, and failed when asked */
}

static void json_free(void *p)
{
    free(p);
}

void alloc_fail_install(void)
{
    json_set_alloc_funcs(json_malloc, json_free);
}

void alloc_fail_pause(void)
{
    test_alloc_pause();
}

void alloc_fail_resume(void)
{
    test_alloc_resume();
}

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    (*(int *)arg)++;
}

int alloc_loop_handles(uv_loop_t *loop)
{
    int n = 0;
    uv_walk(loop, count_handle, &n);
    return n;
}

int alloc_loop_drain(uv_loop_t *loop)
{
    for (int i = 0; i < 500 && alloc_loop_handles(loop) > 0; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    return alloc_loop_handles(loop);
}

typedef struct waiting {
    bool (*done)(void *arg);
    void *arg;
    bool fired;
} waiting;

static void on_deadline(uv_timer_t *t)
{
    waiting *w = t->data;
    w->fired = true;
}

/* Before the loop blocks for I/O: a callback of this turn may have made done()
 * true, and nothing else may be due before the deadline. */
static void on_prepare(uv_prepare_t *p)
{
    waiting *w = p->data;
    if (w->done(w->arg))
        uv_stop(p->loop);
}

bool alloc_loop_run_until(uv_loop_t *loop, bool (*done)(void *arg), void *arg, uint64_t deadline_ms)
{
    waiting w = {done, arg, false};
    uv_timer_t t;
    uv_prepare_t p;
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_prepare_init(loop, &p), 0);
    t.data = p.data = &w;
    assert_int_equal(uv_timer_start(&t, on_deadline, deadline_ms, 0), 0);
    assert_int_equal(uv_prepare_start(&p, on_prepare), 0);
    bool ok = done(arg);
    while (!ok && !w.fired) {
        uv_run(loop, UV_RUN_ONCE);
        ok = done(arg);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_close((uv_handle_t *)&p, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* both are on the stack: closed before they go */
    return ok;
}

void alloc_fail_at(unsigned long n)
{
    if (n)
        test_alloc_fail((long)n - 1, false);
    else
        test_alloc_off();
}

unsigned long alloc_fail_count(void)
{
    return (unsigned long)test_alloc_count();
}

bool alloc_fail_hit(void)
{
    return test_alloc_failed();
}

unsigned long alloc_fail_walk(const char *name, alloc_scenario run, void *arg,
                              unsigned long max_steps)
{
    for (unsigned long n = 1; n <= max_steps; n++) {
        alloc_fail_at(n);
        int r = run(arg);
        bool failed_here = alloc_fail_hit();
        unsigned long total = alloc_fail_count();
        alloc_fail_at(0);
        if (__lsan_do_recoverable_leak_check())
            fail_msg("%s: leak with allocation %lu failing (run returned %d)", name, n, r);
        if (r != 0 && !failed_here)
            fail_msg("%s: failed (%d) without an allocation failing (step %lu)", name, r, n);
        if (!failed_here) {
            print_message("%s: %lu allocations, each one failed in turn: clean\n", name, total);
            return total;
        }
    }
    fail_msg("%s: did not complete within %lu allocations", name, max_steps);
    return 0;
}
