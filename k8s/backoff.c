/* SPDX-License-Identifier: MIT */
#include "k8s/backoff.h"

#include "common/rand.h"

void k8s_backoff_init(k8s_backoff *b, int64_t initial_ms, int64_t max_ms, int64_t reset_ms,
                      double jitter)
{
    b->initial_ms = initial_ms > 0 ? initial_ms : 800;
    b->max_ms = max_ms > 0 ? max_ms : 30000;
    b->reset_ms = reset_ms > 0 ? reset_ms : 120000;
    b->jitter = jitter >= 0 ? jitter : 1.0;
    k8s_backoff_reset(b);
}

void k8s_backoff_reset(k8s_backoff *b)
{
    b->next_ms = b->initial_ms;
    b->last_fail_ms = -1;
}

int64_t k8s_backoff_next(k8s_backoff *b, int64_t now_ms, double rand01)
{
    if (b->last_fail_ms >= 0 && now_ms - b->last_fail_ms >= b->reset_ms)
        b->next_ms = b->initial_ms;
    b->last_fail_ms = now_ms;
    int64_t d = b->next_ms;
    if (rand01 < 0)
        rand01 = 0;
    if (rand01 >= 1)
        rand01 = 0.999999;
    int64_t wait = d + (int64_t)(b->jitter * rand01 * (double)d);
    if (wait > b->max_ms)
        wait = b->max_ms;
    b->next_ms = d * 2 > b->max_ms ? b->max_ms : d * 2;
    return wait;
}

double k8s_backoff_rand(void)
{
    return (double)eip_random_below(1u << 30) / (double)(1u << 30);
}
