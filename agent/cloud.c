/* SPDX-License-Identifier: MIT */
#include "agent/cloud.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/timer.h"

enum cloud_state {
    CLOUD_NEW,
    CLOUD_REGION, /* asking the metadata for region-id */
    CLOUD_VPC,    /* asking the metadata for vpc-id */
    CLOUD_KICK,   /* done; the callback is on the next loop turn */
    CLOUD_READY,
    CLOUD_FAILED,
};

struct agent_cloud {
    uv_loop_t *loop;
    const struct agent_config *cfg;
    aliyun_transport tr;
    aliyun_metadata *md;
    aliyun_creds *creds;
    aliyun_client *client;
    int max_attempts;
    metric_family *m_requests, *m_seconds;
    enum cloud_state state;
    char *region, *vpc;
    aliyun_md_req *mdreq;
    uv_timer_t *kick; /* delivers the outcome from the loop */
    int result;
    char detail[512];
    agent_cloud_ready_cb cb;
    void *cb_arg;
};

static void on_attempt(const char *action, const char *code, int64_t duration_ms, void *arg)
{
    agent_cloud *c = arg;
    const char *v[] = {action, code};
    if (c->m_requests)
        metrics_inc(c->m_requests, v);
    if (c->m_seconds)
        metrics_observe(c->m_seconds, v, (double)duration_ms / 1000.0);
}

static void kick_closed(uv_handle_t *h)
{
    free(h);
}

static int build_client(agent_cloud *c)
{
    const struct agent_config *cfg = c->cfg;
    char *ep[ALIYUN_SVC_COUNT] = {agent_config_endpoint(cfg, "vpc", c->region),
                                  agent_config_endpoint(cfg, "ecs", c->region),
                                  agent_config_endpoint(cfg, "sts", c->region)};
    int r = 0;
    for (int i = 0; i < ALIYUN_SVC_COUNT; i++)
        if (!ep[i])
            r = -ENOMEM;
    if (r) {
        eip_seterr(c->detail, sizeof(c->detail), "out of memory");
        goto out;
    }
    enum aliyun_signature_version sv = ALIYUN_SIGN_V3;
    if (cfg->signature_version && aliyun_signature_version_parse(cfg->signature_version, &sv)) {
        eip_seterr(c->detail, sizeof(c->detail), "bad signatureVersion %.64s",
                   cfg->signature_version);
        r = -EINVAL;
        goto out;
    }
    aliyun_creds_opts co = {
        .loop = c->loop,
        .transport = &c->tr,
        .metadata = c->md,
        .access_key_id = cfg->access_key_id,
        .access_key_secret = cfg->access_key_secret,
        .security_token = cfg->security_token,
        .access_key_source = cfg->access_key_from_env ? ALIYUN_CRED_ENV : ALIYUN_CRED_STATIC,
        .role_arn = cfg->role_arn,
        .oidc_provider_arn = cfg->oidc_provider_arn,
        .oidc_token_file = cfg->oidc_token_file,
        .ram_role = cfg->ram_role,
        .disable_ecs_ram_role = c->md == NULL,
        .sts_endpoint = ep[ALIYUN_SVC_STS],
        .ca_file = cfg->cloud_ca_file,
    };
    char why[256];
    r = aliyun_creds_new(&c->creds, &co, why, sizeof(why));
    if (r) {
        if (r == -ENOENT)
            eip_seterr(c->detail, sizeof(c->detail), "%s",
                       "no credentials: set credential.accessKey/accessSecret, "
                       "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, RRSA, or run on ECS with a RAM role");
        else
            eip_seterr(c->detail, sizeof(c->detail), "credential configuration: %s", why);
        goto out;
    }
    aliyun_client_opts o = {
        .loop = c->loop,
        .transport = &c->tr,
        .creds = c->creds,
        .region_id = c->region,
        .endpoint = {ep[0], ep[1], ep[2]},
        .ca_file = cfg->cloud_ca_file,
        .signature_version = sv,
        .qps = cfg->cloud_qps > 0 ? cfg->cloud_qps : 0,
        .limit_scale =
            cfg->cloud_rate_limit_percent > 0 ? cfg->cloud_rate_limit_percent / 100.0 : 0,
        .max_in_flight = cfg->cloud_max_in_flight,
        .timeout_ms = cfg->cloud_timeout_seconds > 0 ? cfg->cloud_timeout_seconds * 1000L : 0,
        .max_attempts = c->max_attempts,
        .on_attempt = on_attempt,
        .on_attempt_arg = c,
    };
    r = aliyun_client_new(&c->client, &o, why, sizeof(why));
    if (r)
        eip_seterr(c->detail, sizeof(c->detail), "cloud client (region %.64s): %s", c->region, why);
out:
    for (int i = 0; i < ALIYUN_SVC_COUNT; i++)
        free(ep[i]);
    return r;
}

static void on_kick(uv_timer_t *t)
{
    agent_cloud *c = t->data;
    c->state = c->result ? CLOUD_FAILED : CLOUD_READY;
    agent_cloud_ready_cb cb = c->cb;
    c->cb = NULL;
    if (cb)
        cb(c, c->result, c->detail, c->cb_arg);
}

/* Region and VPC are known (or the VPC is unknowable): build, then call back
 * from the loop. */
static void finish(agent_cloud *c)
{
    if (!c->result)
        c->result = build_client(c);
    c->state = CLOUD_KICK;
    eip_timer_start(c->kick, on_kick, 0, "cloud setup");
}

static void fail(agent_cloud *c, int err)
{
    c->result = err;
    c->state = CLOUD_KICK;
    eip_timer_start(c->kick, on_kick, 0, "cloud setup");
}

static char *trimmed(const char *value, size_t len)
{
    while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == ' ' || value[len - 1] == '\r'))
        len--;
    return strndup(value, len);
}

static void ask_vpc(agent_cloud *c);

static void on_vpc(int err, const char *value, size_t len, void *arg)
{
    agent_cloud *c = arg;
    c->mdreq = NULL;
    if (err) {
        /* The VPC only narrows ENI lookups through the API: go on without it. */
        log_debug("cloud: vpc-id from the instance metadata: %s", strerror(-err));
    } else if (!(c->vpc = trimmed(value, len))) {
        eip_seterr(c->detail, sizeof(c->detail), "out of memory");
        fail(c, -ENOMEM);
        return;
    }
    finish(c);
}

static void ask_vpc(agent_cloud *c)
{
    if (c->vpc || !c->md) {
        finish(c);
        return;
    }
    c->state = CLOUD_VPC;
    int r = aliyun_metadata_get(c->md, ALIYUN_MD_VPC_ID, on_vpc, c, &c->mdreq);
    if (r) {
        eip_seterr(c->detail, sizeof(c->detail), "cannot ask the instance metadata: %s",
                   strerror(-r));
        fail(c, r);
    }
}

static void on_region(int err, const char *value, size_t len, void *arg)
{
    agent_cloud *c = arg;
    c->mdreq = NULL;
    if (err) {
        eip_seterr(c->detail, sizeof(c->detail),
                   "regionID is not configured and the instance metadata at %.200s did not answer: "
                   "%s",
                   aliyun_metadata_endpoint(c->md), strerror(-err));
        fail(c, err);
        return;
    }
    if (!(c->region = trimmed(value, len))) {
        eip_seterr(c->detail, sizeof(c->detail), "out of memory");
        fail(c, -ENOMEM);
        return;
    }
    ask_vpc(c);
}

int agent_cloud_start(agent_cloud *c, agent_cloud_ready_cb cb, void *arg)
{
    if (c->state != CLOUD_NEW)
        return -EALREADY;
    c->cb = cb;
    c->cb_arg = arg;
    if (c->region) {
        ask_vpc(c);
        return 0;
    }
    c->state = CLOUD_REGION;
    int r = aliyun_metadata_get(c->md, ALIYUN_MD_REGION_ID, on_region, c, &c->mdreq);
    if (r) {
        c->cb = NULL;
        c->state = CLOUD_NEW;
    }
    return r;
}

int agent_cloud_new(agent_cloud **out, const agent_cloud_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    const struct agent_config *cfg = opts->cfg;
    int r = -ENOMEM;
    agent_cloud *c = calloc(1, sizeof(*c));
    if (!c)
        goto fail;
    c->loop = opts->loop;
    c->cfg = cfg;
    c->max_attempts = opts->max_attempts;
    c->m_requests = opts->requests;
    c->m_seconds = opts->seconds;
    c->tr = aliyun_transport_http(opts->http);
    if (cfg->region_id && !(c->region = strdup(cfg->region_id)))
        goto fail;
    if (cfg->vpc_id && !(c->vpc = strdup(cfg->vpc_id)))
        goto fail;
    bool need_md = opts->want_metadata || cfg->metadata_endpoint || !cfg->region_id;
    if (need_md) {
        aliyun_metadata_opts mo = {
            .loop = opts->loop, .transport = &c->tr, .endpoint = cfg->metadata_endpoint};
        r = aliyun_metadata_new(&c->md, &mo, NULL, 0);
        if (r)
            goto fail;
        r = -ENOMEM;
    }
    c->kick = malloc(sizeof(*c->kick));
    if (!c->kick)
        goto fail;
    r = uv_timer_init(opts->loop, c->kick);
    if (r) {
        free(c->kick);
        c->kick = NULL;
        goto fail;
    }
    c->kick->data = c;
    *out = c;
    return 0;
fail:
    eip_seterr(err, errlen, "cannot build the cloud client: %s", strerror(-r));
    agent_cloud_free(c);
    return r;
}

void agent_cloud_free(agent_cloud *c)
{
    if (!c)
        return;
    if (c->mdreq)
        aliyun_md_req_cancel(c->mdreq);
    aliyun_client_free(c->client);
    aliyun_creds_free(c->creds);
    aliyun_metadata_free(c->md);
    if (c->kick)
        uv_close((uv_handle_t *)c->kick, kick_closed);
    free(c->region);
    free(c->vpc);
    free(c);
}

aliyun_client *agent_cloud_client(const agent_cloud *c)
{
    return c->state == CLOUD_READY ? c->client : NULL;
}

aliyun_creds *agent_cloud_creds(const agent_cloud *c)
{
    return c->state == CLOUD_READY ? c->creds : NULL;
}

aliyun_metadata *agent_cloud_metadata(const agent_cloud *c)
{
    return c->md;
}

const char *agent_cloud_region(const agent_cloud *c)
{
    return c->region;
}

const char *agent_cloud_vpc(const agent_cloud *c)
{
    return c->vpc;
}
