/* SPDX-License-Identifier: MIT */
#include "common/pct.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* The encoding of one byte into e: its length, 1 or 3. Both encoders below use it. */
static size_t pct_byte(unsigned char c, char e[3])
{
    static const char hex[] = "0123456789ABCDEF";
    if (unreserved(c)) {
        e[0] = (char)c;
        return 1;
    }
    e[0] = '%';
    e[1] = hex[c >> 4];
    e[2] = hex[c & 15];
    return 3;
}

int eip_pct_encode(eip_buf *out, const char *s, size_t len)
{
    size_t start = out->len;
    int r = 0;
    for (size_t i = 0; i < len && !r; i++) {
        char e[3];
        size_t n = pct_byte((unsigned char)s[i], e);
        r = eip_buf_append(out, e, n);
    }
    if (r && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return r;
}

int eip_pct_encode_to(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        char e[3];
        size_t k = pct_byte((unsigned char)*s, e);
        if (n + k >= cap || n + k > (size_t)INT_MAX) {
            if (cap)
                dst[0] = '\0';
            return -E2BIG;
        }
        memcpy(dst + n, e, k);
        n += k;
    }
    if (n >= cap)
        return -E2BIG; /* cap 0 */
    dst[n] = '\0';
    return (int)n;
}
