/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_ERR_H
#define EIP_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* The one error-message helper: formats a one-line human reason into a caller's
 * err buffer. err NULL or errlen 0: nothing is written. A reason longer than the
 * buffer is cut (a message, not data: the only place where cutting is allowed):
 * at a character boundary, ending with "..." when the buffer holds at least 4
 * bytes, so that a cut message is still valid UTF-8 (Events, conditions and
 * JSON answers carry these). */
void eip_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, for wrappers that take a format and their own arguments. */
void eip_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
