/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_READINESS_H
#define EIP_AGENT_READINESS_H

#include <jansson.h>
#include <stdbool.h>

/* Named readiness conditions behind GET /readyz and sd_notify STATUS=. The
 * agent is ready when every registered condition is met. Components register
 * their condition at start (unmet, with the reason shown until it is met) and
 * set it as their state changes, e.g.
 *   readiness_add(r, READY_PODS_SYNCED, "pod list not synced yet");
 *   ...
 *   readiness_set(r, READY_PODS_SYNCED, true, NULL);
 *   readiness_set(r, READY_PODS_SYNCED, false, "watch lost: 410 Expired"); */

#define READY_PODS_SYNCED "pods-synced"
#define READY_CREDENTIALS_LOADED "credentials-loaded"

typedef struct readiness readiness;

/* Called after any change of the overall state or of a reason. */
typedef void (*readiness_change_cb)(readiness *r, void *arg);

/* 0 and *out, or -ENOMEM. */
int readiness_new(readiness **out);
/* NULL is a no-op. */
void readiness_free(readiness *r);
void readiness_set_observer(readiness *r, readiness_change_cb cb, void *arg);

/* Registers an unmet condition (name: short, kebab-case). Registering a name
 * twice is -EEXIST. 0, -EEXIST or -ENOMEM. */
int readiness_add(readiness *r, const char *name, const char *reason);
/* Sets a registered condition; reason (may be NULL) explains an unmet one.
 * 0, -ENOENT (not registered) or -ENOMEM. */
int readiness_set(readiness *r, const char *name, bool met, const char *reason);

bool readiness_ready(const readiness *r);
/* Whether one condition is met (false when unknown). */
bool readiness_is_met(const readiness *r, const char *name);
/* {"ready": bool, "reasons": ["<name>: <reason>", ...]} for the unmet ones, in
 * registration order. New reference; NULL on allocation failure. */
json_t *readiness_json(const readiness *r);
/* "ready" or "waiting for <name>, <name>" into dst (cut to cap). */
void readiness_summary(const readiness *r, char *dst, size_t cap);

#endif
