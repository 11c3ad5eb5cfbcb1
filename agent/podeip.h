/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_PODEIP_H
#define EIP_AGENT_PODEIP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/annotations.h"
#include "k8s/client.h"

/* The PodEIP record (alibabacloud.com/v1beta1, same namespace and name as the
 * pod; DESIGN §2): the durable note of which EIP a pod has and how it is to be
 * released, in the shape ack-extend-network-controller and Terway write, so
 * records of either are read as they are. Written by name, never watched. */

#define PODEIP_API "/apis/alibabacloud.com/v1beta1"
/* The pod uid a record was written for (our records only). */
#define PODEIP_ANNOT_POD_UID "eip-agent/pod-uid"
/* ack-extend-network-controller's finalizer, removed when the agent deletes
 * such a record. */
#define PODEIP_ACK_FINALIZER "podeip-controller.alibabacloud.com/finalizer"

struct podeip_info {
    bool exists;
    char allocation_id[64];
    char bandwidth_package_id[64];
    enum eip_alloc_type type;
    enum eip_release_strategy strategy;
    int64_t release_after_ms;
    char release_after[32];
    char pod_uid[64]; /* the eip-agent/pod-uid annotation, "" when none */
    /* status */
    char eip_address[64];
    char eni_id[64];
    char private_ip[64];
    char isp[32];
    char internet_charge_type[32];
    char resource_group_id[64];
    char name[160];
    char pool_id[64];
    char status[24];
    char bandwidth[16];
    int64_t pod_last_seen_ms; /* 0 when unset */
    bool deleting;            /* metadata.deletionTimestamp is set */
};

/* The object for a create (metadata, spec; status is written separately through
 * the status subresource). New reference or NULL. */
json_t *podeip_build(const char *ns, const char *name, const struct podeip_info *i);
/* The status part ({"status": {...}}) for a merge patch; pod_last_seen_ms 0
 * leaves podLastSeen out. New reference or NULL. */
json_t *podeip_build_status(const struct podeip_info *i);
/* Reads a PodEIP object (ours or ack's). 0, or -EINVAL when it has no
 * spec.allocationID. */
int podeip_parse(const json_t *obj, struct podeip_info *out);

typedef struct podeip_op podeip_op;
/* err 0 on success (info: what was read or written; for a read of a missing
 * record info->exists is false); otherwise detail says what failed. */
typedef void (*podeip_cb)(int err, const char *detail, const struct podeip_info *info, void *arg);

/* Creates or updates the record and its status (create, else read and update
 * with the resourceVersion read, then the status subresource). */
int podeip_write(k8s_client *c, const char *ns, const char *name, const struct podeip_info *i,
                 podeip_cb cb, void *arg, podeip_op **out);
/* Reads the record. */
int podeip_read(k8s_client *c, const char *ns, const char *name, podeip_cb cb, void *arg,
                podeip_op **out);
/* Deletes the record if it is still the one for this EIP and pod: its
 * spec.allocationID is allocation_id and it was written for pod_uid (or by
 * another controller, without our annotation). Conditional on the
 * resourceVersion read; ack's finalizer is removed first. Missing: done. */
int podeip_delete(k8s_client *c, const char *ns, const char *name, const char *allocation_id,
                  const char *pod_uid, podeip_cb cb, void *arg, podeip_op **out);
/* The pod is gone and the EIP kept: status.podLastSeen = now_ms and the rest of
 * i's status (the record is created when missing; one written for another EIP is
 * left alone). */
int podeip_mark_seen(k8s_client *c, const char *ns, const char *name, const struct podeip_info *i,
                     int64_t now_ms, podeip_cb cb, void *arg, podeip_op **out);
/* No callback after this. */
void podeip_op_cancel(podeip_op *op);

#endif
