/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_STR_H
#define EIP_COMMON_STR_H

#include <stddef.h>

/* Copies the NUL-terminated src (NULL: "") into dst, cap bytes. 0, or -E2BIG
 * when it does not fit: dst is then "" (never a cut value that could pass for
 * another identifier). */
int eip_strcpy(char *dst, size_t cap, const char *src);

#endif
