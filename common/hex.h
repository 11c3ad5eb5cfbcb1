/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_HEX_H
#define EIP_COMMON_HEX_H

#include <stddef.h>

/* Lower-case hex of the n bytes at src into dst, which has room for 2*n+1
 * bytes; always NUL-terminated. (Digests for signing, random nonces.) */
void eip_hex_encode(char *dst, const void *src, size_t n);

#endif
