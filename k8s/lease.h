/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_LEASE_H
#define EIP_K8S_LEASE_H

#include <stdbool.h>

#include "k8s/client.h"

/* Leader election on a coordination.k8s.io/v1 Lease with client-go's
 * semantics (leaderelection.LeaseLock):
 *  - a candidate GETs the Lease every retryPeriod (with jitter), creates it
 *    when absent, and takes it over when its holder is empty or the record has
 *    not changed for leaseDuration as measured by this process's MONOTONIC
 *    clock since it last saw the record change (never by comparing renewTime
 *    with the local wall clock: clocks differ between nodes);
 *  - taking over from another holder sets acquireTime and leaseTransitions+1;
 *  - the leader renews (PUT with the resourceVersion it read) every
 *    retryPeriod; when it could not renew for renewDeadline it stops leading;
 *  - on stop, a leader releases (ReleaseOnCancel): holderIdentity "",
 *    leaseDurationSeconds 1, so a successor takes over at once. */

typedef struct k8s_leader k8s_leader;

typedef struct k8s_leader_opts {
    k8s_client *client;          /* borrowed: outlives the elector */
    const char *namespace;       /* of the Lease */
    const char *name;            /* of the Lease */
    const char *identity;        /* this candidate, unique (e.g. pod name or hostname_pid) */
    long long lease_duration_ms; /* 0: 15 s */
    long long renew_deadline_ms; /* 0: 10 s (must be < lease duration) */
    long long retry_period_ms;   /* 0: 2 s */
    bool keep_on_stop;           /* true: do not release on stop */
    void (*on_started_leading)(k8s_leader *l, void *arg);
    void (*on_stopped_leading)(k8s_leader *l, void *arg);
    /* The observed holder changed (NULL or "" when none). May be NULL. */
    void (*on_new_leader)(k8s_leader *l, const char *identity, void *arg);
    /* A failed round (for the caller to log at its level). May be NULL. */
    void (*on_error)(k8s_leader *l, const char *what, k8s_result res, const char *detail,
                     void *arg);
    void *arg;
} k8s_leader_opts;

/* An elector, idle until k8s_leader_start(). Strings in opts are copied. 0 and
 * *out, or a negative errno with a one-line reason in err (-EINVAL without a
 * client, namespace, name or identity, or with a namespace or name longer than
 * 253 bytes; -ENOMEM); on failure nothing is left open. */
int k8s_leader_new(k8s_leader **out, const k8s_leader_opts *opts, char *err, size_t errlen);
/* Begins campaigning. 0, -EALREADY, or the libuv error of its timer. */
int k8s_leader_start(k8s_leader *l);
/* Stops campaigning. A leader releases the Lease (unless keep_on_stop) and
 * calls on_stopped_leading; done (may be NULL) is called when that is over
 * (possibly before this returns when there is nothing to release). */
void k8s_leader_stop(k8s_leader *l, void (*done)(k8s_leader *l, void *arg), void *arg);
/* Stops without releasing and frees (memory goes once the loop ran). NULL ok. */
void k8s_leader_free(k8s_leader *l);

bool k8s_leader_is_leader(const k8s_leader *l);
/* The holder last observed ("" when none). */
const char *k8s_leader_holder(const k8s_leader *l);
/* leaseTransitions last observed. */
long long k8s_leader_transitions(const k8s_leader *l);

#endif
