/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/timeutil.h"

int eip_log_max_level = EIP_LOG_INFO;
static enum eip_log_format log_format = EIP_LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void eip_log_set_level(enum eip_log_level level)
{
    eip_log_max_level = (int)level;
}

void eip_log_set_format(enum eip_log_format format)
{
    log_format = format;
}

const char *eip_log_level_name(enum eip_log_level level)
{
    if ((unsigned)level > EIP_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

int eip_log_level_parse(const char *s, enum eip_log_level *out)
{
    if (!s)
        return -EINVAL;
    for (unsigned i = 0; i <= EIP_LOG_DEBUG; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum eip_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = EIP_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

int eip_log_format_parse(const char *s, enum eip_log_format *out)
{
    if (s && strcasecmp(s, "text") == 0)
        *out = EIP_LOG_TEXT;
    else if (s && strcasecmp(s, "json") == 0)
        *out = EIP_LOG_JSON;
    else
        return -EINVAL;
    return 0;
}

/* JSON string escaping for the message; control bytes become \u00XX. What
 * does not fit in cap is cut: a message, cutting it is fine. */
static size_t json_escape(char *dst, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 7 < cap; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20) {
            memcpy(dst + o, "\\u00", 4);
            dst[o + 4] = hex[c >> 4];
            dst[o + 5] = hex[c & 15];
            o += 6;
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
    return o;
}

void eip_log_write(enum eip_log_level level, const char *fmt, ...)
{
    char msg[4096];
    char ts[40] = ""; /* stays empty if the clock cannot be formatted */
    va_list ap;

    va_start(ap, fmt);
    eip_vseterr(msg, sizeof(msg), fmt, ap); /* a message: cut as log.h says */
    va_end(ap);
    eip_time_format_rfc3339_ms(ts, sizeof(ts), eip_time_now_ms());

    if (log_format == EIP_LOG_JSON) {
        char esc[sizeof(msg) * 2];
        json_escape(esc, sizeof(esc), msg);
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                eip_log_level_name(level), esc);
    } else {
        /* One record per line even if a message carries a newline. */
        for (char *p = msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        fprintf(stderr, "%s %-5s %s\n", ts, eip_log_level_name(level), msg);
    }
}
