/* SPDX-License-Identifier: MIT */
/* k8s_reflect: a CLI over k8s/ for tests/e2e/k8s.
 *
 * k8s_reflect [--kubeconfig F] [--context C] [--incluster DIR] [--qps Q] [--burst B]
 *             [--verbose] COMMAND ...
 *
 *   watch --node N [--resource PATH] [--label-selector S] [--page-size N]
 *         [--watch-timeout MIN[:MAX]] [--grace-ms N] [--list-timeout-ms N]
 *         [--backoff-initial-ms N] [--backoff-max-ms N] [--max-event-bytes N]
 *         [--duration-ms N]
 *       one JSON line per ADDED/MODIFIED/DELETED/SYNCED and per failure (ERROR);
 *       on SIGTERM/SIGINT or after --duration-ms a STATS line, exit 0.
 *   check NODE                       --check-config probe; exit 0 ok, 1 failed
 *   request METHOD PATH [JSON]       one request; prints RESULT
 *   patch PATH merge|strategic|json JSON
 *   patch-status NS NAME STATUS REASON MESSAGE
 *       strategic-merge patch of pods/status with the k8s.aliyun.com/eip condition
 *   event NS NAME TYPE REASON MESSAGE [--repeat N] [--uid U]
 *       records the event N times, waits for the writes, prints STATS
 *   lease NS NAME IDENTITY [--duration-ms N] [--renew-deadline-ms N] [--retry-ms N]
 *         [--no-release] [--hold-ms N]
 *       campaigns; LEADING / STOPPED_LEADING / NEW_LEADER lines; on SIGTERM (or after
 *       --hold-ms of leading) stops (releasing unless --no-release), prints RELEASED.
 *
 * Every line on stdout is one JSON object with a "type" and is flushed. Exit 2 on
 * usage errors, 3 when the configuration cannot be loaded. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "k8s/k8s.h"

typedef struct app {
    uv_loop_t *loop;
    k8s_config *cfg;
    http_client *http;
    k8s_client *client;
    k8s_reflector *refl;
    k8s_recorder *rec;
    k8s_leader *leader;
    uv_signal_t sigterm, sigint;
    uv_timer_t timer, poll;
    int exit_code;
    bool stopping;
    long long hold_ms;
    bool released;
} app;

static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(s);
    }
    json_decref(o);
}

_Noreturn static void usage(void)
{
    fprintf(stderr, "usage: k8s_reflect [--kubeconfig F] [--context C] [--incluster DIR] "
                    "[--qps Q] [--burst B] [--verbose] "
                    "watch|check|request|patch|patch-status|event|lease ...\n");
    exit(2);
}

static long long num(const char *s)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s)
        usage();
    return v;
}

static void close_all(app *a);

static void stop_loop_soon(app *a)
{
    a->stopping = true;
    close_all(a);
}

/* ---- watch ---- */

static void on_event(k8s_reflector *r, k8s_event_type type, json_t *obj, json_t *old, void *arg)
{
    (void)r;
    (void)arg;
    json_t *md = json_object_get(obj, "metadata");
    json_t *o =
        json_pack("{s:s, s:O?, s:O?, s:O?, s:O?}", "type", k8s_event_type_name(type), "namespace",
                  json_object_get(md, "namespace"), "name", json_object_get(md, "name"), "rv",
                  json_object_get(md, "resourceVersion"), "uid", json_object_get(md, "uid"));
    json_t *phase = json_object_get(json_object_get(obj, "status"), "phase");
    if (o && phase)
        json_object_set(o, "phase", phase);
    if (o && old)
        json_object_set(o, "old_rv",
                        json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
    emit(o);
}

static void on_synced(k8s_reflector *r, void *arg)
{
    (void)arg;
    emit(json_pack("{s:s, s:I, s:s}", "type", "SYNCED", "count", (json_int_t)k8s_reflector_size(r),
                   "rv", k8s_reflector_resource_version(r)));
}

static void on_refl_error(k8s_reflector *r, const char *what, k8s_result res, const char *detail,
                          void *arg)
{
    (void)r;
    (void)arg;
    emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "ERROR", "what", what, "result",
                   k8s_result_name(res), "detail", detail));
}

static void emit_stats(app *a)
{
    if (!a->refl)
        return;
    k8s_reflector_stats st;
    k8s_reflector_get_stats(a->refl, &st);
    emit(json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "type", "STATS", "lists",
        (json_int_t)st.lists, "relists", (json_int_t)st.relists, "watches", (json_int_t)st.watches,
        "events", (json_int_t)st.events, "bookmarks", (json_int_t)st.bookmarks, "dead_watches",
        (json_int_t)st.dead_watches, "failures", (json_int_t)st.failures, "size",
        (json_int_t)k8s_reflector_size(a->refl), "rv", k8s_reflector_resource_version(a->refl)));
}

static void duration_cb(uv_timer_t *t)
{
    app *a = t->data;
    emit_stats(a);
    stop_loop_soon(a);
}

static int cmd_watch(app *a, int argc, char **argv)
{
    k8s_reflector_opts o;
    memset(&o, 0, sizeof(o));
    const char *node = NULL;
    const char *resource = "/api/v1/pods";
    long long duration = 0;
    char fs[512];
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(k, "--node"))
            node = v;
        else if (!strcmp(k, "--resource"))
            resource = v;
        else if (!strcmp(k, "--label-selector"))
            o.label_selector = v;
        else if (!strcmp(k, "--page-size"))
            o.page_size = (unsigned)num(v);
        else if (!strcmp(k, "--watch-timeout")) {
            char buf[64];
            snprintf(buf, sizeof(buf), "%s", v);
            char *colon = strchr(buf, ':');
            if (colon)
                *colon = '\0';
            o.watch_timeout_min_s = (int)num(buf);
            o.watch_timeout_max_s = colon ? (int)num(colon + 1) : o.watch_timeout_min_s;
        } else if (!strcmp(k, "--grace-ms"))
            o.watch_grace_ms = num(v);
        else if (!strcmp(k, "--list-timeout-ms"))
            o.list_timeout_ms = (long)num(v);
        else if (!strcmp(k, "--backoff-initial-ms"))
            o.backoff_initial_ms = num(v);
        else if (!strcmp(k, "--backoff-max-ms"))
            o.backoff_max_ms = num(v);
        else if (!strcmp(k, "--max-event-bytes"))
            o.max_event_bytes = (size_t)num(v);
        else if (!strcmp(k, "--duration-ms"))
            duration = num(v);
        else
            usage();
    }
    if (node) {
        snprintf(fs, sizeof(fs), "spec.nodeName=%s", node);
        o.field_selector = fs;
    }
    o.client = a->client;
    o.path = resource;
    o.on_event = on_event;
    o.on_synced = on_synced;
    o.on_error = on_refl_error;
    o.arg = a;
    char err[256] = "";
    if (k8s_reflector_new(&a->refl, &o, err, sizeof(err)) != 0 ||
        k8s_reflector_start(a->refl) != 0) {
        fprintf(stderr, "k8s_reflect: cannot start the reflector: %s\n", err);
        return 1;
    }
    if (duration > 0)
        uv_timer_start(&a->timer, duration_cb, (uint64_t)duration, 0);
    return 0;
}

/* ---- one-shot requests ---- */

static void print_result(app *a, const k8s_response *resp)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:i, s:s, s:s, s:I}", "type", "RESULT", "result",
                          k8s_result_name(resp->result), "status", (json_int_t)resp->http_status,
                          "code", resp->status.code, "reason", resp->status.reason, "message",
                          resp->status.message, "retry_after_ms", (json_int_t)resp->retry_after_ms);
    if (o && resp->json)
        json_object_set(o, "body", resp->json);
    emit(o);
    a->exit_code = resp->result == K8S_OK ? 0 : 1;
}

static void request_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    app *a = arg;
    print_result(a, resp);
    stop_loop_soon(a);
}

static json_t *parse_json_arg(const char *s)
{
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    if (!j) {
        fprintf(stderr, "k8s_reflect: bad JSON: %s\n", err.text);
        exit(2);
    }
    return j;
}

static int cmd_request(app *a, int argc, char **argv)
{
    if (argc < 2)
        usage();
    json_t *body = argc > 2 ? parse_json_arg(argv[2]) : NULL;
    k8s_request_opts o;
    memset(&o, 0, sizeof(o));
    o.method = argv[0];
    o.path = argv[1];
    o.body = body;
    o.on_done = request_done;
    o.arg = a;
    int r = k8s_request(a->client, &o, NULL);
    json_decref(body);
    return r ? 1 : 0;
}

static int cmd_patch(app *a, int argc, char **argv)
{
    if (argc != 3)
        usage();
    k8s_patch_type t;
    if (!strcmp(argv[1], "merge"))
        t = K8S_PATCH_MERGE;
    else if (!strcmp(argv[1], "strategic"))
        t = K8S_PATCH_STRATEGIC_MERGE;
    else if (!strcmp(argv[1], "json"))
        t = K8S_PATCH_JSON;
    else
        usage();
    json_t *body = parse_json_arg(argv[2]);
    int r = k8s_patch(a->client, argv[0], t, body, request_done, a, NULL);
    json_decref(body);
    return r ? 1 : 0;
}

static int cmd_patch_status(app *a, int argc, char **argv)
{
    if (argc != 5)
        usage();
    char path[1024], now[32];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", argv[0], argv[1]);
    eip_time_format_rfc3339(now, sizeof(now), (time_t)(eip_time_now_ms() / 1000));
    /* conditions merge on "type": only this condition changes */
    json_t *body = json_pack("{s:{s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}}", "status", "conditions",
                             "type", "k8s.aliyun.com/eip", "status", argv[2], "reason", argv[3],
                             "message", argv[4], "lastTransitionTime", now, "lastProbeTime", now);
    int r = k8s_patch(a->client, path, K8S_PATCH_STRATEGIC_MERGE, body, request_done, a, NULL);
    json_decref(body);
    return r ? 1 : 0;
}

static void check_cb(bool ok, const char *detail, void *arg)
{
    app *a = arg;
    emit(json_pack("{s:s, s:b, s:s}", "type", "CHECK", "ok", ok, "detail", detail));
    a->exit_code = ok ? 0 : 1;
    stop_loop_soon(a);
}

static int cmd_check(app *a, int argc, char **argv)
{
    if (argc != 1)
        usage();
    return k8s_check_start(a->client, argv[0], check_cb, a, NULL) ? 1 : 0;
}

/* ---- events ---- */

static void poll_events(uv_timer_t *t)
{
    app *a = t->data;
    if (k8s_recorder_pending(a->rec) > 0)
        return;
    k8s_recorder_stats st;
    k8s_recorder_get_stats(a->rec, &st);
    emit(json_pack("{s:s, s:I, s:I, s:I, s:I}", "type", "STATS", "created", (json_int_t)st.created,
                   "patched", (json_int_t)st.patched, "dropped", (json_int_t)st.dropped, "failed",
                   (json_int_t)st.failed));
    a->exit_code = st.failed ? 1 : 0;
    stop_loop_soon(a);
}

static void event_error(const char *name, k8s_result res, const char *detail, void *arg)
{
    (void)arg;
    emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "ERROR", "event", name, "result",
                   k8s_result_name(res), "detail", detail));
}

static int cmd_event(app *a, int argc, char **argv)
{
    if (argc < 5)
        usage();
    long long repeat = 1;
    const char *uid = NULL;
    for (int i = 5; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--repeat"))
            repeat = num(argv[i + 1]);
        else if (!strcmp(argv[i], "--uid"))
            uid = argv[i + 1];
        else
            usage();
    }
    char host[256] = "test-host";
    gethostname(host, sizeof(host) - 1);
    k8s_recorder_opts o = {.client = a->client, .host = host, .on_error = event_error, .arg = a};
    if (k8s_recorder_new(&a->rec, &o, NULL, 0) != 0)
        return 1;
    k8s_object_ref ref = {
        .kind = "Pod", .api_version = "v1", .namespace = argv[0], .name = argv[1], .uid = uid};
    for (long long i = 0; i < repeat; i++) {
        int r = k8s_recorder_event(a->rec, &ref, argv[2], argv[3], argv[4]);
        emit(json_pack("{s:s, s:i}", "type", "RECORDED", "rc", r));
    }
    uv_timer_start(&a->poll, poll_events, 10, 10);
    return 0;
}

/* ---- lease ---- */

static void hold_cb(uv_timer_t *t);

static void on_leading(k8s_leader *l, void *arg)
{
    app *a = arg;
    emit(json_pack("{s:s, s:I}", "type", "LEADING", "transitions",
                   (json_int_t)k8s_leader_transitions(l)));
    if (a->hold_ms > 0)
        uv_timer_start(&a->timer, hold_cb, (uint64_t)a->hold_ms, 0);
}

static void on_stopped(k8s_leader *l, void *arg)
{
    (void)l;
    (void)arg;
    emit(json_pack("{s:s}", "type", "STOPPED_LEADING"));
}

static void on_new_leader(k8s_leader *l, const char *id, void *arg)
{
    (void)arg;
    emit(json_pack("{s:s, s:s, s:I}", "type", "NEW_LEADER", "identity", id ? id : "", "transitions",
                   (json_int_t)k8s_leader_transitions(l)));
}

static void on_lease_error(k8s_leader *l, const char *what, k8s_result res, const char *detail,
                           void *arg)
{
    (void)l;
    (void)arg;
    emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "ERROR", "what", what, "result",
                   k8s_result_name(res), "detail", detail));
}

static void released(k8s_leader *l, void *arg)
{
    (void)l;
    app *a = arg;
    emit(json_pack("{s:s}", "type", "RELEASED"));
    a->released = true;
    stop_loop_soon(a);
}

static void hold_cb(uv_timer_t *t)
{
    app *a = t->data;
    k8s_leader_stop(a->leader, released, a);
}

static int cmd_lease(app *a, int argc, char **argv)
{
    if (argc < 3)
        usage();
    k8s_leader_opts o;
    memset(&o, 0, sizeof(o));
    o.client = a->client;
    o.namespace = argv[0];
    o.name = argv[1];
    o.identity = argv[2];
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--no-release")) {
            o.keep_on_stop = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        long long v = num(argv[i + 1]);
        if (!strcmp(argv[i], "--duration-ms"))
            o.lease_duration_ms = v;
        else if (!strcmp(argv[i], "--renew-deadline-ms"))
            o.renew_deadline_ms = v;
        else if (!strcmp(argv[i], "--retry-ms"))
            o.retry_period_ms = v;
        else if (!strcmp(argv[i], "--hold-ms"))
            a->hold_ms = v;
        else
            usage();
        i++;
    }
    o.on_started_leading = on_leading;
    o.on_stopped_leading = on_stopped;
    o.on_new_leader = on_new_leader;
    o.on_error = on_lease_error;
    o.arg = a;
    if (k8s_leader_new(&a->leader, &o, NULL, 0) != 0)
        return 1;
    return k8s_leader_start(a->leader) ? 1 : 0;
}

/* ---- plumbing ---- */

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    app *a = s->data;
    if (a->stopping)
        return;
    /* Handlers stay installed until close_all: stopping the last uv_signal of a
     * signal number restores SIG_DFL, and a second SIGTERM while the lease is
     * being released would then kill the process. */
    a->stopping = true;
    if (a->leader && !a->released) {
        k8s_leader_stop(a->leader, released, a);
        return;
    }
    emit_stats(a);
    stop_loop_soon(a);
}

static void close_all(app *a)
{
    k8s_reflector_free(a->refl);
    a->refl = NULL;
    k8s_recorder_free(a->rec);
    a->rec = NULL;
    k8s_leader_free(a->leader);
    a->leader = NULL;
    k8s_client_free(a->client);
    a->client = NULL;
    http_client_free(a->http);
    a->http = NULL;
    if (!uv_is_closing((uv_handle_t *)&a->sigterm)) {
        uv_close((uv_handle_t *)&a->sigterm, NULL);
        uv_close((uv_handle_t *)&a->sigint, NULL);
        /* Closing them restored SIG_DFL; the driver is exiting, so a late
         * SIGTERM (a test's stop() after its own) must not kill it. */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        uv_close((uv_handle_t *)&a->timer, NULL);
        uv_close((uv_handle_t *)&a->poll, NULL);
    }
}

/* The options before the command. Returns the index of the command. */
static int parse_globals(int argc, char **argv, k8s_config_opts *cc, const char **incluster,
                         k8s_client_opts *copts)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--verbose")) {
            eip_log_set_level(EIP_LOG_DEBUG);
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(k, "--kubeconfig"))
            cc->kubeconfig = v;
        else if (!strcmp(k, "--context"))
            cc->context = v;
        else if (!strcmp(k, "--incluster"))
            *incluster = v;
        else if (!strcmp(k, "--qps"))
            copts->qps = strtod(v, NULL);
        else if (!strcmp(k, "--burst"))
            copts->burst = (int)num(v);
        else
            usage();
    }
    if (i >= argc)
        usage();
    return i;
}

/* The configuration, the HTTP client and the k8s client. Like the agent's
 * configuration, the driver reads the environment and hands k8s/ what it
 * found. Returns 0, or 3 after a CONFIG_ERROR line. */
static int connect_api(app *a, k8s_config_opts *cc, const char *incluster, k8s_client_opts *copts)
{
    char err[1024] = "";
    if (!cc->kubeconfig)
        cc->kubeconfig = getenv("KUBECONFIG");
    cc->service_host = getenv("KUBERNETES_SERVICE_HOST");
    cc->service_port = getenv("KUBERNETES_SERVICE_PORT");
    cc->sa_dir = incluster;
    int r = incluster ? k8s_config_incluster(&a->cfg, cc, err, sizeof(err))
                      : k8s_config_load(&a->cfg, cc, err, sizeof(err));
    if (r) {
        emit(json_pack("{s:s, s:s}", "type", "CONFIG_ERROR", "detail", err));
        return 3;
    }
    a->loop = uv_default_loop();
    http_client_opts ho = {.loop = a->loop};
    char herr[256] = "";
    if (http_client_new(&a->http, &ho, herr, sizeof(herr)) != 0)
        fprintf(stderr, "k8s_reflect: cannot create the HTTP client: %s\n", herr);
    copts->loop = a->loop;
    copts->http = a->http;
    copts->config = a->cfg;
    if (!a->http || k8s_client_new(&a->client, copts, err, sizeof(err)) != 0) {
        emit(json_pack("{s:s, s:s}", "type", "CONFIG_ERROR", "detail",
                       a->http ? err : "cannot create the HTTP client"));
        http_client_free(a->http);
        uv_run(a->loop, UV_RUN_DEFAULT);
        k8s_config_free(a->cfg);
        return 3;
    }
    return 0;
}

static const struct command {
    const char *name;
    int (*run)(app *a, int argc, char **argv);
} commands[] = {
    {"watch", cmd_watch},
    {"check", cmd_check},
    {"request", cmd_request},
    {"patch", cmd_patch},
    {"patch-status", cmd_patch_status},
    {"event", cmd_event},
    {"lease", cmd_lease},
};

int main(int argc, char **argv)
{
    app a;
    memset(&a, 0, sizeof(a));
    const char *incluster = NULL;
    k8s_config_opts cc;
    k8s_client_opts copts;
    memset(&cc, 0, sizeof(cc));
    memset(&copts, 0, sizeof(copts));
    int i = parse_globals(argc, argv, &cc, &incluster, &copts);
    const struct command *cmd = NULL;
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (!strcmp(argv[i], commands[k].name))
            cmd = &commands[k];
    if (!cmd)
        usage();
    int r = connect_api(&a, &cc, incluster, &copts);
    if (r)
        return r;
    uv_signal_init(a.loop, &a.sigterm);
    uv_signal_init(a.loop, &a.sigint);
    uv_timer_init(a.loop, &a.timer);
    uv_timer_init(a.loop, &a.poll);
    a.sigterm.data = a.sigint.data = a.timer.data = a.poll.data = &a;
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    r = cmd->run(&a, argc - i - 1, argv + i + 1);
    if (r) {
        a.exit_code = r;
        close_all(&a);
    }
    uv_run(a.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(a.loop);
    k8s_config_free(a.cfg);
    if (rc) {
        fprintf(stderr, "k8s_reflect: handles left open at exit\n");
        return 4;
    }
    return a.exit_code;
}
