/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_FLOW_H
#define EIP_ALIYUN_FLOW_H

#include <stdbool.h>
#include <stdint.h>

/* Flow control for cloud requests: capped exponential backoff with full jitter,
 * a token bucket (one per action), parsing of x-acs-retry-after. Pure functions
 * of an explicit clock so that tests drive time; aliyun/client.c puts them on
 * uv timers. */

typedef struct aliyun_backoff {
    int64_t base_ms;  /* first retry waits up to base_ms */
    int64_t cap_ms;   /* no single wait is longer (unless the server asks) */
    int max_attempts; /* attempts in all, the first one included */
} aliyun_backoff;

/* The longest a server-requested wait is honoured: 5 minutes. */
#define ALIYUN_RETRY_AFTER_MAX_MS 300000

/* Delay before retry number `retry` (1 = the first retry): a uniform value in
 * [0, min(cap, base * 2^(retry-1))] drawn with rnd(n) in [0, n) (NULL: the CSPRNG).
 * When retry_after_ms >= 0 (the server's x-acs-retry-after), the delay is at least
 * that, at most ALIYUN_RETRY_AFTER_MAX_MS. */
int64_t aliyun_backoff_delay_ms(const aliyun_backoff *b, int retry, int64_t retry_after_ms,
                                uint64_t (*rnd)(uint64_t n));

/* The x-acs-retry-after header (milliseconds, digits only); -1 when absent or invalid. */
int64_t aliyun_parse_retry_after_ms(const char *value);

/* Token bucket: `rate` tokens per second, at most `burst` stored. */
typedef struct aliyun_bucket {
    double rate;
    double burst;
    double tokens;
    int64_t last_ms;
} aliyun_bucket;

/* Starts full. rate <= 0 means unlimited. burst < 1 is taken as 1. */
void aliyun_bucket_init(aliyun_bucket *b, double rate, double burst, int64_t now_ms);
/* Takes a token: 0 when one was there (consumed), else the milliseconds (>= 1)
 * until one will be, and nothing is consumed. */
int64_t aliyun_bucket_take(aliyun_bucket *b, int64_t now_ms);

#endif
