/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_CLIENT_H
#define EIP_ALIYUN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "aliyun/credentials.h"
#include "aliyun/errors.h"
#include "aliyun/sign.h"
#include "aliyun/transport.h"

/* The Alibaba Cloud OpenAPI client: signs (V3 by default, RPC selectable), paces
 * (token bucket per action, a cap on requests in flight with a FIFO queue),
 * retries retryable errors with capped exponential backoff and full jitter
 * (honouring x-acs-retry-after), refreshes a refused STS credential once, and
 * hands back the parsed JSON. Every attempt gets a fresh nonce and timestamp; the
 * parameters (ClientToken included) are the same across the attempts of a call.
 * One client per loop; everything runs on that loop. */

typedef struct aliyun_client aliyun_client;
typedef struct aliyun_call aliyun_call;

enum aliyun_service { ALIYUN_SVC_VPC = 0, ALIYUN_SVC_ECS, ALIYUN_SVC_STS, ALIYUN_SVC_COUNT };
enum aliyun_signature_version { ALIYUN_SIGN_V3 = 0, ALIYUN_SIGN_RPC };

/* "vpc", "ecs", "sts". */
const char *aliyun_service_name(enum aliyun_service svc);
/* "v3" or "rpc" -> 0 and *out; else -EINVAL. */
int aliyun_signature_version_parse(const char *s, enum aliyun_signature_version *out);

/* The default endpoint URL of a service in a region: VPC-internal
 * ("https://vpc-vpc.<region>.aliyuncs.com") or public ("https://vpc.<region>.aliyuncs.com").
 * 0, -EINVAL (bad region) or -E2BIG. */
int aliyun_endpoint_default(enum aliyun_service svc, const char *region, bool public_endpoint,
                            char *out, size_t cap);

typedef struct aliyun_client_opts {
    uv_loop_t *loop; /* required; borrowed, outlives the client */
    /* required; copied (the struct of functions), its ctx is borrowed and
     * outlives the client */
    const aliyun_transport *transport;
    /* The credential chain; borrowed, outlives the client. NULL: only anonymous
     * calls succeed (the others fail with CredentialUnavailable). */
    aliyun_creds *creds;
    const char *region_id;                  /* required; copied */
    const char *endpoint[ALIYUN_SVC_COUNT]; /* full URL overrides (copied); NULL: default */
    bool use_public_endpoints;              /* defaults: public instead of VPC-internal */
    const char *ca_file;                    /* CA bundle for the endpoints; NULL: client's */
    enum aliyun_signature_version signature_version; /* default V3 */
    double qps; /* per action without a documented limit, and a cap for the others;
                   0: 10; < 0: no pacing at all (tests) */
    /* Actions with a documented per-account limit (aliyun_action_limit) are paced to
     * stay under it: limit_scale multiplies those limits (a raised quota); 0: 1;
     * < 0: the documented limits are not applied. */
    double limit_scale;
    double burst;              /* bucket size; 0: max(1, qps) */
    int max_in_flight;         /* 0: 16 */
    long connect_timeout_ms;   /* 0: 5000 */
    long timeout_ms;           /* total per attempt; 0: 30000 */
    int64_t backoff_base_ms;   /* 0: 200 */
    int64_t backoff_cap_ms;    /* 0: 20000 */
    int max_attempts;          /* 0: 6 */
    size_t max_response_bytes; /* 0: 4 MiB */
    /* Each attempt's outcome (for metrics): the action, "OK" or the error code
     * (the transport error's name, or "HTTP <status>" without a code), and how long
     * the attempt took. May be NULL. */
    void (*on_attempt)(const char *action, const char *code, int64_t duration_ms, void *arg);
    void *on_attempt_arg;
} aliyun_client_opts;

/* 0 and *out, or a negative errno with a one-line reason in err (*out NULL,
 * nothing left open): -EINVAL (no loop, transport or region; a bad region or
 * endpoint URL), -E2BIG (a default endpoint too long), -ENOMEM, a libuv error.
 * Nothing is sent yet. */
int aliyun_client_new(aliyun_client **out, const aliyun_client_opts *opts, char *err,
                      size_t errlen);
/* Cancels every call (no callback fires) and frees. NULL is a no-op. */
void aliyun_client_free(aliyun_client *c);

const char *aliyun_client_region(const aliyun_client *c);
const char *aliyun_client_endpoint(const aliyun_client *c, enum aliyun_service svc);
aliyun_creds *aliyun_client_creds(const aliyun_client *c);

/* Outcome of one call, valid during the callback. */
typedef struct aliyun_result {
    int status;                /* 0: success (cls NONE or DONE); < 0: failed */
    enum aliyun_err_class cls; /* NONE, DONE, or why it failed (RETRY = attempts exhausted;
                                * CHECK = a state refusal the caller must look into) */
    aliyun_error error;        /* Code/Message of the last failed attempt */
    int attempts;
    const char *action;
    const char *request_id; /* of the successful response, "" when none */
} aliyun_result;

/* body: the parsed response (borrowed; NULL on failure or DONE). */
typedef void (*aliyun_call_cb)(const aliyun_result *res, json_t *body, void *arg);

typedef struct aliyun_call_spec {
    enum aliyun_service service;
    const char *action;  /* copied */
    const char *version; /* "2016-04-28"; copied */
    bool anonymous;      /* no credential, no signature (STS AssumeRoleWithOIDC) */
    aliyun_call_cb cb;   /* required */
    void *arg;           /* for cb; owned by the call when arg_free is set */
    /* Called with arg when the call is freed (after the callback, or on cancel,
     * or when the client is freed); may be NULL. Not called when
     * aliyun_client_call fails: arg is then still the caller's. */
    void (*arg_free)(void *arg);
} aliyun_call_spec;

/* Starts a call; params is taken over (emptied) even on failure. The callback
 * always comes later from the loop, exactly once, unless the call is cancelled.
 * 0 and *out (may be NULL), or -errno and no callback. */
int aliyun_client_call(aliyun_client *c, const aliyun_call_spec *spec, aliyun_params *params,
                       aliyun_call **out);
/* After it returns, no callback fires for the call (safe inside the call's own
 * callback, where it only stops a rearm). */
void aliyun_call_cancel(aliyun_call *call);
/* Only inside the call's own callback: instead of ending, the call goes on with
 * another action of the same service and version (params taken over), through
 * the queue, buckets and retries again; the same handle stays valid and the
 * same callback gets the outcome. For two-step operations (act, then verify). */
int aliyun_call_rearm(aliyun_call *call, const char *action, aliyun_params *params);

/* Counters for metrics and tests. */
typedef struct aliyun_client_stats {
    uint64_t calls, attempts, retries, throttled, failures;
    int in_flight, queued;
} aliyun_client_stats;
void aliyun_client_get_stats(const aliyun_client *c, aliyun_client_stats *out);

/* A 32-hex-digit ClientToken (random); for callers without a natural one. */
int aliyun_client_token(char *out, size_t cap);

#endif
