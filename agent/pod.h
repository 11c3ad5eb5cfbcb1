/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_POD_H
#define EIP_AGENT_POD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/annotations.h"
#include "aliyun/vpc.h"
#include "common/list.h"

/* One EIP pod of this node and its EIP lifecycle (DESIGN §3), internal to
 * agent/. A level-triggered machine: pod_kick() looks at what is known (the pod
 * object, the EIP as last described, what has been written back) and starts the
 * one next step; at most one step is in flight per pod, and its completion
 * kicks again. Every transition goes through one function (pod.c
 * pod_set_state) that logs it with pod, EIP, ENI and reason, counts it, and
 * answers the long-polls waiting on the pod.
 *
 * A "ghost" is an EIP whose pod is gone (found in the cloud by its tags, e.g.
 * deleted while the agent was down): the same machine releases it. */

struct controller;

enum pod_state {
    POD_WAITING,     /* no pod IP yet, a Static EIP held by another live pod, cloud not ready */
    POD_ALLOCATING,  /* Auto: finding the ENI, AllocateEipAddress */
    POD_ASSOCIATING, /* AssociateEipAddress, waiting for InUse, writing it on the pod */
    POD_BOUND,       /* InUse on the pod IP, annotations + condition + PodEIP written */
    POD_RELEASING,   /* the pod is going: unassociate, release (Auto+Follow) */
    POD_RELEASED,    /* done; the record goes when the pod object does */
    POD_FAILED,      /* reason + message; retried with capped backoff (not InvalidAnnotation) */
    POD_STATE_COUNT,
};

/* "Waiting", "Allocating", ... as in the status API and metrics. */
const char *pod_state_name(enum pod_state s);

/* What the cloud last said about the pod's EIP. */
struct eip_view {
    bool known;  /* described (or answered by an action) since the last change */
    bool exists; /* the cloud knows the AllocationId */
    char allocation_id[64];
    char address[64];
    char status[24];        /* Available, Associating, InUse, Unassociating, Releasing */
    char instance_id[64];   /* bound target (eni-...), "" when unbound */
    char instance_type[32]; /* NetworkInterface, EcsInstance, ... */
    char private_ip[64];    /* "" for a primary-IP binding */
    char bandwidth[16];
    char internet_charge_type[32];
    char isp[32];
    char resource_group_id[64];
    char bandwidth_package_id[64];
    char pool_id[64];
    char name[160];
    char tag_uid[64]; /* the eip-agent/pod-uid tag, "" when none */
    char tag_node[254];
};

/* The step in flight. */
enum pod_op {
    OP_NONE,
    OP_SLOT,        /* waiting for a cloud slot (maxConcurrentReconciles) */
    OP_ENI,         /* eni_resolve */
    OP_DESCRIBE,    /* eipwatch_describe */
    OP_ALLOCATE,    /* AllocateEipAddress */
    OP_TAG,         /* TagResources */
    OP_CBWP,        /* AddCommonBandwidthPackageIp */
    OP_ASSOCIATE,   /* AssociateEipAddress */
    OP_UNASSOCIATE, /* UnassociateEipAddress */
    OP_RELEASE,     /* ReleaseEipAddress */
    OP_HOLDER,      /* LIST pods by the IP holding a Static EIP */
    OP_HOLDER_ENI,  /* DescribeNetworkInterfaces: the primary IP of the holding ENI */
    OP_RECORD,      /* pods/status patch: annotations + condition */
    OP_PODEIP,      /* PodEIP create/update/status */
    OP_PODEIP_GET,  /* read the PodEIP (ghosts, stateful pods) */
    OP_PODEIP_DONE, /* delete the PodEIP (Follow) or set podLastSeen (kept) */
    OP_COND,        /* pods/status patch: condition False */
};

struct pod {
    eip_list_node node; /* in controller.pods */
    struct controller *ctl;
    char ns[254], name[254], uid[64];
    json_t *obj;   /* the pod as last seen (a reference), NULL for ghosts */
    bool ghost;    /* an EIP of a pod that is gone, found by its tags */
    bool gone;     /* the pod object is gone (DELETED, or a ghost) */
    bool deleting; /* deletionTimestamp, terminal phase, gone, or no longer asks */
    bool stateful; /* owner StatefulSet, a bare pod, or a customStatefulWorkloadKinds owner */

    eip_request req; /* valid when req_err.key[0] == 0 */
    eip_request_error req_err;
    bool reparse;          /* the annotations found no memory: read again (at the next retry) */
    bool invalid_reported; /* the InvalidAnnotation event for req_err went out */
    enum eip_alloc_type type;
    enum eip_release_strategy strategy; /* effective (stateful pods only; else Follow) */
    int64_t release_after_ms;
    char release_after[32];

    char pod_ip[64];
    int64_t ip_seen_mono; /* when the pod IP was first seen (bind duration) */
    char eni_id[64];
    bool eni_primary;
    struct eip_view eip;
    bool ours;               /* allocated for this pod uid (tag or this run): releasable */
    unsigned token_gen;      /* bumped when an EIP of ours vanished: a new ClientToken */
    bool tagged;             /* our tags are on the EIP for this pod */
    bool recorded;           /* annotations + condition True written for eip.allocation_id */
    bool podeip_written;     /* the PodEIP matches */
    bool podeip_read;        /* the PodEIP was read (ghosts) */
    bool podeip_done;        /* release: the PodEIP deleted (Follow) or marked seen (kept) */
    bool podeip_seen_set;    /* a ghost's PodEIP already has podLastSeen: leave it */
    bool podeip_keep;        /* the PodEIP says TTL/Never for this EIP: do not release */
    bool cond_false_written; /* condition False written since the last True */
    bool released_event;     /* EIPReleased sent */
    bool holder_live;        /* the last holder check found a live pod on the IP */
    bool vanished;           /* a write found the pod gone or replaced: wait for the watch */
    bool cbwp_added;         /* AddCommonBandwidthPackageIp done, waiting for it to show */
    bool strategy_ignored_reported;
    bool periodic;           /* a ghost found by a periodic node GC (not at start) */
    const char *gc_reason;   /* a ghost: why it goes (the gc_released label), static */
    bool leak_counted;       /* counted as a leak */
    char hint_rejected[64];  /* an allocated-eip-id or PodEIP that pointed nowhere: ignore it */
    bool adopted;            /* the EIP came from the pod's PodEIP: re-tag it before binding */
    bool adopt_if_on_target; /* ...only if it is bound to this pod already (ack's record) */
    char holder[300];        /* "ns/name (ip)" or what holds a Static EIP */
    int64_t describe_delay_ms;

    enum pod_state state;
    char reason[64];
    char message[512];
    int64_t since_ms; /* wall clock of the last transition */
    int64_t bound_ms; /* wall clock when Bound (0 when not) */
    double bind_seconds;

    enum pod_op op;
    void *op_handle; /* the request of the op, to cancel */
    bool dirty;      /* kicked while an op was in flight */
    bool need_slot;  /* the queued op needs a cloud slot */
    bool has_slot;
    eip_list_node slot_node; /* in controller.slot_queue */
    enum pod_op slot_op;     /* the op to start once the slot is there */

    int failures;      /* consecutive, for the backoff */
    uint64_t retry_at; /* uv_now time before which nothing is retried */
    uv_timer_t *timer; /* retries and delayed kicks; freed in its close callback */
    eip_list waiters;  /* long-polls on this pod (struct waiter) */
    bool freeing;
};

/* A new record for a pod object (obj borrowed; a reference is taken) or a ghost
 * (obj NULL: ns, name, uid given). 0 and *out, or -ENOMEM. */
int pod_new(struct pod **out, struct controller *ctl, json_t *obj, const char *ns, const char *name,
            const char *uid);
/* The pod changed (obj borrowed). */
void pod_update(struct pod *p, json_t *obj);
/* The pod object is gone. */
void pod_gone(struct pod *p);
/* What the cloud says about the pod's EIP now (from a node-wide describe). */
void pod_observe(struct pod *p, const aliyun_eip *e);
/* Runs the machine: starts the next step unless one is in flight. */
void pod_kick(struct pod *p);
/* The cloud slot the pod waited for is granted. */
void pod_slot_granted(struct pod *p);
/* Cancels what is in flight, answers the waiters (503) and frees (the memory
 * goes in the timer's close callback). */
void pod_free(struct pod *p);
/* Whether the record can go: released (or nothing to release) and the pod gone. */
bool pod_finished(const struct pod *p);
/* The status API view (new reference; NULL on allocation failure). */
json_t *pod_view(const struct pod *p);
/* Bound and not going away: /ready answers 200. */
bool pod_ready(const struct pod *p);

#endif
