/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_ERR_H
#define EIP_COMMON_ERR_H

#include <stddef.h>

/* The one error-message helper: formats a one-line human reason into a caller's
 * err buffer. err NULL or errlen 0: nothing is written. A reason longer than the
 * buffer is cut (a message, not data: the only place where cutting is allowed). */
void eip_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
