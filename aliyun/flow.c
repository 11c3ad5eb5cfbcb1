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

void aliyun_bucket_init(aliyun_bucket *b, double rate, double burst, int64_t now_ms)
{
    b->rate = rate;
    b->burst = burst < 1 ? 1 : burst;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

int64_t aliyun_bucket_take(aliyun_bucket *b, int64_t now_ms)
{
    if (b->rate <= 0)
        return 0;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    /* rounded up, so that the token is there when the timer fires */
    return (int64_t)((1.0 - b->tokens) * 1000.0 / b->rate) + 1;
}
