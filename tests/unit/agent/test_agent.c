/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "test_tmp.h"

/* The agent in-process: readiness conditions drive /readyz, the request
 * counter sees the route patterns, stop hooks run, and the loop ends with
 * every handle closed (ASan checks the frees). */

struct t {
    uv_loop_t loop;
    struct agent_config cfg;
    struct agent_cli cli;
    struct agent *a;
    http_client *client;
    int step;
    int hook_calls;
    long status[4];
    char *bodies[4];
};

static void next(struct t *t);

static void on_done(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    struct t *t = arg;
    assert_int_equal(resp->error, HTTP_OK);
    t->status[t->step] = resp->status;
    t->bodies[t->step] = strdup(resp->body);
    t->step++;
    next(t);
}

static void get(struct t *t, const char *path)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", agent_port(t->a), path);
    http_request_opts o = {.url = url, .timeout_ms = 5000, .on_done = on_done, .arg = t};
    assert_int_equal(http_client_send(t->client, &o, NULL), 0);
}

static void on_stop_hook(struct agent *a, void *arg)
{
    struct t *t = arg;
    assert_ptr_equal(a, t->a);
    assert_int_equal(a->state, AGENT_DRAINING);
    t->hook_calls++;
}

static void next(struct t *t)
{
    switch (t->step) {
    case 0:
        get(t, "/readyz");
        break;
    case 1:
        assert_int_equal(readiness_set(t->a->ready, READY_PODS_SYNCED, true, NULL), 0);
        get(t, "/readyz");
        break;
    case 2:
        assert_int_equal(readiness_set(t->a->ready, READY_CREDENTIALS_LOADED, true, NULL), 0);
        get(t, "/readyz");
        break;
    case 3:
        get(t, "/metrics");
        break;
    default:
        http_client_free(t->client);
        t->client = NULL;
        agent_stop(t->a);
        break;
    }
}

static void readiness_drives_readyz(void **state)
{
    (void)state;
    struct t *t = calloc(1, sizeof(*t));
    char err[256] = "";
    assert_int_equal(uv_loop_init(&t->loop), 0);
    agent_config_init(&t->cfg);
    t->cfg.listen = strdup("127.0.0.1:0");
    t->cfg.node_name = strdup("n1");
    t->cfg.cluster_id = strdup("c1");
    assert_int_equal(agent_config_finish(&t->cfg, true, err, sizeof(err)), 0);
    /* the wiring of readiness, metrics and stop hooks only: no API server or cloud */
    t->cfg.eip_controller = false;

    assert_int_equal(agent_new(&t->a, &t->loop, &t->cfg, &t->cli, err, sizeof(err)), 0);
    assert_int_equal(agent_add_stop_hook(t->a, on_stop_hook, t), 0);
    assert_int_equal(agent_start(t->a, err, sizeof(err)), 0);
    assert_true(agent_port(t->a) > 0);
    http_client_opts co = {.loop = &t->loop};
    assert_int_equal(http_client_new(&t->client, &co, NULL, 0), 0);
    next(t);
    uv_run(&t->loop, UV_RUN_DEFAULT);

    assert_int_equal(t->step, 4);
    assert_int_equal(t->status[0], 503);
    assert_non_null(strstr(t->bodies[0], "\"pods-synced: pod list not synced yet\""));
    assert_non_null(strstr(t->bodies[0], "credentials-loaded"));
    assert_int_equal(t->status[1], 503);
    assert_null(strstr(t->bodies[1], "pods-synced"));
    assert_non_null(strstr(t->bodies[1], "credentials-loaded"));
    assert_int_equal(t->status[2], 200);
    assert_string_equal(t->bodies[2], "{\"ready\":true,\"reasons\":[]}");
    assert_int_equal(t->status[3], 200);
    assert_non_null(
        strstr(t->bodies[3], "eip_agent_http_requests_total{path=\"/readyz\",code=\"503\"} 2\n"));
    assert_non_null(
        strstr(t->bodies[3], "eip_agent_http_requests_total{path=\"/readyz\",code=\"200\"} 1\n"));
    assert_int_equal(t->hook_calls, 1);
    assert_int_equal(t->a->state, AGENT_STOPPED);

    agent_stop(t->a); /* after the end: a no-op */
    agent_free(t->a);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    for (int i = 0; i < 4; i++)
        free(t->bodies[i]);
    agent_config_free(&t->cfg);
    free(t);
}

static void address_in_use(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct agent_config cfg;
    struct agent_cli cli;
    memset(&cli, 0, sizeof(cli));
    char err[256] = "";
    assert_int_equal(uv_loop_init(&loop), 0);
    agent_config_init(&cfg);
    cfg.listen = strdup("127.0.0.1:0");
    assert_int_equal(agent_config_finish(&cfg, false, err, sizeof(err)), 0);
    cfg.eip_controller = false;
    struct agent *a = NULL, *b = NULL;
    assert_int_equal(agent_new(&a, &loop, &cfg, &cli, err, sizeof(err)), 0);
    assert_int_equal(agent_start(a, err, sizeof(err)), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", agent_port(a));
    free(cfg.listen);
    cfg.listen = strdup(addr);
    assert_int_equal(agent_new(&b, &loop, &cfg, &cli, err, sizeof(err)), 0);
    assert_int_equal(agent_start(b, err, sizeof(err)), -EADDRINUSE);
    char want[128];
    snprintf(want, sizeof(want), "cannot listen on %s: address already in use", addr);
    assert_string_equal(err, want);
    agent_free(b);
    agent_free(a); /* without a stop first */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    agent_config_free(&cfg);
}

/* Reads one queued datagram (sd_notify sends synchronously). */
static void expect_notify(int fd, const char *want)
{
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    if (n < 0)
        fail_msg("no notification, expected '%s'", want);
    buf[n] = '\0';
    if (!strstr(buf, want))
        fail_msg("notification '%s' lacks '%s'", buf, want);
}

static void notify_status_follows_readiness(void **state)
{
    (void)state;
    char path[108], leaf[64]; /* sun_path holds 108 bytes */
    assert_true(snprintf(leaf, sizeof(leaf), "eip-test-notify-%d.sock", (int)getpid()) > 0);
    assert_int_equal(eip_test_tmp_path(path, sizeof(path), leaf), 0);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    unsetenv("WATCHDOG_USEC");

    uv_loop_t loop;
    struct agent_config cfg;
    struct agent_cli cli;
    memset(&cli, 0, sizeof(cli));
    char err[256] = "";
    assert_int_equal(uv_loop_init(&loop), 0);
    agent_config_init(&cfg);
    cfg.listen = strdup("127.0.0.1:0");
    assert_int_equal(agent_config_finish(&cfg, false, err, sizeof(err)), 0);
    cfg.eip_controller = false;
    struct agent *a = NULL;
    assert_int_equal(agent_new(&a, &loop, &cfg, &cli, err, sizeof(err)), 0);
    assert_int_equal(agent_start(a, err, sizeof(err)), 0);
    expect_notify(fd, "READY=1\nSTATUS=listening on 127.0.0.1:");
    assert_int_equal(readiness_set(a->ready, READY_PODS_SYNCED, true, NULL), 0);
    expect_notify(fd, "; waiting for credentials-loaded");
    assert_int_equal(readiness_set(a->ready, READY_CREDENTIALS_LOADED, true, NULL), 0);
    expect_notify(fd, "; ready");
    agent_stop(a);
    expect_notify(fd, "STOPPING=1\nSTATUS=draining");
    uv_run(&loop, UV_RUN_DEFAULT);
    agent_free(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    agent_config_free(&cfg);
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readiness_drives_readyz),
        cmocka_unit_test(address_in_use),
        cmocka_unit_test(notify_status_follows_readiness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
