/* SPDX-License-Identifier: MIT */
#include "common/timer.h"

#include "common/log.h"

int eip_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t ms, const char *what)
{
    int e = uv_timer_start(t, cb, ms, 0);
    if (e)
        log_error("cannot arm the %s timer: %s", what, uv_strerror(e));
    return e;
}
