/* SPDX-License-Identifier: MIT */
#include "agent/notify.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/err.h"

struct agent_notify {
    uv_timer_t watchdog;
    uint64_t watchdog_usec;
    bool enabled; /* $NOTIFY_SOCKET is set */
    bool stopping;
    char status[256];
};

int agent_notify_new(agent_notify **out, uv_loop_t *loop)
{
    agent_notify *n = calloc(1, sizeof(*n));
    *out = n;
    if (!n)
        return -ENOMEM;
    const char *sock = getenv("NOTIFY_SOCKET");
    n->enabled = sock && *sock;
    uint64_t usec = 0;
    int r = sd_watchdog_enabled(0, &usec);
    if (r > 0 && usec > 0)
        n->watchdog_usec = usec;
    else if (r < 0)
        log_warn("systemd watchdog: bad WATCHDOG_USEC/WATCHDOG_PID: %s", strerror(-r));
    uv_timer_init(loop, &n->watchdog); /* always 0 (libuv) */
    n->watchdog.data = n;
    uv_unref((uv_handle_t *)&n->watchdog); /* pings never keep the loop alive */
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void agent_notify_free(agent_notify *n)
{
    if (!n)
        return;
    uv_close((uv_handle_t *)&n->watchdog, on_closed);
}

static void send_state(agent_notify *n, const char *state)
{
    if (!n->enabled)
        return;
    int r = sd_notify(0, state);
    if (r < 0)
        log_debug("sd_notify: %s", strerror(-r));
}

static void on_watchdog(uv_timer_t *t)
{
    send_state(t->data, "WATCHDOG=1");
}

static void set_status(agent_notify *n, const char *prefix, const char *status)
{
    char msg[512];
    /* STATUS= is a message for people: cut to fit */
    if (status)
        eip_seterr(n->status, sizeof(n->status), "%s", status);
    eip_seterr(msg, sizeof(msg), "%s%sSTATUS=%s", prefix, *prefix ? "\n" : "", n->status);
    send_state(n, msg);
}

void agent_notify_ready(agent_notify *n, const char *status)
{
    set_status(n, "READY=1", status);
    if (n->watchdog_usec && !n->stopping) {
        /* Half the period, as sd_watchdog_enabled(3) advises; at least 1 ms. */
        uint64_t ms = n->watchdog_usec / 2000;
        if (ms == 0)
            ms = 1;
        send_state(n, "WATCHDOG=1");
        int e = uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
        if (e)
            log_error("systemd watchdog: cannot arm the timer: %s", uv_strerror(e));
        else
            log_debug("systemd watchdog: pinging every %llu ms", (unsigned long long)ms);
    }
}

void agent_notify_status(agent_notify *n, const char *status)
{
    if (n->stopping || strcmp(status, n->status) == 0)
        return;
    set_status(n, "", status);
}

void agent_notify_stopping(agent_notify *n, const char *status)
{
    if (n->stopping)
        return;
    n->stopping = true;
    uv_timer_stop(&n->watchdog);
    set_status(n, "STOPPING=1", status);
}

uint64_t agent_notify_watchdog_usec(const agent_notify *n)
{
    return n->watchdog_usec;
}
