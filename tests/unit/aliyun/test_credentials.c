/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "aliyun/credentials.h"
#include "aliyun/credentials_internal.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "support_fake.h"
#include "test_tmp.h"

#define SECRET "VerySecretValue123"
#define TOKEN "CAISsecurityTokenXYZ"

static void refresh_delay(void **state)
{
    (void)state;
    /* 10 minutes left, refresh 3 minutes before: in 7 minutes */
    assert_int_equal(aliyun_creds_refresh_delay_ms(0, 600000, 180000), 420000);
    /* exactly at the window edge: now */
    assert_int_equal(aliyun_creds_refresh_delay_ms(420000, 600000, 180000), 0);
    /* already inside the window, or expired: now */
    assert_int_equal(aliyun_creds_refresh_delay_ms(500000, 600000, 180000), 0);
    assert_int_equal(aliyun_creds_refresh_delay_ms(700000, 600000, 180000), 0);
    /* never expires */
    assert_int_equal(aliyun_creds_refresh_delay_ms(5, 0, 180000), -1);
    /* the refresh always lands at least `before` ahead of Expiration */
    for (int64_t left = 0; left < 3600000; left += 7919) {
        int64_t d = aliyun_creds_refresh_delay_ms(1000, 1000 + left, 180000);
        assert_true(d >= 0);
        if (d > 0)
            assert_true(1000 + left - (1000 + d) >= 180000);
    }
}

/* ---- source selection: everything comes in the options ---- */

static aliyun_creds *make(uv_loop_t *loop, const aliyun_creds_opts *in, int *err)
{
    static fake_transport unused; /* never sent on: nothing is fetched here */
    aliyun_transport tr = fake_get(&unused);
    aliyun_creds_opts o = *in;
    o.loop = loop;
    o.transport = &tr;
    static char sentinel;
    aliyun_creds *c = (aliyun_creds *)(void *)&sentinel; /* must be overwritten */
    char why[128] = "";
    *err = aliyun_creds_new(&c, &o, why, sizeof(why));
    if (*err) {
        assert_null(c);
        assert_true(why[0] != '\0'); /* a reason for every refusal */
    }
    return c;
}

static void sources(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    int err = 0;

    aliyun_creds_opts o = {.access_key_id = "LTAIcfg", .access_key_secret = SECRET};
    aliyun_creds *c = make(&loop, &o, &err);
    assert_non_null(c);
    assert_string_equal(aliyun_creds_source_name(c), "static");
    assert_string_equal(aliyun_creds_current(c)->access_key_id, "LTAIcfg");
    assert_null(aliyun_creds_current(c)->security_token);
    aliyun_creds_free(c);

    /* the agent found the key in its environment and says so */
    o.access_key_source = ALIYUN_CRED_ENV;
    c = make(&loop, &o, &err);
    assert_string_equal(aliyun_creds_source_name(c), "env");
    assert_int_equal(aliyun_creds_source(c), ALIYUN_CRED_ENV);
    aliyun_creds_free(c);

    aliyun_creds_opts rrsa = {.sts_endpoint = "https://sts.test",
                              .role_arn = "acs:ram::1:role/r",
                              .oidc_provider_arn = "acs:ram::1:oidc-provider/p",
                              .oidc_token_file = "/nonexistent/token"};
    c = make(&loop, &rrsa, &err);
    assert_non_null(c);
    assert_string_equal(aliyun_creds_source_name(c), "rrsa");
    assert_null(aliyun_creds_current(c)); /* nothing fetched yet */
    aliyun_creds_free(c);

    /* an AccessKey comes first */
    aliyun_creds_opts both = rrsa;
    both.access_key_id = "LTAIcfg";
    both.access_key_secret = SECRET;
    c = make(&loop, &both, &err);
    assert_string_equal(aliyun_creds_source_name(c), "static");
    aliyun_creds_free(c);

    /* RRSA needs an STS endpoint */
    aliyun_creds_opts no_sts = rrsa;
    no_sts.sts_endpoint = NULL;
    c = make(&loop, &no_sts, &err);
    assert_null(c);
    assert_int_equal(err, -EINVAL);

    /* nothing usable (part of RRSA, no metadata for an ECS RAM role) */
    aliyun_creds_opts partial = {.role_arn = "acs:ram::1:role/r"};
    c = make(&loop, &partial, &err);
    assert_null(c);
    assert_int_equal(err, -ENOENT);
    aliyun_creds_opts none = {0};
    c = make(&loop, &none, &err);
    assert_null(c);
    assert_int_equal(err, -ENOENT);

    /* no loop: refused before anything is built */
    char why[64];
    static char sentinel;
    c = (aliyun_creds *)(void *)&sentinel;
    assert_int_equal(aliyun_creds_new(&c, &o, why, sizeof(why)), -EINVAL);
    assert_null(c);

    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void describe_has_no_secret(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    int err = 0;
    aliyun_creds_opts o = {.access_key_id = "LTAI5tKeyIdentifier",
                           .access_key_secret = SECRET,
                           .security_token = TOKEN};
    aliyun_creds *c = make(&loop, &o, &err);
    char d[512];
    aliyun_creds_describe(c, d, sizeof(d));
    assert_non_null(strstr(d, "source=static"));
    assert_non_null(strstr(d, "access_key_id=LTAI****"));
    assert_non_null(strstr(d, "sts=yes"));
    assert_null(strstr(d, SECRET));
    assert_null(strstr(d, TOKEN));
    assert_null(strstr(d, "LTAI5tKeyIdentifier"));
    /* the credential itself is there for the signer */
    assert_string_equal(aliyun_creds_current(c)->access_key_secret, SECRET);
    aliyun_creds_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- RRSA refresh timing over a fake STS ---- */

typedef struct sts_script {
    int64_t lifetimes_s[8]; /* Expiration of answer i = now + lifetimes_s[i] */
    int fail_first;
    char bodies[8][1024];
    int64_t sent_wall_ms[8];
    int64_t exp_ms[8];
} sts_script;

static fake_reply sts_respond(fake_transport *ft, const fake_req *req, void *arg)
{
    (void)ft;
    sts_script *s = arg;
    size_t i = req->index < 8 ? req->index : 7;
    s->sent_wall_ms[i] = eip_time_now_ms();
    fake_reply r = {.status = 200};
    if ((int)req->index < s->fail_first) {
        r.status = 400;
        snprintf(s->bodies[i], sizeof(s->bodies[i]),
                 "{\"Code\":\"AuthenticationFail.OIDCToken.Invalid\",\"Message\":\"The OIDC "
                 "token is invalid: %s\"}",
                 req->body);
        r.body = s->bodies[i];
        return r;
    }
    time_t exp = (time_t)(eip_time_now_ms() / 1000 + s->lifetimes_s[i]);
    s->exp_ms[i] = (int64_t)exp * 1000;
    char iso[32];
    eip_time_format_rfc3339(iso, sizeof(iso), exp);
    snprintf(s->bodies[i], sizeof(s->bodies[i]),
             "{\"RequestId\":\"r\",\"Credentials\":{\"AccessKeyId\":\"STS.key%zu\","
             "\"AccessKeySecret\":\"" SECRET "%zu\",\"SecurityToken\":\"" TOKEN "%zu\","
             "\"Expiration\":\"%s\"}}",
             i, i, i, iso);
    r.body = s->bodies[i];
    return r;
}

typedef struct rrsa_env {
    uv_loop_t loop;
    fake_transport ft;
    aliyun_transport tr;
    aliyun_creds *c;
    sts_script s;
    char dir[64], file[96];
    uv_timer_t watch;
    size_t want_requests;
    int waits_ok, waits_failed;
    aliyun_creds_waiter w;
} rrsa_env;

static void write_token(rrsa_env *e, const char *tok)
{
    FILE *f = fopen(e->file, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", tok);
    fclose(f);
}

static void watch_cb(uv_timer_t *t)
{
    rrsa_env *e = t->data;
    if (e->ft.n >= e->want_requests && e->ft.active == 0) {
        uv_timer_stop(t);
        uv_stop(&e->loop);
    }
}

static void rrsa_up(rrsa_env *e, int64_t min_refresh_ms)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    fake_init(&e->ft, &e->loop, sts_respond, &e->s);
    e->tr = fake_get(&e->ft);
    assert_int_equal(eip_test_tmp_path(e->dir, sizeof(e->dir), "eip-creds-XXXXXX"), 0);
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->file, sizeof(e->file), "%s/token", e->dir);
    write_token(e, "oidc.token.one");
    aliyun_creds_opts o = {.loop = &e->loop,
                           .transport = &e->tr,
                           .sts_endpoint = "https://sts.test",
                           .role_arn = "acs:ram::1:role/r",
                           .oidc_provider_arn = "acs:ram::1:oidc-provider/p",
                           .oidc_token_file = e->file,
                           .min_refresh_ms = min_refresh_ms,
                           .retry_base_ms = 10,
                           .retry_cap_ms = 20};
    assert_int_equal(aliyun_creds_new(&e->c, &o, NULL, 0), 0);
    assert_non_null(e->c);
    uv_timer_init(&e->loop, &e->watch);
    e->watch.data = e;
}

static void rrsa_run_until(rrsa_env *e, size_t n)
{
    e->want_requests = n;
    uv_timer_start(&e->watch, watch_cb, 10, 10);
    uv_run(&e->loop, UV_RUN_DEFAULT);
}

static void rrsa_down(rrsa_env *e)
{
    aliyun_creds_free(e->c);
    uv_close((uv_handle_t *)&e->watch, NULL);
    fake_free(&e->ft);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    unlink(e->file);
    rmdir(e->dir);
}

static void on_wait(aliyun_creds_waiter *w, int err, void *arg)
{
    (void)w;
    rrsa_env *e = arg;
    if (err)
        e->waits_failed++;
    else
        e->waits_ok++;
}

static void rrsa_refreshes_before_expiration(void **state)
{
    (void)state;
    rrsa_env e;
    rrsa_up(&e, 1);
    /* 182 s left: the refresh is due in 1-2 s, 3 minutes before Expiration */
    e.s.lifetimes_s[0] = 182;
    e.s.lifetimes_s[1] = 3600;
    assert_int_equal(aliyun_creds_wait(e.c, &e.w, on_wait, &e), 0);
    assert_int_equal(e.waits_ok, 0); /* never synchronously */
    rrsa_run_until(&e, 1);
    assert_int_equal(e.waits_ok, 1);
    const aliyun_credential *cur = aliyun_creds_current(e.c);
    assert_non_null(cur);
    assert_string_equal(cur->access_key_id, "STS.key0");
    assert_non_null(strstr(e.ft.reqs[0]->body, "OIDCToken=oidc.token.one"));
    assert_non_null(strstr(e.ft.reqs[0]->body, "Action=AssumeRoleWithOIDC"));
    assert_null(fake_req_header(e.ft.reqs[0], "Authorization")); /* anonymous */
    /* kubelet rotates the projected token: the refresh must read it again */
    write_token(&e, "oidc.token.two");
    rrsa_run_until(&e, 2);
    int64_t refresh_at = e.s.sent_wall_ms[1];
    assert_true(refresh_at <= e.s.exp_ms[0] - 180000 + 50);
    assert_true(refresh_at - e.s.sent_wall_ms[0] >= 900);
    assert_non_null(strstr(e.ft.reqs[1]->body, "OIDCToken=oidc.token.two"));
    assert_string_equal(aliyun_creds_current(e.c)->access_key_id, "STS.key1");
    assert_int_equal(aliyun_creds_refresh_count(e.c), 2);
    rrsa_down(&e);
}

static void rrsa_inside_window_refreshes_now(void **state)
{
    (void)state;
    rrsa_env e;
    rrsa_up(&e, 1);
    e.s.lifetimes_s[0] = 60; /* already inside the 3 minute window */
    e.s.lifetimes_s[1] = 3600;
    aliyun_creds_start(e.c);
    rrsa_run_until(&e, 2);
    assert_true(e.s.sent_wall_ms[1] - e.s.sent_wall_ms[0] < 500);
    assert_string_equal(aliyun_creds_current(e.c)->access_key_id, "STS.key1");
    rrsa_down(&e);
}

/* A credential that is expired when it arrives (node clock ahead of STS) is a
 * failed refresh: the waiter gets an error, not a success without a credential
 * (which sent callers straight back to fetch, a loop without backoff). */
static void rrsa_expired_on_arrival_fails(void **state)
{
    (void)state;
    rrsa_env e;
    rrsa_up(&e, 1);
    for (int i = 0; i < 8; i++)
        e.s.lifetimes_s[i] = -60;
    assert_int_equal(aliyun_creds_wait(e.c, &e.w, on_wait, &e), 0);
    rrsa_run_until(&e, 1);
    assert_int_equal(e.waits_ok, 0);
    assert_int_equal(e.waits_failed, 1);
    assert_null(aliyun_creds_current(e.c));
    /* a new wait during the backoff fails fast instead of fetching again */
    size_t sent = e.ft.n;
    assert_int_equal(aliyun_creds_wait(e.c, &e.w, on_wait, &e), 0);
    uv_run(&e.loop, UV_RUN_NOWAIT);
    assert_int_equal(e.waits_failed, 2);
    assert_int_equal(e.ft.n, sent);
    char d[256];
    aliyun_creds_describe(e.c, d, sizeof(d));
    assert_non_null(strstr(d, "already expired"));
    rrsa_down(&e);
}

static void rrsa_failure_then_recovery_and_no_secret_in_logs(void **state)
{
    (void)state;
    /* debug logs go to a file we read back */
    char logpath[256];
    assert_int_equal(eip_test_tmp_path(logpath, sizeof(logpath), "eip-creds-log-XXXXXX"), 0);
    int fd = mkstemp(logpath);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    eip_log_set_level(EIP_LOG_DEBUG);

    rrsa_env e;
    rrsa_up(&e, 1);
    e.s.fail_first = 1;
    e.s.lifetimes_s[1] = 3600;
    assert_int_equal(aliyun_creds_wait(e.c, &e.w, on_wait, &e), 0);
    rrsa_run_until(&e, 1);
    /* the waiter learns about the failure instead of hanging */
    assert_int_equal(e.waits_failed, 1);
    assert_null(aliyun_creds_current(e.c));
    char d[512];
    aliyun_creds_describe(e.c, d, sizeof(d));
    assert_non_null(strstr(d, "AuthenticationFail.OIDCToken.Invalid"));
    assert_null(strstr(d, "oidc.token.one")); /* the echoed token is redacted */
    /* the retry timer fetches again */
    rrsa_run_until(&e, 2);
    assert_non_null(aliyun_creds_current(e.c));
    /* a refused token: drop it and fetch a new one */
    e.s.lifetimes_s[2] = 3600;
    aliyun_creds_invalidate(e.c);
    assert_null(aliyun_creds_current(e.c));
    rrsa_run_until(&e, 3);
    assert_string_equal(aliyun_creds_current(e.c)->access_key_id, "STS.key2");
    aliyun_creds_describe(e.c, d, sizeof(d));
    log_debug("creds: %s", d);
    rrsa_down(&e);

    eip_log_set_level(EIP_LOG_WARN);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[65536];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(logpath);
    assert_true(n > 0); /* debug lines were written */
    buf[n] = '\0';
    assert_null(strstr(buf, SECRET));
    assert_null(strstr(buf, TOKEN));
    assert_null(strstr(buf, "oidc.token"));
}

typedef struct free_ctx {
    rrsa_env *e;
    int calls;
} free_ctx;

static void free_creds_cb(aliyun_creds_waiter *w, int err, void *arg)
{
    (void)w;
    (void)err;
    free_ctx *f = arg;
    f->calls++;
    aliyun_creds_free(f->e->c); /* from inside a waiter: the other waiters go silently */
    f->e->c = NULL;
}

static void free_inside_waiter(void **state)
{
    (void)state;
    rrsa_env e;
    rrsa_up(&e, 1);
    e.s.lifetimes_s[0] = 3600;
    free_ctx f = {&e, 0};
    aliyun_creds_waiter w[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(aliyun_creds_wait(e.c, &w[i], free_creds_cb, &f), 0);
    rrsa_run_until(&e, 1);
    assert_int_equal(f.calls, 1);
    assert_null(e.c);
    rrsa_down(&e); /* aliyun_creds_free(NULL) is a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refresh_delay),
        cmocka_unit_test(sources),
        cmocka_unit_test(describe_has_no_secret),
        cmocka_unit_test(rrsa_refreshes_before_expiration),
        cmocka_unit_test(rrsa_inside_window_refreshes_now),
        cmocka_unit_test(rrsa_expired_on_arrival_fails),
        cmocka_unit_test(rrsa_failure_then_recovery_and_no_secret_in_logs),
        cmocka_unit_test(free_inside_waiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
