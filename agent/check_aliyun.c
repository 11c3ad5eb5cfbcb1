/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/check.h"
#include "aliyun/check.h"
#include "aliyun/client.h"
#include "aliyun/credentials.h"
#include "aliyun/metadata.h"

/* "aliyun": builds the credential chain and the cloud client from the
 * configuration, then one signed DescribeEipAddresses (PageSize=1) and, when a
 * metadata endpoint is configured or the region must come from it, a metadata
 * probe. The detail names the credential source, never a secret. */

struct ali_probe {
    check_run *run;
    const struct check_env *env;
    aliyun_transport tr;
    aliyun_metadata *md;
    aliyun_creds *creds;
    aliyun_client *client;
    aliyun_check *chk;
    aliyun_md_req *mdreq;
    char *region;
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
    if (p->mdreq)
        aliyun_md_req_cancel(p->mdreq);
    aliyun_client_free(p->client);
    aliyun_creds_free(p->creds);
    aliyun_metadata_free(p->md);
    free(p->region);
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
    uv_timer_start(p->reaper, reap, 0, 0);
    check_done(run, ok, "%s", detail);
}

static void on_checked(bool ok, const char *detail, void *arg)
{
    struct ali_probe *p = arg;
    p->chk = NULL;
    finish(p, ok, detail);
}

static int start_client(struct ali_probe *p, char *err, size_t cap)
{
    const struct agent_config *cfg = p->env->cfg;
    char *ep[ALIYUN_SVC_COUNT] = {agent_config_endpoint(cfg, "vpc", p->region),
                                  agent_config_endpoint(cfg, "ecs", p->region),
                                  agent_config_endpoint(cfg, "sts", p->region)};
    int r = 0;
    for (int i = 0; i < ALIYUN_SVC_COUNT; i++)
        if (!ep[i])
            r = -ENOMEM;
    enum aliyun_signature_version sv = ALIYUN_SIGN_V3;
    if (!r && cfg->signature_version &&
        aliyun_signature_version_parse(cfg->signature_version, &sv)) {
        snprintf(err, cap, "bad signatureVersion %s", cfg->signature_version);
        r = -EINVAL;
    }
    if (!r) {
        aliyun_creds_opts co = {
            .access_key_id = cfg->access_key_id,
            .access_key_secret = cfg->access_key_secret,
            .security_token = cfg->security_token,
            .role_arn = cfg->role_arn,
            .oidc_provider_arn = cfg->oidc_provider_arn,
            .oidc_token_file = cfg->oidc_token_file,
            .ram_role = cfg->ram_role,
            .sts_endpoint = ep[ALIYUN_SVC_STS],
            .ca_file = cfg->cloud_ca_file,
        };
        int cerr = 0;
        p->creds = aliyun_creds_new(p->env->loop, &p->tr, p->md, &co, &cerr);
        if (!p->creds) {
            snprintf(err, cap, "%s",
                     cerr == -ENOENT
                         ? "no credentials: set credential.accessKey/accessSecret, "
                           "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, RRSA, or run on ECS with a RAM role"
                         : "credential configuration is incomplete");
            r = cerr ? cerr : -EINVAL;
        }
    }
    if (!r) {
        aliyun_client_opts o = {
            .region_id = p->region,
            .endpoint = {ep[0], ep[1], ep[2]},
            .ca_file = cfg->cloud_ca_file,
            .signature_version = sv,
            .qps = cfg->cloud_qps > 0 ? cfg->cloud_qps : 0,
            .max_in_flight = cfg->cloud_max_in_flight,
            .timeout_ms = cfg->cloud_timeout_seconds > 0 ? cfg->cloud_timeout_seconds * 1000L : 0,
            .max_attempts = 2,
        };
        p->client = aliyun_client_new(p->env->loop, &p->tr, p->creds, &o);
        if (!p->client) {
            snprintf(err, cap, "bad cloud client options (region %s)", p->region);
            r = -EINVAL;
        }
    }
    if (!r) {
        r = aliyun_check_start(p->client, p->md, on_checked, p, &p->chk);
        if (r)
            snprintf(err, cap, "could not start the probe: %s", strerror(-r));
    }
    for (int i = 0; i < ALIYUN_SVC_COUNT; i++)
        free(ep[i]);
    return r;
}

static void on_region(int err, const char *value, size_t len, void *arg)
{
    struct ali_probe *p = arg;
    p->mdreq = NULL;
    char msg[512];
    if (err) {
        snprintf(msg, sizeof(msg),
                 "regionID is not configured and the instance metadata at %s did not answer: %s",
                 aliyun_metadata_endpoint(p->md), strerror(-err));
        finish(p, false, msg);
        return;
    }
    while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == ' '))
        len--;
    p->region = strndup(value, len);
    if (!p->region) {
        finish(p, false, "out of memory");
        return;
    }
    if (start_client(p, msg, sizeof(msg)))
        finish(p, false, msg);
}

static int start(check_run *run, const struct check_env *env, void *arg)
{
    (void)arg;
    const struct agent_config *cfg = env->cfg;
    if (!env->http) {
        check_done(run, false, "no HTTP client");
        return 0;
    }
    struct ali_probe *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->run = run;
    p->env = env;
    p->tr = aliyun_transport_http(env->http);
    p->reaper = malloc(sizeof(*p->reaper));
    if (!p->reaper || uv_timer_init(env->loop, p->reaper)) {
        free(p->reaper);
        free(p);
        return -ENOMEM;
    }
    p->reaper->data = p;
    bool need_md = cfg->metadata_endpoint || !cfg->region_id;
    if (need_md) {
        aliyun_metadata_opts mo = {.endpoint = cfg->metadata_endpoint};
        p->md = aliyun_metadata_new(env->loop, &p->tr, &mo);
        if (!p->md) {
            probe_free_now(p);
            return -ENOMEM;
        }
    }
    check_run_set_data(run, p);
    char msg[512];
    int r;
    if (!cfg->region_id) {
        r = aliyun_metadata_get(p->md, "region-id", on_region, p, &p->mdreq);
        if (r) {
            check_run_set_data(run, NULL);
            probe_free_now(p);
            return r;
        }
        return 0;
    }
    p->region = strdup(cfg->region_id);
    if (!p->region || start_client(p, msg, sizeof(msg))) {
        check_run_set_data(run, NULL);
        /* p->chk was never started: done synchronously, probe freed later */
        uv_timer_start(p->reaper, reap, 0, 0);
        check_done(run, false, "%s", p->region ? msg : "out of memory");
    }
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
