/* SPDX-License-Identifier: MIT */
#include "k8s/status_internal.h"

#include <string.h>

#include "common/err.h"
#include "common/json.h"

const char *k8s_result_name(k8s_result r)
{
    switch (r) {
    case K8S_OK:
        return "ok";
    case K8S_E_TRANSPORT:
        return "transport";
    case K8S_E_BAD_REQUEST:
        return "bad-request";
    case K8S_E_UNAUTHORIZED:
        return "unauthorized";
    case K8S_E_FORBIDDEN:
        return "forbidden";
    case K8S_E_NOT_FOUND:
        return "not-found";
    case K8S_E_CONFLICT:
        return "conflict";
    case K8S_E_ALREADY_EXISTS:
        return "already-exists";
    case K8S_E_GONE:
        return "gone";
    case K8S_E_INVALID:
        return "invalid";
    case K8S_E_TOO_MANY:
        return "too-many-requests";
    case K8S_E_SERVER:
        return "server-error";
    case K8S_E_TOO_LARGE:
        return "too-large";
    case K8S_E_PARSE:
        return "parse";
    case K8S_E_OTHER:
        return "other";
    }
    return "unknown";
}

void k8s_status_from_json(const json_t *json, long http_status, k8s_status *st)
{
    memset(st, 0, sizeof(*st));
    st->code = (int)http_status;
    if (!json_is_object(json))
        return;
    const json_t *kind = json_object_get(json, "kind");
    if (kind && (!json_is_string(kind) || strcmp(json_string_value(kind), "Status") != 0))
        return;
    const json_t *code = json_object_get(json, "code");
    if (json_is_integer(code) && json_integer_value(code) > 0 && json_integer_value(code) < 1000)
        st->code = (int)json_integer_value(code);
    /* A reason is a word the result is classified by: one cut short would be a
     * different word, so a reason that does not fit is no reason. */
    const json_t *reason = json_object_get(json, "reason");
    if (json_is_string(reason) && json_string_length(reason) < sizeof(st->reason))
        memcpy(st->reason, json_string_value(reason), json_string_length(reason) + 1);
    const json_t *msg = json_object_get(json, "message");
    if (json_is_string(msg))
        eip_seterr(st->message, sizeof(st->message), "%s", json_string_value(msg));
}

void k8s_status_from_body(const char *body, size_t len, long http_status, k8s_status *st)
{
    json_t *j = NULL;
    if (body && len)
        (void)eip_json_loadb(body, len, 0, &j, NULL); /* none: by the status code */
    k8s_status_from_json(j, http_status, st);
    json_decref(j);
}

k8s_result k8s_result_from_status(long http_status, const char *reason)
{
    if (!reason)
        reason = "";
    if (http_status >= 200 && http_status < 300)
        return K8S_OK;
    if (!strcmp(reason, "Expired") || !strcmp(reason, "Gone"))
        return K8S_E_GONE;
    switch (http_status) {
    case 400:
        return K8S_E_BAD_REQUEST;
    case 401:
        return K8S_E_UNAUTHORIZED;
    case 403:
        return K8S_E_FORBIDDEN;
    case 404:
        return K8S_E_NOT_FOUND;
    case 409:
        return !strcmp(reason, "AlreadyExists") ? K8S_E_ALREADY_EXISTS : K8S_E_CONFLICT;
    case 410:
        return K8S_E_GONE;
    case 413:
        return K8S_E_TOO_LARGE;
    case 422:
        return K8S_E_INVALID;
    case 429:
        return K8S_E_TOO_MANY;
    default:
        break;
    }
    if (http_status >= 500 && http_status < 600)
        return K8S_E_SERVER;
    return K8S_E_OTHER;
}

long long k8s_parse_retry_after(const char *value)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (*value < '0' || *value > '9')
        return -1;
    long long s = 0;
    for (; *value >= '0' && *value <= '9'; value++) {
        s = s * 10 + (*value - '0');
        if (s > 86400)
            s = 86400; /* a day is plenty; avoids overflow */
    }
    while (*value == ' ')
        value++;
    if (*value)
        return -1;
    return s * 1000;
}
