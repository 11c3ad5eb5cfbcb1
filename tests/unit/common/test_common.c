/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/timeutil.h"

static void buf_respects_max(void **state)
{
    (void)state;
    eip_buf b;
    eip_buf_init(&b, 8);
    assert_int_equal(eip_buf_append(&b, "abcd", 4), 0);
    assert_int_equal(eip_buf_appendf(&b, "%d", 1234), 0);
    assert_string_equal(b.data, "abcd1234");
    assert_int_equal(eip_buf_append(&b, "x", 1), -E2BIG);
    assert_string_equal(b.data, "abcd1234"); /* unchanged on failure */
    eip_buf_consume(&b, 3);
    assert_string_equal(b.data, "d1234");
    assert_int_equal(b.len, 5);
    char *s = eip_buf_steal(&b);
    assert_string_equal(s, "d1234");
    assert_null(b.data);
    free(s);
    eip_buf_free(&b);
    eip_buf_free(NULL);
}

static void buf_appendf_too_big(void **state)
{
    (void)state;
    eip_buf b;
    eip_buf_init(&b, 4);
    assert_int_equal(eip_buf_appendf(&b, "%s", "12345"), -E2BIG);
    assert_int_equal(b.len, 0);
    eip_buf_free(&b);
}

static void time_roundtrip(void **state)
{
    (void)state;
    time_t t;
    char out[32];
    assert_int_equal(eip_time_parse_rfc3339("2016-02-23T12:46:24Z", &t), 0);
    assert_int_equal((long long)t, 1456231584LL);
    assert_true(eip_time_format_rfc3339(out, sizeof(out), t) > 0);
    assert_string_equal(out, "2016-02-23T12:46:24Z");
    assert_int_equal(eip_time_parse_rfc3339("2016-02-23T20:46:24.123+08:00", &t), 0);
    assert_int_equal((long long)t, 1456231584LL);
    assert_int_equal(eip_time_parse_rfc3339("2016-02-23 12:46:24", &t), -EINVAL);
    assert_int_equal(eip_time_parse_rfc3339("2016-13-23T12:46:24Z", &t), -EINVAL);
    assert_int_equal(eip_time_parse_rfc3339("2016-02-23T12:46:24Zjunk", &t), -EINVAL);
    assert_int_equal(eip_time_parse_rfc3339(NULL, &t), -EINVAL);
    assert_true(eip_time_format_rfc3339_ms(out, sizeof(out), 1456231584007LL) > 0);
    assert_string_equal(out, "2016-02-23T12:46:24.007Z");
    /* Kubernetes MicroTime */
    assert_int_equal(eip_time_format_rfc3339_us(out, sizeof(out), 1456231584000042LL), 27);
    assert_string_equal(out, "2016-02-23T12:46:24.000042Z");
    assert_int_equal(eip_time_format_rfc3339_us(out, 28, 1456231584999999LL), 27);
    assert_string_equal(out, "2016-02-23T12:46:24.999999Z");
    assert_int_equal(eip_time_format_rfc3339_us(out, 27, 1456231584999999LL), 0);
    assert_int_equal(eip_time_format_rfc3339_ms(out, 25, 1456231584007LL), 24);
    assert_int_equal(eip_time_format_rfc3339_ms(out, 24, 1456231584007LL), 0);
}

static void durations(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(eip_duration_parse_ms("10m", &ms), 0);
    assert_int_equal(ms, 600000);
    assert_int_equal(eip_duration_parse_ms("1h30m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(eip_duration_parse_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(eip_duration_parse_ms("", &ms), -EINVAL);
    assert_int_equal(eip_duration_parse_ms("10", &ms), -EINVAL);
    assert_int_equal(eip_duration_parse_ms("-5m", &ms), -EINVAL);
    assert_int_equal(eip_duration_parse_ms("5d", &ms), -EINVAL);
    assert_int_equal(eip_duration_parse_ms("99999999999999999999h", &ms), -EINVAL);
}

static void random_values(void **state)
{
    (void)state;
    char a[33], b[33];
    assert_int_equal(eip_random_hex(a, sizeof(a), 16), 0);
    assert_int_equal(eip_random_hex(b, sizeof(b), 16), 0);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    assert_int_equal(eip_random_hex(a, 10, 16), -EINVAL);
    for (int i = 0; i < 1000; i++)
        assert_true(eip_random_below(7) < 7);
    assert_int_equal(eip_random_below(1), 0);
}

static void log_parse(void **state)
{
    (void)state;
    enum eip_log_level l;
    enum eip_log_format f;
    assert_int_equal(eip_log_level_parse("DEBUG", &l), 0);
    assert_int_equal(l, EIP_LOG_DEBUG);
    assert_int_equal(eip_log_level_parse("warning", &l), 0);
    assert_int_equal(l, EIP_LOG_WARN);
    assert_int_equal(eip_log_level_parse("verbose", &l), -EINVAL);
    assert_int_equal(eip_log_format_parse("json", &f), 0);
    assert_int_equal(f, EIP_LOG_JSON);
    assert_int_equal(eip_log_format_parse("xml", &f), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_max), cmocka_unit_test(buf_appendf_too_big),
        cmocka_unit_test(time_roundtrip),   cmocka_unit_test(durations),
        cmocka_unit_test(random_values),    cmocka_unit_test(log_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
