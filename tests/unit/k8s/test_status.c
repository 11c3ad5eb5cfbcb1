/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "k8s/status_internal.h"

static void conflict_status(void **state)
{
    (void)state;
    const char *body =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"Operation cannot be fulfilled on leases.coordination.k8s.io \\\"eip\\\": "
        "the object has been modified; please apply your changes to the latest version and try "
        "again\",\"reason\":\"Conflict\",\"details\":{\"name\":\"eip\"},\"code\":409}";
    k8s_status st;
    k8s_status_from_body(body, strlen(body), 409, &st);
    assert_int_equal(st.code, 409);
    assert_string_equal(st.reason, "Conflict");
    assert_non_null(strstr(st.message, "the object has been modified"));
    assert_int_equal(k8s_result_from_status(409, st.reason), K8S_E_CONFLICT);
    assert_string_equal(k8s_result_name(K8S_E_CONFLICT), "conflict");
}

static void already_exists_is_not_conflict(void **state)
{
    (void)state;
    const char *body = "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409,"
                       "\"message\":\"pods \\\"a\\\" already exists\"}";
    k8s_status st;
    k8s_status_from_body(body, strlen(body), 409, &st);
    assert_int_equal(k8s_result_from_status(409, st.reason), K8S_E_ALREADY_EXISTS);
}

static void classes(void **state)
{
    (void)state;
    assert_int_equal(k8s_result_from_status(200, NULL), K8S_OK);
    assert_int_equal(k8s_result_from_status(201, ""), K8S_OK);
    assert_int_equal(k8s_result_from_status(400, "BadRequest"), K8S_E_BAD_REQUEST);
    assert_int_equal(k8s_result_from_status(401, "Unauthorized"), K8S_E_UNAUTHORIZED);
    assert_int_equal(k8s_result_from_status(403, "Forbidden"), K8S_E_FORBIDDEN);
    assert_int_equal(k8s_result_from_status(404, "NotFound"), K8S_E_NOT_FOUND);
    assert_int_equal(k8s_result_from_status(410, ""), K8S_E_GONE);
    assert_int_equal(k8s_result_from_status(410, "Expired"), K8S_E_GONE);
    /* an expired continue token can come back as 410 with reason Expired,
     * and old servers put Expired on other codes */
    assert_int_equal(k8s_result_from_status(500, "Expired"), K8S_E_GONE);
    assert_int_equal(k8s_result_from_status(422, "Invalid"), K8S_E_INVALID);
    assert_int_equal(k8s_result_from_status(429, "TooManyRequests"), K8S_E_TOO_MANY);
    assert_int_equal(k8s_result_from_status(500, "InternalError"), K8S_E_SERVER);
    assert_int_equal(k8s_result_from_status(503, ""), K8S_E_SERVER);
    assert_int_equal(k8s_result_from_status(418, ""), K8S_E_OTHER);
}

static void not_a_status(void **state)
{
    (void)state;
    k8s_status st;
    k8s_status_from_body("<html>bad gateway</html>", 24, 502, &st);
    assert_int_equal(st.code, 502);
    assert_string_equal(st.reason, "");
    assert_string_equal(st.message, "");
    const char *pod = "{\"kind\":\"Pod\",\"code\":7,\"reason\":\"x\"}";
    k8s_status_from_body(pod, strlen(pod), 500, &st);
    assert_int_equal(st.code, 500);
    assert_string_equal(st.reason, "");
    k8s_status_from_body(NULL, 0, 503, &st);
    assert_int_equal(st.code, 503);
    /* kind missing but the fields are there (some proxies) */
    const char *bare = "{\"code\":429,\"reason\":\"TooManyRequests\",\"message\":\"slow down\"}";
    k8s_status_from_body(bare, strlen(bare), 429, &st);
    assert_string_equal(st.reason, "TooManyRequests");
    assert_string_equal(st.message, "slow down");
}

static void long_message_truncated(void **state)
{
    (void)state;
    char body[4096];
    char msg[2000];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"code\":500,\"message\":\"%s\"}", msg);
    k8s_status st;
    k8s_status_from_body(body, strlen(body), 500, &st);
    assert_int_equal(strlen(st.message), sizeof(st.message) - 1);
}

/* A reason is what the result is classified by: never cut, left empty. */
static void long_reason_is_no_reason(void **state)
{
    (void)state;
    char body[512];
    char reason[100];
    memset(reason, 'R', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"code\":409,\"reason\":\"%s\"}", reason);
    k8s_status st;
    k8s_status_from_body(body, strlen(body), 409, &st);
    assert_string_equal(st.reason, "");
    reason[sizeof(st.reason) - 1] = '\0'; /* the longest that fits */
    snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"code\":409,\"reason\":\"%s\"}", reason);
    k8s_status_from_body(body, strlen(body), 409, &st);
    assert_string_equal(st.reason, reason);
}

static void retry_after(void **state)
{
    (void)state;
    assert_int_equal(k8s_parse_retry_after(NULL), -1);
    assert_int_equal(k8s_parse_retry_after("3"), 3000);
    assert_int_equal(k8s_parse_retry_after(" 0 "), 0);
    assert_int_equal(k8s_parse_retry_after("1.5"), -1);
    assert_int_equal(k8s_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    assert_int_equal(k8s_parse_retry_after("99999999999999999999"), 86400000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conflict_status),
        cmocka_unit_test(already_exists_is_not_conflict),
        cmocka_unit_test(classes),
        cmocka_unit_test(not_a_status),
        cmocka_unit_test(long_message_truncated),
        cmocka_unit_test(long_reason_is_no_reason),
        cmocka_unit_test(retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
