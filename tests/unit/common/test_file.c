/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/file.h"
#include "test_tmp.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    if (eip_test_tmp_path(f->dir, sizeof(f->dir), "eip-test-file-XXXXXX") || !mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/f", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void reads_whole_file(void **state)
{
    fixture *f = *state;
    write_bytes(f->path, "token\n", 6);
    char *data = NULL;
    size_t len = 99;
    assert_int_equal(eip_read_file(f->path, 64, &data, &len), 0);
    assert_int_equal(len, 6);
    assert_string_equal(data, "token\n");
    free(data);
    /* len is optional */
    assert_int_equal(eip_read_file(f->path, 64, &data, NULL), 0);
    assert_string_equal(data, "token\n");
    free(data);
}

static void exactly_max_fits_one_more_does_not(void **state)
{
    fixture *f = *state;
    char big[10000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    write_bytes(f->path, big, sizeof(big));
    char *data = NULL;
    size_t len = 0;
    /* larger than the 4 KiB first guess when the size is not used: still whole */
    assert_int_equal(eip_read_file(f->path, sizeof(big), &data, &len), 0);
    assert_int_equal(len, sizeof(big));
    assert_memory_equal(data, big, sizeof(big));
    assert_int_equal(data[len], '\0');
    free(data);
    data = (char *)1;
    assert_int_equal(eip_read_file(f->path, sizeof(big) - 1, &data, &len), -EFBIG);
    assert_null(data);
    assert_int_equal(eip_read_file(f->path, 0, &data, &len), -EFBIG);
    assert_null(data);
}

static void empty_file(void **state)
{
    fixture *f = *state;
    write_bytes(f->path, "", 0);
    char *data = NULL;
    size_t len = 99;
    assert_int_equal(eip_read_file(f->path, 0, &data, &len), 0);
    assert_non_null(data);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
}

static void binary_content_is_kept(void **state)
{
    fixture *f = *state;
    write_bytes(f->path, "a\0b", 3);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(eip_read_file(f->path, 3, &data, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 4);
    free(data);
}

static void missing_and_unreadable(void **state)
{
    fixture *f = *state;
    char *data = (char *)1;
    size_t len = 0;
    assert_int_equal(eip_read_file(f->path, 64, &data, &len), -ENOENT);
    assert_null(data);
    assert_int_equal(eip_read_file(f->dir, 64, &data, &len), -EISDIR);
    assert_null(data);
    if (geteuid() != 0) { /* root reads anything */
        write_bytes(f->path, "x", 1);
        chmod(f->path, 0);
        assert_int_equal(eip_read_file(f->path, 64, &data, &len), -EACCES);
        assert_null(data);
    }
}

static void size_unknown_in_advance(void **state)
{
    (void)state;
    /* /proc files say size 0 and hold more: read until EOF all the same */
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(eip_read_file("/proc/self/status", 1 << 20, &data, &len), 0);
    assert_true(len > 0);
    assert_int_equal(strlen(data), len);
    assert_non_null(strstr(data, "Name:"));
    free(data);
    assert_int_equal(eip_read_file("/proc/self/status", 8, &data, &len), -EFBIG);
    assert_null(data);
    /* a character device without end: the limit stops it */
    assert_int_equal(eip_read_file("/dev/zero", 100000, &data, &len), -EFBIG);
    assert_null(data);
    assert_int_equal(eip_read_file("/dev/null", 100, &data, &len), 0);
    assert_int_equal(len, 0);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reads_whole_file, setup, teardown),
        cmocka_unit_test_setup_teardown(exactly_max_fits_one_more_does_not, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(binary_content_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_and_unreadable, setup, teardown),
        cmocka_unit_test(size_unknown_in_advance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
