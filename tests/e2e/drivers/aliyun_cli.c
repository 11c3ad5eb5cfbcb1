/* SPDX-License-Identifier: MIT */
/* aliyun_cli: runs one aliyun/ action or scenario against the endpoints named in
 * the environment and prints the results as JSON on stdout (tests/e2e/aliyun).
 *
 *   aliyun_cli creds [HOLD_MS]         credential source; with HOLD_MS, keeps calling
 *                                      DescribeEipAddresses that long (refresh tests)
 *   aliyun_cli describe [ID...]        DescribeEipAddresses (all pages)
 *   aliyun_cli allocate [NAME]         AllocateEipAddress (ALIYUN_CLI_CLIENT_TOKEN)
 *   aliyun_cli associate AID ENI IP | unassociate AID ENI IP | release AID
 *   aliyun_cli lifecycle ENI IP        allocate, tag, associate, wait InUse, unassociate,
 *                                      wait Available, release
 *   aliyun_cli burst N                 N DescribeEipAddresses at once
 *   aliyun_cli enis IP                 the ENI holding IP (DescribeNetworkInterfaces)
 *   aliyun_cli metadata PATH | metadata-eni IP|wait:MS ...
 *   aliyun_cli check                   the --check-config probe
 *
 * Environment: ALIYUN_CLI_REGION (cn-hangzhou), ALIYUN_CLI_ENDPOINT (all three
 * services) or EIP_AGENT_{VPC,ECS,STS}_ENDPOINT, EIP_AGENT_CLOUD_CA_FILE,
 * EIP_AGENT_METADATA_ENDPOINT, EIP_AGENT_SIGNATURE_VERSION, EIP_AGENT_CLOUD_QPS,
 * EIP_AGENT_CLOUD_MAX_IN_FLIGHT, EIP_AGENT_CLOUD_TIMEOUT_SECONDS,
 * ALIYUN_CLI_BACKOFF_BASE_MS, ALIYUN_CLI_BACKOFF_CAP_MS, ALIYUN_CLI_MAX_ATTEMPTS,
 * ALIYUN_CLI_ACCESS_KEY_ID/SECRET (a "static" key), the ALIBABA_CLOUD_* chain
 * (read here, as the agent's configuration does, and handed to aliyun/),
 * EIP_AGENT_RAM_ROLE, ALIYUN_CLI_REFRESH_BEFORE_MS, EIP_AGENT_LOG_LEVEL. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "aliyun/check.h"
#include "aliyun/client.h"
#include "aliyun/credentials.h"
#include "aliyun/ecs.h"
#include "aliyun/metadata.h"
#include "aliyun/vpc.h"
#include "common/log.h"
#include "http/client.h"

typedef struct cli {
    uv_loop_t *loop;
    http_client *http;
    aliyun_transport tr;
    aliyun_metadata *md;
    aliyun_creds *creds;
    aliyun_client *c;
    json_t *out;
    int failed;
    int pending;
    /* scenario state */
    const char *eni, *ip;
    char aid[128], eip[64], token[64];
    int step;
    int polls;
    int64_t hold_until;
    uv_timer_t timer;
    int calls_ok, calls_failed;
    char **ips;
    int n_ips;
} cli;

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *end ? def : n;
}

static const char *env_str(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static json_t *result_json(const aliyun_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_integer(r->status));
    json_object_set_new(o, "class", json_string(aliyun_err_class_name(r->cls)));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "code", json_string(r->error.code));
    json_object_set_new(o, "message", json_string(r->error.message));
    json_object_set_new(o, "http_status", json_integer(r->error.http_status));
    if (r->error.transport)
        json_object_set_new(o, "transport", json_string(http_error_name(r->error.transport)));
    json_object_set_new(o, "request_id", json_string(r->request_id ? r->request_id : ""));
    return o;
}

static json_t *eip_json(const aliyun_eip *e)
{
    json_t *tags = json_object();
    for (size_t i = 0; i < e->n_tags; i++)
        json_object_set_new(tags, e->tags[i].key, json_string(e->tags[i].value));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
                     "AllocationId", e->allocation_id, "IpAddress", e->ip_address, "Status",
                     e->status, "InstanceId", e->instance_id, "InstanceType", e->instance_type,
                     "PrivateIpAddress", e->private_ip_address, "Bandwidth", e->bandwidth,
                     "InternetChargeType", e->internet_charge_type, "ISP", e->isp, "Name", e->name,
                     "Description", e->description, "ResourceGroupId", e->resource_group_id,
                     "BandwidthPackageId", e->bandwidth_package_id, "Tags", tags);
}

static void step_done(cli *x)
{
    if (--x->pending == 0) {
        uv_stop(x->loop);
    }
}

/* ---- describe ---- */
static void on_describe_all(const aliyun_result *r, const aliyun_eip_page *pg, void *arg)
{
    cli *x = arg;
    json_object_set_new(x->out, "result", result_json(r));
    json_t *arr = json_array();
    for (size_t i = 0; pg && i < pg->n; i++)
        json_array_append_new(arr, eip_json(&pg->eips[i]));
    json_object_set_new(x->out, "eips", arr);
    if (pg)
        json_object_set_new(x->out, "total", json_integer(pg->total_count));
    if (r->status)
        x->failed = 1;
    step_done(x);
}

/* ---- single actions ---- */
static void on_simple(const aliyun_result *r, void *arg)
{
    cli *x = arg;
    json_object_set_new(x->out, "result", result_json(r));
    if (r->status)
        x->failed = 1;
    step_done(x);
}

static void on_allocate(const aliyun_result *r, const aliyun_allocated_eip *e, void *arg)
{
    cli *x = arg;
    json_object_set_new(x->out, "result", result_json(r));
    if (e) {
        json_object_set_new(x->out, "AllocationId", json_string(e->allocation_id));
        json_object_set_new(x->out, "EipAddress", json_string(e->eip_address));
    }
    if (r->status)
        x->failed = 1;
    step_done(x);
}

/* ---- lifecycle ---- */
static void lc_next(cli *x);

static void lc_record(cli *x, const char *name, const aliyun_result *r)
{
    json_t *steps = json_object_get(x->out, "steps");
    json_t *o = result_json(r);
    json_object_set_new(o, "step", json_string(name));
    json_array_append_new(steps, o);
    if (r->status) {
        x->failed = 1;
        json_object_set_new(x->out, "failed_step", json_string(name));
        step_done(x);
    }
}

static void lc_allocated(const aliyun_result *r, const aliyun_allocated_eip *e, void *arg)
{
    cli *x = arg;
    lc_record(x, "allocate", r);
    if (r->status)
        return;
    snprintf(x->aid, sizeof(x->aid), "%s", e->allocation_id);
    snprintf(x->eip, sizeof(x->eip), "%s", e->eip_address);
    json_object_set_new(x->out, "AllocationId", json_string(x->aid));
    json_object_set_new(x->out, "EipAddress", json_string(x->eip));
    lc_next(x);
}

static void lc_simple(const aliyun_result *r, void *arg)
{
    cli *x = arg;
    static const char *const names[] = {"", "",       "tag", "associate", "", "unassociate",
                                        "", "release"};
    lc_record(x, x->step < 8 ? names[x->step] : "?", r);
    if (r->status)
        return;
    lc_next(x);
}

static void lc_poll_cb(uv_timer_t *t);

static void lc_polled(const aliyun_result *r, const aliyun_eip_page *pg, void *arg)
{
    cli *x = arg;
    const char *want = x->step == 4 ? "InUse" : "Available";
    if (r->status) {
        lc_record(x, x->step == 4 ? "wait-inuse" : "wait-available", r);
        return;
    }
    x->polls++;
    if (pg->n == 1 && strcmp(pg->eips[0].status, want) == 0) {
        json_t *o = result_json(r);
        json_object_set_new(o, "step", json_string(x->step == 4 ? "wait-inuse" : "wait-available"));
        json_object_set_new(o, "polls", json_integer(x->polls));
        json_object_set_new(o, "eip", eip_json(&pg->eips[0]));
        json_array_append_new(json_object_get(x->out, "steps"), o);
        x->polls = 0;
        lc_next(x);
        return;
    }
    if (x->polls > 200) {
        aliyun_result bad = *r;
        bad.status = -ETIMEDOUT;
        snprintf(bad.error.code, sizeof(bad.error.code), "%s", "WaitTimeout");
        lc_record(x, "wait", &bad);
        return;
    }
    uv_timer_start(&x->timer, lc_poll_cb, 100, 0);
}

static void lc_poll_cb(uv_timer_t *t)
{
    cli *x = t->data;
    const char *ids[] = {x->aid};
    aliyun_describe_eips_params p = {.allocation_ids = ids, .n_allocation_ids = 1};
    if (aliyun_vpc_describe_eips(x->c, &p, lc_polled, x, NULL)) {
        x->failed = 1;
        step_done(x);
    }
}

/* The lifecycle's EIP on its ENI and IP, with the call's token. */
static aliyun_eip_binding lc_binding(const cli *x, const char *tok)
{
    return (aliyun_eip_binding){.allocation_id = x->aid,
                                .instance_id = x->eni,
                                .private_ip_address = x->ip,
                                .client_token = tok};
}

static void lc_next(cli *x)
{
    int r = 0;
    x->step++;
    switch (x->step) {
    case 1: {
        aliyun_tag tags[] = {{"eip-agent/test", "lifecycle"}};
        aliyun_allocate_eip_params p = {.bandwidth = 5,
                                        .internet_charge_type = "PayByTraffic",
                                        .instance_charge_type = "PostPaid",
                                        .isp = "BGP",
                                        .name = "eip-agent-cli",
                                        .description = "aliyun_cli lifecycle",
                                        .tags = tags,
                                        .n_tags = 1,
                                        .client_token = x->token};
        r = aliyun_vpc_allocate_eip(x->c, &p, lc_allocated, x, NULL);
        break;
    }
    case 2: {
        const char *ids[] = {x->aid};
        aliyun_tag tags[] = {{"eip-agent/node", "cli"}};
        aliyun_tag_eips_params p = {
            .allocation_ids = ids, .n_allocation_ids = 1, .tags = tags, .n_tags = 1};
        r = aliyun_vpc_tag_eips(x->c, &p, lc_simple, x, NULL);
        break;
    }
    case 3: {
        char tok[80];
        snprintf(tok, sizeof(tok), "%s-assoc", x->token);
        aliyun_associate_eip_params p = {.to = lc_binding(x, tok)};
        r = aliyun_vpc_associate_eip(x->c, &p, lc_simple, x, NULL);
        break;
    }
    case 4:
    case 6:
        uv_timer_start(&x->timer, lc_poll_cb, 50, 0);
        break;
    case 5: {
        char tok[80];
        snprintf(tok, sizeof(tok), "%s-unassoc", x->token);
        aliyun_unassociate_eip_params p = {.from = lc_binding(x, tok)};
        r = aliyun_vpc_unassociate_eip(x->c, &p, lc_simple, x, NULL);
        break;
    }
    case 7:
        r = aliyun_vpc_release_eip(x->c, &(aliyun_release_eip_params){.allocation_id = x->aid},
                                   lc_simple, x, NULL);
        break;
    default:
        step_done(x);
        return;
    }
    if (r) {
        json_object_set_new(x->out, "start_error", json_integer(r));
        x->failed = 1;
        step_done(x);
    }
}

/* ---- burst ---- */
static void on_burst(const aliyun_result *r, const aliyun_eip_page *pg, void *arg)
{
    (void)pg;
    cli *x = arg;
    json_array_append_new(json_object_get(x->out, "results"), result_json(r));
    if (r->status)
        x->failed = 1;
    step_done(x);
}

/* ---- creds ---- */
static void hold_tick(uv_timer_t *t);

static void on_hold_call(const aliyun_result *r, const aliyun_eip_page *pg, void *arg)
{
    (void)pg;
    cli *x = arg;
    if (r->status) {
        x->calls_failed++;
        json_array_append_new(json_object_get(x->out, "errors"), result_json(r));
    } else {
        x->calls_ok++;
    }
    if ((int64_t)uv_now(x->loop) >= x->hold_until) {
        step_done(x);
        return;
    }
    uv_timer_start(&x->timer, hold_tick, 200, 0);
}

static void hold_tick(uv_timer_t *t)
{
    cli *x = t->data;
    aliyun_describe_eips_params p = {.page_size = 1};
    if (aliyun_vpc_describe_eips(x->c, &p, on_hold_call, x, NULL)) {
        x->failed = 1;
        step_done(x);
    }
}

static void on_creds_ready(aliyun_creds_waiter *w, int err, void *arg)
{
    (void)w;
    cli *x = arg;
    json_object_set_new(x->out, "source", json_string(aliyun_creds_source_name(x->creds)));
    json_object_set_new(x->out, "error", json_integer(err));
    if (err)
        x->failed = 1;
    if (!err && x->hold_until > 0) {
        x->hold_until += (int64_t)uv_now(x->loop);
        hold_tick(&x->timer);
        return;
    }
    step_done(x);
}

/* ---- metadata ---- */
static void on_md(int err, const char *value, size_t len, void *arg)
{
    cli *x = arg;
    json_object_set_new(x->out, "error", json_integer(err));
    if (!err)
        json_object_set_new(x->out, "value", json_stringn(value, len));
    else
        x->failed = 1;
    step_done(x);
}

static void on_md_eni(int err, const char *eni, const char *mac, void *arg)
{
    cli *x = arg;
    json_t *o = json_pack("{s:i}", "error", err);
    if (!err) {
        json_object_set_new(o, "eni", json_string(eni));
        json_object_set_new(o, "mac", json_string(mac));
    } else {
        x->failed = 1;
    }
    json_array_append_new(json_object_get(x->out, "results"), o);
    step_done(x);
}

static void on_md_eni_seq(int err, const char *eni, const char *mac, void *arg);

static void md_eni_next(cli *x);

static void md_eni_resume(uv_timer_t *t)
{
    md_eni_next(t->data);
}

static void md_eni_next(cli *x)
{
    if (x->step >= x->n_ips) {
        step_done(x);
        return;
    }
    const char *ip = x->ips[x->step++];
    if (strncmp(ip, "wait:", 5) == 0) {
        /* a pause the test uses to change the instance between lookups */
        printf("{\"waiting\":true}\n");
        fflush(stdout);
        uv_timer_start(&x->timer, md_eni_resume, (uint64_t)strtol(ip + 5, NULL, 10), 0);
        return;
    }
    if (aliyun_metadata_find_eni(x->md, ip, on_md_eni_seq, x, NULL)) {
        x->failed = 1;
        step_done(x);
    }
}

static void on_md_eni_seq(int err, const char *eni, const char *mac, void *arg)
{
    cli *x = arg;
    x->pending++; /* on_md_eni counts one down */
    on_md_eni(err, eni, mac, arg);
    md_eni_next(x);
}

static void on_eni_found(const aliyun_result *r, const char *eni, void *arg)
{
    cli *x = arg;
    json_object_set_new(x->out, "result", result_json(r));
    json_object_set_new(x->out, "eni", json_string(eni ? eni : ""));
    if (r->status || !eni)
        x->failed = 1;
    step_done(x);
}

static void on_check(bool ok, const char *detail, void *arg)
{
    cli *x = arg;
    json_object_set_new(x->out, "ok", json_boolean(ok));
    json_object_set_new(x->out, "detail", json_string(detail));
    if (!ok)
        x->failed = 1;
    step_done(x);
}

static int usage(void)
{
    fprintf(stderr, "usage: aliyun_cli creds|describe|allocate|associate|unassociate|release|"
                    "lifecycle|burst|enis|metadata|metadata-eni|check ...\n");
    return 2;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The credentials from the environment: the static key wins over the
 * environment's, as the agent's configuration layers do. */
static int setup_creds(cli *x, const char *sts, char *why, size_t whylen)
{
    bool from_env = !env_str("ALIYUN_CLI_ACCESS_KEY_ID");
    aliyun_creds_opts co = {
        .loop = x->loop,
        .transport = &x->tr,
        .metadata = x->md,
        .access_key_id =
            from_env ? env_str("ALIBABA_CLOUD_ACCESS_KEY_ID") : env_str("ALIYUN_CLI_ACCESS_KEY_ID"),
        .access_key_secret = from_env ? env_str("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
                                      : env_str("ALIYUN_CLI_ACCESS_KEY_SECRET"),
        .security_token = from_env ? env_str("ALIBABA_CLOUD_SECURITY_TOKEN")
                                   : env_str("ALIYUN_CLI_SECURITY_TOKEN"),
        .access_key_source = from_env ? ALIYUN_CRED_ENV : ALIYUN_CRED_STATIC,
        .role_arn = env_str("ALIBABA_CLOUD_ROLE_ARN"),
        .oidc_provider_arn = env_str("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"),
        .oidc_token_file = env_str("ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
        .ram_role = env_str("EIP_AGENT_RAM_ROLE"),
        .sts_endpoint = sts,
        .ca_file = env_str("EIP_AGENT_CLOUD_CA_FILE"),
        .refresh_before_ms = env_long("ALIYUN_CLI_REFRESH_BEFORE_MS", 0),
        .min_refresh_ms = env_long("ALIYUN_CLI_MIN_REFRESH_MS", 0),
        .duration_seconds = (int)env_long("ALIYUN_CLI_DURATION_SECONDS", 0),
        .retry_base_ms = 200,
        .retry_cap_ms = 2000,
    };
    return aliyun_creds_new(&x->creds, &co, why, whylen);
}

/* The cloud client from the environment. Returns 0, or the exit status. */
static int setup_client(cli *x, const char *region, const char *all, const char *sts)
{
    enum aliyun_signature_version sv = ALIYUN_SIGN_V3;
    if (env_str("EIP_AGENT_SIGNATURE_VERSION") &&
        aliyun_signature_version_parse(env_str("EIP_AGENT_SIGNATURE_VERSION"), &sv)) {
        fprintf(stderr, "aliyun_cli: bad EIP_AGENT_SIGNATURE_VERSION\n");
        return 2;
    }
    aliyun_client_opts opts = {
        .loop = x->loop,
        .transport = &x->tr,
        .creds = x->creds,
        .region_id = region,
        .endpoint = {env_str("EIP_AGENT_VPC_ENDPOINT") ? env_str("EIP_AGENT_VPC_ENDPOINT") : all,
                     env_str("EIP_AGENT_ECS_ENDPOINT") ? env_str("EIP_AGENT_ECS_ENDPOINT") : all,
                     sts},
        .use_public_endpoints = env_long("EIP_AGENT_PUBLIC_ENDPOINTS", 0) != 0,
        .ca_file = env_str("EIP_AGENT_CLOUD_CA_FILE"),
        .signature_version = sv,
        .qps = (double)env_long("EIP_AGENT_CLOUD_QPS", 0),
        .max_in_flight = (int)env_long("EIP_AGENT_CLOUD_MAX_IN_FLIGHT", 0),
        .timeout_ms = env_long("EIP_AGENT_CLOUD_TIMEOUT_SECONDS", 10) * 1000,
        .backoff_base_ms = env_long("ALIYUN_CLI_BACKOFF_BASE_MS", 0),
        .backoff_cap_ms = env_long("ALIYUN_CLI_BACKOFF_CAP_MS", 0),
        .max_attempts = (int)env_long("ALIYUN_CLI_MAX_ATTEMPTS", 0),
    };
    char why[256];
    if (aliyun_client_new(&x->c, &opts, why, sizeof(why))) {
        fprintf(stderr, "aliyun_cli: bad client options: %s\n", why);
        return 2;
    }
    return 0;
}

/* The HTTP client, the metadata client (with EIP_AGENT_METADATA_ENDPOINT), the
 * credentials and the cloud client. Returns 0, or the exit status. */
static int setup(cli *x, const char *cmd)
{
    http_client_opts ho = {.loop = x->loop, .ca_file = env_str("EIP_AGENT_CLOUD_CA_FILE")};
    char why[256];
    if (http_client_new(&x->http, &ho, why, sizeof(why)) != 0) {
        fprintf(stderr, "aliyun_cli: %s\n", why);
        return 1;
    }
    x->tr = aliyun_transport_http(x->http);
    const char *mdep = env_str("EIP_AGENT_METADATA_ENDPOINT");
    if (mdep) {
        aliyun_metadata_opts mo = {.loop = x->loop,
                                   .transport = &x->tr,
                                   .endpoint = mdep,
                                   .disable_token = env_long("ALIYUN_CLI_METADATA_NO_TOKEN", 0)};
        if (aliyun_metadata_new(&x->md, &mo, why, sizeof(why))) {
            fprintf(stderr, "aliyun_cli: %s\n", why);
            return 1;
        }
    }
    const char *region =
        env_str("ALIYUN_CLI_REGION") ? env_str("ALIYUN_CLI_REGION") : "cn-hangzhou";
    const char *all = env_str("ALIYUN_CLI_ENDPOINT");
    char sts_def[256];
    const char *sts = env_str("EIP_AGENT_STS_ENDPOINT") ? env_str("EIP_AGENT_STS_ENDPOINT") : all;
    if (!sts) {
        aliyun_endpoint_default(ALIYUN_SVC_STS, region, env_long("EIP_AGENT_PUBLIC_ENDPOINTS", 0),
                                sts_def, sizeof(sts_def));
        sts = sts_def;
    }
    int err = setup_creds(x, sts, why, sizeof(why));
    if (!x->creds && strcmp(cmd, "metadata") != 0 && strcmp(cmd, "metadata-eni") != 0) {
        printf("{\"command\":\"%s\",\"error\":%d,\"source\":\"none\"}\n", cmd, err);
        return 1;
    }
    int rc = setup_client(x, region, all, sts);
    if (rc)
        return rc;
    const char *tok = env_str("ALIYUN_CLI_CLIENT_TOKEN");
    if (tok)
        snprintf(x->token, sizeof(x->token), "%s", tok);
    else
        aliyun_client_token(x->token, sizeof(x->token));
    return 0;
}

/* ---- the commands: each starts its calls (0) or says why not ---- */

static int cmd_creds(cli *x, int argc, char **argv)
{
    static aliyun_creds_waiter w;
    x->hold_until = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    json_object_set_new(x->out, "errors", json_array());
    return aliyun_creds_wait(x->creds, &w, on_creds_ready, x);
}

static int cmd_describe(cli *x, int argc, char **argv)
{
    aliyun_describe_eips_params p = {.allocation_ids = (const char *const *)(argv + 2),
                                     .n_allocation_ids = (size_t)(argc - 2),
                                     .page_size = (int)env_long("ALIYUN_CLI_PAGE_SIZE", 0)};
    return aliyun_vpc_describe_all_eips(x->c, &p, on_describe_all, x, NULL);
}

static int cmd_allocate(cli *x, int argc, char **argv)
{
    aliyun_allocate_eip_params p = {
        .bandwidth = (int)env_long("ALIYUN_CLI_BANDWIDTH", 0),
        .name = argc > 2 ? argv[2] : NULL,
        .description = env_str("ALIYUN_CLI_DESCRIPTION"),
        .isp = env_str("ALIYUN_CLI_ISP"),
        .internet_charge_type = env_str("ALIYUN_CLI_INTERNET_CHARGE_TYPE"),
        .client_token = x->token,
    };
    return aliyun_vpc_allocate_eip(x->c, &p, on_allocate, x, NULL);
}

/* AID ENI IP from the command line, ALIYUN_CLI_CLIENT_TOKEN as the token. */
static aliyun_eip_binding argv_binding(char **argv)
{
    return (aliyun_eip_binding){.allocation_id = argv[2],
                                .instance_id = argv[3],
                                .private_ip_address = argv[4],
                                .client_token = env_str("ALIYUN_CLI_CLIENT_TOKEN")};
}

static int cmd_associate(cli *x, int argc, char **argv)
{
    (void)argc;
    aliyun_associate_eip_params p = {.to = argv_binding(argv)};
    return aliyun_vpc_associate_eip(x->c, &p, on_simple, x, NULL);
}

static int cmd_unassociate(cli *x, int argc, char **argv)
{
    (void)argc;
    aliyun_unassociate_eip_params p = {.from = argv_binding(argv)};
    return aliyun_vpc_unassociate_eip(x->c, &p, on_simple, x, NULL);
}

static int cmd_release(cli *x, int argc, char **argv)
{
    (void)argc;
    return aliyun_vpc_release_eip(x->c, &(aliyun_release_eip_params){.allocation_id = argv[2]},
                                  on_simple, x, NULL);
}

static int cmd_lifecycle(cli *x, int argc, char **argv)
{
    (void)argc;
    x->eni = argv[2];
    x->ip = argv[3];
    json_object_set_new(x->out, "steps", json_array());
    lc_next(x);
    return 0;
}

static int cmd_burst(cli *x, int argc, char **argv)
{
    (void)argc;
    long n = strtol(argv[2], NULL, 10);
    json_object_set_new(x->out, "results", json_array());
    x->pending = (int)n;
    int r = 0;
    for (long i = 0; i < n && !r; i++) {
        aliyun_describe_eips_params p = {.page_size = 1};
        r = aliyun_vpc_describe_eips(x->c, &p, on_burst, x, NULL);
    }
    return r;
}

static int cmd_enis(cli *x, int argc, char **argv)
{
    (void)argc;
    x->ip = argv[2];
    aliyun_find_eni_params p = {.vpc_id = env_str("ALIYUN_CLI_VPC_ID"), .ip = argv[2]};
    return aliyun_ecs_find_eni(x->c, &p, on_eni_found, x, NULL);
}

static int cmd_metadata(cli *x, int argc, char **argv)
{
    (void)argc;
    return aliyun_metadata_get(x->md, argv[2], on_md, x, NULL);
}

static int cmd_metadata_eni(cli *x, int argc, char **argv)
{
    json_object_set_new(x->out, "results", json_array());
    x->ips = argv + 2;
    x->n_ips = argc - 2;
    md_eni_next(x);
    return 0;
}

static int cmd_check(cli *x, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return aliyun_check_start(x->c, x->md, on_check, x, NULL);
}

/* argc bounds count argv[0] and the command; max -1: any number more. */
static const struct command {
    const char *name;
    int min_argc, max_argc;
    bool needs_metadata;
    int (*start)(cli *x, int argc, char **argv);
} commands[] = {
    {"creds", 2, 3, false, cmd_creds},
    {"describe", 2, -1, false, cmd_describe},
    {"allocate", 2, 3, false, cmd_allocate},
    {"associate", 5, 5, false, cmd_associate},
    {"unassociate", 5, 5, false, cmd_unassociate},
    {"release", 3, 3, false, cmd_release},
    {"lifecycle", 4, 4, false, cmd_lifecycle},
    {"burst", 3, 3, false, cmd_burst},
    {"enis", 3, 3, false, cmd_enis},
    {"metadata", 3, 3, true, cmd_metadata},
    {"metadata-eni", 3, -1, true, cmd_metadata_eni},
    {"check", 2, 2, false, cmd_check},
};

static const struct command *find_command(const char *name, int argc)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (strcmp(c->name, name) == 0 && argc >= c->min_argc &&
            (c->max_argc < 0 || argc <= c->max_argc))
            return c;
    }
    return NULL;
}

/* The client's counters and the credentials' state, added to the report. */
static void report_stats(cli *x)
{
    aliyun_client_stats st;
    aliyun_client_get_stats(x->c, &st);
    json_object_set_new(x->out, "stats",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "calls", (json_int_t)st.calls,
                                  "attempts", (json_int_t)st.attempts, "retries",
                                  (json_int_t)st.retries, "throttled", (json_int_t)st.throttled,
                                  "failures", (json_int_t)st.failures));
    if (x->creds) {
        char d[512];
        aliyun_creds_describe(x->creds, d, sizeof(d));
        json_object_set_new(x->out, "creds", json_string(d));
        json_object_set_new(x->out, "refreshes",
                            json_integer((json_int_t)aliyun_creds_refresh_count(x->creds)));
        json_object_set_new(x->out, "calls_ok", json_integer(x->calls_ok));
        json_object_set_new(x->out, "calls_failed", json_integer(x->calls_failed));
    }
}

static void teardown(cli *x)
{
    json_decref(x->out);
    aliyun_client_free(x->c);
    aliyun_creds_free(x->creds);
    aliyun_metadata_free(x->md);
    http_client_free(x->http);
    uv_close((uv_handle_t *)&x->timer, NULL);
    uv_run(x->loop, UV_RUN_DEFAULT);
    uv_walk(x->loop, walk_close, NULL);
    uv_run(x->loop, UV_RUN_DEFAULT);
    uv_loop_close(x->loop);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    enum eip_log_level lvl = EIP_LOG_WARN;
    if (env_str("EIP_AGENT_LOG_LEVEL"))
        eip_log_level_parse(env_str("EIP_AGENT_LOG_LEVEL"), &lvl);
    eip_log_set_level(lvl);

    cli x;
    memset(&x, 0, sizeof(x));
    x.loop = uv_default_loop();
    x.out = json_object();
    if (!x.out)
        return 1;
    json_object_set_new(x.out, "command", json_string(cmd));
    uv_timer_init(x.loop, &x.timer);
    x.timer.data = &x;

    const struct command *c = find_command(cmd, argc);
    int rc = setup(&x, cmd);
    if (!rc && (!c || (c->needs_metadata && !x.md)))
        rc = usage();
    if (rc) {
        teardown(&x);
        return rc;
    }
    x.pending = 1;
    int r = c->start(&x, argc, argv);
    if (r) {
        json_object_set_new(x.out, "start_error", json_integer(r));
        x.failed = 1;
    } else {
        uv_run(x.loop, UV_RUN_DEFAULT);
    }
    report_stats(&x);
    char *s = json_dumps(x.out, JSON_COMPACT);
    printf("%s\n", s ? s : "{}");
    free(s);
    teardown(&x);
    return x.failed ? 1 : 0;
}
