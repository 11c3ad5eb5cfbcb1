/* SPDX-License-Identifier: MIT */
#include "agent/pod.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/controller.h"
#include "agent/podeip.h"
#include "aliyun/ecs.h"
#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "common/str.h"
#include "common/timer.h"
#include "common/timeutil.h"

/* First describe after an association or disassociation: about the time the
 * cloud takes (about a second), then backing off. */
#define POLL_FIRST_MS 1000
#define POLL_MAX_MS 8000
/* Retries of a failed step. */
#define RETRY_BASE_MS 1000
#define RETRY_CAP_MS (5 * 60 * 1000)
/* Quota exhausted: slowly. */
#define QUOTA_BASE_MS 10000
/* A Static EIP held by a live pod: look again. */
#define HOLDER_BASE_MS 2000
#define HOLDER_CAP_MS 30000

static const char *const state_names[POD_STATE_COUNT] = {
    "Waiting", "Allocating", "Associating", "Bound", "Releasing", "Released", "Failed",
};

const char *pod_state_name(enum pod_state s)
{
    return s < POD_STATE_COUNT ? state_names[s] : "Unknown";
}

static bool is_cloud_op(enum pod_op op)
{
    return op == OP_ALLOCATE || op == OP_TAG || op == OP_CBWP || op == OP_ASSOCIATE ||
           op == OP_UNASSOCIATE || op == OP_RELEASE;
}

/* Copies an identifier from the cloud or the API server into its field. One
 * longer than the field (none is, by the APIs' own limits) leaves "" and says
 * so, rather than a cut value that could match something else. */
static int copy(char *dst, size_t cap, const char *src)
{
    int r = eip_strcpy(dst, cap, src);
    if (r)
        log_warn("a value longer than its %zu-byte field was dropped: %.80s...", cap, src);
    return r;
}

/* ---- the one transition function ---- */

static void pod_set_state(struct pod *p, enum pod_state s, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void pod_set_state(struct pod *p, enum pod_state s, const char *reason, const char *fmt, ...)
{
    char msg[sizeof(p->message)];
    va_list ap;
    va_start(ap, fmt);
    eip_vseterr(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->state == s && strcmp(p->reason, reason) == 0 && strcmp(p->message, msg) == 0)
        return;
    enum pod_state old = p->state;
    copy(p->reason, sizeof(p->reason), reason);
    copy(p->message, sizeof(p->message), msg);
    if (old != s) {
        p->since_ms = eip_time_now_ms();
        if (s == POD_BOUND)
            p->bound_ms = p->since_ms;
        else if (old == POD_BOUND)
            p->bound_ms = 0;
    }
    enum eip_log_level lvl = old == s          ? EIP_LOG_DEBUG
                             : s == POD_FAILED ? EIP_LOG_WARN
                             : p->ghost && (s == POD_WAITING || !strcmp(reason, "Kept") ||
                                            !strcmp(reason, "ReadingPodEIP"))
                                 ? EIP_LOG_DEBUG
                                 : EIP_LOG_INFO;
    eip_log(lvl, "pod %s/%s%s: %s -> %s (eip %s, eni %s, ip %s): %s: %s", p->ns, p->name,
            p->ghost ? " (gone)" : "", pod_state_name(old), pod_state_name(s),
            p->eip.allocation_id[0] ? p->eip.allocation_id : "-", p->eni_id[0] ? p->eni_id : "-",
            p->pod_ip[0] ? p->pod_ip : "-", reason, msg);
    p->state = s;
    controller_state_changed(p->ctl, p, old);
}

/* ---- events ---- */

static void pod_event(struct pod *p, const char *type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void pod_event(struct pod *p, const char *type, const char *reason, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    eip_vseterr(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    k8s_object_ref ref = {
        .kind = "Pod", .api_version = "v1", .namespace = p->ns, .name = p->name, .uid = p->uid};
    int r = k8s_recorder_event(p->ctl->recorder, &ref, type, reason, msg);
    if (r && r != -EAGAIN)
        log_warn("pod %s/%s: cannot record event %s: %s", p->ns, p->name, reason, strerror(-r));
}

/* ---- timers and retries ---- */

static void on_timer(uv_timer_t *t)
{
    struct pod *p = t->data;
    if (p->reparse && p->obj)
        pod_update(p, p->obj); /* reads the annotations again, then kicks */
    else
        pod_kick(p);
}

static void kick_after(struct pod *p, uint64_t ms)
{
    p->retry_at = uv_now(p->ctl->loop) + ms;
    eip_timer_start(p->timer, on_timer, ms, "pod retry");
}

static uint64_t backoff_ms(int failures, int64_t base, int64_t cap)
{
    return (uint64_t)eip_backoff_delay_ms(base, cap, failures, EIP_JITTER_UP, 0.2,
                                          eip_backoff_rand01());
}

/* A step failed: Failed with the reason, retried after a capped backoff. */
static void pod_fail(struct pod *p, const char *reason, int64_t base_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void pod_fail(struct pod *p, const char *reason, int64_t base_ms, const char *fmt, ...)
{
    char msg[sizeof(p->message)];
    va_list ap;
    va_start(ap, fmt);
    eip_vseterr(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->failures++;
    uint64_t delay = backoff_ms(p->failures, base_ms, RETRY_CAP_MS);
    bool again = p->state == POD_FAILED && strcmp(p->message, msg) == 0;
    pod_set_state(p, POD_FAILED, reason, "%s (retry %d in %" PRIu64 " s)", msg, p->failures,
                  (delay + 999) / 1000);
    if (!again && !p->ghost)
        pod_event(p, "Warning", "EIPFailed", "%s", msg);
    kick_after(p, delay);
}

/* ---- steps ---- */

static void op_begin(struct pod *p, enum pod_op op, void *handle)
{
    p->op = op;
    p->op_handle = handle;
}

/* A step ended (its handle is gone): give the slot back and look again. */
static void op_end(struct pod *p)
{
    p->op = OP_NONE;
    p->op_handle = NULL;
    if (p->has_slot)
        controller_drop_slot(p->ctl, p);
    pod_kick(p);
}

/* A cloud request was sent (r == 0: op runs on call) or could not be: then the
 * slot is given back and the pod retries. */
static void cloud_sent(struct pod *p, enum pod_op op, int r, aliyun_call *call, const char *action)
{
    if (r) {
        p->op = OP_NONE;
        controller_drop_slot(p->ctl, p);
        pod_fail(p, "CloudError", RETRY_BASE_MS, "cannot send %s: %s", action, strerror(-r));
        return;
    }
    op_begin(p, op, call);
}

static void op_cancel(struct pod *p)
{
    switch (p->op) {
    case OP_NONE:
        break;
    case OP_SLOT:
        controller_drop_slot(p->ctl, p);
        break;
    case OP_ENI:
        eni_req_cancel(p->op_handle);
        break;
    case OP_DESCRIBE:
        eipwatch_cancel(p->op_handle);
        break;
    case OP_ALLOCATE:
        p->ctl->allocs_holding--;
        aliyun_call_cancel(p->op_handle);
        break;
    case OP_TAG:
    case OP_CBWP:
    case OP_ASSOCIATE:
    case OP_UNASSOCIATE:
    case OP_RELEASE:
        aliyun_call_cancel(p->op_handle);
        break;
    case OP_HOLDER_ENI:
        aliyun_call_cancel(p->op_handle);
        break;
    case OP_HOLDER:
    case OP_RECORD:
    case OP_COND:
        k8s_call_cancel(p->op_handle);
        break;
    case OP_PODEIP:
    case OP_PODEIP_GET:
    case OP_PODEIP_DONE:
        podeip_op_cancel(p->op_handle);
        break;
    }
    p->op = OP_NONE;
    p->op_handle = NULL;
    if (p->has_slot)
        controller_drop_slot(p->ctl, p);
}

/* Cloud steps wait for a slot first. */
static void want_cloud(struct pod *p, enum pod_op op);

static void eip_view_set(struct pod *p, const aliyun_eip *e)
{
    struct eip_view *v = &p->eip;
    v->known = true;
    v->exists = e != NULL;
    if (!e) {
        v->status[0] = v->instance_id[0] = v->private_ip[0] = v->instance_type[0] = '\0';
        return;
    }
    if (copy(v->allocation_id, sizeof(v->allocation_id), e->allocation_id)) {
        v->known = false;
        return;
    }
    copy(v->address, sizeof(v->address), e->ip_address);
    copy(v->status, sizeof(v->status), e->status);
    copy(v->instance_id, sizeof(v->instance_id), e->instance_id);
    copy(v->instance_type, sizeof(v->instance_type), e->instance_type);
    copy(v->private_ip, sizeof(v->private_ip), e->private_ip_address);
    copy(v->bandwidth, sizeof(v->bandwidth), e->bandwidth);
    copy(v->internet_charge_type, sizeof(v->internet_charge_type), e->internet_charge_type);
    copy(v->isp, sizeof(v->isp), e->isp);
    copy(v->resource_group_id, sizeof(v->resource_group_id), e->resource_group_id);
    copy(v->bandwidth_package_id, sizeof(v->bandwidth_package_id), e->bandwidth_package_id);
    copy(v->pool_id, sizeof(v->pool_id), e->public_ip_address_pool_id);
    copy(v->name, sizeof(v->name), e->name);
    copy(v->tag_uid, sizeof(v->tag_uid), aliyun_eip_tag(e, EIP_TAG_UID));
    copy(v->tag_node, sizeof(v->tag_node), aliyun_eip_tag(e, EIP_TAG_NODE));
}

static void eip_forget(struct pod *p)
{
    memset(&p->eip, 0, sizeof(p->eip));
    p->ours = false;
    p->tagged = false;
    p->recorded = false;
    p->podeip_written = false;
}

static bool status_is(const struct pod *p, const char *s)
{
    return strcmp(p->eip.status, s) == 0;
}

/* Bound (or binding) to anything. */
static bool eip_bound(const struct pod *p)
{
    return p->eip.instance_id[0] &&
           (status_is(p, "InUse") || status_is(p, "Associating") || status_is(p, "Unassociating"));
}

/* Bound (or binding) to this pod's IP. */
static bool eip_on_target(const struct pod *p)
{
    if (!p->eip.exists || !p->eni_id[0] || strcmp(p->eip.instance_id, p->eni_id) != 0)
        return false;
    if (p->eip.private_ip[0])
        return strcmp(p->eip.private_ip, p->pod_ip) == 0;
    return p->eni_primary;
}

/* The EIP carries this pod's uid tag (it was bound for this pod). */
static bool eip_owned(const struct pod *p)
{
    return p->ours || (p->eip.tag_uid[0] && strcmp(p->eip.tag_uid, p->uid) == 0);
}

/* -- ENI -- */

static void on_eni(int err, const char *eni_id, bool primary, const char *detail, void *arg)
{
    struct pod *p = arg;
    p->op_handle = NULL;
    if (err == 0) {
        copy(p->eni_id, sizeof(p->eni_id), eni_id);
        p->eni_primary = primary;
        log_debug("pod %s/%s: %s is on %s%s", p->ns, p->name, p->pod_ip, eni_id,
                  primary ? " (primary)" : "");
    } else if (err == -ENOENT) {
        p->op = OP_NONE;
        pod_fail(p, "ENINotFound", RETRY_BASE_MS * 5,
                 "no ENI of this node holds the pod IP %s (a hostNetwork pod cannot have its own "
                 "EIP)",
                 p->pod_ip);
        return;
    } else {
        p->op = OP_NONE;
        pod_fail(p, "ENILookupFailed", RETRY_BASE_MS, "cannot find the ENI of %s: %s", p->pod_ip,
                 detail && *detail ? detail : strerror(-err));
        return;
    }
    op_end(p);
}

static void start_eni(struct pod *p)
{
    eni_req *req = NULL;
    int r = eni_resolve(p->ctl->eni, p->pod_ip, on_eni, p, &req);
    if (r) {
        pod_fail(p, "ENILookupFailed", RETRY_BASE_MS, "cannot look up the ENI: %s", strerror(-r));
        return;
    }
    op_begin(p, OP_ENI, req);
}

/* -- describe -- */

static void on_described(int err, const aliyun_eip *eip, const aliyun_result *res, void *arg)
{
    struct pod *p = arg;
    p->op_handle = NULL;
    if (err) {
        char d[300];
        aliyun_error_format(&res->error, d, sizeof(d));
        p->op = OP_NONE;
        pod_fail(p, "DescribeFailed", RETRY_BASE_MS, "cannot describe %s: %s", p->eip.allocation_id,
                 d);
        return;
    }
    eip_view_set(p, eip);
    op_end(p);
}

static void start_describe(struct pod *p, int64_t delay_ms)
{
    eipwatch_req *req = NULL;
    int r = eipwatch_describe(p->ctl->watch, p->eip.allocation_id, delay_ms, on_described, p, &req);
    if (r) {
        pod_fail(p, "DescribeFailed", RETRY_BASE_MS, "cannot describe %s: %s", p->eip.allocation_id,
                 strerror(-r));
        return;
    }
    op_begin(p, OP_DESCRIBE, req);
}

/* Polls an EIP in transition: the first describe after about the time the
 * cloud takes, then backing off. */
static void poll_transition(struct pod *p)
{
    /* about a second for the first look; the cloud's jitter makes a quick second
     * look worth it; then backing off */
    int64_t d = p->describe_delay_ms == 0               ? POLL_FIRST_MS
                : p->describe_delay_ms == POLL_FIRST_MS ? POLL_FIRST_MS * 3 / 4
                                                        : p->describe_delay_ms * 2;
    if (d > POLL_MAX_MS)
        d = POLL_MAX_MS;
    p->describe_delay_ms = d;
    p->eip.known = false;
    start_describe(p, d);
}

/* -- cloud results -- */

static bool is_quota(const aliyun_result *res)
{
    return strstr(res->error.code, "Quota") != NULL || strstr(res->error.code, "quota") != NULL;
}

static void cloud_failed(struct pod *p, const aliyun_result *res, const char *what)
{
    char d[400];
    aliyun_error_format(&res->error, d, sizeof(d));
    p->op = OP_NONE;
    p->eip.known = false; /* the next try starts from a fresh describe */
    if (p->has_slot)
        controller_drop_slot(p->ctl, p);
    if (is_quota(res)) {
        pod_fail(p, "QuotaExceeded", QUOTA_BASE_MS, "%s%s%s: the EIP quota is exhausted: %s", what,
                 p->eip.allocation_id[0] ? " " : "", p->eip.allocation_id, d);
        return;
    }
    pod_fail(p, "CloudError", RETRY_BASE_MS, "%s%s%s failed: %s", what,
             p->eip.allocation_id[0] ? " " : "", p->eip.allocation_id, d);
}

static void on_allocated(const aliyun_result *res, const aliyun_allocated_eip *e, void *arg)
{
    struct pod *p = arg;
    p->op_handle = NULL;
    p->ctl->allocs_holding--;
    if (res->status) {
        cloud_failed(p, res, "AllocateEipAddress");
        return;
    }
    p->failures = 0;
    copy(p->eip.allocation_id, sizeof(p->eip.allocation_id), e->allocation_id);
    copy(p->eip.address, sizeof(p->eip.address), e->eip_address);
    /* New, so Available and unbound. (A replayed ClientToken answers with the EIP
     * of the first request, which may be bound already: the association then
     * finds out, and aliyun/ treats "already bound here" as done.) */
    p->eip.known = true;
    p->eip.exists = true;
    copy(p->eip.status, sizeof(p->eip.status), "Available");
    copy(p->eip.tag_uid, sizeof(p->eip.tag_uid), p->uid);
    copy(p->eip.tag_node, sizeof(p->eip.tag_node), p->ctl->cfg->node_name);
    copy(p->eip.resource_group_id, sizeof(p->eip.resource_group_id), e->resource_group_id);
    p->ours = true;
    p->tagged = true;
    p->ctl->stats.allocated++;
    metrics_inc(p->ctl->m.allocations, NULL);
    pod_event(p, "Normal", "EIPAllocated", "Allocated %s (%s) for %s", e->allocation_id,
              e->eip_address, p->pod_ip);
    log_info("pod %s/%s: allocated %s (%s)", p->ns, p->name, e->allocation_id, e->eip_address);
    op_end(p);
}

static void start_allocate(struct pod *p)
{
    const eip_request *q = &p->req;
    aliyun_tag tags[EIP_AGENT_TAGS + EIP_MAX_USER_TAGS];
    size_t n = controller_tags(p->ctl, p, tags, EIP_AGENT_TAGS + EIP_MAX_USER_TAGS);
    for (size_t i = 0; i < q->n_tags && n < sizeof(tags) / sizeof(tags[0]); i++)
        tags[n++] = (aliyun_tag){q->tags[i].key, q->tags[i].value};
    /* The same token for every retry of this pod's allocation, across restarts:
     * the cloud answers a repeat with the EIP of the first request. */
    char token[80];
    int tn = snprintf(token, sizeof(token), "eip-agent-%s-%u", p->uid, p->token_gen);
    if (tn < 0 || (size_t)tn >= sizeof(token)) {
        pod_fail(p, "InvalidPod", RETRY_CAP_MS, "pod uid too long");
        return;
    }
    aliyun_allocate_eip_params ap = {
        .bandwidth = q->bandwidth,
        /* ack-extend-network-controller's defaults (the API's would be PayByBandwidth) */
        .internet_charge_type = q->internet_charge_type ? q->internet_charge_type : "PayByTraffic",
        .instance_charge_type = q->instance_charge_type ? q->instance_charge_type : "PostPaid",
        .isp = q->isp,
        .name = q->name,
        .description = q->description,
        .resource_group_id = q->resource_group_id,
        .public_ip_address_pool_id = q->public_ip_address_pool_id,
        .security_protection_types = (const char *const *)q->security_protection_types,
        .n_security_protection_types = q->n_security_protection_types,
        .tags = tags,
        .n_tags = n,
        .client_token = token,
    };
    aliyun_call *call = NULL;
    int r = aliyun_vpc_allocate_eip(p->ctl->ac, &ap, on_allocated, p, &call);
    if (!r)
        p->ctl->allocs_holding++;
    cloud_sent(p, OP_ALLOCATE, r, call, "AllocateEipAddress");
}

static void on_done_generic(const aliyun_result *res, void *arg, const char *action)
{
    struct pod *p = arg;
    p->op_handle = NULL;
    if (res->status) {
        cloud_failed(p, res, action);
        return;
    }
    p->failures = 0;
    op_end(p);
}

static void on_tagged(const aliyun_result *res, void *arg)
{
    struct pod *p = arg;
    if (res->status == 0) {
        p->tagged = true;
        if (p->adopted && p->type == EIP_ALLOC_AUTO)
            p->ours = true; /* re-tagged for this pod: it goes with this pod now */
        copy(p->eip.tag_uid, sizeof(p->eip.tag_uid), p->uid);
        copy(p->eip.tag_node, sizeof(p->eip.tag_node), p->ctl->cfg->node_name);
    }
    on_done_generic(res, arg, "TagResources");
}

static void start_tag(struct pod *p)
{
    aliyun_tag tags[EIP_AGENT_TAGS];
    size_t n = controller_tags(p->ctl, p, tags, EIP_AGENT_TAGS);
    const char *ids[] = {p->eip.allocation_id};
    aliyun_call *call = NULL;
    aliyun_tag_eips_params tp = {
        .allocation_ids = ids, .n_allocation_ids = 1, .tags = tags, .n_tags = n};
    int r = aliyun_vpc_tag_eips(p->ctl->ac, &tp, on_tagged, p, &call);
    cloud_sent(p, OP_TAG, r, call, "TagResources");
}

static void on_cbwp(const aliyun_result *res, void *arg)
{
    struct pod *p = arg;
    if (res->status == 0) {
        /* joins asynchronously: describe until the package shows */
        p->eip.known = false;
        p->cbwp_added = true;
        p->describe_delay_ms = 0;
    }
    on_done_generic(res, arg, "AddCommonBandwidthPackageIp");
}

static void start_cbwp(struct pod *p)
{
    aliyun_call *call = NULL;
    aliyun_cbwp_ip_params cp = {.bandwidth_package_id = p->req.bandwidth_package_id,
                                .allocation_id = p->eip.allocation_id};
    int r = aliyun_vpc_add_cbwp_ip(p->ctl->ac, &cp, on_cbwp, p, &call);
    cloud_sent(p, OP_CBWP, r, call, "AddCommonBandwidthPackageIp");
}

static void on_associated(const aliyun_result *res, void *arg)
{
    struct pod *p = arg;
    if (res->status == 0) {
        p->ctl->stats.associated++;
        /* Associating now (or already InUse): describe after the usual time */
        copy(p->eip.status, sizeof(p->eip.status), "Associating");
        copy(p->eip.instance_id, sizeof(p->eip.instance_id), p->eni_id);
        copy(p->eip.instance_type, sizeof(p->eip.instance_type), "NetworkInterface");
        copy(p->eip.private_ip, sizeof(p->eip.private_ip), p->eni_primary ? "" : p->pod_ip);
        p->describe_delay_ms = 0;
    }
    on_done_generic(res, arg, "AssociateEipAddress");
}

static void start_associate(struct pod *p)
{
    aliyun_associate_eip_params ap = {
        .to = {.allocation_id = p->eip.allocation_id,
               .instance_id = p->eni_id,
               .instance_type = "NetworkInterface",
               .private_ip_address = p->eni_primary ? NULL : p->pod_ip},
    };
    aliyun_call *call = NULL;
    int r = aliyun_vpc_associate_eip(p->ctl->ac, &ap, on_associated, p, &call);
    cloud_sent(p, OP_ASSOCIATE, r, call, "AssociateEipAddress");
}

static void on_unassociated(const aliyun_result *res, void *arg)
{
    struct pod *p = arg;
    if (res->status == 0) {
        p->ctl->stats.unassociated++;
        if (res->cls == ALIYUN_ERR_DONE) {
            p->eip.known = false; /* not bound to that target (any more): look */
        } else {
            copy(p->eip.status, sizeof(p->eip.status), "Unassociating");
        }
        p->describe_delay_ms = 0;
        p->recorded = false;
    }
    on_done_generic(res, arg, "UnassociateEipAddress");
}

/* Unbinds the EIP from the target it is bound to now (ours, or a gone holder). */
static void start_unassociate(struct pod *p)
{
    controller_count_leak(p->ctl, p);
    aliyun_unassociate_eip_params up = {
        .from = {.allocation_id = p->eip.allocation_id,
                 .instance_id = p->eip.instance_id,
                 .instance_type = p->eip.instance_type[0] ? p->eip.instance_type : NULL,
                 .private_ip_address = p->eip.private_ip[0] ? p->eip.private_ip : NULL},
    };
    aliyun_call *call = NULL;
    int r = aliyun_vpc_unassociate_eip(p->ctl->ac, &up, on_unassociated, p, &call);
    cloud_sent(p, OP_UNASSOCIATE, r, call, "UnassociateEipAddress");
}

static void on_released(const aliyun_result *res, void *arg)
{
    struct pod *p = arg;
    if (res->status == 0) {
        p->ctl->stats.released++;
        metrics_inc(p->ctl->m.releases, NULL);
        if (p->ghost) {
            const char *reason[] = {p->gc_reason ? p->gc_reason : "pod-gone"};
            metrics_inc(p->ctl->m.gc_released, reason);
        }
        log_info("pod %s/%s: released %s (%s)", p->ns, p->name, p->eip.allocation_id,
                 p->eip.address);
        copy(p->eip.status, sizeof(p->eip.status), "Releasing");
        p->eip.exists = false;
    }
    on_done_generic(res, arg, "ReleaseEipAddress");
}

static void start_release(struct pod *p)
{
    controller_count_leak(p->ctl, p);
    aliyun_call *call = NULL;
    aliyun_release_eip_params rp = {.allocation_id = p->eip.allocation_id};
    int r = aliyun_vpc_release_eip(p->ctl->ac, &rp, on_released, p, &call);
    cloud_sent(p, OP_RELEASE, r, call, "ReleaseEipAddress");
}

static void run_cloud(struct pod *p, enum pod_op op)
{
    switch (op) {
    case OP_ALLOCATE:
        start_allocate(p);
        break;
    case OP_TAG:
        start_tag(p);
        break;
    case OP_CBWP:
        start_cbwp(p);
        break;
    case OP_ASSOCIATE:
        start_associate(p);
        break;
    case OP_UNASSOCIATE:
        start_unassociate(p);
        break;
    case OP_RELEASE:
        start_release(p);
        break;
    default:
        break;
    }
}

static void want_cloud(struct pod *p, enum pod_op op)
{
    if (p->has_slot) {
        run_cloud(p, op);
        return;
    }
    p->slot_op = op;
    op_begin(p, OP_SLOT, NULL);
    controller_want_slot(p->ctl, p);
}

void pod_slot_granted(struct pod *p)
{
    p->has_slot = true;
    p->op = OP_NONE;
    /* Things may have changed while it waited: decide again. */
    p->dirty = false;
    pod_kick(p);
    if (p->has_slot && !is_cloud_op(p->op))
        controller_drop_slot(p->ctl, p);
}

/* -- who holds a Static EIP -- */

static bool pod_is_live(const json_t *pod)
{
    const json_t *md = json_object_get(pod, "metadata");
    if (json_object_get(md, "deletionTimestamp"))
        return false;
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    return !phase || (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0);
}

static void on_holder(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    struct pod *p = arg;
    p->op_handle = NULL;
    if (resp->result != K8S_OK) {
        p->op = OP_NONE;
        pod_fail(p, "KubernetesError", RETRY_BASE_MS, "cannot list the pods holding %s: %s",
                 p->eip.private_ip,
                 resp->status.message[0] ? resp->status.message : k8s_result_name(resp->result));
        return;
    }
    const char *ip = p->holder[0] ? p->holder : p->eip.private_ip;
    char who[300] = "";
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(resp->json, "items"), i, it)
    {
        const json_t *md = json_object_get(it, "metadata");
        const char *uid = json_string_value(json_object_get(md, "uid"));
        if (uid && strcmp(uid, p->uid) == 0)
            continue;
        if (!pod_is_live(it))
            continue;
        eip_seterr(who, sizeof(who), "%.120s/%.120s",
                   json_string_value(json_object_get(md, "namespace")) ?: "?",
                   json_string_value(json_object_get(md, "name")) ?: "?");
        break;
    }
    if (who[0]) {
        p->holder_live = true;
        p->failures++;
        uint64_t delay = backoff_ms(p->failures, HOLDER_BASE_MS, HOLDER_CAP_MS);
        pod_set_state(p, POD_WAITING, "EIPInUse", "%s is bound to %s, held by pod %s; waiting",
                      p->eip.allocation_id, ip, who);
        p->op = OP_NONE;
        p->eip.known = false;
        kick_after(p, delay);
        return;
    }
    /* Nobody lives on that IP any more: take the EIP over. */
    p->holder_live = false;
    log_info("pod %s/%s: %s is bound to %s where no pod lives: taking it over", p->ns, p->name,
             p->eip.allocation_id, ip);
    p->holder[0] = '\0';
    p->op = OP_NONE;
    want_cloud(p, OP_UNASSOCIATE);
}

static void start_holder(struct pod *p, const char *ip)
{
    char path[256];
    int n = snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=status.podIP%%3D%s", ip);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        pod_fail(p, "InvalidHolder", RETRY_CAP_MS, "holder address too long");
        return;
    }
    k8s_call *call = NULL;
    int r = k8s_get(p->ctl->kc, path, on_holder, p, &call);
    if (r) {
        pod_fail(p, "KubernetesError", RETRY_BASE_MS, "cannot list pods: %s", strerror(-r));
        return;
    }
    op_begin(p, OP_HOLDER, call);
}

static void on_holder_eni(const aliyun_result *res, const aliyun_eni_page *pg, void *arg)
{
    struct pod *p = arg;
    p->op_handle = NULL;
    if (res->status) {
        cloud_failed(p, res, "DescribeNetworkInterfaces");
        return;
    }
    p->op = OP_NONE;
    if (!pg || pg->n == 0 || !pg->enis[0].primary_ip[0]) {
        /* the ENI is gone: nobody holds the EIP */
        want_cloud(p, OP_UNASSOCIATE);
        return;
    }
    copy(p->holder, sizeof(p->holder), pg->enis[0].primary_ip);
    start_holder(p, p->holder);
}

/* The EIP is bound to another target: wait while a live pod holds it, else
 * take it over. Only ENI bindings are taken over: an EIP bound to an instance,
 * a NAT gateway or a load balancer is somebody else's. */
static void check_holder(struct pod *p)
{
    if (strcmp(p->eip.instance_type, "NetworkInterface") != 0) {
        p->failures++;
        pod_set_state(p, POD_WAITING, "EIPInUse",
                      "%s is bound to %s %s, which is not a pod: unbind it to let this pod have it",
                      p->eip.allocation_id, p->eip.instance_type, p->eip.instance_id);
        p->eip.known = false;
        kick_after(p, backoff_ms(p->failures, HOLDER_BASE_MS * 5, HOLDER_CAP_MS));
        return;
    }
    if (p->eip.private_ip[0]) {
        p->holder[0] = '\0';
        start_holder(p, p->eip.private_ip);
        return;
    }
    const char *ids[] = {p->eip.instance_id};
    aliyun_describe_enis_params ep = {.network_interface_ids = ids, .n_network_interface_ids = 1};
    aliyun_call *call = NULL;
    int r = aliyun_ecs_describe_enis(p->ctl->ac, &ep, on_holder_eni, p, &call);
    cloud_sent(p, OP_HOLDER_ENI, r, call, "DescribeNetworkInterfaces");
}

/* -- writes on the pod -- */

static void on_recorded(k8s_call *call, const k8s_response *resp, void *arg, bool value)
{
    (void)call;
    struct pod *p = arg;
    p->op_handle = NULL;
    p->op = OP_NONE;
    if (resp->result == K8S_E_NOT_FOUND ||
        (resp->result == K8S_E_INVALID && strstr(resp->status.message, "uid"))) {
        /* Gone, or replaced by a namesake (the uid precondition): nothing to record. */
        log_info("pod %s/%s: not recorded: the pod is gone or was replaced (%s)", p->ns, p->name,
                 resp->status.message);
        /* The watch will say so; until then nothing more is written for it. */
        p->vanished = true;
        pod_kick(p);
        return;
    }
    if (resp->result != K8S_OK) {
        pod_fail(p, "KubernetesError", RETRY_BASE_MS, "cannot write the condition: %s",
                 resp->status.message[0] ? resp->status.message : k8s_result_name(resp->result));
        return;
    }
    p->failures = 0;
    if (value) {
        p->recorded = true;
        p->cond_false_written = false;
        if (p->ip_seen_mono && !p->bind_seconds) {
            p->bind_seconds = (double)(eip_time_mono_ms() - p->ip_seen_mono) / 1000.0;
            metrics_observe(p->ctl->m.bind_duration, NULL, p->bind_seconds);
        }
        pod_event(p, "Normal", "EIPAssociated", "Associated %s (%s) with %s on %s",
                  p->eip.allocation_id, p->eip.address, p->pod_ip, p->eni_id);
    } else {
        p->cond_false_written = true;
    }
    pod_kick(p);
}

static void on_recorded_true(k8s_call *call, const k8s_response *resp, void *arg)
{
    on_recorded(call, resp, arg, true);
}

static void on_recorded_false(k8s_call *call, const k8s_response *resp, void *arg)
{
    on_recorded(call, resp, arg, false);
}

/* One strategic-merge patch on pods/status: the condition (merged on type, no
 * other condition touched), the annotations when bound, and the pod's uid as a
 * precondition (a namesake created since gets nothing). */
static void start_record(struct pod *p, bool value, const char *reason, const char *message)
{
    char now[40];
    eip_time_format_rfc3339(now, sizeof(now), (time_t)(eip_time_now_ms() / 1000));
    json_t *md = json_pack("{s:s}", "uid", p->uid);
    json_t *cond = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", EIP_CONDITION_TYPE, "status",
                             value ? "True" : "False", "reason", reason, "message", message,
                             "lastTransitionTime", now, "lastProbeTime", now);
    json_t *body = NULL;
    if (md && cond && value) {
        json_t *ann = json_pack("{s:s,s:s,s:s}", EIP_ANNOT_ALLOCATED_ID, p->eip.allocation_id,
                                EIP_ANNOT_ALLOCATED_ADDRESS, p->eip.address,
                                EIP_ANNOT_LEGACY_ADDRESS, p->eip.address);
        if (!ann || json_object_set_new(md, "annotations", ann)) {
            json_decref(md);
            md = NULL;
        }
    }
    if (md && cond)
        body = json_pack("{s:o,s:{s:[o]}}", "metadata", md, "status", "conditions", cond);
    else {
        json_decref(md);
        json_decref(cond);
    }
    char path[600];
    int n = snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", p->ns, p->name);
    k8s_call *call = NULL;
    int r = -ENOMEM;
    if (body && n > 0 && (size_t)n < sizeof(path))
        r = k8s_patch(p->ctl->kc, path, K8S_PATCH_STRATEGIC_MERGE, body,
                      value ? on_recorded_true : on_recorded_false, p, &call);
    json_decref(body);
    if (r) {
        pod_fail(p, "KubernetesError", RETRY_BASE_MS, "cannot write the condition: %s",
                 strerror(-r));
        return;
    }
    op_begin(p, value ? OP_RECORD : OP_COND, call);
}

/* -- PodEIP -- */

/* A gone pod's PodEIP keeps its EIP when it points at it with TTL or Never. */
static void ghost_read_podeip(struct pod *p, const struct podeip_info *info)
{
    p->podeip_keep = false;
    p->podeip_seen_set =
        info && info->exists && info->pod_last_seen_ms > 0 && strcmp(info->status, "InUse") != 0;
    if (info && info->exists && strcmp(info->allocation_id, p->eip.allocation_id) == 0 &&
        info->strategy != EIP_RELEASE_FOLLOW) {
        p->podeip_keep = true;
        p->strategy = info->strategy;
        p->release_after_ms = info->release_after_ms;
        copy(p->release_after, sizeof(p->release_after), info->release_after);
    }
}

/* Before allocating, the pod's PodEIP may name the EIP to use: the pod's own
 * (written before a restart), one kept for this name by its TTL/Never strategy
 * (a StatefulSet pod recreated, on any node), or one that
 * ack-extend-network-controller wrote for this pod (adopted when that EIP is
 * bound to the pod already). */
static void adopt_from_podeip(struct pod *p, const struct podeip_info *info)
{
    if (!info || !info->exists || info->deleting || !info->allocation_id[0] ||
        p->eip.allocation_id[0] || strcmp(info->allocation_id, p->hint_rejected) == 0)
        return;
    bool mine = info->pod_uid[0] && strcmp(info->pod_uid, p->uid) == 0;
    bool kept = info->strategy != EIP_RELEASE_FOLLOW && p->stateful;
    bool ack = !info->pod_uid[0];
    if (!mine && !kept && !ack)
        return; /* another incarnation's Follow EIP: it goes with that pod */
    copy(p->eip.allocation_id, sizeof(p->eip.allocation_id), info->allocation_id);
    p->eip.known = false;
    p->adopted = true;
    p->adopt_if_on_target = !mine && !kept;
    log_info("pod %s/%s: reusing %s from its PodEIP (%s)", p->ns, p->name, info->allocation_id,
             mine   ? "written for this pod"
             : kept ? (info->strategy == EIP_RELEASE_NEVER ? "kept: Never" : "kept: TTL")
                    : "written by ack-extend-network-controller");
}

static void on_podeip(int err, const char *detail, const struct podeip_info *info, void *arg)
{
    struct pod *p = arg;
    enum pod_op op = p->op;
    p->op_handle = NULL;
    p->op = OP_NONE;
    if (err) {
        pod_fail(p, "KubernetesError", RETRY_BASE_MS, "PodEIP %s/%s: %s", p->ns, p->name,
                 detail && *detail ? detail : strerror(-err));
        return;
    }
    p->failures = 0;
    switch (op) {
    case OP_PODEIP:
        p->podeip_written = true;
        break;
    case OP_PODEIP_GET:
        p->podeip_read = true;
        if (p->ghost)
            ghost_read_podeip(p, info);
        else
            adopt_from_podeip(p, info);
        break;
    case OP_PODEIP_DONE:
        p->podeip_written = false;
        p->podeip_done = true;
        break;
    default:
        break;
    }
    pod_kick(p);
}

static void podeip_started(struct pod *p, enum pod_op op, int r, podeip_op *h)
{
    if (r) {
        pod_fail(p, "KubernetesError", RETRY_BASE_MS, "PodEIP %s/%s: %s", p->ns, p->name,
                 strerror(-r));
        return;
    }
    op_begin(p, op, h);
}

static void fill_podeip(const struct pod *p, struct podeip_info *i)
{
    memset(i, 0, sizeof(*i));
    i->exists = true;
    copy(i->allocation_id, sizeof(i->allocation_id), p->eip.allocation_id);
    copy(i->bandwidth_package_id, sizeof(i->bandwidth_package_id),
         p->req.bandwidth_package_id ? p->req.bandwidth_package_id : p->eip.bandwidth_package_id);
    i->type = p->type;
    i->strategy = p->strategy;
    i->release_after_ms = p->release_after_ms;
    copy(i->release_after, sizeof(i->release_after), p->release_after);
    copy(i->pod_uid, sizeof(i->pod_uid), p->uid);
    copy(i->eip_address, sizeof(i->eip_address), p->eip.address);
    copy(i->eni_id, sizeof(i->eni_id), p->eni_id);
    copy(i->private_ip, sizeof(i->private_ip), p->pod_ip);
    copy(i->isp, sizeof(i->isp), p->eip.isp);
    copy(i->internet_charge_type, sizeof(i->internet_charge_type), p->eip.internet_charge_type);
    copy(i->resource_group_id, sizeof(i->resource_group_id), p->eip.resource_group_id);
    copy(i->name, sizeof(i->name), p->eip.name);
    copy(i->pool_id, sizeof(i->pool_id), p->eip.pool_id);
    copy(i->status, sizeof(i->status), p->eip.status);
    copy(i->bandwidth, sizeof(i->bandwidth), p->eip.bandwidth);
}

static void start_podeip_write(struct pod *p)
{
    struct podeip_info i;
    fill_podeip(p, &i);
    podeip_op *h = NULL;
    int r = podeip_write(p->ctl->kc, p->ns, p->name, &i, on_podeip, p, &h);
    podeip_started(p, OP_PODEIP, r, h);
}

static void start_podeip_get(struct pod *p)
{
    podeip_op *h = NULL;
    int r = podeip_read(p->ctl->kc, p->ns, p->name, on_podeip, p, &h);
    podeip_started(p, OP_PODEIP_GET, r, h);
}

static bool keeps_eip(const struct pod *p)
{
    return p->podeip_keep || p->strategy != EIP_RELEASE_FOLLOW;
}

static void start_podeip_done(struct pod *p)
{
    podeip_op *h = NULL;
    int r;
    if (keeps_eip(p) && p->ghost && p->podeip_seen_set) {
        /* podLastSeen was written when the pod went: the TTL runs from there */
        p->podeip_done = true;
        pod_kick(p);
        return;
    }
    if (keeps_eip(p)) {
        struct podeip_info i;
        fill_podeip(p, &i);
        copy(i.status, sizeof(i.status), p->eip.exists ? p->eip.status : "");
        i.eni_id[0] = i.private_ip[0] = '\0';
        r = podeip_mark_seen(p->ctl->kc, p->ns, p->name, &i, eip_time_now_ms(), on_podeip, p, &h);
    } else {
        r = podeip_delete(p->ctl->kc, p->ns, p->name, p->eip.allocation_id, p->uid, on_podeip, p,
                          &h);
    }
    podeip_started(p, OP_PODEIP_DONE, r, h);
}

/* ---- the machine ---- */

/* Release: unbind the EIP from this pod (when it still carries this pod's
 * tag), then the PodEIP (deleted, or marked for a kept EIP), then the EIP
 * itself (Auto and Follow only), then one EIPReleased event. */
static bool release_unbind(struct pod *p)
{
    bool owned = eip_owned(p);
    if (owned && status_is(p, "Associating")) {
        pod_set_state(p, POD_RELEASING, "WaitingForAssociation",
                      "%s is still associating; unassociating once it settles",
                      p->eip.allocation_id);
        poll_transition(p);
        return true;
    }
    if (owned && status_is(p, "InUse") && p->eip.instance_id[0]) {
        p->describe_delay_ms = 0;
        pod_set_state(p, POD_RELEASING, "Unassociating", "unassociating %s from %s",
                      p->eip.allocation_id,
                      p->eip.private_ip[0] ? p->eip.private_ip : p->eip.instance_id);
        want_cloud(p, OP_UNASSOCIATE);
        return true;
    }
    if (owned && status_is(p, "Unassociating")) {
        pod_set_state(p, POD_RELEASING, "Unassociating", "waiting for %s to be unassociated",
                      p->eip.allocation_id);
        poll_transition(p);
        return true;
    }
    return false;
}

static void release_done(struct pod *p)
{
    if (p->ghost && keeps_eip(p))
        controller_note_kept(p->ctl, p->eip.allocation_id);
    if (!p->released_event) {
        p->released_event = true;
        pod_event(p, "Normal", "EIPReleased", "%s %s (%s)",
                  keeps_eip(p)                  ? "Unassociated and kept"
                  : p->type == EIP_ALLOC_STATIC ? "Unassociated"
                                                : "Released",
                  p->eip.allocation_id, p->eip.address[0] ? p->eip.address : "-");
    }
    pod_set_state(p, POD_RELEASED, keeps_eip(p) ? "Kept" : "Released", "%s %s",
                  keeps_eip(p)                  ? "kept"
                  : p->type == EIP_ALLOC_STATIC ? "unbound"
                                                : "released",
                  p->eip.allocation_id);
}

static void reconcile_release(struct pod *p)
{
    if (!p->eip.allocation_id[0]) {
        /* nothing was allocated or bound for this pod */
        pod_set_state(p, POD_RELEASED, "NothingToRelease", "no EIP was bound");
        return;
    }
    if (!p->ctl->cloud_ready) {
        pod_set_state(p, POD_RELEASING, "WaitingForCloud", "waiting for the cloud client");
        return;
    }
    if (uv_now(p->ctl->loop) < p->retry_at)
        return;
    if (p->ghost && !p->podeip_read) {
        pod_set_state(p, POD_RELEASING, "ReadingPodEIP", "reading the PodEIP of the gone pod");
        start_podeip_get(p);
        return;
    }
    if (!p->eip.known) {
        start_describe(p, 0);
        return;
    }
    if (p->eip.exists && p->ghost && !eip_owned(p)) {
        /* another pod (another node's agent) has it now */
        p->podeip_done = true;
        pod_set_state(p, POD_RELEASED, "TakenOver", "%s belongs to pod uid %s now",
                      p->eip.allocation_id, p->eip.tag_uid[0] ? p->eip.tag_uid : "-");
        return;
    }
    if (p->eip.exists && release_unbind(p))
        return;
    /* The record goes before the EIP: a crash in between leaves a tagged EIP
     * without a record, which the node GC releases (the other order would leave a
     * record that nothing looks for). */
    if (!p->podeip_done) {
        pod_set_state(p, POD_RELEASING, "UpdatingPodEIP", "%s the PodEIP",
                      keeps_eip(p) ? "updating" : "deleting");
        start_podeip_done(p);
        return;
    }
    if (p->eip.exists && p->type == EIP_ALLOC_AUTO && eip_owned(p) && !keeps_eip(p) &&
        status_is(p, "Available")) {
        pod_set_state(p, POD_RELEASING, "Releasing", "releasing %s", p->eip.allocation_id);
        want_cloud(p, OP_RELEASE);
        return;
    }
    release_done(p);
}

/* The bind path is a chain of steps, in order; each either acts (starts an
 * operation, sets a state: the chain stops, and the operation's end kicks the
 * pod again) or finds nothing to do and lets the next step look. */

/* Nothing can happen yet: a bad annotation, no cloud, no pod IP. */
static bool bind_blocked(struct pod *p)
{
    struct controller *c = p->ctl;
    if (p->req_err.key[0]) {
        if (!p->invalid_reported) {
            p->invalid_reported = true;
            pod_event(p, "Warning", "InvalidAnnotation", "%s: %s", p->req_err.key,
                      p->req_err.message);
        }
        pod_set_state(p, POD_FAILED, "InvalidAnnotation", "%s: %s", p->req_err.key,
                      p->req_err.message);
        if (!p->cond_false_written)
            start_record(p, false, "InvalidAnnotation", p->message);
        return true;
    }
    if (!c->cloud_ready || !c->inventoried) {
        pod_set_state(p, POD_WAITING, "WaitingForCloud",
                      "waiting for the cloud inventory of this node");
        return true;
    }
    if (!p->pod_ip[0]) {
        pod_set_state(p, POD_WAITING, "WaitingForPodIP", "waiting for the pod IP");
        return true;
    }
    if (p->vanished) {
        pod_set_state(p, POD_WAITING, "PodGone",
                      "the API server says the pod is gone or replaced; waiting for the watch");
        return true;
    }
    if (uv_now(c->loop) < p->retry_at)
        return true; /* a timer kicks it then */
    if (p->reparse && p->type == EIP_ALLOC_NONE) {
        /* what the pod asks for is not known yet: nothing is allocated on a guess
         * (a request read before stays in force until the annotations are read) */
        pod_fail(p, "OutOfMemory", RETRY_BASE_MS, "no memory to read the EIP annotations");
        return true;
    }
    return false;
}

/* Which EIP: the ENI first (no money is spent on a pod no ENI holds), then the
 * PodEIP's, the annotation's, or a new one; then what the cloud says of it. */
static bool bind_choose(struct pod *p)
{
    if (!p->eni_id[0]) {
        enum pod_state working = p->type == EIP_ALLOC_AUTO && !p->eip.allocation_id[0]
                                     ? POD_ALLOCATING
                                     : POD_ASSOCIATING;
        pod_set_state(p, working, "FindingENI", "finding the ENI of %s", p->pod_ip);
        start_eni(p);
        return true;
    }
    if (!p->eip.allocation_id[0] && p->type == EIP_ALLOC_AUTO && !p->podeip_read) {
        pod_set_state(p, POD_ALLOCATING, "ReadingPodEIP", "looking for a PodEIP to reuse");
        start_podeip_get(p);
        return true;
    }
    if (!p->eip.allocation_id[0]) {
        if (p->req.allocation_id &&
            (p->type == EIP_ALLOC_STATIC || strcmp(p->req.allocation_id, p->hint_rejected) != 0)) {
            /* Static, or the agent's own record on an Auto pod: look at it */
            copy(p->eip.allocation_id, sizeof(p->eip.allocation_id), p->req.allocation_id);
            p->eip.known = false;
        } else {
            pod_set_state(p, POD_ALLOCATING, "Allocating", "allocating an EIP for %s", p->pod_ip);
            want_cloud(p, OP_ALLOCATE);
            return true;
        }
    }
    if (!p->eip.known) {
        start_describe(p, 0);
        return true;
    }
    return false;
}

/* Drops the EIP chosen so far (never to be picked again from the same record)
 * and starts over. */
static void bind_forget(struct pod *p)
{
    copy(p->hint_rejected, sizeof(p->hint_rejected), p->eip.allocation_id);
    p->adopted = false;
    eip_forget(p);
    pod_kick(p);
}

/* Is the EIP the cloud described one this pod may have? */
static bool bind_vet(struct pod *p)
{
    if (!p->eip.exists || status_is(p, "Releasing")) {
        if (p->type == EIP_ALLOC_STATIC) {
            pod_fail(p, "EIPNotFound", RETRY_BASE_MS * 10, "%s does not exist%s",
                     p->eip.allocation_id, status_is(p, "Releasing") ? " (being released)" : "");
            return true;
        }
        /* Auto: our EIP vanished (released from the console?), or a record points
         * nowhere: allocate a new one (with a new ClientToken if it was ours) */
        log_warn("pod %s/%s: %s is gone; allocating a new EIP", p->ns, p->name,
                 p->eip.allocation_id);
        if (p->ours)
            p->token_gen++;
        bind_forget(p);
        return true;
    }
    if (p->adopted && p->adopt_if_on_target && !p->tagged && !eip_on_target(p)) {
        log_info("pod %s/%s: %s of the PodEIP is not bound to this pod: not reusing it", p->ns,
                 p->name, p->eip.allocation_id);
        bind_forget(p);
        return true;
    }
    if (p->type == EIP_ALLOC_AUTO && !p->ours && !p->adopted) {
        if (eip_owned(p)) {
            p->ours = true;
            p->tagged = true;
        } else {
            /* allocated-eip-id names an EIP that was not allocated for this pod: the
             * user's choice at creation, which is Static (never released) */
            log_info("pod %s/%s: %s was not allocated for this pod: binding it as Static", p->ns,
                     p->name, p->eip.allocation_id);
            p->type = EIP_ALLOC_STATIC;
        }
    }
    return false;
}

/* Make it this pod's: say when it was lost, wait for (or take it over from) a
 * holder, tag it for this pod, join the bandwidth package. */
static bool bind_claim(struct pod *p)
{
    bool on_target = eip_on_target(p);
    if (p->recorded && !(on_target && status_is(p, "InUse"))) {
        /* bound before, not any more (changed out of band): say so, then bind again */
        p->recorded = false;
        p->podeip_written = false;
        if (!p->cond_false_written) {
            pod_set_state(p, POD_ASSOCIATING, "EIPLost", "%s is no longer bound to %s",
                          p->eip.allocation_id, p->pod_ip);
            start_record(p, false, "EIPLost", p->message);
            return true;
        }
    }
    if (!on_target && eip_bound(p) && !eip_owned(p)) {
        if (status_is(p, "Unassociating") || status_is(p, "Associating")) {
            pod_set_state(p, POD_WAITING, "EIPInTransition", "%s is %s elsewhere; waiting",
                          p->eip.allocation_id, p->eip.status);
            poll_transition(p);
            return true;
        }
        check_holder(p);
        return true;
    }
    if (!p->tagged && (p->type == EIP_ALLOC_STATIC || p->adopted)) {
        if (eip_owned(p) && strcmp(p->eip.tag_node, p->ctl->cfg->node_name) == 0) {
            p->tagged = true;
        } else {
            pod_set_state(p, POD_ASSOCIATING, "Tagging", "tagging %s for this pod",
                          p->eip.allocation_id);
            want_cloud(p, OP_TAG);
            return true;
        }
    }
    if (p->type == EIP_ALLOC_AUTO && p->req.bandwidth_package_id &&
        strcmp(p->eip.bandwidth_package_id, p->req.bandwidth_package_id) != 0) {
        pod_set_state(p, POD_ALLOCATING, "JoiningBandwidthPackage", "%s %s to %s",
                      p->cbwp_added ? "waiting for" : "adding", p->eip.allocation_id,
                      p->req.bandwidth_package_id);
        if (p->cbwp_added)
            poll_transition(p); /* added: the package takes it asynchronously */
        else
            want_cloud(p, OP_CBWP);
        return true;
    }
    return false;
}

/* On this pod's IP: wait for InUse, write it on the pod and in the PodEIP. */
static void bind_finish(struct pod *p)
{
    if (!status_is(p, "InUse")) {
        pod_set_state(p, POD_ASSOCIATING, "WaitingForInUse", "%s is %s on %s", p->eip.allocation_id,
                      p->eip.status, p->pod_ip);
        poll_transition(p);
        return;
    }
    p->describe_delay_ms = 0;
    /* The PodEIP goes before the pod's condition: once the pod is Ready its
     * release strategy must survive this agent (killed at once, its node
     * deleted: the leader keeps a TTL or Never EIP only for its PodEIP). */
    if (!p->podeip_written) {
        pod_set_state(p, POD_ASSOCIATING, "Recording", "%s is InUse on %s; writing its PodEIP",
                      p->eip.allocation_id, p->pod_ip);
        start_podeip_write(p);
        return;
    }
    if (!p->recorded) {
        pod_set_state(p, POD_ASSOCIATING, "Recording", "%s is InUse on %s; writing it on the pod",
                      p->eip.allocation_id, p->pod_ip);
        char msg[200];
        eip_seterr(msg, sizeof(msg), "%.64s %.64s", p->eip.allocation_id, p->eip.address);
        start_record(p, true, EIP_CONDITION_REASON_BOUND, msg);
        return;
    }
    p->failures = 0;
    pod_set_state(p, POD_BOUND, "Bound", "%s (%s) on %s via %s", p->eip.allocation_id,
                  p->eip.address, p->pod_ip, p->eni_id);
}

static void reconcile_bind(struct pod *p)
{
    if (bind_blocked(p) || bind_choose(p) || bind_vet(p) || bind_claim(p))
        return;
    if (eip_on_target(p)) {
        bind_finish(p);
    } else if (status_is(p, "Available")) {
        p->describe_delay_ms = 0;
        pod_set_state(p, POD_ASSOCIATING, "Associating", "associating %s with %s on %s",
                      p->eip.allocation_id, p->pod_ip, p->eni_id);
        want_cloud(p, OP_ASSOCIATE);
    } else if (eip_bound(p)) {
        /* ours, bound to another target: take it back */
        if (status_is(p, "InUse"))
            want_cloud(p, OP_UNASSOCIATE);
        else
            poll_transition(p);
    } else {
        pod_fail(p, "UnexpectedStatus", RETRY_BASE_MS, "%s is %s", p->eip.allocation_id,
                 p->eip.status);
    }
}

void pod_kick(struct pod *p)
{
    if (p->freeing || p->ctl->stopping)
        return;
    if (p->op != OP_NONE) {
        p->dirty = true;
        return;
    }
    p->dirty = false;
    if (p->deleting)
        reconcile_release(p);
    else
        reconcile_bind(p);
    if (p->op == OP_NONE && pod_finished(p))
        controller_forget(p->ctl, p);
}

/* ---- pod objects ---- */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool owner_is_stateful(const struct controller *c, const json_t *obj)
{
    const json_t *owners = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    const json_t *controller_owner = NULL;
    size_t i;
    json_t *o;
    json_array_foreach(owners, i, o)
    {
        if (json_is_true(json_object_get(o, "controller"))) {
            controller_owner = o;
            break;
        }
    }
    if (!controller_owner)
        return true; /* a bare pod */
    return controller_stateful_kind(c, jstr(controller_owner, "kind"));
}

/* The strategy that applies: stateful pods only; the rest always Follow. */
static void apply_strategy(struct pod *p, json_t *obj)
{
    p->stateful = owner_is_stateful(p->ctl, obj);
    if (p->req_err.key[0])
        return;
    if (p->stateful || !p->req.strategy_given || p->req.strategy == EIP_RELEASE_FOLLOW) {
        p->strategy = p->req.strategy;
        p->release_after_ms = p->req.release_after_ms;
        copy(p->release_after, sizeof(p->release_after), p->req.release_after);
        return;
    }
    if (!p->strategy_ignored_reported) {
        p->strategy_ignored_reported = true;
        const json_t *owners = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
        const char *kind = jstr(json_array_get(owners, 0), "kind");
        pod_event(p, "Normal", "ReleaseStrategyIgnored",
                  "pod-eip-release-strategy %s applies to stateful pods only (owner %s): this "
                  "pod's EIP follows the pod",
                  eip_release_strategy_name(p->req.strategy), kind ? kind : "?");
    }
    p->strategy = EIP_RELEASE_FOLLOW;
    p->release_after_ms = 0;
    p->release_after[0] = '\0';
}

static bool pod_terminal(const json_t *obj)
{
    const char *phase = jstr(json_object_get(obj, "status"), "phase");
    return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

void pod_update(struct pod *p, json_t *obj)
{
    json_incref(obj);
    json_decref(p->obj);
    p->obj = obj;
    const json_t *md = json_object_get(obj, "metadata");
    const json_t *st = json_object_get(obj, "status");
    bool deleting = json_object_get(md, "deletionTimestamp") != NULL || pod_terminal(obj);

    eip_request req;
    eip_request_error err;
    memset(&err, 0, sizeof(err));
    int r = eip_request_parse(json_object_get(md, "annotations"), &req, &err);
    p->reparse = r == -ENOMEM;
    if (r == -ENOMEM) {
        log_error("pod %s/%s: out of memory parsing the annotations", p->ns, p->name);
    } else if (r) {
        if (strcmp(err.key, p->req_err.key) != 0 || strcmp(err.message, p->req_err.message) != 0)
            p->invalid_reported = false;
        p->req_err = err;
    } else {
        if (p->req_err.key[0])
            p->cond_false_written = false; /* fixed: the next False/True is new */
        memset(&p->req_err, 0, sizeof(p->req_err));
        p->invalid_reported = false;
        if (req.type == EIP_ALLOC_NONE && p->type != EIP_ALLOC_NONE) {
            /* no longer asks for an EIP: let it go as on deletion */
            deleting = true;
            eip_request_clear(&req);
        } else if (p->eip.allocation_id[0] && p->type != EIP_ALLOC_NONE &&
                   (req.type != p->req.type ||
                    (req.type == EIP_ALLOC_STATIC &&
                     strcmp(req.allocation_id ? req.allocation_id : "",
                            p->req.allocation_id ? p->req.allocation_id : "") != 0))) {
            /* The EIP settings apply when it is allocated (as with
             * ack-extend-network-controller); changing what is bound needs a new pod. */
            log_warn("pod %s/%s: EIP annotations changed after %s was chosen; "
                     "recreate the pod to apply them",
                     p->ns, p->name, p->eip.allocation_id);
            eip_request_clear(&req);
        } else {
            if (p->type == EIP_ALLOC_NONE || !p->eip.allocation_id[0])
                p->type = req.type;
            eip_request_clear(&p->req);
            p->req = req;
        }
    }
    apply_strategy(p, obj);

    const char *ip = jstr(st, "podIP");
    if (ip && *ip && strcmp(ip, p->pod_ip) != 0) {
        if (p->pod_ip[0])
            log_warn("pod %s/%s: pod IP changed from %s to %s", p->ns, p->name, p->pod_ip, ip);
        copy(p->pod_ip, sizeof(p->pod_ip), ip);
        p->eni_id[0] = '\0';
        if (!p->ip_seen_mono)
            p->ip_seen_mono = eip_time_mono_ms();
    }
    if (deleting && !p->deleting) {
        p->deleting = true;
        /* release now: a failed bind's backoff does not hold it back */
        p->failures = 0;
        p->retry_at = 0;
        uv_timer_stop(p->timer);
    }
    pod_kick(p);
}

void pod_gone(struct pod *p)
{
    p->gone = true;
    if (!p->deleting) {
        p->deleting = true;
        p->failures = 0;
        p->retry_at = 0;
        uv_timer_stop(p->timer);
    }
    pod_kick(p);
}

void pod_observe(struct pod *p, const aliyun_eip *e)
{
    if (p->op == OP_DESCRIBE || is_cloud_op(p->op))
        return; /* a fresher answer is on its way */
    if (!p->eip.allocation_id[0] && p->type == EIP_ALLOC_AUTO) {
        /* ours from before a restart: adopt it instead of allocating */
        log_info("pod %s/%s: adopting %s (%s) found in the cloud", p->ns, p->name, e->allocation_id,
                 e->ip_address);
        p->ours = true;
        p->tagged = true;
    } else if (strcmp(p->eip.allocation_id, e->allocation_id) != 0) {
        return;
    }
    bool was_on = eip_on_target(p) && status_is(p, "InUse");
    eip_view_set(p, e);
    if (strcmp(e->allocation_id, p->eip.allocation_id) == 0 && p->ours)
        p->tagged = true;
    if (p->state != POD_BOUND || was_on != (eip_on_target(p) && status_is(p, "InUse")))
        pod_kick(p);
}

bool pod_finished(const struct pod *p)
{
    return p->deleting && p->gone && p->state == POD_RELEASED;
}

bool pod_ready(const struct pod *p)
{
    return p->state == POD_BOUND && !p->deleting;
}

static void timer_closed(uv_handle_t *h)
{
    struct pod *p = h->data;
    free(h);
    free(p);
}

int pod_new(struct pod **out, struct controller *ctl, json_t *obj, const char *ns, const char *name,
            const char *uid)
{
    *out = NULL;
    struct pod *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->timer = malloc(sizeof(*p->timer));
    if (!p->timer || uv_timer_init(ctl->loop, p->timer)) {
        free(p->timer);
        free(p);
        return -ENOMEM;
    }
    p->timer->data = p;
    p->ctl = ctl;
    eip_list_node_init(&p->node);
    eip_list_node_init(&p->slot_node);
    eip_list_init(&p->waiters);
    p->state = POD_WAITING;
    p->since_ms = eip_time_now_ms();
    copy(p->reason, sizeof(p->reason), "New");
    if (obj) {
        const json_t *md = json_object_get(obj, "metadata");
        ns = jstr(md, "namespace");
        name = jstr(md, "name");
        uid = jstr(md, "uid");
    } else {
        p->ghost = true;
        p->gone = true;
        p->deleting = true;
    }
    copy(p->ns, sizeof(p->ns), ns);
    copy(p->name, sizeof(p->name), name);
    copy(p->uid, sizeof(p->uid), uid);
    *out = p;
    return 0;
}

void pod_free(struct pod *p)
{
    if (!p || p->freeing)
        return;
    op_cancel(p);
    p->freeing = true;
    eip_request_clear(&p->req);
    json_decref(p->obj);
    p->obj = NULL;
    uv_timer_stop(p->timer);
    uv_close((uv_handle_t *)p->timer, timer_closed);
}

json_t *pod_view(const struct pod *p)
{
    char since[40], bound[40] = "";
    eip_time_format_rfc3339_ms(since, sizeof(since), p->since_ms);
    if (p->bound_ms)
        eip_time_format_rfc3339_ms(bound, sizeof(bound), p->bound_ms);
    json_t *v =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "namespace", p->ns,
                  "name", p->name, "uid", p->uid, "podIP", p->pod_ip, "state",
                  pod_state_name(p->state), "reason", p->reason, "message", p->message, "since",
                  since, "type", eip_alloc_type_name(p->type), "allocationId", p->eip.allocation_id,
                  "eipAddress", p->eip.address, "networkInterfaceId", p->eni_id, "releaseStrategy",
                  eip_release_strategy_name(p->strategy), "ready", pod_ready(p));
    if (!v)
        return NULL;
    int r = 0;
    if (p->release_after[0])
        r |= json_object_set_new(v, "releaseAfter", json_string(p->release_after));
    if (p->bound_ms)
        r |= json_object_set_new(v, "boundAt", json_string(bound));
    if (p->bind_seconds > 0)
        r |= json_object_set_new(v, "bindSeconds",
                                 json_real((double)(int64_t)(p->bind_seconds * 1000 + 0.5) / 1000));
    if (p->ghost)
        r |= json_object_set_new(v, "podGone", json_true());
    if (r) {
        json_decref(v);
        return NULL;
    }
    return v;
}
