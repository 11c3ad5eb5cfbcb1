/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_CHECK_H
#define EIP_ALIYUN_CHECK_H

#include <stdbool.h>

#include "aliyun/client.h"
#include "aliyun/metadata.h"

/* The --check-config probe of the cloud: one signed DescribeEipAddresses with
 * PageSize=1 (proves endpoint, TLS, credential and RAM permission), plus a
 * metadata GET of region-id when md is given. The detail line names the
 * credential source, never a secret. */

typedef struct aliyun_check aliyun_check;
/* detail is borrowed for the callback. */
typedef void (*aliyun_check_cb)(bool ok, const char *detail, void *arg);

/* 0 and *out (may be NULL), or -errno and no callback. The callback comes
 * later from the loop. c and md are not owned. */
int aliyun_check_start(aliyun_client *c, aliyun_metadata *md, aliyun_check_cb cb, void *arg,
                       aliyun_check **out);
/* After it returns no callback fires. */
void aliyun_check_cancel(aliyun_check *chk);

#endif
