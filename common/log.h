/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_LOG_H
#define EIP_COMMON_LOG_H

/* Process-wide logger to stderr. The level is the one mutable global of the
 * project (systemd CODING_STYLE). Library folders (http/, k8s/, aliyun/) log at
 * debug only; agent/ logs once, with context, at the level it decides. */

enum eip_log_level { EIP_LOG_ERROR = 0, EIP_LOG_WARN, EIP_LOG_INFO, EIP_LOG_DEBUG };
enum eip_log_format { EIP_LOG_TEXT = 0, EIP_LOG_JSON };

extern int eip_log_max_level;

void eip_log_set_level(enum eip_log_level level);
void eip_log_set_format(enum eip_log_format format);
/* "error", "warn"/"warning", "info", "debug" -> 0 and *out; else -EINVAL. */
int eip_log_level_parse(const char *s, enum eip_log_level *out);
/* "text" or "json" -> 0 and *out; else -EINVAL. */
int eip_log_format_parse(const char *s, enum eip_log_format *out);
const char *eip_log_level_name(enum eip_log_level level);

/* Writes one line: timestamp, level, message (text), or one JSON object (json).
 * The message is never longer than 4 KiB; longer ones are cut (with "...", at a
 * character boundary). */
void eip_log_write(enum eip_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define eip_log(lvl, ...)                                                                          \
    do {                                                                                           \
        if ((int)(lvl) <= eip_log_max_level)                                                       \
            eip_log_write((lvl), __VA_ARGS__);                                                     \
    } while (0)
#define log_error(...) eip_log(EIP_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) eip_log(EIP_LOG_WARN, __VA_ARGS__)
#define log_info(...) eip_log(EIP_LOG_INFO, __VA_ARGS__)
#define log_debug(...) eip_log(EIP_LOG_DEBUG, __VA_ARGS__)

#endif
