/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_ENI_H
#define EIP_AGENT_ENI_H

#include <stdbool.h>
#include <uv.h>

#include "aliyun/client.h"
#include "aliyun/metadata.h"

/* Which ENI holds a pod IP, and is the IP that ENI's primary address (then the
 * association leaves PrivateIpAddress out)? On an ECS node the instance
 * metadata answers (cached per MAC, listed again on a miss; one metadata scan
 * at a time, so a burst of pods costs one scan); DescribeNetworkInterfaces is the
 * fallback, and the only source on virtual nodes: pending IPs are asked together
 * (PrivateIpAddress.N, up to 100), then one by one as PrimaryIpAddress. */

typedef struct eni_resolver eni_resolver;
typedef struct eni_req eni_req;

/* err 0: eni_id (borrowed for the call) holds ip, primary when it is the ENI's
 * primary address; -ENOENT: no ENI holds it; other: the lookup failed (detail
 * says why). From the loop; the request is gone after the call. */
typedef void (*eni_cb)(int err, const char *eni_id, bool primary, const char *detail, void *arg);

typedef struct eni_resolver_opts {
    uv_loop_t *loop;
    aliyun_metadata *md;   /* borrowed; NULL: the API only (virtual nodes) */
    aliyun_client *client; /* borrowed */
    const char *vpc_id;    /* narrows the API lookups; may be NULL */
} eni_resolver_opts;

int eni_resolver_new(eni_resolver **out, const eni_resolver_opts *opts);
/* Cancels every request (no callback) and frees. NULL is a no-op. */
void eni_resolver_free(eni_resolver *er);

/* 0 and *out (may be NULL), or -EINVAL/-ENOMEM and no callback. The callback
 * always comes later from the loop. */
int eni_resolve(eni_resolver *er, const char *ip, eni_cb cb, void *arg, eni_req **out);
/* No callback after this. */
void eni_req_cancel(eni_req *r);

typedef struct eni_resolver_stats {
    unsigned long long metadata_lookups, api_calls, resolved, not_found, failed;
} eni_resolver_stats;
void eni_resolver_get_stats(const eni_resolver *er, eni_resolver_stats *out);

#endif
