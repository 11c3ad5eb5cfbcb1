/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_TIMEUTIL_H
#define EIP_COMMON_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall clock, milliseconds since the epoch. */
int64_t eip_time_now_ms(void);
/* Monotonic clock, milliseconds (for durations; never goes back). */
int64_t eip_time_mono_ms(void);

/* "2026-11-26T03:54:45Z" (cap >= 21). Returns the length, or 0 if cap is short. */
size_t eip_time_format_rfc3339(char *dst, size_t cap, time_t t);
/* "2026-11-26T03:54:45.123Z" (cap >= 25). */
size_t eip_time_format_rfc3339_ms(char *dst, size_t cap, int64_t ms);
/* "2026-11-26T03:54:45.123456Z" (cap >= 28; Kubernetes MicroTime) from
 * wall-clock microseconds. Returns the length, or 0 if cap is short. */
size_t eip_time_format_rfc3339_us(char *dst, size_t cap, int64_t usec);
/* Parses RFC 3339 / ISO 8601 UTC or with offset, optional fraction
 * ("2026-11-26T03:54:45Z", "...45.5+08:00"). 0 and *out (epoch seconds), or -EINVAL. */
int eip_time_parse_rfc3339(const char *s, time_t *out);
/* Go-style duration: "300ms", "10s", "10m", "1h30m", "2h". 0 and *out_ms, or -EINVAL
 * (empty, no unit, negative, unknown unit, overflow). */
int eip_duration_parse_ms(const char *s, int64_t *out_ms);

#endif
