/* SPDX-License-Identifier: MIT */
#include "k8s/events_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/list.h"
#include "common/timeutil.h"
#include "common/tokenbucket.h"

/* ---- a small LRU: key -> slot ----
 * The slots are one array allocated once (cache_size entries, so nothing is
 * allocated per event and no node ever moves); their recency order is a
 * common/list.h list. */

typedef struct lru_slot {
    char *key;          /* NULL: free */
    eip_list_node node; /* in lru.recency */
    /* payload: dedup entries use name/count/times, spam entries the bucket */
    char name[sizeof(((k8s_event_decision *)0)->name)];
    char namespace[sizeof(((k8s_event_decision *)0)->namespace)];
    int count;
    int64_t first_us, last_mono_ms;
    eip_tokenbucket bucket;
} lru_slot;

typedef struct lru {
    json_t *index; /* key -> integer slot */
    lru_slot *slots;
    size_t cap, used;
    eip_list recency; /* the most recent first */
} lru;

static int lru_init(lru *l, size_t cap)
{
    l->index = json_object();
    l->slots = calloc(cap, sizeof(*l->slots));
    l->cap = cap;
    l->used = 0;
    eip_list_init(&l->recency);
    if (!l->index || !l->slots) {
        json_decref(l->index);
        free(l->slots);
        l->index = NULL;
        l->slots = NULL;
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

static lru_slot *lru_get(lru *l, const char *key)
{
    json_t *v = json_object_get(l->index, key);
    if (!v)
        return NULL;
    lru_slot *s = &l->slots[json_integer_value(v)];
    eip_list_remove(&l->recency, &s->node);
    eip_list_push_front(&l->recency, &s->node);
    return s;
}

/* A fresh zeroed slot for key (evicting the least recently used). */
static lru_slot *lru_put(lru *l, const char *key)
{
    char *k = strdup(key);
    if (!k)
        return NULL;
    lru_slot *s;
    if (l->used < l->cap) {
        s = &l->slots[l->used++];
    } else {
        eip_list_node *last = eip_list_last(&l->recency);
        if (!last) { /* every slot was lost to allocation failures */
            free(k);
            return NULL;
        }
        s = eip_container_of(last, lru_slot, node);
        eip_list_remove(&l->recency, &s->node);
        json_object_del(l->index, s->key);
        free(s->key);
    }
    memset(s, 0, sizeof(*s));
    eip_list_node_init(&s->node);
    if (json_object_set_new(l->index, k, json_integer(s - l->slots)) != 0) {
        free(k);
        /* the slot is lost until reused; only on allocation failure */
        if (s == &l->slots[l->used - 1])
            l->used--;
        return NULL;
    }
    s->key = k;
    eip_list_push_front(&l->recency, &s->node);
    return s;
}

/* ---- recorder ---- */

#define MAX_QUEUED_WRITES 1024
#define PATH_MAX_BYTES 1024

typedef struct op {
    k8s_recorder *rec;
    eip_list_node node; /* in rec->ops */
    k8s_call *call;
    json_t *event; /* full object, to create again when a PATCH finds nothing */
    bool is_patch;
} op;

struct k8s_recorder {
    k8s_client *c;
    k8s_recorder_opts o;
    char *component, *host;
    lru spam, dedup;
    eip_list ops; /* FIFO of writes; the first is in flight */
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

/* Defaults for what opts left 0; the borrowed strings are not kept. */
static void set_defaults(k8s_recorder *r, const k8s_recorder_opts *opts)
{
    r->o = *opts;
    r->o.component = r->o.host = NULL;
    if (r->o.spam_burst <= 0)
        r->o.spam_burst = 25;
    if (r->o.spam_refill_per_s <= 0)
        r->o.spam_refill_per_s = 1.0 / 300.0;
    if (!r->o.cache_size)
        r->o.cache_size = 4096;
    if (r->o.dedup_window_ms <= 0)
        r->o.dedup_window_ms = 10 * 60 * 1000;
}

int k8s_recorder_new(k8s_recorder **out, const k8s_recorder_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (!opts) {
        eip_seterr(err, errlen, "k8s recorder: no options");
        return -EINVAL;
    }
    k8s_recorder *r = calloc(1, sizeof(*r));
    if (!r) {
        eip_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->c = opts->client;
    set_defaults(r, opts);
    eip_list_init(&r->ops);
    r->component = strdup(opts->component ? opts->component : "eip-agent");
    r->host = opts->host ? strdup(opts->host) : NULL;
    int e = (!r->component || (opts->host && !r->host)) ? -ENOMEM : 0;
    if (!e)
        e = lru_init(&r->spam, r->o.cache_size);
    if (!e)
        e = lru_init(&r->dedup, r->o.cache_size);
    if (e) {
        eip_seterr(err, errlen, "out of memory");
        k8s_recorder_free(r);
        return e;
    }
    *out = r;
    return 0;
}

/* Writes go out one at a time in order (client-go records from one goroutine):
 * a PATCH never overtakes the create of its Event, and counts only grow. */
static op *op_first(const k8s_recorder *r)
{
    eip_list_node *n = eip_list_first(&r->ops);
    return n ? eip_container_of(n, op, node) : NULL;
}

/* Unlinks and frees x (its call is over or cancelled). */
static void op_drop(op *x)
{
    eip_list_remove(&x->rec->ops, &x->node);
    json_decref(x->event);
    free(x);
}

void k8s_recorder_free(k8s_recorder *r)
{
    if (!r)
        return;
    op *x;
    while ((x = op_first(r))) {
        k8s_call_cancel(x->call);
        op_drop(x);
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

/* The spam filter (client-go EventSourceObjectSpamFilter): whether the
 * source+object key has a token left. */
static int spam_allows(k8s_recorder *r, const char *key, int64_t now, bool *allowed)
{
    lru_slot *s = lru_get(&r->spam, key);
    if (!s) {
        s = lru_put(&r->spam, key);
        if (!s)
            return -ENOMEM;
        eip_tokenbucket_init(&s->bucket, r->o.spam_refill_per_s, r->o.spam_burst, now);
    }
    *allowed = eip_tokenbucket_take(&s->bucket, now) == 0;
    return 0;
}

/* The clocks, read once per event. */
typedef struct moment {
    int64_t mono_ms, wall_us;
} moment;

/* The dedup cache: the same event (key) within the window patches the Event
 * recorded before, else a new Event is named. Names are never cut: -E2BIG. */
static int dedup(k8s_recorder *r, const char *key, const k8s_object_ref *ref, moment now,
                 k8s_event_decision *out)
{
    lru_slot *d = lru_get(&r->dedup, key);
    if (d && now.mono_ms - d->last_mono_ms <= r->o.dedup_window_ms) {
        d->count++;
        d->last_mono_ms = now.mono_ms;
        out->action = K8S_EVENT_PATCH;
        memcpy(out->name, d->name, sizeof(out->name));
        memcpy(out->namespace, d->namespace, sizeof(out->namespace));
        out->count = d->count;
        out->first_us = d->first_us;
        out->last_us = now.wall_us;
        return 0;
    }
    const char *ns = ref->namespace && *ref->namespace ? ref->namespace : "default";
    size_t ns_len = strlen(ns);
    /* client-go: fmt.Sprintf("%v.%x", ref.Name, t.UnixNano()) */
    r->seq = (r->seq + 1) % 1000; /* sub-microsecond part: keeps names unique */
    int n = snprintf(out->name, sizeof(out->name), "%s.%llx", ref->name,
                     (unsigned long long)now.wall_us * 1000ull + r->seq);
    if (n < 0 || (size_t)n >= sizeof(out->name) || ns_len >= sizeof(out->namespace))
        return -E2BIG;
    memcpy(out->namespace, ns, ns_len + 1);
    if (!d)
        d = lru_put(&r->dedup, key);
    if (!d)
        return -ENOMEM;
    d->count = 1;
    d->first_us = now.wall_us;
    d->last_mono_ms = now.mono_ms;
    memcpy(d->name, out->name, sizeof(d->name));
    memcpy(d->namespace, out->namespace, sizeof(d->namespace));
    out->action = K8S_EVENT_CREATE;
    out->count = 1;
    out->first_us = out->last_us = now.wall_us;
    return 0;
}

int k8s_recorder_decide(k8s_recorder *r, const k8s_object_ref *ref, const char *type,
                        const char *reason, const char *message, k8s_event_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (!ref || !ref->name || !*ref->name || !type || !reason || !message)
        return -EINVAL;
    moment now = {mono_ms(r), wall_us(r)};
    eip_buf key;
    eip_buf_init(&key, 64 * 1024);
    bool allowed = false;
    int e = object_key(r, ref, &key);
    if (!e)
        e = spam_allows(r, key.data, now.mono_ms, &allowed);
    if (e)
        goto out;
    if (!allowed) {
        out->action = K8S_EVENT_DROPPED;
        r->stats.dropped++;
        goto out;
    }
    /* client-go getEventKey: the object plus type, reason and message. */
    e = eip_buf_appendf(&key, "\x1f%s\x1f%s\x1f%s", type, reason, message);
    if (!e)
        e = dedup(r, key.data, ref, now, out);
out:
    if (e)
        memset(out, 0, sizeof(*out));
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
    json_t *src = json_pack("{s:s}", "component", r->component);
    /* every field or no Event: an involvedObject without its namespace or uid
     * is another object's */
    int e = !inv || !src;
    if (!e && ref->namespace && *ref->namespace)
        e = json_object_set_new(inv, "namespace", json_string(ref->namespace));
    if (!e && ref->uid)
        e = json_object_set_new(inv, "uid", json_string(ref->uid));
    if (!e && ref->api_version)
        e = json_object_set_new(inv, "apiVersion", json_string(ref->api_version));
    if (!e && ref->resource_version)
        e = json_object_set_new(inv, "resourceVersion", json_string(ref->resource_version));
    if (!e && r->host)
        e = json_object_set_new(src, "host", json_string(r->host));
    if (e) {
        json_decref(inv);
        json_decref(src);
        return NULL;
    }
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

static const char *event_meta(const op *x, const char *field)
{
    return json_string_value(json_object_get(json_object_get(x->event, "metadata"), field));
}

/* POSTs the Event or PATCHes its count, lastTimestamp and message. */
static int op_send(op *x, bool patch)
{
    k8s_recorder *r = x->rec;
    x->is_patch = patch;
    eip_buf path;
    eip_buf_init(&path, PATH_MAX_BYTES);
    int e = eip_buf_appendf(&path, "/api/v1/namespaces/%s/events", event_meta(x, "namespace"));
    if (!e && patch)
        e = eip_buf_appendf(&path, "/%s", event_meta(x, "name"));
    json_t *p = NULL;
    if (!e && patch) {
        p = json_pack("{s:O, s:O, s:O}", "count", json_object_get(x->event, "count"),
                      "lastTimestamp", json_object_get(x->event, "lastTimestamp"), "message",
                      json_object_get(x->event, "message"));
        e = p ? k8s_patch(r->c, path.data, K8S_PATCH_STRATEGIC_MERGE, p, op_done, x, &x->call)
              : -ENOMEM;
    } else if (!e) {
        e = k8s_post(r->c, path.data, x->event, op_done, x, &x->call);
    }
    json_decref(p);
    eip_buf_free(&path);
    return e;
}

static void op_failed(op *x, k8s_result res, const char *detail)
{
    k8s_recorder *r = x->rec;
    r->stats.failed++;
    if (r->o.on_error)
        r->o.on_error(event_meta(x, "name"), res, detail, r->o.arg);
}

/* Sends the head of the queue; drops writes that cannot even be sent. */
static void run_queue(k8s_recorder *r)
{
    op *x;
    while ((x = op_first(r))) {
        int e = op_send(x, x->is_patch);
        if (e == 0)
            return;
        op_failed(x, K8S_E_TRANSPORT, strerror(-e));
        op_drop(x);
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
    op_drop(x);
    run_queue(r);
}

int k8s_recorder_event(k8s_recorder *r, const k8s_object_ref *ref, const char *type,
                       const char *reason, const char *message)
{
    if (r->ops.len >= MAX_QUEUED_WRITES)
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
    eip_list_node_init(&x->node);
    x->event = k8s_recorder_build(r, ref, type, reason, message, &d);
    if (!x->event) {
        free(x);
        return -ENOMEM;
    }
    bool idle = eip_list_empty(&r->ops);
    eip_list_push_back(&r->ops, &x->node);
    if (idle && (e = op_send(x, x->is_patch)) != 0)
        op_drop(x);
    return e;
}

void k8s_recorder_get_stats(const k8s_recorder *r, k8s_recorder_stats *out)
{
    *out = r->stats;
}

size_t k8s_recorder_pending(const k8s_recorder *r)
{
    return r->ops.len;
}
