/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_STATUS_H
#define EIP_K8S_STATUS_H

#include <jansson.h>
#include <stddef.h>

/* Outcome of a Kubernetes API call, one enum for callers to switch on. */
typedef enum k8s_result {
    K8S_OK = 0,
    K8S_E_TRANSPORT,      /* no HTTP response: connect, TLS, timeout, reset */
    K8S_E_BAD_REQUEST,    /* 400 */
    K8S_E_UNAUTHORIZED,   /* 401 (after one retry with a re-read token) */
    K8S_E_FORBIDDEN,      /* 403 */
    K8S_E_NOT_FOUND,      /* 404 */
    K8S_E_CONFLICT,       /* 409 reason Conflict: stale resourceVersion, re-read and retry */
    K8S_E_ALREADY_EXISTS, /* 409 reason AlreadyExists (create) */
    K8S_E_GONE,           /* 410 Expired/Gone: resourceVersion too old, relist */
    K8S_E_INVALID,        /* 422 */
    K8S_E_TOO_MANY,       /* 429: see retry_after_ms */
    K8S_E_SERVER,         /* 5xx: see retry_after_ms */
    K8S_E_TOO_LARGE,      /* the response passed the size cap */
    K8S_E_PARSE,          /* a 2xx answer that is not the JSON expected */
    K8S_E_OTHER,          /* any other status */
} k8s_result;

/* Short stable name ("conflict", "gone", ...). */
const char *k8s_result_name(k8s_result r);

/* The metav1.Status error object (kind: Status) of a failed call. */
typedef struct k8s_status {
    int code;          /* status.code, else the HTTP status */
    char reason[64];   /* "Conflict", "Expired", "NotFound", ... or "" */
    char message[512]; /* human text, truncated; "" when none */
} k8s_status;

/* Fills st from a Status object (json may be NULL or not a Status: then only
 * http_status is used). */
void k8s_status_from_json(const json_t *json, long http_status, k8s_status *st);
/* Same from a raw body (parsed leniently, never fails). */
void k8s_status_from_body(const char *body, size_t len, long http_status, k8s_status *st);

/* The result class of an HTTP status plus Status reason (409 splits into
 * conflict / already-exists; 410 and a 500/other carrying reason Expired or
 * Gone is K8S_E_GONE). */
k8s_result k8s_result_from_status(long http_status, const char *reason);

/* Retry-After header value (delta-seconds) in ms, or -1 when absent/invalid. */
long long k8s_parse_retry_after(const char *value);

#endif
