/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_KUBE_H
#define EIP_AGENT_KUBE_H

#include <stddef.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/metrics.h"
#include "http/client.h"
#include "k8s/client.h"

/* The Kubernetes side of the agent, built from the configuration in one place
 * for the agent and for --check-config: the API server configuration (the
 * kubeconfig named by the configuration or $KUBECONFIG, else in-cluster from
 * kubernetesServiceHost/Port, i.e. $KUBERNETES_SERVICE_HOST/PORT) and the
 * client with the configured QPS and burst. */

typedef struct agent_kube agent_kube;

typedef struct agent_kube_opts {
    uv_loop_t *loop;
    http_client *http;              /* borrowed; outlives the kube */
    const struct agent_config *cfg; /* borrowed */
    /* eip_agent_k8s_requests_total{verb,code} (borrowed; may be NULL) */
    metric_family *requests;
} agent_kube_opts;

/* 0 and *out, or -errno with a one-line reason in err naming the file or the
 * missing in-cluster variable. */
int agent_kube_new(agent_kube **out, const agent_kube_opts *opts, char *err, size_t errlen);
/* Frees the client (its calls are dropped without callbacks; free the
 * reflectors, recorders and electors that use it first). NULL is a no-op. */
void agent_kube_free(agent_kube *k);

k8s_client *agent_kube_client(const agent_kube *k);
/* "in-cluster" or the kubeconfig path. */
const char *agent_kube_source(const agent_kube *k);

#endif
