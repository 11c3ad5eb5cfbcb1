/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/router_internal.h"

static int h_pod, h_pod_ready, h_self, h_healthz, h_root, h_list;

static void handler(http_exchange *ex, void *arg)
{
    (void)ex;
    (void)arg;
}

static http_router *make_router(void)
{
    http_router *r = NULL;
    assert_int_equal(http_router_new(&r), 0);
    assert_int_equal(http_router_add(r, "/v1/pods/{ns}/{name}", handler, &h_pod), 0);
    assert_int_equal(http_router_add(r, "/v1/pods/{ns}/{name}/ready", handler, &h_pod_ready), 0);
    assert_int_equal(http_router_add(r, "/v1/pods/self/{name}/ready", handler, &h_self), 0);
    assert_int_equal(http_router_add(r, "/healthz", handler, &h_healthz), 0);
    assert_int_equal(http_router_add(r, "/", handler, &h_root), 0);
    assert_int_equal(http_router_add(r, "/v1/pods", handler, &h_list), 0);
    return r;
}

static int decide(http_router *r, const char *method, const char *target, http_target *t,
                  http_match *m)
{
    return http_router_decide(r, method, target, strlen(target), t, m);
}

static void captures_and_literals(void **state)
{
    (void)state;
    http_router *r = make_router();
    http_target t;
    http_match m;

    assert_int_equal(decide(r, "GET", "/v1/pods/default/web-0/ready", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_pod_ready);
    assert_string_equal(m.pattern, "/v1/pods/{ns}/{name}/ready");
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[0].name, "ns");
    assert_string_equal(m.params[0].value, "default");
    assert_string_equal(m.params[1].name, "name");
    assert_string_equal(m.params[1].value, "web-0");
    http_target_free(&t);

    assert_int_equal(decide(r, "GET", "/v1/pods/default/web-0", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_pod);
    http_target_free(&t);

    assert_int_equal(decide(r, "HEAD", "/healthz", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_healthz);
    assert_int_equal(m.nparams, 0);
    http_target_free(&t);

    assert_int_equal(decide(r, "GET", "/", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_root);
    http_target_free(&t);

    assert_int_equal(decide(r, "GET", "/v1/pods", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_list);
    http_target_free(&t);
    http_router_free(r);
}

static void literal_beats_capture(void **state)
{
    (void)state;
    http_router *r = make_router();
    http_target t;
    http_match m;

    /* Both /v1/pods/{ns}/{name}/ready and /v1/pods/self/{name}/ready match. */
    assert_int_equal(decide(r, "GET", "/v1/pods/self/x/ready", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_self);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0].value, "x");
    http_target_free(&t);
    http_router_free(r);

    /* Registration order must not matter. */
    assert_int_equal(http_router_new(&r), 0);
    assert_int_equal(http_router_add(r, "/a/b/{c}", handler, &h_self), 0);
    assert_int_equal(http_router_add(r, "/a/{b}/c", handler, &h_pod), 0);
    assert_int_equal(http_router_add(r, "/{a}/b/c", handler, &h_list), 0);
    assert_int_equal(decide(r, "GET", "/a/b/c", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_self); /* the earliest literal decides */
    http_target_free(&t);
    assert_int_equal(decide(r, "GET", "/a/x/c", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_pod);
    http_target_free(&t);
    assert_int_equal(decide(r, "GET", "/z/b/c", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_list);
    http_target_free(&t);
    http_router_free(r);
}

static void bad_patterns(void **state)
{
    (void)state;
    http_router *r = make_router();
    assert_int_equal(http_router_add(r, "/v1/pods/{a}/{b}", handler, NULL), -EEXIST);
    assert_int_equal(http_router_add(r, "/healthz", handler, NULL), -EEXIST);
    assert_int_equal(http_router_add(r, "healthz", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/a//b", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/a/", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/a/{}", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/a/{b", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/a/b}", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/a/{x}/{x}", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/a/b%20", handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, NULL, handler, NULL), -EINVAL);
    assert_int_equal(http_router_add(r, "/ok", NULL, NULL), -EINVAL);
    http_router_free(r);
    http_router_free(NULL);
}

static void percent_decoding(void **state)
{
    (void)state;
    http_router *r = make_router();
    http_target t;
    http_match m;

    /* %2F stays inside its segment: split happens on raw slashes. */
    assert_int_equal(decide(r, "GET", "/v1/pods/my%20ns/a%2Fb/ready", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_pod_ready);
    assert_string_equal(m.params[0].value, "my ns");
    assert_string_equal(m.params[1].value, "a/b");
    assert_string_equal(t.path, "/v1/pods/my ns/a/b/ready");
    http_target_free(&t);

    /* A literal may be spelled with escapes; '+' is not a space in a path. */
    assert_int_equal(decide(r, "GET", "/heal%74hz", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_healthz);
    http_target_free(&t);
    assert_int_equal(decide(r, "GET", "/v1/pods/a+b/c", &t, &m), 0);
    assert_string_equal(m.params[0].value, "a+b");
    http_target_free(&t);

    assert_int_equal(decide(r, "GET", "/v1/pods/%00/x", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "/v1/pods/%zz/x", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "/v1/pods/%4/x", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "/v1/pods/x/%", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "/healthz?a=%00", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "/healthz?%g1=1", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "healthz", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "http://", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "http://x", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "http:///healthz", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "ftp://x/healthz", &t, &m), 400);
    assert_int_equal(decide(r, "GET", "*", &t, &m), 400);

    /* Absolute-form: only path and query count. */
    assert_int_equal(decide(r, "GET", "HTTP://node:9469/v1/pods/a/b/ready?wait=5", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_pod_ready);
    assert_string_equal(t.path, "/v1/pods/a/b/ready");
    assert_string_equal(http_target_query(&t, "wait"), "5");
    http_target_free(&t);
    assert_int_equal(decide(r, "GET", "https://x/healthz", &t, &m), 0);
    assert_ptr_equal(m.arg, &h_healthz);
    http_target_free(&t);

    char *out = NULL;
    assert_int_equal(http_pct_decode("%41%62+c%7e", 11, true, &out), 0);
    assert_string_equal(out, "Ab c~");
    free(out);
    assert_int_equal(http_pct_decode("a\0b", 3, false, &out), -EINVAL);
    http_router_free(r);
}

static void query_parsing(void **state)
{
    (void)state;
    http_target t;
    const char *q = "/x?wait=30&name=a%20b+c&empty=&flag&&wait=99&k%3D=v%26#frag";
    assert_int_equal(http_target_parse(q, strlen(q), &t), 0);
    assert_string_equal(t.path, "/x");
    assert_string_equal(http_target_query(&t, "wait"), "30"); /* first wins */
    assert_string_equal(http_target_query(&t, "name"), "a b c");
    assert_string_equal(http_target_query(&t, "empty"), "");
    assert_string_equal(http_target_query(&t, "flag"), "");
    assert_string_equal(http_target_query(&t, "k="), "v&");
    assert_null(http_target_query(&t, "frag"));
    assert_null(http_target_query(&t, "missing"));
    http_target_free(&t);

    /* Too many parameters is a bad request, not a silent cut. */
    char big[HTTP_ROUTER_MAX_QUERY * 4 + 16];
    size_t n = 0;
    big[n++] = '/';
    big[n++] = '?';
    for (int i = 0; i <= HTTP_ROUTER_MAX_QUERY; i++) {
        big[n++] = 'a';
        big[n++] = '=';
        big[n++] = '1';
        big[n++] = '&';
    }
    assert_int_equal(http_target_parse(big, n, &t), -EINVAL);
}

static void not_found_and_not_allowed(void **state)
{
    (void)state;
    http_router *r = make_router();
    http_target t;
    http_match m;

    assert_int_equal(decide(r, "GET", "/nope", &t, &m), 404);
    assert_null(m.pattern);
    assert_int_equal(decide(r, "GET", "/v1/pods/a", &t, &m), 404);
    assert_int_equal(decide(r, "GET", "/v1/pods/a/b/ready/more", &t, &m), 404);
    assert_int_equal(decide(r, "GET", "/healthz/", &t, &m), 404);
    /* An empty segment never fills a capture. */
    assert_int_equal(decide(r, "GET", "/v1/pods//b", &t, &m), 404);
    assert_int_equal(decide(r, "POST", "/nope", &t, &m), 404);

    assert_int_equal(decide(r, "POST", "/healthz", &t, &m), 405);
    assert_string_equal(m.pattern, "/healthz");
    http_target_free(&t);
    assert_int_equal(decide(r, "DELETE", "/v1/pods/a/b", &t, &m), 405);
    http_target_free(&t);

    /* Deeper than the segment limit: no route, no crash. */
    char deep[HTTP_ROUTER_MAX_SEGMENTS * 2 + 8];
    size_t n = 0;
    for (int i = 0; i < HTTP_ROUTER_MAX_SEGMENTS + 2; i++) {
        deep[n++] = '/';
        deep[n++] = 'a';
    }
    assert_int_equal(http_router_decide(r, "GET", deep, n, &t, &m), 404);
    http_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(captures_and_literals), cmocka_unit_test(literal_beats_capture),
        cmocka_unit_test(bad_patterns),          cmocka_unit_test(percent_decoding),
        cmocka_unit_test(query_parsing),         cmocka_unit_test(not_found_and_not_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
