/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_UNIT_ALLOC_FAIL_H
#define EIP_TESTS_UNIT_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Allocation-failure walks (tests/unit/alloc/), on top of the injection every
 * unit test is linked with (test_alloc.h: --wrap of malloc, calloc, realloc,
 * strdup, strndup); jansson's allocator is pointed at it too. alloc_fail_at(n)
 * makes the n-th allocation from now fail (NULL), once; alloc_fail_walk() runs a
 * scenario with n = 1, 2, ... until it completes without reaching the n-th
 * allocation, checking after every run that nothing leaked (LeakSanitizer) and
 * that the scenario itself said its outcome was clean. */

/* Counting starts now; the n-th allocation (1-based) fails. 0: none fails. */
void alloc_fail_at(unsigned long n);
/* Allocations counted since the last alloc_fail_at(). */
unsigned long alloc_fail_count(void);
/* Whether the armed failure happened. */
bool alloc_fail_hit(void);
/* Installs the hook as jansson's allocator (call once, before any JSON). */
void alloc_fail_install(void);
/* The test's own work between these two (a fake's bookkeeping, building the
 * fixtures a constructor needs, checking what a fake received) is neither
 * counted nor failed. They nest. */
void alloc_fail_pause(void);
void alloc_fail_resume(void);

/* Handles on loop, closing ones included (uv_walk). */
int alloc_loop_handles(uv_loop_t *loop);
/* Runs the loop without waiting until no handle is left (at most a few hundred
 * turns); returns how many are left. */
int alloc_loop_drain(uv_loop_t *loop);
/* Runs the loop until done(arg) says so or deadline_ms pass (a timer of its
 * own, closed before returning); whether done(arg) said so. */
bool alloc_loop_run_until(uv_loop_t *loop, bool (*done)(void *arg), void *arg,
                          uint64_t deadline_ms);

/* One run of a scenario. Returns 0 when it succeeded, or a negative errno when
 * it failed cleanly (reported the failure, freed everything). Any other
 * outcome (a crash, a leak, a half-written object) must make it fail a cmocka
 * assertion itself. */
typedef int (*alloc_scenario)(void *arg);

/* Walks n = 1, 2, ... through the scenario (at most max_steps runs); fails the
 * test on a leak after any run, or when a run that hit the failure still
 * returned success and the scenario says that cannot be (strict), or when the
 * walk never completes. Returns the number of allocations of a full run. */
unsigned long alloc_fail_walk(const char *name, alloc_scenario run, void *arg,
                              unsigned long max_steps);

#endif
