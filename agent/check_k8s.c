/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/check.h"
#include "agent/kube.h"
#include "agent/podeip.h"
#include "common/err.h"
#include "k8s/check.h"

/* "kubernetes": builds the Kubernetes side exactly as the agent does
 * (agent/kube.c), then GET /version, one LIST of this node's pods with
 * limit=1 and one LIST of PodEIPs with limit=1 (a pod is Ready only once its
 * PodEIP is written: without the CRD, or the right to it, no pod would be). */

struct k8s_probe {
    check_run *run;
    agent_kube *kube;
    k8s_check *chk;
    k8s_call *call;
    char detail[1024]; /* what the API server check said */
};

static void probe_free(struct k8s_probe *p)
{
    k8s_call_cancel(p->call);
    agent_kube_free(p->kube);
    free(p);
}

static void finish(struct k8s_probe *p, bool ok, const char *detail)
{
    check_run *run = p->run;
    check_run_set_data(run, NULL);
    char d[1200];
    eip_seterr(d, sizeof(d), "%s", detail);
    probe_free(p);
    check_done(run, ok, "%s", d);
}

static void on_podeips(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    struct k8s_probe *p = arg;
    p->call = NULL;
    char d[1200];
    if (resp->result == K8S_OK)
        eip_seterr(d, sizeof(d), "%s; PodEIPs can be listed", p->detail);
    else if (resp->result == K8S_E_NOT_FOUND)
        eip_seterr(d, sizeof(d),
                   "LIST %s/podeips: not found: the PodEIP CRD (podeips.alibabacloud.com, "
                   "daemonset/podeip-crd.yaml) is not installed",
                   PODEIP_API);
    else
        eip_seterr(d, sizeof(d), "LIST %s/podeips failed: %s (%s)", PODEIP_API,
                   k8s_result_name(resp->result), resp->status.message);
    finish(p, resp->result == K8S_OK, d);
}

static void on_checked(bool ok, const char *detail, void *arg)
{
    struct k8s_probe *p = arg;
    p->chk = NULL;
    if (!ok) {
        finish(p, false, detail);
        return;
    }
    eip_seterr(p->detail, sizeof(p->detail), "%s", detail);
    int r =
        k8s_get(agent_kube_client(p->kube), PODEIP_API "/podeips?limit=1", on_podeips, p, &p->call);
    if (r) {
        char d[128];
        eip_seterr(d, sizeof(d), "cannot send the PodEIP LIST: %s", strerror(-r));
        finish(p, false, d);
    }
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
