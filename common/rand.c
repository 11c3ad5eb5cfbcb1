/* SPDX-License-Identifier: MIT */
#include "common/rand.h"

#include <errno.h>
#include <sys/random.h>

#include "common/hex.h"

int eip_random_bytes(void *dst, size_t len)
{
    unsigned char *p = dst;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

uint64_t eip_random_below(uint64_t n)
{
    uint64_t v = 0;
    if (n <= 1 || eip_random_bytes(&v, sizeof(v)) < 0)
        return 0;
    /* Rejection sampling keeps the result uniform. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    while (v >= limit)
        if (eip_random_bytes(&v, sizeof(v)) < 0)
            return 0;
    return v % n;
}

int eip_random_hex(char *dst, size_t cap, size_t len)
{
    unsigned char raw[64];
    if (len > sizeof(raw) || cap < 2 * len + 1)
        return -EINVAL;
    int r = eip_random_bytes(raw, len);
    if (r)
        return r;
    eip_hex_encode(dst, raw, len);
    return 0;
}
