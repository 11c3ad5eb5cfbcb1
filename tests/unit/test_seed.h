/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_UNIT_TEST_SEED_H
#define EIP_TESTS_UNIT_TEST_SEED_H

#include <stdint.h>

/* Replayable randomness for unit tests. The seed is EIP_TEST_SEED (decimal or 0x
 * hex) or, without it, drawn from the kernel; it is printed to stderr the first
 * time it is used, with the line that replays the run. Production code keeps its
 * own CSPRNG (common/rand.h): tests draw their inputs from here. */

/* The run's seed (read or drawn once, printed once). */
uint64_t eip_test_seed(void);

/* One stream (splitmix64), seeded by the run's seed mixed with a name, so one
 * test gets the same values whether it runs alone or with others. */
typedef struct eip_test_rng {
    uint64_t state;
} eip_test_rng;

void eip_test_rng_init(eip_test_rng *r, const char *name);
uint64_t eip_test_rng_next(eip_test_rng *r);
/* Uniform in [0, n) (n > 0; 0 when n <= 1). */
uint64_t eip_test_rng_below(eip_test_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double eip_test_rng_01(eip_test_rng *r);

#endif
