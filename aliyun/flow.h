/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_FLOW_H
#define EIP_ALIYUN_FLOW_H

#include <stdbool.h>
#include <stdint.h>

/* Flow control for cloud requests: capped exponential backoff with full jitter
 * and parsing of x-acs-retry-after. Pure functions, so that tests drive them;
 * aliyun/client.c puts the delays on uv timers (and takes its per-action
 * rate limit from common/tokenbucket.h). */

typedef struct aliyun_backoff {
    int64_t base_ms;  /* first retry waits up to base_ms */
    int64_t cap_ms;   /* no single wait is longer (unless the server asks) */
    int max_attempts; /* attempts in all, the first one included */
} aliyun_backoff;

/* The longest a server-requested wait is honoured: 5 minutes. */
#define ALIYUN_RETRY_AFTER_MAX_MS 300000

/* Delay before retry number `retry` (1 = the first retry): a uniform value in
 * [0, min(cap, base * 2^(retry-1))] (common/backoff.h, EIP_JITTER_FULL), drawn
 * from rnd(2^30), rnd(n) being uniform in [0, n) (NULL: the CSPRNG).
 * When retry_after_ms >= 0 (the server's x-acs-retry-after), the delay is at least
 * that, at most ALIYUN_RETRY_AFTER_MAX_MS. */
int64_t aliyun_backoff_delay_ms(const aliyun_backoff *b, int retry, int64_t retry_after_ms,
                                uint64_t (*rnd)(uint64_t n));

/* The documented per-account limit of an OpenAPI action, calls per window of
 * window_s seconds (the EIP quota page: AllocateEipAddress 120 a minute,
 * DescribeEipAddresses 600, ...). 0 and the limit, or -ENOENT when none is
 * documented (docs/simulators.md lists the sources). */
int aliyun_action_limit(const char *action, double *calls, double *window_s);

/* A token bucket that never exceeds `calls` in any sliding window of window_s
 * seconds: burst + rate * window <= calls, with a tenth of the window's calls as
 * the burst. scale multiplies calls (an account with a raised quota). */
void aliyun_window_bucket(double calls, double window_s, double scale, double *rate, double *burst);

/* The x-acs-retry-after header (milliseconds, digits only); -1 when absent or invalid. */
int64_t aliyun_parse_retry_after_ms(const char *value);

#endif
