/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_CHECK_H
#define EIP_AGENT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/config.h"
#include "http/client.h"

/* Dependency checks for --check-config: a registry of named asynchronous
 * checks, all started at once on the loop, each with a timeout, reported in
 * registration order as "ok   <name>: <detail>" / "FAIL <name>: <reason>".
 *
 * Adding a check (e.g. agent/check_aliyun.c): write
 *   int check_aliyun_register(check_registry *reg)
 *   { return check_registry_add(reg, "aliyun", start, cancel, 0, NULL); }
 * declare it below and list it in check_register_all() (agent/check.c). main.c
 * never changes. */

typedef struct check_registry check_registry;
/* One running check; valid from start until check_done() or cancel returns. */
typedef struct check_run check_run;

/* What a check may use. Borrowed; valid while the checks run. */
struct check_env {
    uv_loop_t *loop;
    const struct agent_config *cfg;
    http_client *http; /* NULL when the client could not be created */
};

/* Starts the check. It calls check_done(run, ...) exactly once, synchronously
 * or later from the loop. A negative errno means it could not start: it is
 * reported as failed and check_done must not be called. */
typedef int (*check_start_fn)(check_run *run, const struct check_env *env, void *arg);
/* The timeout passed first: stop everything the check started (cancel HTTP
 * requests, close handles). After this returns check_done must not be called.
 * May be NULL for checks that always finish synchronously. */
typedef void (*check_cancel_fn)(check_run *run, void *arg);

struct check_result {
    const char *name;
    bool ok;
    const char *detail; /* "" when none */
};
/* All checks are finished; results in registration order, valid during the call. */
typedef void (*check_report_cb)(const struct check_result *results, size_t n, void *arg);

/* 0 and *out, or -ENOMEM. */
int check_registry_new(check_registry **out);
/* NULL is a no-op. Must not be called while a run is in progress. */
void check_registry_free(check_registry *reg);
/* timeout_ms 0: the configuration's checkTimeoutMs. 0, -EEXIST (name taken) or -ENOMEM. */
int check_registry_add(check_registry *reg, const char *name, check_start_fn start,
                       check_cancel_fn cancel, unsigned timeout_ms, void *arg);
size_t check_registry_count(const check_registry *reg);

/* Starts every check. report is called once, from the loop, when all have
 * finished (with no checks: on the next loop iteration). 0 or -ENOMEM (then
 * report is never called), or -EBUSY while a run of this registry is in progress. */
int check_registry_run(check_registry *reg, const struct check_env *env, check_report_cb report,
                       void *arg);

/* Ends a check. detail: printf format (may be NULL). */
void check_done(check_run *run, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Per-run state a check may attach (for its cancel callback). */
void check_run_set_data(check_run *run, void *data);
void *check_run_data(const check_run *run);

/* Registers every built-in check, in order. 0 or the first error. */
int check_register_all(check_registry *reg);

/* Built-in checks. */
/* "listen": the configured listen address can be bound. */
int check_listen_register(check_registry *reg);
/* "aliyun": one signed DescribeEipAddresses (PageSize=1) and, where configured,
 * the instance metadata probe; names the credential source (agent/check_aliyun.c). */
int check_aliyun_register(check_registry *reg);
/* "kubernetes": GET /version and one LIST of this node's pods (agent/check_k8s.c). */
int check_k8s_register(check_registry *reg);

#endif
