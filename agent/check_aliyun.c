/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/check.h"
#include "agent/cloud.h"
#include "aliyun/check.h"
#include "common/err.h"
#include "common/timer.h"

/* "aliyun": builds the cloud side exactly as the agent does (agent/cloud.c),
 * then one signed DescribeEipAddresses (PageSize=1) and, when a metadata
 * endpoint is configured or the region must come from it, a metadata probe.
 * The detail names the credential source, never a secret. */

struct ali_probe {
    check_run *run;
    agent_cloud *cloud;
    aliyun_check *chk;
    uv_timer_t *reaper; /* frees the probe outside the aliyun/ callbacks */
};

static void reaper_closed(uv_handle_t *h)
{
    free(h);
}

static void probe_free_now(struct ali_probe *p)
{
    if (p->chk)
        aliyun_check_cancel(p->chk);
    agent_cloud_free(p->cloud);
    if (p->reaper)
        uv_close((uv_handle_t *)p->reaper, reaper_closed);
    free(p);
}

static void reap(uv_timer_t *t)
{
    probe_free_now(t->data);
}

/* Ends the check; the probe goes on the next loop turn (we may be inside one of
 * its own callbacks). */
static void finish(struct ali_probe *p, bool ok, const char *detail)
{
    check_run *run = p->run;
    check_run_set_data(run, NULL);
    eip_timer_start(p->reaper, reap, 0, "probe reaper");
    check_done(run, ok, "%s", detail);
}

static void on_checked(bool ok, const char *detail, void *arg)
{
    struct ali_probe *p = arg;
    p->chk = NULL;
    finish(p, ok, detail);
}

static void on_cloud(agent_cloud *c, int err, const char *detail, void *arg)
{
    struct ali_probe *p = arg;
    if (err) {
        finish(p, false, detail);
        return;
    }
    int r =
        aliyun_check_start(agent_cloud_client(c), agent_cloud_metadata(c), on_checked, p, &p->chk);
    if (r) {
        char msg[128];
        eip_seterr(msg, sizeof(msg), "could not start the probe: %s", strerror(-r));
        finish(p, false, msg);
    }
}

static int start(check_run *run, const struct check_env *env, void *arg)
{
    (void)arg;
    if (!env->http) {
        check_done(run, false, "no HTTP client");
        return 0;
    }
    struct ali_probe *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->run = run;
    p->reaper = malloc(sizeof(*p->reaper));
    if (!p->reaper || uv_timer_init(env->loop, p->reaper)) {
        free(p->reaper);
        free(p);
        return -ENOMEM;
    }
    p->reaper->data = p;
    char msg[512];
    agent_cloud_opts co = {
        .loop = env->loop, .http = env->http, .cfg = env->cfg, .max_attempts = 2};
    int r = agent_cloud_new(&p->cloud, &co, msg, sizeof(msg));
    if (!r)
        r = agent_cloud_start(p->cloud, on_cloud, p);
    if (r) {
        probe_free_now(p);
        return r;
    }
    check_run_set_data(run, p);
    return 0;
}

static void cancel(check_run *run, void *arg)
{
    (void)arg;
    struct ali_probe *p = check_run_data(run);
    if (!p)
        return;
    check_run_set_data(run, NULL);
    probe_free_now(p);
}

int check_aliyun_register(check_registry *reg)
{
    return check_registry_add(reg, "aliyun", start, cancel, 0, NULL);
}
