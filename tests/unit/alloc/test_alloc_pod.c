/* SPDX-License-Identifier: MIT */
/* Allocation failure along a pod's way to Bound: the node controller
 * (agent/controller.h, agent/pod.h) with a fake API server on loopback
 * (support_apiserver.h: the pod list and watch with one EIP pod with a pod IP,
 * the Node, PodEIP get/create/update/status, the pods/status patch, Events) and
 * the fake aliyun transport (the inventory, then the EIP; the ENI holding the
 * pod IP; AllocateEipAddress; AssociateEipAddress; the EIP InUse as soon as it
 * is associated). With each allocation failing in turn (the fakes' own too):
 *  - the pod ends Bound: every failure on the way is retried (a failed step
 *    is Failed and retried, a failed list or inventory is asked again); only
 *    controller_start or controller_set_cloud may refuse at once, with -ENOMEM;
 *  - every body the API server received is whole JSON with its fields (the
 *    condition with type, status, reason and message, the EIP's annotations when
 *    True; the PodEIP with spec.allocationID and allocationType; its status; the
 *    Events with their involved object), and what it keeps at the end is the
 *    truth: the PodEIP of eip-1, InUse on the ENI and pod IP, the condition True;
 *  - every request the cloud received is signed whole, and one EIP was
 *    allocated, with this pod's ClientToken;
 *  - nothing leaks after controller_free and the loop run (LeakSanitizer after
 *    every run), the loop closes.
 * Timers of the project's code run a hundred times faster here (uv_timer_start
 * is wrapped for this executable), so the describe a second after an
 * association and the retries after a second take 10 ms. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/annotations.h"
#include "agent/config.h"
#include "agent/controller.h"
#include "agent/metrics.h"
#include "agent/pod.h"
#include "agent/readiness.h"
#include "aliyun/client.h"
#include "aliyun/ecs.h"
#include "aliyun/vpc.h"
#include "alloc_fail.h"
#include "common/json.h"
#include "common/list.h"
#include "http/client.h"
#include "k8s/k8s.h"
#include "support_acs.h"
#include "support_apiserver.h"
#include "support_fake.h"

#define AK "LTAItest"
#define SK "testsecret"
#define WARP 1000
#define DEADLINE_MS 4000 /* real time */

/* ---- time, a hundred times faster ---- */

int __real_uv_timer_start(uv_timer_t *h, uv_timer_cb cb, uint64_t timeout, uint64_t repeat);
int __wrap_uv_timer_start(uv_timer_t *h, uv_timer_cb cb, uint64_t timeout, uint64_t repeat);
uint64_t __real_uv_now(const uv_loop_t *loop);
uint64_t __wrap_uv_now(const uv_loop_t *loop);

/* Rounded up: a timer never fires before the warped clock says it is due. */
static uint64_t warp(uint64_t ms)
{
    return (ms + WARP - 1) / WARP;
}

int __wrap_uv_timer_start(uv_timer_t *h, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    return __real_uv_timer_start(h, cb, warp(timeout), warp(repeat));
}

/* The loop's clock as the project's code reads it runs as fast as its timers:
 * what is due at uv_now() + d (eipwatch, a pod's retry) is due when the warped
 * timer fires. */
uint64_t __wrap_uv_now(const uv_loop_t *loop)
{
    static uint64_t base;
    uint64_t t = __real_uv_now(loop);
    if (!base)
        base = t;
    return base + (t - base) * WARP;
}

/* ---- the world the fakes play ---- */

#define PODEIP_ITEM "/apis/alibabacloud.com/v1beta1/namespaces/ns/podeips/web-0"
#define PODEIPS "/apis/alibabacloud.com/v1beta1/namespaces/ns/podeips"
#define POD_STATUS "/api/v1/namespaces/ns/pods/web-0/status"
#define EVENTS "/api/v1/namespaces/ns/events"

static const char pod_list[] =
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"5\"},"
    "\"items\":[{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"ns\",\"uid\":\"uid-1\","
    "\"resourceVersion\":\"5\",\"annotations\":{\"network.alibabacloud.com/pod-with-eip\":"
    "\"true\",\"network.alibabacloud.com/eip-bandwidth\":\"10\",\"network.alibabacloud.com/"
    "eip-tags\":\"{\\\"team\\\":\\\"games\\\"}\"},\"ownerReferences\":[{"
    "\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"name\":\"web\",\"uid\":\"ss-1\","
    "\"controller\":true}]},\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\","
    "\"podIP\":\"10.0.0.5\"}}]}";
static const char pod[] = "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
                          "\"web-0\",\"namespace\":\"ns\",\"uid\":\"uid-1\","
                          "\"resourceVersion\":\"6\"}}";
/* a virtual node: no instance metadata, the pod IP is its own ENI's primary */
static const char node[] =
    "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"n1\",\"labels\":{"
    "\"kubernetes.io/hostname\":\"n1\",\"type\":\"virtual-kubelet\"}}}";
static const char not_found[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                "\"reason\":\"NotFound\",\"code\":404}";
static const char exists[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                             "\"reason\":\"AlreadyExists\",\"code\":409}";
static const char conflict[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"reason\":\"Conflict\",\"code\":409}";
static const char no_memory[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                "\"reason\":\"InternalError\",\"code\":500}";
static const char bad_body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"reason\":\"BadRequest\",\"code\":400}";

static const char empty_eips[] = "{\"RequestId\":\"d0\",\"TotalCount\":0,\"PageNumber\":1,"
                                 "\"PageSize\":100,\"EipAddresses\":{\"EipAddress\":[]}}";
static const char eni_page[] =
    "{\"RequestId\":\"n1\",\"TotalCount\":1,\"NextToken\":\"\",\"NetworkInterfaceSets\":{"
    "\"NetworkInterfaceSet\":[{\"NetworkInterfaceId\":\"eni-1\",\"MacAddress\":"
    "\"00:16:3e:00:00:01\",\"VpcId\":\"vpc-1\",\"InstanceId\":\"i-1\",\"Status\":\"InUse\","
    "\"Type\":\"Secondary\",\"PrivateIpAddress\":\"10.0.0.5\",\"PrivateIpSets\":{\"PrivateIpSet\":"
    "[{\"PrivateIpAddress\":\"10.0.0.5\",\"Primary\":true}]}}]}}";
static const char empty_enis[] = "{\"RequestId\":\"n0\",\"TotalCount\":0,\"NextToken\":\"\","
                                 "\"NetworkInterfaceSets\":{\"NetworkInterfaceSet\":[]}}";

typedef struct world {
    /* the API server */
    char podeip[8192]; /* the PodEIP kept, "" when none */
    long podeip_rv;
    bool condition_true; /* a pods/status patch with the condition True was accepted */
    char echo[8192];
    /* the cloud */
    bool allocated, associated;
    char eip_body[2048];
    /* the client */
    struct controller *ctl;
    bool refused; /* controller_start or controller_set_cloud said -ENOMEM */
} world;

/* Stores the PodEIP of body (a create, an update or a status merge) as the
 * server: its own allocations; out of memory is a 500. The status answered. */
static int store_podeip(world *w, const api_request *req, bool create, bool status)
{
    json_t *in = NULL, *kept = NULL;
    int st = 200;
    int e = eip_json_loadb(req->body, req->body_len, 0, &in, NULL);
    if (e)
        return e == -ENOMEM ? 500 : 400;
    if (!create) {
        if (!w->podeip[0]) {
            json_decref(in);
            return 404;
        }
        e = eip_json_loadb(w->podeip, strlen(w->podeip), 0, &kept, NULL);
        if (e) {
            json_decref(in);
            return 500;
        }
    }
    json_t *obj = in;
    if (create) {
        if (w->podeip[0])
            st = 409;
    } else if (status) {
        /* a merge patch of the status subresource: the status alone */
        obj = kept;
        json_t *s = json_object_get(in, "status");
        if (!json_is_object(s) || json_object_set(kept, "status", s))
            st = json_is_object(s) ? 500 : 400;
    } else {
        const char *rv =
            json_string_value(json_object_get(json_object_get(in, "metadata"), "resourceVersion"));
        if (!rv || strtol(rv, NULL, 10) != w->podeip_rv)
            st = 409;
        else if (json_object_get(kept, "status") &&
                 json_object_set(in, "status", json_object_get(kept, "status")))
            st = 500;
    }
    char rv[24];
    char *dump = NULL;
    snprintf(rv, sizeof(rv), "%ld", w->podeip_rv + 1);
    json_t *md = json_object_get(obj, "metadata");
    if (st == 200 &&
        (!json_is_object(md) || json_object_set_new(md, "resourceVersion", json_string(rv)) ||
         eip_json_dump(obj, JSON_COMPACT, sizeof(w->podeip), &dump, NULL)))
        st = 500;
    if (st == 200) {
        snprintf(w->podeip, sizeof(w->podeip), "%s", dump); /* dumped with that max */
        w->podeip_rv++;
        if (create)
            st = 201;
    }
    free(dump);
    json_decref(in);
    json_decref(kept);
    return st;
}

static void h_podeip(world *w, const api_request *req, api_answer *a, bool item, bool status)
{
    int st;
    if (item && !status && strcmp(req->method, "GET") == 0) {
        api_reply(a, w->podeip[0] ? 200 : 404, w->podeip[0] ? w->podeip : not_found);
        return;
    }
    if (!item && strcmp(req->method, "POST") == 0)
        st = store_podeip(w, req, true, false);
    else if (item && !status && strcmp(req->method, "PUT") == 0)
        st = store_podeip(w, req, false, false);
    else if (status && strcmp(req->method, "PATCH") == 0)
        st = store_podeip(w, req, false, true);
    else
        st = 405;
    if (st == 200 || st == 201) {
        snprintf(w->echo, sizeof(w->echo), "%s", w->podeip);
        api_reply(a, st, w->echo);
        return;
    }
    api_reply(a, st,
              st == 500   ? no_memory
              : st == 404 ? not_found
              : st == 409 ? (item ? conflict : exists)
                          : bad_body);
}

static void handler(apiserver *s, const api_request *req, api_answer *a, void *arg)
{
    (void)s;
    world *w = arg;
    char v[64];
    bool get = strcmp(req->method, "GET") == 0;
    if (get && strcmp(req->path, "/api/v1/pods") == 0) {
        if (api_query(req->query, "watch", v, sizeof(v)))
            a->kind = API_HANG;
        else
            api_reply(a, 200, pod_list);
    } else if (get && strcmp(req->path, "/api/v1/nodes/n1") == 0) {
        api_reply(a, 200, node);
    } else if (strcmp(req->path, PODEIP_ITEM) == 0) {
        h_podeip(w, req, a, true, false);
    } else if (strcmp(req->path, PODEIP_ITEM "/status") == 0) {
        h_podeip(w, req, a, true, true);
    } else if (strcmp(req->path, PODEIPS) == 0) {
        h_podeip(w, req, a, false, false);
    } else if (strcmp(req->path, POD_STATUS) == 0 && strcmp(req->method, "PATCH") == 0) {
        if (strstr(req->body, "\"status\":\"True\""))
            w->condition_true = true;
        api_reply(a, 200, pod);
    } else if (strncmp(req->path, EVENTS, sizeof(EVENTS) - 1) == 0 &&
               (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PATCH") == 0)) {
        snprintf(w->echo, sizeof(w->echo), "%.*s", (int)req->body_len, req->body);
        api_reply(a, strcmp(req->method, "POST") == 0 ? 201 : 200, w->echo);
    } else {
        api_reply(a, 404, not_found);
    }
}

static const char *eip_json(world *w)
{
    snprintf(w->eip_body, sizeof(w->eip_body),
             "{\"RequestId\":\"d1\",\"TotalCount\":1,\"PageNumber\":1,\"PageSize\":100,"
             "\"EipAddresses\":{\"EipAddress\":[{\"AllocationId\":\"eip-1\",\"IpAddress\":"
             "\"203.0.113.5\",\"Status\":\"%s\",\"InstanceId\":\"%s\",\"InstanceType\":\"%s\","
             "\"PrivateIpAddress\":\"%s\",\"Bandwidth\":\"10\",\"InternetChargeType\":"
             "\"PayByTraffic\",\"Tags\":{\"Tag\":[{\"Key\":\"ack.aliyun.com\",\"Value\":\"c1\"},"
             "{\"Key\":\"eip-agent/node\",\"Value\":\"n1\"},{\"Key\":\"eip-agent/pod-namespace\","
             "\"Value\":\"ns\"},{\"Key\":\"eip-agent/pod-name\",\"Value\":\"web-0\"},{\"Key\":"
             "\"eip-agent/pod-uid\",\"Value\":\"uid-1\"},{\"Key\":\"eip-agent/type\",\"Value\":"
             "\"Auto\"}]}}]}}",
             w->associated ? "InUse" : "Available", w->associated ? "eni-1" : "",
             w->associated ? "NetworkInterface" : "", "");
    return w->eip_body;
}

static fake_reply cloud(fake_transport *ft, const fake_req *req, void *arg)
{
    (void)ft;
    world *w = arg;
    fake_reply r = {.status = 200, .body = "{\"RequestId\":\"ok\"}"};
    const char *action = fake_req_header(req, "x-acs-action");
    if (!action)
        return r;
    if (strcmp(action, "DescribeEipAddresses") == 0) {
        r.body = w->allocated ? eip_json(w) : empty_eips;
    } else if (strcmp(action, "DescribeNetworkInterfaces") == 0) {
        const char *ip = fake_req_param(req, "PrimaryIpAddress");
        if (!ip)
            ip = fake_req_param(req, "PrivateIpAddress.1");
        r.body = ip && strcmp(ip, "10.0.0.5") == 0 ? eni_page : empty_enis;
    } else if (strcmp(action, "AllocateEipAddress") == 0) {
        w->allocated = true;
        r.body = "{\"RequestId\":\"a\",\"AllocationId\":\"eip-1\",\"EipAddress\":"
                 "\"203.0.113.5\",\"ResourceGroupId\":\"rg-1\",\"OrderId\":\"\"}";
    } else if (strcmp(action, "AssociateEipAddress") == 0) {
        if (w->associated) {
            r.status = 400;
            r.body = "{\"RequestId\":\"s\",\"Code\":\"IncorrectEipStatus\",\"Message\":"
                     "\"Current elastic IP status does not support this operation.\"}";
        }
        w->associated = true;
    }
    return r;
}

/* ---- the pod ---- */

static struct pod *the_pod(const world *w)
{
    eip_list_node *pos;
    eip_list_foreach(&w->ctl->pods, pos)
    {
        struct pod *p = eip_container_of(pos, struct pod, node);
        if (strcmp(p->uid, "uid-1") == 0 && !p->freeing)
            return p;
    }
    return NULL;
}

static bool finished(void *arg)
{
    world *w = arg;
    if (w->refused)
        return true;
    struct pod *p = the_pod(w);
    return p && p->state == POD_BOUND;
}

/* ---- what the fakes received ---- */

static void check_condition(const json_t *b, const char *what)
{
    const json_t *md = json_object_get(b, "metadata");
    api_want_str(md, "uid", "uid-1", what);
    const json_t *conds = json_object_get(json_object_get(b, "status"), "conditions");
    if (json_array_size(conds) != 1)
        fail_msg("%s: %zu conditions", what, json_array_size(conds));
    const json_t *c = json_array_get(conds, 0);
    api_want_str(c, "type", EIP_CONDITION_TYPE, what);
    api_want_str(c, "reason", NULL, what);
    api_want_str(c, "message", NULL, what);
    api_want_str(c, "lastTransitionTime", NULL, what);
    const char *st = json_string_value(json_object_get(c, "status"));
    if (!st || (strcmp(st, "True") != 0 && strcmp(st, "False") != 0))
        fail_msg("%s: condition status %s", what, st ? st : "(absent)");
    if (strcmp(st, "True") == 0) {
        const json_t *ann = json_object_get(md, "annotations");
        api_want_str(ann, EIP_ANNOT_ALLOCATED_ID, "eip-1", what);
        api_want_str(ann, EIP_ANNOT_ALLOCATED_ADDRESS, "203.0.113.5", what);
        api_want_str(ann, EIP_ANNOT_LEGACY_ADDRESS, "203.0.113.5", what);
    }
}

static void check_podeip(const json_t *b, bool update, const char *what)
{
    api_want_str(b, "apiVersion", "alibabacloud.com/v1beta1", what);
    api_want_str(b, "kind", "PodEIP", what);
    const json_t *md = json_object_get(b, "metadata");
    api_want_str(md, "name", "web-0", what);
    api_want_str(md, "namespace", "ns", what);
    api_want_str(json_object_get(md, "annotations"), "eip-agent/pod-uid", "uid-1", what);
    if (update)
        api_want_str(md, "resourceVersion", NULL, what);
    const json_t *spec = json_object_get(b, "spec");
    api_want_str(spec, "allocationID", "eip-1", what);
    api_want_str(json_object_get(spec, "allocationType"), "type", "Auto", what);
    api_want_str(json_object_get(spec, "allocationType"), "releaseStrategy", "Follow", what);
}

static void check_podeip_status(const json_t *b, const char *what)
{
    const json_t *st = json_object_get(b, "status");
    api_want_str(st, "eipAddress", "203.0.113.5", what);
    api_want_str(st, "networkInterfaceID", "eni-1", what);
    api_want_str(st, "privateIPAddress", "10.0.0.5", what);
    api_want_str(st, "status", "InUse", what);
}

static void check_event(const json_t *b, bool patch, const char *what)
{
    if (patch) {
        if (!json_is_integer(json_object_get(b, "count")))
            fail_msg("%s: no count", what);
        api_want_str(b, "lastTimestamp", NULL, what);
        api_want_str(b, "message", NULL, what);
        return;
    }
    const json_t *inv = json_object_get(b, "involvedObject");
    api_want_str(inv, "kind", "Pod", what);
    api_want_str(inv, "name", "web-0", what);
    api_want_str(inv, "namespace", "ns", what);
    api_want_str(inv, "uid", "uid-1", what);
    api_want_str(inv, "apiVersion", "v1", what);
    api_want_str(json_object_get(b, "metadata"), "name", NULL, what);
    api_want_str(json_object_get(b, "metadata"), "namespace", "ns", what);
    api_want_str(b, "reason", NULL, what);
    api_want_str(b, "message", NULL, what);
    api_want_str(b, "type", NULL, what);
    api_want_str(json_object_get(b, "source"), "component", "eip-agent", what);
    api_want_str(json_object_get(b, "source"), "host", "n1", what);
    api_want_str(b, "firstTimestamp", NULL, what);
    api_want_str(b, "lastTimestamp", NULL, what);
    if (!json_is_integer(json_object_get(b, "count")))
        fail_msg("%s: no count", what);
}

/* Each body the API server received, by where it went. */
static void check_body(const api_record *r, const json_t *b, const char *what, void *arg)
{
    (void)arg;
    const char *ct = r->content_type;
    if (strcmp(r->path, POD_STATUS) == 0) {
        assert_string_equal(ct, "application/strategic-merge-patch+json");
        check_condition(b, what);
    } else if (strcmp(r->path, PODEIPS) == 0) {
        assert_string_equal(ct, "application/json");
        check_podeip(b, false, what);
    } else if (strcmp(r->path, PODEIP_ITEM) == 0) {
        assert_string_equal(ct, "application/json");
        check_podeip(b, true, what);
    } else if (strcmp(r->path, PODEIP_ITEM "/status") == 0) {
        assert_string_equal(ct, "application/merge-patch+json");
        check_podeip_status(b, what);
    } else if (strncmp(r->path, EVENTS, sizeof(EVENTS) - 1) == 0) {
        bool patch = strcmp(r->method, "PATCH") == 0;
        assert_string_equal(ct,
                            patch ? "application/strategic-merge-patch+json" : "application/json");
        check_event(b, patch, what);
    } else {
        fail_msg("%s: unexpected", what);
    }
}

/* What the API server keeps at the end: the PodEIP of the bound EIP. */
static void check_kept(const world *w)
{
    if (!w->condition_true)
        fail_msg("Bound, but no condition True was written");
    json_t *b = NULL;
    if (eip_json_loadb(w->podeip, strlen(w->podeip), 0, &b, NULL))
        fail_msg("Bound, but the PodEIP kept is %s", w->podeip[0] ? w->podeip : "none");
    check_podeip(b, true, "the PodEIP kept");
    check_podeip_status(b, "the PodEIP kept");
    json_decref(b);
}

static void check_cloud(const fake_transport *ft)
{
    for (size_t i = 0; i < ft->n; i++) {
        const fake_req *req = ft->reqs[i];
        const char *action = fake_req_header(req, "x-acs-action");
        assert_non_null(action);
        aliyun_params q;
        acs_parse_query(req->url, &q);
        acs_check_signature(req, &q, AK, SK);
        acs_want_param(req, &q, "RegionId", "cn-hangzhou");
        if (strcmp(action, "AllocateEipAddress") == 0) {
            acs_want_param(req, &q, "ClientToken", "eip-agent-uid-1-0");
            acs_want_param(req, &q, "Bandwidth", "10");
            acs_want_param(req, &q, "InternetChargeType", "PayByTraffic");
            acs_want_param(req, &q, "InstanceChargeType", "PostPaid");
            for (int t = 1; t <= EIP_AGENT_TAGS; t++) {
                char k[32], v[32];
                snprintf(k, sizeof(k), "Tag.%d.Key", t);
                snprintf(v, sizeof(v), "Tag.%d.Value", t);
                acs_want_param(req, &q, k, NULL);
                acs_want_param(req, &q, v, NULL);
            }
            acs_want_param(req, &q, "Tag.5.Value", "uid-1");
            acs_want_param(req, &q, "Tag.7.Key", "team"); /* the pod's eip-tags */
            acs_want_param(req, &q, "Tag.7.Value", "games");
        } else if (strcmp(action, "AssociateEipAddress") == 0) {
            acs_want_param(req, &q, "AllocationId", "eip-1");
            acs_want_param(req, &q, "InstanceId", "eni-1");
            acs_want_param(req, &q, "InstanceType", "NetworkInterface");
            if (aliyun_params_get(&q, "PrivateIpAddress"))
                fail_msg("cloud request %zu: a primary IP bound with PrivateIpAddress", i);
        } else if (strcmp(action, "DescribeNetworkInterfaces") == 0) {
            acs_want_param(req, &q, "VpcId", "vpc-1");
        } else if (strcmp(action, "DescribeEipAddresses") != 0) {
            fail_msg("cloud request %zu: unexpected %s", i, action);
        }
        aliyun_params_free(&q);
    }
}

/* ---- one run ---- */

typedef struct rig {
    uv_loop_t loop;
    world w;
    apiserver *srv;
    fake_transport ft;
    aliyun_transport tr;
    http_client *http;
    k8s_config kcfg;
    char token[16];
    k8s_client *kc;
    aliyun_creds *creds;
    aliyun_client *ac;
    struct agent_config cfg;
    metrics *m;
    readiness *ready;
} rig;

static void rig_up(rig *g)
{
    char err[256] = "";
    memset(g, 0, sizeof(*g));
    assert_int_equal(uv_loop_init(&g->loop), 0);
    assert_int_equal(apiserver_new(&g->srv, &g->loop, handler, &g->w), 0);
    fake_init(&g->ft, &g->loop, cloud, &g->w);
    g->tr = fake_get(&g->ft);
    http_client_opts ho = {.loop = &g->loop};
    assert_int_equal(http_client_new(&g->http, &ho, err, sizeof(err)), 0);
    g->kcfg.server = (char *)(uintptr_t)apiserver_url(g->srv);
    snprintf(g->token, sizeof(g->token), "walk-token");
    g->kcfg.token = g->token;
    k8s_client_opts ko = {.loop = &g->loop, .http = g->http, .config = &g->kcfg, .qps = -1};
    assert_int_equal(k8s_client_new(&g->kc, &ko, err, sizeof(err)), 0);
    aliyun_creds_opts co = {
        .loop = &g->loop, .transport = &g->tr, .access_key_id = AK, .access_key_secret = SK};
    assert_int_equal(aliyun_creds_new(&g->creds, &co, err, sizeof(err)), 0);
    aliyun_client_opts ao = {.loop = &g->loop,
                             .transport = &g->tr,
                             .creds = g->creds,
                             .region_id = "cn-hangzhou",
                             .qps = -1,
                             .backoff_base_ms = 1,
                             .backoff_cap_ms = 5,
                             .max_attempts = 3};
    ao.endpoint[ALIYUN_SVC_VPC] = "https://vpc.test:8443";
    ao.endpoint[ALIYUN_SVC_ECS] = "https://ecs.test:8443";
    assert_int_equal(aliyun_client_new(&g->ac, &ao, err, sizeof(err)), 0);
    agent_config_init(&g->cfg);
    g->cfg.node_name = strdup("n1");
    g->cfg.cluster_id = strdup("c1");
    g->cfg.region_id = strdup("cn-hangzhou");
    g->cfg.listen = strdup("127.0.0.1:0");
    assert_int_equal(agent_config_finish(&g->cfg, true, err, sizeof(err)), 0);
    assert_int_equal(metrics_new(&g->m), 0);
    assert_int_equal(readiness_new(&g->ready), 0);
    assert_int_equal(readiness_add(g->ready, READY_PODS_SYNCED, "not yet"), 0);
    controller_opts o = {.loop = &g->loop, .cfg = &g->cfg, .metrics = g->m, .ready = g->ready};
    assert_int_equal(controller_new(&g->w.ctl, &o, err, sizeof(err)), 0);
}

static void rig_down(rig *g)
{
    controller_free(g->w.ctl);
    aliyun_client_free(g->ac);
    aliyun_creds_free(g->creds);
    k8s_client_free(g->kc);
    http_client_free(g->http);
    apiserver_free(g->srv);
    fake_free(&g->ft); /* runs the loop */
    assert_int_equal(alloc_loop_drain(&g->loop), 0);
    assert_int_equal(uv_loop_close(&g->loop), 0);
    metrics_free(g->m);
    readiness_free(g->ready);
    agent_config_free(&g->cfg);
}

static struct {
    unsigned long runs, refused, failed_on_the_way, dropped, server_errors;
} sum;

static int run_pod(void *arg)
{
    (void)arg;
    alloc_fail_pause();
    rig *g = calloc(1, sizeof(*g)); /* a world of 20 KiB: not on the stack */
    assert_non_null(g);
    rig_up(g);
    alloc_fail_resume();

    int r = controller_start(g->w.ctl, g->kc);
    if (!r)
        r = controller_set_cloud(g->w.ctl, g->ac, NULL, "vpc-1");
    if (r) {
        alloc_fail_pause();
        if (r != -ENOMEM)
            fail_msg("the controller refused to start: %d, want -ENOMEM", r);
        g->w.refused = true;
        alloc_fail_resume();
    }
    /* the deadline's own timer runs warped too */
    bool ended = alloc_loop_run_until(&g->loop, finished, &g->w, (uint64_t)DEADLINE_MS * WARP);

    alloc_fail_pause();
    struct pod *p = the_pod(&g->w);
    if (!ended)
        fail_msg("not Bound in %d ms: %s", DEADLINE_MS,
                 p ? pod_state_name(p->state) : "the pod is not tracked");
    if (p)
        check_kept(&g->w);
    const char *failed[] = {"Failed"};
    if (metrics_get(g->w.ctl->m.transitions, failed) > 0)
        sum.failed_on_the_way++;
    api_check_bodies(g->srv, check_body, NULL);
    check_cloud(&g->ft);
    const api_record *rec;
    size_t n = apiserver_records(g->srv, &rec);
    for (size_t i = 0; i < n; i++) {
        sum.dropped += rec[i].status == -1;
        sum.server_errors += rec[i].status == 500;
    }
    sum.runs++;
    sum.refused += g->w.refused;
    rig_down(g);
    free(g);
    alloc_fail_resume();
    return r;
}

static void walk(void **state)
{
    (void)state;
    alloc_fail_install();
    unsigned long n = alloc_fail_walk("pod to Bound", run_pod, NULL, 20000);
    print_message("  %lu runs: %lu refused at the start, %lu Failed on the way (then retried); "
                  "the API server dropped %lu connections and answered 500 %lu times\n",
                  sum.runs, sum.refused, sum.failed_on_the_way, sum.dropped, sum.server_errors);
    assert_true(n > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
