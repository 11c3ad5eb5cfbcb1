/* SPDX-License-Identifier: MIT */
/* Credential documents (aliyun/credentials.h): an STS AssumeRole* response and
 * an ECS RAM role document from the instance metadata, both from the same
 * body (the metadata one as aliyun/credentials.c reads it: json_loadb of the
 * raw answer). The Expiration goes through eip_time_parse_rfc3339. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/credentials.h"
#include "aliyun/credentials_internal.h"
#include "fuzz.h"

static void check(int r, aliyun_credential *c)
{
    if (r == 0) {
        if (!c->access_key_id || !*c->access_key_id || !c->access_key_secret ||
            !*c->access_key_secret)
            abort();
        if (c->security_token && !*c->security_token)
            abort(); /* an empty token is stored as none */
        (void)aliyun_creds_refresh_delay_ms(1767225600000, c->expiration_ms, 180000);
    } else if (r != -EINVAL && r != -ENOMEM) {
        abort();
    } else if (c->access_key_id || c->access_key_secret || c->security_token) {
        abort(); /* documented: filled only on success */
    }
    aliyun_credential_clear(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    if (!root)
        return 0;
    aliyun_credential c = {0};
    check(aliyun_parse_sts_credentials(root, &c), &c);
    check(aliyun_parse_ecs_ram_credentials(root, &c), &c);
    /* Credentials as the document itself, as a RAM role answer would be */
    json_t *inner = json_object_get(root, "Credentials");
    if (inner)
        check(aliyun_parse_ecs_ram_credentials(inner, &c), &c);
    json_decref(root);
    return 0;
}
