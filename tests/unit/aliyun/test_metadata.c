/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aliyun/metadata.h"
#include "support_fake.h"

/* A fake metadata server: two ENIs, hardened mode switchable. */
typedef struct mdsim {
    bool token_supported;
    bool reject_tokens; /* answer 401 to any token (it "expired") */
    int tokens_issued;
    char second_ips[256];
    char bodies[16][256];
    int nb;
} mdsim;

static const char *path_of(const fake_req *q)
{
    const char *p = strstr(q->url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : "/";
}

static fake_reply md_respond(fake_transport *ft, const fake_req *q, void *arg)
{
    (void)ft;
    mdsim *s = arg;
    fake_reply r = {.status = 200, .delay_ms = 1};
    const char *path = path_of(q);
    char *b = s->bodies[s->nb++ % 16];
    r.body = b;
    if (strcmp(q->method, "PUT") == 0) {
        if (!s->token_supported || strcmp(path, "/latest/api/token") != 0 ||
            !fake_req_header(q, "X-aliyun-ecs-metadata-token-ttl-seconds")) {
            r.status = 404;
            snprintf(b, 256, "not found");
            return r;
        }
        snprintf(b, 256, "token-%d", ++s->tokens_issued);
        return r;
    }
    const char *tok = fake_req_header(q, "X-aliyun-ecs-metadata-token");
    if (tok && s->reject_tokens) {
        s->reject_tokens = false; /* the next token is good */
        r.status = 401;
        snprintf(b, 256, "Unauthorized");
        return r;
    }
    const char *md = "/latest/meta-data/";
    if (strncmp(path, md, strlen(md)) != 0) {
        r.status = 404;
        return r;
    }
    const char *key = path + strlen(md);
    if (strcmp(key, "region-id") == 0)
        snprintf(b, 256, "cn-hangzhou");
    else if (strcmp(key, "network/interfaces/macs/") == 0)
        snprintf(b, 256, "00:16:3e:00:00:01/\n00:16:3e:00:00:02/");
    else if (strcmp(key, "network/interfaces/macs/00:16:3e:00:00:01/private-ipv4s") == 0)
        snprintf(b, 256, "[\"10.0.0.2\",\"10.0.0.3\"]");
    else if (strcmp(key, "network/interfaces/macs/00:16:3e:00:00:02/private-ipv4s") == 0)
        snprintf(b, 256, "%s", s->second_ips);
    else if (strcmp(key, "network/interfaces/macs/00:16:3e:00:00:01/network-interface-id") == 0)
        snprintf(b, 256, "eni-primary");
    else if (strcmp(key, "network/interfaces/macs/00:16:3e:00:00:02/network-interface-id") == 0)
        snprintf(b, 256, "eni-second\n");
    else {
        r.status = 404;
        snprintf(b, 256, "<html>404</html>");
    }
    return r;
}

typedef struct menv {
    uv_loop_t loop;
    fake_transport ft;
    aliyun_transport tr;
    aliyun_metadata *md;
    mdsim s;
    int got;
    int err[16];
    char val[16][64];
} menv;

static void up(menv *e, const aliyun_metadata_opts *o)
{
    assert_int_equal(uv_loop_init(&e->loop), 0);
    fake_init(&e->ft, &e->loop, md_respond, &e->s);
    e->tr = fake_get(&e->ft);
    aliyun_metadata_opts mo = {0};
    if (o)
        mo = *o;
    mo.loop = &e->loop;
    mo.transport = &e->tr;
    assert_int_equal(aliyun_metadata_new(&e->md, &mo, NULL, 0), 0);
}

static void down(menv *e)
{
    aliyun_metadata_free(e->md);
    fake_free(&e->ft);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void on_get(int err, const char *value, size_t len, void *arg)
{
    menv *e = arg;
    e->err[e->got] = err;
    snprintf(e->val[e->got], sizeof(e->val[0]), "%.*s", (int)len, value ? value : "");
    e->got++;
}

static void on_eni(int err, const char *eni, const char *mac, void *arg)
{
    (void)mac;
    menv *e = arg;
    e->err[e->got] = err;
    snprintf(e->val[e->got], sizeof(e->val[0]), "%s", eni ? eni : "");
    e->got++;
}

static size_t count(const menv *e, const char *method)
{
    size_t n = 0;
    for (size_t i = 0; i < e->ft.n; i++)
        if (strcmp(e->ft.reqs[i]->method, method) == 0)
            n++;
    return n;
}

static void hardened_token_is_cached(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    e.s.token_supported = true;
    aliyun_metadata_opts o = {.endpoint = "http://md.test/"};
    up(&e, &o);
    assert_string_equal(aliyun_metadata_endpoint(e.md), "http://md.test");
    for (int i = 0; i < 3; i++)
        assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    assert_int_equal(e.got, 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.got, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e.err[i], 0);
        assert_string_equal(e.val[i], "cn-hangzhou");
    }
    /* one token for all three, sent on every GET */
    assert_int_equal(count(&e, "PUT"), 1);
    assert_string_equal(fake_req_header(e.ft.reqs[0], "X-aliyun-ecs-metadata-token-ttl-seconds"),
                        "21600");
    for (size_t i = 1; i < e.ft.n; i++)
        assert_string_equal(fake_req_header(e.ft.reqs[i], "X-aliyun-ecs-metadata-token"),
                            "token-1");
    /* later requests reuse it */
    assert_int_equal(aliyun_metadata_get(e.md, "vpc-id", on_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.err[3], -ENOENT);
    assert_int_equal(count(&e, "PUT"), 1);
    down(&e);
}

static void falls_back_to_normal_mode(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    e.s.token_supported = false;
    aliyun_metadata_opts o = {.endpoint = "http://md.test"};
    up(&e, &o);
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.err[0], 0);
    assert_null(fake_req_header(e.ft.reqs[e.ft.n - 1], "X-aliyun-ecs-metadata-token"));
    /* no token asked again right away */
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(count(&e, "PUT"), 1);
    assert_int_equal(e.got, 2);
    down(&e);

    /* disable_token: never a PUT */
    memset(&e, 0, sizeof(e));
    e.s.token_supported = true;
    aliyun_metadata_opts o2 = {.endpoint = "http://md.test", .disable_token = true};
    up(&e, &o2);
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(count(&e, "PUT"), 0);
    down(&e);
}

static void expired_token_is_replaced(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    e.s.token_supported = true;
    aliyun_metadata_opts o = {.endpoint = "http://md.test"};
    up(&e, &o);
    e.s.reject_tokens = true;
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.err[0], 0);
    assert_int_equal(count(&e, "PUT"), 2);
    assert_string_equal(fake_req_header(e.ft.reqs[e.ft.n - 1], "X-aliyun-ecs-metadata-token"),
                        "token-2");
    down(&e);
}

static void timer_noop(uv_timer_t *t)
{
    (void)t;
}

static void token_refreshed_before_expiry(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    e.s.token_supported = true;
    /* 1 s tokens are replaced when less than 100 ms is left */
    aliyun_metadata_opts o = {.endpoint = "http://md.test", .token_ttl_seconds = 1};
    up(&e, &o);
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(count(&e, "PUT"), 1);
    assert_string_equal(fake_req_header(e.ft.reqs[0], "X-aliyun-ecs-metadata-token-ttl-seconds"),
                        "1");
    /* wait 950 ms on the loop (a timer, not a sleep) */
    uv_timer_t t;
    uv_timer_init(&e.loop, &t);
    uv_timer_start(&t, timer_noop, 950, 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(count(&e, "PUT"), 2);
    assert_string_equal(fake_req_header(e.ft.reqs[e.ft.n - 1], "X-aliyun-ecs-metadata-token"),
                        "token-2");
    down(&e);
}

static void find_eni_cache(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    snprintf(e.s.second_ips, sizeof(e.s.second_ips), "[\"10.0.1.7\"]");
    aliyun_metadata_opts o = {.endpoint = "http://md.test", .disable_token = true};
    up(&e, &o);
    assert_int_equal(aliyun_metadata_find_eni(e.md, "10.0.1.7", on_eni, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.err[0], 0);
    assert_string_equal(e.val[0], "eni-second"); /* trailing newline trimmed */
    size_t after_first = e.ft.n;
    assert_int_equal(after_first, 5); /* the list, then two leaves per MAC */
    char eni[64];
    assert_int_equal(aliyun_metadata_cached_eni(e.md, "10.0.0.3", eni, sizeof(eni)), 0);
    assert_string_equal(eni, "eni-primary");
    /* a hit costs no request and still answers from the loop */
    assert_int_equal(aliyun_metadata_find_eni(e.md, "10.0.0.3", on_eni, &e, NULL), 0);
    assert_int_equal(e.got, 1);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.got, 2);
    assert_string_equal(e.val[1], "eni-primary");
    assert_int_equal(e.ft.n, after_first);
    /* a new IP on the second ENI: the miss lists again and finds it */
    snprintf(e.s.second_ips, sizeof(e.s.second_ips), "[\"10.0.1.7\",\"10.0.1.8\"]");
    assert_int_equal(aliyun_metadata_find_eni(e.md, "10.0.1.8", on_eni, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.err[2], 0);
    assert_string_equal(e.val[2], "eni-second");
    assert_int_equal(e.ft.n, after_first + 5);
    /* nobody's IP */
    assert_int_equal(aliyun_metadata_find_eni(e.md, "10.9.9.9", on_eni, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.err[3], -ENOENT);
    /* a bad private-ipv4s document fails the lookup instead of guessing */
    snprintf(e.s.second_ips, sizeof(e.s.second_ips), "10.0.1.7");
    aliyun_metadata_invalidate_enis(e.md);
    assert_int_equal(aliyun_metadata_find_eni(e.md, "10.0.0.2", on_eni, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.err[4], -EINVAL);
    down(&e);
}

/* A body with a NUL byte reaches the callback whole: value holds len bytes
 * (it once held only those before the NUL while len counted them all, and the
 * MAC listing parser read past the copy). */
static const char nul_body[] = "00:16:3e:00:00:01/\n\0x/\n00:16:3e:00:00:02/\n";

static fake_reply nul_respond(fake_transport *ft, const fake_req *q, void *arg)
{
    (void)ft;
    (void)q;
    (void)arg;
    fake_reply r = {.status = 200, .body = nul_body, .body_len = sizeof(nul_body) - 1};
    return r;
}

static void on_nul_get(int err, const char *value, size_t len, void *arg)
{
    menv *e = arg;
    assert_int_equal(err, 0);
    assert_int_equal(len, sizeof(nul_body) - 1);
    assert_memory_equal(value, nul_body, len);
    assert_int_equal(value[len], '\0');
    e->got++;
}

static void nul_in_body(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    assert_int_equal(uv_loop_init(&e.loop), 0);
    fake_init(&e.ft, &e.loop, nul_respond, NULL);
    e.tr = fake_get(&e.ft);
    aliyun_metadata_opts o = {
        .loop = &e.loop, .transport = &e.tr, .endpoint = "http://md.test", .disable_token = true};
    assert_int_equal(aliyun_metadata_new(&e.md, &o, NULL, 0), 0);
    assert_int_equal(aliyun_metadata_get(e.md, ALIYUN_MD_MACS, on_nul_get, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.got, 1);
    /* the ENI scan parses the same listing; every leaf then answers it too,
     * which is no private-ipv4s document: the lookup fails, nothing overflows */
    assert_int_equal(aliyun_metadata_find_eni(e.md, "10.0.0.2", on_eni, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.got, 2);
    assert_int_equal(e.err[1], -EINVAL);
    down(&e);
}

static void never(int err, const char *v, size_t len, void *arg)
{
    (void)err;
    (void)v;
    (void)len;
    (void)arg;
    fail_msg("callback after cancel");
}

static void cancel_and_bad_paths(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    e.s.token_supported = true;
    aliyun_metadata_opts o = {.endpoint = "http://md.test"};
    up(&e, &o);
    aliyun_md_req *r = NULL;
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", never, &e, &r), 0);
    aliyun_md_req_cancel(r);
    assert_int_equal(aliyun_metadata_get(e.md, "../secret", never, &e, NULL), -EINVAL);
    assert_int_equal(aliyun_metadata_get(e.md, "a?b", never, &e, NULL), -EINVAL);
    /* one left in flight for free() */
    assert_int_equal(aliyun_metadata_get(e.md, "instance-id", never, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_NOWAIT);
    down(&e);
}

static void free_md_cb(int err, const char *v, size_t len, void *arg)
{
    (void)err;
    (void)v;
    (void)len;
    menv *e = arg;
    e->got++;
    aliyun_metadata_free(e->md); /* from inside: the others go silently */
    e->md = NULL;
}

static void free_inside_callback(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    e.s.token_supported = true;
    aliyun_metadata_opts o = {.endpoint = "http://md.test"};
    up(&e, &o);
    for (int i = 0; i < 3; i++)
        assert_int_equal(aliyun_metadata_get(e.md, "region-id", free_md_cb, &e, NULL), 0);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.got, 1);
    assert_null(e.md);
    fake_free(&e.ft);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e.loop), 0);
}

/* An endpoint too long for a URL is refused with -E2BIG: nothing is sent to a
 * URL cut short (which would be another place). */
static void long_endpoint_is_refused_not_cut(void **state)
{
    (void)state;
    menv e;
    memset(&e, 0, sizeof(e));
    static char ep[10 * 1024];
    memcpy(ep, "http://md.test/", 15);
    memset(ep + 15, 'a', sizeof(ep) - 16);
    aliyun_metadata_opts o = {.endpoint = ep, .disable_token = true};
    up(&e, &o);
    assert_int_equal(aliyun_metadata_get(e.md, "region-id", on_get, &e, NULL), 0);
    assert_int_equal(e.got, 0); /* never synchronously */
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.got, 1);
    assert_int_equal(e.err[0], -E2BIG);
    assert_int_equal(e.ft.n, 0);
    down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hardened_token_is_cached),
        cmocka_unit_test(falls_back_to_normal_mode),
        cmocka_unit_test(expired_token_is_replaced),
        cmocka_unit_test(token_refreshed_before_expiry),
        cmocka_unit_test(find_eni_cache),
        cmocka_unit_test(cancel_and_bad_paths),
        cmocka_unit_test(free_inside_callback),
        cmocka_unit_test(nul_in_body),
        cmocka_unit_test(long_endpoint_is_refused_not_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
