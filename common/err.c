/* SPDX-License-Identifier: MIT */
#include "common/err.h"

#include <stdio.h>
#include <string.h>

void eip_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (!err || !errlen)
        return;
    int n = vsnprintf(err, errlen, fmt, ap);
    if (n < 0) {
        err[0] = '\0';
        return;
    }
    if ((size_t)n < errlen)
        return;
    /* Cut after the last whole character before `at` (the bytes before the
     * terminator vsnprintf wrote are the message's own), then mark the cut. */
    size_t at = errlen >= 4 ? errlen - 4 : errlen - 1;
    if (at > 0) {
        size_t l = at - 1; /* where the last character before at starts */
        while (l > 0 && at - l < 4 && ((unsigned char)err[l] & 0xc0) == 0x80)
            l--;
        unsigned char c = (unsigned char)err[l];
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (l + len > at)
            at = l; /* it would be split: drop it */
    }
    if (errlen >= 4)
        memcpy(err + at, "...", 4);
    else
        err[at] = '\0';
}

void eip_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eip_vseterr(err, errlen, fmt, ap);
    va_end(ap);
}
