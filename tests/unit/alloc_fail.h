/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_UNIT_ALLOC_FAIL_H
#define EIP_TESTS_UNIT_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/* Allocation failure for unit tests (tests/unit/alloc/): the test executables of
 * that folder are linked with -Wl,--wrap for malloc, calloc, realloc, strdup and
 * strndup, so every allocation the project's own code makes goes through here,
 * and jansson's allocator is pointed here too. alloc_fail_at(n) makes the n-th
 * allocation from now fail (NULL), once; alloc_fail_walk() runs a scenario with
 * n = 1, 2, ... until it completes without reaching the n-th allocation,
 * checking after every run that nothing leaked (LeakSanitizer) and that the
 * scenario itself said its outcome was clean. Allocations of other threads
 * (fake servers) never fail. */

/* Counting starts now; the n-th allocation (1-based) fails. 0: none fails. */
void alloc_fail_at(unsigned long n);
/* Allocations counted since the last alloc_fail_at(). */
unsigned long alloc_fail_count(void);
/* Whether the armed failure happened. */
bool alloc_fail_hit(void);
/* Installs the hook as jansson's allocator (call once, before any JSON). */
void alloc_fail_install(void);

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
