/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_AGENT_INTERNAL_H
#define EIP_AGENT_AGENT_INTERNAL_H

/* The agent's context, private to agent/ (and its unit tests). */

#include <stdbool.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/cloud.h"
#include "agent/cluster.h"
#include "agent/controller.h"
#include "agent/kube.h"
#include "agent/metrics.h"
#include "agent/notify.h"
#include "agent/readiness.h"
#include "aliyun/credentials.h"
#include "http/client.h"
#include "http/server.h"

enum agent_state {
    AGENT_STARTING, /* built, not listening yet */
    AGENT_RUNNING,  /* listening, READY=1 sent */
    AGENT_DRAINING, /* first SIGTERM/SIGINT: finishing in-flight work */
    AGENT_STOPPED,  /* every handle closed or closing; the loop ends */
};

/* Connecting to the API server and the cloud, retried until it works. */
enum agent_link {
    LINK_IDLE,    /* not started (or the eip controller is off) */
    LINK_WAIT,    /* failed; the retry timer runs */
    LINK_PENDING, /* asking (cloud: region/VPC; credentials: first fetch) */
    LINK_UP,
};

struct agent {
    uv_loop_t *loop;
    struct agent_config *cfg;    /* borrowed; outlives the agent */
    const struct agent_cli *cli; /* borrowed; re-applied on SIGHUP */
    enum agent_state state;
    char listen_addr[64]; /* host:port actually bound (after agent_start) */

    http_server *server;
    http_client *http; /* NULL once draining started */
    metrics *metrics;
    metric_family *m_http_requests;  /* eip_agent_http_requests_total{path,code} */
    metric_family *m_k8s_requests;   /* eip_agent_k8s_requests_total{verb,code} */
    metric_family *m_cloud_requests; /* eip_agent_cloud_requests_total{action,code} */
    metric_family *m_cloud_seconds;  /* eip_agent_cloud_request_duration_seconds{action} */
    readiness *ready;
    agent_notify *notify;

    /* the product (NULL when the eip controller is not enabled) */
    struct controller *ctl;
    struct cluster *cluster; /* leader election and cluster GC */
    bool lease_pending;      /* stopping: the Lease is being released (keeps kube and http) */
    agent_kube *kube;
    agent_cloud *cloud;
    enum agent_link kube_link, cloud_link, creds_link;
    int kube_failures, cloud_failures, creds_failures;
    uv_timer_t link_timer;
    aliyun_creds_waiter creds_waiter;

    struct {
        void (*cb)(struct agent *a, void *arg);
        void *arg;
    } stop_hooks[16];
    size_t n_stop_hooks;

    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain_timer;
    bool in_server_shutdown; /* inside http_server_shutdown() */
    bool drained;
    bool free_requested;
    unsigned open_handles; /* the agent's own handles not yet closed */
    int exit_code;
};

/* Registers GET /healthz, /readyz and /metrics on the agent's server. */
int agent_health_routes(struct agent *a);
/* Registers GET / (the status page for people, agent/page.h). */
int agent_page_routes(struct agent *a);

#endif
