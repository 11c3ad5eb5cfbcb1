/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/tokenbucket.h"

static void starts_full_then_waits(void **state)
{
    (void)state;
    eip_tokenbucket b;
    eip_tokenbucket_init(&b, 2, 3, 0);
    assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    int64_t w = eip_tokenbucket_take(&b, 0);
    assert_true(w >= 500 && w <= 501); /* 2/s: one token each 500 ms */
    /* a refused take consumes nothing: asking again says the same */
    assert_int_equal(eip_tokenbucket_take(&b, 0), w);
}

static void refill_arithmetic(void **state)
{
    (void)state;
    eip_tokenbucket b;
    eip_tokenbucket_init(&b, 10, 1, 1000);
    assert_int_equal(eip_tokenbucket_take(&b, 1000), 0);
    int64_t w = eip_tokenbucket_take(&b, 1000);
    assert_true(w >= 100 && w <= 101);
    /* half a token after 50 ms: 50 ms to go */
    w = eip_tokenbucket_take(&b, 1050);
    assert_true(w >= 50 && w <= 51);
    assert_int_equal(eip_tokenbucket_take(&b, 1100), 0);
    assert_true(eip_tokenbucket_take(&b, 1100) > 0);

    /* 20 qps, burst 30 (client-go's defaults shape) */
    eip_tokenbucket_init(&b, 20, 30, 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    w = eip_tokenbucket_take(&b, 0);
    assert_true(w >= 50 && w <= 51);
    assert_true(eip_tokenbucket_take(&b, 49) > 0);
    assert_int_equal(eip_tokenbucket_take(&b, 50), 0);
}

static void waiting_what_it_says_is_enough(void **state)
{
    (void)state;
    /* 100 takes at 2/s from a full bucket of 3, each after the advised wait:
     * 97 refills of 500 ms = 48.5 s, the rounding up adds at most 1 ms each */
    eip_tokenbucket b;
    eip_tokenbucket_init(&b, 2, 3, 0);
    int64_t now = 0;
    for (int i = 0; i < 100; i++) {
        int64_t d;
        int tries = 0;
        while ((d = eip_tokenbucket_take(&b, now)) > 0) {
            now += d;
            tries++;
        }
        assert_true(tries <= 1); /* the advised wait is never too short */
    }
    assert_true(now >= 48500 && now <= 48600);
}

static void idle_stores_at_most_burst(void **state)
{
    (void)state;
    eip_tokenbucket b;
    eip_tokenbucket_init(&b, 20, 30, 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    int granted = 0;
    while (eip_tokenbucket_take(&b, 100000) == 0)
        granted++;
    assert_int_equal(granted, 30);
}

static void clock_going_back_adds_nothing(void **state)
{
    (void)state;
    eip_tokenbucket b;
    eip_tokenbucket_init(&b, 10, 1, 5000);
    assert_int_equal(eip_tokenbucket_take(&b, 5000), 0);
    assert_true(eip_tokenbucket_take(&b, 1000) > 0);
    /* refill counts from the latest time seen, 5000 */
    assert_true(eip_tokenbucket_take(&b, 5050) > 0);
    assert_int_equal(eip_tokenbucket_take(&b, 5100), 0);
}

static void unlimited_and_small_burst(void **state)
{
    (void)state;
    eip_tokenbucket b;
    eip_tokenbucket_init(&b, 0, 1, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    eip_tokenbucket_init(&b, -1, 1, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    /* burst below 1 (and NaN) is one token */
    eip_tokenbucket_init(&b, 1, 0.2, 0);
    assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    assert_true(eip_tokenbucket_take(&b, 0) > 0);
    eip_tokenbucket_init(&b, 1, NAN, 0);
    assert_true(b.burst == 1.0);
    assert_int_equal(eip_tokenbucket_take(&b, 0), 0);
    assert_true(eip_tokenbucket_take(&b, 0) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_full_then_waits),
        cmocka_unit_test(refill_arithmetic),
        cmocka_unit_test(waiting_what_it_says_is_enough),
        cmocka_unit_test(idle_stores_at_most_burst),
        cmocka_unit_test(clock_going_back_adds_nothing),
        cmocka_unit_test(unlimited_and_small_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
