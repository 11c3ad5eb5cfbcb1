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
