/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "aliyun/sign.h"
#include "common/pct.h"

static json_t *load_vectors(void)
{
    json_error_t err;
    json_t *root = json_load_file(EIP_TESTDATA_DIR "/aliyun-signature-vectors.json", 0, &err);
    if (!root)
        fail_msg("vectors: %s at line %d", err.text, err.line);
    return root;
}

static void params_from_object(aliyun_params *p, json_t *obj)
{
    const char *k;
    json_t *v;
    aliyun_params_init(p);
    json_object_foreach(obj, k, v)
    {
        assert_true(json_is_string(v));
        assert_int_equal(aliyun_params_add(p, k, json_string_value(v)), 0);
    }
}

static void rpc_vectors(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *arr = json_object_get(root, "rpc_v1_hmac_sha1");
    assert_true(json_array_size(arr) >= 3);
    size_t i;
    json_t *vec;
    json_array_foreach(arr, i, vec)
    {
        aliyun_params p;
        params_from_object(&p, json_object_get(vec, "params"));
        const char *method = json_string_value(json_object_get(vec, "method"));
        eip_buf sts;
        eip_buf_init(&sts, 1 << 20);
        assert_int_equal(aliyun_sign_rpc_string_to_sign(&sts, method, &p), 0);
        assert_string_equal(sts.data, json_string_value(json_object_get(vec, "string_to_sign")));
        char sig[64];
        assert_int_equal(aliyun_sign_rpc(method, &p,
                                         json_string_value(json_object_get(vec, "secret")), sig,
                                         sizeof(sig)),
                         0);
        assert_string_equal(sig, json_string_value(json_object_get(vec, "signature")));
        eip_buf_free(&sts);
        aliyun_params_free(&p);
    }
    json_decref(root);
}

static void v3_vectors(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *arr = json_object_get(root, "v3_acs3_hmac_sha256");
    assert_true(json_array_size(arr) >= 1);
    size_t i;
    json_t *vec;
    json_array_foreach(arr, i, vec)
    {
        aliyun_params q, h;
        params_from_object(&q, json_object_get(vec, "query"));
        params_from_object(&h, json_object_get(vec, "headers"));
        assert_int_equal(
            aliyun_params_add(&h, "host", json_string_value(json_object_get(vec, "host"))), 0);
        const char *body = json_string_value(json_object_get(vec, "body"));
        aliyun_v3_request req = {
            .method = json_string_value(json_object_get(vec, "method")),
            .path = json_string_value(json_object_get(vec, "path")),
            .query = &q,
            .headers = &h,
            .body = body,
            .body_len = body ? strlen(body) : 0,
        };
        eip_buf cr, sh, auth;
        eip_buf_init(&cr, 1 << 20);
        eip_buf_init(&sh, 4096);
        eip_buf_init(&auth, 4096);
        assert_int_equal(aliyun_sign_v3_canonical_request(&cr, &sh, &req), 0);
        assert_string_equal(sh.data, json_string_value(json_object_get(vec, "signed_headers")));
        char hx[65];
        aliyun_hex_sha256(cr.data, cr.len, hx);
        assert_string_equal(hx,
                            json_string_value(json_object_get(vec, "hashed_canonical_request")));
        char sig[65];
        const char *ak = json_string_value(json_object_get(vec, "access_key_id"));
        assert_int_equal(
            aliyun_sign_v3(&req, ak, json_string_value(json_object_get(vec, "secret")), sig, &auth),
            0);
        const char *want = json_string_value(json_object_get(vec, "signature"));
        assert_string_equal(sig, want);
        char expect[1024];
        snprintf(expect, sizeof(expect),
                 "ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s", ak,
                 json_string_value(json_object_get(vec, "signed_headers")), want);
        assert_string_equal(auth.data, expect);
        eip_buf_free(&cr);
        eip_buf_free(&sh);
        eip_buf_free(&auth);
        aliyun_params_free(&q);
        aliyun_params_free(&h);
    }
    json_decref(root);
}

static void check_encode(const char *in, const char *want)
{
    eip_buf b;
    eip_buf_init(&b, 4096);
    assert_int_equal(eip_pct_encode(&b, in, strlen(in)), 0);
    assert_string_equal(b.data ? b.data : "", want);
    eip_buf_free(&b);
}

static void percent_encoding(void **state)
{
    (void)state;
    check_encode("AZaz09-_.~", "AZaz09-_.~");
    check_encode("a b", "a%20b");
    check_encode("*", "%2A");
    check_encode("+", "%2B");
    check_encode("~", "~");
    check_encode("/", "%2F");
    check_encode("=&:,;?#[]@!$'()", "%3D%26%3A%2C%3B%3F%23%5B%5D%40%21%24%27%28%29");
    check_encode("%", "%25");
    check_encode("", "");
    /* UTF-8 bytes, upper-case hex: "é" and "中" */
    check_encode("\xc3\xa9", "%C3%A9");
    check_encode("\xe4\xb8\xad", "%E4%B8%AD");
    check_encode("\x7f\x01", "%7F%01");
}

static void canonical_query_sorting(void **state)
{
    (void)state;
    aliyun_params p;
    aliyun_params_init(&p);
    /* byte order: upper case before lower case, '.' (0x2E) before digits */
    assert_int_equal(aliyun_params_add(&p, "b", "2"), 0);
    assert_int_equal(aliyun_params_add(&p, "Tag.1.Key", "k"), 0);
    assert_int_equal(aliyun_params_add(&p, "a", ""), 0);
    assert_int_equal(aliyun_params_add(&p, "Tag.10.Key", "x y"), 0);
    assert_int_equal(aliyun_params_add(&p, "Tag.2.Key", "*"), 0);
    assert_int_equal(aliyun_params_add(&p, "B", "\xe4\xb8\xad"), 0);
    aliyun_params_sort(&p);
    eip_buf b;
    eip_buf_init(&b, 4096);
    assert_int_equal(aliyun_canonical_query(&b, &p), 0);
    assert_string_equal(b.data, "B=%E4%B8%AD&Tag.1.Key=k&Tag.10.Key=x%20y&Tag.2.Key=%2A&a=&b=2");
    eip_buf_free(&b);

    /* the RPC string to sign encodes the canonical query a second time */
    eip_buf s;
    eip_buf_init(&s, 4096);
    assert_int_equal(aliyun_sign_rpc_string_to_sign(&s, "POST", &p), 0);
    assert_string_equal(s.data, "POST&%2F&B%3D%25E4%25B8%25AD%26Tag.1.Key%3Dk%26Tag.10.Key%3Dx%"
                                "2520y%26Tag.2.Key%3D%252A%26a%3D%26b%3D2");
    eip_buf_free(&s);
    aliyun_params_free(&p);
}

static void params_helpers(void **state)
{
    (void)state;
    aliyun_params p;
    aliyun_params_init(&p);
    assert_int_equal(aliyun_params_addf(&p, "PageSize", "%d", 100), 0);
    assert_int_equal(aliyun_params_set(&p, "PageSize", "50"), 0);
    assert_int_equal(aliyun_params_set(&p, "Action", "X"), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(aliyun_params_get(&p, "PageSize"), "50");
    aliyun_params_remove(&p, "PageSize");
    assert_null(aliyun_params_get(&p, "PageSize"));
    assert_int_equal(p.n, 1);
    aliyun_params_free(&p);
    aliyun_params_free(NULL);
}

static void v3_header_selection(void **state)
{
    (void)state;
    /* Only host, content-type and x-acs-* are signed, lower-cased and sorted; values
     * are trimmed; the hashed payload is that of the body. */
    aliyun_params h, q;
    aliyun_params_init(&h);
    aliyun_params_init(&q);
    assert_int_equal(aliyun_params_add(&h, "X-Acs-Version", " 2016-04-28 "), 0);
    assert_int_equal(aliyun_params_add(&h, "Host", "vpc.cn-hangzhou.aliyuncs.com"), 0);
    assert_int_equal(aliyun_params_add(&h, "User-Agent", "eip-agent"), 0);
    assert_int_equal(aliyun_params_add(&h, "Content-Type", "application/x-www-form-urlencoded"), 0);
    assert_int_equal(aliyun_params_add(&h, "x-acs-action", "DescribeEipAddresses"), 0);
    assert_int_equal(aliyun_params_add(&q, "RegionId", "cn-hangzhou"), 0);
    aliyun_v3_request req = {
        .method = "POST", .path = "/", .query = &q, .headers = &h, .body = "a=b", .body_len = 3};
    eip_buf cr, sh;
    eip_buf_init(&cr, 4096);
    eip_buf_init(&sh, 4096);
    assert_int_equal(aliyun_sign_v3_canonical_request(&cr, &sh, &req), 0);
    char hb[65];
    aliyun_hex_sha256("a=b", 3, hb);
    char want[1024];
    snprintf(want, sizeof(want),
             "POST\n/\nRegionId=cn-hangzhou\n"
             "content-type:application/x-www-form-urlencoded\n"
             "host:vpc.cn-hangzhou.aliyuncs.com\n"
             "x-acs-action:DescribeEipAddresses\n"
             "x-acs-version:2016-04-28\n\n"
             "content-type;host;x-acs-action;x-acs-version\n%s",
             hb);
    assert_string_equal(cr.data, want);
    assert_string_equal(sh.data, "content-type;host;x-acs-action;x-acs-version");
    /* a different secret gives a different signature; the same input the same one */
    char s1[65], s2[65], s3[65];
    assert_int_equal(aliyun_sign_v3(&req, "ak", "secret1", s1, NULL), 0);
    assert_int_equal(aliyun_sign_v3(&req, "ak", "secret1", s2, NULL), 0);
    assert_int_equal(aliyun_sign_v3(&req, "ak", "secret2", s3, NULL), 0);
    assert_string_equal(s1, s2);
    assert_string_not_equal(s1, s3);
    eip_buf_free(&cr);
    eip_buf_free(&sh);
    aliyun_params_free(&h);
    aliyun_params_free(&q);
}

static void empty_sha256(void **state)
{
    (void)state;
    char hx[65];
    aliyun_hex_sha256(NULL, 0, hx);
    assert_string_equal(hx, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rpc_vectors),      cmocka_unit_test(v3_vectors),
        cmocka_unit_test(percent_encoding), cmocka_unit_test(canonical_query_sorting),
        cmocka_unit_test(params_helpers),   cmocka_unit_test(v3_header_selection),
        cmocka_unit_test(empty_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
