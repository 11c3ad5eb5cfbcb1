/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_JSON_H
#define EIP_COMMON_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Serializes j (an object or an array) with jansson's dump flags into *out,
 * NUL-terminated, for the caller to free; *len (may be NULL) without the NUL.
 * 0, -ENOMEM, -E2BIG (more than max bytes) or -EINVAL (neither an object nor an
 * array); on failure *out is NULL.
 *
 * The one way to serialize JSON: jansson's json_dumps (2.14, and upstream)
 * ignores a failed write of an object key, so an allocation failing mid-dump
 * hands back a string with that key missing instead of NULL, and half an
 * object would go to a server. Here every write is checked. */
int eip_json_dump(const json_t *j, size_t flags, size_t max, char **out, size_t *len);

/* Parses len bytes of buf with json_loadb's flags: 0 and *out (a new
 * reference), -ENOMEM, or -EINVAL (not JSON; err, which may be NULL, says
 * where and why). On failure *out is NULL.
 *
 * The one way to parse JSON: jansson's lexer drops a character it has no
 * memory to keep and parses on, so json_loadb can hand back a value with a key,
 * a string or a number cut short ("eip-123" read as "eip-12"). Here a parse
 * during which one of jansson's allocations failed is -ENOMEM, whatever it
 * returned: jansson's allocator is pointed at malloc through a counter of
 * failures (process-wide, as jansson's allocator is; set here on first use,
 * and again whenever someone else set another). */
int eip_json_loadb(const char *buf, size_t len, size_t flags, json_t **out, json_error_t *err);

#endif
