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

#include "agent/annotations.h"

#define NET EIP_ANNOT_PREFIX
#define LEGACY EIP_ANNOT_LEGACY_PREFIX

static const char *const prefixes[] = {NET, LEGACY};

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("\"%s\" not found in \"%s\"", (needle), (hay));                               \
    } while (0)

/* snprintf that fails the test instead of cutting; returns the length. */
static size_t fmt(char *dst, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static size_t fmt(char *dst, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(dst, cap, f, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Sets key to the len bytes at v, unchecked, so a test can hand over what the
 * API server never would (ill-formed UTF-8). */
static void set_n(json_t *o, const char *key, const char *v, size_t len)
{
    json_t *s = json_stringn_nocheck(v, len);
    assert_non_null(s);
    assert_int_equal(json_object_set_new(o, key, s), 0);
}

static void set(json_t *o, const char *key, const char *v)
{
    set_n(o, key, v, strlen(v));
}

/* {k1: v1, k2: v2, ...}, NULL-terminated. */
static json_t *annots(const char *k, ...)
{
    json_t *o = json_object();
    assert_non_null(o);
    va_list ap;
    va_start(ap, k);
    for (; k; k = va_arg(ap, const char *))
        set(o, k, va_arg(ap, const char *));
    va_end(ap);
    return o;
}

static char *key_of(const char *prefix, const char *suffix)
{
    static char buf[4][128];
    static int next;
    char *k = buf[next++ % 4];
    fmt(k, sizeof(buf[0]), "%s%s", prefix, suffix);
    return k;
}

static void assert_empty(const eip_request *r)
{
    eip_request zero;
    memset(&zero, 0, sizeof(zero));
    assert_true(eip_request_equal(r, &zero));
    assert_null(r->tags);
    assert_null(r->security_protection_types);
}

static bool valid_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* Parses a, which must succeed, into *r (the caller clears it). */
static void parse_ok(json_t *a, eip_request *r)
{
    eip_request_error e;
    memset(r, 0x5a, sizeof(*r)); /* out is written, never read */
    int rc = eip_request_parse(a, r, &e);
    if (rc != 0)
        fail_msg("parse: %d, %s: %s", rc, e.key, e.message);
}

/* Parses a, which must fail at key; returns the message (static storage). The
 * message must contain each of the NULL-terminated needles. */
static const char *parse_invalid(json_t *a, const char *key, ...)
{
    static eip_request_error e;
    eip_request r;
    memset(&r, 0x5a, sizeof(r));
    memset(&e, 0x5a, sizeof(e));
    int rc = eip_request_parse(a, &r, &e);
    if (rc != -EINVAL)
        fail_msg("parse of %s: %d, expected -EINVAL", key, rc);
    assert_empty(&r);
    assert_string_equal(e.key, key);
    assert_true(strlen(e.message) > 10 && strlen(e.message) < sizeof(e.message));
    assert_true(valid_utf8(e.message));
    va_list ap;
    va_start(ap, key);
    for (const char *n; (n = va_arg(ap, const char *));)
        assert_contains(e.message, n);
    va_end(ap);
    return e.message;
}

/* One annotation on an Auto pod must be refused with each needle. */
#define INVALID_ONE(key, value, ...)                                                               \
    do {                                                                                           \
        json_t *a_ = annots(NET "pod-with-eip", "true", (key), (value), NULL);                     \
        parse_invalid(a_, (key), __VA_ARGS__, NULL);                                               \
        json_decref(a_);                                                                           \
    } while (0)

static void not_an_eip_pod(void **state)
{
    (void)state;
    eip_request r;
    parse_ok(NULL, &r);
    assert_int_equal(r.type, EIP_ALLOC_NONE);
    assert_empty(&r);

    json_t *a = json_array();
    parse_ok(a, &r);
    assert_empty(&r);
    json_decref(a);

    a = annots("kubectl.kubernetes.io/restartedAt", "2026-01-01T00:00:00Z", NET "pod-networks",
               "[]", NULL);
    parse_ok(a, &r);
    assert_empty(&r);
    json_decref(a);

    /* "false", in any case, is no EIP; the settings of a pod that asks for
     * none are not looked at */
    for (size_t p = 0; p < 2; p++) {
        a = annots(key_of(prefixes[p], "pod-with-eip"), "FALSE", NET "eip-bandwidth", "abc",
                   NET "eip-tags", "{", NULL);
        parse_ok(a, &r);
        assert_int_equal(r.type, EIP_ALLOC_NONE);
        assert_empty(&r);
        json_decref(a);
    }

    /* an error pointer is optional */
    a = annots(NET "pod-with-eip", "maybe", NULL);
    assert_int_equal(eip_request_parse(a, &r, NULL), -EINVAL);
    assert_empty(&r);
    json_decref(a);
}

static void alloc_types(void **state)
{
    (void)state;
    eip_request r;
    for (size_t p = 0; p < 2; p++) {
        json_t *a = annots(key_of(prefixes[p], "pod-with-eip"), "True", NULL);
        parse_ok(a, &r);
        assert_int_equal(r.type, EIP_ALLOC_AUTO);
        assert_null(r.allocation_id);
        assert_int_equal(r.strategy, EIP_RELEASE_FOLLOW);
        assert_false(r.strategy_given);
        eip_request_clear(&r);
        json_decref(a);

        a = annots(key_of(prefixes[p], "pod-eip-instanceid"), "eip-2ze7abc123", NULL);
        parse_ok(a, &r);
        assert_int_equal(r.type, EIP_ALLOC_STATIC);
        assert_string_equal(r.allocation_id, "eip-2ze7abc123");
        eip_request_clear(&r);
        json_decref(a);

        a = annots(key_of(prefixes[p], "allocated-eip-id"), "eip-user1", NULL);
        parse_ok(a, &r);
        assert_int_equal(r.type, EIP_ALLOC_STATIC);
        assert_string_equal(r.allocation_id, "eip-user1");
        eip_request_clear(&r);
        json_decref(a);
    }
    /* the legacy ECI names */
    json_t *a = annots(LEGACY "eci-with-eip", "true", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.type, EIP_ALLOC_AUTO);
    eip_request_clear(&r);
    json_decref(a);
    a = annots(LEGACY "eci-eip-instanceid", "eip-eci1", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.type, EIP_ALLOC_STATIC);
    assert_string_equal(r.allocation_id, "eip-eci1");
    eip_request_clear(&r);
    json_decref(a);
}

static void type_precedence(void **state)
{
    (void)state;
    eip_request r;
    /* instanceid beats pod-with-eip and allocated-eip-id */
    json_t *a = annots(NET "pod-with-eip", "true", NET "pod-eip-instanceid", "eip-static",
                       NET "allocated-eip-id", "eip-other", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.type, EIP_ALLOC_STATIC);
    assert_string_equal(r.allocation_id, "eip-static");
    eip_request_clear(&r);
    json_decref(a);

    /* pod-with-eip "true" + allocated-eip-id: Auto, the id is the agent's hint */
    a = annots(LEGACY "eci-with-eip", "true", EIP_ANNOT_ALLOCATED_ID, "eip-mine", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.type, EIP_ALLOC_AUTO);
    assert_string_equal(r.allocation_id, "eip-mine");
    eip_request_clear(&r);
    json_decref(a);

    /* allocated-eip-id alone, or with pod-with-eip "false": Static */
    a = annots(NET "pod-with-eip", "false", LEGACY "allocated-eip-id", "eip-reuse", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.type, EIP_ALLOC_STATIC);
    assert_string_equal(r.allocation_id, "eip-reuse");
    eip_request_clear(&r);
    json_decref(a);

    /* the losing type keys are still validated */
    a = annots(NET "pod-eip-instanceid", "eip-static", NET "pod-with-eip", "yes", NULL);
    parse_invalid(a, NET "pod-with-eip", "\"true\" or \"false\"", "got \"yes\"", NULL);
    json_decref(a);
    a = annots(NET "pod-eip-instanceid", "eip-static", NET "allocated-eip-id", "EIP-X", NULL);
    parse_invalid(a, NET "allocated-eip-id", "\"eip-\"", "got \"EIP-X\"", NULL);
    json_decref(a);
}

static void prefix_precedence(void **state)
{
    (void)state;
    eip_request r;
    /* network.alibabacloud.com/ wins over k8s.aliyun.com/ */
    json_t *a =
        annots(NET "pod-with-eip", "true", NET "eip-bandwidth", "10", LEGACY "eip-bandwidth", "20",
               LEGACY "eip-isp", "BGP", NET "eip-isp", "BGP_PRO", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.bandwidth, 10);
    assert_string_equal(r.isp, "BGP_PRO");
    eip_request_clear(&r);
    json_decref(a);

    /* the loser is not looked at, however wrong */
    a = annots(NET "pod-with-eip", "true", NET "eip-bandwidth", "10", LEGACY "eip-bandwidth",
               "lots", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.bandwidth, 10);
    eip_request_clear(&r);
    json_decref(a);

    /* and the error names the key that was used */
    a = annots(NET "pod-with-eip", "true", NET "eip-bandwidth", "lots", LEGACY "eip-bandwidth",
               "10", NULL);
    parse_invalid(a, NET "eip-bandwidth", "got \"lots\"", NULL);
    json_decref(a);

    /* network.alibabacloud.com/pod-with-eip "false" beats k8s.aliyun.com/ "true" */
    a = annots(NET "pod-with-eip", "false", LEGACY "pod-with-eip", "true", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.type, EIP_ALLOC_NONE);
    json_decref(a);
    /* the new name beats the legacy ECI one under the same prefix */
    a = annots(LEGACY "pod-eip-instanceid", "eip-new", LEGACY "eci-eip-instanceid", "eip-eci",
               NULL);
    parse_ok(a, &r);
    assert_string_equal(r.allocation_id, "eip-new");
    eip_request_clear(&r);
    json_decref(a);
    a = annots(NET "pod-eip-instanceid", "eip-new", LEGACY "eci-eip-instanceid", "eip-eci", NULL);
    parse_ok(a, &r);
    assert_string_equal(r.allocation_id, "eip-new");
    eip_request_clear(&r);
    json_decref(a);

    /* charge type: the prefix first, then the new name before eip-charge-type */
    static const struct {
        const char *keys[4];
        const char *winner;
    } charge[] = {
        {{NET "eip-internet-charge-type", NET "eip-charge-type", LEGACY "eip-internet-charge-type",
          LEGACY "eip-charge-type"},
         NET "eip-internet-charge-type"},
        {{NET "eip-charge-type", LEGACY "eip-internet-charge-type", LEGACY "eip-charge-type", NULL},
         NET "eip-charge-type"},
        {{LEGACY "eip-internet-charge-type", LEGACY "eip-charge-type", NULL, NULL},
         LEGACY "eip-internet-charge-type"},
    };
    for (size_t i = 0; i < sizeof(charge) / sizeof(charge[0]); i++) {
        a = annots(NET "pod-with-eip", "true", NULL);
        for (size_t k = 0; k < 4 && charge[i].keys[k]; k++)
            set(a, charge[i].keys[k], "Bogus");
        set(a, charge[i].winner, "Wrong");
        parse_invalid(a, charge[i].winner, "got \"Wrong\"", NULL);
        set(a, charge[i].winner, "PayByBandwidth");
        parse_ok(a, &r);
        assert_string_equal(r.internet_charge_type, "PayByBandwidth");
        eip_request_clear(&r);
        json_decref(a);
    }
}

/* Every settings row, with each prefix, lands in its field. */
static void every_setting_both_prefixes(void **state)
{
    (void)state;
    static const struct {
        const char *suffix, *value;
        size_t field;
    } strings[] = {
        {"eip-internet-charge-type", "PayByBandwidth", offsetof(eip_request, internet_charge_type)},
        {"eip-charge-type", "PayByTraffic", offsetof(eip_request, internet_charge_type)},
        {"eip-instance-charge-type", "PostPaid", offsetof(eip_request, instance_charge_type)},
        {"eip-common-bandwidth-package-id", "cbwp-2zeabc123",
         offsetof(eip_request, bandwidth_package_id)},
        {"eip-isp", "BGP_PRO", offsetof(eip_request, isp)},
        {"eip-public-ip-address-pool-id", "pippool-123abc",
         offsetof(eip_request, public_ip_address_pool_id)},
        {"eip-resource-group-id", "rg-acfm2abc", offsetof(eip_request, resource_group_id)},
        {"eip-name", "web-1.a_b", offsetof(eip_request, name)},
        {"eip-description", "for the web tier", offsetof(eip_request, description)},
        {"pod-eip-release-strategy", "1h30m", offsetof(eip_request, release_after)},
    };
    eip_request r;
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
            json_t *a = annots(NET "pod-with-eip", "true", key_of(prefixes[p], strings[i].suffix),
                               strings[i].value, NULL);
            parse_ok(a, &r);
            char *got = *(char **)(void *)((char *)&r + strings[i].field);
            assert_non_null(got);
            assert_string_equal(got, strings[i].value);
            eip_request_clear(&r);
            json_decref(a);
        }
        json_t *a =
            annots(NET "pod-with-eip", "true", key_of(prefixes[p], "eip-bandwidth"), "10",
                   key_of(prefixes[p], "eip-security-protection-types"), "AntiDDoS_Enhanced,Other2",
                   key_of(prefixes[p], "eip-tags"), "{\"team\":\"web\",\"env\":\"prod\"}",
                   key_of(prefixes[p], "pod-eip-release-strategy"), "10m", NULL);
        parse_ok(a, &r);
        assert_int_equal(r.type, EIP_ALLOC_AUTO);
        assert_int_equal(r.bandwidth, 10);
        assert_int_equal(r.n_security_protection_types, 2);
        assert_string_equal(r.security_protection_types[0], "AntiDDoS_Enhanced");
        assert_string_equal(r.security_protection_types[1], "Other2");
        assert_null(r.security_protection_types[2]);
        assert_int_equal(r.n_tags, 2);
        assert_string_equal(r.tags[0].key, "env"); /* sorted */
        assert_string_equal(r.tags[0].value, "prod");
        assert_string_equal(r.tags[1].key, "team");
        assert_string_equal(r.tags[1].value, "web");
        assert_int_equal(r.strategy, EIP_RELEASE_TTL);
        assert_true(r.strategy_given);
        assert_int_equal(r.release_after_ms, 600000);
        assert_string_equal(r.release_after, "10m");
        eip_request_clear(&r);
        json_decref(a);
    }
    /* every ISP */
    static const char *const isps[] = {"BGP",
                                       "BGP_PRO",
                                       "ChinaTelecom",
                                       "ChinaUnicom",
                                       "ChinaMobile",
                                       "ChinaTelecom_L2",
                                       "ChinaUnicom_L2",
                                       "ChinaMobile_L2",
                                       "BGP_FinanceCloud"};
    for (size_t i = 0; i < sizeof(isps) / sizeof(isps[0]); i++) {
        json_t *a = annots(NET "pod-eip-instanceid", "eip-1", NET "eip-isp", isps[i], NULL);
        parse_ok(a, &r);
        assert_string_equal(r.isp, isps[i]);
        eip_request_clear(&r);
        json_decref(a);
    }
}

static void bandwidth(void **state)
{
    (void)state;
    static const struct {
        const char *charge, *value;
        int want;
    } ok[] = {
        {NULL, "1", 1},
        {NULL, "200", 200},
        {NULL, "5M", 5},
        {NULL, "5m", 5},
        {NULL, "5Mbps", 5},
        {NULL, "5MBPS", 5},
        {NULL, "007", 7},
        {"PayByTraffic", "200M", 200},
        {"PayByBandwidth", "201", 201},
        {"PayByBandwidth", "500Mbps", 500},
    };
    eip_request r;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *a = annots(NET "pod-with-eip", "true", LEGACY "eip-bandwidth", ok[i].value, NULL);
        if (ok[i].charge)
            set(a, LEGACY "eip-charge-type", ok[i].charge);
        parse_ok(a, &r);
        assert_int_equal(r.bandwidth, ok[i].want);
        eip_request_clear(&r);
        json_decref(a);
    }
    static const struct {
        const char *charge, *value, *range;
    } bad[] = {
        {NULL, "abc", "from 1 to 200"},
        {NULL, "0", "from 1 to 200"},
        {NULL, "-1", "from 1 to 200"},
        {NULL, "+5", "from 1 to 200"},
        {NULL, " 5", "from 1 to 200"},
        {NULL, "5 M", "from 1 to 200"},
        {NULL, "5Mb", "from 1 to 200"},
        {NULL, "M", "from 1 to 200"},
        {NULL, "", "from 1 to 200"},
        {NULL, "5.5", "from 1 to 200"},
        {NULL, "201", "from 1 to 200"},
        {"PayByTraffic", "201", "from 1 to 200"},
        {"PayByBandwidth", "501", "from 1 to 500"},
        {NULL, "99999999999999999999", "from 1 to 200"},
        {"PayByBandwidth", "99999999999999999999M", "from 1 to 500"},
        {NULL, "4294967297", "from 1 to 200"}, /* 2^32 + 1: no wrap to 1 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *a = annots(NET "pod-with-eip", "true", NET "eip-bandwidth", bad[i].value, NULL);
        if (bad[i].charge)
            set(a, NET "eip-internet-charge-type", bad[i].charge);
        char got[64];
        fmt(got, sizeof(got), "got \"%s\"", bad[i].value);
        parse_invalid(a, NET "eip-bandwidth", bad[i].range, "\"M\" or \"Mbps\"", got, NULL);
        json_decref(a);
    }
    json_t *a = annots(NET "pod-with-eip", "true", NET "eip-bandwidth", "201", NULL);
    assert_string_equal(parse_invalid(a, NET "eip-bandwidth", NULL),
                        "must be an integer from 1 to 200 (Mbit/s with PayByTraffic), optionally "
                        "followed by \"M\" or \"Mbps\"; got \"201\"");
    json_decref(a);
}

static void invalid_values(void **state)
{
    (void)state;
    json_t *a = annots(NET "pod-with-eip", "true", LEGACY "eip-internet-charge-type", "Foo", NULL);
    assert_string_equal(parse_invalid(a, LEGACY "eip-internet-charge-type", NULL),
                        "must be one of PayByTraffic, PayByBandwidth; got \"Foo\"");
    json_decref(a);

    INVALID_ONE(LEGACY "eip-charge-type", "paybytraffic", "PayByTraffic, PayByBandwidth",
                "got \"paybytraffic\"");
    INVALID_ONE(NET "eip-isp", "BGP_Premium", "BGP, BGP_PRO, ChinaTelecom", "BGP_FinanceCloud",
                "got \"BGP_Premium\"");
    INVALID_ONE(NET "eip-isp", "", "one of BGP", "got \"\"");
    INVALID_ONE(NET "eip-instance-charge-type", "PrePaid", "must be PostPaid", "not supported",
                "got \"PrePaid\"");
    INVALID_ONE(LEGACY "eip-instance-charge-type", "postpaid", "must be PostPaid",
                "got \"postpaid\"");
    INVALID_ONE(NET "pod-with-eip", "yes", "\"true\" or \"false\"", "got \"yes\"");
    a = annots(LEGACY "eci-with-eip", "", NULL);
    parse_invalid(a, LEGACY "eci-with-eip", "\"true\" or \"false\"", "got \"\"", NULL);
    json_decref(a);

    /* ids */
    static const char *const bad_eip[] = {"EIP-1",   "eip-",    "eip-ABC", "eip_1",
                                          "eip-a b", "eip-1\"", "i-123",   ""};
    for (size_t i = 0; i < sizeof(bad_eip) / sizeof(bad_eip[0]); i++) {
        INVALID_ONE(NET "pod-eip-instanceid", bad_eip[i], "\"eip-\" followed by",
                    "at most 64 bytes");
        INVALID_ONE(LEGACY "eci-eip-instanceid", bad_eip[i], "\"eip-\" followed by");
        INVALID_ONE(NET "allocated-eip-id", bad_eip[i], "\"eip-\" followed by");
    }
    INVALID_ONE(NET "pod-eip-instanceid", "eip-1\"", "got \"eip-1\\\"\""); /* escaped */
    char id[80];
    memcpy(id, "eip-", 4);
    memset(id + 4, 'a', 60);
    id[64] = '\0';
    json_t *ok = annots(NET "pod-eip-instanceid", id, NULL);
    eip_request r;
    parse_ok(ok, &r); /* 64 bytes */
    eip_request_clear(&r);
    json_decref(ok);
    id[64] = 'a';
    id[65] = '\0';
    INVALID_ONE(NET "pod-eip-instanceid", id, "at most 64 bytes");
    INVALID_ONE(NET "eip-common-bandwidth-package-id", "cbwp_1", "\"cbwp-\" followed by");
    INVALID_ONE(NET "eip-public-ip-address-pool-id", "pool-1", "\"pippool-\" followed by");
    INVALID_ONE(LEGACY "eip-resource-group-id", "rg-ABC", "\"rg-\" followed by");

    /* release strategy */
    static const char *const bad_release[] = {"0s", "-1m",  "soon", "",
                                              "10", "1.5h", "0h0m", "Always"};
    for (size_t i = 0; i < sizeof(bad_release) / sizeof(bad_release[0]); i++)
        INVALID_ONE(LEGACY "pod-eip-release-strategy", bad_release[i], "Follow, Never",
                    "positive duration", "got \"");

    /* security protection types */
    static const char *const bad_spt[] = {
        "", "a,,b", ",a", "a,", "a b", "a-b", "1,2,3,4,5,6,7,8,9,10,11"};
    for (size_t i = 0; i < sizeof(bad_spt) / sizeof(bad_spt[0]); i++)
        INVALID_ONE(NET "eip-security-protection-types", bad_spt[i],
                    "comma-separated list of 1 to 10", "AntiDDoS_Enhanced");
    ok = annots(NET "pod-with-eip", "true", NET "eip-security-protection-types",
                "a,b,c,d,e,f,g,h,i,j", NULL);
    parse_ok(ok, &r); /* ten */
    assert_int_equal(r.n_security_protection_types, 10);
    assert_string_equal(r.security_protection_types[9], "j");
    assert_null(r.security_protection_types[10]);
    eip_request_clear(&r);
    json_decref(ok);
}

static void name_and_description(void **state)
{
    (void)state;
    eip_request r;
    char s[300];
    memset(s, 'a', sizeof(s));
    s[128] = '\0';
    /* 128 characters; letters, Chinese characters, digits, '.', '_', '-' */
    const char *const good_names[] = {"a", "Web-1.x_y", "\xe4\xb8\xad\xe6\x96\x87-1", s};
    for (size_t i = 0; i < sizeof(good_names) / sizeof(good_names[0]); i++) {
        json_t *a = annots(NET "pod-with-eip", "true", NET "eip-name", good_names[i], NULL);
        parse_ok(a, &r);
        assert_string_equal(r.name, good_names[i]);
        eip_request_clear(&r);
        json_decref(a);
    }
    s[128] = 'a';
    s[129] = '\0';
    static const char *const bad_names[] = {
        "", "1abc", "-a", "_a", ".a", "a b", "a/b", "http://x", "https://x", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        INVALID_ONE(NET "eip-name", bad_names[i], "1 to 128 characters", "a letter first",
                    "got \"");
    INVALID_ONE(LEGACY "eip-name", s, "1 to 128 characters", "\"...");

    /* description: 2 to 256 characters (not bytes) */
    s[0] = 'd';
    memset(s + 1, 'x', 255);
    s[256] = '\0';
    json_t *a = annots(NET "pod-with-eip", "true", NET "eip-description", s, NULL);
    parse_ok(a, &r);
    eip_request_clear(&r);
    json_decref(a);
    /* 128 two-byte characters: 256 bytes, 128 characters */
    for (size_t i = 0; i < 128; i++)
        memcpy(s + 2 * i, "\xc3\xa9", 2);
    s[256] = '\0';
    a = annots(NET "pod-with-eip", "true", NET "eip-description", s, NULL);
    parse_ok(a, &r);
    eip_request_clear(&r);
    json_decref(a);
    memset(s, 'x', 257);
    s[257] = '\0';
    INVALID_ONE(NET "eip-description", s, "2 to 256 characters", "(257 characters)");
    INVALID_ONE(NET "eip-description", "x", "2 to 256 characters", "got \"x\"");
    INVALID_ONE(LEGACY "eip-description", "http://example.com", "not starting with http://");
    INVALID_ONE(LEGACY "eip-description", "https://example.com", "not starting with http://");
    a = annots(NET "pod-with-eip", "true", NET "eip-description", "see http://example.com", NULL);
    parse_ok(a, &r);
    eip_request_clear(&r);
    json_decref(a);
}

static void tags(void **state)
{
    (void)state;
    eip_request r;
    /* JSON whitespace, a YAML block's trailing newline included, is fine */
    json_t *a = annots(NET "pod-with-eip", "true", NET "eip-tags",
                       "{\n  \"b\": \"2\",\t\"a\": \"\",\r\n \"c\": \"\\u4e2d\"}\n", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.n_tags, 3);
    assert_string_equal(r.tags[0].key, "a");
    assert_string_equal(r.tags[0].value, "");
    assert_string_equal(r.tags[1].key, "b");
    assert_string_equal(r.tags[2].key, "c");
    assert_string_equal(r.tags[2].value, "\xe4\xb8\xad");
    eip_request_clear(&r);
    json_decref(a);

    a = annots(NET "pod-with-eip", "true", NET "eip-tags", "{}", NULL);
    parse_ok(a, &r);
    assert_int_equal(r.n_tags, 0);
    assert_null(r.tags);
    eip_request_clear(&r);
    json_decref(a);

    /* the most there is room for beside the agent's own */
    char many[1024];
    size_t o = 0;
    many[o++] = '{';
    for (int i = 0; i < EIP_MAX_USER_TAGS; i++)
        o += fmt(many + o, sizeof(many) - o, "%s\"k%02d\":\"v\"", i ? "," : "", i);
    fmt(many + o, sizeof(many) - o, "}");
    a = annots(NET "pod-with-eip", "true", NET "eip-tags", many, NULL);
    parse_ok(a, &r);
    assert_int_equal(r.n_tags, EIP_MAX_USER_TAGS);
    eip_request_clear(&r);
    json_decref(a);
    fmt(many + o, sizeof(many) - o, ",\"k99\":\"v\"}");
    INVALID_ONE(NET "eip-tags", many, "at most 14 tags", "got 15");

    char long_key[200], long_value[200], kv[256];
    memset(long_key, 'k', 129);
    long_key[129] = '\0';
    fmt(kv, sizeof(kv), "{\"%s\":\"v\"}", long_key);
    INVALID_ONE(LEGACY "eip-tags", kv, "tag keys must be 1 to 128 characters", "got \"kkk");
    long_key[128] = '\0';
    fmt(kv, sizeof(kv), "{\"%s\":\"v\"}", long_key);
    a = annots(NET "pod-with-eip", "true", NET "eip-tags", kv, NULL);
    parse_ok(a, &r); /* 128 */
    eip_request_clear(&r);
    json_decref(a);
    memset(long_value, 'v', 129);
    long_value[129] = '\0';
    fmt(kv, sizeof(kv), "{\"k\":\"%s\"}", long_value);
    INVALID_ONE(NET "eip-tags", kv, "tag values must be at most 128 characters", "\"k\" has 129");

    INVALID_ONE(NET "eip-tags", "{\"a\":", "JSON object of string values", "invalid JSON");
    INVALID_ONE(NET "eip-tags", "team=web", "JSON object of string values", "invalid JSON");
    INVALID_ONE(NET "eip-tags", "{\"a\":\"1\"} x", "invalid JSON");
    INVALID_ONE(NET "eip-tags", "{\"a\":\"1\",\"a\":\"2\"}", "invalid JSON", "duplicate");
    INVALID_ONE(NET "eip-tags", "[\"a\"]", "JSON object of string values", "got an array");
    INVALID_ONE(NET "eip-tags", "\"a\"", "JSON object of string values", "got a string");
    INVALID_ONE(NET "eip-tags", "{\"a\":1}", "JSON object of string values",
                "tag \"a\" has a number");
    INVALID_ONE(NET "eip-tags", "{\"a\":{\"b\":\"c\"}}", "tag \"a\" has an object");
    INVALID_ONE(NET "eip-tags", "{\"a\":null}", "tag \"a\" has null");
    INVALID_ONE(NET "eip-tags", "{\"ack.aliyun.com\":\"c-1\"}", "the agent's own tags",
                "got \"ack.aliyun.com\"");
    INVALID_ONE(LEGACY "eip-tags", "{\"x\":\"1\",\"eip-agent/node\":\"n\"}",
                "must not be ack.aliyun.com nor start with eip-agent/", "got \"eip-agent/node\"");
    INVALID_ONE(NET "eip-tags", "{\"aliyun-x\":\"1\"}", "\"aliyun\" or \"acs:\"");
    INVALID_ONE(NET "eip-tags", "{\"acs:x\":\"1\"}", "\"aliyun\" or \"acs:\"");
    INVALID_ONE(NET "eip-tags", "{\"see http://x\":\"1\"}", "\"http://\" or \"https://\"");
    INVALID_ONE(NET "eip-tags", "{\"\":\"1\"}", "1 to 128 characters", "got \"\"");
    INVALID_ONE(NET "eip-tags", "{\"a\\nb\":\"1\"}", "control characters", "got \"a\\nb\"");
    INVALID_ONE(NET "eip-tags", "{\"a\":\"x\\u0001\"}", "control characters", "got \"x\\x01\"");
    /* ack.aliyun.com is reserved exactly; a key that merely contains it is not */
    a = annots(NET "pod-with-eip", "true", NET "eip-tags", "{\"ack.aliyun.com/x\":\"1\"}", NULL);
    parse_ok(a, &r);
    eip_request_clear(&r);
    json_decref(a);
}

static void release_strategy(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        enum eip_release_strategy want;
        int64_t ms;
    } ok[] = {
        {"Follow", EIP_RELEASE_FOLLOW, 0}, {"follow", EIP_RELEASE_FOLLOW, 0},
        {"NEVER", EIP_RELEASE_NEVER, 0},   {"Never", EIP_RELEASE_NEVER, 0},
        {"30s", EIP_RELEASE_TTL, 30000},   {"1h30m", EIP_RELEASE_TTL, 5400000},
        {"1ms", EIP_RELEASE_TTL, 1},
    };
    eip_request r;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *a = annots(NET "pod-eip-instanceid", "eip-1", NET "pod-eip-release-strategy",
                           ok[i].value, NULL);
        parse_ok(a, &r);
        assert_true(r.strategy_given);
        assert_int_equal(r.strategy, ok[i].want);
        assert_int_equal(r.release_after_ms, ok[i].ms);
        if (ok[i].want == EIP_RELEASE_TTL)
            assert_string_equal(r.release_after, ok[i].value);
        else
            assert_null(r.release_after);
        eip_request_clear(&r);
        json_decref(a);
    }
    json_t *a = annots(NET "pod-with-eip", "true", LEGACY "pod-eip-release-strategy", "0s", NULL);
    assert_string_equal(parse_invalid(a, LEGACY "pod-eip-release-strategy", NULL),
                        "must be Follow, Never or a positive duration such as 30s, 10m or 1h30m; "
                        "got \"0s\"");
    json_decref(a);
}

static void encoding_and_size(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        size_t at;
    } bad[] = {
        {"ab\xff", 3, 2},
        {"\xc0\xaf", 2, 0},             /* overlong '/' */
        {"x\xe0\x80\xaf", 4, 1},        /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", 4, 0},     /* overlong, 4 bytes */
        {"\xed\xa0\x80", 3, 0},         /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, 0},         /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 4, 0},     /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 0},     /* no such lead byte */
        {"a\xe2\x82", 3, 1},            /* truncated */
        {"\x80", 1, 0},                 /* stray continuation */
        {"\xe4\xb8\xad\xe2\x82x", 6, 3} /* after a good one */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *a = annots(NET "pod-with-eip", "true", NULL);
        set_n(a, NET "eip-name", bad[i].bytes, bad[i].len);
        char at[64];
        fmt(at, sizeof(at), "at byte %zu", bad[i].at);
        const char *m = parse_invalid(a, NET "eip-name", "must be valid UTF-8", at, NULL);
        assert_null(memchr(m, bad[i].bytes[bad[i].at], strlen(m))); /* not echoed raw */
        json_decref(a);
    }
    /* the largest code point and a noncharacter are fine in a description */
    json_t *a = annots(NET "pod-with-eip", "true", NET "eip-description",
                       "\xf4\x8f\xbf\xbf\xef\xbf\xbf", NULL);
    eip_request r;
    parse_ok(a, &r);
    eip_request_clear(&r);
    json_decref(a);

    /* control characters, C0, DEL and C1, are refused and shown escaped */
    INVALID_ONE(NET "eip-description", "a\nb", "control characters", "got \"a\\nb\"");
    INVALID_ONE(NET "eip-description", "a\x7f", "control characters", "got \"a\\x7f\"");
    INVALID_ONE(NET "eip-description", "a\xc2\x85", "control characters", "got \"a\\u0085\"");
    INVALID_ONE(NET "pod-with-eip", "true\n", "control characters", "got \"true\\n\"");
    a = annots(NET "pod-with-eip", "true", NULL);
    set_n(a, NET "eip-description", "ab\0cd", 5);
    parse_invalid(a, NET "eip-description", "control characters", "got \"ab\\x00cd\"", NULL);
    json_decref(a);

    /* EIP_ANNOT_MAX_VALUE bytes are looked at, one more is not; nor is 1 MiB */
    size_t big = 1u << 20;
    char *v = malloc(big + 1);
    assert_non_null(v);
    memset(v, 'a', big);
    v[EIP_ANNOT_MAX_VALUE] = '\0';
    a = annots(NET "pod-with-eip", "true", NET "eip-description", v, NULL);
    parse_invalid(a, NET "eip-description", "2 to 256 characters", "(4096 characters)", NULL);
    json_decref(a);
    v[EIP_ANNOT_MAX_VALUE] = 'a';
    v[EIP_ANNOT_MAX_VALUE + 1] = '\0';
    a = annots(NET "pod-with-eip", "true", NET "eip-description", v, NULL);
    parse_invalid(a, NET "eip-description", "must be at most 4096 bytes", "got 4097 bytes", NULL);
    json_decref(a);
    v[big] = '\0';
    v[big - 1] = '\xff'; /* ill-formed too: the size is what is reported */
    a = annots(NET "pod-with-eip", "true", NULL);
    set_n(a, LEGACY "eip-tags", v, big);
    const char *m = parse_invalid(a, LEGACY "eip-tags", "got 1048576 bytes", NULL);
    assert_true(strlen(m) < 100);
    assert_null(strstr(m, "aaaaaaaa"));
    json_decref(a);
    /* an error quoting a long value quotes only its start */
    memset(v, 'a', 1000);
    v[1000] = '\0';
    a = annots(NET "pod-with-eip", "true", NET "pod-eip-release-strategy", v, NULL);
    m = parse_invalid(a, NET "pod-eip-release-strategy", "\"...", NULL);
    assert_true(strlen(m) < 250);
    json_decref(a);
    /* a quoted excerpt is cut on a character, never inside one */
    for (size_t i = 0; i < 200; i++)
        memcpy(v + 3 * i, "\xe4\xb8\xad", 3);
    v[600] = '\0';
    a = annots(NET "pod-with-eip", "true", NET "eip-isp", v, NULL);
    parse_invalid(a, NET "eip-isp", "one of BGP", "\"...", NULL); /* valid UTF-8 checked */
    json_decref(a);
    free(v);
}

static void non_string_values(void **state)
{
    (void)state;
    json_t *values[] = {json_integer(5), json_true(), json_null(), json_pack("{s:s}", "a", "b"),
                        json_pack("[s]", "true")};
    static const char *const types[] = {"a number", "a boolean", "null", "an object", "an array"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        assert_non_null(values[i]);
        json_t *a = annots(NET "pod-with-eip", "true", NULL);
        assert_int_equal(json_object_set(a, LEGACY "eip-bandwidth", values[i]), 0);
        char got[32];
        fmt(got, sizeof(got), "got %s", types[i]);
        parse_invalid(a, LEGACY "eip-bandwidth", "must be a string", got, NULL);
        json_decref(a);
        a = json_object();
        assert_int_equal(json_object_set(a, NET "pod-with-eip", values[i]), 0);
        parse_invalid(a, NET "pod-with-eip", "must be a string", got, NULL);
        json_decref(a);
        json_decref(values[i]);
    }
}

/* A request with every field set, parsed from the NULL-terminated key/value
 * pairs of full[] with one pair (by index, or none: SIZE_MAX) replaced. */
static const char *const full[] = {
    NET "pod-with-eip",
    "true",
    NET "allocated-eip-id",
    "eip-hint",
    NET "eip-bandwidth",
    "100",
    NET "eip-internet-charge-type",
    "PayByBandwidth",
    NET "eip-instance-charge-type",
    "PostPaid",
    NET "eip-common-bandwidth-package-id",
    "cbwp-1",
    NET "eip-isp",
    "BGP",
    NET "eip-public-ip-address-pool-id",
    "pippool-1",
    NET "eip-resource-group-id",
    "rg-1",
    NET "eip-name",
    "web",
    NET "eip-description",
    "the web tier",
    NET "eip-security-protection-types",
    "AntiDDoS_Enhanced,B",
    NET "eip-tags",
    "{\"z\":\"1\",\"a\":\"2\"}",
    NET "pod-eip-release-strategy",
    "10m",
    NULL,
};

static json_t *full_with(size_t pair, const char *value)
{
    json_t *a = json_object();
    assert_non_null(a);
    for (size_t i = 0; full[2 * i]; i++)
        set(a, full[2 * i], i == pair ? value : full[2 * i + 1]);
    return a;
}

static void equal_and_clear(void **state)
{
    (void)state;
    eip_request a, b;
    json_t *j = full_with(SIZE_MAX, NULL);
    parse_ok(j, &a);
    parse_ok(j, &b);
    json_decref(j);
    assert_int_equal(a.type, EIP_ALLOC_AUTO);
    assert_string_equal(a.allocation_id, "eip-hint");
    assert_true(eip_request_equal(&a, &b));
    assert_true(eip_request_equal(&a, &a));
    assert_true(eip_request_equal(NULL, NULL));
    assert_false(eip_request_equal(&a, NULL));
    assert_false(eip_request_equal(NULL, &a));
    eip_request_clear(&b);

    /* a change to any one annotation makes a different request */
    static const char *const other[] = {
        "false",
        "eip-hint2",
        "99",
        "PayByTraffic",
        NULL,
        "cbwp-2",
        "BGP_PRO",
        "pippool-2",
        "rg-2",
        "web2",
        "the web tier 2",
        "AntiDDoS_Enhanced",
        "{\"z\":\"1\",\"a\":\"3\"}",
        "11m",
    };
    for (size_t i = 0; full[2 * i]; i++) {
        if (!other[i])
            continue; /* PostPaid is the only instance charge type */
        j = full_with(i, other[i]);
        parse_ok(j, &b);
        json_decref(j);
        if (eip_request_equal(&a, &b) || eip_request_equal(&b, &a))
            fail_msg("changing %s to %s went unnoticed", full[2 * i], other[i]);
        eip_request_clear(&b);
        /* and removing it too */
        j = full_with(SIZE_MAX, NULL);
        assert_int_equal(json_object_del(j, full[2 * i]), 0);
        parse_ok(j, &b);
        json_decref(j);
        if (eip_request_equal(&a, &b))
            fail_msg("removing %s went unnoticed", full[2 * i]);
        eip_request_clear(&b);
    }
    /* fields that no annotation above reaches alone */
    eip_request c = a;
    c.strategy_given = false;
    assert_false(eip_request_equal(&a, &c));
    c = a;
    c.release_after_ms++;
    assert_false(eip_request_equal(&a, &c));
    c = a;
    c.n_tags = 1;
    assert_false(eip_request_equal(&a, &c));
    /* tag order does not matter in the annotation: the request is sorted */
    j = full_with(12, "{\"a\":\"2\",\"z\":\"1\"}");
    parse_ok(j, &b);
    json_decref(j);
    assert_true(eip_request_equal(&a, &b));
    eip_request_clear(&b);

    eip_request_clear(&a);
    eip_request_clear(&a); /* idempotent */
    eip_request zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&a, &zero, sizeof(a));
    eip_request_clear(NULL);
}

/* Errors after some fields were allocated give nothing back and keep nothing
 * (LeakSanitizer checks the second half). */
static void errors_keep_nothing(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "yes", "eip-", "abc", "Foo",  "PrePaid",           "x",   "X", "pool",
        "rg",  "1",    "x",   "a,,b", "{\"acs:k\":\"v\"}", "soon"};
    for (size_t i = 0; full[2 * i]; i++) {
        json_t *j = full_with(i, bad[i]);
        parse_invalid(j, full[2 * i], "got", NULL);
        json_decref(j);
    }
    /* the last tag is the bad one: the earlier ones were copied */
    json_t *j = full_with(12, "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":7}");
    parse_invalid(j, NET "eip-tags", "tag \"d\" has a number", NULL);
    json_decref(j);
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(eip_alloc_type_name(EIP_ALLOC_NONE), "None");
    assert_string_equal(eip_alloc_type_name(EIP_ALLOC_AUTO), "Auto");
    assert_string_equal(eip_alloc_type_name(EIP_ALLOC_STATIC), "Static");
    assert_string_equal(eip_alloc_type_name((enum eip_alloc_type)42), "Unknown");
    assert_string_equal(eip_release_strategy_name(EIP_RELEASE_FOLLOW), "Follow");
    assert_string_equal(eip_release_strategy_name(EIP_RELEASE_TTL), "TTL");
    assert_string_equal(eip_release_strategy_name(EIP_RELEASE_NEVER), "Never");
    assert_string_equal(eip_release_strategy_name((enum eip_release_strategy)42), "Unknown");
}

/* ---- randomized ---- */

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static const char *const every_key[] = {
    NET "pod-with-eip",
    LEGACY "pod-with-eip",
    LEGACY "eci-with-eip",
    NET "pod-eip-instanceid",
    LEGACY "pod-eip-instanceid",
    LEGACY "eci-eip-instanceid",
    NET "allocated-eip-id",
    LEGACY "allocated-eip-id",
    NET "eip-bandwidth",
    LEGACY "eip-bandwidth",
    NET "eip-internet-charge-type",
    LEGACY "eip-internet-charge-type",
    NET "eip-charge-type",
    LEGACY "eip-charge-type",
    NET "eip-instance-charge-type",
    LEGACY "eip-instance-charge-type",
    NET "eip-common-bandwidth-package-id",
    LEGACY "eip-common-bandwidth-package-id",
    NET "eip-isp",
    LEGACY "eip-isp",
    NET "eip-public-ip-address-pool-id",
    LEGACY "eip-public-ip-address-pool-id",
    NET "eip-resource-group-id",
    LEGACY "eip-resource-group-id",
    NET "eip-name",
    LEGACY "eip-name",
    NET "eip-description",
    LEGACY "eip-description",
    NET "eip-security-protection-types",
    LEGACY "eip-security-protection-types",
    NET "eip-tags",
    LEGACY "eip-tags",
    NET "pod-eip-release-strategy",
    LEGACY "pod-eip-release-strategy",
};
#define N_KEYS (sizeof(every_key) / sizeof(every_key[0]))

/* Pieces that reach past the first check of most parsers. */
static const char *const tokens[] = {
    "eip-",
    "cbwp-",
    "pippool-",
    "rg-",
    "a",
    "Z",
    "0",
    "1",
    "9",
    "M",
    "Mbps",
    "{",
    "}",
    "\"",
    ":",
    ",",
    "[",
    "\\",
    "\\u00",
    "true",
    "false",
    "Follow",
    "Never",
    "s",
    "m",
    "h",
    "10m",
    "-",
    "_",
    ".",
    " ",
    "\n",
    "PayByBandwidth",
    "PostPaid",
    "BGP",
    "http://",
    "aliyun",
    "acs:",
    "eip-agent/",
    "\xc3\xa9",
    "\xe4\xb8\xad",
    "\xf0\x9f\x98\x80",
    "\xff",
    "\xc0\xaf",
    "\xed\xa0\x80",
    "\xc2\x85",
    "\x01",
};

static void random_value(uint32_t *s, char *v, size_t cap, size_t *len)
{
    size_t n = 0;
    size_t target = xorshift32(s) % 48;
    bool raw = xorshift32(s) % 4 == 0;
    while (n < target) {
        if (raw) {
            v[n++] = (char)(xorshift32(s) & 0xff);
            continue;
        }
        const char *t = tokens[xorshift32(s) % (sizeof(tokens) / sizeof(tokens[0]))];
        size_t tl = strlen(t);
        if (n + tl > cap)
            break;
        memcpy(v + n, t, tl);
        n += tl;
    }
    *len = n;
}

static void randomized_values(void **state)
{
    (void)state;
    uint32_t seed;
    const char *env = getenv("EIP_TEST_SEED");
    if (env && *env) {
        char *end;
        unsigned long l = strtoul(env, &end, 0);
        assert_true(*end == '\0');
        seed = (uint32_t)l;
    } else {
        seed = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
    }
    print_message("seed=%u (replay with EIP_TEST_SEED=%u)\n", seed, seed);
    uint32_t s = seed ? seed : 1;
    size_t parsed = 0, refused = 0;
    for (int iter = 0; iter < 20000; iter++) {
        json_t *a = json_object();
        assert_non_null(a);
        if (xorshift32(&s) % 2)
            set(a, NET "pod-with-eip", "true");
        size_t nkeys = 1 + xorshift32(&s) % 4;
        for (size_t k = 0; k < nkeys; k++) {
            char v[128];
            size_t len;
            random_value(&s, v, sizeof(v), &len);
            set_n(a, every_key[xorshift32(&s) % N_KEYS], v, len);
        }
        eip_request r;
        eip_request_error e;
        int rc = eip_request_parse(a, &r, &e);
        if (rc == 0) {
            parsed++;
            assert_true(r.type != EIP_ALLOC_STATIC || r.allocation_id);
            assert_true(r.bandwidth >= 0 && r.bandwidth <= 500);
            for (size_t i = 1; i < r.n_tags; i++)
                assert_true(strcmp(r.tags[i - 1].key, r.tags[i].key) < 0);
            assert_true(eip_request_equal(&r, &r));
            eip_request_clear(&r);
        } else {
            if (rc != -EINVAL)
                fail_msg("seed=%u iteration %d: %d", seed, iter, rc);
            refused++;
            assert_empty(&r);
            if (!json_object_get(a, e.key))
                fail_msg("seed=%u iteration %d: error key %s not in the pod", seed, iter, e.key);
            assert_true(e.message[0] && valid_utf8(e.message));
        }
        json_decref(a);
    }
    /* the generator reaches both outcomes */
    assert_true(parsed > 100 && refused > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(not_an_eip_pod),
        cmocka_unit_test(alloc_types),
        cmocka_unit_test(type_precedence),
        cmocka_unit_test(prefix_precedence),
        cmocka_unit_test(every_setting_both_prefixes),
        cmocka_unit_test(bandwidth),
        cmocka_unit_test(invalid_values),
        cmocka_unit_test(name_and_description),
        cmocka_unit_test(tags),
        cmocka_unit_test(release_strategy),
        cmocka_unit_test(encoding_and_size),
        cmocka_unit_test(non_string_values),
        cmocka_unit_test(equal_and_clear),
        cmocka_unit_test(errors_keep_nothing),
        cmocka_unit_test(names),
        cmocka_unit_test(randomized_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
