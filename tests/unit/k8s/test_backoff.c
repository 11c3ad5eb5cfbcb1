/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "k8s/backoff.h"

static void doubles_to_cap_without_jitter(void **state)
{
    (void)state;
    k8s_backoff b;
    k8s_backoff_init(&b, 0, 0, 0, 1.0);
    int64_t t = 1000;
    static const int64_t want[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(k8s_backoff_next(&b, t, 0.0), want[i]);
        t += 1000; /* failures close together: no reset */
    }
}

static void jitter_within_bounds(void **state)
{
    (void)state;
    k8s_backoff b;
    k8s_backoff_init(&b, 800, 30000, 120000, 1.0);
    /* jitter 1.0: d + [0, d) */
    assert_int_equal(k8s_backoff_next(&b, 0, 0.5), 1200);
    assert_int_equal(k8s_backoff_next(&b, 10, 0.999), 3198);
    /* jitter never passes the cap */
    for (int i = 0; i < 10; i++)
        assert_true(k8s_backoff_next(&b, 20 + i, 0.99) <= 30000);
    for (int i = 0; i < 1000; i++) {
        int64_t w = k8s_backoff_next(&b, 100 + i, k8s_backoff_rand());
        assert_true(w >= 30000 && w <= 30000);
    }
    k8s_backoff_init(&b, 800, 30000, 120000, 1.0);
    for (int i = 0; i < 1000; i++) {
        double r = k8s_backoff_rand();
        assert_true(r >= 0.0 && r < 1.0);
        k8s_backoff_reset(&b);
        int64_t w = k8s_backoff_next(&b, 0, r);
        assert_true(w >= 800 && w < 1600);
    }
}

static void resets_after_two_healthy_minutes(void **state)
{
    (void)state;
    k8s_backoff b;
    k8s_backoff_init(&b, 800, 30000, 120000, 1.0);
    int64_t t = 0;
    for (int i = 0; i < 6; i++)
        k8s_backoff_next(&b, t += 100, 0.0);
    assert_int_equal(k8s_backoff_next(&b, t += 100, 0.0), 30000);
    /* 119.9 s later: still backing off at the cap */
    assert_int_equal(k8s_backoff_next(&b, t += 119900, 0.0), 30000);
    /* two minutes without a failure: back to the start */
    assert_int_equal(k8s_backoff_next(&b, t += 120000, 0.0), 800);
    assert_int_equal(k8s_backoff_next(&b, t += 10, 0.0), 1600);
    k8s_backoff_reset(&b);
    assert_int_equal(k8s_backoff_next(&b, t += 10, 0.0), 800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doubles_to_cap_without_jitter),
        cmocka_unit_test(jitter_within_bounds),
        cmocka_unit_test(resets_after_two_healthy_minutes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
