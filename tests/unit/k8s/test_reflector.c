/* SPDX-License-Identifier: MIT */
/* The reflector's state machine against a scripted API server on loopback:
 * paged first list with resourceVersion "0", watch from the last seen RV,
 * bookmarks, 410 on the watch -> relist from the last RV, 410 on that list ->
 * list with "", mark-and-sweep deletions, a 429 with Retry-After, and the
 * dead-watch timer. Each request must match the script exactly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/timeutil.h"
#include "http/server.h"
#include "k8s/reflector.h"

/* One expected request and the answer to it. */
typedef struct step {
    bool watch;
    const char *rv;   /* expected resourceVersion; NULL: must be absent */
    const char *cont; /* expected continue; NULL: must be absent */
    int status;       /* 0: never answer (a hung server) */
    const char *body;
} step;

typedef struct fx {
    uv_loop_t loop;
    http_server *srv;
    http_client *http;
    k8s_config cfg;
    k8s_client *client;
    k8s_reflector *refl;
    char url[64];
    const step *script;
    size_t nsteps, next;
    int64_t req_ms[32];
    char log[8192]; /* "ADDED ns/a 1;..." */
    int synced;
    int errors;
    http_exchange *hung;
} fx;

static void h_pods(http_exchange *ex, void *arg)
{
    fx *f = arg;
    if (f->next >= f->nsteps) {
        /* past the script: hang so nothing else happens */
        http_exchange_defer(ex, NULL, NULL);
        f->next++;
        return;
    }
    const step *s = &f->script[f->next];
    f->req_ms[f->next < 32 ? f->next : 31] = eip_time_mono_ms();
    const char *watch = http_exchange_query(ex, "watch");
    const char *rv = http_exchange_query(ex, "resourceVersion");
    const char *cont = http_exchange_query(ex, "continue");
    const char *fs = http_exchange_query(ex, "fieldSelector");
    char where[64];
    snprintf(where, sizeof(where), "request %zu", f->next);
    assert_non_null(fs);
    assert_string_equal(fs, "spec.nodeName=node-1");
    assert_int_equal(watch != NULL, s->watch);
    if (s->watch) {
        assert_string_equal(http_exchange_query(ex, "allowWatchBookmarks"), "true");
        assert_non_null(http_exchange_query(ex, "timeoutSeconds"));
    } else if (!s->rv || strcmp(s->rv, "0") == 0) {
        assert_string_equal(http_exchange_query(ex, "limit"), "2");
    } else {
        /* A specific resourceVersion with a limit is a legacy Exact list at that
         * version: it would miss newer objects. client-go sends no limit then. */
        if (http_exchange_query(ex, "limit"))
            fail_msg("%s: limit with resourceVersion=%s", where, s->rv);
    }
    if (s->rv) {
        if (!rv)
            fail_msg("%s: no resourceVersion, want %s", where, s->rv);
        assert_string_equal(rv, s->rv);
    } else if (rv) {
        fail_msg("%s: resourceVersion=%s, want none", where, rv);
    }
    if (s->cont) {
        assert_non_null(cont);
        assert_string_equal(cont, s->cont);
    } else {
        assert_null(cont);
    }
    f->next++;
    if (!s->status) {
        http_exchange_defer(ex, NULL, NULL);
        return;
    }
    http_exchange_reply(ex, s->status, "application/json", s->body, strlen(s->body));
}

static void on_event(k8s_reflector *r, k8s_event_type t, json_t *obj, json_t *old, void *arg)
{
    (void)r;
    fx *f = arg;
    char key[128];
    assert_int_equal(k8s_object_key(obj, key, sizeof(key)), 0);
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    size_t n = strlen(f->log);
    if (t == K8S_EVENT_MODIFIED) {
        assert_non_null(old);
        const char *orv =
            json_string_value(json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
        snprintf(f->log + n, sizeof(f->log) - n, "%s %s %s<-%s;", k8s_event_type_name(t), key, rv,
                 orv);
    } else {
        assert_null(old);
        snprintf(f->log + n, sizeof(f->log) - n, "%s %s %s;", k8s_event_type_name(t), key, rv);
    }
}

static void on_synced(k8s_reflector *r, void *arg)
{
    fx *f = arg;
    f->synced++;
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof(f->log) - n, "SYNCED %zu %s;", k8s_reflector_size(r),
             k8s_reflector_resource_version(r));
}

static void on_error(k8s_reflector *r, const char *what, k8s_result res, const char *detail,
                     void *arg)
{
    (void)r;
    (void)detail;
    fx *f = arg;
    f->errors++;
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof(f->log) - n, "ERROR %s %s;", what, k8s_result_name(res));
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    http_server_opts so = {.loop = &f->loop};
    assert_int_equal(http_server_new(&f->srv, &so, NULL, 0), 0);
    assert_int_equal(http_server_route(f->srv, "/api/v1/pods", h_pods, f), 0);
    assert_int_equal(http_server_listen(f->srv, "127.0.0.1:0"), 0);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", http_server_port(f->srv));
    f->cfg.server = f->url;
    char err[256];
    http_client_opts ho = {.loop = &f->loop};
    assert_int_equal(http_client_new(&f->http, &ho, NULL, 0), 0);
    assert_non_null(f->http);
    k8s_client_opts o = {.loop = &f->loop, .http = f->http, .config = &f->cfg, .qps = -1};
    assert_int_equal(k8s_client_new(&f->client, &o, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    k8s_reflector_free(f->refl);
    k8s_client_free(f->client);
    http_client_free(f->http);
    http_server_free(f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

/* Drives the loop until the script is used up (plus extra requests) or the deadline. */
static void run_script(fx *f, size_t until, int64_t timeout_ms)
{
    int64_t deadline = eip_time_mono_ms() + timeout_ms;
    uv_timer_t tick;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, tick_cb, 10, 10);
    while (f->next < until && eip_time_mono_ms() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    /* let the last answer be processed */
    int64_t settle = eip_time_mono_ms() + 100;
    while (eip_time_mono_ms() < settle)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void start(fx *f, const step *script, size_t n, int timeout_s, long long grace_ms)
{
    f->script = script;
    f->nsteps = n;
    k8s_reflector_opts o = {
        .client = f->client,
        .path = "/api/v1/pods",
        .field_selector = "spec.nodeName=node-1",
        .page_size = 2,
        .watch_timeout_min_s = timeout_s,
        .watch_timeout_max_s = timeout_s,
        .watch_grace_ms = grace_ms,
        .backoff_initial_ms = 20,
        .backoff_max_ms = 100,
        .on_event = on_event,
        .on_synced = on_synced,
        .on_error = on_error,
        .arg = f,
    };
    assert_int_equal(k8s_reflector_new(&f->refl, &o, NULL, 0), 0);
    assert_int_equal(k8s_reflector_get_state(f->refl), K8S_REFLECTOR_IDLE);
    assert_int_equal(k8s_reflector_start(f->refl), 0);
    assert_int_equal(k8s_reflector_start(f->refl), -EALREADY);
}

#define POD(name, rv)                                                                              \
    "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"" name "\",\"uid\":\"u-" name                  \
    "\",\"resourceVersion\":\"" rv "\"}}"
#define EV(type, name, rv) "{\"type\":\"" type "\",\"object\":" POD(name, rv) "}\n"

static void relist_sweeps_and_rv_rules(void **state)
{
    fx *f = *state;
    static const step script[] = {
        /* the first list: "0", paged */
        {false, "0", NULL, 200,
         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\",\"continue\":\"c1\"},"
         "\"items\":[" POD("a", "1") "," POD("b", "2") "]}"},
        {false, NULL, "c1", 200,
         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[" POD(
             "c", "3") "]}"},
        /* a watch that delivers, bookmarks and ends: watched again from the bookmark */
        {true, "5", NULL, 200,
         EV("MODIFIED", "a", "6")
             EV("ADDED", "a", "6") "{\"type\":\"BOOKMARK\",\"object\":{"
                                   "\"metadata\":{\"resourceVersion\":\"8\"}}}\n"},
        {true, "8", NULL, 200,
         "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":"
         "\"Expired\",\"message\":\"too old resource version: 8 (9)\"}}\n"},
        /* relist from the last seen RV; that is expired too: list with "" */
        {false, "8", NULL, 410,
         "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}"},
        /* paged again (b is gone, c changed, d is new) */
        {false, NULL, NULL, 200,
         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"c2\"},"
         "\"items\":[" POD("a", "6") ",{\"metadata\":{\"namespace\":\"ns\",\"name\":\"c\","
                                     "\"uid\":\"u-c\",\"resourceVersion\":\"9\",\"managedFields\":["
                                     "{\"manager\":\"x\"}]}}]}"},
        {false, NULL, "c2", 200,
         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" POD(
             "d", "10") "]}"},
        /* a 429 on the watch: backed off and watched again from the same RV */
        {true, "10", NULL, 429,
         "{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\",\"message\":\"slow\"}"},
        {true, "10", NULL, 0, ""},
    };
    start(f, script, sizeof(script) / sizeof(script[0]), 300, 0);
    run_script(f, sizeof(script) / sizeof(script[0]), 10000);
    assert_int_equal(f->next, sizeof(script) / sizeof(script[0]));
    assert_string_equal(f->log, "ADDED ns/a 1;ADDED ns/b 2;ADDED ns/c 3;SYNCED 3 5;"
                                "MODIFIED ns/a 6<-1;" /* the replayed ADDED at rv 6: nothing */
                                "ERROR watch gone;ERROR list gone;"
                                "DELETED ns/b 2;MODIFIED ns/c 9<-3;ADDED ns/d 10;SYNCED 3 10;"
                                "ERROR watch too-many-requests;");
    assert_int_equal(f->synced, 2);
    assert_int_equal(k8s_reflector_get_state(f->refl), K8S_REFLECTOR_WATCHING);
    assert_null(k8s_reflector_get(f->refl, "ns", "b"));
    json_t *c = k8s_reflector_get(f->refl, "ns", "c");
    assert_non_null(c);
    assert_null(json_object_get(json_object_get(c, "metadata"), "managedFields"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "metadata"), "resourceVersion")), "9");
    k8s_reflector_stats st;
    k8s_reflector_get_stats(f->refl, &st);
    assert_int_equal(st.relists, 1);
    assert_int_equal(st.bookmarks, 1);
    assert_int_equal(st.watches, 4);
    assert_int_equal(st.lists, 5);
    /* stop: nothing in flight, no more callbacks */
    k8s_reflector_stop(f->refl);
    assert_int_equal(k8s_reflector_get_state(f->refl), K8S_REFLECTOR_STOPPED);
}

static void dead_watch_restarted(void **state)
{
    fx *f = *state;
    static const step script[] = {
        {false, "0", NULL, 200,
         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[]}"},
        {true, "7", NULL, 0, ""}, /* never answers: half-open */
        {true, "7", NULL, 0, ""},
    };
    int64_t t0 = eip_time_mono_ms();
    start(f, script, 3, 1, 300);
    run_script(f, 2, 5000);
    assert_int_equal(f->next, 2);
    run_script(f, 3, 5000);
    assert_int_equal(f->next, 3);
    /* timeoutSeconds 1 + grace 0.3 s (+ backoff 20-40 ms) */
    assert_true(f->req_ms[2] - f->req_ms[1] >= 1300);
    assert_true(f->req_ms[2] - t0 < 4000);
    k8s_reflector_stats st;
    k8s_reflector_get_stats(f->refl, &st);
    assert_int_equal(st.dead_watches, 1);
    assert_int_equal(st.lists, 1); /* re-watched, not relisted */
    assert_string_equal(f->log, "SYNCED 0 7;ERROR watch transport;");
}

static void oversized_event_relists(void **state)
{
    fx *f = *state;
    static char big[12000];
    static step script[4];
    int n = snprintf(big, sizeof(big),
                     "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"namespace\":\"ns\","
                     "\"name\":\"big\",\"resourceVersion\":\"8\",\"annotations\":{\"x\":\"");
    memset(big + n, 'x', 9000);
    snprintf(big + n + 9000, sizeof(big) - (size_t)n - 9000, "\"}}}}\n");
    script[0] =
        (step){false, "0", NULL, 200, "{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[]}"};
    script[1] = (step){true, "7", NULL, 200, big};
    script[2] =
        (step){false, "7", NULL, 200,
               "{\"metadata\":{\"resourceVersion\":\"8\"},\"items\":[" POD("big", "8") "]}"};
    script[3] = (step){true, "8", NULL, 0, ""};
    f->script = script;
    k8s_reflector_opts o = {
        .client = f->client,
        .path = "/api/v1/pods",
        .field_selector = "spec.nodeName=node-1",
        .page_size = 2,
        .max_event_bytes = 4096,
        .backoff_initial_ms = 20,
        .on_event = on_event,
        .on_synced = on_synced,
        .on_error = on_error,
        .arg = f,
    };
    f->nsteps = 4;
    assert_int_equal(k8s_reflector_new(&f->refl, &o, NULL, 0), 0);
    assert_int_equal(k8s_reflector_start(f->refl), 0);
    run_script(f, 4, 5000);
    assert_int_equal(f->next, 4);
    assert_string_equal(f->log, "SYNCED 0 7;ERROR watch too-large;ADDED ns/big 8;SYNCED 1 8;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(relist_sweeps_and_rv_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(dead_watch_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_event_relists, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
