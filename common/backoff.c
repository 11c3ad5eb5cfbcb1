/* SPDX-License-Identifier: MIT */
#include "common/backoff.h"

#include "common/rand.h"

/* The largest double below 1: rand01 >= 1 would reach past the step. */
#define BELOW_ONE 0x1.fffffffffffffp-1

int64_t eip_backoff_step_ms(int64_t base_ms, int64_t cap_ms, int attempt)
{
    int64_t base = base_ms > 0 ? base_ms : 1;
    int64_t cap = cap_ms > 0 ? cap_ms : base;
    int64_t step = base;
    for (int i = 1; i < attempt && step < cap; i++)
        step = step > cap / 2 ? cap : step * 2;
    return step < cap ? step : cap;
}

int64_t eip_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, int attempt, eip_jitter mode,
                             double factor, double rand01)
{
    int64_t step = eip_backoff_step_ms(base_ms, cap_ms, attempt);
    if (!(rand01 >= 0)) /* also NaN */
        rand01 = 0;
    if (rand01 >= 1)
        rand01 = BELOW_ONE;
    if (mode == EIP_JITTER_FULL) {
        int64_t d = (int64_t)(rand01 * ((double)step + 1.0));
        return d < step ? d : step;
    }
    int64_t cap = cap_ms > 0 ? cap_ms : step;
    double extra = factor > 0 ? factor * rand01 * (double)step : 0;
    if (extra >= (double)(cap - step))
        return cap;
    return step + (int64_t)extra;
}

double eip_backoff_rand01(void)
{
    return (double)eip_random_below(1u << 30) / (double)(1u << 30);
}

void eip_backoff_init(eip_backoff *b, int64_t base_ms, int64_t cap_ms, int64_t reset_ms,
                      eip_jitter mode, double factor)
{
    b->base_ms = base_ms;
    b->cap_ms = cap_ms;
    b->reset_ms = reset_ms;
    b->mode = mode;
    b->factor = factor;
    eip_backoff_reset(b);
}

void eip_backoff_reset(eip_backoff *b)
{
    b->failures = 0;
    b->last_fail_ms = -1;
}

int64_t eip_backoff_next(eip_backoff *b, int64_t now_ms, double rand01)
{
    if (b->reset_ms > 0 && b->last_fail_ms >= 0 && now_ms - b->last_fail_ms >= b->reset_ms)
        b->failures = 0;
    b->last_fail_ms = now_ms;
    if (b->failures < 62) /* past 2^62 every step is the cap anyway */
        b->failures++;
    return eip_backoff_delay_ms(b->base_ms, b->cap_ms, b->failures, b->mode, b->factor, rand01);
}
