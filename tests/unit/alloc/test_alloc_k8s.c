/* SPDX-License-Identifier: MIT */
/* Allocation failure on the Kubernetes request paths, against a fake API server
 * on loopback (support_apiserver.h) on the same loop: a reflector's paged LIST
 * (a page with a continue token, then the last page) and its WATCH (one event
 * and a bookmark, then the fake ends the stream and the reflector watches again
 * from the bookmark), a k8s_leader creating, renewing and releasing its Lease,
 * and one k8s_patch with a JSON body. The server's own allocations fail too: it
 * drops the connection or answers 500, and the client side must still end
 * cleanly. With each allocation failing in turn:
 *  - the reflector ends up watching from the bookmark with both objects in its
 *    store, the one the watch changed at its new version (a failure is retried,
 *    never a missing or stale object);
 *  - the elector leads, renews and releases (failures are retried);
 *  - the patch calls back exactly once, or is refused at once with -ENOMEM;
 *  - every body the server received is whole JSON of its request's shape: the
 *    Lease with every spec field, the patch with its condition;
 *  - nothing leaks (LeakSanitizer after every run) and the loop closes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alloc_fail.h"
#include "common/json.h"
#include "http/client.h"
#include "k8s/k8s.h"
#include "support_apiserver.h"

#define DEADLINE_MS 4000
#define LEASES "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
#define LEASE LEASES "/eip-agent"
#define POD_STATUS "/api/v1/namespaces/ns/pods/a/status"

static const char page1[] =
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"10\","
    "\"continue\":\"c1\"},\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\","
    "\"uid\":\"uid-a\",\"resourceVersion\":\"5\",\"managedFields\":[{\"manager\":\"m\"}]},"
    "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"podIP\":\"10.0.0.5\"}}]}";
static const char page2[] =
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"10\"},"
    "\"items\":[{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\",\"uid\":\"uid-b\","
    "\"resourceVersion\":\"7\"},\"spec\":{\"nodeName\":\"n1\"}}]}";
static const char watch1[] =
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\","
    "\"uid\":\"uid-a\",\"resourceVersion\":\"11\"},\"spec\":{\"nodeName\":\"n1\"},"
    "\"status\":{\"podIP\":\"10.0.0.5\",\"phase\":\"Running\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
    "{\"resourceVersion\":\"12\"}}}\n";
static const char pod_a[] = "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"a\","
                            "\"namespace\":\"ns\",\"uid\":\"uid-a\",\"resourceVersion\":\"13\"}}";
static const char not_found[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                "\"reason\":\"NotFound\",\"code\":404}";
static const char conflict[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"reason\":\"Conflict\",\"code\":409}";
static const char exists[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                             "\"reason\":\"AlreadyExists\",\"code\":409}";
static const char no_memory[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                "\"reason\":\"InternalError\",\"code\":500}";
static const char bad_body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"reason\":\"BadRequest\",\"code\":400}";

typedef struct world {
    /* the server */
    char lease[4096]; /* the stored Lease, "" when none */
    long lease_rv;
    char answer[4096];
    int renewals; /* PUTs accepted with holder n1 on a Lease held by n1 */
    bool released;
    bool rewatched; /* a watch from the bookmark arrived */
    /* the client */
    k8s_reflector *refl;
    k8s_leader *leader;
    bool patch_started;
    int patch_callbacks;
    k8s_result patch_result;
    bool stop_called;
    int stopped;
    int leader_errors;
} world;

/* ---- the server ---- */

static void h_pods(world *w, const api_request *req, api_answer *a)
{
    char v[64];
    if (api_query(req->query, "watch", v, sizeof(v))) {
        const char *rv = api_query(req->query, "resourceVersion", v, sizeof(v));
        if (rv && strcmp(rv, "12") == 0) {
            w->rewatched = true;
            a->kind = API_HANG;
            return;
        }
        a->kind = API_STREAM;
        a->status = 200;
        a->body = watch1;
        return;
    }
    const char *cont = api_query(req->query, "continue", v, sizeof(v));
    api_reply(a, 200, cont && strcmp(cont, "c1") == 0 ? page2 : page1);
}

/* The Lease body as the server stores it (its own allocations: a failure is a
 * 500). Returns the status to answer. */
static int store_lease(world *w, const api_request *req, bool create)
{
    json_error_t jerr;
    json_t *obj = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!obj)
        return json_error_code(&jerr) == json_error_out_of_memory ? 500 : 400;
    json_t *md = json_object_get(obj, "metadata");
    json_t *spec = json_object_get(obj, "spec");
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    int st = 200;
    char rvbuf[24];
    if (!json_is_object(md) || !holder) {
        st = 400;
    } else if (create ? w->lease[0] != '\0'
                      : (!w->lease[0] || !rv || strtol(rv, NULL, 10) != w->lease_rv)) {
        st = 409;
    } else {
        snprintf(rvbuf, sizeof(rvbuf), "%ld", w->lease_rv + 1);
        char *dump = NULL;
        if (json_object_set_new(md, "resourceVersion", json_string(rvbuf)) ||
            eip_json_dump(obj, JSON_COMPACT, sizeof(w->lease), &dump, NULL)) {
            st = 500;
        } else if (strlen(dump) >= sizeof(w->lease)) {
            st = 400;
        } else {
            bool renewal = !create && *holder && strstr(w->lease, "\"holderIdentity\":\"n1\"");
            snprintf(w->lease, sizeof(w->lease), "%s", dump); /* it fits: dumped with that max */
            w->lease_rv++;
            if (renewal)
                w->renewals++;
            if (!*holder)
                w->released = true;
            st = create ? 201 : 200;
        }
        free(dump);
    }
    json_decref(obj);
    return st;
}

static void h_lease(world *w, const api_request *req, api_answer *a, bool collection)
{
    if (!collection && strcmp(req->method, "GET") == 0) {
        api_reply(a, w->lease[0] ? 200 : 404, w->lease[0] ? w->lease : not_found);
        return;
    }
    bool create = collection && strcmp(req->method, "POST") == 0;
    if (!create && (collection || strcmp(req->method, "PUT") != 0)) {
        api_reply(a, 405, bad_body);
        return;
    }
    int st = store_lease(w, req, create);
    if (st == 200 || st == 201) {
        snprintf(w->answer, sizeof(w->answer), "%s", w->lease);
        api_reply(a, st, w->answer);
    } else {
        api_reply(a, st,
                  st == 500   ? no_memory
                  : st == 409 ? (create ? exists : conflict)
                              : bad_body);
    }
}

static void handler(apiserver *s, const api_request *req, api_answer *a, void *arg)
{
    (void)s;
    world *w = arg;
    if (strcmp(req->path, "/api/v1/pods") == 0 && strcmp(req->method, "GET") == 0)
        h_pods(w, req, a);
    else if (strcmp(req->path, LEASE) == 0)
        h_lease(w, req, a, false);
    else if (strcmp(req->path, LEASES) == 0)
        h_lease(w, req, a, true);
    else if (strcmp(req->path, POD_STATUS) == 0 && strcmp(req->method, "PATCH") == 0)
        api_reply(a, 200, pod_a);
    else
        api_reply(a, 404, not_found);
}

/* ---- what the server received ---- */

static void check_lease_body(const json_t *b, bool create, const char *what)
{
    const json_t *md = json_object_get(b, "metadata"), *spec = json_object_get(b, "spec");
    if (create) {
        api_want_str(b, "apiVersion", "coordination.k8s.io/v1", what);
        api_want_str(b, "kind", "Lease", what);
    } else {
        api_want_str(md, "resourceVersion", NULL, what);
    }
    api_want_str(md, "name", "eip-agent", what);
    api_want_str(md, "namespace", "kube-system", what);
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (!holder || (strcmp(holder, "n1") != 0 && (create || *holder)))
        fail_msg("%s: holderIdentity %s", what, holder ? holder : "(absent)");
    if (!json_is_integer(json_object_get(spec, "leaseDurationSeconds")) ||
        !json_is_integer(json_object_get(spec, "leaseTransitions")))
        fail_msg("%s: leaseDurationSeconds or leaseTransitions missing", what);
    api_want_str(spec, "renewTime", NULL, what);
    api_want_str(spec, "acquireTime", NULL, what);
}

static void check_patch_body(const json_t *b, const char *what)
{
    api_want_str(json_object_get(b, "metadata"), "uid", "uid-a", what);
    const json_t *conds = json_object_get(json_object_get(b, "status"), "conditions");
    if (json_array_size(conds) != 1)
        fail_msg("%s: %zu conditions", what, json_array_size(conds));
    const json_t *c = json_array_get(conds, 0);
    api_want_str(c, "type", "EIPBound", what);
    api_want_str(c, "status", "True", what);
    api_want_str(c, "reason", "Bound", what);
    api_want_str(c, "message", "eip-1 203.0.113.5", what);
}

/* Each body the server received, by where it went. */
static void check_body(const api_record *r, const json_t *b, const char *what, void *arg)
{
    (void)arg;
    if (strcmp(r->path, LEASES) == 0) {
        assert_string_equal(r->content_type, "application/json");
        check_lease_body(b, true, what);
    } else if (strcmp(r->path, LEASE) == 0) {
        assert_string_equal(r->content_type, "application/json");
        check_lease_body(b, false, what);
    } else if (strcmp(r->path, POD_STATUS) == 0) {
        assert_string_equal(r->content_type, "application/strategic-merge-patch+json");
        check_patch_body(b, what);
    } else {
        fail_msg("%s: unexpected", what);
    }
}

/* What the runs went through, for the summary. */
static struct {
    unsigned long runs, patch_ok, patch_failed, patch_refused, dropped, server_errors,
        reflector_failures, leader_errors, releases;
} sum;

static void tally(const apiserver *s, const world *w)
{
    const api_record *r;
    size_t n = apiserver_records(s, &r);
    for (size_t i = 0; i < n; i++) {
        sum.dropped += r[i].status == -1;
        sum.server_errors += r[i].status == 500;
    }
    k8s_reflector_stats st;
    k8s_reflector_get_stats(w->refl, &st);
    sum.runs++;
    sum.reflector_failures += st.failures;
    sum.leader_errors += (unsigned long)w->leader_errors;
    sum.releases += w->released;
    if (!w->patch_started)
        sum.patch_refused++;
    else if (w->patch_result == K8S_OK)
        sum.patch_ok++;
    else
        sum.patch_failed++;
}

/* ---- the client ---- */

static void on_event(k8s_reflector *r, k8s_event_type t, json_t *obj, json_t *old, void *arg)
{
    (void)r;
    (void)t;
    (void)old;
    (void)arg;
    assert_true(json_is_object(obj));
}

static void on_patched(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    world *w = arg;
    w->patch_callbacks++;
    w->patch_result = resp->result;
    if (resp->result == K8S_OK)
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(resp->json, "metadata"), "resourceVersion")),
                            "13");
}

static void on_leader_error(k8s_leader *l, const char *what, k8s_result res, const char *detail,
                            void *arg)
{
    (void)l;
    (void)what;
    (void)res;
    (void)detail;
    world *w = arg;
    w->leader_errors++;
}

static void on_stopped(k8s_leader *l, void *arg)
{
    (void)l;
    world *w = arg;
    w->stopped++;
}

/* Once the Lease was renewed, the elector stops (and releases it). */
static void drive(uv_timer_t *t)
{
    world *w = t->data;
    if (w->renewals > 0 && !w->stop_called) {
        w->stop_called = true;
        k8s_leader_stop(w->leader, on_stopped, w);
    }
}

static bool finished(void *arg)
{
    world *w = arg;
    return w->rewatched && w->stopped && (!w->patch_started || w->patch_callbacks);
}

static int start_patch(k8s_client *kc, world *w)
{
    json_t *body = json_pack("{s:{s:s},s:{s:[{s:s,s:s,s:s,s:s}]}}", "metadata", "uid", "uid-a",
                             "status", "conditions", "type", "EIPBound", "status", "True", "reason",
                             "Bound", "message", "eip-1 203.0.113.5");
    int r = body ? k8s_patch(kc, POD_STATUS, K8S_PATCH_STRATEGIC_MERGE, body, on_patched, w, NULL)
                 : -ENOMEM;
    json_decref(body);
    w->patch_started = r == 0;
    return r;
}

/* The reflector's store after the run: both objects, a at the watch's version. */
static void check_store(const world *w)
{
    if (k8s_reflector_size(w->refl) != 2)
        fail_msg("the store holds %zu objects, want 2", k8s_reflector_size(w->refl));
    json_t *a = k8s_reflector_get(w->refl, "ns", "a");
    const char *rv =
        json_string_value(json_object_get(json_object_get(a, "metadata"), "resourceVersion"));
    if (!rv || strcmp(rv, "11") != 0)
        fail_msg("the store has a at version %s, want 11 (the watch's)", rv ? rv : "(none)");
    assert_null(json_object_get(json_object_get(a, "metadata"), "managedFields"));
    assert_string_equal(k8s_reflector_resource_version(w->refl), "12");
}

static int run_k8s(void *arg)
{
    (void)arg;
    uv_loop_t loop;
    world w;
    apiserver *srv = NULL;
    http_client *http = NULL;
    k8s_client *kc = NULL;
    k8s_config cfg;
    uv_timer_t driver;

    alloc_fail_pause();
    memset(&w, 0, sizeof(w));
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(apiserver_new(&srv, &loop, handler, &w), 0);
    cfg.server = (char *)(uintptr_t)apiserver_url(srv);
    char token[] = "walk-token";
    cfg.token = token;
    http_client_opts ho = {.loop = &loop};
    assert_int_equal(http_client_new(&http, &ho, NULL, 0), 0);
    k8s_client_opts ko = {.loop = &loop, .http = http, .config = &cfg, .qps = -1};
    assert_int_equal(k8s_client_new(&kc, &ko, NULL, 0), 0);
    k8s_reflector_opts ro = {.client = kc,
                             .path = "/api/v1/pods",
                             .field_selector = "spec.nodeName=n1",
                             .page_size = 1,
                             .backoff_initial_ms = 1,
                             .backoff_max_ms = 5,
                             .list_timeout_ms = 3000,
                             .on_event = on_event};
    assert_int_equal(k8s_reflector_new(&w.refl, &ro, NULL, 0), 0);
    k8s_leader_opts lo = {.client = kc,
                          .namespace = "kube-system",
                          .name = "eip-agent",
                          .identity = "n1",
                          .lease_duration_ms = 3000,
                          .renew_deadline_ms = 2000,
                          .retry_period_ms = 5,
                          .on_error = on_leader_error,
                          .arg = &w};
    assert_int_equal(k8s_leader_new(&w.leader, &lo, NULL, 0), 0);
    assert_int_equal(uv_timer_init(&loop, &driver), 0);
    driver.data = &w;
    assert_int_equal(uv_timer_start(&driver, drive, 2, 2), 0);
    alloc_fail_resume();

    int r = k8s_reflector_start(w.refl);
    assert_int_equal(r, 0); /* a failure to send is retried by itself */
    assert_int_equal(k8s_leader_start(w.leader), 0);
    int pr = start_patch(kc, &w);
    if (pr && pr != -ENOMEM)
        fail_msg("k8s_patch: %d, want -ENOMEM", pr);
    bool ended = alloc_loop_run_until(&loop, finished, &w, DEADLINE_MS);

    alloc_fail_pause();
    if (!ended)
        fail_msg("not finished after %lu allocations: rewatched %d, renewals %d, stopped %d, "
                 "patch %d/%d, reflector %s with %zu objects",
                 alloc_fail_count(), w.rewatched, w.renewals, w.stopped, w.patch_started,
                 w.patch_callbacks, k8s_reflector_state_name(k8s_reflector_get_state(w.refl)),
                 k8s_reflector_size(w.refl));
    check_store(&w);
    if (w.patch_started && w.patch_callbacks != 1)
        fail_msg("the patch called back %d times", w.patch_callbacks);
    api_check_bodies(srv, check_body, NULL);
    tally(srv, &w);
    r = !w.patch_started ? -ENOMEM : w.patch_result == K8S_OK ? 0 : -ENOMEM;
    uv_close((uv_handle_t *)&driver, NULL);
    k8s_leader_free(w.leader);
    k8s_reflector_free(w.refl);
    k8s_client_free(kc);
    http_client_free(http);
    apiserver_free(srv);
    assert_int_equal(alloc_loop_drain(&loop), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    alloc_fail_resume();
    return r;
}

static void walk(void **state)
{
    (void)state;
    alloc_fail_install();
    unsigned long n = alloc_fail_walk("reflector list+watch, lease, patch", run_k8s, NULL, 50000);
    assert_true(n > 100);
    print_message("  %lu runs: the patch answered %lu, failed %lu, refused %lu; the server dropped "
                  "%lu connections and answered 500 %lu times; %lu reflector failures retried, "
                  "%lu elector errors, %lu Lease releases\n",
                  sum.runs, sum.patch_ok, sum.patch_failed, sum.patch_refused, sum.dropped,
                  sum.server_errors, sum.reflector_failures, sum.leader_errors, sum.releases);
    assert_true(sum.patch_failed > 0 && sum.patch_refused > 0 && sum.dropped > 0 &&
                sum.server_errors > 0 && sum.reflector_failures > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
