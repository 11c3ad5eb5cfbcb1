/* SPDX-License-Identifier: MIT */
#include "common/str.h"

#include <errno.h>
#include <string.h>

int eip_strcpy(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return -E2BIG;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        dst[0] = '\0';
        return -E2BIG;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}
