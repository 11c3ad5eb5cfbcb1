/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_API_H
#define EIP_AGENT_API_H

#include "agent/controller.h"

/* The status API of DESIGN §4 on the agent's HTTP server, internal to agent/:
 *   GET /v1/pods                          every EIP pod of this node
 *   GET /v1/pods/{ns}/{name}              one pod; 404 if unknown
 *   GET /v1/pods/{ns}/{name}/ready[?wait=S]
 *   GET /v1/self, /v1/self/ready[?wait=S] the pod whose IP is the caller's address
 * /ready answers 200 when the pod is Bound, 503 otherwise (404 when unknown and
 * not waiting). With wait (seconds, at most 300) the answer is held until the
 * pod is Bound or the wait ends; a pod not seen yet is waited for too. A held
 * answer goes out from the state transition itself, so within the loop turn
 * that wrote the condition. */

/* {"node": ..., "pods": [pod_view...]} of this node's EIP pods (ghosts left out):
 * what GET /v1/pods answers. New reference, NULL on allocation failure. */
json_t *api_pods_json(struct controller *c);
/* Registers the routes (controller_routes calls this). */
int api_routes(struct controller *c, http_server *s);
/* p changed state: answers the long-polls it satisfies. */
void api_pod_changed(struct controller *c, struct pod *p);
/* Answers every held request (503, "stopping") and stops their timers. */
void api_stop(struct controller *c);

/* The longest wait= accepted, in seconds. */
#define API_MAX_WAIT_S 300

#endif
