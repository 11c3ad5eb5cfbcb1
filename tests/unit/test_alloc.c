/* SPDX-License-Identifier: MIT */
#include "test_alloc.h"

#include <errno.h>
#include <stddef.h>

/* What -Wl,--wrap=<name> binds: __wrap_<name> for every call from our objects,
 * __real_<name> for the C library's (or the sanitizer's) own. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long fail_at = -1; /* the allocation that fails; -1: none */
static bool fail_persist;
static long count;
static bool failed;
static int paused;

void test_alloc_fail(long nth, bool persist)
{
    fail_at = nth;
    fail_persist = persist;
    count = 0;
    failed = false;
}

void test_alloc_off(void)
{
    test_alloc_fail(-1, false);
}

long test_alloc_count(void)
{
    return count;
}

bool test_alloc_failed(void)
{
    return failed;
}

void test_alloc_pause(void)
{
    paused++;
}

void test_alloc_resume(void)
{
    if (paused > 0)
        paused--;
}

static bool fail_now(void)
{
    if (paused)
        return false;
    long i = count++;
    if (fail_at < 0 || i < fail_at || (i > fail_at && !fail_persist))
        return false;
    failed = true;
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}
