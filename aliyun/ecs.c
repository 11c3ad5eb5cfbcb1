/* SPDX-License-Identifier: MIT */
#include "aliyun/ecs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/ecs_internal.h"
#include "common/err.h"
#include "common/log.h"

static char *str_dup_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

static void eni_clear(aliyun_eni *e)
{
    free(e->network_interface_id);
    free(e->mac_address);
    free(e->vpc_id);
    free(e->instance_id);
    free(e->status);
    free(e->type);
    free(e->primary_ip);
    for (size_t i = 0; i < e->n_private_ips; i++)
        free(e->private_ips[i]);
    free(e->private_ips);
    memset(e, 0, sizeof(*e));
}

void aliyun_eni_page_clear(aliyun_eni_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        eni_clear(&p->enis[i]);
    free(p->enis);
    free(p->next_token);
    memset(p, 0, sizeof(*p));
}

const aliyun_eni *aliyun_eni_page_find_ip(const aliyun_eni_page *p, const char *ip)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->enis[i].n_private_ips; j++)
            if (strcmp(p->enis[i].private_ips[j], ip) == 0)
                return &p->enis[i];
    return NULL;
}

static int parse_eni(json_t *o, aliyun_eni *e)
{
    json_error_t jerr;
    const char *id = NULL;
    json_t *sets = NULL;
    memset(e, 0, sizeof(*e));
    if (json_unpack_ex(o, &jerr, 0, "{s:s, s?{s?o}}", "NetworkInterfaceId", &id, "PrivateIpSets",
                       "PrivateIpSet", &sets))
        return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
    e->network_interface_id = str_dup_field(o, "NetworkInterfaceId");
    e->mac_address = str_dup_field(o, "MacAddress");
    e->vpc_id = str_dup_field(o, "VpcId");
    e->instance_id = str_dup_field(o, "InstanceId");
    e->status = str_dup_field(o, "Status");
    e->type = str_dup_field(o, "Type");
    e->primary_ip = str_dup_field(o, "PrivateIpAddress");
    if (!e->network_interface_id || !e->mac_address || !e->vpc_id || !e->instance_id ||
        !e->status || !e->type || !e->primary_ip)
        goto nomem;
    size_t n = json_is_array(sets) ? json_array_size(sets) : 0;
    e->private_ips = calloc(n + 2, sizeof(*e->private_ips));
    if (!e->private_ips)
        goto nomem;
    size_t i;
    json_t *s;
    json_array_foreach(sets, i, s)
    {
        const char *ip = NULL;
        if (json_unpack_ex(s, &jerr, 0, "{s:s}", "PrivateIpAddress", &ip)) {
            /* not a missing address: the ENI would seem not to hold it */
            if (json_error_code(&jerr) == json_error_out_of_memory)
                goto nomem;
            continue;
        }
        if (!(e->private_ips[e->n_private_ips] = strdup(ip)))
            goto nomem;
        e->n_private_ips++;
    }
    /* the primary address is always one of the ENI's addresses */
    if (e->n_private_ips == 0 && *e->primary_ip) {
        if (!(e->private_ips[0] = strdup(e->primary_ip)))
            goto nomem;
        e->n_private_ips = 1;
    }
    return 0;
nomem:
    eni_clear(e);
    return -ENOMEM;
}

int aliyun_parse_eni_page(json_t *root, aliyun_eni_page *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *arr = NULL;
    json_int_t total = 0;
    const char *next = "";
    if (json_unpack_ex(root, &jerr, 0, "{s:{s:o}, s?I, s?s}", "NetworkInterfaceSets",
                       "NetworkInterfaceSet", &arr, "TotalCount", &total, "NextToken", &next))
        return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
    if (!json_is_array(arr))
        return -EINVAL;
    out->total_count = (long)total;
    out->next_token = strdup(next ? next : "");
    if (!out->next_token)
        return -ENOMEM;
    size_t n = json_array_size(arr);
    if (n) {
        out->enis = calloc(n, sizeof(*out->enis));
        if (!out->enis) {
            aliyun_eni_page_clear(out);
            return -ENOMEM;
        }
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        int r = parse_eni(o, &out->enis[out->n]);
        if (r) {
            aliyun_eni_page_clear(out);
            return r;
        }
        out->n++;
    }
    return 0;
}

typedef struct eni_ctx {
    aliyun_eni_page_cb cb;
    void *arg;
} eni_ctx;

static void eni_ctx_free(void *arg)
{
    free(arg);
}

static void on_enis(const aliyun_result *res, json_t *body, void *arg)
{
    eni_ctx *t = arg;
    if (res->status) {
        t->cb(res, NULL, t->arg);
        return;
    }
    aliyun_eni_page pg;
    int r = aliyun_parse_eni_page(body, &pg);
    if (r) {
        aliyun_result bad = *res;
        bad.status = r;
        bad.cls = ALIYUN_ERR_FATAL;
        eip_seterr(bad.error.code, sizeof(bad.error.code), "%s", "InvalidResponse");
        eip_seterr(bad.error.message, sizeof(bad.error.message), "%s",
                   "DescribeNetworkInterfaces response has no NetworkInterfaceSets");
        t->cb(&bad, NULL, t->arg);
        return;
    }
    t->cb(res, &pg, t->arg);
    aliyun_eni_page_clear(&pg);
}

static int add_list(aliyun_params *q, const char *prefix, const char *const *v, size_t n)
{
    if (n > 100)
        return -EINVAL;
    int r = 0;
    for (size_t i = 0; i < n && !r; i++) {
        char k[64];
        int w = snprintf(k, sizeof(k), "%s.%zu", prefix, i + 1);
        r = w < 0 || (size_t)w >= sizeof(k) ? -E2BIG : aliyun_params_add(q, k, v[i]);
    }
    return r;
}

int aliyun_ecs_describe_enis(aliyun_client *c, const aliyun_describe_enis_params *p,
                             aliyun_eni_page_cb cb, void *arg, aliyun_call **out)
{
    if (!c || !p || !cb)
        return -EINVAL;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = aliyun_params_add(
        &q, "RegionId", p->region_id && *p->region_id ? p->region_id : aliyun_client_region(c));
    if (!r && p->vpc_id && *p->vpc_id)
        r = aliyun_params_add(&q, "VpcId", p->vpc_id);
    if (!r && p->instance_id && *p->instance_id)
        r = aliyun_params_add(&q, "InstanceId", p->instance_id);
    if (!r && p->primary_ip_address && *p->primary_ip_address)
        r = aliyun_params_add(&q, "PrimaryIpAddress", p->primary_ip_address);
    if (!r)
        r = add_list(&q, "PrivateIpAddress", p->private_ips, p->n_private_ips);
    if (!r)
        r = add_list(&q, "NetworkInterfaceId", p->network_interface_ids,
                     p->n_network_interface_ids);
    if (!r && p->next_token && *p->next_token)
        r = aliyun_params_add(&q, "NextToken", p->next_token);
    if (!r)
        r = aliyun_params_addf(&q, "MaxResults", "%d", p->max_results > 0 ? p->max_results : 100);
    eni_ctx *t = r ? NULL : calloc(1, sizeof(*t));
    if (!r && !t)
        r = -ENOMEM;
    if (r) {
        aliyun_params_free(&q);
        return r;
    }
    t->cb = cb;
    t->arg = arg;
    aliyun_call_spec spec = {.service = ALIYUN_SVC_ECS,
                             .action = "DescribeNetworkInterfaces",
                             .version = ALIYUN_ECS_VERSION,
                             .cb = on_enis,
                             .arg = t,
                             .arg_free = eni_ctx_free};
    r = aliyun_client_call(c, &spec, &q, out);
    if (r)
        free(t);
    return r;
}

/* Which question the finder asks; finder_set_step() is the only writer:
 * PRIMARY -> SECONDARY when no ENI has ip as its primary address. */
enum finder_step {
    FIND_PRIMARY,   /* DescribeNetworkInterfaces PrimaryIpAddress=ip */
    FIND_SECONDARY, /* DescribeNetworkInterfaces PrivateIpAddress.1=ip */
};

struct aliyun_eni_finder {
    aliyun_client *c;
    char *vpc_id, *ip;
    enum finder_step step;
    aliyun_call *call;
    aliyun_eni_found_cb cb;
    void *arg;
};

static void finder_set_step(aliyun_eni_finder *f, enum finder_step to)
{
    log_debug("aliyun: finding the ENI of %s: %s -> %s", f->ip,
              f->step == FIND_PRIMARY ? "primary" : "secondary",
              to == FIND_PRIMARY ? "primary" : "secondary");
    f->step = to;
}

static void finder_free(aliyun_eni_finder *f)
{
    free(f->vpc_id);
    free(f->ip);
    free(f);
}

static int finder_ask(aliyun_eni_finder *f);

static void finder_page(const aliyun_result *res, const aliyun_eni_page *pg, void *arg)
{
    aliyun_eni_finder *f = arg;
    f->call = NULL;
    const aliyun_eni *e = pg ? aliyun_eni_page_find_ip(pg, f->ip) : NULL;
    if (res->status == 0 && !e && f->step == FIND_PRIMARY) {
        finder_set_step(f, FIND_SECONDARY);
        int r = finder_ask(f);
        if (r == 0)
            return;
        aliyun_result bad = *res;
        bad.status = r;
        bad.cls = ALIYUN_ERR_FATAL;
        f->cb(&bad, NULL, f->arg);
        finder_free(f);
        return;
    }
    if (res->status == 0 && !e) {
        aliyun_result none = *res;
        none.status = -ENOENT;
        none.cls = ALIYUN_ERR_FATAL;
        f->cb(&none, NULL, f->arg);
    } else {
        f->cb(res, e ? e->network_interface_id : NULL, f->arg);
    }
    finder_free(f);
}

static int finder_ask(aliyun_eni_finder *f)
{
    const char *ips[] = {f->ip};
    aliyun_describe_enis_params p = {.vpc_id = f->vpc_id};
    if (f->step == FIND_PRIMARY) {
        p.primary_ip_address = f->ip;
    } else {
        p.private_ips = ips;
        p.n_private_ips = 1;
    }
    return aliyun_ecs_describe_enis(f->c, &p, finder_page, f, &f->call);
}

int aliyun_ecs_find_eni(aliyun_client *c, const aliyun_find_eni_params *p, aliyun_eni_found_cb cb,
                        void *arg, aliyun_eni_finder **out)
{
    if (!c || !p || !p->ip || !*p->ip || !cb)
        return -EINVAL;
    aliyun_eni_finder *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->c = c;
    f->cb = cb;
    f->arg = arg;
    f->step = FIND_PRIMARY;
    f->ip = strdup(p->ip);
    f->vpc_id = p->vpc_id ? strdup(p->vpc_id) : NULL;
    int r = (!f->ip || (p->vpc_id && !f->vpc_id)) ? -ENOMEM : finder_ask(f);
    if (r) {
        finder_free(f);
        return r;
    }
    if (out)
        *out = f;
    return 0;
}

void aliyun_eni_finder_cancel(aliyun_eni_finder *f)
{
    if (!f)
        return;
    if (f->call)
        aliyun_call_cancel(f->call);
    finder_free(f);
}
