/* SPDX-License-Identifier: MIT */
#include "agent/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/api.h"
#include "common/err.h"
#include "common/log.h"
#include "common/str.h"
#include "common/timer.h"

#define GC_RETRY_MS 10000

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- lookups ---- */

static struct pod *find_uid(struct controller *c, const char *uid)
{
    eip_list_node *pos;
    eip_list_foreach(&c->pods, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, node);
        if (strcmp(p->uid, uid) == 0 && !p->freeing)
            return p;
    }
    return NULL;
}

static struct pod *find_allocation(struct controller *c, const char *id)
{
    eip_list_node *pos;
    eip_list_foreach(&c->pods, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, node);
        if (!p->freeing && strcmp(p->eip.allocation_id, id) == 0)
            return p;
    }
    return NULL;
}

static void read_node(struct controller *c);

/* ---- slots ---- */

/* Pods queued for a cloud slot mean the cloud (its rate limits) paces the work:
 * the InUse poller may then wait for more associations per describe. */
#define POLL_HOLD_BUSY_MS 10000

static void update_hold(struct controller *c)
{
    if (c->watch)
        eipwatch_set_hold(c->watch, eip_list_empty(&c->slot_queue) ? 0 : POLL_HOLD_BUSY_MS);
}

/* Allocations may hold at most half the slots: the work already started
 * (associations, releases) is never stuck behind allocations that wait for the
 * cloud's rate limit, and a pod being deleted gives its EIP back promptly. */
static int alloc_cap(const struct controller *c)
{
    return c->slots_max > 1 ? c->slots_max / 2 : 1;
}

static struct pod *next_grantee(struct controller *c)
{
    eip_list_node *pos;
    eip_list_foreach(&c->slot_queue, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, slot_node);
        if (p->slot_op != OP_ALLOCATE || c->allocs_holding < alloc_cap(c))
            return p;
    }
    return NULL;
}

static void grant_slots(struct controller *c)
{
    if (c->granting || c->stopping)
        return;
    c->granting = true;
    struct pod *p;
    while (c->slots_used < c->slots_max && (p = next_grantee(c))) {
        eip_list_remove(&c->slot_queue, &p->slot_node);
        c->slots_used++;
        pod_slot_granted(p);
    }
    c->granting = false;
}

void controller_want_slot(struct controller *c, struct pod *p)
{
    if (eip_list_linked(&p->slot_node))
        return;
    eip_list_push_back(&c->slot_queue, &p->slot_node);
    grant_slots(c);
    update_hold(c);
}

void controller_drop_slot(struct controller *c, struct pod *p)
{
    if (eip_list_linked(&p->slot_node)) {
        eip_list_remove(&c->slot_queue, &p->slot_node);
        update_hold(c);
        return;
    }
    if (!p->has_slot)
        return;
    p->has_slot = false;
    c->slots_used--;
    grant_slots(c);
    update_hold(c);
}

/* ---- pods ---- */

void controller_state_changed(struct controller *c, struct pod *p, enum pod_state old)
{
    if (old != p->state) {
        const char *v[] = {pod_state_name(p->state)};
        metrics_inc(c->m.transitions, v);
    }
    api_pod_changed(c, p);
}

void controller_forget(struct controller *c, struct pod *p)
{
    if (p->freeing)
        return;
    log_debug("pod %s/%s (%s): record removed", p->ns, p->name, p->uid);
    eip_list_remove(&c->pods, &p->node);
    pod_free(p);
}

size_t controller_tags(const struct controller *c, const struct pod *p, aliyun_tag *out, size_t cap)
{
    aliyun_tag t[] = {
        {EIP_TAG_CLUSTER, c->cfg->cluster_id},
        {EIP_TAG_NODE, c->cfg->node_name},
        {EIP_TAG_NAMESPACE, p->ns},
        {EIP_TAG_NAME, p->name},
        {EIP_TAG_UID, p->uid},
        {EIP_TAG_TYPE, p->type == EIP_ALLOC_STATIC ? "Static" : "Auto"},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && n < cap; i++)
        out[n++] = t[i];
    return n;
}

bool controller_stateful_kind(const struct controller *c, const char *kind)
{
    if (!kind)
        return false;
    if (strcmp(kind, "StatefulSet") == 0)
        return true;
    for (size_t i = 0; i < c->cfg->stateful_kinds.n; i++)
        if (strcmp(c->cfg->stateful_kinds.items[i], kind) == 0)
            return true;
    return false;
}

/* Whether a pod object is one the agent cares about: it asks for an EIP (or
 * tries to, with an invalid annotation). Out of memory, it may: the record
 * reads the annotations again. */
static bool wants_eip(json_t *obj)
{
    eip_request req;
    eip_request_error err;
    int r = eip_request_parse(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                              &req, &err);
    bool yes = r == -EINVAL || r == -ENOMEM || (r == 0 && req.type != EIP_ALLOC_NONE);
    eip_request_clear(&req);
    return yes;
}

static void gc_schedule(struct controller *c, uint64_t ms);

static void on_pod_event(k8s_reflector *r, k8s_event_type type, json_t *obj, json_t *old, void *arg)
{
    (void)r;
    (void)old;
    struct controller *c = arg;
    const json_t *md = json_object_get(obj, "metadata");
    const char *uid = jstr(md, "uid");
    if (!uid || !jstr(md, "name") || !jstr(md, "namespace"))
        return;
    struct pod *p = find_uid(c, uid);
    if (type == K8S_EVENT_DELETED) {
        if (p)
            pod_gone(p);
        return;
    }
    if (!p) {
        if (!wants_eip(obj))
            return;
        if (pod_new(&p, c, obj, NULL, NULL, NULL)) {
            /* no event may come for it again: the next GC run looks at the pods */
            log_error("pod %s/%s: out of memory: not handled now (again in %d s)",
                      jstr(md, "namespace"), jstr(md, "name"), GC_RETRY_MS / 1000);
            c->missed = true;
            gc_schedule(c, GC_RETRY_MS);
            return;
        }
        eip_list_push_back(&c->pods, &p->node);
        log_debug("pod %s/%s (%s): tracking", p->ns, p->name, p->uid);
    }
    pod_update(p, obj);
}

static void kick_all(struct controller *c)
{
    eip_list_node *pos, *tmp;
    eip_list_foreach_safe(&c->pods, pos, tmp)
    {
        pod_kick(eip_container_of(pos, struct pod, node));
    }
}

static void gc_start(struct controller *c);

static void on_synced(k8s_reflector *r, void *arg)
{
    (void)r;
    struct controller *c = arg;
    if (c->synced)
        return;
    c->synced = true;
    readiness_set(c->ready, READY_PODS_SYNCED, true, NULL);
    log_info("pods of %s listed: %zu EIP pods", c->cfg->node_name, c->pods.len);
    if (c->cloud_ready)
        gc_start(c);
}

static void on_watch_error(k8s_reflector *r, const char *what, k8s_result res, const char *detail,
                           void *arg)
{
    (void)r;
    struct controller *c = arg;
    const char *v[] = {k8s_result_name(res)};
    metrics_inc(c->m.watch_restarts, v);
    log_warn("pod watch: %s failed: %s: %s (retrying)", what, k8s_result_name(res), detail);
    if (!c->synced) {
        /* /readyz says why the pods are not listed yet (RBAC, the server...) */
        char why[400];
        eip_seterr(why, sizeof(why), "listing the pods of %s failed: %s: %s", c->cfg->node_name,
                   k8s_result_name(res), detail);
        readiness_set(c->ready, READY_PODS_SYNCED, false, why);
    }
}

static void on_event_error(const char *event_name, k8s_result res, const char *detail, void *arg)
{
    (void)arg;
    log_warn("event %s not recorded: %s: %s", event_name, k8s_result_name(res), detail);
}

/* ---- inventory and node GC ---- */

static void track_missed(json_t *obj, void *arg)
{
    struct controller *c = arg;
    const char *uid = jstr(json_object_get(obj, "metadata"), "uid");
    if (uid && !find_uid(c, uid))
        on_pod_event(c->reflector, K8S_EVENT_ADDED, obj, NULL, c);
}

/* EIP pods whose record found no memory: tracked now (or missed again). */
static void track_missed_pods(struct controller *c)
{
    if (!c->missed || !c->reflector)
        return;
    c->missed = false;
    k8s_reflector_foreach(c->reflector, track_missed, c);
}

static void gc_found(struct controller *c, const aliyun_eip *e, bool periodic)
{
    const char *uid = aliyun_eip_tag(e, EIP_TAG_UID);
    if (!uid || !*uid)
        return;
    struct pod *p = find_uid(c, uid);
    if (p && (!p->eip.allocation_id[0] || strcmp(p->eip.allocation_id, e->allocation_id) == 0)) {
        pod_observe(p, e);
        return;
    }
    p = find_allocation(c, e->allocation_id);
    if (p) {
        pod_observe(p, e);
        return;
    }
    const char *type = aliyun_eip_tag(e, EIP_TAG_TYPE);
    bool is_static = type && strcmp(type, "Static") == 0;
    bool bound = e->instance_id[0] && strcmp(e->status, "Available") != 0;
    if (is_static && !bound)
        return; /* a user's EIP, unbound: nothing of ours to undo */
    if (!bound && json_object_get(c->kept, e->allocation_id))
        return; /* kept by its PodEIP, seen before: the cluster GC decides its end */
    const char *ns = aliyun_eip_tag(e, EIP_TAG_NAMESPACE);
    const char *name = aliyun_eip_tag(e, EIP_TAG_NAME);
    struct pod *g;
    if (pod_new(&g, c, NULL, ns ? ns : "", name ? name : "", uid)) {
        log_error("node GC: out of memory: %s left for the next run", e->allocation_id);
        return;
    }
    g->type = is_static ? EIP_ALLOC_STATIC : EIP_ALLOC_AUTO;
    g->periodic = periodic;
    if (eip_strcpy(g->eip.allocation_id, sizeof(g->eip.allocation_id), e->allocation_id)) {
        pod_free(g);
        return;
    }
    eip_list_push_back(&c->pods, &g->node);
    c->stats.ghosts++;
    log_info("node GC: %s (%s) belongs to pod %s/%s (uid %s), which is gone: %s", e->allocation_id,
             e->ip_address, g->ns, g->name, uid,
             is_static ? "unbinding it (Static)" : "releasing it unless its PodEIP keeps it");
    pod_observe(g, e);
    g->eip.known = false; /* act only on a fresh describe */
    pod_kick(g);
}

void controller_note_kept(struct controller *c, const char *allocation_id)
{
    if (json_object_size(c->kept) < 100000)
        json_object_set_new(c->kept, allocation_id, json_true());
}

void controller_gc_ghost(struct controller *c, const aliyun_eip *e, const char *reason)
{
    if (c->stopping || find_allocation(c, e->allocation_id))
        return;
    const char *type = aliyun_eip_tag(e, EIP_TAG_TYPE);
    const char *ns = aliyun_eip_tag(e, EIP_TAG_NAMESPACE);
    const char *name = aliyun_eip_tag(e, EIP_TAG_NAME);
    const char *uid = aliyun_eip_tag(e, EIP_TAG_UID);
    struct pod *g;
    if (pod_new(&g, c, NULL, ns ? ns : "", name ? name : "", uid ? uid : "")) {
        log_error("cluster GC: out of memory: %s left for the next run", e->allocation_id);
        return;
    }
    g->type = type && strcmp(type, "Static") == 0 ? EIP_ALLOC_STATIC : EIP_ALLOC_AUTO;
    g->gc_reason = reason;
    g->podeip_read = true; /* the leader decided: nothing keeps it */
    if (eip_strcpy(g->eip.allocation_id, sizeof(g->eip.allocation_id), e->allocation_id)) {
        pod_free(g);
        return;
    }
    eip_list_push_back(&c->pods, &g->node);
    c->stats.ghosts++;
    pod_observe(g, e);
    g->eip.known = false; /* act only on a fresh describe */
    pod_kick(g);
}

static void on_inventory(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    struct controller *c = arg;
    c->gc_pager = NULL;
    if (res->status) {
        char d[400];
        aliyun_error_format(&res->error, d, sizeof(d));
        log_warn("node GC: cannot list this node's EIPs: %s (retrying in %d s)", d,
                 GC_RETRY_MS / 1000);
        gc_schedule(c, GC_RETRY_MS);
        return;
    }
    bool periodic = c->inventoried;
    track_missed_pods(c);
    log_debug("node GC: %zu EIPs tagged for %s", page->n, c->cfg->node_name);
    for (size_t i = 0; i < page->n; i++)
        gc_found(c, &page->eips[i], periodic);
    c->gc_runs++;
    if (!c->inventoried) {
        c->inventoried = true;
        log_info("cloud inventory of %s: %zu EIPs; reconciling %zu pods", c->cfg->node_name,
                 page->n, c->pods.len);
        kick_all(c);
    }
    gc_schedule(c, c->gc_period_ms);
}

static void gc_start(struct controller *c)
{
    if (c->gc_pager || c->stopping || !c->ac)
        return;
    aliyun_tag tags[] = {{EIP_TAG_CLUSTER, c->cfg->cluster_id}, {EIP_TAG_NODE, c->cfg->node_name}};
    aliyun_describe_eips_params p = {.tags = tags, .n_tags = 2};
    int r = aliyun_vpc_describe_all_eips(c->ac, &p, on_inventory, c, &c->gc_pager);
    if (r) {
        log_warn("node GC: cannot start: %s", strerror(-r));
        gc_schedule(c, GC_RETRY_MS);
    }
}

static void on_gc_timer(uv_timer_t *t)
{
    gc_start(t->data);
}

static void gc_schedule(struct controller *c, uint64_t ms)
{
    if (!c->stopping)
        eip_timer_start(c->gc_timer, on_gc_timer, ms, "node GC");
}

void controller_count_leak(struct controller *c, struct pod *p)
{
    if (!p->ghost || !p->periodic || p->leak_counted)
        return;
    p->leak_counted = true;
    c->stats.leaks++;
    metrics_inc(c->m.leaks, NULL);
    log_warn("node GC: LEAK: %s of pod %s/%s (uid %s) was still %s after its pod was gone; "
             "please report this",
             p->eip.allocation_id, p->ns, p->name, p->uid,
             p->eip.instance_id[0] ? "bound" : "allocated");
}

/* ---- metrics ---- */

static void collect(metrics *m, void *arg)
{
    (void)m;
    struct controller *c = arg;
    size_t n[POD_STATE_COUNT] = {0};
    eip_list_node *pos;
    eip_list_foreach(&c->pods, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, node);
        if (!p->ghost && !p->freeing)
            n[p->state]++;
    }
    for (int s = 0; s < POD_STATE_COUNT; s++) {
        const char *v[] = {pod_state_name((enum pod_state)s)};
        metrics_set(c->m.pods, v, (double)n[s]);
    }
}

static int register_metrics(struct controller *c, metrics *m)
{
    static const char *const state[] = {"state", NULL};
    static const char *const reason[] = {"reason", NULL};
    static const double bind_bounds[] = {0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300};
    c->m.pods = metrics_register(m, METRIC_GAUGE, "eip_agent_pods",
                                 "EIP pods of this node by state.", state);
    c->m.transitions = metrics_register(m, METRIC_COUNTER, "eip_agent_pod_transitions_total",
                                        "Pod state transitions, by the state entered.", state);
    c->m.bind_duration =
        metrics_register_histogram(m, "eip_agent_bind_duration_seconds",
                                   "From the pod IP seen to the EIP condition True on the pod.",
                                   NULL, bind_bounds, sizeof(bind_bounds) / sizeof(bind_bounds[0]));
    c->m.gc_released = metrics_register(m, METRIC_COUNTER, "eip_agent_gc_released_total",
                                        "EIPs released by garbage collection, by reason.", reason);
    c->m.leaks = metrics_register(m, METRIC_COUNTER, "eip_agent_leaked_eips_found_total",
                                  "EIPs found still allocated or bound after their pod was gone "
                                  "(outside a restart): each one is a bug.",
                                  NULL);
    c->m.watch_restarts = metrics_register(m, METRIC_COUNTER, "eip_agent_watch_restarts_total",
                                           "Pod list/watch failures, by reason.", reason);
    c->m.allocations = metrics_register(m, METRIC_COUNTER, "eip_agent_eips_allocated_total",
                                        "EIPs allocated by this agent.", NULL);
    c->m.releases = metrics_register(m, METRIC_COUNTER, "eip_agent_eips_released_total",
                                     "EIPs released by this agent.", NULL);
    if (!c->m.pods || !c->m.transitions || !c->m.bind_duration || !c->m.gc_released ||
        !c->m.leaks || !c->m.watch_restarts || !c->m.allocations || !c->m.releases)
        return -ENOMEM;
    for (int s = 0; s < POD_STATE_COUNT; s++) {
        const char *v[] = {pod_state_name((enum pod_state)s)};
        metrics_set(c->m.pods, v, 0);
    }
    return metrics_add_collector(m, collect, NULL, c);
}

/* ---- construction ---- */

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

int controller_new(struct controller **out, const controller_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    const struct agent_config *cfg = opts->cfg;
    struct controller *c = calloc(1, sizeof(*c));
    int r = -ENOMEM;
    if (!c)
        goto fail;
    c->loop = opts->loop;
    c->cfg = cfg;
    c->ready = opts->ready;
    c->slots_max = cfg->max_concurrent_reconciles > 0 ? cfg->max_concurrent_reconciles : 10;
    c->gc_period_ms =
        cfg->gc_period_seconds > 0
            ? (uint64_t)cfg->gc_period_seconds * 1000
            : (uint64_t)(cfg->gc_period_minutes > 0 ? cfg->gc_period_minutes : 5) * 60 * 1000;
    eip_list_init(&c->pods);
    eip_list_init(&c->slot_queue);
    eip_list_init(&c->waiters);
    c->kept = json_object();
    if (!c->kept)
        goto fail;
    /* set only once initialised: controller_free stops and closes it */
    c->node_timer = malloc(sizeof(*c->node_timer));
    if (!c->node_timer)
        goto fail;
    if ((r = uv_timer_init(opts->loop, c->node_timer))) {
        free(c->node_timer);
        c->node_timer = NULL;
        goto fail;
    }
    c->node_timer->data = c;
    c->gc_timer = malloc(sizeof(*c->gc_timer));
    if (!c->gc_timer) {
        r = -ENOMEM;
        goto fail;
    }
    if ((r = uv_timer_init(opts->loop, c->gc_timer))) {
        free(c->gc_timer);
        c->gc_timer = NULL;
        goto fail;
    }
    c->gc_timer->data = c;
    if ((r = register_metrics(c, opts->metrics)))
        goto fail;
    int n = snprintf(c->field_selector, sizeof(c->field_selector), "spec.nodeName=%s",
                     cfg->node_name ? cfg->node_name : "");
    if (n < 0 || (size_t)n >= sizeof(c->field_selector)) {
        r = -E2BIG;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    eip_seterr(err, errlen, "cannot build the pod controller: %s", strerror(-r));
    controller_free(c);
    return r;
}

int controller_start(struct controller *c, k8s_client *kc)
{
    if (c->reflector)
        return -EALREADY;
    k8s_reflector_opts ro = {.client = kc,
                             .path = "/api/v1/pods",
                             .field_selector = c->field_selector,
                             .on_event = on_pod_event,
                             .on_synced = on_synced,
                             .on_error = on_watch_error,
                             .arg = c};
    k8s_recorder_opts eo = {
        .client = kc, .host = c->cfg->node_name, .on_error = on_event_error, .arg = c};
    c->kc = kc;
    int r = k8s_reflector_new(&c->reflector, &ro, NULL, 0);
    if (!r)
        r = k8s_recorder_new(&c->recorder, &eo, NULL, 0);
    if (r)
        return r;
    if (!c->node_known)
        read_node(c);
    return k8s_reflector_start(c->reflector);
}

/* The ENI resolver needs both the cloud and the node's kind (a virtual node
 * has no instance metadata). */
static int ensure_resolver(struct controller *c)
{
    if (c->eni || !c->ac || !c->node_known)
        return 0;
    eni_resolver_opts eo = {.loop = c->loop,
                            .md = c->virtual_node ? NULL : c->md,
                            .client = c->ac,
                            .vpc_id = c->vpc_id};
    int r = eni_resolver_new(&c->eni, &eo);
    if (r)
        return r;
    c->cloud_ready = true;
    if (c->synced)
        gc_start(c);
    kick_all(c);
    return 0;
}

int controller_set_cloud(struct controller *c, aliyun_client *ac, aliyun_metadata *md,
                         const char *vpc_id)
{
    eipwatch_opts wo = {.loop = c->loop, .client = ac};
    int r = eipwatch_new(&c->watch, &wo);
    if (r)
        return r;
    free(c->vpc_id);
    c->vpc_id = vpc_id ? strdup(vpc_id) : NULL;
    if (vpc_id && !c->vpc_id)
        return -ENOMEM;
    c->ac = ac;
    c->md = md;
    return ensure_resolver(c);
}

static void on_node_timer(uv_timer_t *t)
{
    read_node(t->data);
}

/* The ENI resolver, or (out of memory) another try with the next reading of
 * the Node: the pods wait for the resolver, they must not wait for ever. */
static void resolver_or_retry(struct controller *c)
{
    if (!ensure_resolver(c))
        return;
    log_error("cannot build the ENI resolver: out of memory (retrying in 2 s)");
    eip_timer_start(c->node_timer, on_node_timer, 2000, "node read");
}

static void on_node(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    struct controller *c = arg;
    c->node_call = NULL;
    if (resp->result == K8S_OK) {
        const json_t *labels = json_object_get(json_object_get(resp->json, "metadata"), "labels");
        const char *type = json_string_value(json_object_get(labels, "type"));
        c->virtual_node = type && strcmp(type, "virtual-kubelet") == 0;
    } else if (resp->result == K8S_E_NOT_FOUND || resp->result == K8S_E_FORBIDDEN) {
        /* an ECS node is the safe guess: the metadata is asked first, the API after */
        log_warn("node %s: cannot read it (%s): taken as an ECS node", c->cfg->node_name,
                 k8s_result_name(resp->result));
    } else {
        log_warn("node %s: cannot read it: %s (retrying in 2 s)", c->cfg->node_name,
                 resp->status.message[0] ? resp->status.message : k8s_result_name(resp->result));
        eip_timer_start(c->node_timer, on_node_timer, 2000, "node read");
        return;
    }
    c->node_known = true;
    log_info("node %s: %s", c->cfg->node_name,
             c->virtual_node ? "a virtual node: ENIs from DescribeNetworkInterfaces"
                             : "an ECS node: ENIs from the instance metadata");
    resolver_or_retry(c);
}

static void read_node(struct controller *c)
{
    char path[400];
    int n = snprintf(path, sizeof(path), "/api/v1/nodes/%s", c->cfg->node_name);
    int r = n > 0 && (size_t)n < sizeof(path) ? k8s_get(c->kc, path, on_node, c, &c->node_call)
                                              : -E2BIG;
    if (r == -E2BIG) {
        log_warn("node %s: cannot ask for it: %s; taken as an ECS node", c->cfg->node_name,
                 strerror(-r));
        c->node_known = true;
        resolver_or_retry(c);
    } else if (r) {
        /* out of memory now: no reason to guess what the node is */
        log_warn("node %s: cannot ask for it: %s (retrying in 2 s)", c->cfg->node_name,
                 strerror(-r));
        eip_timer_start(c->node_timer, on_node_timer, 2000, "node read");
    }
}

void controller_stop_kube(struct controller *c)
{
    if (c->node_call)
        k8s_call_cancel(c->node_call);
    c->node_call = NULL;
    if (c->node_timer)
        uv_timer_stop(c->node_timer);
    k8s_reflector_free(c->reflector);
    c->reflector = NULL;
    k8s_recorder_free(c->recorder);
    c->recorder = NULL;
    c->kc = NULL;
}

void controller_stop_cloud(struct controller *c)
{
    eipwatch_free(c->watch);
    c->watch = NULL;
    eni_resolver_free(c->eni);
    c->eni = NULL;
    c->ac = NULL;
    c->cloud_ready = false;
}

void controller_stop(struct controller *c)
{
    if (!c || c->stopping)
        return;
    c->stopping = true;
    api_stop(c);
    if (c->gc_timer)
        uv_timer_stop(c->gc_timer);
    if (c->gc_pager) {
        aliyun_pager_cancel(c->gc_pager);
        c->gc_pager = NULL;
    }
    eip_list_node *pos;
    while ((pos = eip_list_pop_front(&c->pods)))
        pod_free(eip_container_of(pos, struct pod, node));
    controller_stop_kube(c);
    controller_stop_cloud(c);
}

void controller_free(struct controller *c)
{
    if (!c)
        return;
    controller_stop(c);
    if (c->gc_timer)
        uv_close((uv_handle_t *)c->gc_timer, timer_closed);
    if (c->node_timer)
        uv_close((uv_handle_t *)c->node_timer, timer_closed);
    json_decref(c->kept);
    free(c->vpc_id);
    free(c);
}
