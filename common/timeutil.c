/* SPDX-License-Identifier: MIT */
#include "common/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int64_t eip_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t eip_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t eip_time_format_rfc3339(char *dst, size_t cap, time_t t)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    return strftime(dst, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "YYYY-MM-DDTHH:MM:SS.<digits>Z" from a count of 1/per_sec second units. */
static size_t format_frac(char *dst, size_t cap, int64_t units, int64_t per_sec, int ndigits)
{
    struct tm tm;
    time_t t = (time_t)(units / per_sec);
    if (!gmtime_r(&t, &tm))
        return 0;
    size_t n = strftime(dst, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || n + (size_t)ndigits + 3 > cap) /* '.', digits, 'Z', NUL */
        return 0;
    int64_t frac = units % per_sec;
    dst[n] = '.';
    for (int i = ndigits; i >= 1; i--) {
        dst[n + (size_t)i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    n += (size_t)ndigits + 1;
    dst[n++] = 'Z';
    dst[n] = '\0';
    return n;
}

size_t eip_time_format_rfc3339_ms(char *dst, size_t cap, int64_t ms)
{
    return format_frac(dst, cap, ms, 1000, 3);
}

size_t eip_time_format_rfc3339_us(char *dst, size_t cap, int64_t usec)
{
    return format_frac(dst, cap, usec, 1000000, 6);
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int eip_time_parse_rfc3339(const char *s, time_t *out)
{
    int Y, M, D, h, m, sec;
    if (!s || strlen(s) < 20)
        return -EINVAL;
    if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return -EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -EINVAL;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        off = (oh * 3600L + om * 60L) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = t - off;
    return 0;
}

int eip_duration_parse_ms(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -EINVAL;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return -EINVAL;
            v = v * 10 + (*p++ - '0');
        }
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000;
            p++;
        } else {
            return -EINVAL;
        }
        if (v > (INT64_MAX - total) / unit)
            return -EINVAL;
        total += v * unit;
    }
    *out_ms = total;
    return 0;
}
