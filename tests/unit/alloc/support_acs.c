/* SPDX-License-Identifier: MIT */
#include "support_acs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "http/router_internal.h"

void acs_parse_query(const char *url, aliyun_params *q)
{
    aliyun_params_init(q);
    const char *p = strchr(url, '?');
    if (!p)
        return;
    p++;
    while (*p) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        assert_non_null(eq);
        char *k = NULL, *v = NULL;
        assert_int_equal(http_pct_decode(p, (size_t)(eq - p), false, &k), 0);
        assert_int_equal(http_pct_decode(eq + 1, n - (size_t)(eq + 1 - p), false, &v), 0);
        assert_int_equal(aliyun_params_add(q, k, v), 0);
        free(k);
        free(v);
        p += n;
        if (*p == '&')
            p++;
    }
    aliyun_params_sort(q);
}

void acs_want_param(const fake_req *req, const aliyun_params *q, const char *key, const char *value)
{
    const char *v = aliyun_params_get(q, key);
    if (!v || (value && strcmp(v, value) != 0))
        fail_msg("request %zu (%s): %s=%s, want %s", req->index,
                 fake_req_header(req, "x-acs-action"), key, v ? v : "(absent)",
                 value ? value : "(any)");
}

void acs_check_signature(const fake_req *req, const aliyun_params *q, const char *ak,
                         const char *sk)
{
    aliyun_params h;
    aliyun_params_init(&h);
    const char *auth = NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *line = req->headers[i];
        const char *colon = strchr(line, ':');
        assert_non_null(colon);
        char name[64];
        assert_true((size_t)(colon - line) < sizeof(name));
        memcpy(name, line, (size_t)(colon - line));
        name[colon - line] = '\0';
        const char *value = colon + 1 + (colon[1] == ' ');
        if (strcasecmp(name, "Authorization") == 0)
            auth = value;
        else
            assert_int_equal(aliyun_params_add(&h, name, value), 0);
    }
    assert_non_null(auth);
    assert_non_null(aliyun_params_get(&h, "host"));
    assert_non_null(aliyun_params_get(&h, "x-acs-version"));
    assert_non_null(aliyun_params_get(&h, "x-acs-date"));
    assert_non_null(aliyun_params_get(&h, "x-acs-signature-nonce"));
    assert_non_null(aliyun_params_get(&h, "x-acs-content-sha256"));
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->body, "");
    aliyun_v3_request v3 = {
        .method = "POST", .path = "/", .query = q, .headers = &h, .body = "", .body_len = 0};
    char sig[65];
    eip_buf want;
    eip_buf_init(&want, 4096);
    assert_int_equal(aliyun_sign_v3(&v3, ak, sk, sig, &want), 0);
    if (strcmp(want.data, auth) != 0)
        fail_msg("request %zu (%s): Authorization %s, want %s", req->index,
                 fake_req_header(req, "x-acs-action"), auth, want.data);
    eip_buf_free(&want);
    aliyun_params_free(&h);
}
