/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_FLOW_INTERNAL_H
#define EIP_ALIYUN_FLOW_INTERNAL_H

#include <stdint.h>

/* Internal to aliyun/ (and its unit tests and fuzzers): the cloud's own flow
 * control rules. The backoff itself is common/backoff.h (EIP_JITTER_FULL);
 * what is here is what Alibaba Cloud adds to it: x-acs-retry-after and the
 * documented per-action limits. Pure functions, so that tests drive them;
 * aliyun/client.c puts the delays on uv timers and the limits in
 * common/tokenbucket.h buckets. */

/* The longest a server-requested wait is honoured: 5 minutes. */
#define ALIYUN_RETRY_AFTER_MAX_MS 300000

/* A retry's wait with the server's say: backoff_ms (the caller's common/backoff
 * delay), raised to retry_after_ms when that is >= 0 (the x-acs-retry-after
 * header), which counts up to ALIYUN_RETRY_AFTER_MAX_MS. */
int64_t aliyun_retry_after_floor_ms(int64_t backoff_ms, int64_t retry_after_ms);

/* The x-acs-retry-after header (milliseconds, digits only); -1 when absent or invalid. */
int64_t aliyun_parse_retry_after_ms(const char *value);

/* The documented per-account limit of an OpenAPI action, calls per window of
 * window_s seconds (the EIP quota page: AllocateEipAddress 120 a minute,
 * DescribeEipAddresses 600, ...). 0 and the limit, or -ENOENT when none is
 * documented (docs/simulators.md lists the sources). */
int aliyun_action_limit(const char *action, double *calls, double *window_s);

/* A token bucket that never exceeds `calls` in any sliding window of window_s
 * seconds: burst + rate * window <= calls, with a tenth of the window's calls as
 * the burst. scale multiplies calls (an account with a raised quota). */
void aliyun_window_bucket(double calls, double window_s, double scale, double *rate, double *burst);

#endif
