/* SPDX-License-Identifier: MIT */
/* Allocation failure in the cloud calls: an aliyun_client over the fake
 * transport (tests/unit/aliyun/support_fake.h) runs, together, an
 * AllocateEipAddress, the DescribeEipAddresses pager (two pages), an
 * UnassociateEipAddress that is refused with IncorrectEipStatus and decided by a
 * describe on the same call, and a ReleaseEipAddress throttled once and retried.
 * With each allocation failing in turn (the fake's own too: a send it has no
 * memory for is refused, as http_client_send would):
 *  - every call ends with exactly one callback, or none when it could not start
 *    (then -ENOMEM from the start);
 *  - a success is the truth: the allocated EIP, the whole inventory, the EIP
 *    unbound by an accepted UnassociateEipAddress (never "done" by a misread
 *    describe), the release accepted;
 *  - every request the fake received is complete: its V3 signature is computed
 *    again from what was sent and matches, and every parameter of its action is
 *    there with its value;
 *  - nothing leaks (LeakSanitizer after every run) and the loop closes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aliyun/client.h"
#include "aliyun/sign.h"
#include "aliyun/vpc.h"
#include "alloc_fail.h"
#include "support_acs.h"
#include "support_fake.h"

#define AK "LTAItest"
#define SK "testsecret"
#define REGION "cn-hangzhou"
#define DEADLINE_MS 5000

enum call_id { C_ALLOCATE, C_PAGER, C_UNASSOCIATE, C_RELEASE, C_COUNT };
static const char *const call_names[C_COUNT] = {"AllocateEipAddress", "describe pager",
                                                "UnassociateEipAddress", "ReleaseEipAddress"};

/* The cloud as the fake plays it, and what the calls said. */
typedef struct world {
    int unassociates, releases; /* requests of the action the fake received */
    bool unassociate_accepted, release_accepted;
    char body[2048];
    struct outcome {
        bool started; /* the call was accepted (0 from the start) */
        int callbacks;
        int status;
        enum aliyun_err_class cls;
        char detail[256];
    } out[C_COUNT];
    size_t eips; /* EIPs the pager handed over on success */
    char allocated[64];
} world;

static const char page1[] =
    "{\"RequestId\":\"p1\",\"TotalCount\":3,\"PageNumber\":1,\"PageSize\":2,"
    "\"EipAddresses\":{\"EipAddress\":["
    "{\"AllocationId\":\"eip-a\",\"IpAddress\":\"203.0.113.1\",\"Status\":\"InUse\","
    "\"InstanceId\":\"eni-1\",\"InstanceType\":\"NetworkInterface\","
    "\"PrivateIpAddress\":\"10.0.0.5\",\"Tags\":{\"Tag\":[{\"Key\":\"eip-agent/cluster\","
    "\"Value\":\"c1\"},{\"Key\":\"eip-agent/node\",\"Value\":\"n1\"}]}},"
    "{\"AllocationId\":\"eip-b\",\"IpAddress\":\"203.0.113.2\",\"Status\":\"Available\"}]}}";
static const char page2[] =
    "{\"RequestId\":\"p2\",\"TotalCount\":3,\"PageNumber\":2,\"PageSize\":2,"
    "\"EipAddresses\":{\"EipAddress\":["
    "{\"AllocationId\":\"eip-c\",\"IpAddress\":\"203.0.113.3\",\"Status\":\"Available\","
    "\"Tags\":{\"Tag\":[{\"Key\":\"eip-agent/cluster\",\"Value\":\"c1\"}]}}]}}";
static const char bound_u[] =
    "{\"RequestId\":\"du\",\"TotalCount\":1,\"PageNumber\":1,\"PageSize\":10,"
    "\"EipAddresses\":{\"EipAddress\":[{\"AllocationId\":\"eip-u\",\"IpAddress\":"
    "\"203.0.113.9\",\"Status\":\"InUse\",\"InstanceId\":\"eni-1\",\"InstanceType\":"
    "\"NetworkInterface\",\"PrivateIpAddress\":\"10.0.0.5\"}]}}";

static fake_reply respond(fake_transport *ft, const fake_req *req, void *arg)
{
    (void)ft;
    world *w = arg;
    fake_reply r = {.status = 200, .body = "{\"RequestId\":\"ok\"}"};
    const char *action = fake_req_header(req, "x-acs-action");
    if (!action) {
        r.status = 400;
        r.body = "{\"RequestId\":\"x\",\"Code\":\"MissingAction\",\"Message\":\"m\"}";
        return r;
    }
    if (strcmp(action, "AllocateEipAddress") == 0) {
        r.body = "{\"RequestId\":\"a\",\"AllocationId\":\"eip-new\",\"EipAddress\":"
                 "\"203.0.113.7\",\"ResourceGroupId\":\"rg-1\",\"OrderId\":\"\"}";
    } else if (strcmp(action, "DescribeEipAddresses") == 0) {
        const char *aid = fake_req_param(req, "AllocationId");
        if (aid) {
            r.body = bound_u; /* the verify step: still bound to the target */
        } else {
            const char *pn = fake_req_param(req, "PageNumber");
            r.body = pn && strcmp(pn, "2") == 0 ? page2 : page1;
        }
    } else if (strcmp(action, "UnassociateEipAddress") == 0) {
        if (w->unassociates++ == 0) {
            r.status = 400;
            r.body = "{\"RequestId\":\"u\",\"Code\":\"IncorrectEipStatus\",\"Message\":"
                     "\"Current elastic IP status does not support this operation.\"}";
        } else {
            w->unassociate_accepted = true;
        }
    } else if (strcmp(action, "ReleaseEipAddress") == 0) {
        if (w->releases++ == 0) {
            r.status = 400;
            r.body = "{\"RequestId\":\"r\",\"Code\":\"Throttling.User\",\"Message\":"
                     "\"Request was denied due to user flow control.\"}";
        } else {
            w->release_accepted = true;
        }
    }
    return r;
}

/* ---- the calls ---- */

typedef struct tag {
    world *w;
    enum call_id id;
} tag;

static void outcome(tag *t, const aliyun_result *res)
{
    struct outcome *o = &t->w->out[t->id];
    o->callbacks++;
    o->status = res->status;
    o->cls = res->cls;
    aliyun_error_format(&res->error, o->detail, sizeof(o->detail));
}

static void on_allocated(const aliyun_result *res, const aliyun_allocated_eip *e, void *arg)
{
    tag *t = arg;
    outcome(t, res);
    if (!res->status)
        snprintf(t->w->allocated, sizeof(t->w->allocated), "%s/%s", e->allocation_id,
                 e->eip_address);
}

static void on_page(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    tag *t = arg;
    outcome(t, res);
    if (res->status)
        return;
    t->w->eips = page->n;
    static const char *const want[] = {"eip-a", "eip-b", "eip-c"};
    for (size_t i = 0; i < page->n && i < 3; i++)
        assert_string_equal(page->eips[i].allocation_id, want[i]);
    /* tags come whole too */
    if (page->n == 3) {
        assert_int_equal(page->eips[0].n_tags, 2);
        assert_string_equal(aliyun_eip_tag(&page->eips[0], "eip-agent/node"), "n1");
    }
}

static void on_done(const aliyun_result *res, void *arg)
{
    outcome(arg, res);
}

static int start_calls(aliyun_client *c, world *w, tag tags[C_COUNT])
{
    static const aliyun_tag agent_tags[] = {{"eip-agent/cluster", "c1"}, {"eip-agent/node", "n1"}};
    static const char *const protection[] = {"AntiDDoS_Enhanced"};
    int r[C_COUNT];
    for (int i = 0; i < C_COUNT; i++)
        tags[i] = (tag){w, (enum call_id)i};
    aliyun_allocate_eip_params ap = {.bandwidth = 10,
                                     .internet_charge_type = "PayByTraffic",
                                     .instance_charge_type = "PostPaid",
                                     .name = "web-0",
                                     .security_protection_types = protection,
                                     .n_security_protection_types = 1,
                                     .tags = agent_tags,
                                     .n_tags = 2,
                                     .client_token = "ct-walk-1"};
    r[C_ALLOCATE] = aliyun_vpc_allocate_eip(c, &ap, on_allocated, &tags[C_ALLOCATE], NULL);
    aliyun_describe_eips_params dp = {.tags = agent_tags, .n_tags = 2, .page_size = 2};
    r[C_PAGER] = aliyun_vpc_describe_all_eips(c, &dp, on_page, &tags[C_PAGER], NULL);
    aliyun_unassociate_eip_params up = {.from = {.allocation_id = "eip-u",
                                                 .instance_id = "eni-1",
                                                 .private_ip_address = "10.0.0.5",
                                                 .client_token = "ct-walk-2"}};
    r[C_UNASSOCIATE] = aliyun_vpc_unassociate_eip(c, &up, on_done, &tags[C_UNASSOCIATE], NULL);
    aliyun_release_eip_params rp = {.allocation_id = "eip-r"};
    r[C_RELEASE] = aliyun_vpc_release_eip(c, &rp, on_done, &tags[C_RELEASE], NULL);
    int first = 0;
    for (int i = 0; i < C_COUNT; i++) {
        if (r[i] == 0) {
            w->out[i].started = true;
            continue;
        }
        if (r[i] != -ENOMEM)
            fail_msg("%s: could not start: %d, want -ENOMEM", call_names[i], r[i]);
        if (!first)
            first = r[i];
    }
    return first;
}

static bool all_called_back(void *arg)
{
    world *w = arg;
    for (int i = 0; i < C_COUNT; i++)
        if (w->out[i].started && w->out[i].callbacks == 0)
            return false;
    return true;
}

/* ---- what the fake received ---- */

/* Every parameter of the action, with its value. */
static void check_params(const fake_req *req, const aliyun_params *q)
{
    const char *action = fake_req_header(req, "x-acs-action");
    acs_want_param(req, q, "RegionId", REGION);
    if (strcmp(action, "AllocateEipAddress") == 0) {
        acs_want_param(req, q, "Bandwidth", "10");
        acs_want_param(req, q, "InternetChargeType", "PayByTraffic");
        acs_want_param(req, q, "InstanceChargeType", "PostPaid");
        acs_want_param(req, q, "Name", "web-0");
        acs_want_param(req, q, "SecurityProtectionTypes.1", "AntiDDoS_Enhanced");
        acs_want_param(req, q, "Tag.1.Key", "eip-agent/cluster");
        acs_want_param(req, q, "Tag.1.Value", "c1");
        acs_want_param(req, q, "Tag.2.Key", "eip-agent/node");
        acs_want_param(req, q, "Tag.2.Value", "n1");
        acs_want_param(req, q, "ClientToken", "ct-walk-1");
        assert_int_equal(q->n, 11);
    } else if (strcmp(action, "DescribeEipAddresses") == 0) {
        if (aliyun_params_get(q, "AllocationId")) {
            acs_want_param(req, q, "AllocationId", "eip-u");
            assert_int_equal(q->n, 2);
        } else {
            acs_want_param(req, q, "PageSize", "2");
            acs_want_param(req, q, "PageNumber", NULL);
            acs_want_param(req, q, "Tag.1.Key", "eip-agent/cluster");
            acs_want_param(req, q, "Tag.1.Value", "c1");
            acs_want_param(req, q, "Tag.2.Key", "eip-agent/node");
            acs_want_param(req, q, "Tag.2.Value", "n1");
            assert_int_equal(q->n, 7);
        }
    } else if (strcmp(action, "UnassociateEipAddress") == 0) {
        acs_want_param(req, q, "AllocationId", "eip-u");
        acs_want_param(req, q, "InstanceId", "eni-1");
        acs_want_param(req, q, "InstanceType", "NetworkInterface");
        acs_want_param(req, q, "PrivateIpAddress", "10.0.0.5");
        acs_want_param(req, q, "ClientToken", "ct-walk-2");
        assert_int_equal(q->n, 6);
    } else if (strcmp(action, "ReleaseEipAddress") == 0) {
        acs_want_param(req, q, "AllocationId", "eip-r");
        assert_int_equal(q->n, 2);
    } else {
        fail_msg("request %zu: unexpected action %s", req->index, action);
    }
}

static void check_requests(const fake_transport *ft)
{
    for (size_t i = 0; i < ft->n; i++) {
        const fake_req *req = ft->reqs[i];
        assert_non_null(fake_req_header(req, "x-acs-action"));
        assert_string_equal(fake_req_header(req, "x-acs-version"), ALIYUN_VPC_VERSION);
        assert_int_equal(strncmp(req->url, "https://vpc.test:8443/?", 23), 0);
        aliyun_params q;
        acs_parse_query(req->url, &q);
        check_params(req, &q);
        acs_check_signature(req, &q, AK, SK);
        aliyun_params_free(&q);
    }
}

/* What the callbacks said is what happened at the fake. */
static int check_verdicts(const world *w)
{
    int r = 0;
    for (int i = 0; i < C_COUNT; i++) {
        const struct outcome *o = &w->out[i];
        if (!o->started) {
            if (o->callbacks)
                fail_msg("%s: refused at the start, then called back", call_names[i]);
            r = -ENOMEM;
            continue;
        }
        if (o->callbacks != 1)
            fail_msg("%s: %d callbacks", call_names[i], o->callbacks);
        if (o->status) {
            r = -ENOMEM; /* a failure, reported: clean */
            continue;
        }
        switch (i) {
        case C_ALLOCATE:
            assert_string_equal(w->allocated, "eip-new/203.0.113.7");
            break;
        case C_PAGER:
            if (w->eips != 3)
                fail_msg("the pager succeeded with %zu of the 3 EIPs", w->eips);
            break;
        case C_UNASSOCIATE:
            /* InUse on the target when described: only an accepted second
             * request unbinds it */
            if (o->cls != ALIYUN_ERR_NONE || !w->unassociate_accepted)
                fail_msg("UnassociateEipAddress: success (%s) but the fake %s it",
                         aliyun_err_class_name(o->cls),
                         w->unassociate_accepted ? "accepted" : "never accepted");
            break;
        case C_RELEASE:
            if (!w->release_accepted)
                fail_msg("ReleaseEipAddress: success but the fake never accepted it");
            break;
        }
    }
    return r;
}

static int run_cloud(void *arg)
{
    (void)arg;
    uv_loop_t loop;
    fake_transport ft;
    world w;
    tag tags[C_COUNT];
    aliyun_creds *creds = NULL;
    aliyun_client *c = NULL;

    alloc_fail_pause();
    memset(&w, 0, sizeof(w));
    assert_int_equal(uv_loop_init(&loop), 0);
    fake_init(&ft, &loop, respond, &w);
    aliyun_transport tr = fake_get(&ft);
    aliyun_creds_opts co = {
        .loop = &loop, .transport = &tr, .access_key_id = AK, .access_key_secret = SK};
    assert_int_equal(aliyun_creds_new(&creds, &co, NULL, 0), 0);
    aliyun_client_opts o = {.loop = &loop,
                            .transport = &tr,
                            .creds = creds,
                            .region_id = REGION,
                            .qps = -1,
                            .backoff_base_ms = 1,
                            .backoff_cap_ms = 2,
                            .max_attempts = 4};
    o.endpoint[ALIYUN_SVC_VPC] = "https://vpc.test:8443";
    assert_int_equal(aliyun_client_new(&c, &o, NULL, 0), 0);
    alloc_fail_resume();

    start_calls(c, &w, tags);
    bool ended = alloc_loop_run_until(&loop, all_called_back, &w, DEADLINE_MS);

    alloc_fail_pause();
    if (!ended)
        fail_msg("a call never called back (after %lu allocations)", alloc_fail_count());
    check_requests(&ft);
    int r = check_verdicts(&w);
    aliyun_client_free(c);
    aliyun_creds_free(creds);
    fake_free(&ft);
    assert_int_equal(alloc_loop_drain(&loop), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    alloc_fail_resume();
    return r;
}

static void walk(void **state)
{
    (void)state;
    alloc_fail_install();
    unsigned long n = alloc_fail_walk("cloud calls", run_cloud, NULL, 20000);
    assert_true(n > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
