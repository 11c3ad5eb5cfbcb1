/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_UNIT_TEST_TMP_H
#define EIP_TESTS_UNIT_TEST_TMP_H

#include <stddef.h>

/* "<dir>/<leaf>" in out, dir being $TMPDIR or the system's temporary directory
 * (P_tmpdir): tests name no directory of their own. 0, or -E2BIG when it does not
 * fit (the caller fails the test). */
int eip_test_tmp_path(char *out, size_t cap, const char *leaf);

#endif
