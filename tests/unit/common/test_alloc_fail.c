/* SPDX-License-Identifier: MIT */
/* common/ when allocations fail: every call that allocates says -ENOMEM and
 * leaves its output as it was (ASan's leak check runs at exit). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/pct.h"
#include "test_alloc.h"
#include "test_tmp.h"

/* The harness itself: a test that cannot fail is not a test. */
static void harness_counts_and_fails(void **state)
{
    (void)state;
    test_alloc_fail(1, false);
    void *a = malloc(8);
    void *b = malloc(8);
    char *c = strdup("x");
    long n = test_alloc_count();
    test_alloc_off();
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    assert_int_equal(n, 3);
    free(a);
    free(c);
    test_alloc_fail(0, true);
    a = calloc(1, 8);
    b = realloc(NULL, 8);
    c = strndup("xy", 1);
    bool failed = test_alloc_failed();
    test_alloc_off();
    assert_null(a);
    assert_null(b);
    assert_null(c);
    assert_true(failed);
}

static void buf_keeps_its_content(void **state)
{
    (void)state;
    eip_buf b;
    eip_buf_init(&b, 1 << 20);
    assert_int_equal(eip_buf_appends(&b, "abc"), 0);
    char big[1024];
    memset(big, 'x', sizeof(big));
    test_alloc_fail(0, false);
    int r = eip_buf_append(&b, big, sizeof(big));
    test_alloc_off();
    assert_int_equal(r, -ENOMEM);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    test_alloc_fail(0, false);
    r = eip_buf_appendf(&b, "%.*s", (int)sizeof(big), big);
    test_alloc_off();
    assert_int_equal(r, -ENOMEM);
    assert_string_equal(b.data, "abc");
    eip_buf_free(&b);

    /* An empty buffer stays empty (data NULL). */
    eip_buf_init(&b, 64);
    test_alloc_fail(0, false);
    assert_int_equal(eip_buf_appends(&b, "abc"), -ENOMEM);
    test_alloc_off();
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void pct_encode_rolls_back(void **state)
{
    (void)state;
    eip_buf b;
    eip_buf_init(&b, 1 << 20);
    assert_int_equal(eip_buf_appends(&b, "k="), 0);
    char v[600];
    memset(v, ' ', sizeof(v)); /* each byte becomes %20: the buffer must grow */
    test_alloc_fail(0, false);
    int r = eip_pct_encode(&b, v, sizeof(v));
    test_alloc_off();
    assert_int_equal(r, -ENOMEM);
    assert_string_equal(b.data, "k=");
    assert_int_equal(eip_pct_encode(&b, v, sizeof(v)), 0);
    assert_int_equal(b.len, 2 + 3 * sizeof(v));
    eip_buf_free(&b);
}

static void read_file_says_enomem(void **state)
{
    (void)state;
    char path[256];
    assert_int_equal(eip_test_tmp_path(path, sizeof(path), "eip-alloc-fail-XXXXXX"), 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char data[10000];
    memset(data, 'k', sizeof(data));
    assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
    close(fd);
    /* Every allocation in turn, until the read needs no more. */
    for (long n = 0;; n++) {
        char *out = (char *)(uintptr_t)1;
        size_t len = 0;
        test_alloc_fail(n, false);
        int r = eip_read_file(path, sizeof(data), &out, &len);
        bool failed = test_alloc_failed();
        test_alloc_off();
        if (!failed) {
            assert_int_equal(r, 0);
            assert_int_equal(len, sizeof(data));
            free(out);
            break;
        }
        assert_int_equal(r, -ENOMEM);
        assert_null(out);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(harness_counts_and_fails),
        cmocka_unit_test(buf_keeps_its_content),
        cmocka_unit_test(pct_encode_rolls_back),
        cmocka_unit_test(read_file_says_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
