/* SPDX-License-Identifier: MIT */
#include "agent/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/str.h"
#include "common/timer.h"

/* A held /ready request. */
struct waiter {
    eip_list_node node; /* in controller.waiters */
    struct controller *c;
    http_exchange *ex;
    uv_timer_t *timer; /* freed in its close callback, with the waiter */
    bool by_ip;
    char ns[254], name[254];
    char ip[64];
    bool done;
};

/* ---- finding the pod ---- */

/* The record for ns/name: the live one when a namesake is going away. */
static struct pod *find_name(struct controller *c, const char *ns, const char *name)
{
    struct pod *best = NULL;
    eip_list_node *pos;
    eip_list_foreach(&c->pods, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, node);
        if (p->ghost || p->freeing || strcmp(p->ns, ns) != 0 || strcmp(p->name, name) != 0)
            continue;
        if (!best || (best->deleting && !p->deleting))
            best = p;
    }
    return best;
}

static struct pod *find_ip(struct controller *c, const char *ip)
{
    struct pod *best = NULL;
    eip_list_node *pos;
    eip_list_foreach(&c->pods, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, node);
        if (p->ghost || p->freeing || strcmp(p->pod_ip, ip) != 0)
            continue;
        if (!best || (best->deleting && !p->deleting))
            best = p;
    }
    return best;
}

static struct pod *waiter_pod(struct waiter *w)
{
    return w->by_ip ? find_ip(w->c, w->ip) : find_name(w->c, w->ns, w->name);
}

/* The caller's address as text; IPv4-mapped IPv6 as plain IPv4. */
static int peer_ip(http_exchange *ex, char *out, size_t cap)
{
    const struct sockaddr_storage *ss = http_exchange_peer(ex);
    if (!ss)
        return -EINVAL;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap) ? 0 : -EINVAL;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out, (socklen_t)cap) ? 0
                                                                                        : -EINVAL;
        return inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap) ? 0 : -EINVAL;
    }
    return -EINVAL;
}

/* ---- answers ---- */

static void reply_pod(http_exchange *ex, struct pod *p, int status)
{
    json_t *v = pod_view(p);
    if (!v) {
        http_exchange_reply_error(ex, 500, "out of memory");
        return;
    }
    http_exchange_reply_json(ex, status, v);
}

static void reply_unknown(http_exchange *ex, struct waiter *w, int status)
{
    char msg[600];
    if (w->by_ip)
        eip_seterr(msg, sizeof(msg), "no EIP pod of this node has the IP %s", w->ip);
    else
        eip_seterr(msg, sizeof(msg), "no EIP pod %.253s/%.253s on this node", w->ns, w->name);
    http_exchange_reply_error(ex, status, msg);
}

static void waiter_closed(uv_handle_t *h)
{
    struct waiter *w = h->data;
    free(h);
    free(w);
}

/* Answers (when the exchange is still there) and frees the waiter. */
static void waiter_finish(struct waiter *w, int status)
{
    if (w->done)
        return;
    w->done = true;
    eip_list_remove(&w->c->waiters, &w->node);
    uv_timer_stop(w->timer);
    if (w->ex) {
        http_exchange *ex = w->ex;
        w->ex = NULL;
        struct pod *p = waiter_pod(w);
        if (p)
            reply_pod(ex, p, status);
        else
            reply_unknown(ex, w, status == 200 ? 503 : status);
    }
    uv_close((uv_handle_t *)w->timer, waiter_closed);
}

static void on_wait_timeout(uv_timer_t *t)
{
    struct waiter *w = t->data;
    struct pod *p = waiter_pod(w);
    waiter_finish(w, p && pod_ready(p) ? 200 : 503);
}

static void on_wait_cancel(http_exchange *ex, void *arg)
{
    (void)ex;
    struct waiter *w = arg;
    w->ex = NULL; /* the client went away: nothing to answer */
    waiter_finish(w, 503);
}

void api_pod_changed(struct controller *c, struct pod *p)
{
    if (!pod_ready(p))
        return;
    eip_list_node *pos, *tmp;
    eip_list_foreach_safe(&c->waiters, pos, tmp)
    {
        struct waiter *w = eip_container_of(pos, struct waiter, node);
        bool match = w->by_ip ? strcmp(w->ip, p->pod_ip) == 0
                              : strcmp(w->ns, p->ns) == 0 && strcmp(w->name, p->name) == 0;
        if (match)
            waiter_finish(w, 200);
    }
}

void api_stop(struct controller *c)
{
    eip_list_node *pos;
    while ((pos = eip_list_first(&c->waiters)))
        waiter_finish(eip_container_of(pos, struct waiter, node), 503);
}

/* ?wait=S: 0 and the seconds (0 when absent), or -EINVAL. */
static int parse_wait(http_exchange *ex, unsigned *out)
{
    *out = 0;
    const char *s = http_exchange_query(ex, "wait");
    if (!s)
        return 0;
    if (!*s || strlen(s) > 6)
        return -EINVAL;
    unsigned v = 0;
    for (const char *q = s; *q; q++) {
        if (*q < '0' || *q > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(*q - '0');
    }
    *out = v > API_MAX_WAIT_S ? API_MAX_WAIT_S : v;
    return 0;
}

static void ready(http_exchange *ex, struct controller *c, bool by_ip, const char *ns,
                  const char *name, const char *ip)
{
    unsigned wait_s;
    if (parse_wait(ex, &wait_s)) {
        http_exchange_reply_error(ex, 400, "wait must be a number of seconds (0 to 300)");
        return;
    }
    struct pod *p = by_ip ? find_ip(c, ip) : find_name(c, ns, name);
    if (p && pod_ready(p)) {
        reply_pod(ex, p, 200);
        return;
    }
    if (wait_s == 0 || c->stopping) {
        if (p) {
            reply_pod(ex, p, 503);
        } else {
            struct waiter tmp = {.by_ip = by_ip};
            eip_strcpy(tmp.ns, sizeof(tmp.ns), ns);
            eip_strcpy(tmp.name, sizeof(tmp.name), name);
            eip_strcpy(tmp.ip, sizeof(tmp.ip), ip);
            reply_unknown(ex, &tmp, 404);
        }
        return;
    }
    struct waiter *w = calloc(1, sizeof(*w));
    uv_timer_t *t = w ? malloc(sizeof(*t)) : NULL;
    if (!w || !t || uv_timer_init(c->loop, t)) {
        free(t);
        free(w);
        http_exchange_reply_error(ex, 500, "out of memory");
        return;
    }
    w->c = c;
    w->ex = ex;
    w->timer = t;
    t->data = w;
    w->by_ip = by_ip;
    if (eip_strcpy(w->ns, sizeof(w->ns), ns) || eip_strcpy(w->name, sizeof(w->name), name) ||
        eip_strcpy(w->ip, sizeof(w->ip), ip)) {
        uv_close((uv_handle_t *)t, waiter_closed);
        http_exchange_reply_error(ex, 400, "name too long");
        return;
    }
    if (eip_timer_start(t, on_wait_timeout, (uint64_t)wait_s * 1000, "wait")) {
        uv_close((uv_handle_t *)t, waiter_closed);
        http_exchange_reply_error(ex, 500, "cannot arm the wait timer");
        return;
    }
    eip_list_push_back(&c->waiters, &w->node);
    http_exchange_defer(ex, on_wait_cancel, w);
}

/* ---- handlers ---- */

json_t *api_pods_json(struct controller *c)
{
    json_t *items = json_array();
    json_t *out = items ? json_pack("{s:s,s:o}", "node", c->cfg->node_name, "pods", items) : NULL;
    if (!out)
        return NULL;
    eip_list_node *pos;
    eip_list_foreach(&c->pods, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, node);
        if (p->ghost || p->freeing)
            continue;
        if (json_array_append_new(items, pod_view(p))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static void on_pods(http_exchange *ex, void *arg)
{
    json_t *out = api_pods_json(arg);
    if (!out) {
        http_exchange_reply_error(ex, 500, "out of memory");
        return;
    }
    http_exchange_reply_json(ex, 200, out);
}

static void on_pod(http_exchange *ex, void *arg)
{
    struct controller *c = arg;
    const char *ns = http_exchange_param(ex, "ns"), *name = http_exchange_param(ex, "name");
    struct pod *p = find_name(c, ns, name);
    if (!p) {
        struct waiter tmp = {.by_ip = false};
        eip_strcpy(tmp.ns, sizeof(tmp.ns), ns);
        eip_strcpy(tmp.name, sizeof(tmp.name), name);
        reply_unknown(ex, &tmp, 404);
        return;
    }
    reply_pod(ex, p, 200);
}

static void on_pod_ready(http_exchange *ex, void *arg)
{
    ready(ex, arg, false, http_exchange_param(ex, "ns"), http_exchange_param(ex, "name"), NULL);
}

static void on_self(http_exchange *ex, void *arg)
{
    struct controller *c = arg;
    char ip[64];
    if (peer_ip(ex, ip, sizeof(ip))) {
        http_exchange_reply_error(ex, 400, "cannot tell the caller's address");
        return;
    }
    struct pod *p = find_ip(c, ip);
    if (!p) {
        struct waiter tmp = {.by_ip = true};
        eip_strcpy(tmp.ip, sizeof(tmp.ip), ip);
        reply_unknown(ex, &tmp, 404);
        return;
    }
    reply_pod(ex, p, 200);
}

static void on_self_ready(http_exchange *ex, void *arg)
{
    char ip[64];
    if (peer_ip(ex, ip, sizeof(ip))) {
        http_exchange_reply_error(ex, 400, "cannot tell the caller's address");
        return;
    }
    ready(ex, arg, true, NULL, NULL, ip);
}

int api_routes(struct controller *c, http_server *s)
{
    int r = http_server_route(s, "/v1/pods", on_pods, c);
    if (!r)
        r = http_server_route(s, "/v1/pods/{ns}/{name}", on_pod, c);
    if (!r)
        r = http_server_route(s, "/v1/pods/{ns}/{name}/ready", on_pod_ready, c);
    if (!r)
        r = http_server_route(s, "/v1/self", on_self, c);
    if (!r)
        r = http_server_route(s, "/v1/self/ready", on_self_ready, c);
    return r;
}

int controller_routes(struct controller *c, http_server *s)
{
    return api_routes(c, s);
}
