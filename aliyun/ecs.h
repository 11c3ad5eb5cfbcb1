/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_ECS_H
#define EIP_ALIYUN_ECS_H

#include <stddef.h>

#include <jansson.h>

#include "aliyun/client.h"

/* ECS 2014-05-26 DescribeNetworkInterfaces: which ENI holds a private IP when the
 * instance metadata cannot say (virtual nodes, or as a fallback). */

#define ALIYUN_ECS_VERSION "2014-05-26"

/* An ENI; every string owned, "" when absent. private_ips: NULL-terminated. */
typedef struct aliyun_eni {
    char *network_interface_id;
    char *mac_address;
    char *vpc_id;
    char *instance_id;
    char *status;
    char *type;
    char *primary_ip;
    char **private_ips;
    size_t n_private_ips;
} aliyun_eni;

typedef struct aliyun_eni_page {
    aliyun_eni *enis;
    size_t n;
    long total_count;
    char *next_token; /* "" at the end */
} aliyun_eni_page;

void aliyun_eni_page_clear(aliyun_eni_page *p);
/* The ENI of p holding ip, or NULL. */
const aliyun_eni *aliyun_eni_page_find_ip(const aliyun_eni_page *p, const char *ip);

typedef struct aliyun_describe_enis_params {
    const char *region_id; /* NULL: the client's */
    const char *vpc_id;
    const char *instance_id;
    const char *primary_ip_address; /* PrimaryIpAddress: the ENI's primary IPv4 */
    /* PrivateIpAddress.N (at most 100): per the API reference these match the
     * ENIs' SECONDARY private IPv4 addresses only; the primary one is matched by
     * primary_ip_address (aliyun_ecs_find_eni asks both ways) */
    const char *const *private_ips;
    size_t n_private_ips;
    const char *const *network_interface_ids; /* NetworkInterfaceId.N (at most 100) */
    size_t n_network_interface_ids;
    const char *next_token;
    int max_results; /* 0: 100 (NextToken paging is always used) */
} aliyun_describe_enis_params;

/* page is NULL unless res->status is 0; borrowed for the callback. */
typedef void (*aliyun_eni_page_cb)(const aliyun_result *res, const aliyun_eni_page *page,
                                   void *arg);
int aliyun_ecs_describe_enis(aliyun_client *c, const aliyun_describe_enis_params *p,
                             aliyun_eni_page_cb cb, void *arg, aliyun_call **out);

/* Which ENI holds ip (primary or secondary)? Asks PrimaryIpAddress=ip, then
 * PrivateIpAddress.1=ip. eni_id is NULL with res->status -ENOENT when none does.
 * Borrowed for the callback. */
typedef struct aliyun_eni_finder aliyun_eni_finder;
typedef void (*aliyun_eni_found_cb)(const aliyun_result *res, const char *eni_id, void *arg);
typedef struct aliyun_find_eni_params {
    const char *vpc_id; /* NULL: any VPC */
    const char *ip;     /* required: the private IPv4 address */
} aliyun_find_eni_params;
int aliyun_ecs_find_eni(aliyun_client *c, const aliyun_find_eni_params *p, aliyun_eni_found_cb cb,
                        void *arg, aliyun_eni_finder **out);
void aliyun_eni_finder_cancel(aliyun_eni_finder *f);

#endif
