/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_PCT_H
#define EIP_COMMON_PCT_H

#include <stddef.h>

#include "common/buf.h"

/* The one RFC 3986 percent-encoder of the project: every byte but the unreserved
 * characters (A-Z a-z 0-9 - _ . ~) becomes %XX with upper-case hex. That is what
 * both Alibaba Cloud signatures require and what a Kubernetes query value needs. */

/* Appends the encoding of s[0..len) to out. 0, or the eip_buf error (-E2BIG,
 * -ENOMEM; out is then left as it was). */
int eip_pct_encode(eip_buf *out, const char *s, size_t len);

/* Encodes the NUL-terminated s into dst (cap bytes, NUL-terminated). The length,
 * or -E2BIG when it does not fit (dst is then ""). */
int eip_pct_encode_to(char *dst, size_t cap, const char *s);

#endif
