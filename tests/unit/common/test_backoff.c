/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/backoff.h"
#include "test_seed.h"

/* k8s/reflector.c's settings: client-go's 800 ms doubling to 30 s, jitter 1.0,
 * reset after two healthy minutes. */
static void init_reflector(eip_backoff *b)
{
    eip_backoff_init(b, 800, 30000, 120000, EIP_JITTER_UP, 1.0);
}

static void step_doubles_to_cap(void **state)
{
    (void)state;
    assert_int_equal(eip_backoff_step_ms(100, 1000, 1), 100);
    assert_int_equal(eip_backoff_step_ms(100, 1000, 2), 200);
    assert_int_equal(eip_backoff_step_ms(100, 1000, 4), 800);
    assert_int_equal(eip_backoff_step_ms(100, 1000, 5), 1000);
    assert_int_equal(eip_backoff_step_ms(100, 1000, 60), 1000);
    assert_int_equal(eip_backoff_step_ms(100, 1000, 0), 100);
    assert_int_equal(eip_backoff_step_ms(100, 1000, -5), 100);
    /* base above cap: the cap */
    assert_int_equal(eip_backoff_step_ms(5000, 1000, 1), 1000);
    /* base <= 0 is 1, cap <= 0 is base */
    assert_int_equal(eip_backoff_step_ms(0, 0, 10), 1);
    assert_int_equal(eip_backoff_step_ms(0, 8, 3), 4);
    assert_int_equal(eip_backoff_step_ms(300, 0, 10), 300);
    /* no overflow near the top of int64 */
    assert_int_equal(eip_backoff_step_ms(INT64_MAX / 3, INT64_MAX, 1000), INT64_MAX);
    assert_int_equal(eip_backoff_step_ms(1, INT64_MAX, 64), INT64_MAX);
    assert_int_equal(eip_backoff_step_ms(1, INT64_MAX, 63), INT64_C(1) << 62);
}

static void full_jitter_range(void **state)
{
    (void)state;
    /* [0, step]: both ends reachable */
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, 0.0), 0);
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, 0.9999999), 800);
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, 0.5), 400);
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 9, EIP_JITTER_FULL, 0, 0.9999999), 1000);
    /* out-of-range draws are clamped, never past the step */
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, 1.0), 800);
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, 7.5), 800);
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, -1.0), 0);
    assert_int_equal(eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, NAN), 0);
    /* a large step keeps the top reachable */
    int64_t big = INT64_C(1) << 40;
    assert_int_equal(eip_backoff_delay_ms(big, big, 1, EIP_JITTER_FULL, 0, 1.0), big);
    int64_t lo = INT64_MAX, hi = -1;
    eip_test_rng rng;
    eip_test_rng_init(&rng, "full_jitter_range");
    for (int i = 0; i < 2000; i++) {
        int64_t d = eip_backoff_delay_ms(100, 1000, 4, EIP_JITTER_FULL, 0, eip_test_rng_01(&rng));
        assert_true(d >= 0 && d <= 800);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < 100);
    assert_true(hi > 700);
}

static void up_jitter_range(void **state)
{
    (void)state;
    /* step + [0, factor * step), at most cap */
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 1, EIP_JITTER_UP, 1.0, 0.0), 800);
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 1, EIP_JITTER_UP, 1.0, 0.5), 1200);
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 1, EIP_JITTER_UP, 0.5, 0.5), 1000);
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 1, EIP_JITTER_UP, 0, 0.9), 800);
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 5, EIP_JITTER_UP, 1.0, 0.99), 25472);
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 6, EIP_JITTER_UP, 1.0, 0.99), 30000);
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 1, EIP_JITTER_UP, 1.0, 2.0), 1599);
    assert_int_equal(eip_backoff_delay_ms(800, 30000, 1, EIP_JITTER_UP, 1.0, NAN), 800);
    eip_test_rng rng;
    eip_test_rng_init(&rng, "up_jitter_range");
    for (int i = 0; i < 1000; i++) {
        double r = eip_test_rng_01(&rng);
        int64_t w = eip_backoff_delay_ms(800, 30000, 1, EIP_JITTER_UP, 1.0, r);
        assert_true(w >= 800 && w < 1600);
    }
    /* the production draw (the kernel's CSPRNG, not seedable) stays in [0, 1) */
    for (int i = 0; i < 1000; i++) {
        double r = eip_backoff_rand01();
        assert_true(r >= 0.0 && r < 1.0);
    }
}

static void doubles_to_cap_without_jitter(void **state)
{
    (void)state;
    eip_backoff b;
    init_reflector(&b);
    int64_t t = 1000;
    static const int64_t want[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(eip_backoff_next(&b, t, 0.0), want[i]);
        t += 1000; /* failures close together: no reset */
    }
}

static void jitter_within_bounds(void **state)
{
    (void)state;
    eip_backoff b;
    init_reflector(&b);
    /* jitter 1.0: d + [0, d) */
    assert_int_equal(eip_backoff_next(&b, 0, 0.5), 1200);
    assert_int_equal(eip_backoff_next(&b, 10, 0.999), 3198);
    /* jitter never passes the cap */
    for (int i = 0; i < 10; i++)
        assert_true(eip_backoff_next(&b, 20 + i, 0.99) <= 30000);
    for (int i = 0; i < 1000; i++) {
        int64_t w = eip_backoff_next(&b, 100 + i, eip_backoff_rand01());
        assert_true(w >= 30000 && w <= 30000);
    }
    init_reflector(&b);
    for (int i = 0; i < 1000; i++) {
        double r = eip_backoff_rand01();
        assert_true(r >= 0.0 && r < 1.0);
        eip_backoff_reset(&b);
        int64_t w = eip_backoff_next(&b, 0, r);
        assert_true(w >= 800 && w < 1600);
    }
}

static void resets_after_two_healthy_minutes(void **state)
{
    (void)state;
    eip_backoff b;
    init_reflector(&b);
    int64_t t = 0;
    for (int i = 0; i < 6; i++)
        eip_backoff_next(&b, t += 100, 0.0);
    assert_int_equal(eip_backoff_next(&b, t += 100, 0.0), 30000);
    /* 119.9 s later: still backing off at the cap */
    assert_int_equal(eip_backoff_next(&b, t += 119900, 0.0), 30000);
    /* two minutes without a failure: back to the start */
    assert_int_equal(eip_backoff_next(&b, t += 120000, 0.0), 800);
    assert_int_equal(eip_backoff_next(&b, t += 10, 0.0), 1600);
    eip_backoff_reset(&b);
    assert_int_equal(eip_backoff_next(&b, t += 10, 0.0), 800);
}

static void no_reset_period_and_many_failures(void **state)
{
    (void)state;
    eip_backoff b;
    eip_backoff_init(&b, 100, 1000, 0, EIP_JITTER_FULL, 0);
    int64_t t = 0;
    for (int i = 0; i < 100000; i++)
        assert_true(eip_backoff_next(&b, t += 1000000, 0.9999999) <= 1000);
    /* reset_ms <= 0: a long healthy period forgets nothing */
    assert_int_equal(eip_backoff_next(&b, t += INT64_C(1) << 40, 0.9999999), 1000);
    assert_int_equal(b.failures, 62);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(step_doubles_to_cap),
        cmocka_unit_test(full_jitter_range),
        cmocka_unit_test(up_jitter_range),
        cmocka_unit_test(doubles_to_cap_without_jitter),
        cmocka_unit_test(jitter_within_bounds),
        cmocka_unit_test(resets_after_two_healthy_minutes),
        cmocka_unit_test(no_reset_period_and_many_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
