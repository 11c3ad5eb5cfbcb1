/* SPDX-License-Identifier: MIT */
/* aliyun/vpc.c after a state refusal (IncorrectEipStatus, cls CHECK): the EIP's
 * state, read with DescribeEipAddresses on the same call, decides between done,
 * sending the request again, retryable and fatal. A fake transport answers each
 * action from a script; what was sent is the verdict. */
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
#include "aliyun/vpc.h"
#include "support_fake.h"

enum op { OP_ASSOC, OP_UNASSOC, OP_RELEASE };

typedef struct world {
    const char *refusal;     /* code of the action's first answer */
    int refusals;            /* how many answers of the action are refusals */
    const char *status;      /* the EIP as described; NULL: gone */
    const char *instance_id; /* its binding */
    const char *private_ip;  /* its described PrivateIpAddress */
    char sent[16];           /* A (the action) and D (describe), in order */
    size_t n_sent;
    int actions;
    char body[1024];
} world;

static fake_reply respond(fake_transport *ft, const fake_req *req, void *arg)
{
    (void)ft;
    world *w = arg;
    fake_reply r = {.status = 200, .body = "{\"RequestId\":\"ok\"}"};
    const char *action = fake_req_header(req, "x-acs-action");
    assert_non_null(action);
    bool describe = strcmp(action, "DescribeEipAddresses") == 0;
    if (w->n_sent + 1 < sizeof(w->sent))
        w->sent[w->n_sent++] = describe ? 'D' : 'A';
    if (describe) {
        assert_string_equal(fake_req_param(req, "AllocationId"), "eip-1");
        int n;
        if (!w->status)
            n = snprintf(w->body, sizeof(w->body),
                         "{\"RequestId\":\"d\",\"TotalCount\":0,\"PageNumber\":1,\"PageSize\":10,"
                         "\"EipAddresses\":{\"EipAddress\":[]}}");
        else
            n = snprintf(w->body, sizeof(w->body),
                         "{\"RequestId\":\"d\",\"TotalCount\":1,\"PageNumber\":1,\"PageSize\":10,"
                         "\"EipAddresses\":{\"EipAddress\":[{\"AllocationId\":\"eip-1\","
                         "\"IpAddress\":\"203.0.113.9\",\"Status\":\"%s\",\"InstanceId\":\"%s\","
                         "\"InstanceType\":\"NetworkInterface\",\"PrivateIpAddress\":\"%s\"}]}}",
                         w->status, w->instance_id, w->private_ip);
        assert_true(n > 0 && (size_t)n < sizeof(w->body));
        r.body = w->body;
        return r;
    }
    if (w->actions++ < w->refusals) {
        r.status = 400;
        r.body =
            w->refusal && strcmp(w->refusal, "InvalidBindingStatus") == 0
                ? "{\"RequestId\":\"a\",\"Code\":\"InvalidBindingStatus\",\"Message\":\"m\"}"
                : "{\"RequestId\":\"a\",\"Code\":\"IncorrectEipStatus\","
                  "\"Message\":\"Current elastic IP status does not support this operation.\"}";
    }
    return r;
}

typedef struct outcome {
    int calls;
    aliyun_result res;
    char code[128];
} outcome;

static void on_done(const aliyun_result *r, void *arg)
{
    outcome *o = arg;
    o->calls++;
    o->res = *r;
    int n = snprintf(o->code, sizeof(o->code), "%s", r->error.code);
    assert_true(n >= 0 && (size_t)n < sizeof(o->code));
}

/* Runs op against w; the request binds eip-1 to eni-1 on pip (NULL: none). */
static void run(enum op op, world *w, const char *pip, outcome *o)
{
    uv_loop_t loop;
    fake_transport ft;
    memset(o, 0, sizeof(*o));
    assert_int_equal(uv_loop_init(&loop), 0);
    fake_init(&ft, &loop, respond, w);
    aliyun_transport tr = fake_get(&ft);
    aliyun_creds_opts co = {.loop = &loop,
                            .transport = &tr,
                            .access_key_id = "LTAItest",
                            .access_key_secret = "testsecret"};
    aliyun_creds *creds = NULL;
    assert_int_equal(aliyun_creds_new(&creds, &co, NULL, 0), 0);
    aliyun_client_opts opts = {.loop = &loop,
                               .transport = &tr,
                               .creds = creds,
                               .region_id = "cn-hangzhou",
                               .qps = -1,
                               .backoff_base_ms = 1,
                               .backoff_cap_ms = 2};
    opts.endpoint[ALIYUN_SVC_VPC] = "https://vpc.test:8443";
    aliyun_client *c = NULL;
    assert_int_equal(aliyun_client_new(&c, &opts, NULL, 0), 0);
    int r = -1;
    aliyun_eip_binding b = {
        .allocation_id = "eip-1", .instance_id = "eni-1", .private_ip_address = pip};
    switch (op) {
    case OP_ASSOC: {
        aliyun_associate_eip_params p = {.to = b};
        r = aliyun_vpc_associate_eip(c, &p, on_done, o, NULL);
        break;
    }
    case OP_UNASSOC: {
        aliyun_unassociate_eip_params p = {.from = b};
        r = aliyun_vpc_unassociate_eip(c, &p, on_done, o, NULL);
        break;
    }
    case OP_RELEASE:
        r = aliyun_vpc_release_eip(c, &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                   on_done, o, NULL);
        break;
    }
    assert_int_equal(r, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    aliyun_client_free(c);
    aliyun_creds_free(creds);
    fake_free(&ft);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(o->calls, 1);
}

struct row {
    enum op op;
    const char *pip;
    int refusals;
    const char *status, *instance_id, *private_ip;
    const char *sent;
    int want_status;
    enum aliyun_err_class want_cls;
};

#define IP "10.0.0.5"

static void decisions(void **state)
{
    (void)state;
    static const struct row rows[] = {
        /* AssociateEipAddress: already bound here (or on its way) is done */
        {OP_ASSOC, IP, 9, "InUse", "eni-1", IP, "AD", 0, ALIYUN_ERR_DONE},
        {OP_ASSOC, IP, 9, "Associating", "eni-1", IP, "AD", 0, ALIYUN_ERR_DONE},
        {OP_ASSOC, NULL, 9, "InUse", "eni-1", "", "AD", 0, ALIYUN_ERR_DONE},
        /* on another IP of the same ENI, or elsewhere: busy or taken */
        {OP_ASSOC, IP, 9, "InUse", "eni-1", "10.0.0.6", "AD", -EIO, ALIYUN_ERR_FATAL},
        {OP_ASSOC, IP, 9, "InUse", "eni-2", IP, "AD", -EIO, ALIYUN_ERR_FATAL},
        {OP_ASSOC, IP, 9, "Associating", "eni-2", IP, "AD", -EAGAIN, ALIYUN_ERR_RETRY},
        {OP_ASSOC, IP, 9, "Unassociating", "eni-1", IP, "AD", -EAGAIN, ALIYUN_ERR_RETRY},
        {OP_ASSOC, IP, 9, "Releasing", "", "", "AD", -EIO, ALIYUN_ERR_FATAL},
        {OP_ASSOC, IP, 9, NULL, "", "", "AD", -ENOENT, ALIYUN_ERR_FATAL},
        /* it became Available in between: sent again (once refused again, twice at most) */
        {OP_ASSOC, IP, 1, "Available", "", "", "ADA", 0, ALIYUN_ERR_NONE},
        {OP_ASSOC, IP, 9, "Available", "", "", "ADADAD", -EIO, ALIYUN_ERR_FATAL},
        /* ReleaseEipAddress: gone or Releasing is done */
        {OP_RELEASE, NULL, 9, NULL, "", "", "AD", 0, ALIYUN_ERR_DONE},
        {OP_RELEASE, NULL, 9, "Releasing", "", "", "AD", 0, ALIYUN_ERR_DONE},
        /* bound or in transition: reported, the caller unassociates first */
        {OP_RELEASE, NULL, 9, "InUse", "eni-1", IP, "AD", -EBUSY, ALIYUN_ERR_FATAL},
        {OP_RELEASE, NULL, 9, "Associating", "eni-1", IP, "AD", -EAGAIN, ALIYUN_ERR_RETRY},
        {OP_RELEASE, NULL, 9, "Unassociating", "eni-1", IP, "AD", -EAGAIN, ALIYUN_ERR_RETRY},
        {OP_RELEASE, NULL, 1, "Available", "", "", "ADA", 0, ALIYUN_ERR_NONE},
        /* sent again twice and still refused: reported (the caller comes back) */
        {OP_RELEASE, NULL, 9, "Available", "", "", "ADADAD", -EAGAIN, ALIYUN_ERR_RETRY},
        /* UnassociateEipAddress: not bound here is done */
        {OP_UNASSOC, IP, 9, "Available", "", "", "AD", 0, ALIYUN_ERR_DONE},
        {OP_UNASSOC, IP, 9, "Unassociating", "eni-1", IP, "AD", 0, ALIYUN_ERR_DONE},
        {OP_UNASSOC, IP, 9, "InUse", "eni-2", IP, "AD", 0, ALIYUN_ERR_DONE},
        {OP_UNASSOC, IP, 9, NULL, "", "", "AD", 0, ALIYUN_ERR_DONE},
        {OP_UNASSOC, IP, 9, "Associating", "eni-1", IP, "AD", -EAGAIN, ALIYUN_ERR_RETRY},
        {OP_UNASSOC, IP, 1, "InUse", "eni-1", IP, "ADA", 0, ALIYUN_ERR_NONE},
        {OP_UNASSOC, IP, 9, "InUse", "eni-1", IP, "ADADAD", -EAGAIN, ALIYUN_ERR_RETRY},
        /* bound without a private IP (described as ""): still this binding */
        {OP_UNASSOC, IP, 1, "InUse", "eni-1", "", "ADA", 0, ALIYUN_ERR_NONE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *rw = &rows[i];
        world w = {.refusals = rw->refusals,
                   .status = rw->status,
                   .instance_id = rw->instance_id,
                   .private_ip = rw->private_ip};
        outcome o;
        run(rw->op, &w, rw->pip, &o);
        if (strcmp(w.sent, rw->sent) != 0 || o.res.status != rw->want_status ||
            o.res.cls != rw->want_cls)
            fail_msg("row %zu: sent %s status %d class %s; want %s %d %s", i, w.sent, o.res.status,
                     aliyun_err_class_name(o.res.cls), rw->sent, rw->want_status,
                     aliyun_err_class_name(rw->want_cls));
        /* a failure or a done-by-state keeps the refusal that started it */
        if (rw->want_cls != ALIYUN_ERR_NONE)
            assert_string_equal(o.code, "IncorrectEipStatus");
    }
}

static void binding_refusal_on_unassociate_is_checked_too(void **state)
{
    (void)state;
    world w = {.refusal = "InvalidBindingStatus",
               .refusals = 9,
               .status = "InUse",
               .instance_id = "eni-9",
               .private_ip = IP};
    outcome o;
    run(OP_UNASSOC, &w, IP, &o);
    assert_string_equal(w.sent, "AD");
    assert_int_equal(o.res.status, 0);
    assert_int_equal(o.res.cls, ALIYUN_ERR_DONE);
    assert_string_equal(o.code, "InvalidBindingStatus");
}

static void other_errors_pass_through(void **state)
{
    (void)state;
    /* no refusal at all: one request, success, no look */
    world w = {.refusals = 0, .status = "InUse", .instance_id = "eni-1", .private_ip = IP};
    outcome o;
    run(OP_ASSOC, &w, IP, &o);
    assert_string_equal(w.sent, "A");
    assert_int_equal(o.res.status, 0);
    assert_int_equal(o.res.cls, ALIYUN_ERR_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decisions),
        cmocka_unit_test(binding_refusal_on_unassociate_is_checked_too),
        cmocka_unit_test(other_errors_pass_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
