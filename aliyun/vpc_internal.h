/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_VPC_INTERNAL_H
#define EIP_ALIYUN_VPC_INTERNAL_H

/* Internal to aliyun/ (exposed for its unit tests and fuzzers): the parsers of
 * the DescribeEipAddresses response. */

#include <jansson.h>

#include "aliyun/vpc.h"

/* Parsers of the documented response shapes: 0 or -EINVAL (-ENOMEM). */
int aliyun_parse_eip(json_t *obj, aliyun_eip *out);
int aliyun_parse_eip_page(json_t *root, aliyun_eip_page *out);

#endif
