/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "agent/check.h"
#include "agent/kube.h"
#include "k8s/check.h"

/* "kubernetes": builds the Kubernetes side exactly as the agent does
 * (agent/kube.c), then GET /version and one LIST of this node's pods with
 * limit=1. */

struct k8s_probe {
    check_run *run;
    agent_kube *kube;
    k8s_check *chk;
};

static void probe_free(struct k8s_probe *p)
{
    agent_kube_free(p->kube);
    free(p);
}

static void on_checked(bool ok, const char *detail, void *arg)
{
    struct k8s_probe *p = arg;
    check_run *run = p->run;
    p->chk = NULL;
    check_run_set_data(run, NULL);
    probe_free(p);
    check_done(run, ok, "%s", detail);
}

static int start(check_run *run, const struct check_env *env, void *arg)
{
    (void)arg;
    char err[512];
    if (!env->cfg->node_name || !*env->cfg->node_name) {
        check_done(run, false, "nodeName (NODE_NAME) is not set");
        return 0;
    }
    if (!env->http) {
        check_done(run, false, "no HTTP client");
        return 0;
    }
    struct k8s_probe *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->run = run;
    agent_kube_opts ko = {.loop = env->loop, .http = env->http, .cfg = env->cfg};
    if (agent_kube_new(&p->kube, &ko, err, sizeof(err)) != 0) {
        probe_free(p);
        check_done(run, false, "%s", err);
        return 0;
    }
    int r =
        k8s_check_start(agent_kube_client(p->kube), env->cfg->node_name, on_checked, p, &p->chk);
    if (r) {
        probe_free(p);
        return r;
    }
    check_run_set_data(run, p);
    return 0;
}

static void cancel(check_run *run, void *arg)
{
    (void)arg;
    struct k8s_probe *p = check_run_data(run);
    if (!p)
        return;
    k8s_check_cancel(p->chk);
    probe_free(p);
    check_run_set_data(run, NULL);
}

int check_k8s_register(check_registry *reg)
{
    return check_registry_add(reg, "kubernetes", start, cancel, 0, NULL);
}
