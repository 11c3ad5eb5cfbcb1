/* SPDX-License-Identifier: MIT */
#include "agent/eipwatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/list.h"
#include "common/log.h"
#include "common/timer.h"

struct batch;

struct eipwatch_req {
    eip_list_node node; /* in w->waiting (sorted by due) or in its batch */
    eipwatch *w;
    struct batch *batch; /* NULL while waiting */
    char *allocation_id;
    uint64_t due; /* uv_now() time */
    eipwatch_cb cb;
    void *arg;
};

struct batch {
    eip_list_node node; /* in w->batches */
    eipwatch *w;
    eip_list reqs;
    aliyun_call *call;
};

struct eipwatch {
    uv_loop_t *loop;
    aliyun_client *client;
    uint64_t window_ms;
    uint64_t hold_ms;
    uv_timer_t *timer;
    eip_list waiting; /* sorted by due, FIFO among equals */
    eip_list batches; /* in flight */
    eipwatch_stats stats;
};

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

int eipwatch_new(eipwatch **out, const eipwatch_opts *opts)
{
    *out = NULL;
    if (!opts->loop || !opts->client)
        return -EINVAL;
    eipwatch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->timer = malloc(sizeof(*w->timer));
    if (!w->timer || uv_timer_init(opts->loop, w->timer)) {
        free(w->timer);
        free(w);
        return -ENOMEM;
    }
    w->timer->data = w;
    w->loop = opts->loop;
    w->client = opts->client;
    w->window_ms = opts->window_ms > 0 ? (uint64_t)opts->window_ms : 250;
    eip_list_init(&w->waiting);
    eip_list_init(&w->batches);
    *out = w;
    return 0;
}

static void req_free(eipwatch_req *r)
{
    free(r->allocation_id);
    free(r);
}

static void batch_free(struct batch *b)
{
    eip_list_node *pos, *tmp;
    eip_list_foreach_safe(&b->reqs, pos, tmp)
    {
        eip_list_remove(&b->reqs, pos);
        req_free(eip_container_of(pos, eipwatch_req, node));
    }
    free(b);
}

void eipwatch_free(eipwatch *w)
{
    if (!w)
        return;
    eip_list_node *pos;
    while ((pos = eip_list_pop_front(&w->waiting)))
        req_free(eip_container_of(pos, eipwatch_req, node));
    while ((pos = eip_list_pop_front(&w->batches))) {
        struct batch *b = eip_container_of(pos, struct batch, node);
        if (b->call)
            aliyun_call_cancel(b->call);
        batch_free(b);
    }
    uv_close((uv_handle_t *)w->timer, timer_closed);
    free(w);
}

static void on_timer(uv_timer_t *t);

static void arm(eipwatch *w)
{
    eip_list_node *first = eip_list_first(&w->waiting);
    if (!first) {
        uv_timer_stop(w->timer);
        return;
    }
    uint64_t due = eip_container_of(first, eipwatch_req, node)->due;
    uint64_t now = uv_now(w->loop);
    eip_timer_start(w->timer, on_timer, due > now ? due - now : 0, "EIP describe");
}

int eipwatch_describe(eipwatch *w, const char *allocation_id, int64_t delay_ms, eipwatch_cb cb,
                      void *arg, eipwatch_req **out)
{
    if (!w || !allocation_id || !*allocation_id || !cb)
        return -EINVAL;
    eipwatch_req *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->allocation_id = strdup(allocation_id);
    if (!r->allocation_id) {
        free(r);
        return -ENOMEM;
    }
    r->w = w;
    r->cb = cb;
    r->arg = arg;
    r->due = uv_now(w->loop) + (uint64_t)(delay_ms > 0 ? delay_ms : 0);
    /* sorted insert from the back: most requests are the latest due */
    eip_list_node *pos = eip_list_last(&w->waiting);
    while (pos && eip_container_of(pos, eipwatch_req, node)->due > r->due)
        pos = pos->prev == &w->waiting.head ? NULL : pos->prev;
    eip_list_insert_between(&r->node, pos ? pos : &w->waiting.head,
                            pos ? pos->next : w->waiting.head.next);
    w->waiting.len++;
    w->stats.pending++;
    if (eip_list_first(&w->waiting) == &r->node)
        arm(w);
    if (out)
        *out = r;
    return 0;
}

void eipwatch_cancel(eipwatch_req *r)
{
    if (!r)
        return;
    eipwatch *w = r->w;
    if (r->batch) {
        eip_list_remove(&r->batch->reqs, &r->node);
    } else {
        bool was_first = eip_list_first(&w->waiting) == &r->node;
        eip_list_remove(&w->waiting, &r->node);
        if (was_first)
            arm(w);
    }
    w->stats.pending--;
    req_free(r);
}

static bool batch_has(const struct batch *b, const char *id)
{
    eip_list_node *pos;
    eip_list_foreach(&b->reqs, pos)
    {
        if (strcmp(eip_container_of(pos, eipwatch_req, node)->allocation_id, id) == 0)
            return true;
    }
    return false;
}

static const aliyun_eip *find_eip(const aliyun_eip_page *page, const char *id)
{
    for (size_t i = 0; page && i < page->n; i++)
        if (strcmp(page->eips[i].allocation_id, id) == 0)
            return &page->eips[i];
    return NULL;
}

/* Answers every request of the batch, one at a time: a callback may cancel
 * other requests of the same batch or ask again. */
static void on_page(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    struct batch *b = arg;
    eipwatch *w = b->w;
    b->call = NULL;
    eip_list_remove(&w->batches, &b->node);
    eip_list_node *pos;
    while ((pos = eip_list_pop_front(&b->reqs))) {
        eipwatch_req *r = eip_container_of(pos, eipwatch_req, node);
        w->stats.pending--;
        w->stats.answered++;
        if (res->status)
            r->cb(res->status, NULL, res, r->arg);
        else
            r->cb(0, find_eip(page, r->allocation_id), res, r->arg);
        req_free(r);
    }
    free(b);
}

/* Sends one batch: the first waiting request plus every other one due within
 * the window, up to the id limit (several requests for one id share it). */
static int send_batch(eipwatch *w, uint64_t horizon)
{
    struct batch *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->w = w;
    eip_list_init(&b->reqs);
    const char *ids[ALIYUN_DESCRIBE_MAX_IDS];
    size_t n = 0;
    eip_list_node *pos, *tmp;
    eip_list_foreach_safe(&w->waiting, pos, tmp)
    {
        eipwatch_req *r = eip_container_of(pos, eipwatch_req, node);
        if (r->due > horizon)
            break;
        if (!batch_has(b, r->allocation_id)) {
            if (n == ALIYUN_DESCRIBE_MAX_IDS)
                continue;
            ids[n++] = r->allocation_id;
        }
        eip_list_remove(&w->waiting, &r->node);
        eip_list_push_back(&b->reqs, &r->node);
        r->batch = b;
    }
    aliyun_describe_eips_params p = {
        .allocation_ids = ids,
        .n_allocation_ids = n,
        .page_size = ALIYUN_DESCRIBE_MAX_IDS,
    };
    int r = aliyun_vpc_describe_eips(w->client, &p, on_page, b, &b->call);
    if (r) {
        /* back to the waiting list, as they were */
        while ((pos = eip_list_pop_front(&b->reqs))) {
            eipwatch_req *q = eip_container_of(pos, eipwatch_req, node);
            q->batch = NULL;
            eip_list_push_front(&w->waiting, &q->node);
        }
        free(b);
        return r;
    }
    eip_list_push_back(&w->batches, &b->node);
    w->stats.describes++;
    return 0;
}

/* Distinct ids due by horizon, counted up to the batch limit. */
static size_t due_ids(const eipwatch *w, uint64_t horizon)
{
    const char *seen[ALIYUN_DESCRIBE_MAX_IDS];
    size_t n = 0;
    eip_list_node *pos;
    eip_list_foreach(&w->waiting, pos)
    {
        eipwatch_req *r = eip_container_of(pos, eipwatch_req, node);
        if (r->due > horizon || n == ALIYUN_DESCRIBE_MAX_IDS)
            break;
        size_t i = 0;
        while (i < n && strcmp(seen[i], r->allocation_id) != 0)
            i++;
        if (i == n)
            seen[n++] = r->allocation_id;
    }
    return n;
}

void eipwatch_set_hold(eipwatch *w, int64_t hold_ms)
{
    w->hold_ms = hold_ms > 0 ? (uint64_t)hold_ms : 0;
}

static void on_timer(uv_timer_t *t)
{
    eipwatch *w = t->data;
    uint64_t now = uv_now(w->loop);
    eip_list_node *first;
    while ((first = eip_list_first(&w->waiting))) {
        eipwatch_req *r = eip_container_of(first, eipwatch_req, node);
        if (r->due > now)
            break;
        if (w->hold_ms && now < r->due + w->hold_ms &&
            due_ids(w, now + w->window_ms) < ALIYUN_DESCRIBE_MAX_IDS) {
            /* more are coming: wait for them, at most hold_ms past this one's due */
            eip_timer_start(w->timer, on_timer, r->due + w->hold_ms - now, "EIP describe");
            return;
        }
        int err = send_batch(w, now + w->window_ms);
        if (err) {
            /* only -ENOMEM can get here: try again in a second */
            log_warn("eipwatch: cannot send a DescribeEipAddresses: %s", strerror(-err));
            eip_timer_start(w->timer, on_timer, 1000, "EIP describe");
            return;
        }
    }
    arm(w);
}

void eipwatch_get_stats(const eipwatch *w, eipwatch_stats *out)
{
    *out = w->stats;
}
