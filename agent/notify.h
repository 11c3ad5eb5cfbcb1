/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_NOTIFY_H
#define EIP_AGENT_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* systemd notification (sd_notify): READY=1, STATUS=, STOPPING=1, and
 * WATCHDOG=1 pings from a uv_timer every WATCHDOG_USEC/2, so a stuck loop stops
 * pinging and systemd restarts the service. Without $NOTIFY_SOCKET every call
 * is a cheap no-op. */

typedef struct agent_notify agent_notify;

/* 0 and *out, or -ENOMEM. Reads $NOTIFY_SOCKET / $WATCHDOG_USEC now (systemd's
 * protocol: they are the service manager's, not the agent's configuration). */
int agent_notify_new(agent_notify **out, uv_loop_t *loop);
/* Stops the watchdog timer and frees once libuv has closed it. NULL is a no-op. */
void agent_notify_free(agent_notify *n);

/* READY=1 with a STATUS=, and starts the watchdog pings if systemd asked for them. */
void agent_notify_ready(agent_notify *n, const char *status);
/* STATUS=<status>; repeated identical statuses are sent once. */
void agent_notify_status(agent_notify *n, const char *status);
/* STOPPING=1 with a STATUS=, and stops the watchdog pings. */
void agent_notify_stopping(agent_notify *n, const char *status);

/* Whether the watchdog is on, and its period in microseconds (0 when off). */
uint64_t agent_notify_watchdog_usec(const agent_notify *n);

#endif
