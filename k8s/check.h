/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_CHECK_H
#define EIP_K8S_CHECK_H

#include <stdbool.h>

#include "k8s/client.h"

/* --check-config: can we reach the API server and list this node's pods?
 * GET /version, then one LIST of pods with fieldSelector=spec.nodeName=<node>
 * and limit=1. cb gets ok and one line of detail ("server v1.32.4, pods of
 * node-1 listable" or what failed). */

typedef struct k8s_check k8s_check;
typedef void (*k8s_check_cb)(bool ok, const char *detail, void *arg);

/* 0 and *out (may be NULL), or a negative errno and no callback. The check
 * frees itself after calling cb. */
int k8s_check_start(k8s_client *c, const char *node_name, k8s_check_cb cb, void *arg,
                    k8s_check **out);
/* No callback after this. */
void k8s_check_cancel(k8s_check *chk);

#endif
