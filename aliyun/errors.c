/* SPDX-License-Identifier: MIT */
#include "aliyun/errors.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "aliyun/errors_internal.h"
#include "common/err.h"
#include "common/json.h"
#include "http/client.h"

/* A field of the error body for a person to read: cut to fit (aliyun_error's
 * contract), "" when absent. */
static void copy_field(char *dst, size_t cap, json_t *v)
{
    eip_seterr(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* Real servers echo the string they signed in SignatureDoesNotMatch messages, and
 * that string can hold the security token: cut the message there. */
static void strip_string_to_sign(char *msg)
{
    static const char *const marks[] = {"string to sign", "stringtosign", "canonical request",
                                        "canonicalrequest"};
    bool cut = false;
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        char *p = strcasestr(msg, marks[i]);
        if (p) {
            *p = '\0';
            cut = true;
        }
    }
    /* "... our calculation. server string to sign is: ..." keeps the last sentence */
    char *dot = cut ? strrchr(msg, '.') : NULL;
    if (dot)
        dot[1] = '\0';
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == ':' || msg[n - 1] == ','))
        msg[--n] = '\0';
}

int aliyun_error_parse(aliyun_error *e, long http_status, const char *body, size_t len)
{
    memset(e, 0, sizeof(*e));
    e->http_status = http_status;
    if (!body || len == 0)
        return -ENOENT;
    json_error_t jerr;
    json_t *root = NULL;
    int r = eip_json_loadb(body, len, 0, &root, &jerr);
    if (r || !json_is_object(root)) {
        json_decref(root);
        return r ? r : -EINVAL;
    }
    copy_field(e->code, sizeof(e->code), json_object_get(root, "Code"));
    copy_field(e->message, sizeof(e->message), json_object_get(root, "Message"));
    copy_field(e->request_id, sizeof(e->request_id), json_object_get(root, "RequestId"));
    copy_field(e->host_id, sizeof(e->host_id), json_object_get(root, "HostId"));
    copy_field(e->recommend, sizeof(e->recommend), json_object_get(root, "Recommend"));
    json_decref(root);
    strip_string_to_sign(e->message);
    return e->code[0] ? 0 : -ENOENT;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool action_is(const char *action, const char *name)
{
    return action && strcmp(action, name) == 0;
}

enum aliyun_err_class aliyun_error_classify(const char *action, const aliyun_error *e)
{
    if (e->transport) {
        switch (e->transport) {
        case HTTP_E_CONNECT:
        case HTTP_E_TIMEOUT:
        case HTTP_E_CLOSED:
        case HTTP_E_INTERNAL:
            return ALIYUN_ERR_RETRY;
        default: /* TLS verification, oversized body, cancelled: retrying cannot help */
            return ALIYUN_ERR_FATAL;
        }
    }
    const char *c = e->code;
    if (!c[0]) {
        if (e->http_status >= 500 || e->http_status == 429)
            return ALIYUN_ERR_RETRY;
        if (e->http_status >= 200 && e->http_status < 300)
            return ALIYUN_ERR_NONE;
        return ALIYUN_ERR_FATAL;
    }

    /* cleanup that finds the work already done */
    if (strcmp(c, "InvalidAllocationId.NotFound") == 0 &&
        (action_is(action, "UnassociateEipAddress") || action_is(action, "ReleaseEipAddress") ||
         action_is(action, "RemoveCommonBandwidthPackageIp")))
        return ALIYUN_ERR_DONE;
    /* an EIP that is not in the package (or no longer exists) is out of it */
    if (strcmp(c, "OperationUnsupported.IpNotInCbwp") == 0 &&
        action_is(action, "RemoveCommonBandwidthPackageIp"))
        return ALIYUN_ERR_DONE;

    /* the same refusal for "already done" and "not possible now": look at the EIP */
    if (strcmp(c, "IncorrectEipStatus") == 0 &&
        (action_is(action, "UnassociateEipAddress") || action_is(action, "AssociateEipAddress") ||
         action_is(action, "ReleaseEipAddress")))
        return ALIYUN_ERR_CHECK;
    if (strcmp(c, "InvalidBindingStatus") == 0 && action_is(action, "UnassociateEipAddress"))
        return ALIYUN_ERR_CHECK;

    /* transient */
    if (has_prefix(c, "Throttling") || strcmp(c, "ServiceUnavailable") == 0 ||
        has_prefix(c, "ServiceUnavailable.") || strcmp(c, "SystemBusy") == 0 ||
        strcmp(c, "InternalError") == 0 || has_prefix(c, "InternalError.") ||
        strcmp(c, "UnknownError") == 0 || strcmp(c, "TaskConflict") == 0 ||
        has_prefix(c, "TaskConflict.") || strcmp(c, "OperationConflict") == 0 ||
        has_prefix(c, "OperationConflict.") || strcmp(c, "Operation.Conflict") == 0 ||
        strcmp(c, "OperationFailed.SystemBusy") == 0 ||
        strcmp(c, "OperationFailed.DistibuteLock") == 0 || strcmp(c, "IncorrectStatus.Eip") == 0 ||
        strcmp(c, "EipOperation.TooFrequently") == 0 || strstr(c, "LastTokenProcessing") ||
        has_prefix(c, "IncorrectEipStatus") || has_prefix(c, "InvalidBindingStatus") ||
        has_prefix(c, "IncorrectInstanceStatus") ||
        strcmp(c, "OperationFailed.ConcurrentOperation") == 0 ||
        strcmp(c, "ConcurrentOperation") == 0 ||
        /* a transport-level resend of an attempt; ours carry a fresh nonce */
        strcmp(c, "SignatureNonceUsed") == 0)
        return ALIYUN_ERR_RETRY;

    /* a refreshed credential may help once */
    if (has_prefix(c, "InvalidSecurityToken"))
        return ALIYUN_ERR_REFRESH;

    /* fatal whatever the status says */
    if (strcmp(c, "SignatureDoesNotMatch") == 0 || strcmp(c, "IncompleteSignature") == 0 ||
        has_prefix(c, "Invalid") || has_prefix(c, "Forbidden") || has_prefix(c, "QuotaExceeded") ||
        has_prefix(c, "MissingParameter") || has_prefix(c, "MissingSecurityToken") ||
        strcmp(c, "IdempotentParameterMismatch") == 0 || has_prefix(c, "OperationUnsupported") ||
        has_prefix(c, "EntityNotExist") || has_prefix(c, "AuthenticationFail") ||
        has_prefix(c, "NoPermission") || has_prefix(c, "SizeLimitExceeded") ||
        has_prefix(c, "Mismatch") || has_prefix(c, "IpInstanceId."))
        return ALIYUN_ERR_FATAL;
    /* a code we do not know: a server error is worth another try, a client error not */
    if (e->http_status >= 500)
        return ALIYUN_ERR_RETRY;
    return ALIYUN_ERR_FATAL;
}

const char *aliyun_err_class_name(enum aliyun_err_class c)
{
    switch (c) {
    case ALIYUN_ERR_NONE:
        return "ok";
    case ALIYUN_ERR_RETRY:
        return "retryable";
    case ALIYUN_ERR_DONE:
        return "done";
    case ALIYUN_ERR_REFRESH:
        return "credential-refresh";
    case ALIYUN_ERR_FATAL:
        return "fatal";
    case ALIYUN_ERR_CHECK:
        return "check";
    }
    return "unknown";
}

size_t aliyun_error_format(const aliyun_error *e, char *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    if (e->transport)
        eip_seterr(buf, cap, "transport error: %s", http_error_name(e->transport));
    else if (e->code[0])
        eip_seterr(buf, cap, "%s: %s (HTTP %ld, RequestId %s)", e->code,
                   e->message[0] ? e->message : "no message", e->http_status,
                   e->request_id[0] ? e->request_id : "none");
    else
        eip_seterr(buf, cap, "HTTP %ld without an error code", e->http_status);
    return strlen(buf);
}

void aliyun_redact(char *s, const char *secret)
{
    if (!s || !secret || !secret[0])
        return;
    size_t sl = strlen(secret);
    size_t put = sl < 3 ? sl : 3;
    char *from = s, *p;
    while ((p = strstr(from, secret)) != NULL) {
        memset(p, '*', put);
        memmove(p + put, p + sl, strlen(p + sl) + 1);
        from = p + put;
    }
}
