/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_TIMER_H
#define EIP_COMMON_TIMER_H

#include <stdint.h>
#include <uv.h>

/* uv_timer_start for a timer whose owner has nothing better to do when it is
 * refused: libuv refuses (UV_EINVAL) only a handle that is being closed or a
 * NULL callback, both the owner's own mistake. The refusal is logged as an
 * error naming what the timer was for, and returned for callers that can do
 * more (answer a request, end a batch). */
int eip_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t ms, const char *what);

#endif
