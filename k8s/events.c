/* SPDX-License-Identifier: MIT */
#include "k8s/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/tokenbucket.h"
#include "k8s/internal.h"

/* ---- a small LRU: key -> slot, slots in a doubly linked recency list ---- */

typedef struct lru_slot {
    char *key;
    int prev, next; /* -1 ends */
    /* payload: dedup entries use name/count/times, spam entries the bucket */
    char name[320];
    char namespace[256];
    int count;
    int64_t first_us, last_mono_ms;
    eip_tokenbucket bucket;
} lru_slot;

typedef struct lru {
    json_t *index; /* key -> integer slot */
    lru_slot *slots;
    size_t cap, used;
    int head, tail; /* head = most recent */
} lru;

static int lru_init(lru *l, size_t cap)
{
    l->index = json_object();
    l->slots = calloc(cap, sizeof(*l->slots));
    l->cap = cap;
    l->used = 0;
    l->head = l->tail = -1;
    if (!l->index || !l->slots) {
        json_decref(l->index);
        free(l->slots);
        return -ENOMEM;
    }
    return 0;
}

static void lru_free(lru *l)
{
    if (l->slots)
        for (size_t i = 0; i < l->used; i++)
            free(l->slots[i].key);
    free(l->slots);
    json_decref(l->index);
}

static void lru_unlink(lru *l, int i)
{
    lru_slot *s = &l->slots[i];
    if (s->prev >= 0)
        l->slots[s->prev].next = s->next;
    else
        l->head = s->next;
    if (s->next >= 0)
        l->slots[s->next].prev = s->prev;
    else
        l->tail = s->prev;
    s->prev = s->next = -1;
}

static void lru_push_front(lru *l, int i)
{
    lru_slot *s = &l->slots[i];
    s->prev = -1;
    s->next = l->head;
    if (l->head >= 0)
        l->slots[l->head].prev = i;
    l->head = i;
    if (l->tail < 0)
        l->tail = i;
}

static lru_slot *lru_get(lru *l, const char *key)
{
    json_t *v = json_object_get(l->index, key);
    if (!v)
        return NULL;
    int i = (int)json_integer_value(v);
    lru_unlink(l, i);
    lru_push_front(l, i);
    return &l->slots[i];
}

/* A fresh zeroed slot for key (evicting the least recently used). */
static lru_slot *lru_put(lru *l, const char *key)
{
    char *k = strdup(key);
    if (!k)
        return NULL;
    int i;
    if (l->used < l->cap) {
        i = (int)l->used++;
    } else {
        i = l->tail;
        lru_unlink(l, i);
        json_object_del(l->index, l->slots[i].key);
        free(l->slots[i].key);
    }
    if (json_object_set_new(l->index, k, json_integer(i)) != 0) {
        free(k);
        l->slots[i].key = NULL;
        /* the slot is lost until reused; only on allocation failure */
        if ((size_t)i == l->used - 1)
            l->used--;
        return NULL;
    }
    memset(&l->slots[i], 0, sizeof(l->slots[i]));
    l->slots[i].key = k;
    lru_push_front(l, i);
    return &l->slots[i];
}

/* ---- recorder ---- */

#define MAX_QUEUED_WRITES 1024

typedef struct op {
    k8s_recorder *rec;
    struct op *next;
    k8s_call *call;
    json_t *event; /* full object, to create again when a PATCH finds nothing */
    char path[700];
    bool is_patch;
} op;

struct k8s_recorder {
    k8s_client *c;
    k8s_recorder_opts o;
    char *component, *host;
    lru spam, dedup;
    op *ops, *ops_tail; /* FIFO; the head is in flight */
    size_t n_ops;
    k8s_recorder_stats stats;
    unsigned seq;
};

static int64_t mono_ms(const k8s_recorder *r)
{
    return r->o.now_mono_ms ? r->o.now_mono_ms(r->o.clock_arg) : eip_time_mono_ms();
}

static int64_t wall_us(const k8s_recorder *r)
{
    if (r->o.now_wall_us)
        return r->o.now_wall_us(r->o.clock_arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int k8s_object_ref_from_json(const json_t *obj, const char *kind, const char *api_version,
                             k8s_object_ref *ref)
{
    memset(ref, 0, sizeof(*ref));
    const json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md))
        return -EINVAL;
    ref->name = json_string_value(json_object_get(md, "name"));
    ref->namespace = json_string_value(json_object_get(md, "namespace"));
    ref->uid = json_string_value(json_object_get(md, "uid"));
    ref->resource_version = json_string_value(json_object_get(md, "resourceVersion"));
    ref->kind = json_string_value(json_object_get(obj, "kind"));
    ref->api_version = json_string_value(json_object_get(obj, "apiVersion"));
    if (!ref->kind)
        ref->kind = kind;
    if (!ref->api_version)
        ref->api_version = api_version;
    return (ref->name && *ref->name && ref->kind) ? 0 : -EINVAL;
}

k8s_recorder *k8s_recorder_new(k8s_client *c, const k8s_recorder_opts *opts)
{
    k8s_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->c = c;
    if (opts)
        r->o = *opts;
    r->component = strdup(r->o.component ? r->o.component : "eip-agent");
    r->host = r->o.host ? strdup(r->o.host) : NULL;
    r->o.component = r->o.host = NULL;
    if (r->o.spam_burst <= 0)
        r->o.spam_burst = 25;
    if (r->o.spam_refill_per_s <= 0)
        r->o.spam_refill_per_s = 1.0 / 300.0;
    if (!r->o.cache_size)
        r->o.cache_size = 4096;
    if (r->o.dedup_window_ms <= 0)
        r->o.dedup_window_ms = 10 * 60 * 1000;
    bool ok = r->component && (!opts || !opts->host || r->host);
    if (ok && lru_init(&r->spam, r->o.cache_size) == 0) {
        if (lru_init(&r->dedup, r->o.cache_size) == 0)
            return r;
        lru_free(&r->spam);
    }
    free(r->component);
    free(r->host);
    free(r);
    return NULL;
}

/* Writes go out one at a time in order (client-go records from one goroutine):
 * a PATCH never overtakes the create of its Event, and counts only grow. */
static void op_pop(k8s_recorder *r)
{
    op *x = r->ops;
    r->ops = x->next;
    if (!r->ops)
        r->ops_tail = NULL;
    r->n_ops--;
}

static void op_free(op *x)
{
    json_decref(x->event);
    free(x);
}

void k8s_recorder_free(k8s_recorder *r)
{
    if (!r)
        return;
    while (r->ops) {
        op *x = r->ops;
        op_pop(r);
        k8s_call_cancel(x->call);
        op_free(x);
    }
    lru_free(&r->spam);
    lru_free(&r->dedup);
    free(r->component);
    free(r->host);
    free(r);
}

static int object_key(const k8s_recorder *r, const k8s_object_ref *ref, eip_buf *b)
{
    /* client-go getSpamKey: source and the involved object. */
    return eip_buf_appendf(b, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", r->component,
                           r->host ? r->host : "", ref->kind ? ref->kind : "",
                           ref->namespace ? ref->namespace : "", ref->name,
                           ref->uid ? ref->uid : "", ref->api_version ? ref->api_version : "");
}

int k8s_recorder_decide(k8s_recorder *r, const k8s_object_ref *ref, const char *type,
                        const char *reason, const char *message, k8s_event_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (!ref || !ref->name || !*ref->name || !type || !reason || !message)
        return -EINVAL;
    int64_t now = mono_ms(r);
    int64_t wall = wall_us(r);
    eip_buf key;
    eip_buf_init(&key, 64 * 1024);
    int e = object_key(r, ref, &key);
    if (e)
        goto out;
    lru_slot *s = lru_get(&r->spam, key.data);
    if (!s) {
        s = lru_put(&r->spam, key.data);
        if (!s) {
            e = -ENOMEM;
            goto out;
        }
        eip_tokenbucket_init(&s->bucket, r->o.spam_refill_per_s, r->o.spam_burst, now);
    }
    if (eip_tokenbucket_take(&s->bucket, now) > 0) {
        out->action = K8S_EVENT_DROPPED;
        r->stats.dropped++;
        goto out;
    }
    /* client-go getEventKey: the object plus type, reason and message. */
    e = eip_buf_appendf(&key, "\x1f%s\x1f%s\x1f%s", type, reason, message);
    if (e)
        goto out;
    const char *ns = ref->namespace && *ref->namespace ? ref->namespace : "default";
    lru_slot *d = lru_get(&r->dedup, key.data);
    if (d && now - d->last_mono_ms <= r->o.dedup_window_ms) {
        d->count++;
        d->last_mono_ms = now;
        out->action = K8S_EVENT_PATCH;
        k8s_strlcpy(out->name, d->name, sizeof(out->name));
        k8s_strlcpy(out->namespace, d->namespace, sizeof(out->namespace));
        out->count = d->count;
        out->first_us = d->first_us;
        out->last_us = wall;
        goto out;
    }
    if (!d)
        d = lru_put(&r->dedup, key.data);
    if (!d) {
        e = -ENOMEM;
        goto out;
    }
    d->count = 1;
    d->first_us = wall;
    d->last_mono_ms = now;
    /* client-go: fmt.Sprintf("%v.%x", ref.Name, t.UnixNano()) */
    r->seq = (r->seq + 1) % 1000; /* sub-microsecond part: keeps names unique */
    snprintf(d->name, sizeof(d->name), "%s.%llx", ref->name,
             (unsigned long long)wall * 1000ull + r->seq);
    k8s_strlcpy(d->namespace, ns, sizeof(d->namespace));
    out->action = K8S_EVENT_CREATE;
    k8s_strlcpy(out->name, d->name, sizeof(out->name));
    k8s_strlcpy(out->namespace, ns, sizeof(out->namespace));
    out->count = 1;
    out->first_us = out->last_us = wall;
out:
    eip_buf_free(&key);
    return e;
}

static json_t *time_str(int64_t us)
{
    char buf[32];
    if (!eip_time_format_rfc3339(buf, sizeof(buf), (time_t)(us / 1000000)))
        return json_null();
    return json_string(buf);
}

json_t *k8s_recorder_build(const k8s_recorder *r, const k8s_object_ref *ref, const char *type,
                           const char *reason, const char *message, const k8s_event_decision *d)
{
    json_t *inv = json_pack("{s:s, s:s}", "kind", ref->kind ? ref->kind : "", "name", ref->name);
    if (!inv)
        return NULL;
    if (ref->namespace && *ref->namespace)
        json_object_set_new(inv, "namespace", json_string(ref->namespace));
    if (ref->uid)
        json_object_set_new(inv, "uid", json_string(ref->uid));
    if (ref->api_version)
        json_object_set_new(inv, "apiVersion", json_string(ref->api_version));
    if (ref->resource_version)
        json_object_set_new(inv, "resourceVersion", json_string(ref->resource_version));
    json_t *src = json_pack("{s:s}", "component", r->component);
    if (src && r->host)
        json_object_set_new(src, "host", json_string(r->host));
    json_t *ev = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:o?, s:o, s:o, s:i, "
        "s:s, s:s}",
        "apiVersion", "v1", "kind", "Event", "metadata", "name", d->name, "namespace", d->namespace,
        "involvedObject", inv, "reason", reason, "message", message, "type", type, "source", src,
        "firstTimestamp", time_str(d->first_us), "lastTimestamp", time_str(d->last_us), "count",
        d->count, "reportingComponent", r->component, "reportingInstance", r->host ? r->host : "");
    return ev;
}

static void op_done(k8s_call *call, const k8s_response *resp, void *arg);

static int op_send(op *x, bool patch)
{
    k8s_recorder *r = x->rec;
    x->is_patch = patch;
    int e;
    const char *ns =
        json_string_value(json_object_get(json_object_get(x->event, "metadata"), "namespace"));
    const char *name =
        json_string_value(json_object_get(json_object_get(x->event, "metadata"), "name"));
    if (patch) {
        snprintf(x->path, sizeof(x->path), "/api/v1/namespaces/%s/events/%s", ns, name);
        json_t *p = json_pack("{s:O, s:O, s:O}", "count", json_object_get(x->event, "count"),
                              "lastTimestamp", json_object_get(x->event, "lastTimestamp"),
                              "message", json_object_get(x->event, "message"));
        if (!p)
            return -ENOMEM;
        e = k8s_patch(r->c, x->path, K8S_PATCH_STRATEGIC_MERGE, p, op_done, x, &x->call);
        json_decref(p);
    } else {
        snprintf(x->path, sizeof(x->path), "/api/v1/namespaces/%s/events", ns);
        e = k8s_post(r->c, x->path, x->event, op_done, x, &x->call);
    }
    return e;
}

static void op_failed(op *x, k8s_result res, const char *detail)
{
    k8s_recorder *r = x->rec;
    r->stats.failed++;
    if (r->o.on_error)
        r->o.on_error(
            json_string_value(json_object_get(json_object_get(x->event, "metadata"), "name")), res,
            detail, r->o.arg);
}

/* Sends the head of the queue; drops writes that cannot even be sent. */
static void run_queue(k8s_recorder *r)
{
    while (r->ops) {
        op *x = r->ops;
        int e = op_send(x, x->is_patch);
        if (e == 0)
            return;
        op_failed(x, K8S_E_TRANSPORT, strerror(-e));
        op_pop(r);
        op_free(x);
    }
}

static void op_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    op *x = arg;
    k8s_recorder *r = x->rec;
    x->call = NULL;
    if (resp->result == K8S_OK) {
        if (x->is_patch)
            r->stats.patched++;
        else
            r->stats.created++;
    } else if (x->is_patch && resp->result == K8S_E_NOT_FOUND) {
        /* client-go: an event that cannot be patched because it is gone is created again. */
        if (op_send(x, false) == 0)
            return;
        op_failed(x, resp->result, resp->status.message);
    } else if (!x->is_patch && resp->result == K8S_E_ALREADY_EXISTS) {
        r->stats.created++; /* it is there: a retried create */
    } else {
        op_failed(x, resp->result, resp->status.message);
    }
    op_pop(r);
    op_free(x);
    run_queue(r);
}

int k8s_recorder_event(k8s_recorder *r, const k8s_object_ref *ref, const char *type,
                       const char *reason, const char *message)
{
    if (r->n_ops >= MAX_QUEUED_WRITES)
        return -ENOBUFS;
    k8s_event_decision d;
    int e = k8s_recorder_decide(r, ref, type, reason, message, &d);
    if (e)
        return e;
    if (d.action == K8S_EVENT_DROPPED)
        return -EAGAIN;
    if (!r->c)
        return 0;
    op *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->rec = r;
    x->is_patch = d.action == K8S_EVENT_PATCH;
    x->event = k8s_recorder_build(r, ref, type, reason, message, &d);
    if (!x->event) {
        free(x);
        return -ENOMEM;
    }
    bool idle = r->ops == NULL;
    if (r->ops_tail)
        r->ops_tail->next = x;
    else
        r->ops = x;
    r->ops_tail = x;
    r->n_ops++;
    if (idle) {
        e = op_send(x, x->is_patch);
        if (e) {
            op_pop(r);
            op_free(x);
            return e;
        }
    }
    return 0;
}

void k8s_recorder_get_stats(const k8s_recorder *r, k8s_recorder_stats *out)
{
    *out = r->stats;
}

size_t k8s_recorder_pending(const k8s_recorder *r)
{
    return r->n_ops;
}
