/* SPDX-License-Identifier: MIT */
#include "alloc_fail.h"

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

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static unsigned long fail_at, counted;
static bool hit;
/* Only the test's own thread fails; fake servers run on other threads. */
static _Thread_local bool test_thread;

static bool should_fail(void)
{
    if (!test_thread)
        return false;
    counted++;
    if (fail_at && counted == fail_at) {
        hit = true;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return should_fail() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strndup(s, n);
}

static void *json_malloc(size_t n)
{
    return __wrap_malloc(n);
}

static void json_free(void *p)
{
    free(p);
}

void alloc_fail_install(void)
{
    test_thread = true;
    json_set_alloc_funcs(json_malloc, json_free);
}

void alloc_fail_at(unsigned long n)
{
    fail_at = n;
    counted = 0;
    hit = false;
}

unsigned long alloc_fail_count(void)
{
    return counted;
}

bool alloc_fail_hit(void)
{
    return hit;
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
