/* SPDX-License-Identifier: MIT */
#include "agent/agent_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "common/timer.h"

static const char *const state_names[] = {"starting", "running", "draining", "stopped"};

static void agent_set_state(struct agent *a, enum agent_state s)
{
    if (a->state == s)
        return;
    log_debug("agent: %s -> %s", state_names[a->state], state_names[s]);
    a->state = s;
}

static void on_observe(const char *route, const char *method, int status, void *arg)
{
    (void)method;
    struct agent *a = arg;
    char code[16];
    eip_seterr(code, sizeof(code), "%d", status); /* an int: always fits */
    const char *labels[] = {route && *route ? route : "other", code};
    metrics_inc(a->m_http_requests, labels);
}

static void on_readiness(readiness *r, void *arg)
{
    struct agent *a = arg;
    if (a->state != AGENT_RUNNING)
        return;
    char summary[200], status[300];
    readiness_summary(r, summary, sizeof(summary));
    eip_seterr(status, sizeof(status), "listening on %s; %s", a->listen_addr, summary);
    agent_notify_status(a->notify, status);
}

/* ---- shutdown ---- */

static void agent_maybe_free(struct agent *a)
{
    if (!a->free_requested || a->open_handles)
        return;
    cluster_free(a->cluster);
    controller_free(a->ctl);
    metrics_free(a->metrics);
    readiness_free(a->ready);
    free(a);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct agent *a = h->data;
    a->open_handles--;
    agent_maybe_free(a);
}

static void close_if_open(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

int agent_add_stop_hook(struct agent *a, void (*cb)(struct agent *a, void *arg), void *arg)
{
    if (a->n_stop_hooks == sizeof(a->stop_hooks) / sizeof(a->stop_hooks[0]))
        return -ENOSPC;
    a->stop_hooks[a->n_stop_hooks].cb = cb;
    a->stop_hooks[a->n_stop_hooks].arg = arg;
    a->n_stop_hooks++;
    return 0;
}

/* Stops the product before the HTTP client goes: pods' steps, the watch, the
 * cloud and Kubernetes clients, in that order (each uses the next). */
static void on_lease_released(void *arg)
{
    struct agent *a = arg;
    if (!a->lease_pending)
        return;
    a->lease_pending = false;
    log_debug("lease released");
    agent_kube_free(a->kube);
    a->kube = NULL;
    http_client_free(a->http);
    a->http = NULL;
}

static void stop_product(struct agent *a)
{
    if (a->link_timer.loop)
        uv_timer_stop(&a->link_timer);
    controller_stop(a->ctl);
    if (a->cluster && a->kube && !a->lease_pending) {
        /* a leader hands the Lease back so the next one takes over at once; that
         * needs the Kubernetes client (and the HTTP client) a little longer */
        a->lease_pending = true;
        cluster_stop(a->cluster, on_lease_released, a);
    }
    if (a->creds_waiter.owner)
        aliyun_creds_waiter_cancel(&a->creds_waiter);
    agent_cloud_free(a->cloud);
    a->cloud = NULL;
    if (!a->lease_pending) {
        agent_kube_free(a->kube);
        a->kube = NULL;
    }
    a->kube_link = a->cloud_link = a->creds_link = LINK_IDLE;
}

/* No more waiting for the Lease: cancel it and let the clients go. */
static void abandon_lease(struct agent *a)
{
    if (!a->lease_pending)
        return;
    a->lease_pending = false;
    cluster_free(a->cluster);
    a->cluster = NULL;
    agent_kube_free(a->kube);
    a->kube = NULL;
}

static void run_stop_hooks(struct agent *a)
{
    while (a->n_stop_hooks > 0) {
        a->n_stop_hooks--;
        a->stop_hooks[a->n_stop_hooks].cb(a, a->stop_hooks[a->n_stop_hooks].arg);
    }
    stop_product(a);
}

/* Closes every handle the agent owns; the loop ends when the last is gone. */
static void close_all(struct agent *a)
{
    if (a->state == AGENT_STOPPED)
        return;
    agent_set_state(a, AGENT_STOPPED);
    run_stop_hooks(a);
    /* The signal handlers stay installed (but no longer keep the loop alive)
     * until agent_free, so a late SIGTERM cannot kill the exiting process. */
    uv_unref((uv_handle_t *)&a->sig_term);
    uv_unref((uv_handle_t *)&a->sig_int);
    uv_unref((uv_handle_t *)&a->sig_hup);
    close_if_open((uv_handle_t *)&a->drain_timer);
    close_if_open((uv_handle_t *)&a->link_timer);
    abandon_lease(a);
    http_server_free(a->server);
    a->server = NULL;
    http_client_free(a->http);
    a->http = NULL;
    agent_notify_free(a->notify);
    a->notify = NULL;
}

static void on_drained(void *arg)
{
    struct agent *a = arg;
    a->drained = true;
    if (a->in_server_shutdown)
        return; /* finished inside http_server_shutdown(); agent_stop closes */
    log_info("drained: every connection closed");
    close_all(a);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct agent *a = t->data;
    log_warn("drain did not finish within %d ms; closing the remaining connections",
             a->cfg->shutdown_timeout_ms);
    close_all(a);
}

void agent_stop(struct agent *a)
{
    if (a->state == AGENT_STOPPED)
        return;
    if (a->state == AGENT_DRAINING) {
        log_warn("second stop request: closing without waiting for the drain");
        close_all(a);
        return;
    }
    bool was_running = a->state == AGENT_RUNNING;
    agent_set_state(a, AGENT_DRAINING);
    if (a->notify)
        agent_notify_stopping(a->notify, "draining");
    run_stop_hooks(a);
    /* In-flight outgoing requests are cancelled; their callbacks see HTTP_E_CANCELLED
     * (the Lease release, when there is one, frees the client when it is done). */
    if (!a->lease_pending) {
        http_client_free(a->http);
        a->http = NULL;
    }
    if (!was_running || !a->server) {
        close_all(a);
        return;
    }
    log_info("stopping: draining connections (at most %d ms)", a->cfg->shutdown_timeout_ms);
    /* refused: the drain goes on without its cap */
    eip_timer_start(&a->drain_timer, on_drain_timeout, (uint64_t)a->cfg->shutdown_timeout_ms,
                    "drain");
    a->in_server_shutdown = true;
    http_server_shutdown(a->server, on_drained, a);
    a->in_server_shutdown = false;
    if (a->drained) {
        log_info("drained: no connection was open");
        close_all(a);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct agent *a = h->data;
    const char *name = sigabbrev_np(signum);
    log_info("received SIG%s", name ? name : "?");
    agent_stop(a);
}

/* SIGHUP: the file (and env, flags, by precedence) are read again; only the log
 * settings are applied, the rest needs a restart. */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    struct agent *a = h->data;
    struct agent_config fresh;
    char err[512] = "";
    int r = agent_config_load(&fresh, a->cli, false, err, sizeof(err));
    if (r) {
        log_error("SIGHUP: configuration not reloaded: %s", err);
        agent_config_free(&fresh);
        return;
    }
    enum eip_log_level old_level = a->cfg->log_level;
    enum eip_log_format old_format = a->cfg->log_format;
    if (fresh.log_level != old_level) {
        a->cfg->log_level = fresh.log_level;
        eip_log_set_level(fresh.log_level);
        log_warn("SIGHUP: log level changed from %s to %s", eip_log_level_name(old_level),
                 eip_log_level_name(fresh.log_level));
    }
    if (fresh.log_format != old_format) {
        a->cfg->log_format = fresh.log_format;
        eip_log_set_format(fresh.log_format);
        log_warn("SIGHUP: log format changed from %s to %s",
                 old_format == EIP_LOG_JSON ? "json" : "text",
                 fresh.log_format == EIP_LOG_JSON ? "json" : "text");
    }
    if (fresh.log_level == old_level && fresh.log_format == old_format)
        log_info("SIGHUP: configuration reloaded; log level %s and format %s unchanged",
                 eip_log_level_name(old_level), old_format == EIP_LOG_JSON ? "json" : "text");
    agent_config_free(&fresh);
}

/* ---- construction ---- */

static int register_metrics(struct agent *a)
{
    static const char *const http_labels[] = {"path", "code", NULL};
    static const char *const build_labels[] = {"version", NULL};
    int r = metrics_register_process(a->metrics);
    if (r)
        return r;
    metric_family *build = metrics_register(a->metrics, METRIC_GAUGE, "eip_agent_build_info",
                                            "eip-agent build information; always 1.", build_labels);
    a->m_http_requests = metrics_register(
        a->metrics, METRIC_COUNTER, "eip_agent_http_requests_total",
        "HTTP requests answered by the local API, by route pattern and status.", http_labels);
    static const char *const k8s_labels[] = {"verb", "code", NULL};
    static const char *const cloud_labels[] = {"action", "code", NULL};
    static const char *const action_label[] = {"action", NULL};
    static const double cloud_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    a->m_k8s_requests = metrics_register(
        a->metrics, METRIC_COUNTER, "eip_agent_k8s_requests_total",
        "Kubernetes API calls finished, by verb and HTTP status (or the transport error).",
        k8s_labels);
    a->m_cloud_requests = metrics_register(
        a->metrics, METRIC_COUNTER, "eip_agent_cloud_requests_total",
        "Alibaba Cloud OpenAPI requests (every attempt), by action and error code (OK).",
        cloud_labels);
    a->m_cloud_seconds = metrics_register_histogram(
        a->metrics, "eip_agent_cloud_request_duration_seconds",
        "Alibaba Cloud OpenAPI request time (every attempt), by action.", action_label,
        cloud_bounds, sizeof(cloud_bounds) / sizeof(cloud_bounds[0]));
    if (!build || !a->m_http_requests || !a->m_k8s_requests || !a->m_cloud_requests ||
        !a->m_cloud_seconds)
        return -ENOMEM;
    const char *v[] = {EIP_AGENT_VERSION};
    return metrics_set(build, v, 1);
}

/* The agent's own handles; they close in close_all and agent_free. */
static int init_handles(struct agent *a)
{
    uv_signal_t *sigs[] = {&a->sig_term, &a->sig_int, &a->sig_hup};
    uv_timer_t *timers[] = {&a->drain_timer, &a->link_timer};
    int r = 0;
    /* open_handles counts what was initialised: each closes once */
    for (size_t i = 0; !r && i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (!(r = uv_signal_init(a->loop, sigs[i]))) {
            sigs[i]->data = a;
            a->open_handles++;
        }
    }
    for (size_t i = 0; !r && i < sizeof(timers) / sizeof(timers[0]); i++) {
        if (!(r = uv_timer_init(a->loop, timers[i]))) {
            timers[i]->data = a;
            a->open_handles++;
        }
    }
    return r;
}

/* Metrics, readiness conditions, sd_notify. */
static int build_observers(struct agent *a)
{
    int r = metrics_new(&a->metrics);
    if (!r)
        r = readiness_new(&a->ready);
    if (!r)
        r = agent_notify_new(&a->notify, a->loop);
    if (!r)
        r = register_metrics(a);
    /* Met by later components: the pod reflector and the credential chain. */
    if (!r)
        r = readiness_add(a->ready, READY_PODS_SYNCED, "pod list not synced yet");
    if (!r)
        r = readiness_add(a->ready, READY_CREDENTIALS_LOADED, "cloud credentials not loaded yet");
    if (!r)
        readiness_set_observer(a->ready, on_readiness, a);
    return r;
}

/* The local HTTP server, its routes, and the product behind them. */
static int build_server(struct agent *a, char *err, size_t errcap)
{
    const struct agent_config *cfg = a->cfg;
    http_server_opts so = {.loop = a->loop,
                           .limits = {
                               .max_header_bytes = (size_t)cfg->http_max_header_bytes,
                               .max_url_bytes = (size_t)cfg->http_max_url_bytes,
                               .max_connections = (size_t)cfg->http_max_connections,
                               .header_timeout_ms = (unsigned)cfg->http_header_timeout_ms,
                               .idle_timeout_ms = (unsigned)cfg->http_idle_timeout_ms,
                           }};
    int r = http_server_new(&a->server, &so, err, errcap);
    if (r)
        return r;
    http_server_set_observer(a->server, on_observe, a);
    if ((r = agent_health_routes(a)) || (r = agent_page_routes(a)))
        goto fail;
    if (!cfg->eip_controller)
        return 0;
    controller_opts co = {.loop = a->loop, .cfg = cfg, .metrics = a->metrics, .ready = a->ready};
    if ((r = controller_new(&a->ctl, &co, err, errcap)))
        return r;
    if ((r = controller_routes(a->ctl, a->server)))
        goto fail;
    cluster_opts go = {.loop = a->loop, .cfg = cfg, .ctl = a->ctl, .metrics = a->metrics};
    if ((r = cluster_new(&a->cluster, &go, err, errcap)))
        return r;
    if ((r = cluster_routes(a->cluster, a->server)))
        goto fail;
    return 0;
fail:
    eip_seterr(err, errcap, "cannot register the routes: %s", strerror(-r));
    return r;
}

int agent_new(struct agent **out, uv_loop_t *loop, struct agent_config *cfg,
              const struct agent_cli *cli, char *err, size_t errcap)
{
    *out = NULL;
    struct agent *a = calloc(1, sizeof(*a));
    if (!a) {
        eip_seterr(err, errcap, "out of memory");
        return -ENOMEM;
    }
    a->loop = loop;
    a->cfg = cfg;
    a->cli = cli;
    a->state = AGENT_STARTING;
    int r = init_handles(a);
    if (!r)
        r = build_observers(a);
    if (r) {
        eip_seterr(err, errcap, "cannot build the agent: %s", strerror(-r));
        goto fail;
    }
    if ((r = build_server(a, err, errcap)))
        goto fail;
    http_client_opts copts = {.loop = loop, .ca_file = cfg->cloud_ca_file};
    if ((r = http_client_new(&a->http, &copts, err, errcap)))
        goto fail;
    if ((r = uv_signal_start(&a->sig_term, on_signal, SIGTERM)) ||
        (r = uv_signal_start(&a->sig_int, on_signal, SIGINT)) ||
        (r = uv_signal_start(&a->sig_hup, on_sighup, SIGHUP))) {
        eip_seterr(err, errcap, "cannot handle signals: %s", uv_strerror(r));
        goto fail;
    }
    if (!cfg->eip_controller)
        log_warn("the eip controller is not in enableControllers: serving the local API only");
    *out = a;
    return 0;
fail:
    agent_set_state(a, AGENT_DRAINING);
    close_all(a);
    agent_free(a);
    return r;
}

/* ---- connecting to the API server and the cloud (retried) ---- */

#define LINK_RETRY_BASE_MS 1000
#define LINK_RETRY_CAP_MS 30000

static void connect_kube(struct agent *a);
static void connect_cloud(struct agent *a);
static void wait_creds(struct agent *a);

static void on_link_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    if (a->kube_link == LINK_WAIT)
        connect_kube(a);
    if (a->cloud_link == LINK_WAIT)
        connect_cloud(a);
    if (a->creds_link == LINK_WAIT)
        wait_creds(a);
}

static void link_retry(struct agent *a, enum agent_link *link, int *failures)
{
    *link = LINK_WAIT;
    (*failures)++;
    int64_t ms = eip_backoff_delay_ms(LINK_RETRY_BASE_MS, LINK_RETRY_CAP_MS, *failures,
                                      EIP_JITTER_UP, 0.2, eip_backoff_rand01());
    uint64_t due = uv_timer_get_due_in(&a->link_timer);
    if (!uv_is_active((uv_handle_t *)&a->link_timer) || due > (uint64_t)ms)
        eip_timer_start(&a->link_timer, on_link_timer, (uint64_t)ms, "reconnect");
}

static void connect_kube(struct agent *a)
{
    char err[512];
    agent_kube_opts ko = {
        .loop = a->loop, .http = a->http, .cfg = a->cfg, .requests = a->m_k8s_requests};
    int r = agent_kube_new(&a->kube, &ko, err, sizeof(err));
    if (!r) {
        r = controller_start(a->ctl, agent_kube_client(a->kube));
        if (r)
            eip_seterr(err, sizeof(err), "cannot watch pods: %s", strerror(-r));
        else if ((r = cluster_start(a->cluster, agent_kube_client(a->kube))))
            eip_seterr(err, sizeof(err), "cannot start the leader election: %s", strerror(-r));
    }
    if (r) {
        log_error("kubernetes: %s (retrying)", err);
        readiness_set(a->ready, READY_PODS_SYNCED, false, err);
        controller_stop_kube(a->ctl);
        cluster_stop_kube(a->cluster);
        agent_kube_free(a->kube);
        a->kube = NULL;
        link_retry(a, &a->kube_link, &a->kube_failures);
        return;
    }
    log_info("kubernetes: %s, watching the pods of %s", agent_kube_source(a->kube),
             a->cfg->node_name);
    a->kube_link = LINK_UP;
    a->kube_failures = 0;
}

static void on_creds(aliyun_creds_waiter *w, int err, void *arg)
{
    (void)w;
    struct agent *a = arg;
    if (err) {
        char d[400];
        aliyun_creds_describe(agent_cloud_creds(a->cloud), d, sizeof(d));
        log_error("cloud credentials: %s (retrying)", d);
        readiness_set(a->ready, READY_CREDENTIALS_LOADED, false, d);
        link_retry(a, &a->creds_link, &a->creds_failures);
        return;
    }
    a->creds_link = LINK_UP;
    a->creds_failures = 0;
    log_info("cloud credentials loaded from %s",
             aliyun_creds_source_name(agent_cloud_creds(a->cloud)));
    readiness_set(a->ready, READY_CREDENTIALS_LOADED, true, NULL);
}

static void wait_creds(struct agent *a)
{
    a->creds_link = LINK_PENDING;
    int r = aliyun_creds_wait(agent_cloud_creds(a->cloud), &a->creds_waiter, on_creds, a);
    if (r) {
        log_error("cloud credentials: cannot wait for them: %s", strerror(-r));
        link_retry(a, &a->creds_link, &a->creds_failures);
    }
}

static void on_cloud(agent_cloud *c, int err, const char *detail, void *arg)
{
    (void)c;
    struct agent *a = arg;
    if (!err) {
        err = controller_set_cloud(a->ctl, agent_cloud_client(a->cloud),
                                   agent_cloud_metadata(a->cloud), agent_cloud_vpc(a->cloud));
        if (err)
            detail = "cannot start the EIP poller";
    }
    if (err) {
        log_error("cloud: %s (retrying)", detail);
        readiness_set(a->ready, READY_CREDENTIALS_LOADED, false, detail);
        controller_stop_cloud(a->ctl);
        agent_cloud_free(a->cloud);
        a->cloud = NULL;
        link_retry(a, &a->cloud_link, &a->cloud_failures);
        return;
    }
    cluster_set_cloud(a->cluster, agent_cloud_client(a->cloud));
    a->cloud_link = LINK_UP;
    a->cloud_failures = 0;
    log_info("cloud: region %s, VPC %s", agent_cloud_region(a->cloud),
             agent_cloud_vpc(a->cloud) ? agent_cloud_vpc(a->cloud) : "(unknown)");
    wait_creds(a);
}

static void connect_cloud(struct agent *a)
{
    char err[512];
    agent_cloud_opts co = {.loop = a->loop,
                           .http = a->http,
                           .cfg = a->cfg,
                           .want_metadata = true,
                           .requests = a->m_cloud_requests,
                           .seconds = a->m_cloud_seconds};
    int r = agent_cloud_new(&a->cloud, &co, err, sizeof(err));
    if (!r) {
        a->cloud_link = LINK_PENDING;
        r = agent_cloud_start(a->cloud, on_cloud, a);
        if (r)
            eip_seterr(err, sizeof(err), "cannot start: %s", strerror(-r));
    }
    if (r) {
        log_error("cloud: %s (retrying)", err);
        readiness_set(a->ready, READY_CREDENTIALS_LOADED, false, err);
        agent_cloud_free(a->cloud);
        a->cloud = NULL;
        link_retry(a, &a->cloud_link, &a->cloud_failures);
    }
}

int agent_start(struct agent *a, char *err, size_t errcap)
{
    int r = http_server_listen(a->server, a->cfg->listen);
    if (r) {
        if (r == -EADDRINUSE)
            eip_seterr(err, errcap, "cannot listen on %s: address already in use", a->cfg->listen);
        else
            eip_seterr(err, errcap, "cannot listen on %s: %s", a->cfg->listen, strerror(-r));
        return r;
    }
    /* The configured host with the bound port (the port may have been 0). */
    size_t host_len = strlen(a->cfg->listen);
    const char *colon = strrchr(a->cfg->listen, ':');
    if (colon)
        host_len = (size_t)(colon - a->cfg->listen);
    int n = snprintf(a->listen_addr, sizeof(a->listen_addr), "%.*s:%d", (int)host_len,
                     a->cfg->listen, http_server_port(a->server));
    if (n < 0 || (size_t)n >= sizeof(a->listen_addr)) {
        eip_seterr(err, errcap, "listen address too long: %s", a->cfg->listen);
        return -E2BIG;
    }
    agent_set_state(a, AGENT_RUNNING);
    char summary[200], status[300];
    readiness_summary(a->ready, summary, sizeof(summary));
    log_info("eip-agent %s listening on http://%s; %s", EIP_AGENT_VERSION, a->listen_addr, summary);
    eip_seterr(status, sizeof(status), "listening on %s; %s", a->listen_addr, summary);
    agent_notify_ready(a->notify, status);
    if (a->ctl) {
        connect_kube(a);
        connect_cloud(a);
    }
    return 0;
}

int agent_exit_code(const struct agent *a)
{
    return a->exit_code;
}

bool agent_is_draining(const struct agent *a)
{
    return a->state == AGENT_DRAINING;
}

int agent_port(const struct agent *a)
{
    return a->server ? http_server_port(a->server) : 0;
}

void agent_free(struct agent *a)
{
    if (!a)
        return;
    if (a->state != AGENT_STOPPED) {
        if (a->state != AGENT_DRAINING)
            agent_set_state(a, AGENT_DRAINING);
        close_all(a);
    }
    close_if_open((uv_handle_t *)&a->sig_term);
    close_if_open((uv_handle_t *)&a->sig_int);
    close_if_open((uv_handle_t *)&a->sig_hup);
    a->free_requested = true;
    agent_maybe_free(a); /* now, or from the last close callback */
}

/* ---- --check-config ---- */

struct check_report {
    FILE *out;
    size_t failed;
    bool done;
};

static void on_checks_done(const struct check_result *res, size_t n, void *arg)
{
    struct check_report *rep = arg;
    rep->done = true;
    if (!res) {
        fprintf(rep->out, "FAIL checks: out of memory\n");
        rep->failed++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(rep->out, "%s %s: %s\n", res[i].ok ? "ok  " : "FAIL", res[i].name, res[i].detail);
        if (!res[i].ok)
            rep->failed++;
    }
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int agent_run_checks(const struct agent_config *cfg, check_registry *reg, FILE *out)
{
    uv_loop_t loop;
    struct check_report rep = {out, 0, false};
    if (uv_loop_init(&loop)) {
        fprintf(out, "FAIL checks: cannot create the event loop\n");
        return 1;
    }
    http_client_opts copts = {.loop = &loop, .ca_file = cfg->cloud_ca_file};
    struct check_env env = {&loop, cfg, NULL};
    char herr[256];
    if (http_client_new(&env.http, &copts, herr, sizeof(herr)))
        log_warn("%s", herr); /* the checks that need it report "no HTTP client" */
    agent_config_dump(cfg, out);
    int r = check_registry_run(reg, &env, on_checks_done, &rep);
    if (r) {
        fprintf(out, "FAIL checks: %s\n", strerror(-r));
        rep.failed++;
    } else {
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    http_client_free(env.http);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) == UV_EBUSY) {
        uv_walk(&loop, close_walk_cb, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop))
            log_warn("checks: event loop closed with handles still open");
    }
    if (!r && !rep.done) {
        fprintf(out, "FAIL checks: the loop ended before every check finished\n");
        rep.failed++;
    }
    fflush(out);
    return rep.failed ? 1 : 0;
}

int agent_check_config(const struct agent_config *cfg, FILE *out)
{
    check_registry *reg;
    if (check_registry_new(&reg) || check_register_all(reg)) {
        check_registry_free(reg);
        fprintf(out, "FAIL checks: cannot register the checks\n");
        return 1;
    }
    int r = agent_run_checks(cfg, reg, out);
    check_registry_free(reg);
    return r;
}
