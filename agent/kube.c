/* SPDX-License-Identifier: MIT */
#include "agent/kube.h"
#include "common/err.h"

#include <errno.h>
#include <stdlib.h>

#include "k8s/config.h"

struct agent_kube {
    k8s_config *cfg;
    k8s_client *client;
};

int agent_kube_new(agent_kube **out, const agent_kube_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    agent_kube *k = calloc(1, sizeof(*k));
    if (!k) {
        eip_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int r = k8s_config_load(opts->cfg->kubeconfig, &k->cfg, err, errlen);
    if (r)
        goto fail;
    k8s_client_opts o = {.qps = opts->cfg->kube_qps, .burst = opts->cfg->kube_burst};
    k->client = k8s_client_new(opts->loop, opts->http, k->cfg, &o, err, errlen);
    if (!k->client) {
        r = -EINVAL;
        goto fail;
    }
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
