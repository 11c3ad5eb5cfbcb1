/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_AGENT_H
#define EIP_AGENT_AGENT_H

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "agent/check.h"
#include "agent/config.h"
#include "agent/metrics.h"
#include "agent/notify.h"
#include "agent/readiness.h"
#include "http/client.h"
#include "http/server.h"

/* The agent: one context for everything that runs on the loop. Components of
 * agent/ (pod state machine, status API, GC...) are reached from here and get
 * here from their callbacks. */

enum agent_state {
    AGENT_STARTING, /* built, not listening yet */
    AGENT_RUNNING,  /* listening, READY=1 sent */
    AGENT_DRAINING, /* first SIGTERM/SIGINT: finishing in-flight work */
    AGENT_STOPPED,  /* every handle closed or closing; the loop ends */
};

struct agent {
    uv_loop_t *loop;
    struct agent_config *cfg;    /* borrowed; outlives the agent */
    const struct agent_cli *cli; /* borrowed; re-applied on SIGHUP */
    enum agent_state state;
    char listen_addr[64]; /* host:port actually bound (after agent_start) */

    http_server *server;
    http_client *http; /* NULL once draining started */
    metrics *metrics;
    metric_family *m_http_requests; /* eip_agent_http_requests_total{path,code} */
    readiness *ready;
    agent_notify *notify;

    struct {
        void (*cb)(struct agent *a, void *arg);
        void *arg;
    } stop_hooks[16];
    size_t n_stop_hooks;

    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain_timer;
    bool in_server_shutdown; /* inside http_server_shutdown() */
    bool drained;
    bool free_requested;
    unsigned open_handles; /* the agent's own handles not yet closed */
    int exit_code;
};

/* Builds the agent (metrics, readiness conditions, HTTP server with its routes,
 * HTTP client, signal handlers, sd_notify). Nothing listens yet. 0 or -errno
 * with a message in err; on failure *out is NULL and nothing is left open. */
int agent_new(struct agent **out, uv_loop_t *loop, struct agent_config *cfg,
              const struct agent_cli *cli, char *err, size_t errcap);
/* Listens on cfg->listen, logs the address and sends READY=1. 0 or -errno
 * (-EADDRINUSE...) with a one-line message naming the address in err. */
int agent_start(struct agent *a, char *err, size_t errcap);
/* Registers cb to run once when the agent starts to stop (first SIGTERM), before
 * the HTTP client is freed: stop timers and watches, cancel requests, close
 * handles. Hooks run in reverse order of registration. 0 or -ENOSPC. */
int agent_add_stop_hook(struct agent *a, void (*cb)(struct agent *a, void *arg), void *arg);
/* Begins the graceful drain (what SIGTERM does); a second call stops at once. */
void agent_stop(struct agent *a);
/* Closes whatever is still open and frees the agent once the loop has run the
 * close callbacks (run the loop after). NULL is a no-op. */
void agent_free(struct agent *a);

/* The port the server is bound to (after agent_start). */
int agent_port(const struct agent *a);

/* --check-config: runs every registered check on a private loop and prints
 * the configuration summary and one line per check to out. Returns 0 when
 * every check passed, 1 otherwise. */
int agent_check_config(const struct agent_config *cfg, FILE *out);
/* The same with a caller-built registry (tests). */
int agent_run_checks(const struct agent_config *cfg, check_registry *reg, FILE *out);

/* Registers GET /healthz, /readyz and /metrics on the agent's server. */
int agent_health_routes(struct agent *a);

#endif
