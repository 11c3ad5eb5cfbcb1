/* SPDX-License-Identifier: MIT */
#include "agent/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/podeip.h"
#include "aliyun/vpc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/pct.h"
#include "common/str.h"
#include "common/timer.h"
#include "common/timeutil.h"
#include "k8s/lease.h"

#define LEASE_NAME "eip-agent"
#define LIST_PAGE 500
#define MAX_LIST_BYTES (64u << 20)

/* One GC run is a chain of steps; exactly one request is in flight at a time. */
enum gc_step {
    GC_IDLE,
    GC_NODES,   /* LIST nodes */
    GC_PODS,    /* LIST pods (paged) */
    GC_PODEIPS, /* LIST podeips (paged) */
    GC_EIPS,    /* DescribeEipAddresses, this cluster's tag, every page */
    GC_CHECK,   /* DescribeEipAddresses of PodEIPs' EIPs not seen tagged */
    GC_DELETE,  /* deleting PodEIPs that point at no EIP */
};

static const char *const step_names[] = {"idle", "nodes", "pods",  "podeips",
                                         "eips", "check", "delete"};

struct cluster {
    uv_loop_t *loop;
    const struct agent_config *cfg;
    struct controller *ctl;
    k8s_client *kc;
    aliyun_client *ac;
    k8s_leader *leader;
    bool leading;
    char holder[256];
    uv_timer_t *timer;
    uint64_t period_ms;

    enum gc_step step;
    k8s_call *call;
    aliyun_pager *pager;
    aliyun_call *acall;
    podeip_op *pop;
    char cont[2048];
    int64_t started_ms;

    json_t *nodes;     /* name -> true */
    json_t *pods;      /* "ns/name" -> uid */
    json_t *podeips;   /* "ns/name" -> PodEIP object */
    json_t *seen_eips; /* AllocationId -> true (this run) */
    json_t *check;     /* [ "ns/name" ] PodEIPs whose EIP was not among the tagged ones */
    size_t check_pos;  /* the next to ask about */
    size_t batch_from; /* the batch in flight is check[batch_from, check_pos) */
    json_t *gone;      /* [ "ns/name" ] PodEIPs whose EIP the cloud does not know */
    size_t gone_pos;
    json_t *orphans;  /* AllocationId -> first run time (ms) it was seen orphaned */
    json_t *snapshot; /* the last run, for /v1/eips */
    json_t *building; /* the run in progress */

    metric_family *m_leader, *m_eips, *m_runs;
    void (*stop_done)(void *arg);
    void *stop_arg;
};

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void set_step(struct cluster *g, enum gc_step s)
{
    if (g->step != s)
        log_debug("cluster GC: %s -> %s", step_names[g->step], step_names[s]);
    g->step = s;
}

/* ---- the run ---- */

static void run_next(struct cluster *g);
static void schedule(struct cluster *g, uint64_t ms);

static void cancel_run(struct cluster *g)
{
    if (g->call)
        k8s_call_cancel(g->call);
    g->call = NULL;
    if (g->pager)
        aliyun_pager_cancel(g->pager);
    g->pager = NULL;
    if (g->acall)
        aliyun_call_cancel(g->acall);
    g->acall = NULL;
    if (g->pop)
        podeip_op_cancel(g->pop);
    g->pop = NULL;
    json_decref(g->building);
    g->building = NULL;
    set_step(g, GC_IDLE);
}

static void run_failed(struct cluster *g, const char *what, const char *detail)
{
    log_warn("cluster GC: %s failed: %s (next run in %llu s)", what, detail,
             (unsigned long long)(g->period_ms / 1000));
    cancel_run(g);
    schedule(g, g->period_ms);
}

static int list_path(struct cluster *g, const char *base, char *out, size_t cap)
{
    char cont[sizeof(g->cont) * 3];
    int n;
    if (g->cont[0]) {
        if (eip_pct_encode_to(cont, sizeof(cont), g->cont) < 0)
            return -E2BIG;
        n = snprintf(out, cap, "%s?limit=%d&continue=%s", base, LIST_PAGE, cont);
    } else {
        n = snprintf(out, cap, "%s?limit=%d", base, LIST_PAGE);
    }
    return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
}

static void on_list(k8s_call *call, const k8s_response *resp, void *arg);

static int send_list(struct cluster *g, const char *base)
{
    char path[8192];
    int r = list_path(g, base, path, sizeof(path));
    if (!r)
        r = k8s_get(g->kc, path, on_list, g, &g->call);
    return r;
}

static const char *step_base(enum gc_step s)
{
    return s == GC_NODES ? "/api/v1/nodes" : s == GC_PODS ? "/api/v1/pods" : PODEIP_API "/podeips";
}

/* A page of nodes, pods or PodEIPs into the run's maps. */
static int take_page(struct cluster *g, json_t *list)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        const json_t *md = json_object_get(it, "metadata");
        const char *name = jstr(md, "name"), *ns = jstr(md, "namespace");
        if (!name)
            continue;
        int r = 0;
        if (g->step == GC_NODES) {
            r = json_object_set_new(g->nodes, name, json_true());
        } else {
            char key[600];
            int n = snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
            if (n < 0 || (size_t)n >= sizeof(key))
                continue;
            if (g->step == GC_PODS) {
                const json_t *st = json_object_get(it, "status");
                const char *phase = jstr(st, "phase");
                bool done = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
                const char *uid = jstr(md, "uid");
                if (uid && !done)
                    r = json_object_set_new(g->pods, key, json_string(uid));
            } else {
                r = json_object_set(g->podeips, key, it);
            }
        }
        if (r)
            return -ENOMEM;
    }
    return 0;
}

static void on_list(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    struct cluster *g = arg;
    g->call = NULL;
    if (resp->result != K8S_OK) {
        char d[600];
        eip_seterr(d, sizeof(d), "%s%s%.500s", k8s_result_name(resp->result),
                   resp->status.message[0] ? ": " : "", resp->status.message);
        run_failed(g, step_base(g->step), d);
        return;
    }
    if (take_page(g, resp->json)) {
        run_failed(g, step_base(g->step), "out of memory");
        return;
    }
    const char *cont = jstr(json_object_get(resp->json, "metadata"), "continue");
    if (cont && *cont) {
        if (strlen(cont) >= sizeof(g->cont)) {
            run_failed(g, step_base(g->step), "continue token too long");
            return;
        }
        eip_strcpy(g->cont, sizeof(g->cont), cont); /* length checked above */
    } else {
        g->cont[0] = '\0';
        set_step(g, g->step == GC_NODES ? GC_PODS : g->step == GC_PODS ? GC_PODEIPS : GC_EIPS);
    }
    run_next(g);
}

/* ---- deciding ---- */

static const char *tag(const aliyun_eip *e, const char *k)
{
    const char *v = aliyun_eip_tag(e, k);
    return v ? v : "";
}

static int add_view(struct cluster *g, const aliyun_eip *e, const char *state, const char *strategy,
                    int64_t release_at_ms)
{
    log_debug("cluster GC: %s (%s/%s on %s): %s, %s", e->allocation_id, tag(e, EIP_TAG_NAMESPACE),
              tag(e, EIP_TAG_NAME), tag(e, EIP_TAG_NODE), state, strategy);
    json_t *v = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "allocationId", e->allocation_id, "address",
        e->ip_address, "status", e->status, "state", state, "namespace", tag(e, EIP_TAG_NAMESPACE),
        "name", tag(e, EIP_TAG_NAME), "node", tag(e, EIP_TAG_NODE), "type",
        aliyun_eip_tag(e, EIP_TAG_TYPE) ? tag(e, EIP_TAG_TYPE) : "Auto", "strategy", strategy);
    if (!v)
        return -ENOMEM;
    if (release_at_ms > 0) {
        char t[40];
        eip_time_format_rfc3339(t, sizeof(t), (time_t)(release_at_ms / 1000));
        if (json_object_set_new(v, "releaseAt", json_string(t))) {
            json_decref(v);
            return -ENOMEM;
        }
    }
    return json_array_append_new(json_object_get(g->building, "eips"), v);
}

/* What to do with one EIP of this cluster. */
static void decide(struct cluster *g, const aliyun_eip *e, int64_t now)
{
    const char *uid = tag(e, EIP_TAG_UID), *node = tag(e, EIP_TAG_NODE);
    char key[600];
    int kn = snprintf(key, sizeof(key), "%s/%s", tag(e, EIP_TAG_NAMESPACE), tag(e, EIP_TAG_NAME));
    if (kn < 0 || (size_t)kn >= sizeof(key))
        return; /* tag values are at most 128 characters: cannot happen */
    const char *live_uid = jstr(g->pods, key);
    bool is_static = strcmp(tag(e, EIP_TAG_TYPE), "Static") == 0;
    if (!*uid)
        return; /* not one of ours */
    if (live_uid && strcmp(live_uid, uid) == 0) {
        json_object_del(g->orphans, e->allocation_id);
        add_view(g, e, strcmp(e->status, "InUse") == 0 ? "Bound" : "Binding", "-", 0);
        return;
    }
    struct podeip_info pi;
    const json_t *pe = json_object_get(g->podeips, key);
    bool points =
        pe && podeip_parse(pe, &pi) == 0 && strcmp(pi.allocation_id, e->allocation_id) == 0;
    if (points && pi.strategy != EIP_RELEASE_FOLLOW) {
        const char *sname = eip_release_strategy_name(pi.strategy);
        if (pi.strategy == EIP_RELEASE_NEVER || live_uid) {
            /* Never; or a pod of that name is back and takes it over */
            add_view(g, e, "Kept", sname, 0);
            return;
        }
        /* TTL from podLastSeen; a record still saying InUse was not marked at the
         * pod's end (its agent was down): count from when the GC first saw it orphaned */
        json_t *first = json_object_get(g->orphans, e->allocation_id);
        if (!first) {
            json_object_set_new(g->orphans, e->allocation_id, json_integer(now));
            first = json_object_get(g->orphans, e->allocation_id);
        }
        int64_t base = pi.pod_last_seen_ms;
        if (!base || strcmp(pi.status, "InUse") == 0) {
            int64_t f = first ? (int64_t)json_integer_value(first) : now;
            if (f > base)
                base = f;
        }
        int64_t at = base + pi.release_after_ms;
        if (now < at) {
            add_view(g, e, "Kept", sname, at);
            return;
        }
        log_info("cluster GC: %s of %s: TTL %s passed since %lld: releasing", e->allocation_id, key,
                 pi.release_after, (long long)(base / 1000));
        add_view(g, e, "Releasing", sname, at);
        controller_gc_ghost(g->ctl, e, "ttl-expired");
        json_object_del(g->orphans, e->allocation_id);
        return;
    }
    if (is_static && strcmp(e->status, "Available") == 0)
        return; /* a user's EIP, not bound: nothing of ours */
    bool node_gone = *node && !json_object_get(g->nodes, node);
    json_t *first = json_object_get(g->orphans, e->allocation_id);
    if (!node_gone && !first) {
        /* the node's own agent goes first; look again next run */
        json_object_set_new(g->orphans, e->allocation_id, json_integer(now));
        add_view(g, e, "Orphaned", "Follow", 0);
        return;
    }
    const char *reason = node_gone ? "node-gone" : pe && !points ? "pod-gone" : "podeip-deleted";
    log_info("cluster GC: %s of %s (node %s%s): its pod is gone: %s", e->allocation_id, key, node,
             node_gone ? ", gone" : "", is_static ? "unbinding it" : "releasing it");
    add_view(g, e, "Releasing", "Follow", 0);
    controller_gc_ghost(g->ctl, e, reason);
    json_object_del(g->orphans, e->allocation_id);
}

static void start_check(struct cluster *g);

static void on_eips(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    struct cluster *g = arg;
    g->pager = NULL;
    if (res->status) {
        char d[400];
        aliyun_error_format(&res->error, d, sizeof(d));
        run_failed(g, "DescribeEipAddresses", d);
        return;
    }
    int64_t now = eip_time_now_ms();
    log_debug("cluster GC: %zu EIPs tagged for cluster %s, %zu pods, %zu PodEIPs, %zu nodes",
              page->n, g->cfg->cluster_id, json_object_size(g->pods), json_object_size(g->podeips),
              json_object_size(g->nodes));
    for (size_t i = 0; i < page->n; i++) {
        json_object_set_new(g->seen_eips, page->eips[i].allocation_id, json_true());
        decide(g, &page->eips[i], now);
    }
    /* forget orphans that are gone */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(g->orphans, tmp, k, v)
    {
        if (!json_object_get(g->seen_eips, k))
            json_object_del(g->orphans, k);
    }
    start_check(g);
}

/* PodEIPs whose EIP was not among the tagged ones (ack's, or gone): described by
 * id, up to 50 at a time; those the cloud does not know are deleted when no pod of
 * that name lives. */
static void start_check(struct cluster *g)
{
    json_decref(g->check);
    json_decref(g->gone);
    g->check = json_array();
    g->gone = json_array();
    g->check_pos = g->gone_pos = g->batch_from = 0;
    if (!g->check || !g->gone) {
        run_failed(g, "check", "out of memory");
        return;
    }
    const char *k;
    json_t *pe;
    json_object_foreach(g->podeips, k, pe)
    {
        struct podeip_info pi;
        if (podeip_parse(pe, &pi) || pi.deleting || json_object_get(g->seen_eips, pi.allocation_id))
            continue;
        if (json_object_get(g->pods, k))
            continue; /* its pod lives: its agent rewrites it */
        json_array_append_new(g->check, json_string(k));
    }
    set_step(g, GC_CHECK);
    run_next(g);
}

static void on_checked(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    struct cluster *g = arg;
    g->acall = NULL;
    if (res->status) {
        char d[400];
        aliyun_error_format(&res->error, d, sizeof(d));
        run_failed(g, "DescribeEipAddresses (PodEIPs)", d);
        return;
    }
    for (size_t i = g->batch_from; i < g->check_pos; i++) {
        json_t *key = json_array_get(g->check, i);
        struct podeip_info pi;
        if (podeip_parse(json_object_get(g->podeips, json_string_value(key)), &pi))
            continue;
        bool exists = false;
        for (size_t j = 0; page && j < page->n; j++)
            if (strcmp(page->eips[j].allocation_id, pi.allocation_id) == 0)
                exists = true;
        if (!exists && json_array_append(g->gone, key)) {
            run_failed(g, "check", "out of memory");
            return;
        }
    }
    run_next(g);
}

static void on_deleted(int err, const char *detail, const struct podeip_info *info, void *arg)
{
    (void)info;
    struct cluster *g = arg;
    g->pop = NULL;
    if (err)
        log_warn("cluster GC: cannot delete a PodEIP: %s", detail ? detail : strerror(-err));
    run_next(g);
}

static void finish_run(struct cluster *g)
{
    json_decref(g->snapshot);
    g->snapshot = g->building;
    g->building = NULL;
    size_t n[5] = {0};
    const char *names[] = {"Bound", "Kept", "Orphaned", "Releasing", "Binding"};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(g->snapshot, "eips"), i, v)
    {
        for (size_t s = 0; s < 5; s++)
            if (strcmp(jstr(v, "state"), names[s]) == 0)
                n[s]++;
    }
    for (size_t s = 0; s < 5; s++) {
        const char *lv[] = {names[s]};
        metrics_set(g->m_eips, lv, (double)n[s]);
    }
    metrics_inc(g->m_runs, NULL);
    log_debug("cluster GC: run done in %lld ms", (long long)(eip_time_now_ms() - g->started_ms));
    set_step(g, GC_IDLE);
    schedule(g, g->period_ms);
}

static void run_next(struct cluster *g)
{
    int r = 0;
    switch (g->step) {
    case GC_IDLE:
        return;
    case GC_NODES:
    case GC_PODS:
    case GC_PODEIPS:
        r = send_list(g, step_base(g->step));
        break;
    case GC_EIPS: {
        aliyun_tag t[] = {{EIP_TAG_CLUSTER, g->cfg->cluster_id}};
        aliyun_describe_eips_params p = {.tags = t, .n_tags = 1};
        r = aliyun_vpc_describe_all_eips(g->ac, &p, on_eips, g, &g->pager);
        break;
    }
    case GC_CHECK: {
        size_t n = json_array_size(g->check);
        if (g->check_pos >= n) {
            set_step(g, GC_DELETE);
            run_next(g);
            return;
        }
        const char *ids[ALIYUN_DESCRIBE_MAX_IDS];
        struct podeip_info pi[ALIYUN_DESCRIBE_MAX_IDS];
        size_t k = 0;
        g->batch_from = g->check_pos;
        while (g->check_pos < n && k < ALIYUN_DESCRIBE_MAX_IDS) {
            const char *key = json_string_value(json_array_get(g->check, g->check_pos++));
            if (podeip_parse(json_object_get(g->podeips, key), &pi[k]) == 0) {
                ids[k] = pi[k].allocation_id;
                k++;
            }
        }
        if (!k) {
            run_next(g);
            return;
        }
        aliyun_describe_eips_params p = {
            .allocation_ids = ids, .n_allocation_ids = k, .page_size = ALIYUN_DESCRIBE_MAX_IDS};
        r = aliyun_vpc_describe_eips(g->ac, &p, on_checked, g, &g->acall);
        break;
    }
    case GC_DELETE: {
        if (g->gone_pos >= json_array_size(g->gone)) {
            finish_run(g);
            return;
        }
        const char *key = json_string_value(json_array_get(g->gone, g->gone_pos++));
        const json_t *pe = json_object_get(g->podeips, key);
        const json_t *md = json_object_get(pe, "metadata");
        struct podeip_info pi;
        if (podeip_parse(pe, &pi)) {
            run_next(g);
            return;
        }
        log_info("cluster GC: PodEIP %s points at %s, which is gone: deleting it", key,
                 pi.allocation_id);
        r = podeip_delete(g->kc, jstr(md, "namespace"), jstr(md, "name"), pi.allocation_id,
                          pi.pod_uid, on_deleted, g, &g->pop);
        break;
    }
    }
    if (r) {
        char d[80];
        eip_seterr(d, sizeof(d), "cannot send: %s", strerror(-r));
        run_failed(g, step_names[g->step], d);
    }
}

static void start_run(struct cluster *g)
{
    if (!g->leading || !g->ac || g->step != GC_IDLE)
        return;
    json_decref(g->nodes);
    json_decref(g->pods);
    json_decref(g->podeips);
    json_decref(g->seen_eips);
    g->nodes = json_object();
    g->pods = json_object();
    g->podeips = json_object();
    g->seen_eips = json_object();
    char now[40];
    eip_time_format_rfc3339(now, sizeof(now), time(NULL));
    g->building = json_pack("{s:s,s:s,s:[]}", "leader", g->cfg->node_name, "updated", now, "eips");
    if (!g->nodes || !g->pods || !g->podeips || !g->seen_eips || !g->building || !g->orphans) {
        run_failed(g, "start", "out of memory");
        return;
    }
    g->cont[0] = '\0';
    g->started_ms = eip_time_now_ms();
    set_step(g, GC_NODES);
    run_next(g);
}

static void on_timer(uv_timer_t *t)
{
    start_run(t->data);
}

static void schedule(struct cluster *g, uint64_t ms)
{
    if (g->leading)
        eip_timer_start(g->timer, on_timer, ms, "cluster GC");
}

/* ---- leadership ---- */

static void on_started(k8s_leader *l, void *arg)
{
    (void)l;
    struct cluster *g = arg;
    g->leading = true;
    metrics_set(g->m_leader, NULL, 1);
    log_info("cluster GC: this agent (%s) leads; GC every %llu s", g->cfg->node_name,
             (unsigned long long)(g->period_ms / 1000));
    schedule(g, 0);
}

static void on_stopped(k8s_leader *l, void *arg)
{
    (void)l;
    struct cluster *g = arg;
    if (g->leading)
        log_info("cluster GC: this agent no longer leads");
    g->leading = false;
    metrics_set(g->m_leader, NULL, 0);
    uv_timer_stop(g->timer);
    cancel_run(g);
}

static void on_new_leader(k8s_leader *l, const char *identity, void *arg)
{
    (void)l;
    struct cluster *g = arg;
    if (eip_strcpy(g->holder, sizeof(g->holder), identity))
        eip_strcpy(g->holder, sizeof(g->holder), "(a name too long to show)");
    log_info("cluster GC: leader is %s", g->holder[0] ? g->holder : "(none)");
}

static void on_lease_error(k8s_leader *l, const char *what, k8s_result res, const char *detail,
                           void *arg)
{
    (void)l;
    (void)arg;
    log_debug("cluster GC: lease %s: %s: %s", what, k8s_result_name(res), detail);
}

int cluster_start(struct cluster *g, k8s_client *kc)
{
    if (g->leader)
        return -EALREADY;
    g->kc = kc;
    k8s_leader_opts o = {
        .client = kc,
        .namespace = g->cfg->leader_namespace ? g->cfg->leader_namespace : "kube-system",
        .name = LEASE_NAME,
        .identity = g->cfg->node_name,
        .on_started_leading = on_started,
        .on_stopped_leading = on_stopped,
        .on_new_leader = on_new_leader,
        .on_error = on_lease_error,
        .arg = g,
    };
    int r = k8s_leader_new(&g->leader, &o, NULL, 0);
    if (!r)
        r = k8s_leader_start(g->leader);
    if (r)
        cluster_stop_kube(g);
    return r;
}

void cluster_stop_kube(struct cluster *g)
{
    if (!g)
        return;
    uv_timer_stop(g->timer);
    cancel_run(g);
    k8s_leader_free(g->leader);
    g->leader = NULL;
    g->leading = false;
    g->kc = NULL;
}

void cluster_set_cloud(struct cluster *g, aliyun_client *ac)
{
    if (!g)
        return;
    g->ac = ac;
    if (g->leading && g->step == GC_IDLE)
        schedule(g, 0);
}

static void on_released(k8s_leader *l, void *arg)
{
    (void)l;
    struct cluster *g = arg;
    void (*done)(void *) = g->stop_done;
    g->stop_done = NULL;
    if (done)
        done(g->stop_arg);
}

void cluster_stop(struct cluster *g, void (*done)(void *arg), void *arg)
{
    if (!g) {
        if (done)
            done(arg);
        return;
    }
    uv_timer_stop(g->timer);
    cancel_run(g);
    g->ac = NULL;
    if (!g->leader) {
        if (done)
            done(arg);
        return;
    }
    g->stop_done = done;
    g->stop_arg = arg;
    k8s_leader_stop(g->leader, on_released, g);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void cluster_free(struct cluster *g)
{
    if (!g)
        return;
    cancel_run(g);
    k8s_leader_free(g->leader);
    if (g->timer)
        uv_close((uv_handle_t *)g->timer, timer_closed);
    json_decref(g->nodes);
    json_decref(g->pods);
    json_decref(g->podeips);
    json_decref(g->seen_eips);
    json_decref(g->check);
    json_decref(g->gone);
    json_decref(g->orphans);
    json_decref(g->snapshot);
    free(g);
}

int cluster_new(struct cluster **out, const cluster_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    static const char *const state[] = {"state", NULL};
    struct cluster *g = calloc(1, sizeof(*g));
    if (!g)
        goto fail;
    g->loop = opts->loop;
    g->cfg = opts->cfg;
    g->ctl = opts->ctl;
    g->period_ms =
        opts->cfg->gc_period_seconds > 0
            ? (uint64_t)opts->cfg->gc_period_seconds * 1000
            : (uint64_t)(opts->cfg->gc_period_minutes > 0 ? opts->cfg->gc_period_minutes : 5) *
                  60000;
    g->orphans = json_object();
    g->timer = malloc(sizeof(*g->timer));
    if (!g->orphans || !g->timer || uv_timer_init(opts->loop, g->timer)) {
        free(g->timer);
        g->timer = NULL;
        goto fail;
    }
    g->timer->data = g;
    g->m_leader = metrics_register(opts->metrics, METRIC_GAUGE, "eip_agent_leader",
                                   "1 while this agent leads the cluster GC.", NULL);
    g->m_eips =
        metrics_register(opts->metrics, METRIC_GAUGE, "eip_agent_cluster_eips",
                         "On the leader: the cluster's EIPs by state at the last GC run.", state);
    g->m_runs = metrics_register(opts->metrics, METRIC_COUNTER, "eip_agent_cluster_gc_runs_total",
                                 "Cluster GC runs completed by this agent as leader.", NULL);
    if (!g->m_leader || !g->m_eips || !g->m_runs || metrics_set(g->m_leader, NULL, 0))
        goto fail;
    *out = g;
    return 0;
fail:
    eip_seterr(err, errlen, "cannot build the cluster GC: out of memory");
    cluster_free(g);
    return -ENOMEM;
}

bool cluster_is_leader(const struct cluster *g)
{
    return g && g->leading;
}

const char *cluster_leader(const struct cluster *g)
{
    return g ? g->holder : "";
}

json_t *cluster_eips_json(const struct cluster *g)
{
    return g && g->snapshot ? json_deep_copy(g->snapshot) : NULL;
}

static void on_eips_route(http_exchange *ex, void *arg)
{
    struct cluster *g = arg;
    if (!g->leading) {
        char msg[400];
        eip_seterr(msg, sizeof(msg),
                   "this agent does not lead the cluster GC; the leader is %.255s",
                   g->holder[0] ? g->holder : "(none yet)");
        json_t *j = json_pack("{s:s,s:i,s:s}", "error", msg, "status", 404, "leader", g->holder);
        if (j)
            http_exchange_reply_json(ex, 404, j);
        else
            http_exchange_reply_error(ex, 500, "out of memory");
        return;
    }
    json_t *j = cluster_eips_json(g);
    if (!j)
        j = json_pack("{s:s,s:[]}", "leader", g->cfg->node_name, "eips");
    if (!j) {
        http_exchange_reply_error(ex, 500, "out of memory");
        return;
    }
    http_exchange_reply_json(ex, 200, j);
}

int cluster_routes(struct cluster *g, http_server *s)
{
    return http_server_route(s, "/v1/eips", on_eips_route, g);
}
