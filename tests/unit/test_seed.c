/* SPDX-License-Identifier: MIT */
#include "test_seed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

static uint64_t seed;
static bool have_seed;

uint64_t eip_test_seed(void)
{
    if (have_seed)
        return seed;
    const char *env = getenv("EIP_TEST_SEED");
    bool from_env = false;
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(env, &end, 0);
        if (errno == 0 && end && *end == '\0') {
            seed = (uint64_t)v;
            from_env = true;
        } else {
            fprintf(stderr, "EIP_TEST_SEED=%s is not a number: drawing one\n", env);
        }
    }
    if (!from_env && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = 0x9e3779b97f4a7c15u; /* no entropy: still a seed that is printed */
    if (!from_env)
        seed &= 0xffffffffu; /* short enough to type */
    have_seed = true;
    fprintf(stderr, "EIP_TEST_SEED=%" PRIu64 " (replay with: EIP_TEST_SEED=%" PRIu64 ")\n", seed,
            seed);
    return seed;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void eip_test_rng_init(eip_test_rng *r, const char *name)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a of the name */
    for (const char *p = name ? name : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3u;
    r->state = mix(eip_test_seed() ^ h);
}

uint64_t eip_test_rng_next(eip_test_rng *r)
{
    r->state += 0x9e3779b97f4a7c15u;
    return mix(r->state);
}

uint64_t eip_test_rng_below(eip_test_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = eip_test_rng_next(r);
    while (v >= limit);
    return v % n;
}

double eip_test_rng_01(eip_test_rng *r)
{
    return (double)(eip_test_rng_next(r) >> 11) * 0x1.0p-53;
}
