/* SPDX-License-Identifier: MIT */
/* common/json.h: serializing and parsing JSON never hands back half of it.
 * jansson drops a character it has no memory to keep, both when it writes an
 * object key (json_dumps) and when its lexer reads a token (json_loadb), and
 * goes on as if nothing happened; with each allocation failing in turn,
 * eip_json_dump and eip_json_loadb give either the whole thing or -ENOMEM.
 * What plain jansson does in the same runs is printed (not asserted: a later
 * jansson may fix it). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/json.h"
#include "test_alloc.h"

/* Keys, strings and numbers longer than jansson's first buffers (16 bytes). */
static const char doc[] =
    "{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"games-production\","
    "\"resourceVersion\":\"1234567890123456789\",\"annotations\":{"
    "\"network.alibabacloud.com/allocated-eip-id\":\"eip-bp1abcdefghijklmnopqrst\"}},"
    "\"status\":{\"podIP\":\"10.123.234.245\",\"restartCount\":12345678901234,"
    "\"conditions\":[{\"type\":\"EIPBound\",\"status\":\"True\",\"reason\":\"Bound\"}]}}";

static void *wrapped_malloc(size_t n)
{
    return malloc(n); /* --wrap: counted, failed when asked */
}

static void wrapped_free(void *p)
{
    free(p);
}

static void dump_whole_or_nothing(void **state)
{
    (void)state;
    json_set_alloc_funcs(wrapped_malloc, wrapped_free);
    json_t *ref = json_loads(doc, 0, NULL);
    assert_non_null(ref);
    char *want = NULL;
    size_t want_len = 0;
    assert_int_equal(eip_json_dump(ref, JSON_COMPACT, 1 << 20, &want, &want_len), 0);
    assert_int_equal(want_len, strlen(want));
    long n = 0, refused = 0, plain_cut = 0;
    for (;; n++) {
        char *out = (char *)(uintptr_t)1;
        size_t len = 7;
        test_alloc_fail(n, false);
        int r = eip_json_dump(ref, JSON_COMPACT, 1 << 20, &out, &len);
        bool failed = test_alloc_failed();
        test_alloc_fail(n, false);
        char *plain = json_dumps(ref, JSON_COMPACT);
        test_alloc_off();
        if (plain && strcmp(plain, want) != 0)
            plain_cut++;
        free(plain);
        if (!failed) {
            assert_int_equal(r, 0);
            assert_string_equal(out, want);
            free(out);
            break;
        }
        if (r == 0) {
            assert_string_equal(out, want);
            assert_int_equal(len, want_len);
            free(out);
        } else {
            assert_int_equal(r, -ENOMEM);
            assert_null(out);
            refused++;
        }
    }
    print_message("dump: %ld allocations, %ld refused; json_dumps gave a cut string %ld times\n", n,
                  refused, plain_cut);
    assert_true(refused > 0);
    /* the maximum is kept, and only objects and arrays are documents */
    char *out = NULL;
    assert_int_equal(eip_json_dump(ref, JSON_COMPACT, want_len - 1, &out, NULL), -E2BIG);
    assert_null(out);
    json_t *s = json_string("x");
    assert_int_equal(eip_json_dump(s, JSON_COMPACT | JSON_ENCODE_ANY, 64, &out, NULL), -EINVAL);
    json_decref(s);
    free(want);
    json_decref(ref);
}

static void load_whole_or_nothing(void **state)
{
    (void)state;
    json_t *ref = NULL;
    assert_int_equal(eip_json_loadb(doc, sizeof(doc) - 1, 0, &ref, NULL), 0);
    long n = 0, refused = 0, plain_cut = 0;
    for (;; n++) {
        json_t *out = (json_t *)(uintptr_t)1;
        json_error_t err;
        test_alloc_fail(n, false);
        int r = eip_json_loadb(doc, sizeof(doc) - 1, 0, &out, &err);
        bool failed = test_alloc_failed();
        test_alloc_fail(n, false);
        json_t *plain = json_loadb(doc, sizeof(doc) - 1, 0, NULL);
        test_alloc_off();
        if (plain && !json_equal(plain, ref))
            plain_cut++;
        json_decref(plain);
        if (!failed) {
            assert_int_equal(r, 0);
            assert_true(json_equal(out, ref));
            json_decref(out);
            break;
        }
        if (r == 0) {
            assert_true(json_equal(out, ref));
            json_decref(out);
        } else {
            assert_int_equal(r, -ENOMEM);
            assert_null(out);
            assert_string_equal(err.text, "out of memory");
            refused++;
        }
    }
    print_message("load: %ld allocations, %ld refused; json_loadb gave a cut value %ld times\n", n,
                  refused, plain_cut);
    assert_true(refused > 0);
    /* not JSON is not out of memory */
    json_t *out = NULL;
    json_error_t err;
    assert_int_equal(eip_json_loadb("{\"a\":", 5, 0, &out, &err), -EINVAL);
    assert_null(out);
    assert_true(err.text[0] != '\0');
    json_decref(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dump_whole_or_nothing),
        cmocka_unit_test(load_whole_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
