/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_CREDENTIALS_H
#define EIP_ALIYUN_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "aliyun/metadata.h"
#include "aliyun/transport.h"
#include "common/list.h"

/* The credential chain (DESIGN §5, docs/configuration.md), first match wins:
 *  1. an AccessKey the caller found, optionally with a security token: the agent's
 *     configuration reads credential.accessKey/accessSecret, the
 *     $CREDENTIALS_DIRECTORY files and ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET
 *     (/_SECURITY_TOKEN) and says which it was ("static" or "env");
 *  2. rrsa: a role ARN, an OIDC provider ARN and an OIDC token file (the agent
 *     reads them from ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and
 *     ALIBABA_CLOUD_OIDC_TOKEN_FILE), exchanged with STS AssumeRoleWithOIDC (the
 *     token file is read again at every refresh);
 *  3. ecs-ram-role: ram/security-credentials/<role> from the instance metadata.
 * This module reads no environment variable: everything comes in the options.
 * STS credentials are refreshed (timer) refresh_before_ms before Expiration;
 * requests that need a credential wait for a refresh in progress. Secrets never
 * leave this module except to the signer, and are wiped when freed. */

typedef struct aliyun_creds aliyun_creds;

enum aliyun_cred_source {
    ALIYUN_CRED_NONE = 0,
    ALIYUN_CRED_STATIC,
    ALIYUN_CRED_ENV,
    ALIYUN_CRED_RRSA,
    ALIYUN_CRED_ECS_RAM_ROLE,
};

/* A credential; never print one. expiration_ms 0: does not expire. */
typedef struct aliyun_credential {
    char *access_key_id;
    char *access_key_secret;
    char *security_token; /* NULL without STS */
    int64_t expiration_ms;
} aliyun_credential;

/* Wipes and frees the strings (not c itself). */
void aliyun_credential_clear(aliyun_credential *c);

typedef struct aliyun_creds_opts {
    uv_loop_t *loop; /* required; borrowed, outlives the chain */
    /* How STS is reached; copied (the struct of functions), its ctx is borrowed and
     * outlives the chain. Required for RRSA; may be NULL otherwise. */
    const aliyun_transport *transport;
    /* The instance metadata for an ECS RAM role; borrowed, outlives the chain.
     * NULL: no ECS RAM role. */
    aliyun_metadata *metadata;
    /* 1. explicit AccessKey; copied */
    const char *access_key_id;
    const char *access_key_secret;
    const char *security_token;
    /* Where the caller found the key, as aliyun_creds_source() reports it:
     * ALIYUN_CRED_ENV, or ALIYUN_CRED_STATIC (ALIYUN_CRED_NONE counts as static). */
    enum aliyun_cred_source access_key_source;
    /* 2. RRSA: all three, or no RRSA; copied */
    const char *role_arn;
    const char *oidc_provider_arn;
    const char *oidc_token_file;
    /* 3. ECS RAM role name (copied); NULL: the first role the metadata lists */
    const char *ram_role;
    bool disable_ecs_ram_role;
    /* RRSA */
    const char *sts_endpoint; /* full URL; required for RRSA */
    const char *ca_file;
    const char *role_session_name; /* NULL: "eip-agent" */
    int duration_seconds;          /* 0: 3600 */
    size_t max_token_file_bytes;   /* 0: 64 KiB */
    /* refresh */
    int64_t refresh_before_ms; /* 0: 180000 (3 minutes) */
    int64_t min_refresh_ms;    /* a just-fetched credential is fetched again no sooner;
                                  0: 5000 (keeps a short-lived source from spinning) */
    long timeout_ms;           /* per fetch; 0: 10000 */
    int64_t retry_base_ms;     /* failed refresh backoff; 0: 1000 */
    int64_t retry_cap_ms;      /* 0: 60000 */
} aliyun_creds_opts;

/* Chooses the source (no I/O yet). 0 and *out, or a negative errno with a
 * one-line reason in err (*out NULL, nothing left open): -ENOENT (no source
 * configured), -EINVAL (RRSA without an STS endpoint or a transport, no loop),
 * -E2BIG (a RAM role name too long), -ENOMEM. */
int aliyun_creds_new(aliyun_creds **out, const aliyun_creds_opts *opts, char *err, size_t errlen);
/* Cancels fetches and waiters (no callback fires), wipes secrets. NULL is a no-op. */
void aliyun_creds_free(aliyun_creds *c);

enum aliyun_cred_source aliyun_creds_source(const aliyun_creds *c);
/* "static", "env", "rrsa", "ecs-ram-role:<role>" ("ecs-ram-role" until the role is known). */
const char *aliyun_creds_source_name(const aliyun_creds *c);
/* One line without any secret: source, AccessKeyId (masked), expiry, last refresh
 * error. For --check-config and debug logs. Returns the length (cut to cap). */
size_t aliyun_creds_describe(const aliyun_creds *c, char *buf, size_t cap);

/* The credential to sign with now, or NULL (none yet, expired, or invalidated).
 * Borrowed until the next loop iteration. */
const aliyun_credential *aliyun_creds_current(const aliyun_creds *c);

/* Waiting for a credential. Embed one in the waiting object. */
typedef struct aliyun_creds_waiter aliyun_creds_waiter;
typedef void (*aliyun_creds_cb)(aliyun_creds_waiter *w, int err, void *arg);
struct aliyun_creds_waiter {
    aliyun_creds_cb cb;
    void *arg;
    aliyun_creds *owner; /* NULL when not waiting */
    eip_list_node node;  /* in the owner's waiters */
};
/* Calls cb from the loop once a credential is there (err 0) or a fetch failed
 * (err < 0); starts a fetch when none is running. Never calls cb synchronously.
 * Waiters woken together are called newest first (a caller that puts each back
 * at the head of its own queue keeps their order). 0, or -EINVAL. */
int aliyun_creds_wait(aliyun_creds *c, aliyun_creds_waiter *w, aliyun_creds_cb cb, void *arg);
void aliyun_creds_waiter_cancel(aliyun_creds_waiter *w);
/* Starts the first fetch now (optional: the first wait does it too). A failure
 * to start is a failed fetch: aliyun_creds_describe says why, the retry timer
 * tries again. */
void aliyun_creds_start(aliyun_creds *c);
/* The server refused the credential (InvalidSecurityToken*): drop it and fetch
 * again. A static credential cannot be refreshed: no effect. */
void aliyun_creds_invalidate(aliyun_creds *c);
/* Refreshes so far (for tests and metrics). */
uint64_t aliyun_creds_refresh_count(const aliyun_creds *c);

#endif
