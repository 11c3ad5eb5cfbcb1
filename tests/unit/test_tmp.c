/* SPDX-License-Identifier: MIT */
#include "test_tmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int eip_test_tmp_path(char *out, size_t cap, const char *leaf)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = P_tmpdir;
    int n = snprintf(out, cap, "%s/%s", dir, leaf);
    return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
}
