/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_CONTROLLER_H
#define EIP_AGENT_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/eipwatch.h"
#include "agent/eni.h"
#include "agent/metrics.h"
#include "agent/pod.h"
#include "agent/readiness.h"
#include "aliyun/client.h"
#include "aliyun/metadata.h"
#include "common/list.h"
#include "http/server.h"
#include "k8s/k8s.h"

/* The node controller, internal to agent/: watches the pods of this node (one
 * reflector, spec.nodeName=<node>), keeps one struct pod per EIP pod, hands out
 * the cloud slots (at most maxConcurrentReconciles pods in cloud calls), takes
 * the cloud's inventory of this node's EIPs at start and every
 * garbageCollectionPeriodInMinutes (node GC: EIPs whose pod is gone become
 * ghosts that release them), and serves the status API (/v1/pods, /v1/self,
 * long-polls). Nothing is allocated before the first pod list and the first
 * inventory are in: after a restart the agent adopts what the cloud holds. */

struct controller_metrics {
    metric_family *pods;           /* eip_agent_pods{state} */
    metric_family *transitions;    /* eip_agent_pod_transitions_total{state} */
    metric_family *bind_duration;  /* eip_agent_bind_duration_seconds */
    metric_family *gc_released;    /* eip_agent_gc_released_total{reason} */
    metric_family *leaks;          /* eip_agent_leaked_eips_found_total */
    metric_family *watch_restarts; /* eip_agent_watch_restarts_total{reason} */
    metric_family *allocations;    /* eip_agent_eips_allocated_total */
    metric_family *releases;       /* eip_agent_eips_released_total */
};

struct controller {
    uv_loop_t *loop;
    const struct agent_config *cfg;
    k8s_client *kc;
    k8s_reflector *reflector;
    k8s_recorder *recorder;
    readiness *ready;
    /* set once the cloud is ready */
    aliyun_client *ac;
    eipwatch *watch;
    eni_resolver *eni;

    eip_list pods; /* struct pod, ghosts included */
    eip_list slot_queue;
    int slots_used, slots_max;
    bool granting;      /* inside grant_slots: no recursion */
    int allocs_holding; /* slots held by AllocateEipAddress calls */
    bool synced;        /* the first pod list is in */
    bool node_known;    /* the Node object was read (virtual or not) */
    bool virtual_node;  /* an ACS/ECI virtual node: no instance metadata, ENIs from the API */
    k8s_call *node_call;
    uv_timer_t *node_timer; /* retries reading the Node */
    aliyun_metadata *md;    /* as given by controller_set_cloud */
    char *vpc_id;
    bool cloud_ready; /* the cloud client is built */
    bool inventoried; /* the first inventory of this node's EIPs is in */
    bool stopping;
    bool missed; /* an EIP pod found no memory for its record: the next GC run looks again */

    /* node GC */
    uv_timer_t *gc_timer;
    aliyun_pager *gc_pager;
    unsigned gc_runs;
    uint64_t gc_period_ms;

    json_t *kept; /* AllocationId -> true: kept EIPs of gone pods (node GC skips them) */

    /* long-polls for pods not seen yet, by name or by source IP */
    eip_list waiters;

    char field_selector[320];
    struct controller_metrics m;
    struct controller_stats {
        uint64_t allocated, released, associated, unassociated, ghosts, leaks;
    } stats;
};

typedef struct controller_opts {
    uv_loop_t *loop;
    const struct agent_config *cfg; /* borrowed */
    metrics *metrics;               /* borrowed: the families are registered here */
    readiness *ready;               /* borrowed: READY_PODS_SYNCED is set from here */
} controller_opts;

/* 0 and *out, or -errno with a reason in err. Nothing runs yet. */
int controller_new(struct controller **out, const controller_opts *opts, char *err, size_t errlen);
/* Starts watching the pods of this node through kc (borrowed; it must outlive
 * the controller's use: controller_stop first). 0 or -errno. */
int controller_start(struct controller *c, k8s_client *kc);
/* The cloud is ready: pods may now act. md may be NULL (virtual node). 0 or -errno. */
int controller_set_cloud(struct controller *c, aliyun_client *ac, aliyun_metadata *md,
                         const char *vpc_id);
/* Undo a failed controller_start / controller_set_cloud (to try again later). */
void controller_stop_kube(struct controller *c);
void controller_stop_cloud(struct controller *c);
/* Registers /v1/pods, /v1/pods/{ns}/{name}, .../ready, /v1/self, /v1/self/ready. */
int controller_routes(struct controller *c, http_server *s);
/* Stops everything in flight (no callback afterwards), answers the long-polls.
 * Idempotent. */
void controller_stop(struct controller *c);
/* Stops and frees (memory of timers goes once the loop has run). NULL is a no-op. */
void controller_free(struct controller *c);

/* For agent/pod.c. */
/* Queues p for a cloud slot: pod_slot_granted(p) now (from here) or later. */
void controller_want_slot(struct controller *c, struct pod *p);
/* Gives p's slot (if any) back, or takes p out of the queue. */
void controller_drop_slot(struct controller *c, struct pod *p);
/* The pod changed state: metrics and long-polls. */
void controller_state_changed(struct controller *c, struct pod *p, enum pod_state old);
/* The record may go (pod_finished): unlinks and frees it. */
void controller_forget(struct controller *c, struct pod *p);
/* The cluster GC leader decided that e goes (its pod is gone and nothing keeps
 * it): a ghost record releases it as the node GC would, without reading the
 * PodEIP again (the leader did). No-op when a record already has e. reason: the
 * gc_released label ("ttl-expired", "node-gone", ...), a static string. */
void controller_gc_ghost(struct controller *c, const aliyun_eip *e, const char *reason);
/* A ghost found its EIP kept by its PodEIP (TTL, Never): the node GC leaves it
 * alone from now on while it stays unbound (the cluster GC leader decides its end). */
void controller_note_kept(struct controller *c, const char *allocation_id);
/* A ghost of a periodic GC run had to act: a leak (counted once). */
void controller_count_leak(struct controller *c, struct pod *p);
/* The agent's tags for p (EIP_AGENT_TAGS entries). */
size_t controller_tags(const struct controller *c, const struct pod *p, aliyun_tag *out,
                       size_t cap);
/* Whether an owner kind is stateful (StatefulSet, or in customStatefulWorkloadKinds). */
bool controller_stateful_kind(const struct controller *c, const char *kind);

#endif
