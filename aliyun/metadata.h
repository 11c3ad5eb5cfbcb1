/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_METADATA_H
#define EIP_ALIYUN_METADATA_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "aliyun/transport.h"

/* ECS instance metadata (http://100.100.100.200/latest/meta-data/...). Hardened
 * mode: a token from PUT /latest/api/token (X-aliyun-ecs-metadata-token-ttl-seconds)
 * is sent as X-aliyun-ecs-metadata-token, cached and fetched again before it
 * expires; when the server does not hand one out, requests go without it (normal
 * mode) and the token is tried again later. */

/* Paths under /latest/meta-data/ that the agent reads. */
#define ALIYUN_MD_REGION_ID "region-id"
#define ALIYUN_MD_INSTANCE_ID "instance-id"
#define ALIYUN_MD_VPC_ID "vpc-id"
#define ALIYUN_MD_MACS "network/interfaces/macs/"
#define ALIYUN_MD_RAM_ROLES "ram/security-credentials/"

typedef struct aliyun_metadata aliyun_metadata;
typedef struct aliyun_md_req aliyun_md_req;

typedef struct aliyun_metadata_opts {
    uv_loop_t *loop; /* required; borrowed, outlives the client */
    /* required; copied (the struct of functions), its ctx is borrowed and
     * outlives the client */
    const aliyun_transport *transport;
    const char *endpoint;  /* NULL: "http://100.100.100.200"; copied */
    bool disable_token;    /* never ask for a token (normal mode only) */
    int token_ttl_seconds; /* 0: 21600 (the documented maximum) */
    long timeout_ms;       /* per attempt; 0: 3000 */
    int max_attempts;      /* on transport errors and 5xx; 0: 3 */
} aliyun_metadata_opts;

/* 0 and *out, or a negative errno with a one-line reason in err (*out NULL,
 * nothing left open): -EINVAL (no loop or transport), -ENOMEM, a libuv error.
 * Nothing is sent yet. */
int aliyun_metadata_new(aliyun_metadata **out, const aliyun_metadata_opts *opts, char *err,
                        size_t errlen);
/* Cancels every request (no callback fires). NULL is a no-op. */
void aliyun_metadata_free(aliyun_metadata *md);
const char *aliyun_metadata_endpoint(const aliyun_metadata *md);

/* err: 0 and the body (NUL-terminated, borrowed for the callback), -ENOENT (404),
 * -EACCES (refused), -ETIMEDOUT, -EIO (other failures). */
typedef void (*aliyun_metadata_cb)(int err, const char *value, size_t len, void *arg);

/* GET /latest/meta-data/<path>, e.g. "region-id", "instance-id", "vpc-id",
 * "network/interfaces/macs/", "ram/security-credentials/". The callback comes
 * later from the loop. 0 and *out (may be NULL), or -errno and no callback. */
int aliyun_metadata_get(aliyun_metadata *md, const char *path, aliyun_metadata_cb cb, void *arg,
                        aliyun_md_req **out);
/* After it returns no callback fires for req. */
void aliyun_md_req_cancel(aliyun_md_req *req);

/* eni_id and mac are borrowed for the callback. err -ENOENT: no ENI of this
 * instance holds ip. */
typedef void (*aliyun_metadata_eni_cb)(int err, const char *eni_id, const char *mac, void *arg);
/* Finds the ENI holding the private IPv4 ip: from the cache, else by listing the
 * MACs and each MAC's private-ipv4s and network-interface-id (the cache is
 * rebuilt on a miss). */
int aliyun_metadata_find_eni(aliyun_metadata *md, const char *ip, aliyun_metadata_eni_cb cb,
                             void *arg, aliyun_md_req **out);
/* Synchronous cache lookup: 0 and eni (cap bytes) on a hit, -ENOENT otherwise. */
int aliyun_metadata_cached_eni(const aliyun_metadata *md, const char *ip, char *eni, size_t cap);
void aliyun_metadata_invalidate_enis(aliyun_metadata *md);

#endif
