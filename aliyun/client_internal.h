/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_CLIENT_INTERNAL_H
#define EIP_ALIYUN_CLIENT_INTERNAL_H

/* Internal to aliyun/: what the OpenAPI client shares with the one request
 * sent around it (STS AssumeRoleWithOIDC, aliyun/sts.c). */

#include "aliyun/sign.h"

/* Sets the parameters every RPC-style request carries: Action, Version,
 * Format=JSON, and a fresh Timestamp and SignatureNonce. 0, -ENOMEM, or the
 * error of the random source. */
int aliyun_rpc_common_params(aliyun_params *p, const char *action, const char *version);

#endif
