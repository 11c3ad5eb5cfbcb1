/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_STATUS_H
#define EIP_K8S_STATUS_H

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
    char reason[64];   /* "Conflict", "Expired", "NotFound", ... or "" (also when longer) */
    char message[512]; /* human text, cut to fit (a message); "" when none */
} k8s_status;

#endif
