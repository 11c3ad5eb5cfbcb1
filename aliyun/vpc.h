/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_VPC_H
#define EIP_ALIYUN_VPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "aliyun/client.h"

/* VPC 2016-04-28 EIP actions, typed. Every function starts one call on the
 * client (paced, retried, see aliyun/client.h); the callback comes later from the
 * loop, exactly once, unless the call is cancelled with aliyun_call_cancel.
 * Parameter strings are copied; NULL or "" fields are left out of the request.
 * RegionId is the client's region unless region_id is set. */

#define ALIYUN_VPC_VERSION "2016-04-28"
#define ALIYUN_DESCRIBE_MAX_IDS 50
#define ALIYUN_DESCRIBE_MAX_PAGE_SIZE 100
#define ALIYUN_TAG_MAX_RESOURCES 50 /* TagResources: ResourceId.N */
#define ALIYUN_TAG_MAX_TAGS 20      /* TagResources: Tag.N */

typedef struct aliyun_tag {
    const char *key;
    const char *value;
} aliyun_tag;

/* A tag read back from the cloud (owned by its EIP). */
typedef struct aliyun_kv {
    char *key;
    char *value;
} aliyun_kv;

/* An EIP as DescribeEipAddresses returns it. Every string is owned and never NULL
 * ("" when absent). Bandwidth is a string in the API and stays one here. */
typedef struct aliyun_eip {
    char *allocation_id;
    char *ip_address;
    char *status; /* Associating, Unassociating, InUse, Available, Releasing */
    char *instance_id;
    char *instance_type;
    char *private_ip_address;
    char *bandwidth;
    char *internet_charge_type;
    char *isp;
    char *name;
    char *description;
    char *resource_group_id;
    char *bandwidth_package_id;
    char *public_ip_address_pool_id;
    char *mode;
    aliyun_kv *tags;
    size_t n_tags;
} aliyun_eip;

typedef struct aliyun_eip_page {
    aliyun_eip *eips;
    size_t n;
    long total_count;
    long page_number;
    long page_size;
} aliyun_eip_page;

void aliyun_eip_clear(aliyun_eip *e);
void aliyun_eip_page_clear(aliyun_eip_page *p);
/* The value of tag key on e, or NULL. */
const char *aliyun_eip_tag(const aliyun_eip *e, const char *key);

/* Completion without a payload. res->status 0: done (res->cls DONE when the cloud
 * said the work was already done). */
typedef void (*aliyun_done_cb)(const aliyun_result *res, void *arg);

/* ---- AllocateEipAddress ---- */
typedef struct aliyun_allocate_eip_params {
    const char *region_id;
    int bandwidth;                    /* Mbit/s; 0: omitted (the API's default, 5) */
    const char *internet_charge_type; /* PayByTraffic, PayByBandwidth */
    const char *instance_charge_type; /* PostPaid */
    const char *isp;
    const char *name;
    const char *description;
    const char *resource_group_id;
    const char *public_ip_address_pool_id;
    const char *const *security_protection_types; /* SecurityProtectionTypes.N */
    size_t n_security_protection_types;
    const aliyun_tag *tags; /* Tag.N.Key / Tag.N.Value, N from 1 */
    size_t n_tags;
    const char *client_token; /* the same for every retry of one logical allocation */
} aliyun_allocate_eip_params;

typedef struct aliyun_allocated_eip {
    const char *allocation_id;
    const char *eip_address;
    const char *resource_group_id;
    const char *order_id; /* "" for PostPaid */
} aliyun_allocated_eip;

/* eip is NULL unless res->status is 0; borrowed for the callback. */
typedef void (*aliyun_allocate_cb)(const aliyun_result *res, const aliyun_allocated_eip *eip,
                                   void *arg);
int aliyun_vpc_allocate_eip(aliyun_client *c, const aliyun_allocate_eip_params *p,
                            aliyun_allocate_cb cb, void *arg, aliyun_call **out);

/* ---- AssociateEipAddress / UnassociateEipAddress ---- */

/* What both share: which EIP, bound to what. */
typedef struct aliyun_eip_binding {
    const char *region_id;          /* NULL: the client's */
    const char *allocation_id;      /* required */
    const char *instance_id;        /* required: the ENI (eni-...) */
    const char *instance_type;      /* NULL: "NetworkInterface" */
    const char *private_ip_address; /* the pod IP; NULL or "": the ENI's primary address */
    const char *client_token;       /* NULL: none */
} aliyun_eip_binding;

typedef struct aliyun_associate_eip_params {
    aliyun_eip_binding to;
    const char *mode; /* NULL: omitted (NAT) */
} aliyun_associate_eip_params;

/* private_ip_address NULL or "": the ENI's primary address (the cloud then describes
 * the binding with an empty PrivateIpAddress). IncorrectEipStatus is checked with a
 * DescribeEipAddresses on the same call: InUse or Associating on this target
 * (instance, and private IP when one was asked) is DONE; Available again is sent
 * again (at most twice); Associating elsewhere or Unassociating is retryable
 * (status -EAGAIN, cls RETRY); bound elsewhere, Releasing or gone is fatal (-EIO,
 * -ENOENT). res->error keeps the refusal, its message says the state seen. */
int aliyun_vpc_associate_eip(aliyun_client *c, const aliyun_associate_eip_params *p,
                             aliyun_done_cb cb, void *arg, aliyun_call **out);

typedef struct aliyun_unassociate_eip_params {
    aliyun_eip_binding from;
    bool force;
} aliyun_unassociate_eip_params;

/* Done (status 0, cls DONE) when the EIP is gone (InvalidAllocationId.NotFound)
 * or is not bound to this target. The cloud answers IncorrectEipStatus or
 * InvalidBindingStatus both for an EIP that is not bound and for one still
 * Associating, so such a refusal is checked with a DescribeEipAddresses on the
 * same call: Available, Unassociating, gone or bound elsewhere is DONE; InUse on
 * this target (a described PrivateIpAddress "" is the ENI's primary address and
 * matches) is unassociated again (at most twice); Associating is reported as
 * retryable (status -EAGAIN, cls RETRY). res->error keeps the refusal. */
int aliyun_vpc_unassociate_eip(aliyun_client *c, const aliyun_unassociate_eip_params *p,
                               aliyun_done_cb cb, void *arg, aliyun_call **out);

/* ---- ReleaseEipAddress ---- */
typedef struct aliyun_release_eip_params {
    const char *region_id;
    const char *allocation_id; /* required */
} aliyun_release_eip_params;

/* InvalidAllocationId.NotFound is DONE. IncorrectEipStatus is checked with a
 * DescribeEipAddresses on the same call: Releasing or gone is DONE; Available again
 * is sent again (at most twice); InUse is reported (status -EBUSY, cls FATAL) and
 * Associating/Unassociating too (-EAGAIN, cls RETRY): the caller unassociates (or
 * waits for the unassociation) first. A subscription EIP is refused with
 * Forbidden.ChargeTypeIsPrepaid (fatal). */
int aliyun_vpc_release_eip(aliyun_client *c, const aliyun_release_eip_params *p, aliyun_done_cb cb,
                           void *arg, aliyun_call **out);

/* ---- DescribeEipAddresses ---- */
typedef struct aliyun_describe_eips_params {
    const char *region_id;
    const char *const *allocation_ids; /* joined with ',' (at most 50) */
    size_t n_allocation_ids;
    const char *eip_address;
    const char *associated_instance_type;
    const char *associated_instance_id;
    const char *status;
    const aliyun_tag *tags; /* filters (Tag.N.Key, Tag.N.Value) */
    size_t n_tags;
    int page_number; /* 0: omitted (1) */
    int page_size;   /* 0: omitted (10); at most 100 */
} aliyun_describe_eips_params;

/* page is NULL unless res->status is 0; borrowed for the callback. */
typedef void (*aliyun_eip_page_cb)(const aliyun_result *res, const aliyun_eip_page *page,
                                   void *arg);
int aliyun_vpc_describe_eips(aliyun_client *c, const aliyun_describe_eips_params *p,
                             aliyun_eip_page_cb cb, void *arg, aliyun_call **out);

/* Every page (PageSize 100 unless set), one after the other; the callback gets
 * all EIPs in one page struct (page_number = pages fetched). */
typedef struct aliyun_pager aliyun_pager;
int aliyun_vpc_describe_all_eips(aliyun_client *c, const aliyun_describe_eips_params *p,
                                 aliyun_eip_page_cb cb, void *arg, aliyun_pager **out);
void aliyun_pager_cancel(aliyun_pager *pg);

/* ---- Common bandwidth packages ---- */
typedef struct aliyun_cbwp_ip_params {
    const char *region_id;
    const char *bandwidth_package_id; /* required */
    const char *allocation_id;        /* required (IpInstanceId) */
    const char *client_token;
} aliyun_cbwp_ip_params;

/* AddCommonBandwidthPackageIp. */
int aliyun_vpc_add_cbwp_ip(aliyun_client *c, const aliyun_cbwp_ip_params *p, aliyun_done_cb cb,
                           void *arg, aliyun_call **out);
/* RemoveCommonBandwidthPackageIp; InvalidAllocationId.NotFound and
 * OperationUnsupported.IpNotInCbwp: done. */
int aliyun_vpc_remove_cbwp_ip(aliyun_client *c, const aliyun_cbwp_ip_params *p, aliyun_done_cb cb,
                              void *arg, aliyun_call **out);

/* ---- TagResources (ResourceType=EIP) ---- */
typedef struct aliyun_tag_eips_params {
    const char *region_id;
    const char *const *allocation_ids; /* ResourceId.N: 1 to ALIYUN_TAG_MAX_RESOURCES */
    size_t n_allocation_ids;
    const aliyun_tag *tags; /* Tag.N: 1 to ALIYUN_TAG_MAX_TAGS, each with a key */
    size_t n_tags;
} aliyun_tag_eips_params;

int aliyun_vpc_tag_eips(aliyun_client *c, const aliyun_tag_eips_params *p, aliyun_done_cb cb,
                        void *arg, aliyun_call **out);

#endif
