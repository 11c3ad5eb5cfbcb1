/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/pct.h"
#include "common/str.h"

static void rfc3986_unreserved_kept(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(eip_pct_encode_to(out, sizeof(out), "AZaz09-_.~"), 10);
    assert_string_equal(out, "AZaz09-_.~");
    assert_int_equal(eip_pct_encode_to(out, sizeof(out), "a b+c=d/e*f%g"), 25);
    assert_string_equal(out, "a%20b%2Bc%3Dd%2Fe%2Af%25g");
    assert_int_equal(eip_pct_encode_to(out, sizeof(out), "\xc3\xa9"), 6);
    assert_string_equal(out, "%C3%A9");
}

static void too_small_is_e2big(void **state)
{
    (void)state;
    char out[4] = "xyz";
    assert_int_equal(eip_pct_encode_to(out, sizeof(out), "abc"), 3);
    assert_int_equal(eip_pct_encode_to(out, sizeof(out), "abcd"), -E2BIG);
    assert_string_equal(out, "");
    assert_int_equal(eip_pct_encode_to(out, sizeof(out), "a b"), -E2BIG);
    assert_int_equal(eip_pct_encode_to(out, 0, "a"), -E2BIG);
}

static void buffer_form_leaves_nothing_on_error(void **state)
{
    (void)state;
    eip_buf b;
    eip_buf_init(&b, 8);
    assert_int_equal(eip_pct_encode(&b, "ab", 2), 0);
    assert_int_equal(eip_pct_encode(&b, "= =", 3), -E2BIG);
    assert_string_equal(b.data, "ab");
    assert_int_equal(b.len, 2);
    assert_int_equal(eip_pct_encode(&b, "\0x", 2), 0); /* bytes, NUL included */
    assert_memory_equal(b.data, "ab%00x", 6);
    eip_buf_free(&b);
}

static void seterr_formats_and_cuts(void **state)
{
    (void)state;
    char e[8];
    eip_seterr(e, sizeof(e), "%s %d", "abc", 42);
    assert_string_equal(e, "abc 42");
    eip_seterr(e, sizeof(e), "%s", "a long message");
    assert_string_equal(e, "a lo...");
    eip_seterr(NULL, 0, "%s", "nothing");
    eip_seterr(e, 0, "%s", "nothing");
    assert_string_equal(e, "a lo...");
}

/* A message cut to its buffer ends with "..." and never splits a character. */
static void seterr_cuts_whole_characters(void **state)
{
    (void)state;
    char b[8];
    eip_seterr(b, sizeof(b), "%s", "abcdefghij");
    assert_string_equal(b, "abcd...");
    eip_seterr(b, sizeof(b), "%s",
               "abc\xc3\xa9"
               "fgh"); /* é would be split at 4 */
    assert_string_equal(b, "abc...");
    eip_seterr(b, sizeof(b), "%s",
               "ab\xc3\xa9"
               "fghi"); /* é ends at 4: kept */
    assert_string_equal(b, "ab\xc3\xa9...");
    eip_seterr(b, sizeof(b), "%s", "ab\xe2\x82\xac\xe2\x82\xac"); /* € split at 4 */
    assert_string_equal(b, "ab...");
    eip_seterr(b, sizeof(b), "%s", "a\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"); /* € ends at 4 */
    assert_string_equal(b, "a\xe2\x82\xac...");
    eip_seterr(b, sizeof(b), "%s", "short");
    assert_string_equal(b, "short");
    char t[3];
    eip_seterr(t, sizeof(t), "%s", "a\xc3\xa9"); /* no room for "...": cut only */
    assert_string_equal(t, "a");
    eip_seterr(t, sizeof(t), "%s", "abc");
    assert_string_equal(t, "ab");
    char f[4];
    eip_seterr(f, sizeof(f), "%s", "abcd");
    assert_string_equal(f, "...");
    eip_seterr(NULL, 0, "%s", "nothing written, no crash");
}

static void strcpy_refuses_to_cut(void **state)
{
    (void)state;
    char d[4] = "xyz";
    assert_int_equal(eip_strcpy(d, sizeof(d), "abc"), 0);
    assert_string_equal(d, "abc");
    assert_int_equal(eip_strcpy(d, sizeof(d), "abcd"), -E2BIG);
    assert_string_equal(d, "");
    assert_int_equal(eip_strcpy(d, sizeof(d), NULL), 0);
    assert_string_equal(d, "");
    assert_int_equal(eip_strcpy(d, 0, "a"), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3986_unreserved_kept),
        cmocka_unit_test(too_small_is_e2big),
        cmocka_unit_test(buffer_form_leaves_nothing_on_error),
        cmocka_unit_test(seterr_formats_and_cuts),
        cmocka_unit_test(seterr_cuts_whole_characters),
        cmocka_unit_test(strcpy_refuses_to_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
