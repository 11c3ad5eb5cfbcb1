/* SPDX-License-Identifier: MIT */
#include "k8s/reflector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/pct.h"
#include "common/rand.h"
#include "common/timeutil.h"
#include "k8s/watch_internal.h"

#define KEY_MAX 512
#define SHORT_WATCH_MS 1000
#define QUERY_MAX 16384

enum next_action { NEXT_LIST, NEXT_WATCH };

struct k8s_reflector {
    k8s_client *c;
    char *path, *field_selector, *label_selector;
    k8s_reflector_opts o;
    k8s_reflector_state state;
    enum next_action next;

    json_t *store;       /* key -> object */
    json_t *pending;     /* the list being paged in: key -> object */
    char *rv;            /* last seen resourceVersion; NULL before the first list */
    char *cont;          /* continue token of the list in progress */
    char *list_rv;       /* resourceVersion the list in progress asked for */
    bool rv_unavailable; /* the last list said Expired/Gone: list with "" */
    bool synced;

    k8s_call *call;
    k8s_watch_parser parser;
    int64_t watch_started_ms;
    uint64_t watch_events; /* events (incl. bookmarks) on the current watch */
    int watch_timeout_s;
    char error_detail[768]; /* of the last ERROR event */

    eip_backoff backoff;
    uv_timer_t backoff_timer;
    uv_timer_t watchdog;
    int closing; /* handles still to close before free */
    k8s_reflector_stats stats;
};

const char *k8s_event_type_name(k8s_event_type t)
{
    switch (t) {
    case K8S_EVENT_ADDED:
        return "ADDED";
    case K8S_EVENT_MODIFIED:
        return "MODIFIED";
    case K8S_EVENT_DELETED:
        return "DELETED";
    }
    return "?";
}

const char *k8s_reflector_state_name(k8s_reflector_state s)
{
    switch (s) {
    case K8S_REFLECTOR_IDLE:
        return "idle";
    case K8S_REFLECTOR_LISTING:
        return "listing";
    case K8S_REFLECTOR_WATCHING:
        return "watching";
    case K8S_REFLECTOR_BACKOFF:
        return "backoff";
    case K8S_REFLECTOR_STOPPED:
        return "stopped";
    }
    return "?";
}

static void set_state(k8s_reflector *r, k8s_reflector_state s)
{
    if (r->state == s)
        return;
    log_debug("k8s reflector %s: %s -> %s (rv %s)", r->path, k8s_reflector_state_name(r->state),
              k8s_reflector_state_name(s), r->rv ? r->rv : "-");
    r->state = s;
}

static const char *obj_str(const json_t *obj, const char *field)
{
    const json_t *md = json_object_get(obj, "metadata");
    const json_t *v = json_is_object(md) ? json_object_get(md, field) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int k8s_object_key(const json_t *obj, char *dst, size_t cap)
{
    const char *name = obj_str(obj, "name");
    const char *ns = obj_str(obj, "namespace");
    if (!name || !*name)
        return -EINVAL;
    int n = (ns && *ns) ? snprintf(dst, cap, "%s/%s", ns, name) : snprintf(dst, cap, "%s", name);
    return (n < 0 || (size_t)n >= cap) ? -EINVAL : 0;
}

static bool same_str(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* Like client-go informers' transform: server-side-apply bookkeeping is often
 * the larger part of an object and nothing here reads it. */
static void trim(const k8s_reflector *r, json_t *obj)
{
    if (r->o.keep_managed_fields)
        return;
    json_t *md = json_object_get(obj, "metadata");
    if (json_is_object(md))
        json_object_del(md, "managedFields");
}

static void set_rv(k8s_reflector *r, const char *rv)
{
    if (!rv || !*rv || (r->rv && !strcmp(r->rv, rv)))
        return;
    char *d = strdup(rv);
    if (!d)
        return; /* keep the older one: at worst a relist */
    free(r->rv);
    r->rv = d;
}

static void emit(k8s_reflector *r, k8s_event_type t, json_t *obj, json_t *old)
{
    if (r->o.on_event)
        r->o.on_event(r, t, obj, t == K8S_EVENT_MODIFIED ? old : NULL, r->o.arg);
}

static void report(k8s_reflector *r, const char *what, k8s_result res, const char *detail)
{
    r->stats.failures++;
    log_debug("k8s reflector %s: %s failed: %s: %s", r->path, what, k8s_result_name(res), detail);
    if (r->o.on_error)
        r->o.on_error(r, what, res, detail, r->o.arg);
}

static void start_list(k8s_reflector *r);
static void start_watch(k8s_reflector *r);

static void backoff_cb(uv_timer_t *t)
{
    k8s_reflector *r = t->data;
    if (r->state != K8S_REFLECTOR_BACKOFF)
        return;
    if (r->next == NEXT_WATCH)
        start_watch(r);
    else
        start_list(r);
}

/* Waits (backoff with jitter, at least min_ms) and then lists or watches. */
static void retry_later(k8s_reflector *r, enum next_action next, long long min_ms)
{
    uv_timer_stop(&r->watchdog);
    if (r->state == K8S_REFLECTOR_STOPPED)
        return; /* stopped from the on_error callback that reported the failure */
    int64_t wait = eip_backoff_next(&r->backoff, eip_time_mono_ms(), eip_backoff_rand01());
    if (min_ms > wait)
        wait = min_ms;
    r->next = next;
    set_state(r, K8S_REFLECTOR_BACKOFF);
    log_debug("k8s reflector %s: %s again in %lld ms", r->path,
              next == NEXT_WATCH ? "watch" : "list", (long long)wait);
    int e = uv_timer_start(&r->backoff_timer, backoff_cb, (uint64_t)wait, 0);
    if (e) {
        /* Without its timer the loop cannot go on: stop, and say so. */
        set_state(r, K8S_REFLECTOR_STOPPED);
        report(r, "backoff timer", K8S_E_TRANSPORT, uv_strerror(e));
    }
}

static int add_param(eip_buf *b, char *sep, const char *name, const char *value)
{
    int e = eip_buf_appendf(b, "%c%s=", *sep, name);
    if (!e)
        e = eip_pct_encode(b, value, strlen(value));
    *sep = '&';
    return e;
}

static int add_param_num(eip_buf *b, char *sep, const char *name, long long value)
{
    int e = eip_buf_appendf(b, "%c%s=%lld", *sep, name, value);
    *sep = '&';
    return e;
}

/* Builds path?query into b. rv NULL: no resourceVersion parameter. */
static int build_query(k8s_reflector *r, eip_buf *b, bool watch, const char *rv, const char *cont)
{
    int e = eip_buf_appends(b, r->path);
    char sep = strchr(r->path, '?') ? '&' : '?';
    if (!e && r->field_selector)
        e = add_param(b, &sep, "fieldSelector", r->field_selector);
    if (!e && r->label_selector)
        e = add_param(b, &sep, "labelSelector", r->label_selector);
    if (!e && watch) {
        e = add_param(b, &sep, "watch", "true");
        if (!e)
            e = add_param(b, &sep, "allowWatchBookmarks", "true");
        if (!e)
            e = add_param_num(b, &sep, "timeoutSeconds", r->watch_timeout_s);
    } else if (!e && (!rv || strcmp(rv, "0") == 0)) {
        /* client-go reflector: no limit with a specific resourceVersion. Without one the
         * server answers from its watch cache (not older than rv); with one it is the
         * legacy Exact list at rv (410 once compacted), which misses newer objects. */
        e = add_param_num(b, &sep, "limit", r->o.page_size);
    }
    if (!e && cont)
        e = add_param(b, &sep, "continue", cont);
    if (!e && rv)
        e = add_param(b, &sep, "resourceVersion", rv);
    return e;
}

/* ---- LIST ---- */

static void list_done(k8s_call *call, const k8s_response *resp, void *arg);

/* Sends the list or watch request o describes (its path built here); when it
 * cannot be sent, reports and retries later, and returns false. */
static bool send_request(k8s_reflector *r, k8s_request_opts *o, bool watch, const char *rv,
                         const char *cont)
{
    eip_buf q;
    eip_buf_init(&q, QUERY_MAX);
    int e = build_query(r, &q, watch, rv, cont);
    o->path = q.data;
    o->arg = r;
    if (!e)
        e = k8s_request(r->c, o, &r->call);
    eip_buf_free(&q);
    if (e) {
        r->call = NULL;
        report(r, watch ? "watch" : "list", K8S_E_TRANSPORT, strerror(-e));
        retry_later(r, watch ? NEXT_WATCH : NEXT_LIST, 0);
        return false;
    }
    return true;
}

static void send_list_page(k8s_reflector *r)
{
    /* client-go: a continued page carries only the continue token; an empty
     * resourceVersion (a consistent read) is left out. */
    const char *rv = (r->cont || !r->list_rv || !*r->list_rv) ? NULL : r->list_rv;
    k8s_request_opts o;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = r->o.list_timeout_ms;
    o.on_done = list_done;
    if (send_request(r, &o, false, rv, r->cont))
        r->stats.lists++;
}

static void start_list(k8s_reflector *r)
{
    set_state(r, K8S_REFLECTOR_LISTING);
    json_decref(r->pending);
    r->pending = json_object();
    free(r->cont);
    r->cont = NULL;
    free(r->list_rv);
    /* client-go relistResourceVersion(): "" after Expired/Gone, "0" before
     * anything was seen (served from the watch cache), else the last seen. */
    r->list_rv = strdup(r->rv_unavailable ? "" : r->rv ? r->rv : "0");
    if (!r->pending || !r->list_rv) {
        report(r, "list", K8S_E_TRANSPORT, "out of memory");
        retry_later(r, NEXT_LIST, 0);
        return;
    }
    send_list_page(r);
}

/* Applies a complete list to the store: mark-and-sweep. 0, or -ENOMEM when an
 * object could not be stored (nothing is said about it: the caller relists). */
static int apply_list(k8s_reflector *r, json_t *fresh)
{
    const char *key;
    json_t *old, *obj;
    void *tmp;
    /* Sweep: objects that are gone. Removing while iterating needs the safe form. */
    json_object_foreach_safe(r->store, tmp, key, old)
    {
        if (!json_object_get(fresh, key)) {
            json_incref(old);
            json_object_del(r->store, key);
            emit(r, K8S_EVENT_DELETED, old, NULL);
            json_decref(old);
            if (r->state == K8S_REFLECTOR_STOPPED)
                return 0;
        }
    }
    json_object_foreach(fresh, key, obj)
    {
        old = json_object_get(r->store, key);
        if (old && !same_str(obj_str(old, "uid"), obj_str(obj, "uid"))) {
            /* Same name, new object: the old one was deleted meanwhile. */
            json_incref(old);
            json_object_del(r->store, key);
            emit(r, K8S_EVENT_DELETED, old, NULL);
            json_decref(old);
            old = NULL;
            if (r->state == K8S_REFLECTOR_STOPPED)
                return 0;
        }
        bool changed =
            !old || !same_str(obj_str(old, "resourceVersion"), obj_str(obj, "resourceVersion"));
        json_incref(old); /* the store lets go of it below; the handler gets it */
        if (json_object_set(r->store, key, obj)) {
            json_decref(old);
            return -ENOMEM;
        }
        if (changed)
            emit(r, old ? K8S_EVENT_MODIFIED : K8S_EVENT_ADDED, obj, old);
        json_decref(old);
        if (r->state == K8S_REFLECTOR_STOPPED)
            return 0;
    }
    return 0;
}

static void list_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_reflector *r = arg;
    r->call = NULL;
    if (resp->result != K8S_OK) {
        report(r, "list", resp->result, resp->status.message);
        /* client-go: after Expired/Gone (also an expired continue token) or
         * "Too large resource version" (a lagging server) list with "". */
        if (resp->result == K8S_E_GONE ||
            (resp->status.code == 504 &&
             strstr(resp->status.message, "Too large resource version")))
            r->rv_unavailable = true;
        retry_later(r, NEXT_LIST, resp->retry_after_ms);
        return;
    }
    json_t *items = json_object_get(resp->json, "items");
    json_t *md = json_object_get(resp->json, "metadata");
    if (!json_is_array(items) || !json_is_object(md)) {
        report(r, "list", K8S_E_PARSE, "no items or metadata in the list");
        retry_later(r, NEXT_LIST, 0);
        return;
    }
    size_t i;
    json_t *it;
    char key[KEY_MAX];
    json_array_foreach(items, i, it)
    {
        if (k8s_object_key(it, key, sizeof(key)) == 0) {
            trim(r, it);
            if (json_object_set(r->pending, key, it)) {
                /* a list missing an object would delete it: list again */
                report(r, "list", K8S_E_TRANSPORT, "out of memory");
                retry_later(r, NEXT_LIST, 0);
                return;
            }
        }
    }
    const json_t *jc = json_object_get(md, "continue");
    const json_t *jrv = json_object_get(md, "resourceVersion");
    free(r->cont);
    r->cont = NULL;
    if (json_is_string(jc) && *json_string_value(jc)) {
        r->cont = strdup(json_string_value(jc));
        if (!r->cont) {
            retry_later(r, NEXT_LIST, 0);
            return;
        }
        send_list_page(r);
        return;
    }
    if (!json_is_string(jrv) || !*json_string_value(jrv)) {
        report(r, "list", K8S_E_PARSE, "the list has no resourceVersion");
        retry_later(r, NEXT_LIST, 0);
        return;
    }
    json_t *fresh = r->pending;
    r->pending = NULL;
    if (r->synced)
        r->stats.relists++;
    r->rv_unavailable = false;
    int e = apply_list(r, fresh);
    json_decref(fresh);
    if (r->state == K8S_REFLECTOR_STOPPED)
        return;
    if (e) {
        report(r, "list", K8S_E_TRANSPORT, "out of memory");
        retry_later(r, NEXT_LIST, 0);
        return;
    }
    set_rv(r, json_string_value(jrv));
    r->synced = true;
    if (r->o.on_synced)
        r->o.on_synced(r, r->o.arg);
    if (r->state == K8S_REFLECTOR_STOPPED)
        return;
    start_watch(r);
}

/* ---- WATCH ---- */

/* Ends the watch in flight: reports and lists or watches again after a backoff. */
static void drop_watch(k8s_reflector *r, k8s_result res, const char *detail, enum next_action next)
{
    k8s_call_cancel(r->call);
    r->call = NULL;
    report(r, "watch", res, detail);
    retry_later(r, next, 0);
}

static void watchdog_cb(uv_timer_t *t)
{
    k8s_reflector *r = t->data;
    if (r->state != K8S_REFLECTOR_WATCHING)
        return;
    r->stats.dead_watches++;
    drop_watch(r, K8S_E_TRANSPORT, "no data for longer than timeoutSeconds plus grace", NEXT_WATCH);
}

/* (Re)arms the dead-watch timer; when it cannot be, the watch is dropped. */
static bool arm_watchdog(k8s_reflector *r)
{
    uint64_t ms = (uint64_t)r->watch_timeout_s * 1000u + (uint64_t)r->o.watch_grace_ms;
    int e = uv_timer_start(&r->watchdog, watchdog_cb, ms, 0);
    if (e) {
        char detail[128];
        eip_seterr(detail, sizeof(detail), "cannot arm the watchdog: %s", uv_strerror(e));
        drop_watch(r, K8S_E_TRANSPORT, detail, NEXT_WATCH);
    }
    return e == 0;
}

/* Returns non-zero to stop feeding (stream dropped or reflector stopped). */
static int on_watch_event(const k8s_watch_event *ev, void *arg)
{
    k8s_reflector *r = arg;
    r->watch_events++;
    if (ev->type == K8S_WATCH_ERROR) {
        eip_seterr(r->error_detail, sizeof(r->error_detail), "ERROR event on the watch: %d %s: %s",
                   ev->status.code, ev->status.reason, ev->status.message);
        return ev->error_class == K8S_E_GONE ? -ESTALE : -EPROTO;
    }
    if (ev->type == K8S_WATCH_BOOKMARK) {
        r->stats.bookmarks++;
        set_rv(r, ev->resource_version);
        return 0;
    }
    char key[KEY_MAX];
    if (k8s_object_key(ev->object, key, sizeof(key)) != 0)
        return -EBADMSG;
    r->stats.events++;
    trim(r, ev->object);
    json_t *old = json_object_get(r->store, key);
    json_incref(old);
    if (ev->type == K8S_WATCH_DELETED) {
        if (old)
            json_object_del(r->store, key);
        set_rv(r, ev->resource_version);
        emit(r, K8S_EVENT_DELETED, ev->object, NULL);
    } else {
        if (old && !same_str(obj_str(old, "uid"), obj_str(ev->object, "uid"))) {
            json_object_del(r->store, key);
            emit(r, K8S_EVENT_DELETED, old, NULL);
            json_decref(old);
            old = NULL;
            if (r->state == K8S_REFLECTOR_STOPPED)
                return -ECANCELED;
        }
        bool same = old && same_str(obj_str(old, "resourceVersion"), ev->resource_version);
        if (json_object_set(r->store, key, ev->object)) {
            json_decref(old);
            return -ENOMEM; /* the store would miss it: relist */
        }
        set_rv(r, ev->resource_version);
        if (!same) /* a replayed event of what the store has says nothing new */
            emit(r, old ? K8S_EVENT_MODIFIED : K8S_EVENT_ADDED, ev->object, old);
    }
    json_decref(old);
    return r->state == K8S_REFLECTOR_STOPPED ? -ECANCELED : 0;
}

static int watch_chunk(k8s_call *call, long status, const char *data, size_t len, void *arg)
{
    (void)call;
    (void)status;
    k8s_reflector *r = arg;
    if (!arm_watchdog(r))
        return 0; /* the call is cancelled */
    int e = k8s_watch_feed(&r->parser, data, len, on_watch_event, r);
    if (!e)
        return 0;
    if (e == -ECANCELED || r->state == K8S_REFLECTOR_STOPPED)
        return 0; /* stopped from a callback: the call is already cancelled */
    switch (e) {
    case -ESTALE:
        drop_watch(r, K8S_E_GONE, r->error_detail, NEXT_LIST);
        break;
    case -E2BIG:
        drop_watch(r, K8S_E_TOO_LARGE, "a watch event passed the size cap, relisting", NEXT_LIST);
        break;
    case -EPROTO:
        drop_watch(r, K8S_E_SERVER, r->error_detail, NEXT_LIST);
        break;
    case -ENOMEM:
        drop_watch(r, K8S_E_TRANSPORT, "out of memory for a watch event, relisting", NEXT_LIST);
        break;
    default:
        drop_watch(r, K8S_E_PARSE, "undecodable watch event, relisting", NEXT_LIST);
        break;
    }
    return 0;
}

static void watch_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_reflector *r = arg;
    r->call = NULL;
    uv_timer_stop(&r->watchdog);
    k8s_watch_parser_reset(&r->parser);
    int64_t lasted = eip_time_mono_ms() - r->watch_started_ms;
    switch (resp->result) {
    case K8S_OK:
        if (r->watch_events == 0 && lasted < SHORT_WATCH_MS) {
            /* client-go treats this as an error; we keep the resourceVersion
             * (nothing says it is stale) but back off. */
            report(r, "watch", K8S_E_TRANSPORT, "watch closed at once without events");
            retry_later(r, NEXT_WATCH, 0);
            return;
        }
        log_debug("k8s reflector %s: watch ended after %lld ms, %llu events", r->path,
                  (long long)lasted, (unsigned long long)r->watch_events);
        start_watch(r);
        return;
    case K8S_E_GONE:
        report(r, "watch", resp->result, resp->status.message);
        retry_later(r, NEXT_LIST, 0);
        return;
    case K8S_E_TRANSPORT:
    case K8S_E_TOO_MANY:
        report(r, "watch", resp->result, resp->status.message);
        retry_later(r, NEXT_WATCH, resp->retry_after_ms);
        return;
    default:
        report(r, "watch", resp->result, resp->status.message);
        retry_later(r, NEXT_LIST, resp->retry_after_ms);
        return;
    }
}

static void start_watch(k8s_reflector *r)
{
    set_state(r, K8S_REFLECTOR_WATCHING);
    int span = r->o.watch_timeout_max_s - r->o.watch_timeout_min_s;
    r->watch_timeout_s = r->o.watch_timeout_min_s + (int)eip_random_below((uint64_t)span + 1);
    k8s_watch_parser_reset(&r->parser);
    r->watch_events = 0;
    r->watch_started_ms = eip_time_mono_ms();
    k8s_request_opts o;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = -1; /* the server ends it after timeoutSeconds; the watchdog guards */
    o.on_chunk = watch_chunk;
    o.on_done = watch_done;
    if (!send_request(r, &o, true, r->rv ? r->rv : "", NULL))
        return;
    r->stats.watches++;
    arm_watchdog(r);
}

/* ---- lifecycle ---- */

static char *dup_opt(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

/* Defaults for what opts left 0; the borrowed strings are not kept. */
static void set_defaults(k8s_reflector *r, const k8s_reflector_opts *opts)
{
    r->o = *opts;
    r->o.path = r->o.field_selector = r->o.label_selector = NULL;
    if (!r->o.page_size)
        r->o.page_size = 500;
    if (r->o.watch_timeout_min_s <= 0)
        r->o.watch_timeout_min_s = 300;
    if (r->o.watch_timeout_max_s <= 0)
        r->o.watch_timeout_max_s = 600;
    if (r->o.watch_timeout_max_s < r->o.watch_timeout_min_s)
        r->o.watch_timeout_max_s = r->o.watch_timeout_min_s;
    if (r->o.watch_grace_ms <= 0)
        r->o.watch_grace_ms = 30000;
    if (r->o.backoff_initial_ms <= 0)
        r->o.backoff_initial_ms = 800;
    if (r->o.backoff_max_ms <= 0)
        r->o.backoff_max_ms = 30000;
    if (r->o.backoff_reset_ms <= 0)
        r->o.backoff_reset_ms = 120000;
}

static void reflector_release(k8s_reflector *r)
{
    json_decref(r->store);
    json_decref(r->pending);
    k8s_watch_parser_free(&r->parser);
    free(r->rv);
    free(r->cont);
    free(r->list_rv);
    free(r->path);
    free(r->field_selector);
    free(r->label_selector);
    free(r);
}

static void closed_cb(uv_handle_t *h)
{
    k8s_reflector *r = h->data;
    if (--r->closing > 0)
        return;
    reflector_release(r);
}

/* Both timers, or none: a failed second one closes the first (which frees r). */
static int init_timers(k8s_reflector *r)
{
    uv_loop_t *loop = k8s_client_loop(r->c);
    r->backoff_timer.data = r;
    r->watchdog.data = r;
    int e = uv_timer_init(loop, &r->backoff_timer);
    if (e) {
        reflector_release(r);
        return e;
    }
    e = uv_timer_init(loop, &r->watchdog);
    if (e) {
        r->closing = 1;
        uv_close((uv_handle_t *)&r->backoff_timer, closed_cb);
    }
    return e;
}

int k8s_reflector_new(k8s_reflector **out, const k8s_reflector_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->client || !opts->path || opts->path[0] != '/') {
        eip_seterr(err, errlen, "k8s reflector: a client and a path starting with / are required");
        return -EINVAL;
    }
    k8s_reflector *r = calloc(1, sizeof(*r));
    if (!r) {
        eip_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    bool ok = true;
    r->c = opts->client;
    r->path = dup_opt(opts->path, &ok);
    r->field_selector = dup_opt(opts->field_selector, &ok);
    r->label_selector = dup_opt(opts->label_selector, &ok);
    r->store = json_object();
    if (!ok || !r->store) {
        reflector_release(r);
        eip_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    set_defaults(r, opts);
    /* client-go's reflector: 800 ms doubling to 30 s, jitter 1.0, reset after 2 healthy minutes */
    eip_backoff_init(&r->backoff, r->o.backoff_initial_ms, r->o.backoff_max_ms,
                     r->o.backoff_reset_ms, EIP_JITTER_UP, 1.0);
    k8s_watch_parser_init(&r->parser, r->o.max_event_bytes);
    r->state = K8S_REFLECTOR_IDLE;
    int e = init_timers(r);
    if (e) {
        eip_seterr(err, errlen, "k8s reflector: timer: %s", uv_strerror(e));
        return e;
    }
    *out = r;
    return 0;
}

int k8s_reflector_start(k8s_reflector *r)
{
    if (r->state != K8S_REFLECTOR_IDLE && r->state != K8S_REFLECTOR_STOPPED)
        return -EALREADY;
    eip_backoff_reset(&r->backoff);
    start_list(r);
    return 0;
}

void k8s_reflector_stop(k8s_reflector *r)
{
    if (!r || r->state == K8S_REFLECTOR_STOPPED)
        return;
    set_state(r, K8S_REFLECTOR_STOPPED);
    k8s_call_cancel(r->call);
    r->call = NULL;
    uv_timer_stop(&r->backoff_timer);
    uv_timer_stop(&r->watchdog);
    k8s_watch_parser_reset(&r->parser);
}

void k8s_reflector_free(k8s_reflector *r)
{
    if (!r)
        return;
    k8s_reflector_stop(r);
    r->closing = 2;
    uv_close((uv_handle_t *)&r->backoff_timer, closed_cb);
    uv_close((uv_handle_t *)&r->watchdog, closed_cb);
}

k8s_reflector_state k8s_reflector_get_state(const k8s_reflector *r)
{
    return r->state;
}

bool k8s_reflector_has_synced(const k8s_reflector *r)
{
    return r->synced;
}

const char *k8s_reflector_resource_version(const k8s_reflector *r)
{
    return r->rv ? r->rv : "";
}

json_t *k8s_reflector_get(const k8s_reflector *r, const char *ns, const char *name)
{
    char key[KEY_MAX];
    int n = (ns && *ns) ? snprintf(key, sizeof(key), "%s/%s", ns, name)
                        : snprintf(key, sizeof(key), "%s", name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return json_object_get(r->store, key);
}

size_t k8s_reflector_size(const k8s_reflector *r)
{
    return json_object_size(r->store);
}

void k8s_reflector_foreach(const k8s_reflector *r, void (*cb)(json_t *obj, void *arg), void *arg)
{
    const char *key;
    json_t *obj;
    json_object_foreach(r->store, key, obj) cb(obj, arg);
}

void k8s_reflector_get_stats(const k8s_reflector *r, k8s_reflector_stats *out)
{
    *out = r->stats;
}
