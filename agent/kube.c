/* SPDX-License-Identifier: MIT */
#include "agent/kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "k8s/config.h"

struct agent_kube {
    k8s_config *cfg;
    k8s_client *client;
    metric_family *requests;
};

static void on_result(const char *verb, long http_status, k8s_result result, void *arg)
{
    agent_kube *k = arg;
    char code[24];
    if (http_status > 0)
        eip_seterr(code, sizeof(code), "%ld", http_status); /* a number: always fits */
    else
        eip_seterr(code, sizeof(code), "%s", k8s_result_name(result));
    const char *v[] = {verb, code};
    metrics_inc(k->requests, v);
}

int agent_kube_new(agent_kube **out, const agent_kube_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    agent_kube *k = calloc(1, sizeof(*k));
    if (!k) {
        eip_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const struct agent_config *cfg = opts->cfg;
    k8s_config_opts cc = {.kubeconfig = cfg->kubeconfig,
                          .service_host = cfg->kube_service_host,
                          .service_port = cfg->kube_service_port};
    int r = k8s_config_load(&k->cfg, &cc, err, errlen);
    if (r)
        goto fail;
    k8s_client_opts o = {.loop = opts->loop,
                         .http = opts->http,
                         .config = k->cfg,
                         .qps = cfg->kube_qps,
                         .burst = cfg->kube_burst,
                         .on_result = opts->requests ? on_result : NULL,
                         .on_result_arg = k};
    k->requests = opts->requests;
    r = k8s_client_new(&k->client, &o, err, errlen);
    if (r)
        goto fail;
    *out = k;
    return 0;
fail:
    agent_kube_free(k);
    return r;
}

void agent_kube_free(agent_kube *k)
{
    if (!k)
        return;
    k8s_client_free(k->client);
    k8s_config_free(k->cfg);
    free(k);
}

k8s_client *agent_kube_client(const agent_kube *k)
{
    return k->client;
}

const char *agent_kube_source(const agent_kube *k)
{
    return k->cfg->source ? k->cfg->source : "";
}
