/* SPDX-License-Identifier: MIT */
/* DescribeNetworkInterfaces responses (aliyun/ecs.h): the page parser, and an
 * IP lookup for every address it found. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/ecs.h"
#include "aliyun/ecs_internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    if (!root)
        return 0;
    aliyun_eni_page pg;
    int r = aliyun_parse_eni_page(root, &pg);
    if (r == 0) {
        if (!pg.next_token)
            abort();
        for (size_t i = 0; i < pg.n; i++) {
            const aliyun_eni *e = &pg.enis[i];
            if (!e->network_interface_id || !e->mac_address || !e->vpc_id || !e->instance_id ||
                !e->status || !e->type || !e->primary_ip || !e->private_ips)
                abort();
            if (e->private_ips[e->n_private_ips] != NULL)
                abort(); /* documented: NULL-terminated */
            for (size_t j = 0; j < e->n_private_ips; j++)
                if (!e->private_ips[j] || !aliyun_eni_page_find_ip(&pg, e->private_ips[j]))
                    abort();
        }
        (void)aliyun_eni_page_find_ip(&pg, "192.168.0.1");
        aliyun_eni_page_clear(&pg);
    } else if (r != -EINVAL && r != -ENOMEM) {
        abort();
    }
    aliyun_eni_page_clear(NULL);
    json_decref(root);
    return 0;
}
