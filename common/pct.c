/* SPDX-License-Identifier: MIT */
#include "common/pct.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static const char hex[] = "0123456789ABCDEF";

int eip_pct_encode(eip_buf *out, const char *s, size_t len)
{
    size_t start = out->len;
    int r = 0;
    for (size_t i = 0; i < len && !r; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            r = eip_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            r = eip_buf_append(out, e, 3);
        }
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
        unsigned char c = (unsigned char)*s;
        size_t need = unreserved(c) ? 1 : 3;
        if (n + need >= cap) {
            if (cap)
                dst[0] = '\0';
            return -E2BIG;
        }
        if (need == 1) {
            dst[n++] = (char)c;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
    }
    if (n >= cap)
        return -E2BIG;
    dst[n] = '\0';
    return (int)n;
}
