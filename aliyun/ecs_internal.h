/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_ECS_INTERNAL_H
#define EIP_ALIYUN_ECS_INTERNAL_H

/* Internal to aliyun/ (exposed for its unit tests and fuzzers): the parser of
 * the DescribeNetworkInterfaces response. */

#include <jansson.h>

#include "aliyun/ecs.h"

/* The documented response ({"NetworkInterfaceSets":{"NetworkInterfaceSet":
 * [...]}, "NextToken", "TotalCount"}): 0 or -EINVAL (-ENOMEM). */
int aliyun_parse_eni_page(json_t *root, aliyun_eni_page *out);

#endif
