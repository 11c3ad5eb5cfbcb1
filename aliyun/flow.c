/* SPDX-License-Identifier: MIT */
#include "aliyun/flow.h"

#include "common/backoff.h"
#include "common/rand.h"

int64_t aliyun_backoff_delay_ms(const aliyun_backoff *b, int retry, int64_t retry_after_ms,
                                uint64_t (*rnd)(uint64_t n))
{
    if (!rnd)
        rnd = eip_random_below;
    double rand01 = (double)rnd(1u << 30) / (double)(1u << 30);
    int64_t d = eip_backoff_delay_ms(b->base_ms, b->cap_ms, retry, EIP_JITTER_FULL, 0, rand01);
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
