/* SPDX-License-Identifier: MIT */
/* The instance metadata client and the credential sources that read remote
 * answers, over a fake transport answering from the input (support_transport):
 * hardened-mode token handling, aliyun_metadata_find_eni (listing of MACs, then
 * each MAC's private-ipv4s and network-interface-id), the ECS RAM role chain
 * (role listing, then the role's credential document) and RRSA (STS
 * AssumeRoleWithOIDC answer). Input: one byte choosing the flow, then answers.
 * Once the input is used up every request gets a 404. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aliyun/credentials.h"
#include "aliyun/metadata.h"
#include "fuzz.h"
#include "support_transport.h"

typedef struct env {
    uv_loop_t loop;
    fuzz_in in;
    fuzz_transport ft;
    int done;
    aliyun_creds *creds;
    char token_path[64];
} env;

static void on_value(int err, const char *value, size_t len, void *arg)
{
    if (err == 0 && (!value || strlen(value) > len))
        abort();
    if (err > 0)
        abort();
    ((env *)arg)->done++;
}

static void on_eni(int err, const char *eni_id, const char *mac, void *arg)
{
    if (err == 0 && (!eni_id || !mac))
        abort();
    if (err > 0)
        abort();
    ((env *)arg)->done++;
}

static void on_creds(aliyun_creds_waiter *w, int err, void *arg)
{
    env *e = arg;
    (void)w; /* unlinked (owner NULL) by the time it is called */
    const aliyun_credential *cur = aliyun_creds_current(e->creds);
    if (err == 0 && (!cur || !cur->access_key_id || !cur->access_key_secret))
        abort();
    char buf[256];
    (void)aliyun_creds_describe(e->creds, buf, sizeof(buf));
    e->done++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    env e;
    memset(&e, 0, sizeof(e));
    e.in = (fuzz_in){data, size};
    uint8_t which = fuzz_u8(&e.in);
    if (uv_loop_init(&e.loop) != 0)
        abort();
    e.ft = (fuzz_transport){.loop = &e.loop,
                            .in = &e.in,
                            .max_requests = 64,
                            .default_status = 404,
                            .default_body = ""};
    aliyun_transport tr = fuzz_transport_get(&e.ft);
    aliyun_metadata_opts mo = {
        .loop = &e.loop, .transport = &tr, .disable_token = (which & 0x80) != 0, .max_attempts = 2};
    aliyun_metadata *md = NULL;
    if (aliyun_metadata_new(&md, &mo, NULL, 0))
        abort();

    aliyun_creds *creds = NULL;
    aliyun_creds_waiter w;
    int tokfd = -1;
    int r = 0;
    switch (which & 3) {
    case 0:
        r = aliyun_metadata_find_eni(md, "192.168.0.21", on_eni, &e, NULL);
        break;
    case 1:
        r = aliyun_metadata_get(md, ALIYUN_MD_MACS, on_value, &e, NULL);
        break;
    case 2: {
        aliyun_creds_opts co = {.loop = &e.loop,
                                .transport = &tr,
                                .metadata = md,
                                .ram_role = (which & 4) ? "eip-role" : NULL};
        if (aliyun_creds_new(&creds, &co, NULL, 0))
            abort();
        e.creds = creds;
        r = aliyun_creds_wait(creds, &w, on_creds, &e);
        break;
    }
    default: {
        tokfd = memfd_create("oidc-token", MFD_CLOEXEC);
        if (tokfd < 0 || write(tokfd, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n", 30) != 30)
            abort();
        snprintf(e.token_path, sizeof(e.token_path), "/proc/self/fd/%d", tokfd);
        aliyun_creds_opts co = {.loop = &e.loop,
                                .transport = &tr,
                                .role_arn = "acs:ram::1:role/eip-agent",
                                .oidc_provider_arn = "acs:ram::1:oidc-provider/ack-rrsa-c1",
                                .oidc_token_file = e.token_path,
                                .sts_endpoint = "https://sts-vpc.cn-hangzhou.aliyuncs.com",
                                .disable_ecs_ram_role = true};
        if (aliyun_creds_new(&creds, &co, NULL, 0))
            abort();
        e.creds = creds;
        r = aliyun_creds_wait(creds, &w, on_creds, &e);
        break;
    }
    }
    if (r != 0)
        abort();
    while (e.done == 0 && uv_run(&e.loop, UV_RUN_ONCE))
        ;
    if (e.done != 1)
        abort(); /* exactly one callback */
    if ((which & 3) == 0) {
        /* a second lookup may come from the cache */
        char eni[64];
        (void)aliyun_metadata_cached_eni(md, "192.168.0.21", eni, sizeof(eni));
    }
    aliyun_creds_free(creds);
    aliyun_metadata_free(md);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&e.loop) != 0)
        abort();
    if (tokfd >= 0)
        close(tokfd);
    return 0;
}
