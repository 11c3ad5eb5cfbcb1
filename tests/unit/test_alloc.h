/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_UNIT_TEST_ALLOC_H
#define EIP_TESTS_UNIT_TEST_ALLOC_H

#include <stdbool.h>

/* Allocation-failure injection (libuv's test-loop-oom.c): every unit test is
 * linked with -Wl,--wrap for malloc, calloc, realloc, strdup and strndup, so
 * the project's own calls, in the test and in the folder libraries, go through
 * here. libcurl's, libuv's and jansson's own allocations do not (they are
 * shared libraries): their failures reach us as their error codes. Nothing
 * fails until a test asks for it. */

/* From now on, the allocation numbered nth (0: the next one) fails with
 * ENOMEM; with persist, every one after it fails too. */
void test_alloc_fail(long nth, bool persist);
/* Nothing fails any more. */
void test_alloc_off(void);
/* Allocations asked for since the last test_alloc_fail() or test_alloc_off(),
 * failed ones included. */
long test_alloc_count(void);
/* Whether an injected failure happened since then. */
bool test_alloc_failed(void);
/* Between test_alloc_pause() and test_alloc_resume() (they nest) allocations
 * are neither counted nor failed: a test's own bookkeeping (recording what a
 * fake server received, checking it) stays out of the walk. */
void test_alloc_pause(void);
void test_alloc_resume(void);

#endif
