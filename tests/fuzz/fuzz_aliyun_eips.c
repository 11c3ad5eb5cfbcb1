/* SPDX-License-Identifier: MIT */
/* DescribeEipAddresses responses (aliyun/vpc.h): the page parser on the whole
 * body, and the single-EIP parser on each element, with tag lookups. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/vpc.h"
#include "aliyun/vpc_internal.h"
#include "fuzz.h"

static void check_eip(const aliyun_eip *e)
{
    const char *f[] = {e->allocation_id,
                       e->ip_address,
                       e->status,
                       e->instance_id,
                       e->instance_type,
                       e->private_ip_address,
                       e->bandwidth,
                       e->internet_charge_type,
                       e->isp,
                       e->name,
                       e->description,
                       e->resource_group_id,
                       e->bandwidth_package_id,
                       e->public_ip_address_pool_id,
                       e->mode};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (!f[i])
            abort(); /* documented: never NULL */
    if (!*e->allocation_id)
        abort();
    for (size_t i = 0; i < e->n_tags; i++) {
        if (!e->tags[i].key || !e->tags[i].value)
            abort();
        if (aliyun_eip_tag(e, e->tags[i].key) == NULL)
            abort();
    }
    (void)aliyun_eip_tag(e, "ack.aliyun.com/eip-agent");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    if (!root)
        return 0;
    aliyun_eip_page pg;
    int r = aliyun_parse_eip_page(root, &pg);
    if (r == 0) {
        for (size_t i = 0; i < pg.n; i++)
            check_eip(&pg.eips[i]);
        aliyun_eip_page_clear(&pg);
        aliyun_eip_page_clear(&pg); /* cleared twice is harmless */
    } else if (r != -EINVAL && r != -ENOMEM) {
        abort();
    }

    /* each element (or the root itself) as one EIP */
    json_t *arr = json_object_get(json_object_get(root, "EipAddresses"), "EipAddress");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        aliyun_eip e;
        if (aliyun_parse_eip(o, &e) == 0) {
            check_eip(&e);
            aliyun_eip_clear(&e);
        }
    }
    aliyun_eip e;
    if (aliyun_parse_eip(root, &e) == 0) {
        check_eip(&e);
        aliyun_eip_clear(&e);
    }
    aliyun_eip_clear(NULL);
    json_decref(root);
    return 0;
}
