/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_CREDENTIALS_INTERNAL_H
#define EIP_ALIYUN_CREDENTIALS_INTERNAL_H

/* Internal to aliyun/ (exposed for its unit tests and fuzzers): the parsers of
 * the credential documents and the refresh arithmetic of aliyun/credentials.c. */

#include <stdint.h>

#include <jansson.h>

#include "aliyun/credentials.h"

/* When to refresh a credential expiring at expiration_ms: the delay from now_ms so
 * that it happens before_ms before Expiration; 0 when already inside that window;
 * -1 when it never expires (expiration_ms 0). */
int64_t aliyun_creds_refresh_delay_ms(int64_t now_ms, int64_t expiration_ms, int64_t before_ms);

/* Parses an STS AssumeRole* response ({"Credentials":{AccessKeyId, AccessKeySecret,
 * SecurityToken, Expiration}}) or an ECS RAM role document ({Code:"Success",
 * AccessKeyId, ...}); 0 or -EINVAL. out is filled only on success. */
int aliyun_parse_sts_credentials(json_t *root, aliyun_credential *out);
int aliyun_parse_ecs_ram_credentials(json_t *root, aliyun_credential *out);

#endif
