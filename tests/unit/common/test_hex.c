/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/hex.h"

static void encodes_lower_case(void **state)
{
    (void)state;
    char out[16];
    memset(out, 'x', sizeof(out));
    eip_hex_encode(out, "\x00\x01\x7f\x80\xab\xff", 6);
    assert_string_equal(out, "00017f80abff");
}

static void empty_input_is_empty_string(void **state)
{
    (void)state;
    char out[1] = {'x'};
    eip_hex_encode(out, "", 0);
    assert_string_equal(out, "");
}

static void writes_exactly_two_n_plus_one(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'x', sizeof(out));
    eip_hex_encode(out, "\xde\xad", 2);
    assert_memory_equal(out, "dead\0xxx", 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_lower_case),
        cmocka_unit_test(empty_input_is_empty_string),
        cmocka_unit_test(writes_exactly_two_n_plus_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
