/* SPDX-License-Identifier: MIT */
#include "aliyun/flow.h"

#include "common/rand.h"

int64_t aliyun_backoff_delay_ms(const aliyun_backoff *b, int retry, int64_t retry_after_ms,
                                uint64_t (*rnd)(uint64_t n))
{
    if (!rnd)
        rnd = eip_random_below;
    int64_t base = b->base_ms > 0 ? b->base_ms : 1;
    int64_t cap = b->cap_ms > 0 ? b->cap_ms : base;
    int64_t ceil_ms = base;
    for (int i = 1; i < retry && ceil_ms < cap; i++)
        ceil_ms *= 2;
    if (ceil_ms > cap)
        ceil_ms = cap;
    int64_t d = (int64_t)rnd((uint64_t)ceil_ms + 1);
    if (retry_after_ms >= 0) {
        if (retry_after_ms > ALIYUN_RETRY_AFTER_MAX_MS)
            retry_after_ms = ALIYUN_RETRY_AFTER_MAX_MS;
        if (d < retry_after_ms)
            d = retry_after_ms;
    }
    return d;
}

int64_t aliyun_parse_retry_after_ms(const char *value)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (!*value)
        return -1;
    int64_t v = 0;
    for (; *value >= '0' && *value <= '9'; value++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*value - '0');
    }
    while (*value == ' ')
        value++;
    return *value ? -1 : v;
}
