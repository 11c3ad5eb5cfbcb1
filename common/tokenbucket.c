/* SPDX-License-Identifier: MIT */
#include "common/tokenbucket.h"

void eip_tokenbucket_init(eip_tokenbucket *b, double rate, double burst, int64_t now_ms)
{
    b->rate = rate;
    b->burst = burst >= 1 ? burst : 1;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

int64_t eip_tokenbucket_take(eip_tokenbucket *b, int64_t now_ms)
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
    int64_t wait = (int64_t)((1.0 - b->tokens) * 1000.0 / b->rate) + 1;
    return wait < 1 ? 1 : wait;
}
