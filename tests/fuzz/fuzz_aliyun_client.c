/* SPDX-License-Identifier: MIT */
/* Whole Alibaba Cloud calls over a fake transport whose answers come from the
 * input: what on_http_done, the typed VPC/ECS layers (AllocateEipAddress,
 * DescribeEipAddresses and its pager, the Unassociate verification, ENI lookup)
 * and the retry logic do with any status and body. Input: one byte choosing
 * the call, then answers, each two bytes of status (0: a transport error), two
 * bytes of body length and the body. Once the input is used up every request
 * gets a 403 Forbidden, which ends any call. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/client.h"
#include "aliyun/ecs.h"
#include "aliyun/vpc.h"
#include "fuzz.h"
#include "support_transport.h"

typedef struct fake_env {
    uv_loop_t loop;
    fuzz_transport ft;
    fuzz_in in;
    int done;
} fake_env;

static const char forbidden[] = "{\"Code\":\"Forbidden.RAM\",\"Message\":\"no\"}";

static void check_result(const aliyun_result *res)
{
    if (memchr(res->error.code, '\0', sizeof(res->error.code)) == NULL ||
        memchr(res->error.message, '\0', sizeof(res->error.message)) == NULL)
        abort();
    if (res->status == 0 && res->cls != ALIYUN_ERR_NONE && res->cls != ALIYUN_ERR_DONE)
        abort();
}

static void on_done(const aliyun_result *res, void *arg)
{
    check_result(res);
    ((fake_env *)arg)->done++;
}

static void on_allocate(const aliyun_result *res, const aliyun_allocated_eip *eip, void *arg)
{
    check_result(res);
    if ((res->status == 0) != (eip != NULL))
        abort();
    if (eip &&
        (!eip->allocation_id || !eip->eip_address || !eip->resource_group_id || !eip->order_id))
        abort();
    ((fake_env *)arg)->done++;
}

static void on_page(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    check_result(res);
    if ((res->status == 0) != (page != NULL))
        abort();
    for (size_t i = 0; page && i < page->n; i++)
        if (!page->eips[i].allocation_id)
            abort();
    ((fake_env *)arg)->done++;
}

static void on_enis(const aliyun_result *res, const aliyun_eni_page *page, void *arg)
{
    check_result(res);
    if ((res->status == 0) != (page != NULL))
        abort();
    ((fake_env *)arg)->done++;
}

static void on_found(const aliyun_result *res, const char *eni_id, void *arg)
{
    check_result(res);
    if (res->status == 0 && !eni_id)
        abort();
    ((fake_env *)arg)->done++;
}

/* Starts the call the input's first byte picks (its low three bits). */
static int start_call(aliyun_client *c, uint8_t which, fake_env *env)
{
    int r = -1;
    const aliyun_eip_binding bind = {
        .allocation_id = "eip-1", .instance_id = "eni-1", .private_ip_address = "10.0.0.5"};
    switch (which & 7) {
    case 0: {
        aliyun_allocate_eip_params p = {
            .bandwidth = 5, .internet_charge_type = "PayByTraffic", .client_token = "ct-1"};
        r = aliyun_vpc_allocate_eip(c, &p, on_allocate, env, NULL);
        break;
    }
    case 1: {
        const char *ids[] = {"eip-1", "eip-2"};
        aliyun_describe_eips_params p = {.allocation_ids = ids, .n_allocation_ids = 2};
        r = aliyun_vpc_describe_eips(c, &p, on_page, env, NULL);
        break;
    }
    case 2: {
        aliyun_describe_eips_params p = {.page_size = 2};
        r = aliyun_vpc_describe_all_eips(c, &p, on_page, env, NULL);
        break;
    }
    case 3: {
        aliyun_unassociate_eip_params p = {.from = bind};
        r = aliyun_vpc_unassociate_eip(c, &p, on_done, env, NULL);
        break;
    }
    case 4:
        r = aliyun_vpc_release_eip(c, &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                   on_done, env, NULL);
        break;
    case 5: {
        aliyun_describe_enis_params p = {.vpc_id = "vpc-1"};
        r = aliyun_ecs_describe_enis(c, &p, on_enis, env, NULL);
        break;
    }
    case 6: {
        aliyun_find_eni_params p = {.vpc_id = "vpc-1", .ip = "10.0.0.5"};
        r = aliyun_ecs_find_eni(c, &p, on_found, env, NULL);
        break;
    }
    default: {
        aliyun_associate_eip_params p = {.to = bind};
        r = aliyun_vpc_associate_eip(c, &p, on_done, env, NULL);
        break;
    }
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    fake_env env;
    memset(&env, 0, sizeof(env));
    env.in = (fuzz_in){data, size};
    uint8_t which = fuzz_u8(&env.in);
    if (uv_loop_init(&env.loop) != 0)
        abort();
    env.ft = (fuzz_transport){.loop = &env.loop,
                              .in = &env.in,
                              .max_requests = 64,
                              .default_status = 403,
                              .default_body = forbidden};
    aliyun_transport tr = fuzz_transport_get(&env.ft);
    aliyun_creds_opts co = {.loop = &env.loop,
                            .transport = &tr,
                            .access_key_id = "LTAIfuzz",
                            .access_key_secret = "fuzzsecret",
                            .security_token = (which & 0x80) ? "STS.fuzztoken" : NULL,
                            .disable_ecs_ram_role = true};
    aliyun_creds *creds = NULL;
    if (aliyun_creds_new(&creds, &co, NULL, 0))
        abort();
    aliyun_client_opts o = {.loop = &env.loop,
                            .transport = &tr,
                            .creds = creds,
                            .region_id = "cn-hangzhou",
                            .qps = -1,
                            .backoff_base_ms = 1,
                            .backoff_cap_ms = 1,
                            .max_attempts = 3,
                            .signature_version = (which & 0x40) ? ALIYUN_SIGN_RPC : ALIYUN_SIGN_V3};
    aliyun_client *c = NULL;
    if (aliyun_client_new(&c, &o, NULL, 0))
        abort();

    if (start_call(c, which, &env) != 0)
        abort();
    while (env.done == 0 && uv_run(&env.loop, UV_RUN_ONCE))
        ;
    if (env.done != 1)
        abort(); /* exactly one callback */
    aliyun_client_free(c);
    aliyun_creds_free(creds);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&env.loop) != 0)
        abort();
    return 0;
}
