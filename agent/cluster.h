/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_CLUSTER_H
#define EIP_AGENT_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/controller.h"
#include "agent/metrics.h"
#include "aliyun/client.h"
#include "k8s/client.h"

/* Cluster-wide care, one agent at a time, internal to agent/. The agents elect
 * a leader through the coordination.k8s.io Lease "eip-agent" (namespace
 * leaderElection.namespace, kube-system by default; identity: the node name).
 * Every GC period the leader lists the nodes, the pods, the PodEIPs and every EIP
 * tagged with this cluster, and:
 *  - keeps an EIP whose pod lives, and one its PodEIP keeps (Never; TTL until
 *    releaseAfter has passed since podLastSeen with no pod of that name);
 *  - releases the rest through the node controller's ghost records (unassociate,
 *    release Auto, unbind Static, delete the PodEIP when it points there): EIPs
 *    whose node no longer exists at once, expired TTL ones at once, others after
 *    they stayed orphaned for two runs (the node's own agent goes first);
 *  - deletes PodEIPs that point at no EIP (and whose pod is gone).
 * Every action is conditional on the cloud's state described just before it, so
 * two leaders at once (or a leader and a node agent) never release anything
 * twice, and a new leader simply runs again. */

struct cluster;

typedef struct cluster_opts {
    uv_loop_t *loop;
    const struct agent_config *cfg; /* borrowed */
    struct controller *ctl;         /* borrowed: ghosts are its records */
    metrics *metrics;               /* borrowed */
} cluster_opts;

int cluster_new(struct cluster **out, const cluster_opts *opts, char *err, size_t errlen);
/* Starts campaigning through kc (borrowed). 0 or -errno. */
int cluster_start(struct cluster *g, k8s_client *kc);
/* Undo a cluster_start whose Kubernetes client goes away (to start again later). */
void cluster_stop_kube(struct cluster *g);
/* The cloud is ready (the leader's GC needs it). */
void cluster_set_cloud(struct cluster *g, aliyun_client *ac);
/* Stops the GC; a leader releases the Lease (done, may be NULL, is called when
 * that is over, possibly before this returns). */
void cluster_stop(struct cluster *g, void (*done)(void *arg), void *arg);
/* Cancels everything (no release) and frees. NULL is a no-op. */
void cluster_free(struct cluster *g);

bool cluster_is_leader(const struct cluster *g);
/* The holder last seen ("" when none). */
const char *cluster_leader(const struct cluster *g);
/* {"leader": id, "updated": time, "eips": [{allocationId, address, status, state,
 * namespace, name, node, strategy, releaseAt?}...]} of the last GC run (new
 * reference; NULL on allocation failure or before a first run). */
json_t *cluster_eips_json(const struct cluster *g);
/* Registers GET /v1/eips (the leader answers; others 404 naming the leader). */
int cluster_routes(struct cluster *g, http_server *s);

#endif
