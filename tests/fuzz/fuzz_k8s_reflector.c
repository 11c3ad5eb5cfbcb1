/* SPDX-License-Identifier: MIT */
/* The reflector (list, then watch, relist, mark-and-sweep) and the k8s client
 * under it, against an API server on loopback (our http/server) that answers
 * every LIST or WATCH request with the next answer from the input: two bytes
 * of status (100..599), two bytes of body length, the body (a list, a Status,
 * or a whole watch stream that then ends). Byte 0 picks the event size cap and
 * whether managedFields are kept. Once the input is used up the server stops
 * answering, and the run ends. The store is checked against the events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/server.h"
#include "k8s/reflector.h"

typedef struct fx {
    uv_loop_t loop;
    http_server *srv;
    http_client *http;
    k8s_config cfg;
    k8s_client *client;
    k8s_reflector *refl;
    char url[64];
    fuzz_in in;
    int requests;
    bool hung;
    long events;
} fx;

static void h_pods(http_exchange *ex, void *arg)
{
    fx *f = arg;
    f->requests++;
    if (f->in.n < 4 || f->requests > 32) {
        f->hung = true;
        http_exchange_defer(ex, NULL, NULL);
        return;
    }
    int status = 100 + fuzz_u16(&f->in) % 500;
    size_t len = fuzz_u16(&f->in);
    if (len > f->in.n)
        len = f->in.n;
    const char *body = (const char *)f->in.p;
    f->in.p += len;
    f->in.n -= len;
    if (status < 200)
        status = 200; /* 1xx cannot be a final answer */
    http_exchange_reply(ex, status, "application/json", body, len);
}

static void on_event(k8s_reflector *r, k8s_event_type t, json_t *obj, json_t *old, void *arg)
{
    fx *f = arg;
    char key[256];
    if (k8s_object_key(obj, key, sizeof(key)) != 0)
        abort(); /* only keyed objects are stored */
    if ((t == K8S_EVENT_MODIFIED) != (old != NULL))
        abort();
    (void)k8s_event_type_name(t);
    (void)k8s_reflector_size(r);
    f->events++;
}

static void on_error(k8s_reflector *r, const char *what, k8s_result res, const char *detail,
                     void *arg)
{
    (void)r;
    (void)what;
    (void)detail;
    (void)arg;
    (void)k8s_result_name(res);
}

static void check_obj(json_t *obj, void *arg)
{
    fx *f = arg;
    char key[256];
    if (k8s_object_key(obj, key, sizeof(key)) != 0)
        abort();
    const char *slash = strchr(key, '/');
    json_t *again = slash ? NULL : k8s_reflector_get(f->refl, NULL, key);
    if (!slash && again != obj)
        abort();
}

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    fx *f = calloc(1, sizeof(*f));
    if (!f)
        return 0;
    f->in = (fuzz_in){data, size};
    uint8_t mode = fuzz_u8(&f->in);
    if (uv_loop_init(&f->loop) != 0)
        abort();
    http_server_opts so = {.loop = &f->loop};
    if (http_server_new(&f->srv, &so, NULL, 0) != 0 ||
        http_server_route(f->srv, "/api/v1/pods", h_pods, f) != 0 ||
        http_server_listen(f->srv, "127.0.0.1:0") != 0)
        abort();
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", http_server_port(f->srv));
    f->cfg.server = f->url;
    char err[256];
    http_client_opts ho = {.loop = &f->loop};
    if (http_client_new(&f->http, &ho, NULL, 0) != 0)
        f->http = NULL;
    k8s_client_opts co = {.loop = &f->loop, .http = f->http, .config = &f->cfg, .qps = -1};
    if (!f->http || k8s_client_new(&f->client, &co, err, sizeof(err)) != 0)
        abort();
    k8s_reflector_opts o = {
        .client = f->client,
        .path = "/api/v1/pods",
        .field_selector = "spec.nodeName=node-1",
        .page_size = 2,
        .max_event_bytes = (mode & 1) ? 256 : 0,
        .keep_managed_fields = (mode & 2) != 0,
        .watch_timeout_min_s = 5,
        .watch_timeout_max_s = 5,
        .watch_grace_ms = 1000,
        .backoff_initial_ms = 1,
        .backoff_max_ms = 2,
        .on_event = on_event,
        .on_error = on_error,
        .arg = f,
    };
    if (k8s_reflector_new(&f->refl, &o, NULL, 0) != 0 || k8s_reflector_start(f->refl) != 0)
        abort();

    /* a tick keeps the loop turning while backoff timers are pending */
    uv_timer_t tick;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, tick_cb, 5, 5);
    while (!f->hung)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);

    k8s_reflector_foreach(f->refl, check_obj, f);
    (void)k8s_reflector_resource_version(f->refl);
    k8s_reflector_stats st;
    k8s_reflector_get_stats(f->refl, &st);
    k8s_reflector_free(f->refl);
    k8s_client_free(f->client);
    http_client_free(f->http);
    http_server_free(f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&f->loop) != 0)
        abort();
    free(f);
    return 0;
}
