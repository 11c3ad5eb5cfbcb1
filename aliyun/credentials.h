/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_CREDENTIALS_H
#define EIP_ALIYUN_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "aliyun/metadata.h"
#include "aliyun/transport.h"

/* The credential chain (DESIGN §5, docs/configuration.md), first match wins:
 *  1. static: an AccessKey given by the agent (credential.accessKey/accessSecret or the
 *     $CREDENTIALS_DIRECTORY files), optionally with a security token;
 *  2. env: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ _SECURITY_TOKEN);
 *  3. rrsa: ALIBABA_CLOUD_ROLE_ARN + ALIBABA_CLOUD_OIDC_PROVIDER_ARN +
 *     ALIBABA_CLOUD_OIDC_TOKEN_FILE, exchanged with STS AssumeRoleWithOIDC (the token
 *     file is read again at every refresh);
 *  4. ecs-ram-role: ram/security-credentials/<role> from the instance metadata.
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
    /* 1. explicit AccessKey (config file or $CREDENTIALS_DIRECTORY); copied */
    const char *access_key_id;
    const char *access_key_secret;
    const char *security_token;
    /* 3. RRSA, each overriding its ALIBABA_CLOUD_* variable; copied */
    const char *role_arn;
    const char *oidc_provider_arn;
    const char *oidc_token_file;
    /* 4. ECS RAM role name; NULL: the first role the metadata lists */
    const char *ram_role;
    bool disable_ecs_ram_role;
    /* Environment lookup; NULL: getenv (tests pass a fake). */
    const char *(*getenv_fn)(const char *name);
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

/* Chooses the source (no I/O yet). md may be NULL (no ECS RAM role then) and is not
 * owned. NULL and *err (-ENOENT: no source configured, -EINVAL, -ENOMEM) on failure. */
aliyun_creds *aliyun_creds_new(uv_loop_t *loop, const aliyun_transport *transport,
                               aliyun_metadata *md, const aliyun_creds_opts *opts, int *err);
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
    aliyun_creds *owner;
    aliyun_creds_waiter *prev, *next;
};
/* Calls cb from the loop once a credential is there (err 0) or a fetch failed
 * (err < 0); starts a fetch when none is running. Never calls cb synchronously. */
int aliyun_creds_wait(aliyun_creds *c, aliyun_creds_waiter *w, aliyun_creds_cb cb, void *arg);
void aliyun_creds_waiter_cancel(aliyun_creds_waiter *w);
/* Starts the first fetch now (optional: the first wait does it too). */
void aliyun_creds_start(aliyun_creds *c);
/* The server refused the credential (InvalidSecurityToken*): drop it and fetch
 * again. A static credential cannot be refreshed: no effect. */
void aliyun_creds_invalidate(aliyun_creds *c);
/* Refreshes so far (for tests and metrics). */
uint64_t aliyun_creds_refresh_count(const aliyun_creds *c);

#endif
