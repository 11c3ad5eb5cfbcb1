/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_K8S_H
#define EIP_K8S_K8S_H

/* The public interface of k8s/ for the agent: configuration, requests,
 * list+watch reflector, events, leader election and the --check-config probe.
 * Everything runs on the caller's libuv loop; nothing here logs above debug. */

#include "k8s/check.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/events.h"
#include "k8s/lease.h"
#include "k8s/reflector.h"
#include "k8s/status.h"

#endif
