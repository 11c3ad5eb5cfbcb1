/* SPDX-License-Identifier: MIT */
#include "k8s/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int k8s_base64_decode(const char *in, size_t in_len, char **out, size_t *out_len)
{
    char *dst = malloc(in_len / 4 * 3 + 4);
    if (!dst)
        return -ENOMEM;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    int pad = 0;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(dst);
            return -EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (pad > 2 || bits >= 6) {
        free(dst);
        return -EINVAL;
    }
    dst[n] = '\0';
    *out = dst;
    if (out_len)
        *out_len = n;
    return 0;
}
