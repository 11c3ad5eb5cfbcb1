/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_CLIENT_H
#define EIP_K8S_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "http/client.h"
#include "k8s/config.h"
#include "k8s/status.h"

/* Asynchronous Kubernetes API requests on a libuv loop: bearer-token or client
 * certificate auth (the token file is re-read every minute and after a 401,
 * which is retried once), a client-side QPS/burst token bucket that queues
 * requests FIFO on a timer, JSON bodies, the Status error object, and a
 * response size cap. */

typedef struct k8s_client k8s_client;
typedef struct k8s_call k8s_call;

typedef struct k8s_client_opts {
    uv_loop_t *loop;            /* borrowed: runs every timer and request */
    http_client *http;          /* borrowed: sends every request; outlives the client */
    const k8s_config *config;   /* borrowed: server, TLS and token; outlives the client */
    double qps;                 /* 0: 20; < 0: unlimited (kubeClientQPS) */
    int burst;                  /* 0: 30 (kubeClientBurst) */
    size_t max_response_bytes;  /* buffered body cap; 0: 32 MiB */
    long timeout_ms;            /* per request total unless the request says; 0: 60 s */
    long long token_refresh_ms; /* re-read the token file this often; 0: 60 s */
    const char *user_agent;     /* copied; NULL: "eip-agent/<version>" */
    /* Each finished call (for metrics): verb "get", "post", "put", "patch", "delete" or
     * "watch" (a streaming call), the HTTP status (0 without a response) and the
     * result. May be NULL. */
    void (*on_result)(const char *verb, long http_status, k8s_result result, void *arg);
    void *on_result_arg;
} k8s_client_opts;

/* A client of the API server opts->config names. 0 and *out, or a negative
 * errno with a one-line reason in err: -EINVAL without a loop, an HTTP client
 * or a configuration with a server; the error of reading the token file;
 * -ENOMEM. On failure nothing is left open. */
int k8s_client_new(k8s_client **out, const k8s_client_opts *opts, char *err, size_t errlen);
/* Drops every queued and in-flight call without calling their callbacks (free
 * the reflectors, recorders and electors that use the client first); the
 * memory goes once the loop has closed the client's timer. The HTTP client is
 * the caller's (free it after this). NULL is a no-op. */
void k8s_client_free(k8s_client *c);

uv_loop_t *k8s_client_loop(const k8s_client *c);
const k8s_config *k8s_client_config(const k8s_client *c);
/* Calls queued by the rate limiter plus calls in flight. */
size_t k8s_client_pending(const k8s_client *c);

/* Counters for metrics. */
typedef struct k8s_client_stats {
    unsigned long long requests;                 /* HTTP requests sent (a 401 retry counts twice) */
    unsigned long long results[K8S_E_OTHER + 1]; /* completed calls by k8s_result */
    unsigned long long throttled;                /* calls that waited for the rate limiter */
    unsigned long long token_reloads;            /* token file re-reads that changed the token */
    unsigned long long retries_401;
} k8s_client_stats;

void k8s_client_get_stats(const k8s_client *c, k8s_client_stats *out);

typedef struct k8s_response {
    k8s_result result;
    long http_status;              /* 0 when no response came */
    int transport_error;           /* enum http_error; 0 when a response came */
    const char *transport_message; /* "" when none */
    json_t *json;                  /* parsed 2xx body (borrowed, valid in the callback) or NULL */
    const char *body;              /* raw body ("" in streaming mode on success) */
    size_t body_len;
    k8s_status status;        /* for errors: code, reason, message */
    long long retry_after_ms; /* Retry-After of a 429/5xx, -1 when absent */
} k8s_response;

/* Called exactly once per call that was not cancelled; the call is freed when
 * it returns. */
typedef void (*k8s_done_cb)(k8s_call *call, const k8s_response *resp, void *arg);
/* Streaming: the body of a 2xx response as it arrives. Return 0 to go on,
 * non-zero to abort (on_done gets K8S_E_TRANSPORT/HTTP_E_ABORTED), or cancel
 * the call from inside. */
typedef int (*k8s_chunk_cb)(k8s_call *call, long http_status, const char *data, size_t len,
                            void *arg);

typedef struct k8s_request_opts {
    const char *method;       /* NULL: GET */
    const char *path;         /* "/api/v1/namespaces/ns/pods?limit=1", already escaped */
    const json_t *body;       /* serialized compactly; NULL: no body */
    const char *content_type; /* NULL: application/json when there is a body */
    long timeout_ms;          /* 0: client default; < 0: none (a watch) */
    k8s_chunk_cb on_chunk;    /* non-NULL: streaming mode */
    k8s_done_cb on_done;
    void *arg;
} k8s_request_opts;

/* Queues a request behind the rate limiter. 0 and *out (may be NULL), or a
 * negative errno and no callback. */
int k8s_request(k8s_client *c, const k8s_request_opts *opts, k8s_call **out);
/* No callback fires after this; safe from inside the call's callbacks. */
void k8s_call_cancel(k8s_call *call);

typedef enum k8s_patch_type {
    K8S_PATCH_MERGE,           /* application/merge-patch+json */
    K8S_PATCH_STRATEGIC_MERGE, /* application/strategic-merge-patch+json */
    K8S_PATCH_JSON,            /* application/json-patch+json (body is an array) */
} k8s_patch_type;

const char *k8s_patch_content_type(k8s_patch_type t);

int k8s_get(k8s_client *c, const char *path, k8s_done_cb cb, void *arg, k8s_call **out);
int k8s_post(k8s_client *c, const char *path, const json_t *body, k8s_done_cb cb, void *arg,
             k8s_call **out);
int k8s_put(k8s_client *c, const char *path, const json_t *body, k8s_done_cb cb, void *arg,
            k8s_call **out);
int k8s_delete(k8s_client *c, const char *path, k8s_done_cb cb, void *arg, k8s_call **out);
int k8s_patch(k8s_client *c, const char *path, k8s_patch_type type, const json_t *body,
              k8s_done_cb cb, void *arg, k8s_call **out);

#endif
