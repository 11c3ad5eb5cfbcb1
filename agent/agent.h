/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_AGENT_H
#define EIP_AGENT_AGENT_H

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "agent/check.h"
#include "agent/config.h"
#include "http/client.h"

/* The agent: one context for everything that runs on the loop (the struct is
 * private to agent/, see agent/agent_internal.h). */
struct agent;

/* Builds the agent (metrics, readiness conditions, HTTP server with its routes,
 * HTTP client, signal handlers, sd_notify). Nothing listens yet. 0 or -errno
 * with a message in err; on failure *out is NULL and nothing is left open. */
int agent_new(struct agent **out, uv_loop_t *loop, struct agent_config *cfg,
              const struct agent_cli *cli, char *err, size_t errcap);
/* Listens on cfg->listen, logs the address and sends READY=1, then connects to
 * the API server and the cloud (with the eip controller enabled): a failure
 * there is logged, shown in /readyz and retried, never fatal. 0 or -errno
 * (-EADDRINUSE...) with a one-line message naming the address in err. */
int agent_start(struct agent *a, char *err, size_t errcap);
/* Registers cb to run once when the agent starts to stop (first SIGTERM), before
 * the HTTP client is freed: stop timers and watches, cancel requests, close
 * handles. Hooks run in reverse order of registration. 0 or -ENOSPC. */
int agent_add_stop_hook(struct agent *a, void (*cb)(struct agent *a, void *arg), void *arg);
/* Whether the agent is draining (for stop hooks and tests). */
bool agent_is_draining(const struct agent *a);
/* Begins the graceful drain (what SIGTERM does); a second call stops at once. */
void agent_stop(struct agent *a);
/* Closes whatever is still open and frees the agent once the loop has run the
 * close callbacks (run the loop after). NULL is a no-op. */
void agent_free(struct agent *a);

/* The port the server is bound to (after agent_start). */
int agent_port(const struct agent *a);
/* The process exit status once the loop has ended: 0 after a clean stop. */
int agent_exit_code(const struct agent *a);

/* --check-config: runs every registered check on a private loop and prints
 * the configuration summary and one line per check to out. Returns 0 when
 * every check passed, 1 otherwise. */
int agent_check_config(const struct agent_config *cfg, FILE *out);
/* The same with a caller-built registry (tests). */
int agent_run_checks(const struct agent_config *cfg, check_registry *reg, FILE *out);

#endif
