/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_CLOUD_H
#define EIP_AGENT_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/metrics.h"
#include "aliyun/client.h"
#include "aliyun/credentials.h"
#include "aliyun/metadata.h"
#include "http/client.h"

/* The Alibaba Cloud side of the agent, built from the configuration in one
 * place for the agent and for --check-config: the instance metadata client, the
 * credential chain and the OpenAPI client. The region and the VPC come from the
 * configuration, else from the instance metadata (region-id, vpc-id), which is
 * why the client exists only after agent_cloud_start() has called back. */

typedef struct agent_cloud agent_cloud;

typedef struct agent_cloud_opts {
    uv_loop_t *loop;
    http_client *http;              /* borrowed; outlives the cloud */
    const struct agent_config *cfg; /* borrowed; outlives the cloud */
    /* Build the metadata client even when the configuration names region and
     * VPC (the agent resolves ENIs through it); false: only when needed. */
    bool want_metadata;
    int max_attempts; /* per cloud call; 0: the client's default */
    /* eip_agent_cloud_requests_total{action,code} and
     * eip_agent_cloud_request_duration_seconds{action} (borrowed; may be NULL) */
    metric_family *requests, *seconds;
} agent_cloud_opts;

/* 0 and *out, or -errno with a one-line reason in err (bad endpoint or
 * signature version...). Nothing is sent yet. */
int agent_cloud_new(agent_cloud **out, const agent_cloud_opts *opts, char *err, size_t errlen);
/* Cancels whatever runs (no callback fires afterwards) and frees. NULL is a no-op. */
void agent_cloud_free(agent_cloud *c);

/* err 0: the client is built (credentials are fetched on first use). Otherwise
 * detail says what failed ("regionID is not configured and the instance
 * metadata at ... did not answer: ..."), never a secret. */
typedef void (*agent_cloud_ready_cb)(agent_cloud *c, int err, const char *detail, void *arg);
/* Resolves region and VPC, then builds the credential chain and the client.
 * The callback comes later from the loop, exactly once (unless the cloud is
 * freed first). 0, -EALREADY, or -ENOMEM and no callback. */
int agent_cloud_start(agent_cloud *c, agent_cloud_ready_cb cb, void *arg);

/* NULL until ready. */
aliyun_client *agent_cloud_client(const agent_cloud *c);
aliyun_creds *agent_cloud_creds(const agent_cloud *c);
/* NULL when not built (virtual nodes, or not wanted). */
aliyun_metadata *agent_cloud_metadata(const agent_cloud *c);
const char *agent_cloud_region(const agent_cloud *c); /* NULL until known */
const char *agent_cloud_vpc(const agent_cloud *c);    /* NULL when unknown */

#endif
