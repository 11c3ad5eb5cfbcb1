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

#include "aliyun/errors.h"
#include "aliyun/errors_internal.h"
#include "http/client.h"

static enum aliyun_err_class cls_of(const char *action, const char *code, long status)
{
    aliyun_error e;
    memset(&e, 0, sizeof(e));
    snprintf(e.code, sizeof(e.code), "%s", code);
    e.http_status = status;
    return aliyun_error_classify(action, &e);
}

struct row {
    const char *action;
    const char *code;
    long status;
    enum aliyun_err_class want;
};

static void classification_table(void **state)
{
    (void)state;
    static const struct row rows[] = {
        /* retryable */
        {"AllocateEipAddress", "Throttling", 400, ALIYUN_ERR_RETRY},
        {"AllocateEipAddress", "Throttling.User", 400, ALIYUN_ERR_RETRY},
        {"DescribeEipAddresses", "Throttling.Api", 400, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "ServiceUnavailable", 503, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "SystemBusy", 400, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "InternalError", 500, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "TaskConflict", 400, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "OperationConflict", 400, ALIYUN_ERR_RETRY},
        {"AllocateEipAddress", "OperationFailed.LastTokenProcessing", 400, ALIYUN_ERR_RETRY},
        {"AllocateEipAddress", "LastTokenProcessing", 400, ALIYUN_ERR_RETRY},
        {"AllocateEipAddress", "OperationFailed.SystemBusy", 500, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "OperationFailed.SystemBusy", 400, ALIYUN_ERR_RETRY},
        {"UnassociateEipAddress", "Operation.Conflict", 403, ALIYUN_ERR_RETRY},
        {"AllocateEipAddress", "OperationConflict", 409, ALIYUN_ERR_RETRY},
        {"UnassociateEipAddress", "TaskConflict", 400, ALIYUN_ERR_RETRY},
        {"ReleaseEipAddress", "TaskConflict", 400, ALIYUN_ERR_RETRY},
        {"ReleaseEipAddress", "TaskConflict.AssociateGlobalAccelerationInstance", 400,
         ALIYUN_ERR_RETRY},
        {"AddCommonBandwidthPackageIp", "TaskConflict", 400, ALIYUN_ERR_RETRY},
        {"AddCommonBandwidthPackageIp", "IncorrectStatus.Eip", 400, ALIYUN_ERR_RETRY},
        {"AddCommonBandwidthPackageIp", "EipOperation.TooFrequently", 400, ALIYUN_ERR_RETRY},
        {"RemoveCommonBandwidthPackageIp", "OperationFailed.DistibuteLock", 400, ALIYUN_ERR_RETRY},
        {"DescribeEipAddresses", "ServiceUnavailable", 503, ALIYUN_ERR_RETRY},
        {"ReleaseEipAddress", "Throttling.User", 400, ALIYUN_ERR_RETRY},
        {"ModifyEipAddressAttribute", "IncorrectEipStatus", 400, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "InvalidBindingStatus", 400, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "IncorrectInstanceStatus", 400, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "", 500, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "", 502, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "", 429, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "SomethingNew", 503, ALIYUN_ERR_RETRY},
        {"AssociateEipAddress", "SignatureNonceUsed", 400, ALIYUN_ERR_RETRY},
        /* done during cleanup */
        {"UnassociateEipAddress", "InvalidAllocationId.NotFound", 404, ALIYUN_ERR_DONE},
        {"ReleaseEipAddress", "InvalidAllocationId.NotFound", 404, ALIYUN_ERR_DONE},
        {"RemoveCommonBandwidthPackageIp", "InvalidAllocationId.NotFound", 404, ALIYUN_ERR_DONE},
        {"RemoveCommonBandwidthPackageIp", "OperationUnsupported.IpNotInCbwp", 400,
         ALIYUN_ERR_DONE},
        {"AddCommonBandwidthPackageIp", "OperationUnsupported.IpNotInCbwp", 400, ALIYUN_ERR_FATAL},
        /* a state refusal: done or not yet possible, the EIP's state tells (vpc.c looks) */
        {"UnassociateEipAddress", "IncorrectEipStatus", 400, ALIYUN_ERR_CHECK},
        {"UnassociateEipAddress", "InvalidBindingStatus", 400, ALIYUN_ERR_CHECK},
        {"AssociateEipAddress", "IncorrectEipStatus", 400, ALIYUN_ERR_CHECK},
        {"ReleaseEipAddress", "IncorrectEipStatus", 400, ALIYUN_ERR_CHECK},
        /* not done elsewhere: the EIP is gone when it is needed */
        {"AssociateEipAddress", "InvalidAllocationId.NotFound", 404, ALIYUN_ERR_FATAL},
        {"DescribeEipAddresses", "InvalidAllocationId.NotFound", 404, ALIYUN_ERR_FATAL},
        {NULL, "InvalidAllocationId.NotFound", 404, ALIYUN_ERR_FATAL},
        /* refresh once */
        {"AllocateEipAddress", "InvalidSecurityToken.Expired", 400, ALIYUN_ERR_REFRESH},
        {"AllocateEipAddress", "InvalidSecurityToken.Malformed", 400, ALIYUN_ERR_REFRESH},
        {"AllocateEipAddress", "InvalidSecurityToken.MismatchWithAccessKey", 400,
         ALIYUN_ERR_REFRESH},
        /* fatal */
        {"AllocateEipAddress", "SignatureDoesNotMatch", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "InvalidAccessKeyId.NotFound", 404, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "InvalidAccessKeyId.Inactive", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "Forbidden.RAM", 403, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "Forbidden", 403, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "QuotaExceeded.Eip", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "InvalidParameter", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "InvalidParameter.Bandwidth", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "MissingParameter", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "MissingParameter.RegionId", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "IdempotentParameterMismatch", 400, ALIYUN_ERR_FATAL},
        {"AssociateEipAddress", "InvalidAssociation.Duplicated", 400, ALIYUN_ERR_FATAL},
        {"ReleaseEipAddress", "Forbidden.ChargeTypeIsPrepaid", 400, ALIYUN_ERR_FATAL},
        {"AddCommonBandwidthPackageIp", "Mismatch.CbwpIspAndEipIsp", 400, ALIYUN_ERR_FATAL},
        {"AddCommonBandwidthPackageIp", "IpInstanceId.ChargeType.NotSupport", 400,
         ALIYUN_ERR_FATAL},
        {"TagResources", "InvalidTagKey", 400, ALIYUN_ERR_FATAL},
        {"TagResources", "QuotaExceeded.TagNum", 400, ALIYUN_ERR_FATAL},
        {"TagResources", "SizeLimitExceeded.TagNum", 400, ALIYUN_ERR_FATAL},
        {"ModifyEipAddressAttribute", "Forbidden.ChargeTypeIsPrepaid", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "UnknownCodeFromTheFuture", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "", 400, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "", 403, ALIYUN_ERR_FATAL},
        /* a 5xx with a credential code is still about the credential */
        {"AllocateEipAddress", "InvalidAccessKeyId.NotFound", 500, ALIYUN_ERR_FATAL},
        /* classification looks at Code, not at the status */
        {"AllocateEipAddress", "Throttling.User", 200, ALIYUN_ERR_RETRY},
        {"AllocateEipAddress", "QuotaExceeded.Eip", 503, ALIYUN_ERR_FATAL},
        {"AllocateEipAddress", "SignatureDoesNotMatch", 500, ALIYUN_ERR_FATAL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        enum aliyun_err_class got = cls_of(rows[i].action, rows[i].code, rows[i].status);
        if (got != rows[i].want)
            fail_msg("%s %s HTTP %ld: got %s, want %s", rows[i].action ? rows[i].action : "(null)",
                     rows[i].code, rows[i].status, aliyun_err_class_name(got),
                     aliyun_err_class_name(rows[i].want));
    }
}

static void transport_errors(void **state)
{
    (void)state;
    aliyun_error e;
    memset(&e, 0, sizeof(e));
    static const struct {
        int t;
        enum aliyun_err_class want;
    } rows[] = {
        {HTTP_E_CONNECT, ALIYUN_ERR_RETRY},   {HTTP_E_TIMEOUT, ALIYUN_ERR_RETRY},
        {HTTP_E_CLOSED, ALIYUN_ERR_RETRY},    {HTTP_E_INTERNAL, ALIYUN_ERR_RETRY},
        {HTTP_E_TLS, ALIYUN_ERR_FATAL},       {HTTP_E_TOO_LARGE, ALIYUN_ERR_FATAL},
        {HTTP_E_CANCELLED, ALIYUN_ERR_FATAL}, {HTTP_E_ABORTED, ALIYUN_ERR_FATAL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        e.transport = rows[i].t;
        assert_int_equal(aliyun_error_classify("AllocateEipAddress", &e), rows[i].want);
    }
}

static void parse_error_body(void **state)
{
    (void)state;
    const char *body =
        "{\"RequestId\":\"5E6B0A73-1C3F\",\"HostId\":\"vpc.cn-hangzhou.aliyuncs.com\","
        "\"Code\":\"QuotaExceeded.Eip\",\"Message\":\"Elastic IP address quota exceeded\","
        "\"Recommend\":\"https://api.aliyun.com/troubleshoot?q=QuotaExceeded.Eip\"}";
    aliyun_error e;
    assert_int_equal(aliyun_error_parse(&e, 400, body, strlen(body)), 0);
    assert_string_equal(e.code, "QuotaExceeded.Eip");
    assert_string_equal(e.message, "Elastic IP address quota exceeded");
    assert_string_equal(e.request_id, "5E6B0A73-1C3F");
    assert_string_equal(e.host_id, "vpc.cn-hangzhou.aliyuncs.com");
    assert_true(strstr(e.recommend, "troubleshoot") != NULL);
    assert_int_equal(e.http_status, 400);
    char line[256];
    aliyun_error_format(&e, line, sizeof(line));
    assert_string_equal(line, "QuotaExceeded.Eip: Elastic IP address quota exceeded (HTTP 400, "
                              "RequestId 5E6B0A73-1C3F)");

    /* no code, not JSON, empty */
    assert_int_equal(aliyun_error_parse(&e, 502, "{\"a\":1}", 7), -ENOENT);
    assert_int_equal(e.http_status, 502);
    assert_int_equal(aliyun_error_parse(&e, 502, "<html>bad gateway</html>", 24), -EINVAL);
    assert_int_equal(aliyun_error_parse(&e, 502, "", 0), -ENOENT);
    assert_int_equal(aliyun_error_classify("AllocateEipAddress", &e), ALIYUN_ERR_RETRY);
    /* wrong types are ignored, not trusted */
    const char *odd = "{\"Code\":17,\"Message\":[1]}";
    assert_int_equal(aliyun_error_parse(&e, 400, odd, strlen(odd)), -ENOENT);
}

static void string_to_sign_is_cut(void **state)
{
    (void)state;
    /* servers echo what they signed, which can include the security token */
    const char *body = "{\"Code\":\"SignatureDoesNotMatch\",\"Message\":\"Specified signature is "
                       "not matched with our calculation. server string to sign "
                       "is:POST&%2F&SecurityToken%3DCAISsecrettoken\"}";
    aliyun_error e;
    assert_int_equal(aliyun_error_parse(&e, 400, body, strlen(body)), 0);
    assert_null(strstr(e.message, "CAISsecrettoken"));
    assert_string_equal(e.message, "Specified signature is not matched with our calculation.");
}

static void redact(void **state)
{
    (void)state;
    char s[128] = "key abcdefgh and abcdefgh again";
    aliyun_redact(s, "abcdefgh");
    assert_string_equal(s, "key *** and *** again");
    char t[16] = "**x**";
    aliyun_redact(t, "**"); /* a secret that looks like its mask must not loop */
    assert_string_equal(t, "**x**");
    aliyun_redact(t, "");
    aliyun_redact(NULL, "x");
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(aliyun_err_class_name(ALIYUN_ERR_RETRY), "retryable");
    assert_string_equal(aliyun_err_class_name(ALIYUN_ERR_DONE), "done");
    assert_string_equal(aliyun_err_class_name(ALIYUN_ERR_FATAL), "fatal");
    assert_string_equal(aliyun_err_class_name(ALIYUN_ERR_CHECK), "check");
    aliyun_error e;
    memset(&e, 0, sizeof(e));
    e.transport = HTTP_E_TIMEOUT;
    char line[128];
    aliyun_error_format(&e, line, sizeof(line));
    assert_true(strncmp(line, "transport error: ", 17) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classification_table),
        cmocka_unit_test(transport_errors),
        cmocka_unit_test(parse_error_body),
        cmocka_unit_test(string_to_sign_is_cut),
        cmocka_unit_test(redact),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
