/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_ANNOTATIONS_H
#define EIP_AGENT_ANNOTATIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The pod interface of ack-extend-network-controller's EIP controller
 * (DESIGN §2): what a pod's annotations ask for, parsed and validated before
 * any cloud call. Every key is accepted with the prefix
 * "network.alibabacloud.com/" and with the legacy "k8s.aliyun.com/" (plus the
 * legacy names k8s.aliyun.com/eci-with-eip, k8s.aliyun.com/eci-eip-instanceid
 * and k8s.aliyun.com/eip-charge-type); when both prefixes carry a key, the
 * network.alibabacloud.com/ one wins. Pure code: no I/O, no logging. */

#define EIP_ANNOT_PREFIX "network.alibabacloud.com/"
#define EIP_ANNOT_LEGACY_PREFIX "k8s.aliyun.com/"

/* Written by the agent on a bound pod. */
#define EIP_ANNOT_ALLOCATED_ID "network.alibabacloud.com/allocated-eip-id"
#define EIP_ANNOT_ALLOCATED_ADDRESS "network.alibabacloud.com/allocated-eip-address"
#define EIP_ANNOT_LEGACY_ADDRESS "k8s.aliyun.com/allocated-eipAddress"
/* The readiness-gate condition type. */
#define EIP_CONDITION_TYPE "k8s.aliyun.com/eip"
#define EIP_CONDITION_REASON_BOUND "Associate eip succeed"

/* The longest annotation value looked at; a longer one is invalid. */
#define EIP_ANNOT_MAX_VALUE 4096
/* Tags the agent puts on every EIP it allocates and on every Static EIP it binds,
 * so that the cloud alone tells whose an EIP is (DESIGN §2); user tags from
 * eip-tags come on top, within the cloud's 20. */
#define EIP_TAG_CLUSTER "ack.aliyun.com" /* the cluster id (ACK's convention) */
#define EIP_TAG_PREFIX "eip-agent/"      /* every other tag key of the agent */
#define EIP_TAG_NODE EIP_TAG_PREFIX "node"
#define EIP_TAG_NAMESPACE EIP_TAG_PREFIX "pod-namespace"
#define EIP_TAG_NAME EIP_TAG_PREFIX "pod-name"
#define EIP_TAG_UID EIP_TAG_PREFIX "pod-uid"
#define EIP_TAG_TYPE EIP_TAG_PREFIX "type" /* Auto or Static */
#define EIP_AGENT_TAGS 6
#define EIP_MAX_USER_TAGS (20 - EIP_AGENT_TAGS)

enum eip_alloc_type {
    EIP_ALLOC_NONE = 0, /* not an EIP pod */
    EIP_ALLOC_AUTO,     /* pod-with-eip / eci-with-eip "true": allocate one */
    EIP_ALLOC_STATIC,   /* pod-eip-instanceid / eci-eip-instanceid, or allocated-eip-id
                           alone: bind that existing EIP, never release it */
};

enum eip_release_strategy {
    EIP_RELEASE_FOLLOW = 0, /* default: released with the pod */
    EIP_RELEASE_TTL,        /* released release_after_ms after the pod is gone */
    EIP_RELEASE_NEVER,      /* released when its PodEIP is deleted */
};

typedef struct eip_user_tag {
    char *key;
    char *value;
} eip_user_tag;

/* What one pod asks for. Every string is owned (NULL when not given). */
typedef struct eip_request {
    enum eip_alloc_type type;
    /* STATIC: the EIP to bind. AUTO: the agent's own allocated-eip-id record when
     * present (a hint to adopt, checked against the cloud's tags), else NULL. */
    char *allocation_id;
    int bandwidth;                    /* Mbit/s; 0: not given (the cloud's default, 5) */
    char *internet_charge_type;       /* PayByTraffic (default when NULL), PayByBandwidth */
    char *instance_charge_type;       /* PostPaid only */
    char *bandwidth_package_id;       /* cbwp-... */
    char *isp;                        /* BGP, BGP_PRO, ... */
    char *public_ip_address_pool_id;  /* pippool-... */
    char *resource_group_id;          /* rg-... */
    char *name;                       /* <= 128 */
    char *description;                /* <= 256 */
    char **security_protection_types; /* NULL-terminated, n entries */
    size_t n_security_protection_types;
    eip_user_tag *tags; /* from eip-tags, sorted by key */
    size_t n_tags;
    enum eip_release_strategy strategy;
    int64_t release_after_ms; /* TTL only */
    char *release_after;      /* TTL: the annotation's text ("10m"), for the PodEIP */
    bool strategy_given;      /* pod-eip-release-strategy was set */
} eip_request;

/* Why a request was refused: the annotation key as the pod wrote it and one
 * sentence naming the accepted values ("must be an integer from 1 to 200
 * (Mbit/s), got \"abc\""). */
typedef struct eip_request_error {
    char key[128];
    char message[512];
} eip_request_error;

/* Parses a pod's metadata.annotations (an object; NULL or not an object means
 * none). 0 and *out filled (type NONE when the pod asks for no EIP), -EINVAL
 * with *err filled for the first invalid annotation (then *out is empty), or
 * -ENOMEM. The type: pod-eip-instanceid (or eci-eip-instanceid) makes it STATIC
 * with that EIP; else pod-with-eip (or eci-with-eip) "true" makes it AUTO (an
 * allocated-eip-id then is the agent's own record, kept as a hint); else an
 * allocated-eip-id alone (a user's at pod creation) makes it STATIC with that
 * EIP; "false" or nothing is NONE. Rules (each one from the AllocateEipAddress
 * reference or the ack documentation):
 *  - every value must be valid UTF-8 without control characters and at most
 *    EIP_ANNOT_MAX_VALUE bytes;
 *  - pod-with-eip: "true" or "false" (case-insensitive); pod-eip-instanceid and
 *    allocated-eip-id: "eip-" followed by [a-z0-9] (at most 64 bytes);
 *  - eip-bandwidth: a decimal integer, optionally followed by "M" or "Mbps", from
 *    1 to 200 for PayByTraffic and 1 to 500 for PayByBandwidth;
 *  - eip-internet-charge-type (legacy eip-charge-type): PayByTraffic, PayByBandwidth;
 *  - eip-instance-charge-type: PostPaid (PrePaid is refused: not supported);
 *  - eip-isp: BGP, BGP_PRO, ChinaTelecom, ChinaUnicom, ChinaMobile,
 *    ChinaTelecom_L2, ChinaUnicom_L2, ChinaMobile_L2, BGP_FinanceCloud;
 *  - eip-common-bandwidth-package-id "cbwp-...", eip-public-ip-address-pool-id
 *    "pippool-...", eip-resource-group-id "rg-...": prefix plus [a-z0-9], <= 64;
 *  - eip-name: 1 to 128 characters, starting with a letter (not http:// or
 *    https://), letters, digits, '.', '_' and '-'; eip-description: 2 to 256
 *    characters, not starting with http:// or https://;
 *  - eip-security-protection-types: comma-separated, each [A-Za-z0-9_]+, at most 10;
 *  - eip-tags: a JSON object of string values, at most EIP_MAX_USER_TAGS keys,
 *    keys 1 to 128 characters not starting with "aliyun" or "acs:" nor holding
 *    "http://"/"https://", values at most 128 characters;
 *  - pod-eip-release-strategy: Follow, Never (case-insensitive), or a positive
 *    Go duration ("30s", "10m", "1h30m") = TTL.
 * Settings that only apply to allocation (bandwidth, ...) are still validated
 * on a STATIC pod. */
int eip_request_parse(const json_t *annotations, eip_request *out, eip_request_error *err);

/* Frees the strings and zeroes r. NULL-safe and idempotent. */
void eip_request_clear(eip_request *r);

/* Whether two requests ask for the same thing (every field). */
bool eip_request_equal(const eip_request *a, const eip_request *b);

const char *eip_alloc_type_name(enum eip_alloc_type t);             /* "None", "Auto", "Static" */
const char *eip_release_strategy_name(enum eip_release_strategy s); /* "Follow", "TTL", "Never" */

#endif
