/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_STS_INTERNAL_H
#define EIP_ALIYUN_STS_INTERNAL_H

#include "aliyun/credentials.h"
#include "aliyun/errors.h"
#include "aliyun/transport.h"

/* Internal to aliyun/ (the credential chain's RRSA source, and its tests).
 * STS 2015-04-01 AssumeRoleWithOIDC: anonymous (the OIDC token is the proof), so
 * it needs no credential and is sent directly, not through aliyun_client (which
 * needs a credential to exist). One attempt; the credential chain retries. */

typedef struct aliyun_oidc_params {
    const char *endpoint; /* full URL, e.g. https://sts-vpc.cn-hangzhou.aliyuncs.com */
    const char *ca_file;  /* NULL: the transport's default */
    long timeout_ms;
    const char *role_arn;
    const char *oidc_provider_arn;
    const char *oidc_token;
    const char *role_session_name;
    int duration_seconds; /* 0: omitted (STS default 3600) */
} aliyun_oidc_params;

/* err 0: cred filled (owned by the callee: copy what is needed; it is wiped after
 * the callback). err < 0: e says why (Code/Message, never the token). */
typedef void (*aliyun_oidc_cb)(int err, const aliyun_credential *cred, const aliyun_error *e,
                               void *arg);

/* 0 and *out, or -errno and no callback. Cancel with transport->cancel(*out). */
int aliyun_sts_assume_role_with_oidc(const aliyun_transport *tr, const aliyun_oidc_params *p,
                                     aliyun_oidc_cb cb, void *arg, http_request **out);

#endif
