/* SPDX-License-Identifier: MIT */
/* Allocation failure in every constructor of k8s/, aliyun/ and agent/: with
 * each allocation failing in turn, a constructor either returns 0 (the object
 * is then freed and the loop run until no handle is left) or a negative errno
 * (-ENOMEM, since only memory failed) with *out NULL, a reason in err, and
 * nothing left open on the loop. What a constructor needs (the HTTP client, the
 * configuration, the Kubernetes client...) is built outside the walk: only the
 * constructor named is walked. LeakSanitizer runs after every attempt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "agent/cloud.h"
#include "agent/cluster.h"
#include "agent/config.h"
#include "agent/controller.h"
#include "agent/kube.h"
#include "agent/metrics.h"
#include "agent/readiness.h"
#include "aliyun/client.h"
#include "aliyun/credentials.h"
#include "aliyun/metadata.h"
#include "alloc_fail.h"
#include "http/client.h"
#include "k8s/k8s.h"
#include "support_fake.h"
#include "test_tmp.h"

static char dir[96], kubeconfig[128], oidc_token[128];

static const char kubeconfig_yaml[] = "apiVersion: v1\n"
                                      "kind: Config\n"
                                      "clusters:\n"
                                      "- name: c1\n"
                                      "  cluster:\n"
                                      "    server: https://127.0.0.1:6443/\n"
                                      "    certificate-authority-data: Q0EgUEVNCg==\n"
                                      "users:\n"
                                      "- name: u1\n"
                                      "  user:\n"
                                      "    token: abc.def\n"
                                      "contexts:\n"
                                      "- name: ctx1\n"
                                      "  context:\n"
                                      "    cluster: c1\n"
                                      "    user: u1\n"
                                      "    namespace: kube-system\n"
                                      "current-context: ctx1\n";

/* What the constructors are given; built with the walk paused. */
typedef struct fx {
    uv_loop_t loop;
    http_client *http;
    k8s_config *kcfg;
    k8s_client *kc;
    fake_transport ft;
    aliyun_transport tr;
    aliyun_creds *creds;
    struct agent_config cfg;
    struct agent_cli cli;
    metrics *m;
    readiness *ready;
    struct controller *ctl;
    bool eip_controller;
} fx;

typedef struct ctor_case {
    const char *name;
    unsigned needs; /* NEED_* */
    /* The constructor under test: 0 and *out, or -errno, *out NULL and err. */
    int (*make)(fx *f, void **out, char *err, size_t errlen);
    void (*destroy)(void *obj);
    bool eip_controller; /* agent_new: the eip controller on */
    /* agent_new: its parts (the controller's and cluster's timers, idle) are
     * closed from the agent's last close callback, once the loop has run */
    bool parts_close_later;
} ctor_case;

enum {
    NEED_HTTP = 1,
    NEED_KC = 2, /* the Kubernetes client (and the HTTP client) */
    NEED_CREDS = 4,
    NEED_CFG = 8,
    NEED_CTL = 16, /* the controller (and the configuration, metrics, readiness) */
};

static void fx_up(fx *f, const ctor_case *cc)
{
    memset(f, 0, sizeof(*f));
    char err[256] = "";
    assert_int_equal(uv_loop_init(&f->loop), 0);
    fake_init(&f->ft, &f->loop, NULL, NULL);
    f->tr = fake_get(&f->ft);
    if (cc->needs & (NEED_HTTP | NEED_KC)) {
        http_client_opts ho = {.loop = &f->loop};
        assert_int_equal(http_client_new(&f->http, &ho, err, sizeof(err)), 0);
    }
    if (cc->needs & NEED_KC) {
        k8s_config_opts ko = {.kubeconfig = kubeconfig};
        assert_int_equal(k8s_config_kubeconfig(&f->kcfg, &ko, err, sizeof(err)), 0);
        k8s_client_opts o = {.loop = &f->loop, .http = f->http, .config = f->kcfg};
        assert_int_equal(k8s_client_new(&f->kc, &o, err, sizeof(err)), 0);
    }
    if (cc->needs & NEED_CREDS) {
        aliyun_creds_opts co = {.loop = &f->loop,
                                .transport = &f->tr,
                                .access_key_id = "LTAItest",
                                .access_key_secret = "testsecret"};
        assert_int_equal(aliyun_creds_new(&f->creds, &co, err, sizeof(err)), 0);
    }
    if (cc->needs & (NEED_CFG | NEED_CTL)) {
        agent_config_init(&f->cfg);
        f->cfg.listen = strdup("127.0.0.1:0");
        f->cfg.node_name = strdup("n1");
        f->cfg.cluster_id = strdup("c1");
        f->cfg.region_id = strdup("cn-hangzhou");
        f->cfg.vpc_id = strdup("vpc-1");
        f->cfg.access_key_id = strdup("LTAItest");
        f->cfg.access_key_secret = strdup("testsecret");
        f->cfg.kubeconfig = strdup(kubeconfig);
        assert_int_equal(agent_config_finish(&f->cfg, true, err, sizeof(err)), 0);
        f->cfg.eip_controller = cc->eip_controller;
        assert_int_equal(metrics_new(&f->m), 0);
        assert_int_equal(readiness_new(&f->ready), 0);
    }
    if (cc->needs & NEED_CTL) {
        controller_opts co = {.loop = &f->loop, .cfg = &f->cfg, .metrics = f->m, .ready = f->ready};
        assert_int_equal(controller_new(&f->ctl, &co, err, sizeof(err)), 0);
    }
}

static void fx_down(fx *f)
{
    controller_free(f->ctl);
    aliyun_creds_free(f->creds);
    k8s_client_free(f->kc);
    k8s_config_free(f->kcfg);
    http_client_free(f->http);
    fake_free(&f->ft);
    assert_int_equal(alloc_loop_drain(&f->loop), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    if (f->m) {
        metrics_free(f->m);
        readiness_free(f->ready);
        agent_config_free(&f->cfg);
    }
}

static void count_open(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        (*(int *)arg)++;
}

static void count_active(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h) && uv_is_active(h))
        (*(int *)arg)++;
}

/* Handles on the loop that are not closing (active: that would also run or keep
 * the loop alive). */
static int open_handles(uv_loop_t *loop, bool active)
{
    int n = 0;
    uv_walk(loop, active ? count_active : count_open, &n);
    return n;
}

static int run_ctor(void *arg)
{
    const ctor_case *cc = arg;
    fx f;
    alloc_fail_pause();
    fx_up(&f, cc);
    int before = alloc_loop_handles(&f.loop);
    int before_open = open_handles(&f.loop, cc->parts_close_later);
    alloc_fail_resume();

    void *obj = (void *)(uintptr_t)1;
    char err[512] = "";
    int r = cc->make(&f, &obj, err, sizeof(err));

    alloc_fail_pause();
    if (r == 0) {
        assert_non_null(obj);
        cc->destroy(obj);
    } else {
        if (r != -ENOMEM)
            fail_msg("%s: %d (%s) after %lu allocations, want -ENOMEM", cc->name, r, err,
                     alloc_fail_count());
        if (obj)
            fail_msg("%s: failed (%d) but *out is set", cc->name, r);
        if (!err[0])
            fail_msg("%s: failed (%d) without a reason", cc->name, r);
        /* nothing left open: handles it made are closed already */
        int left = open_handles(&f.loop, cc->parts_close_later) - before_open;
        if (left > 0)
            fail_msg("%s: failed (%d) and left %d handles open", cc->name, r, left);
    }
    /* what it made goes once the loop ran its close callbacks */
    for (int i = 0; i < 100 && alloc_loop_handles(&f.loop) > before; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    if (alloc_loop_handles(&f.loop) != before)
        fail_msg("%s: %d handles left after %s", cc->name, alloc_loop_handles(&f.loop) - before,
                 r ? "the failure" : "its free");
    fx_down(&f);
    alloc_fail_resume();
    return r;
}

/* ---- the constructors ---- */

static int make_kubeconfig(fx *f, void **out, char *err, size_t errlen)
{
    (void)f;
    k8s_config_opts o = {.kubeconfig = kubeconfig};
    k8s_config *c = (k8s_config *)(uintptr_t)1;
    int r = k8s_config_kubeconfig(&c, &o, err, errlen);
    if (!r) {
        alloc_fail_pause();
        /* never half a configuration */
        assert_string_equal(c->server, "https://127.0.0.1:6443");
        assert_string_equal(c->ca_pem, "CA PEM\n");
        assert_string_equal(c->token, "abc.def");
        assert_string_equal(c->namespace, "kube-system");
        assert_string_equal(c->source, kubeconfig);
        alloc_fail_resume();
    }
    *out = c;
    return r;
}

static void free_kubeconfig(void *obj)
{
    k8s_config_free(obj);
}

static int make_k8s_client(fx *f, void **out, char *err, size_t errlen)
{
    k8s_client_opts o = {
        .loop = &f->loop, .http = f->http, .config = f->kcfg, .user_agent = "walk/1"};
    k8s_client *c = (k8s_client *)(uintptr_t)1;
    int r = k8s_client_new(&c, &o, err, errlen);
    *out = c;
    return r;
}

static void free_k8s_client(void *obj)
{
    k8s_client_free(obj);
}

static void on_event(k8s_reflector *r, k8s_event_type t, json_t *obj, json_t *old, void *arg)
{
    (void)r;
    (void)t;
    (void)obj;
    (void)old;
    (void)arg;
}

static int make_reflector(fx *f, void **out, char *err, size_t errlen)
{
    k8s_reflector_opts o = {.client = f->kc,
                            .path = "/api/v1/pods",
                            .field_selector = "spec.nodeName=n1",
                            .label_selector = "app=web",
                            .on_event = on_event};
    k8s_reflector *r = (k8s_reflector *)(uintptr_t)1;
    int e = k8s_reflector_new(&r, &o, err, errlen);
    *out = r;
    return e;
}

static void free_reflector(void *obj)
{
    k8s_reflector_free(obj);
}

static int make_recorder(fx *f, void **out, char *err, size_t errlen)
{
    k8s_recorder_opts o = {.client = f->kc, .component = "eip-agent", .host = "n1"};
    k8s_recorder *r = (k8s_recorder *)(uintptr_t)1;
    int e = k8s_recorder_new(&r, &o, err, errlen);
    *out = r;
    return e;
}

static void free_recorder(void *obj)
{
    k8s_recorder_free(obj);
}

static int make_leader(fx *f, void **out, char *err, size_t errlen)
{
    k8s_leader_opts o = {
        .client = f->kc, .namespace = "kube-system", .name = "eip-agent", .identity = "n1"};
    k8s_leader *l = (k8s_leader *)(uintptr_t)1;
    int e = k8s_leader_new(&l, &o, err, errlen);
    *out = l;
    return e;
}

static void free_leader(void *obj)
{
    k8s_leader_free(obj);
}

static int make_metadata(fx *f, void **out, char *err, size_t errlen)
{
    aliyun_metadata_opts o = {
        .loop = &f->loop, .transport = &f->tr, .endpoint = "http://100.100.100.200"};
    aliyun_metadata *md = (aliyun_metadata *)(uintptr_t)1;
    int e = aliyun_metadata_new(&md, &o, err, errlen);
    *out = md;
    return e;
}

static void free_metadata(void *obj)
{
    aliyun_metadata_free(obj);
}

static int make_creds_static(fx *f, void **out, char *err, size_t errlen)
{
    aliyun_creds_opts o = {.loop = &f->loop,
                           .transport = &f->tr,
                           .access_key_id = "LTAItest",
                           .access_key_secret = "testsecret",
                           .security_token = "sts-token"};
    aliyun_creds *c = (aliyun_creds *)(uintptr_t)1;
    int e = aliyun_creds_new(&c, &o, err, errlen);
    *out = c;
    return e;
}

static int make_creds_rrsa(fx *f, void **out, char *err, size_t errlen)
{
    aliyun_creds_opts o = {.loop = &f->loop,
                           .transport = &f->tr,
                           .role_arn = "acs:ram::1:role/eip",
                           .oidc_provider_arn = "acs:ram::1:oidc-provider/ack",
                           .oidc_token_file = oidc_token,
                           .sts_endpoint = "https://sts-vpc.cn-hangzhou.aliyuncs.com",
                           .role_session_name = "walk"};
    aliyun_creds *c = (aliyun_creds *)(uintptr_t)1;
    int e = aliyun_creds_new(&c, &o, err, errlen);
    *out = c;
    return e;
}

static void free_creds(void *obj)
{
    aliyun_creds_free(obj);
}

static int make_aliyun_client(fx *f, void **out, char *err, size_t errlen)
{
    aliyun_client_opts o = {.loop = &f->loop,
                            .transport = &f->tr,
                            .creds = f->creds,
                            .region_id = "cn-hangzhou",
                            .ca_file = "/etc/ssl/ca.pem"};
    o.endpoint[ALIYUN_SVC_ECS] = "https://ecs.test:8443";
    aliyun_client *c = (aliyun_client *)(uintptr_t)1;
    int e = aliyun_client_new(&c, &o, err, errlen);
    *out = c;
    return e;
}

static void free_aliyun_client(void *obj)
{
    aliyun_client_free(obj);
}

static int make_agent_cloud(fx *f, void **out, char *err, size_t errlen)
{
    agent_cloud_opts o = {.loop = &f->loop, .http = f->http, .cfg = &f->cfg, .want_metadata = true};
    agent_cloud *c = (agent_cloud *)(uintptr_t)1;
    int e = agent_cloud_new(&c, &o, err, errlen);
    *out = c;
    return e;
}

static void free_agent_cloud(void *obj)
{
    agent_cloud_free(obj);
}

static int make_agent_kube(fx *f, void **out, char *err, size_t errlen)
{
    agent_kube_opts o = {.loop = &f->loop, .http = f->http, .cfg = &f->cfg};
    agent_kube *k = (agent_kube *)(uintptr_t)1;
    int e = agent_kube_new(&k, &o, err, errlen);
    *out = k;
    return e;
}

static void free_agent_kube(void *obj)
{
    agent_kube_free(obj);
}

static int make_controller(fx *f, void **out, char *err, size_t errlen)
{
    controller_opts o = {.loop = &f->loop, .cfg = &f->cfg, .metrics = f->m, .ready = f->ready};
    struct controller *c = (struct controller *)(uintptr_t)1;
    int e = controller_new(&c, &o, err, errlen);
    *out = c;
    return e;
}

static void free_controller(void *obj)
{
    controller_free(obj);
}

static int make_cluster(fx *f, void **out, char *err, size_t errlen)
{
    cluster_opts o = {.loop = &f->loop, .cfg = &f->cfg, .ctl = f->ctl, .metrics = f->m};
    struct cluster *g = (struct cluster *)(uintptr_t)1;
    int e = cluster_new(&g, &o, err, errlen);
    *out = g;
    return e;
}

static void free_cluster(void *obj)
{
    cluster_free(obj);
}

static int make_agent(fx *f, void **out, char *err, size_t errlen)
{
    struct agent *a = (struct agent *)(uintptr_t)1;
    int e = agent_new(&a, &f->loop, &f->cfg, &f->cli, err, errlen);
    *out = a;
    return e;
}

static void free_agent(void *obj)
{
    agent_free(obj);
}

static ctor_case cases[] = {
    {.name = "k8s_config_kubeconfig", .make = make_kubeconfig, .destroy = free_kubeconfig},
    {.name = "k8s_client_new",
     .needs = NEED_HTTP | NEED_KC,
     .make = make_k8s_client,
     .destroy = free_k8s_client},
    {.name = "k8s_reflector_new",
     .needs = NEED_KC,
     .make = make_reflector,
     .destroy = free_reflector},
    {.name = "k8s_recorder_new", .needs = NEED_KC, .make = make_recorder, .destroy = free_recorder},
    {.name = "k8s_leader_new", .needs = NEED_KC, .make = make_leader, .destroy = free_leader},
    {.name = "aliyun_metadata_new", .make = make_metadata, .destroy = free_metadata},
    {.name = "aliyun_creds_new (static key)", .make = make_creds_static, .destroy = free_creds},
    {.name = "aliyun_creds_new (RRSA)", .make = make_creds_rrsa, .destroy = free_creds},
    {.name = "aliyun_client_new",
     .needs = NEED_CREDS,
     .make = make_aliyun_client,
     .destroy = free_aliyun_client},
    {.name = "agent_cloud_new",
     .needs = NEED_HTTP | NEED_CFG,
     .make = make_agent_cloud,
     .destroy = free_agent_cloud},
    {.name = "agent_kube_new",
     .needs = NEED_HTTP | NEED_CFG,
     .make = make_agent_kube,
     .destroy = free_agent_kube},
    {.name = "controller_new",
     .needs = NEED_CFG,
     .make = make_controller,
     .destroy = free_controller},
    {.name = "cluster_new", .needs = NEED_CTL, .make = make_cluster, .destroy = free_cluster},
    {.name = "agent_new (eip controller off)",
     .needs = NEED_CFG,
     .make = make_agent,
     .destroy = free_agent,
     .parts_close_later = true},
    {.name = "agent_new (eip controller on)",
     .needs = NEED_CFG,
     .make = make_agent,
     .destroy = free_agent,
     .eip_controller = true,
     .parts_close_later = true},
};

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(eip_test_tmp_path(dir, sizeof(dir), "alloc-ctors-XXXXXX"), 0);
    assert_non_null(mkdtemp(dir));
    assert_true(snprintf(kubeconfig, sizeof(kubeconfig), "%s/config", dir) <
                (int)sizeof(kubeconfig));
    assert_true(snprintf(oidc_token, sizeof(oidc_token), "%s/token", dir) <
                (int)sizeof(oidc_token));
    write_file(kubeconfig, kubeconfig_yaml);
    write_file(oidc_token, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n");
    alloc_fail_install();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(kubeconfig);
    unlink(oidc_token);
    rmdir(dir);
    return 0;
}

static void walk(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long n = alloc_fail_walk(cases[i].name, run_ctor, &cases[i], 5000);
        assert_true(n > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(walk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
