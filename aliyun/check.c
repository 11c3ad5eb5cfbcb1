/* SPDX-License-Identifier: MIT */
#include "aliyun/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/vpc.h"
#include "common/err.h"

struct aliyun_check {
    aliyun_client *c;
    aliyun_call *call;
    aliyun_md_req *mdreq;
    int pending;
    bool ok;
    char api[512];
    char md[256];
    aliyun_check_cb cb;
    void *arg;
};

static void finish_if_done(aliyun_check *k)
{
    if (--k->pending > 0)
        return;
    char detail[1024];
    aliyun_creds *cr = aliyun_client_creds(k->c);
    eip_seterr(detail, sizeof(detail), "credentials from %s; %s%s%s",
               cr ? aliyun_creds_source_name(cr) : "none", k->api, k->md[0] ? "; " : "", k->md);
    aliyun_check_cb cb = k->cb;
    void *arg = k->arg;
    bool ok = k->ok;
    free(k);
    cb(ok, detail, arg);
}

static void on_describe(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    aliyun_check *k = arg;
    k->call = NULL;
    const char *ep = aliyun_client_endpoint(k->c, ALIYUN_SVC_VPC);
    if (res->status == 0) {
        eip_seterr(k->api, sizeof(k->api), "DescribeEipAddresses ok at %s (%ld EIPs in %s)", ep,
                   page ? page->total_count : 0L, aliyun_client_region(k->c));
    } else {
        char e[400];
        aliyun_error_format(&res->error, e, sizeof(e));
        eip_seterr(k->api, sizeof(k->api),
                   "DescribeEipAddresses failed at %s after %d attempt%s: %s", ep, res->attempts,
                   res->attempts == 1 ? "" : "s", e);
        k->ok = false;
    }
    finish_if_done(k);
}

static void on_md(int err, const char *value, size_t len, void *arg)
{
    aliyun_check *k = arg;
    k->mdreq = NULL;
    if (err) {
        eip_seterr(k->md, sizeof(k->md), "metadata region-id failed: %s", strerror(-err));
        k->ok = false;
    } else {
        eip_seterr(k->md, sizeof(k->md), "metadata ok (region-id %.*s)", (int)(len > 64 ? 64 : len),
                   value);
    }
    finish_if_done(k);
}

int aliyun_check_start(aliyun_client *c, aliyun_metadata *md, aliyun_check_cb cb, void *arg,
                       aliyun_check **out)
{
    if (!c || !cb)
        return -EINVAL;
    aliyun_check *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->c = c;
    k->cb = cb;
    k->arg = arg;
    k->ok = true;
    aliyun_describe_eips_params p = {.page_size = 1};
    int r = aliyun_vpc_describe_eips(c, &p, on_describe, k, &k->call);
    if (r) {
        free(k);
        return r;
    }
    k->pending = 1;
    if (md) {
        r = aliyun_metadata_get(md, "region-id", on_md, k, &k->mdreq);
        if (r) {
            aliyun_call_cancel(k->call);
            free(k);
            return r;
        }
        k->pending++;
    }
    if (out)
        *out = k;
    return 0;
}

void aliyun_check_cancel(aliyun_check *k)
{
    if (!k)
        return;
    if (k->call)
        aliyun_call_cancel(k->call);
    if (k->mdreq)
        aliyun_md_req_cancel(k->mdreq);
    free(k);
}
