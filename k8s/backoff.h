/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_BACKOFF_H
#define EIP_K8S_BACKOFF_H

#include <stdint.h>

/* Exponential backoff with jitter and a reset after a healthy period, as
 * client-go's reflector uses (800 ms doubling to 30 s, jitter 1.0, reset when
 * no failure happened for 2 minutes). Pure arithmetic on caller-given times so
 * it can be tested without a clock. */
typedef struct k8s_backoff {
    int64_t initial_ms;   /* 800 */
    int64_t max_ms;       /* 30000 */
    int64_t reset_ms;     /* 120000: a failure after this long healthy starts over */
    double jitter;        /* 1.0: wait is d + rand[0,jitter)*d, capped at max_ms */
    int64_t next_ms;      /* the base duration of the next failure */
    int64_t last_fail_ms; /* monotonic time of the last failure, -1 none */
} k8s_backoff;

/* Zero values take the defaults above. */
void k8s_backoff_init(k8s_backoff *b, int64_t initial_ms, int64_t max_ms, int64_t reset_ms,
                      double jitter);
/* A failure at now_ms: returns how long to wait. rand01 in [0,1) drives the
 * jitter (pass k8s_backoff_rand() in production). */
int64_t k8s_backoff_next(k8s_backoff *b, int64_t now_ms, double rand01);
/* Forget all failures (e.g. after an explicit success the caller trusts). */
void k8s_backoff_reset(k8s_backoff *b);
/* Uniform [0,1) from the kernel CSPRNG. */
double k8s_backoff_rand(void);

#endif
