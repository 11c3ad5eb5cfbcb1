/* SPDX-License-Identifier: MIT */
#include "common/hex.h"

void eip_hex_encode(char *dst, const void *src, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 15];
    }
    dst[2 * n] = '\0';
}
