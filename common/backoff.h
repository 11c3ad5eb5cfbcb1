/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_BACKOFF_H
#define EIP_COMMON_BACKOFF_H

#include <stdint.h>

/* Capped exponential backoff with jitter. Pure arithmetic: the random draw and
 * the clock are arguments, so tests pin them; callers put the delays on uv
 * timers. */

typedef enum eip_jitter {
    /* uniform in [0, step] ("full jitter"): the cloud retries of aliyun/ */
    EIP_JITTER_FULL,
    /* step + step * factor * [0, 1), at most cap: client-go's wait.Backoff with
     * Jitter = factor, the reflector of k8s/ */
    EIP_JITTER_UP,
} eip_jitter;

/* The exponential step of attempt n (1 = the first retry): min(cap, base * 2^(n-1)).
 * base <= 0 is taken as 1, cap <= 0 as base; attempt < 1 as 1. Never overflows. */
int64_t eip_backoff_step_ms(int64_t base_ms, int64_t cap_ms, int attempt);

/* The wait before attempt n: its step jittered by mode (factor is the jitter of
 * EIP_JITTER_UP, ignored by EIP_JITTER_FULL). rand01 is a uniform draw in [0, 1)
 * (eip_backoff_rand01() in production; outside the range it is clamped). The result
 * is in [0, step] for FULL and in [step, cap] for UP. */
int64_t eip_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, int attempt, eip_jitter mode,
                             double factor, double rand01);

/* Uniform in [0, 1) from the kernel CSPRNG (30 bits). */
double eip_backoff_rand01(void);

/* Consecutive failures, forgotten after a healthy period (client-go's reflector
 * backoff manager). Zero-initialisable after eip_backoff_init. */
typedef struct eip_backoff {
    int64_t base_ms;
    int64_t cap_ms;
    int64_t reset_ms; /* a failure after this long without one starts over; <= 0: never */
    eip_jitter mode;
    double factor;
    int failures;         /* consecutive, since the last reset */
    int64_t last_fail_ms; /* time of the last failure, -1 none */
} eip_backoff;

void eip_backoff_init(eip_backoff *b, int64_t base_ms, int64_t cap_ms, int64_t reset_ms,
                      eip_jitter mode, double factor);
/* A failure at now_ms (monotonic): returns how long to wait before trying again. */
int64_t eip_backoff_next(eip_backoff *b, int64_t now_ms, double rand01);
/* Forget all failures (e.g. after a success the caller trusts). */
void eip_backoff_reset(eip_backoff *b);

#endif
