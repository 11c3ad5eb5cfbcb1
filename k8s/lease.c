/* SPDX-License-Identifier: MIT */
#include "k8s/lease.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/timeutil.h"

#define PATH_MAX_BYTES 1024

/* The elector; set_state() is the only writer of the state. */
enum leader_state {
    L_IDLE,      /* created, not campaigning */
    L_CANDIDATE, /* campaigning: reads the Lease every retry period, takes it when free */
    L_LEADER,    /* holds the Lease and renews it every retry period */
    L_RELEASING, /* stopping: handing the Lease back (empty holder, 1 s) */
    L_STOPPED,   /* stopped (or freed): no timer, no call */
};

struct k8s_leader {
    k8s_client *c;
    k8s_leader_opts o;
    char *ns, *name, *identity;
    char *path;      /* of the Lease */
    char *coll_path; /* of the namespace's Leases (to create it) */
    enum leader_state state;
    k8s_call *call;
    json_t *lease;       /* the Lease object last read or written */
    json_t *observed;    /* its spec when last seen to change */
    int64_t observed_ms; /* monotonic time of that change */
    int64_t renewed_ms;  /* monotonic time of the last successful renew */
    char *holder;        /* last observed, NULL: none */
    long long transitions;
    uv_timer_t timer;
    void (*stop_done)(k8s_leader *l, void *arg);
    void *stop_arg;
    bool release_retried;
};

static const char *state_name(enum leader_state s)
{
    switch (s) {
    case L_IDLE:
        return "idle";
    case L_CANDIDATE:
        return "candidate";
    case L_LEADER:
        return "leader";
    case L_RELEASING:
        return "releasing";
    case L_STOPPED:
        return "stopped";
    }
    return "?";
}

static void set_state(k8s_leader *l, enum leader_state s)
{
    if (l->state == s)
        return;
    log_debug("k8s lease %s/%s (%s): %s -> %s", l->ns, l->name, l->identity, state_name(l->state),
              state_name(s));
    l->state = s;
}

static json_t *microtime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[40];
    if (!eip_time_format_rfc3339_us(buf, sizeof(buf),
                                    (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000))
        return json_null();
    return json_string(buf);
}

static void report(k8s_leader *l, const char *what, k8s_result res, const char *detail)
{
    log_debug("k8s lease %s/%s: %s: %s: %s", l->ns, l->name, what, k8s_result_name(res), detail);
    if (l->o.on_error)
        l->o.on_error(l, what, res, detail, l->o.arg);
}

/* Every Lease request is bounded: a leader's by what is left of its renew
 * deadline (a hung API server must not keep us "leading" past it), anything
 * else by the renew deadline. */
static int lease_send(k8s_leader *l, const char *method, const char *path, const json_t *body,
                      k8s_done_cb cb)
{
    long long timeout = l->o.renew_deadline_ms;
    if (l->state == L_LEADER) {
        timeout = l->renewed_ms + l->o.renew_deadline_ms - eip_time_mono_ms();
        if (timeout < 100)
            timeout = 100;
    }
    k8s_request_opts o;
    memset(&o, 0, sizeof(o));
    o.method = method;
    o.path = path;
    o.body = body;
    o.timeout_ms = (long)timeout;
    o.on_done = cb;
    o.arg = l;
    return k8s_request(l->c, &o, &l->call);
}

static void tick(uv_timer_t *t);
static void lost_leadership(k8s_leader *l);

static void schedule(k8s_leader *l, bool jitter)
{
    if (l->state != L_CANDIDATE && l->state != L_LEADER)
        return;
    int64_t ms = l->o.retry_period_ms;
    if (jitter) /* client-go wait.JitterUntil(retryPeriod, 1.2) while acquiring */
        ms += (int64_t)(1.2 * eip_backoff_rand01() * (double)ms);
    int e = uv_timer_start(&l->timer, tick, (uint64_t)ms, 0);
    if (e) {
        /* No more rounds: a leader that cannot renew must not think it leads. */
        report(l, "timer", K8S_E_TRANSPORT, uv_strerror(e));
        lost_leadership(l);
    }
}

static void observe_holder(k8s_leader *l, const json_t *spec)
{
    const char *h = json_string_value(json_object_get(spec, "holderIdentity"));
    if (!h)
        h = "";
    json_t *tr = json_object_get(spec, "leaseTransitions");
    l->transitions = json_is_integer(tr) ? json_integer_value(tr) : 0;
    if (strcmp(h, l->holder ? l->holder : "") == 0)
        return;
    char *d = strdup(h);
    if (!d)
        return; /* keep the older one: it is seen again next round */
    free(l->holder);
    l->holder = d;
    if (l->o.on_new_leader)
        l->o.on_new_leader(l, h, l->o.arg);
}

static void became_leader(k8s_leader *l)
{
    l->renewed_ms = eip_time_mono_ms();
    if (l->state == L_LEADER)
        return;
    set_state(l, L_LEADER);
    if (l->o.on_started_leading)
        l->o.on_started_leading(l, l->o.arg);
}

static void lost_leadership(k8s_leader *l)
{
    if (l->state != L_LEADER)
        return;
    set_state(l, L_CANDIDATE);
    if (l->o.on_stopped_leading)
        l->o.on_stopped_leading(l, l->o.arg);
}

/* A failed round: a leader past its renew deadline stops leading. */
static void round_failed(k8s_leader *l)
{
    if (l->state == L_LEADER && eip_time_mono_ms() - l->renewed_ms > l->o.renew_deadline_ms)
        lost_leadership(l);
    schedule(l, l->state != L_LEADER);
}

static void remember(k8s_leader *l, json_t *lease)
{
    json_t *spec = json_object_get(lease, "spec");
    json_incref(lease);
    json_decref(l->lease);
    l->lease = lease;
    if (!l->observed || !json_equal(l->observed, spec)) {
        json_decref(l->observed);
        l->observed = json_deep_copy(spec);
        l->observed_ms = eip_time_mono_ms();
    }
    observe_holder(l, spec);
}

static void write_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_leader *l = arg;
    l->call = NULL;
    if (resp->result == K8S_OK && json_is_object(resp->json)) {
        remember(l, resp->json);
        became_leader(l);
        schedule(l, false);
        return;
    }
    report(l, "update", resp->result, resp->status.message);
    /* A conflict means someone else wrote: read again next round. */
    json_decref(l->lease);
    l->lease = NULL;
    round_failed(l);
}

/* Writes a record with us as holder on top of l->lease (PUT) or creates it. */
static void write_record(k8s_leader *l, bool create)
{
    json_t *spec = json_object();
    json_t *old = l->lease ? json_object_get(l->lease, "spec") : NULL;
    const char *old_holder = json_string_value(json_object_get(old, "holderIdentity"));
    json_t *now = microtime_now();
    long long tr = json_integer_value(json_object_get(old, "leaseTransitions"));
    json_t *acquired = now;
    if (old_holder && !strcmp(old_holder, l->identity)) {
        json_t *at = json_object_get(old, "acquireTime");
        if (at)
            acquired = at;
    } else {
        tr = create ? 0 : tr + 1;
    }
    /* Every field or none: a record missing holderIdentity or renewTime must
     * never be written because one allocation failed. */
    bool built = spec && now &&
                 !json_object_set_new(spec, "holderIdentity", json_string(l->identity)) &&
                 !json_object_set_new(spec, "leaseDurationSeconds",
                                      json_integer((l->o.lease_duration_ms + 999) / 1000)) &&
                 !json_object_set(spec, "renewTime", now) &&
                 !json_object_set(spec, "acquireTime", acquired) &&
                 !json_object_set_new(spec, "leaseTransitions", json_integer(tr));
    json_decref(now);
    json_t *body = NULL;
    int e;
    if (!built) {
        json_decref(spec);
        spec = NULL;
    }
    if (!spec) {
        e = -ENOMEM;
    } else if (create) {
        body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1",
                         "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns, "spec",
                         spec);
        e = body ? lease_send(l, "POST", l->coll_path, body, write_done) : -ENOMEM;
    } else {
        body = json_deep_copy(l->lease);
        if (body && json_object_set_new(body, "spec", spec)) {
            json_decref(body); /* set_new released spec */
            body = NULL;
        } else if (!body) {
            json_decref(spec);
        }
        e = body ? lease_send(l, "PUT", l->path, body, write_done) : -ENOMEM;
    }
    json_decref(body);
    if (e) {
        l->call = NULL;
        report(l, create ? "create" : "update", K8S_E_TRANSPORT, strerror(-e));
        round_failed(l);
    }
}

static void get_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_leader *l = arg;
    l->call = NULL;
    if (resp->result == K8S_E_NOT_FOUND) {
        json_decref(l->lease);
        l->lease = NULL;
        write_record(l, true);
        return;
    }
    if (resp->result != K8S_OK || !json_is_object(json_object_get(resp->json, "spec"))) {
        report(l, "get", resp->result, resp->status.message);
        round_failed(l);
        return;
    }
    remember(l, resp->json);
    const char *holder = l->holder ? l->holder : "";
    bool expired = eip_time_mono_ms() - l->observed_ms >= l->o.lease_duration_ms;
    if (*holder && strcmp(holder, l->identity) != 0 && !expired) {
        /* Someone else holds a valid lease. */
        if (l->state == L_LEADER)
            lost_leadership(l);
        schedule(l, true);
        return;
    }
    write_record(l, false);
}

static void tick(uv_timer_t *t)
{
    k8s_leader *l = t->data;
    if (l->call || (l->state != L_CANDIDATE && l->state != L_LEADER))
        return;
    if (l->state == L_LEADER && l->lease) {
        /* client-go: a leader with a valid lease updates without reading first. */
        write_record(l, false);
        return;
    }
    int e = lease_send(l, "GET", l->path, NULL, get_done);
    if (e) {
        l->call = NULL;
        report(l, "get", K8S_E_TRANSPORT, strerror(-e));
        round_failed(l);
    }
}

/* Copies of the strings of opts, the Lease's paths, defaults. */
static int leader_init(k8s_leader *l, const k8s_leader_opts *opts)
{
    l->c = opts->client;
    l->o = *opts;
    l->o.namespace = l->o.name = l->o.identity = NULL;
    if (l->o.lease_duration_ms <= 0)
        l->o.lease_duration_ms = 15000;
    if (l->o.renew_deadline_ms <= 0)
        l->o.renew_deadline_ms = 10000;
    if (l->o.retry_period_ms <= 0)
        l->o.retry_period_ms = 2000;
    l->ns = strdup(opts->namespace);
    l->name = strdup(opts->name);
    l->identity = strdup(opts->identity);
    if (!l->ns || !l->name || !l->identity)
        return -ENOMEM;
    eip_buf b;
    eip_buf_init(&b, PATH_MAX_BYTES);
    int e = eip_buf_appendf(&b, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
    l->coll_path = eip_buf_steal(&b);
    if (!e)
        e = eip_buf_appendf(&b, "%s/%s", l->coll_path, l->name);
    l->path = eip_buf_steal(&b);
    eip_buf_free(&b);
    return e;
}

static void leader_release(k8s_leader *l)
{
    json_decref(l->lease);
    json_decref(l->observed);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l->path);
    free(l->coll_path);
    free(l->holder);
    free(l);
}

int k8s_leader_new(k8s_leader **out, const k8s_leader_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->client || !opts->namespace || !opts->name || !opts->identity ||
        !*opts->identity || strlen(opts->namespace) > 253 || strlen(opts->name) > 253) {
        eip_seterr(err, errlen,
                   "k8s leader election: a client, a namespace and a name (at most "
                   "253 bytes each) and an identity are required");
        return -EINVAL;
    }
    k8s_leader *l = calloc(1, sizeof(*l));
    int e = l ? leader_init(l, opts) : -ENOMEM;
    if (e) {
        eip_seterr(err, errlen, "k8s leader election: %s", strerror(-e));
        goto out;
    }
    l->state = L_IDLE;
    l->timer.data = l;
    e = uv_timer_init(k8s_client_loop(l->c), &l->timer);
    if (e)
        eip_seterr(err, errlen, "k8s leader election: timer: %s", uv_strerror(e));
out:
    if (e) {
        if (l)
            leader_release(l);
        return e;
    }
    *out = l;
    return 0;
}

int k8s_leader_start(k8s_leader *l)
{
    if (l->state != L_IDLE && l->state != L_STOPPED)
        return -EALREADY;
    int e = uv_timer_start(&l->timer, tick, 0, 0);
    if (!e)
        set_state(l, L_CANDIDATE);
    return e;
}

static void finish_stop(k8s_leader *l)
{
    set_state(l, L_STOPPED);
    void (*done)(k8s_leader *, void *) = l->stop_done;
    l->stop_done = NULL;
    if (done)
        done(l, l->stop_arg);
}

static void release_done(k8s_call *call, const k8s_response *resp, void *arg);

/* PUTs the released record (empty holder, 1 s) on top of l->lease. */
static int send_release(k8s_leader *l)
{
    json_t *body = json_deep_copy(l->lease);
    json_t *spec = json_pack("{s:s, s:i, s:o, s:o, s:I}", "holderIdentity", "",
                             "leaseDurationSeconds", 1, "acquireTime", microtime_now(), "renewTime",
                             microtime_now(), "leaseTransitions", (json_int_t)l->transitions);
    int e = -ENOMEM;
    if (body && spec) {
        int set = json_object_set_new(body, "spec", spec); /* releases spec either way */
        spec = NULL;
        if (set == 0)
            e = lease_send(l, "PUT", l->path, body, release_done);
    }
    json_decref(spec);
    json_decref(body);
    if (e)
        l->call = NULL;
    return e;
}

static void release_get_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_leader *l = arg;
    l->call = NULL;
    const char *holder =
        json_string_value(json_object_get(json_object_get(resp->json, "spec"), "holderIdentity"));
    if (resp->result != K8S_OK || !holder || strcmp(holder, l->identity) != 0) {
        if (resp->result != K8S_OK)
            report(l, "release", resp->result, resp->status.message);
        finish_stop(l); /* not ours any more: nothing to release */
        return;
    }
    remember(l, resp->json);
    int e = send_release(l);
    if (e) {
        report(l, "release", K8S_E_TRANSPORT, strerror(-e));
        finish_stop(l);
    }
}

static void release_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_leader *l = arg;
    l->call = NULL;
    if (resp->result == K8S_E_CONFLICT && !l->release_retried) {
        /* A renewal we cancelled may have landed: read the lease and try once more. */
        l->release_retried = true;
        if (lease_send(l, "GET", l->path, NULL, release_get_done) == 0)
            return;
        l->call = NULL;
    }
    if (resp->result != K8S_OK)
        report(l, "release", resp->result, resp->status.message);
    else
        remember(l, resp->json);
    finish_stop(l);
}

void k8s_leader_stop(k8s_leader *l, void (*done)(k8s_leader *l, void *arg), void *arg)
{
    if (l->state == L_STOPPED || l->state == L_RELEASING || l->state == L_IDLE) {
        if (l->state == L_IDLE)
            set_state(l, L_STOPPED);
        if (done)
            done(l, arg);
        return;
    }
    uv_timer_stop(&l->timer);
    k8s_call_cancel(l->call);
    l->call = NULL;
    bool was_leader = l->state == L_LEADER;
    l->stop_done = done;
    l->stop_arg = arg;
    l->release_retried = false;
    if (was_leader) {
        set_state(l, L_RELEASING);
        if (l->o.on_stopped_leading)
            l->o.on_stopped_leading(l, l->o.arg);
    }
    if (!was_leader || l->o.keep_on_stop || !l->lease) {
        finish_stop(l);
        return;
    }
    /* client-go ReleaseOnCancel: an empty holder and a 1 s lease. */
    int e = send_release(l);
    if (e) {
        report(l, "release", K8S_E_TRANSPORT, strerror(-e));
        finish_stop(l);
    }
}

static void closed_cb(uv_handle_t *h)
{
    leader_release(h->data);
}

void k8s_leader_free(k8s_leader *l)
{
    if (!l)
        return;
    uv_timer_stop(&l->timer);
    k8s_call_cancel(l->call);
    l->call = NULL;
    set_state(l, L_STOPPED);
    uv_close((uv_handle_t *)&l->timer, closed_cb);
}

bool k8s_leader_is_leader(const k8s_leader *l)
{
    return l->state == L_LEADER;
}

const char *k8s_leader_holder(const k8s_leader *l)
{
    return l->holder ? l->holder : "";
}

long long k8s_leader_transitions(const k8s_leader *l)
{
    return l->transitions;
}
