/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "aliyun/client.h"
#include "aliyun/flow_internal.h"
#include "common/tokenbucket.h"
#include "aliyun/vpc.h"
#include "common/timeutil.h"
#include "support_fake.h"
#include "test_tmp.h"

/* The backoff itself is common/backoff.h (tests/unit/common/test_backoff.c);
 * the server's x-acs-retry-after is a floor on it, even above the cap. */
static void retry_after(void **state)
{
    (void)state;
    assert_int_equal(aliyun_retry_after_floor_ms(0, 1500), 1500);
    assert_int_equal(aliyun_retry_after_floor_ms(100, 5), 100);
    assert_int_equal(aliyun_retry_after_floor_ms(100, -1), 100);
    assert_int_equal(aliyun_retry_after_floor_ms(0, 99999999), ALIYUN_RETRY_AFTER_MAX_MS);
    assert_int_equal(aliyun_retry_after_floor_ms(ALIYUN_RETRY_AFTER_MAX_MS + 7, 99999999),
                     ALIYUN_RETRY_AFTER_MAX_MS + 7);
    assert_int_equal(aliyun_parse_retry_after_ms("250"), 250);
    assert_int_equal(aliyun_parse_retry_after_ms(" 7 "), 7);
    assert_int_equal(aliyun_parse_retry_after_ms("0"), 0);
    assert_int_equal(aliyun_parse_retry_after_ms(NULL), -1);
    assert_int_equal(aliyun_parse_retry_after_ms(""), -1);
    assert_int_equal(aliyun_parse_retry_after_ms("1.5"), -1);
    assert_int_equal(aliyun_parse_retry_after_ms("-3"), -1);
    assert_int_equal(aliyun_parse_retry_after_ms("99999999999999999999999"), -1);
}

/* ---- the client on a real loop with a fake transport ---- */

typedef struct script {
    int fail_first;   /* this many attempts fail with code/status below */
    const char *code; /* NULL: body without a code */
    long status;
    const char *retry_after;
    int transport_error;
    uint64_t delay_ms;
    const char *ok_body;
} script;

static char body_buf[512];

static fake_reply respond(fake_transport *ft, const fake_req *req, void *arg)
{
    (void)ft;
    script *s = arg;
    fake_reply r = {.status = 200, .delay_ms = s->delay_ms};
    if ((int)req->index < s->fail_first) {
        if (s->transport_error) {
            r.transport_error = s->transport_error;
            return r;
        }
        r.status = s->status;
        r.retry_after = s->retry_after;
        if (s->code) {
            snprintf(body_buf, sizeof(body_buf),
                     "{\"RequestId\":\"r%zu\",\"Code\":\"%s\",\"Message\":\"m\"}", req->index,
                     s->code);
            r.body = body_buf;
        } else {
            r.body = "upstream error";
        }
        return r;
    }
    r.body = s->ok_body ? s->ok_body : "{\"RequestId\":\"ok-1\"}";
    return r;
}

typedef struct env {
    uv_loop_t loop;
    fake_transport ft;
    aliyun_transport tr;
    aliyun_creds *creds;
    aliyun_client *c;
    script s;
} env;

static void env_up(env *e, const aliyun_client_opts *opts_in)
{
    memset(&e->loop, 0, sizeof(e->loop));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    fake_init(&e->ft, &e->loop, respond, &e->s);
    e->tr = fake_get(&e->ft);
    aliyun_creds_opts co = {.loop = &e->loop,
                            .transport = &e->tr,
                            .access_key_id = "LTAItest",
                            .access_key_secret = "testsecret"};
    assert_int_equal(aliyun_creds_new(&e->creds, &co, NULL, 0), 0);
    aliyun_client_opts o = *opts_in;
    o.loop = &e->loop;
    o.transport = &e->tr;
    o.creds = e->creds;
    o.region_id = "cn-hangzhou";
    o.endpoint[ALIYUN_SVC_VPC] = "https://vpc.test:8443";
    assert_int_equal(aliyun_client_new(&e->c, &o, NULL, 0), 0);
}

static void env_down(env *e)
{
    aliyun_client_free(e->c);
    aliyun_creds_free(e->creds);
    fake_free(&e->ft);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

typedef struct outcome {
    int n;
    aliyun_result last;
    int order[64];
    int status[64];
    enum aliyun_err_class cls[64];
    int attempts[64];
} outcome;

typedef struct tagged {
    outcome *o;
    int id;
} tagged;

static void on_done(const aliyun_result *r, void *arg)
{
    tagged *t = arg;
    outcome *o = t->o;
    o->last = *r;
    o->status[t->id] = r->status;
    o->cls[t->id] = r->cls;
    o->attempts[t->id] = r->attempts;
    o->order[o->n++] = t->id;
}

static void start_release(env *e, tagged *t, const char *aid)
{
    assert_int_equal(aliyun_vpc_release_eip(e->c,
                                            &(aliyun_release_eip_params){.allocation_id = aid},
                                            on_done, t, NULL),
                     0);
}

static void paces_per_action(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    /* the configured pacing alone (the documented limits have their own test) */
    aliyun_client_opts o = {.qps = 20, .burst = 1, .max_in_flight = 64, .limit_scale = -1};
    env_up(&e, &o);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t[12];
    for (int i = 0; i < 12; i++) {
        t[i].o = &out;
        t[i].id = i;
        if (i % 2 == 0) {
            start_release(&e, &t[i], "eip-a");
        } else {
            const char *const tok = "tok";
            aliyun_associate_eip_params p = {
                .to = {.allocation_id = "eip-b", .instance_id = "eni-1", .client_token = tok}};
            assert_int_equal(aliyun_vpc_associate_eip(e.c, &p, on_done, &t[i], NULL), 0);
        }
    }
    /* nothing is sent before the loop runs: callbacks never come synchronously */
    assert_int_equal(e.ft.n, 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(out.n, 12);
    assert_int_equal(e.ft.n, 12);
    /* per action: consecutive sends at least 1/qps apart */
    const char *actions[] = {"ReleaseEipAddress", "AssociateEipAddress"};
    for (int a = 0; a < 2; a++) {
        int64_t prev = -1;
        int count = 0;
        for (size_t i = 0; i < e.ft.n; i++) {
            const char *act = fake_req_header(e.ft.reqs[i], "x-acs-action");
            if (strcmp(act, actions[a]) != 0)
                continue;
            if (prev >= 0 && e.ft.reqs[i]->sent_ms - prev < 49)
                fail_msg("%s sent %lld ms after the previous one", act,
                         (long long)(e.ft.reqs[i]->sent_ms - prev));
            prev = e.ft.reqs[i]->sent_ms;
            count++;
        }
        assert_int_equal(count, 6);
    }
    /* the two buckets are independent: the actions interleave, the whole run takes
     * about 5 intervals, not 11 */
    int64_t span = e.ft.reqs[11]->sent_ms - e.ft.reqs[0]->sent_ms;
    assert_true(span >= 245 && span < 450);
    env_down(&e);
}

static void in_flight_cap_fifo(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    e.s.delay_ms = 20;
    aliyun_client_opts o = {.qps = -1, .max_in_flight = 2};
    env_up(&e, &o);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t[8];
    char ids[8][16];
    for (int i = 0; i < 8; i++) {
        t[i].o = &out;
        t[i].id = i;
        snprintf(ids[i], sizeof(ids[i]), "eip-%d", i);
        start_release(&e, &t[i], ids[i]);
    }
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(out.n, 8);
    assert_int_equal(e.ft.max_active, 2);
    for (int i = 0; i < 8; i++) {
        char want[16];
        snprintf(want, sizeof(want), "eip-%d", i);
        assert_string_equal(fake_req_param(e.ft.reqs[i], "AllocationId"), want);
        assert_int_equal(out.order[i], i);
    }
    env_down(&e);
}

static void retries_honour_retry_after(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    e.s.fail_first = 2;
    e.s.code = "Throttling.User";
    e.s.status = 400;
    e.s.retry_after = "120";
    aliyun_client_opts o = {
        .qps = -1, .backoff_base_ms = 1, .backoff_cap_ms = 2, .max_attempts = 5};
    env_up(&e, &o);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t = {&out, 0};
    aliyun_allocate_eip_params p = {.bandwidth = 5, .client_token = "ct-123"};
    assert_int_equal(aliyun_vpc_allocate_eip(e.c, &p, NULL, NULL, NULL), -EINVAL);
    const char *ok =
        "{\"RequestId\":\"x\",\"AllocationId\":\"eip-1\",\"EipAddress\":\"203.0.113.5\"}";
    e.s.ok_body = ok;
    aliyun_associate_eip_params ap = {.to = {.allocation_id = "eip-1",
                                             .instance_id = "eni-1",
                                             .private_ip_address = "10.0.0.5",
                                             .client_token = "ct-123"}};
    assert_int_equal(aliyun_vpc_associate_eip(e.c, &ap, on_done, &t, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.status[0], 0);
    assert_int_equal(out.attempts[0], 3);
    assert_int_equal(e.ft.n, 3);
    for (size_t i = 0; i < 3; i++) {
        /* the same ClientToken, a fresh nonce each time */
        assert_string_equal(fake_req_param(e.ft.reqs[i], "ClientToken"), "ct-123");
        if (i > 0) {
            assert_true(e.ft.reqs[i]->sent_ms - e.ft.reqs[i - 1]->sent_ms >= 120);
            assert_string_not_equal(fake_req_header(e.ft.reqs[i], "x-acs-signature-nonce"),
                                    fake_req_header(e.ft.reqs[i - 1], "x-acs-signature-nonce"));
            assert_string_not_equal(fake_req_header(e.ft.reqs[i], "Authorization"),
                                    fake_req_header(e.ft.reqs[i - 1], "Authorization"));
        }
    }
    aliyun_client_stats st;
    aliyun_client_get_stats(e.c, &st);
    assert_int_equal(st.throttled, 2);
    assert_int_equal(st.retries, 2);
    env_down(&e);
}

static void run_one_release(const script *s, int max_attempts, outcome *out, size_t *sent)
{
    env e;
    memset(&e, 0, sizeof(e));
    e.s = *s;
    aliyun_client_opts o = {
        .qps = -1, .backoff_base_ms = 1, .backoff_cap_ms = 4, .max_attempts = max_attempts};
    env_up(&e, &o);
    memset(out, 0, sizeof(*out));
    tagged t = {out, 0};
    start_release(&e, &t, "eip-x");
    uv_run(&e.loop, UV_RUN_DEFAULT);
    *sent = e.ft.n;
    env_down(&e);
}

static void fatal_errors_are_not_retried(void **state)
{
    (void)state;
    static const char *const fatal[] = {"QuotaExceeded.Eip",          "InvalidParameter",
                                        "MissingParameter",           "Forbidden.RAM",
                                        "SignatureDoesNotMatch",      "IdempotentParameterMismatch",
                                        "InvalidAccessKeyId.NotFound"};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        script s = {.fail_first = 100, .code = fatal[i], .status = 400};
        outcome out;
        size_t sent;
        run_one_release(&s, 5, &out, &sent);
        if (sent != 1)
            fail_msg("%s was sent %zu times", fatal[i], sent);
        assert_int_equal(out.n, 1);
        assert_true(out.status[0] < 0);
        assert_int_equal(out.cls[0], ALIYUN_ERR_FATAL);
        assert_string_equal(out.last.error.code, fatal[i]);
    }
}

static void retryable_until_exhausted(void **state)
{
    (void)state;
    script s = {.fail_first = 100, .code = NULL, .status = 503};
    outcome out;
    size_t sent;
    run_one_release(&s, 4, &out, &sent);
    assert_int_equal(sent, 4);
    assert_int_equal(out.attempts[0], 4);
    assert_int_equal(out.status[0], -EAGAIN);
    assert_int_equal(out.cls[0], ALIYUN_ERR_RETRY);

    script s2 = {.fail_first = 2, .transport_error = HTTP_E_CONNECT};
    run_one_release(&s2, 4, &out, &sent);
    assert_int_equal(sent, 3);
    assert_int_equal(out.status[0], 0);

    script s3 = {.fail_first = 1, .code = "TaskConflict", .status = 400};
    run_one_release(&s3, 4, &out, &sent);
    assert_int_equal(sent, 2);
    assert_int_equal(out.status[0], 0);
}

static void done_during_cleanup(void **state)
{
    (void)state;
    script s = {.fail_first = 100, .code = "InvalidAllocationId.NotFound", .status = 404};
    outcome out;
    size_t sent;
    run_one_release(&s, 5, &out, &sent);
    assert_int_equal(sent, 1);
    assert_int_equal(out.status[0], 0);
    assert_int_equal(out.cls[0], ALIYUN_ERR_DONE);
}

static void never_called(const aliyun_result *r, void *arg)
{
    (void)r;
    (void)arg;
    fail_msg("callback of a cancelled call");
}

static void cancel_and_free(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    e.s.delay_ms = 10;
    aliyun_client_opts o = {.qps = -1, .max_in_flight = 1};
    env_up(&e, &o);
    aliyun_call *a = NULL, *b = NULL;
    assert_int_equal(aliyun_vpc_release_eip(e.c,
                                            &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                            never_called, NULL, &a),
                     0);
    assert_int_equal(aliyun_vpc_release_eip(e.c,
                                            &(aliyun_release_eip_params){.allocation_id = "eip-2"},
                                            never_called, NULL, &b),
                     0);
    /* one queued call cancelled before anything ran, one in flight left to the free */
    aliyun_call_cancel(b);
    uv_run(&e.loop, UV_RUN_NOWAIT);
    assert_int_equal(e.ft.n, 1);
    env_down(&e); /* frees the in-flight call without a callback */
}

typedef struct free_inside {
    env *e;
    int calls;
} free_inside;

static void free_client_cb(const aliyun_result *r, void *arg)
{
    (void)r;
    free_inside *f = arg;
    f->calls++;
    /* the agent may drop the client from a callback: the other calls go silently */
    aliyun_client_free(f->e->c);
    f->e->c = NULL;
}

static void free_inside_callback(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    aliyun_client_opts o = {.qps = -1, .max_in_flight = 1};
    env_up(&e, &o);
    free_inside f = {&e, 0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            aliyun_vpc_release_eip(e.c, &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                   free_client_cb, &f, NULL),
            0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.calls, 1);
    assert_null(e.c);
    env_down(&e);
}

typedef struct rearm_ctx {
    aliyun_call *call;
    int calls;
    int rearms;
    bool cancel_inside;
    char actions[4][48];
} rearm_ctx;

static void rearm_cb(const aliyun_result *r, json_t *body, void *arg)
{
    (void)body;
    rearm_ctx *x = arg;
    snprintf(x->actions[x->calls % 4], sizeof(x->actions[0]), "%s", r->action);
    x->calls++;
    if (x->cancel_inside) {
        aliyun_call_cancel(x->call); /* must not corrupt the queue nor free twice */
        return;
    }
    if (x->rearms < 2) {
        aliyun_params p;
        aliyun_params_init(&p);
        assert_int_equal(aliyun_params_add(&p, "RegionId", "cn-hangzhou"), 0);
        assert_int_equal(aliyun_call_rearm(x->call, "DescribeEipAddresses", &p), 0);
        x->rearms++;
    }
}

static void rearm_and_cancel_inside(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    aliyun_client_opts o = {.qps = -1};
    env_up(&e, &o);
    rearm_ctx x;
    memset(&x, 0, sizeof(x));
    aliyun_params p;
    aliyun_params_init(&p);
    assert_int_equal(aliyun_params_add(&p, "AllocationId", "eip-1"), 0);
    aliyun_call_spec spec = {.service = ALIYUN_SVC_VPC,
                             .action = "ReleaseEipAddress",
                             .version = "2016-04-28",
                             .cb = rearm_cb,
                             .arg = &x};
    assert_int_equal(aliyun_client_call(e.c, &spec, &p, &x.call), 0);
    /* outside the callback a rearm is refused */
    aliyun_params q;
    aliyun_params_init(&q);
    assert_int_equal(aliyun_call_rearm(x.call, "DescribeEipAddresses", &q), -EINVAL);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(x.calls, 3);
    assert_string_equal(x.actions[0], "ReleaseEipAddress");
    assert_string_equal(x.actions[1], "DescribeEipAddresses");
    assert_int_equal(e.ft.n, 3);
    assert_string_equal(fake_req_header(e.ft.reqs[2], "x-acs-action"), "DescribeEipAddresses");

    /* cancel from inside the callback, with other calls queued behind */
    memset(&x, 0, sizeof(x));
    x.cancel_inside = true;
    aliyun_params_init(&p);
    assert_int_equal(aliyun_client_call(e.c, &spec, &p, &x.call), 0);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t = {&out, 0};
    start_release(&e, &t, "eip-2");
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(x.calls, 1);
    assert_int_equal(out.n, 1);
    env_down(&e);
}

/* ---- calls that wait for the credential chain (RRSA over the same fake) ---- */

typedef struct sts_world {
    int sts_fail;    /* AssumeRoleWithOIDC answers an error this many times */
    int vpc_refused; /* the VPC API refuses the STS token this many times */
    int sts_seen, vpc_seen;
    char body[512];
} sts_world;

static fake_reply sts_world_respond(fake_transport *ft, const fake_req *req, void *arg)
{
    (void)ft;
    sts_world *w = arg;
    fake_reply r = {.status = 200, .delay_ms = 5};
    if (strstr(req->url, "sts.test")) {
        if (w->sts_seen++ < w->sts_fail) {
            r.status = 400;
            r.body = "{\"Code\":\"AuthenticationFail.OIDCToken.Invalid\",\"Message\":\"no\"}";
            return r;
        }
        char iso[32];
        eip_time_format_rfc3339(iso, sizeof(iso), (time_t)(eip_time_now_ms() / 1000 + 3600));
        snprintf(w->body, sizeof(w->body),
                 "{\"Credentials\":{\"AccessKeyId\":\"STS.key%d\",\"AccessKeySecret\":\"s\","
                 "\"SecurityToken\":\"tok\",\"Expiration\":\"%s\"}}",
                 w->sts_seen, iso);
        r.body = w->body;
        return r;
    }
    if (w->vpc_seen++ < w->vpc_refused) {
        r.status = 400;
        r.body = "{\"Code\":\"InvalidSecurityToken.Expired\",\"Message\":\"expired\"}";
        return r;
    }
    r.body = "{\"RequestId\":\"ok\"}";
    return r;
}

typedef struct rrsa_client {
    uv_loop_t loop;
    fake_transport ft;
    aliyun_transport tr;
    aliyun_creds *creds;
    aliyun_client *c;
    char dir[64], file[96];
} rrsa_client;

static void rrsa_client_up(rrsa_client *e, sts_world *w)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    fake_init(&e->ft, &e->loop, sts_world_respond, w);
    e->tr = fake_get(&e->ft);
    assert_int_equal(eip_test_tmp_path(e->dir, sizeof(e->dir), "eip-flow-XXXXXX"), 0);
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->file, sizeof(e->file), "%s/token", e->dir);
    FILE *f = fopen(e->file, "w");
    assert_non_null(f);
    fputs("oidc.token\n", f);
    fclose(f);
    aliyun_creds_opts co = {.loop = &e->loop,
                            .transport = &e->tr,
                            .role_arn = "acs:ram::1:role/r",
                            .oidc_provider_arn = "acs:ram::1:oidc-provider/p",
                            .oidc_token_file = e->file,
                            .sts_endpoint = "https://sts.test",
                            .min_refresh_ms = 1,
                            .retry_base_ms = 10000, /* no second fetch within a test */
                            .retry_cap_ms = 10000};
    assert_int_equal(aliyun_creds_new(&e->creds, &co, NULL, 0), 0);
    aliyun_client_opts o = {.loop = &e->loop,
                            .transport = &e->tr,
                            .creds = e->creds,
                            .region_id = "cn-hangzhou",
                            .qps = -1,
                            .max_in_flight = 1};
    o.endpoint[ALIYUN_SVC_VPC] = "https://vpc.test";
    assert_int_equal(aliyun_client_new(&e->c, &o, NULL, 0), 0);
}

/* The credential's refresh timer keeps the loop alive: run until n outcomes. */
static void rrsa_run(rrsa_client *e, const outcome *out, int n)
{
    while ((out->n < n || e->ft.active > 0) && uv_run(&e->loop, UV_RUN_ONCE))
        ;
    assert_int_equal(out->n, n);
}

static void rrsa_client_down(rrsa_client *e)
{
    aliyun_client_free(e->c);
    aliyun_creds_free(e->creds);
    fake_free(&e->ft);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    unlink(e->file);
    rmdir(e->dir);
}

/* WAIT_CREDS -> QUEUED: the calls that waited go out in the order they were made. */
static void calls_wait_for_the_credential(void **state)
{
    (void)state;
    sts_world w = {0};
    rrsa_client e;
    rrsa_client_up(&e, &w);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t[3];
    char ids[3][16];
    for (int i = 0; i < 3; i++) {
        t[i] = (tagged){&out, i};
        snprintf(ids[i], sizeof(ids[i]), "eip-%d", i);
        assert_int_equal(
            aliyun_vpc_release_eip(e.c, &(aliyun_release_eip_params){.allocation_id = ids[i]},
                                   on_done, &t[i], NULL),
            0);
    }
    rrsa_run(&e, &out, 3);
    assert_int_equal(e.ft.n, 4); /* AssumeRoleWithOIDC once, then the three */
    assert_non_null(strstr(e.ft.reqs[0]->url, "sts.test"));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out.order[i], i);
        assert_int_equal(out.status[i], 0);
        assert_string_equal(fake_req_param(e.ft.reqs[i + 1], "AllocationId"), ids[i]);
        assert_string_equal(fake_req_header(e.ft.reqs[i + 1], "x-acs-security-token"), "tok");
    }
    rrsa_client_down(&e);
}

/* WAIT_CREDS -> DONE: a failed fetch reaches every waiting call, nothing is sent. */
static void calls_fail_without_a_credential(void **state)
{
    (void)state;
    sts_world w = {.sts_fail = 100};
    rrsa_client e;
    rrsa_client_up(&e, &w);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t[2] = {{&out, 0}, {&out, 1}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            aliyun_vpc_release_eip(e.c, &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                   on_done, &t[i], NULL),
            0);
    rrsa_run(&e, &out, 2);
    for (int i = 0; i < 2; i++) {
        assert_true(out.status[i] < 0);
        assert_int_equal(out.cls[i], ALIYUN_ERR_FATAL);
    }
    assert_string_equal(out.last.error.code, "CredentialUnavailable");
    assert_non_null(strstr(out.last.error.message, "rrsa"));
    assert_int_equal(w.vpc_seen, 0);
    rrsa_client_down(&e);
}

/* SENDING -> QUEUED once: a refused STS token is refreshed and the call retried. */
static void refused_credential_is_refreshed_once(void **state)
{
    (void)state;
    sts_world w = {.vpc_refused = 1};
    rrsa_client e;
    rrsa_client_up(&e, &w);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t = {&out, 0};
    assert_int_equal(aliyun_vpc_release_eip(e.c,
                                            &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                            on_done, &t, NULL),
                     0);
    rrsa_run(&e, &out, 1);
    assert_int_equal(out.status[0], 0);
    assert_int_equal(out.attempts[0], 2);
    assert_int_equal(w.sts_seen, 2); /* fetched again after the refusal */
    assert_string_equal(fake_req_header(e.ft.reqs[3], "x-acs-security-token"), "tok");
    assert_non_null(strstr(fake_req_header(e.ft.reqs[3], "Authorization"), "STS.key2"));

    /* refused again after the refresh: fatal, not a loop */
    w.vpc_refused = 100;
    memset(&out, 0, sizeof(out));
    assert_int_equal(aliyun_vpc_release_eip(e.c,
                                            &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                            on_done, &t, NULL),
                     0);
    rrsa_run(&e, &out, 1);
    assert_int_equal(out.cls[0], ALIYUN_ERR_FATAL);
    assert_string_equal(out.last.error.code, "InvalidSecurityToken.Expired");
    rrsa_client_down(&e);
}

/* No credential chain at all: only anonymous calls could go; this one ends at once. */
static void no_chain_is_credential_unavailable(void **state)
{
    (void)state;
    uv_loop_t loop;
    fake_transport ft;
    assert_int_equal(uv_loop_init(&loop), 0);
    script s = {0};
    fake_init(&ft, &loop, respond, &s);
    aliyun_transport tr = fake_get(&ft);
    aliyun_client_opts o = {.loop = &loop, .transport = &tr, .region_id = "cn-hangzhou", .qps = -1};
    aliyun_client *c = NULL;
    assert_int_equal(aliyun_client_new(&c, &o, NULL, 0), 0);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t = {&out, 0};
    assert_int_equal(aliyun_vpc_release_eip(c,
                                            &(aliyun_release_eip_params){.allocation_id = "eip-1"},
                                            on_done, &t, NULL),
                     0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(out.status[0], -ENOKEY);
    assert_string_equal(out.last.error.code, "CredentialUnavailable");
    assert_int_equal(ft.n, 0);
    aliyun_client_free(c);
    fake_free(&ft);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The constructor refuses what it cannot use, with a reason, and leaves nothing. */
static void client_new_refusals(void **state)
{
    (void)state;
    uv_loop_t loop;
    fake_transport ft;
    assert_int_equal(uv_loop_init(&loop), 0);
    script s = {0};
    fake_init(&ft, &loop, respond, &s);
    aliyun_transport tr = fake_get(&ft);
    char why[128];
    static char sentinel;
    aliyun_client *c = (aliyun_client *)(void *)&sentinel;
    aliyun_client_opts o = {.loop = &loop, .transport = &tr};
    assert_int_equal(aliyun_client_new(&c, &o, why, sizeof(why)), -EINVAL); /* no region */
    assert_null(c);
    assert_non_null(strstr(why, "region"));
    o.region_id = "cn/../x";
    assert_int_equal(aliyun_client_new(&c, &o, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "bad region"));
    o.region_id = "cn-hangzhou";
    o.endpoint[ALIYUN_SVC_ECS] = "not a url";
    assert_int_equal(aliyun_client_new(&c, &o, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "ecs endpoint"));
    o.endpoint[ALIYUN_SVC_ECS] = NULL;
    o.transport = NULL;
    assert_int_equal(aliyun_client_new(&c, &o, NULL, 0), -EINVAL);
    assert_null(c);
    fake_free(&ft);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void rpc_style_request(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    aliyun_client_opts o = {.qps = -1, .signature_version = ALIYUN_SIGN_RPC};
    env_up(&e, &o);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t = {&out, 0};
    start_release(&e, &t, "eip-rpc");
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(out.status[0], 0);
    const fake_req *q = e.ft.reqs[0];
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->url, "https://vpc.test:8443");
    assert_string_equal(fake_req_param(q, "Action"), "ReleaseEipAddress");
    assert_string_equal(fake_req_param(q, "Version"), "2016-04-28");
    assert_string_equal(fake_req_param(q, "SignatureMethod"), "HMAC-SHA1");
    assert_string_equal(fake_req_param(q, "SignatureVersion"), "1.0");
    assert_string_equal(fake_req_param(q, "Format"), "JSON");
    assert_string_equal(fake_req_param(q, "AccessKeyId"), "LTAItest");
    assert_non_null(fake_req_param(q, "Signature"));
    assert_null(strstr(q->body, "testsecret"));
    env_down(&e);
}

static void v3_request_shape(void **state)
{
    (void)state;
    env e;
    memset(&e, 0, sizeof(e));
    aliyun_client_opts o = {.qps = -1};
    env_up(&e, &o);
    outcome out;
    memset(&out, 0, sizeof(out));
    tagged t = {&out, 0};
    start_release(&e, &t, "eip-v3");
    uv_run(&e.loop, UV_RUN_DEFAULT);
    const fake_req *q = e.ft.reqs[0];
    assert_string_equal(q->url, "https://vpc.test:8443/?AllocationId=eip-v3&RegionId=cn-hangzhou");
    assert_string_equal(fake_req_header(q, "host"), "vpc.test:8443");
    assert_string_equal(fake_req_header(q, "x-acs-version"), "2016-04-28");
    const char *auth = fake_req_header(q, "Authorization");
    assert_true(strncmp(auth,
                        "ACS3-HMAC-SHA256 Credential=LTAItest,SignedHeaders=host;x-acs-action;"
                        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
                        "Signature=",
                        strlen("ACS3-HMAC-SHA256 Credential=LTAItest,SignedHeaders=host;x-acs-"
                               "action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-"
                               "acs-version,Signature=")) == 0);
    for (size_t i = 0; i < q->n_headers; i++)
        assert_null(strstr(q->headers[i], "testsecret"));
    env_down(&e);
}

static void endpoints(void **state)
{
    (void)state;
    char b[256];
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_VPC, "cn-hangzhou", false, b, sizeof(b)),
                     0);
    assert_string_equal(b, "https://vpc-vpc.cn-hangzhou.aliyuncs.com");
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_ECS, "cn-beijing", false, b, sizeof(b)), 0);
    assert_string_equal(b, "https://ecs-vpc.cn-beijing.aliyuncs.com");
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_STS, "ap-southeast-1", false, b, sizeof(b)),
                     0);
    assert_string_equal(b, "https://sts-vpc.ap-southeast-1.aliyuncs.com");
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_VPC, "cn-hangzhou", true, b, sizeof(b)), 0);
    assert_string_equal(b, "https://vpc.cn-hangzhou.aliyuncs.com");
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_ECS, "cn-hangzhou", true, b, sizeof(b)), 0);
    assert_string_equal(b, "https://ecs.cn-hangzhou.aliyuncs.com");
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_VPC, "cn/../x", false, b, sizeof(b)),
                     -EINVAL);
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_VPC, "", false, b, sizeof(b)), -EINVAL);
    assert_int_equal(aliyun_endpoint_default(ALIYUN_SVC_VPC, "cn-hangzhou", false, b, 10), -E2BIG);
    enum aliyun_signature_version v;
    assert_int_equal(aliyun_signature_version_parse("rpc", &v), 0);
    assert_int_equal(v, ALIYUN_SIGN_RPC);
    assert_int_equal(aliyun_signature_version_parse("V3", &v), 0);
    assert_int_equal(v, ALIYUN_SIGN_V3);
    assert_int_equal(aliyun_signature_version_parse("v2", &v), -EINVAL);
}

/* A caller taking tokens as fast as the bucket allows never passes the documented
 * limit in any sliding window, and gets close to it over time. */
static void window_bucket_stays_under_the_limit(void **state)
{
    (void)state;
    double calls, window;
    assert_int_equal(aliyun_action_limit("AllocateEipAddress", &calls, &window), 0);
    assert_true(calls == 120 && window == 60);
    assert_int_equal(aliyun_action_limit("DescribeEipAddresses", &calls, &window), 0);
    assert_true(calls == 600);
    assert_int_equal(aliyun_action_limit("DescribeNetworkInterfaces", &calls, &window), -ENOENT);
    for (int scale = 1; scale <= 3; scale++) {
        double rate, burst;
        aliyun_window_bucket(120, 60, scale, &rate, &burst);
        eip_tokenbucket b;
        eip_tokenbucket_init(&b, rate, burst, 0);
        int64_t t[4000];
        size_t n = 0;
        int64_t now = 0;
        while (now < 600000 && n < sizeof(t) / sizeof(t[0])) {
            int64_t wait = eip_tokenbucket_take(&b, now);
            if (wait == 0)
                t[n++] = now;
            else
                now += wait;
        }
        size_t lo = 0;
        for (size_t i = 0; i < n; i++) {
            while (t[i] - t[lo] >= 60000)
                lo++;
            assert_true(i - lo + 1 <= (size_t)(120 * scale));
        }
        /* ten minutes: most of what the limit allows */
        assert_true(n >= (size_t)(0.85 * 120 * 10 * scale));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after),
        cmocka_unit_test(paces_per_action),
        cmocka_unit_test(in_flight_cap_fifo),
        cmocka_unit_test(retries_honour_retry_after),
        cmocka_unit_test(fatal_errors_are_not_retried),
        cmocka_unit_test(retryable_until_exhausted),
        cmocka_unit_test(done_during_cleanup),
        cmocka_unit_test(cancel_and_free),
        cmocka_unit_test(free_inside_callback),
        cmocka_unit_test(rearm_and_cancel_inside),
        cmocka_unit_test(calls_wait_for_the_credential),
        cmocka_unit_test(calls_fail_without_a_credential),
        cmocka_unit_test(refused_credential_is_refreshed_once),
        cmocka_unit_test(no_chain_is_credential_unavailable),
        cmocka_unit_test(client_new_refusals),
        cmocka_unit_test(rpc_style_request),
        cmocka_unit_test(v3_request_shape),
        cmocka_unit_test(endpoints),
        cmocka_unit_test(window_bucket_stays_under_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
