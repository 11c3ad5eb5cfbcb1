/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_TOKENBUCKET_H
#define EIP_COMMON_TOKENBUCKET_H

#include <stdint.h>

/* A token bucket: `rate` tokens per second, at most `burst` stored. Pure
 * arithmetic on a caller-given monotonic clock (milliseconds), so tests drive
 * time; callers put the returned waits on uv timers. Used for the per-action
 * cloud limits (aliyun/), the Kubernetes client QPS and the event spam filter
 * (k8s/). */
typedef struct eip_tokenbucket {
    double rate;   /* tokens per second; <= 0 means unlimited */
    double burst;  /* capacity, >= 1 */
    double tokens; /* currently stored */
    int64_t last_ms;
} eip_tokenbucket;

/* Starts full. burst < 1 (or NaN) is taken as 1. */
void eip_tokenbucket_init(eip_tokenbucket *b, double rate, double burst, int64_t now_ms);
/* Takes one token: 0 when one was there (consumed). Otherwise nothing is taken
 * and the result is the milliseconds (>= 1) until one will be, rounded up so
 * that the token is there when a timer of that length fires. A clock that goes
 * back adds nothing. */
int64_t eip_tokenbucket_take(eip_tokenbucket *b, int64_t now_ms);

#endif
