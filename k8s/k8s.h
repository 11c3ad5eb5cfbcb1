/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_K8S_H
#define EIP_K8S_K8S_H

/* The public interface of k8s/ for the agent: configuration, requests,
 * list+watch reflector, events, leader election and the --check-config probe.
 * Everything runs on the caller's libuv loop; nothing here logs above debug:
 * failures come back as k8s_result values and one-line details for the caller
 * to log once, with context.
 *
 * Typical wiring (error handling left out; every constructor is
 * int x_new(x **out, const x_opts *opts, char *err, size_t errlen)):
 *
 *   k8s_config *cfg;
 *   k8s_config_opts cc = {.kubeconfig = conf->kubeconfig,   // NULL: in-cluster
 *                         .service_host = conf->kube_service_host,
 *                         .service_port = conf->kube_service_port};
 *   k8s_config_load(&cfg, &cc, err, sizeof(err));
 *   k8s_client_opts co = {.loop = loop, .http = http, .config = cfg,
 *                         .qps = conf->kube_qps, .burst = conf->kube_burst};
 *   k8s_client *kc;
 *   k8s_client_new(&kc, &co, err, sizeof(err));
 *
 *   k8s_reflector_opts ro = {.client = kc, .path = "/api/v1/pods",
 *                            .field_selector = "spec.nodeName=node-1",
 *                            .on_event = pod_event, .on_synced = pods_synced,
 *                            .on_error = log_watch_error, .arg = agent};
 *   k8s_reflector *pods;
 *   k8s_reflector_new(&pods, &ro, err, sizeof(err));
 *   k8s_reflector_start(pods);
 *
 *   k8s_recorder_opts eo = {.client = kc, .host = node};
 *   k8s_recorder *events;
 *   k8s_recorder_new(&events, &eo, err, sizeof(err));
 *   k8s_object_ref ref;
 *   k8s_object_ref_from_json(pod, "Pod", "v1", &ref);
 *   k8s_recorder_event(events, &ref, "Normal", "EIPAssociated", "eip-1 203.0.113.5");
 *
 *   json_t *p = json_pack("{s:{s:[{s:s,s:s,s:s}]}}", "status", "conditions", "type",
 *                         "k8s.aliyun.com/eip", "status", "True", "reason",
 *                         "Associate eip succeed");
 *   k8s_patch(kc, "/api/v1/namespaces/NS/pods/NAME/status", K8S_PATCH_STRATEGIC_MERGE, p,
 *             patched, agent, NULL);   // K8S_E_CONFLICT: re-read and retry
 *
 * Shutdown order: k8s_leader_stop (releases the Lease), then the *_free of
 * reflectors, recorders and electors, then k8s_client_free, then the HTTP
 * client's free, then run the loop so the timers close, then k8s_config_free. */

#include "k8s/check.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/events.h"
#include "k8s/lease.h"
#include "k8s/reflector.h"
#include "k8s/status.h"

#endif
