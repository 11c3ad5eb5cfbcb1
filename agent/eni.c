/* SPDX-License-Identifier: MIT */
#include "agent/eni.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/ecs.h"
#include "common/err.h"
#include "common/list.h"
#include "common/log.h"
#include "common/str.h"
#include "common/timer.h"

#define API_BATCH 100

enum req_step {
    STEP_MD_QUEUED,  /* waiting for the metadata (one lookup at a time) */
    STEP_MD_FIND,    /* aliyun_metadata_find_eni in flight */
    STEP_MD_PRIMARY, /* the MAC's primary-ip-address in flight */
    STEP_API_QUEUED, /* waiting for the next batched DescribeNetworkInterfaces */
    STEP_API_BATCH,  /* in a batch (PrivateIpAddress.N) */
    STEP_API_ONE,    /* PrimaryIpAddress=ip in flight */
    STEP_DONE,       /* answer on the next loop turn */
};

struct mac_primary {
    eip_list_node node;
    char *mac, *ip;
};

struct api_batch;

struct eni_req {
    eip_list_node node; /* in the list of its step */
    eni_resolver *er;
    enum req_step step;
    char *ip;
    char *mac;
    char *eni_id;
    bool primary;
    int err;
    char detail[256];
    aliyun_md_req *mdreq;
    aliyun_call *call;
    struct api_batch *batch;
    eni_cb cb;
    void *arg;
};

struct api_batch {
    eni_resolver *er;
    eip_list reqs;
    aliyun_call *call;
    eip_list_node node;
    bool listing;         /* no metadata: every ENI of the VPC, page by page */
    char next_token[512]; /* listing: the next page */
};

struct eni_resolver {
    uv_loop_t *loop;
    aliyun_metadata *md;
    aliyun_client *client;
    char *vpc_id;
    eip_list md_queue;  /* STEP_MD_QUEUED, FIFO */
    eni_req *md_active; /* STEP_MD_FIND / STEP_MD_PRIMARY */
    eip_list api_queue; /* STEP_API_QUEUED */
    eip_list api_one;   /* STEP_API_ONE */
    eip_list batches;   /* in flight */
    eip_list done;      /* STEP_DONE */
    eip_list macs;      /* primary-ip-address per MAC */
    uv_timer_t *kick;   /* runs the queues and delivers answers from the loop */
    eni_resolver_stats stats;
};

static void on_kick(uv_timer_t *t);

static void kick_closed(uv_handle_t *h)
{
    free(h);
}

int eni_resolver_new(eni_resolver **out, const eni_resolver_opts *opts)
{
    *out = NULL;
    if (!opts->loop || !opts->client)
        return -EINVAL;
    eni_resolver *er = calloc(1, sizeof(*er));
    if (!er)
        return -ENOMEM;
    er->kick = malloc(sizeof(*er->kick));
    if (!er->kick || uv_timer_init(opts->loop, er->kick)) {
        free(er->kick);
        free(er);
        return -ENOMEM;
    }
    er->kick->data = er;
    if (opts->vpc_id && !(er->vpc_id = strdup(opts->vpc_id))) {
        uv_close((uv_handle_t *)er->kick, kick_closed);
        free(er);
        return -ENOMEM;
    }
    er->loop = opts->loop;
    er->md = opts->md;
    er->client = opts->client;
    eip_list_init(&er->md_queue);
    eip_list_init(&er->api_queue);
    eip_list_init(&er->api_one);
    eip_list_init(&er->batches);
    eip_list_init(&er->done);
    eip_list_init(&er->macs);
    *out = er;
    return 0;
}

static void req_free(eni_req *r)
{
    free(r->ip);
    free(r->mac);
    free(r->eni_id);
    free(r);
}

/* Unlinks r from wherever it is and stops what it has in flight. */
static void req_detach(eni_req *r)
{
    eni_resolver *er = r->er;
    switch (r->step) {
    case STEP_MD_QUEUED:
        eip_list_remove(&er->md_queue, &r->node);
        break;
    case STEP_MD_FIND:
    case STEP_MD_PRIMARY:
        if (r->mdreq)
            aliyun_md_req_cancel(r->mdreq);
        r->mdreq = NULL;
        er->md_active = NULL;
        break;
    case STEP_API_QUEUED:
        eip_list_remove(&er->api_queue, &r->node);
        break;
    case STEP_API_BATCH:
        eip_list_remove(&r->batch->reqs, &r->node);
        r->batch = NULL;
        break;
    case STEP_API_ONE:
        if (r->call)
            aliyun_call_cancel(r->call);
        r->call = NULL;
        eip_list_remove(&er->api_one, &r->node);
        break;
    case STEP_DONE:
        eip_list_remove(&er->done, &r->node);
        break;
    }
}

static void schedule(eni_resolver *er)
{
    if (!uv_is_active((uv_handle_t *)er->kick))
        eip_timer_start(er->kick, on_kick, 0, "ENI resolver");
}

static void answer(eni_req *r, int err, const char *eni_id, bool primary, const char *detail)
{
    eni_resolver *er = r->er;
    req_detach(r);
    r->step = STEP_DONE;
    r->err = err;
    r->primary = primary;
    if (eni_id && eni_id != r->eni_id) {
        free(r->eni_id);
        if (!(r->eni_id = strdup(eni_id)))
            r->err = -ENOMEM;
    }
    eip_seterr(r->detail, sizeof(r->detail), "%.255s", detail ? detail : "");
    eip_list_push_back(&er->done, &r->node);
    if (r->err == 0)
        er->stats.resolved++;
    else if (r->err == -ENOENT)
        er->stats.not_found++;
    else
        er->stats.failed++;
    schedule(er);
}

static void to_api(eni_req *r)
{
    eni_resolver *er = r->er;
    req_detach(r);
    r->step = STEP_API_QUEUED;
    eip_list_push_back(&er->api_queue, &r->node);
    schedule(er);
}

void eni_resolver_free(eni_resolver *er)
{
    if (!er)
        return;
    eip_list_node *pos;
    if (er->md_active) {
        eni_req *r = er->md_active;
        req_detach(r);
        req_free(r);
    }
    while ((pos = eip_list_pop_front(&er->md_queue)))
        req_free(eip_container_of(pos, eni_req, node));
    while ((pos = eip_list_pop_front(&er->api_queue)))
        req_free(eip_container_of(pos, eni_req, node));
    while ((pos = eip_list_first(&er->api_one))) {
        eni_req *r = eip_container_of(pos, eni_req, node);
        req_detach(r);
        req_free(r);
    }
    while ((pos = eip_list_pop_front(&er->done)))
        req_free(eip_container_of(pos, eni_req, node));
    while ((pos = eip_list_pop_front(&er->batches))) {
        struct api_batch *b = eip_container_of(pos, struct api_batch, node);
        aliyun_call_cancel(b->call);
        eip_list_node *q;
        while ((q = eip_list_pop_front(&b->reqs)))
            req_free(eip_container_of(q, eni_req, node));
        free(b);
    }
    while ((pos = eip_list_pop_front(&er->macs))) {
        struct mac_primary *m = eip_container_of(pos, struct mac_primary, node);
        free(m->mac);
        free(m->ip);
        free(m);
    }
    uv_close((uv_handle_t *)er->kick, kick_closed);
    free(er->vpc_id);
    free(er);
}

int eni_resolve(eni_resolver *er, const char *ip, eni_cb cb, void *arg, eni_req **out)
{
    if (!er || !ip || !*ip || !cb)
        return -EINVAL;
    eni_req *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (!(r->ip = strdup(ip))) {
        free(r);
        return -ENOMEM;
    }
    r->er = er;
    r->cb = cb;
    r->arg = arg;
    if (er->md) {
        r->step = STEP_MD_QUEUED;
        eip_list_push_back(&er->md_queue, &r->node);
    } else {
        r->step = STEP_API_QUEUED;
        eip_list_push_back(&er->api_queue, &r->node);
    }
    schedule(er);
    if (out)
        *out = r;
    return 0;
}

void eni_req_cancel(eni_req *r)
{
    if (!r)
        return;
    req_detach(r);
    req_free(r);
}

/* ---- metadata ---- */

static const char *mac_primary(eni_resolver *er, const char *mac)
{
    eip_list_node *pos;
    eip_list_foreach(&er->macs, pos)
    {
        struct mac_primary *m = eip_container_of(pos, struct mac_primary, node);
        if (strcmp(m->mac, mac) == 0)
            return m->ip;
    }
    return NULL;
}

static void md_next(eni_resolver *er);

static void on_md_primary(int err, const char *value, size_t len, void *arg)
{
    eni_req *r = arg;
    eni_resolver *er = r->er;
    r->mdreq = NULL;
    if (err) {
        /* The ENI is known; only whether the IP is its primary is not. */
        char d[160];
        eip_seterr(d, sizeof(d), "metadata primary-ip-address of %.40s: %s", r->mac,
                   strerror(-err));
        log_debug("eni: %s; asking the API", d);
        to_api(r);
        md_next(er);
        return;
    }
    while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == ' ' || value[len - 1] == '\r'))
        len--;
    struct mac_primary *m = calloc(1, sizeof(*m));
    if (m && (m->mac = strdup(r->mac)) && (m->ip = strndup(value, len))) {
        eip_list_push_back(&er->macs, &m->node);
        answer(r, 0, r->eni_id, strcmp(m->ip, r->ip) == 0, NULL);
    } else {
        if (m) {
            free(m->mac);
            free(m);
        }
        answer(r, -ENOMEM, NULL, false, "out of memory");
    }
    md_next(er);
}

static void on_md_eni(int err, const char *eni_id, const char *mac, void *arg)
{
    eni_req *r = arg;
    eni_resolver *er = r->er;
    r->mdreq = NULL;
    if (err) {
        /* Not in this instance's metadata (or the metadata failed): the API decides. */
        log_debug("eni: %s not found in the instance metadata (%s); asking the API", r->ip,
                  strerror(-err));
        to_api(r);
        md_next(er);
        return;
    }
    free(r->eni_id);
    free(r->mac);
    r->eni_id = strdup(eni_id);
    r->mac = strdup(mac ? mac : "");
    if (!r->eni_id || !r->mac) {
        answer(r, -ENOMEM, NULL, false, "out of memory");
        md_next(er);
        return;
    }
    const char *pip = mac_primary(er, r->mac);
    if (pip || !*r->mac) {
        answer(r, 0, r->eni_id, pip && strcmp(pip, r->ip) == 0, NULL);
        md_next(er);
        return;
    }
    char path[256];
    int n = snprintf(path, sizeof(path), "%s%s/primary-ip-address", ALIYUN_MD_MACS, r->mac);
    int rc = n > 0 && (size_t)n < sizeof(path)
                 ? aliyun_metadata_get(er->md, path, on_md_primary, r, &r->mdreq)
                 : -E2BIG;
    if (rc) {
        to_api(r);
        md_next(er);
        return;
    }
    r->step = STEP_MD_PRIMARY;
}

/* Starts the next metadata lookup when none runs. */
static void md_next(eni_resolver *er)
{
    eip_list_node *n;
    while (!er->md_active && (n = eip_list_pop_front(&er->md_queue))) {
        eni_req *r = eip_container_of(n, eni_req, node);
        r->step = STEP_MD_FIND;
        er->md_active = r;
        er->stats.metadata_lookups++;
        int rc = aliyun_metadata_find_eni(er->md, r->ip, on_md_eni, r, &r->mdreq);
        if (rc) {
            r->mdreq = NULL;
            to_api(r);
        }
    }
}

/* ---- API ---- */

static void on_one(const aliyun_result *res, const aliyun_eni_page *pg, void *arg)
{
    eni_req *r = arg;
    r->call = NULL;
    if (res->status) {
        char d[200];
        aliyun_error_format(&res->error, d, sizeof(d));
        answer(r, res->status, NULL, false, d);
        return;
    }
    const aliyun_eni *e = aliyun_eni_page_find_ip(pg, r->ip);
    if (!e) {
        answer(r, -ENOENT, NULL, false, "no ENI holds this IP");
        return;
    }
    answer(r, 0, e->network_interface_id, strcmp(e->primary_ip, r->ip) == 0, NULL);
}

static void ask_one(eni_req *r)
{
    eni_resolver *er = r->er;
    aliyun_describe_enis_params p = {.vpc_id = er->vpc_id, .primary_ip_address = r->ip};
    r->step = STEP_API_ONE;
    eip_list_push_back(&er->api_one, &r->node);
    er->stats.api_calls++;
    int rc = aliyun_ecs_describe_enis(er->client, &p, on_one, r, &r->call);
    if (rc) {
        r->call = NULL;
        answer(r, rc, NULL, false, "cannot send DescribeNetworkInterfaces");
    }
}

static const aliyun_eni *page_find(const aliyun_eni_page *pg, const char *ip)
{
    for (size_t i = 0; pg && i < pg->n; i++) {
        if (strcmp(pg->enis[i].primary_ip, ip) == 0)
            return &pg->enis[i];
        for (size_t j = 0; j < pg->enis[i].n_private_ips; j++)
            if (strcmp(pg->enis[i].private_ips[j], ip) == 0)
                return &pg->enis[i];
    }
    return NULL;
}

static int send_batch(struct api_batch *b);

static void on_batch(const aliyun_result *res, const aliyun_eni_page *pg, void *arg)
{
    struct api_batch *b = arg;
    eni_resolver *er = b->er;
    b->call = NULL;
    eip_list_node *pos, *tmp;
    if (res->status) {
        eip_list_remove(&er->batches, &b->node);
        char d[200];
        aliyun_error_format(&res->error, d, sizeof(d));
        while ((pos = eip_list_first(&b->reqs)))
            answer(eip_container_of(pos, eni_req, node), res->status, NULL, false, d);
        free(b);
        return;
    }
    eip_list_foreach_safe(&b->reqs, pos, tmp)
    {
        eni_req *r = eip_container_of(pos, eni_req, node);
        const aliyun_eni *e = page_find(pg, r->ip);
        if (e)
            answer(r, 0, e->network_interface_id, strcmp(e->primary_ip, r->ip) == 0, NULL);
    }
    if (b->listing && pg->next_token && *pg->next_token && !eip_list_empty(&b->reqs) &&
        strlen(pg->next_token) < sizeof(b->next_token)) {
        eip_strcpy(b->next_token, sizeof(b->next_token), pg->next_token); /* length checked */
        if (send_batch(b) == 0)
            return;
    }
    eip_list_remove(&er->batches, &b->node);
    /* not a secondary address (or not listed): maybe a primary one, asked alone */
    while ((pos = eip_list_first(&b->reqs))) {
        eni_req *r = eip_container_of(pos, eni_req, node);
        req_detach(r);
        ask_one(r);
    }
    free(b);
}

static int send_batch(struct api_batch *b)
{
    eni_resolver *er = b->er;
    const char *ips[API_BATCH];
    size_t n = 0;
    eip_list_node *pos;
    if (!b->listing) {
        eip_list_foreach(&b->reqs, pos)
        {
            if (n < API_BATCH)
                ips[n++] = eip_container_of(pos, eni_req, node)->ip;
        }
    }
    aliyun_describe_enis_params p = {.vpc_id = er->vpc_id,
                                     .private_ips = n ? ips : NULL,
                                     .n_private_ips = n,
                                     .next_token = b->next_token[0] ? b->next_token : NULL,
                                     .max_results = b->listing ? 500 : 0};
    er->stats.api_calls++;
    return aliyun_ecs_describe_enis(er->client, &p, on_batch, b, &b->call);
}

/* With the metadata, what it did not know is asked as secondary addresses,
 * PrivateIpAddress.N, up to 100 at once. Without it (a virtual node, where each
 * pod's IP is its own ENI's primary address, which PrivateIpAddress.N does not
 * match), two or more pending IPs are looked for in one listing of the VPC's
 * ENIs; a single one is asked as PrimaryIpAddress. */
static void api_next(eni_resolver *er)
{
    while (!eip_list_empty(&er->api_queue)) {
        if (!er->md && er->api_queue.len == 1) {
            eni_req *r = eip_container_of(eip_list_pop_front(&er->api_queue), eni_req, node);
            ask_one(r);
            continue;
        }
        struct api_batch *b = calloc(1, sizeof(*b));
        if (!b) {
            eip_list_node *pos;
            while ((pos = eip_list_first(&er->api_queue)))
                answer(eip_container_of(pos, eni_req, node), -ENOMEM, NULL, false, "out of memory");
            return;
        }
        b->er = er;
        b->listing = !er->md;
        eip_list_init(&b->reqs);
        eip_list_node *pos;
        size_t n = 0;
        while ((b->listing || n < API_BATCH) && (pos = eip_list_pop_front(&er->api_queue))) {
            eni_req *r = eip_container_of(pos, eni_req, node);
            r->step = STEP_API_BATCH;
            r->batch = b;
            eip_list_push_back(&b->reqs, &r->node);
            n++;
        }
        eip_list_push_back(&er->batches, &b->node);
        int rc = send_batch(b);
        if (rc) {
            eip_list_remove(&er->batches, &b->node);
            while ((pos = eip_list_first(&b->reqs)))
                answer(eip_container_of(pos, eni_req, node), rc, NULL, false,
                       "cannot send DescribeNetworkInterfaces");
            free(b);
        }
    }
}

static void on_kick(uv_timer_t *t)
{
    eni_resolver *er = t->data;
    md_next(er);
    api_next(er);
    /* answers last, one at a time: a callback may cancel another answered
     * request or ask again (that schedules another turn) */
    eip_list_node *pos;
    while ((pos = eip_list_pop_front(&er->done))) {
        eni_req *r = eip_container_of(pos, eni_req, node);
        r->cb(r->err, r->eni_id, r->primary, r->detail, r->arg);
        req_free(r);
    }
}

void eni_resolver_get_stats(const eni_resolver *er, eni_resolver_stats *out)
{
    *out = er->stats;
}
