/* SPDX-License-Identifier: MIT */
#include "aliyun/credentials.h"
#include "aliyun/credentials_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aliyun/errors.h"
#include "aliyun/metadata_internal.h"
#include "aliyun/sts_internal.h"
#include "common/backoff.h"
#include "common/file.h"
#include "common/log.h"
#include "common/timeutil.h"

/* A credential is not used in its last seconds: a request signed now must arrive valid. */
#define EXPIRY_SAFETY_MS 10000

struct aliyun_creds {
    uv_loop_t *loop;
    aliyun_transport tr;
    aliyun_metadata *md;
    enum aliyun_cred_source source;
    char source_name[160];
    aliyun_credential cur;
    bool have;
    bool invalid;
    bool fetching;
    /* RRSA */
    char *role_arn, *provider_arn, *token_file, *sts_endpoint, *ca_file, *session_name;
    int duration_seconds;
    size_t max_token_bytes;
    /* ECS RAM role */
    char *ram_role;
    /* refresh */
    int64_t refresh_before_ms;
    int64_t min_refresh_ms;
    long timeout_ms;
    eip_backoff retry; /* failed fetches in a row (retry.failures) and their waits */
    int last_err;
    uint64_t refreshes;
    char last_error[256];
    http_request *http;
    aliyun_md_req *mdreq;
    uv_timer_t *timer;  /* refresh or retry */
    uv_timer_t *notify; /* wakes waiters from the loop */
    aliyun_creds_waiter *waiters;
    int dispatching;   /* inside one of our entry points (a waiter may free us) */
    bool free_pending; /* aliyun_creds_free() was called from a callback */
};

void aliyun_credential_clear(aliyun_credential *c)
{
    if (!c)
        return;
    char **f[] = {&c->access_key_id, &c->access_key_secret, &c->security_token};
    for (size_t i = 0; i < 3; i++) {
        if (*f[i]) {
            OPENSSL_cleanse(*f[i], strlen(*f[i]));
            free(*f[i]);
            *f[i] = NULL;
        }
    }
    c->expiration_ms = 0;
}

static int credential_set(aliyun_credential *c, const char *id, const char *secret,
                          const char *token, int64_t exp)
{
    aliyun_credential n = {0};
    n.access_key_id = strdup(id);
    n.access_key_secret = strdup(secret);
    n.security_token = token && *token ? strdup(token) : NULL;
    n.expiration_ms = exp;
    if (!n.access_key_id || !n.access_key_secret || (token && *token && !n.security_token)) {
        aliyun_credential_clear(&n);
        return -ENOMEM;
    }
    aliyun_credential_clear(c);
    *c = n;
    return 0;
}

int64_t aliyun_creds_refresh_delay_ms(int64_t now_ms, int64_t expiration_ms, int64_t before_ms)
{
    if (expiration_ms <= 0)
        return -1;
    int64_t at = expiration_ms - before_ms;
    return at > now_ms ? at - now_ms : 0;
}

static int parse_creds_object(json_t *o, aliyun_credential *out)
{
    const char *id = NULL, *secret = NULL, *token = NULL, *exp = NULL;
    json_error_t jerr;
    if (json_unpack_ex(o, &jerr, 0, "{s:s, s:s, s?s, s?s}", "AccessKeyId", &id, "AccessKeySecret",
                       &secret, "SecurityToken", &token, "Expiration", &exp))
        return -EINVAL;
    if (!*id || !*secret)
        return -EINVAL;
    int64_t exp_ms = 0;
    if (exp) {
        time_t t;
        if (eip_time_parse_rfc3339(exp, &t))
            return -EINVAL;
        exp_ms = (int64_t)t * 1000;
    }
    return credential_set(out, id, secret, token, exp_ms);
}

int aliyun_parse_sts_credentials(json_t *root, aliyun_credential *out)
{
    json_t *c = json_object_get(root, "Credentials");
    if (!json_is_object(c))
        return -EINVAL;
    return parse_creds_object(c, out);
}

int aliyun_parse_ecs_ram_credentials(json_t *root, aliyun_credential *out)
{
    if (!json_is_object(root))
        return -EINVAL;
    json_t *code = json_object_get(root, "Code");
    if (json_is_string(code) && strcmp(json_string_value(code), "Success") != 0)
        return -EINVAL;
    return parse_creds_object(root, out);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

static const char *env_get(const aliyun_creds_opts *o, const char *name)
{
    const char *v = o->getenv_fn ? o->getenv_fn(name) : getenv(name);
    return v && *v ? v : NULL;
}

static void set_source_name(aliyun_creds *c)
{
    switch (c->source) {
    case ALIYUN_CRED_STATIC:
        snprintf(c->source_name, sizeof(c->source_name), "static");
        break;
    case ALIYUN_CRED_ENV:
        snprintf(c->source_name, sizeof(c->source_name), "env");
        break;
    case ALIYUN_CRED_RRSA:
        snprintf(c->source_name, sizeof(c->source_name), "rrsa");
        break;
    case ALIYUN_CRED_ECS_RAM_ROLE:
        if (c->ram_role)
            snprintf(c->source_name, sizeof(c->source_name), "ecs-ram-role:%s", c->ram_role);
        else
            snprintf(c->source_name, sizeof(c->source_name), "ecs-ram-role");
        break;
    default:
        snprintf(c->source_name, sizeof(c->source_name), "none");
    }
}

static char *dup_or_null(const char *s, int *r)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *r = -ENOMEM;
    return d;
}

aliyun_creds *aliyun_creds_new(uv_loop_t *loop, const aliyun_transport *transport,
                               aliyun_metadata *md, const aliyun_creds_opts *opts, int *err)
{
    int r = 0;
    aliyun_creds_opts def = {0};
    if (!opts)
        opts = &def;
    aliyun_creds *c = calloc(1, sizeof(*c));
    if (!c) {
        r = -ENOMEM;
        goto fail;
    }
    c->loop = loop;
    if (transport)
        c->tr = *transport;
    c->md = md;
    c->refresh_before_ms = opts->refresh_before_ms > 0 ? opts->refresh_before_ms : 180000;
    c->min_refresh_ms = opts->min_refresh_ms > 0 ? opts->min_refresh_ms : 5000;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    eip_backoff_init(&c->retry, opts->retry_base_ms > 0 ? opts->retry_base_ms : 1000,
                     opts->retry_cap_ms > 0 ? opts->retry_cap_ms : 60000, 0, EIP_JITTER_FULL, 0);
    c->duration_seconds = opts->duration_seconds > 0 ? opts->duration_seconds : 3600;
    c->max_token_bytes = opts->max_token_file_bytes > 0 ? opts->max_token_file_bytes : 64 * 1024;

    const char *eid = env_get(opts, "ALIBABA_CLOUD_ACCESS_KEY_ID");
    const char *esec = env_get(opts, "ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    const char *etok = env_get(opts, "ALIBABA_CLOUD_SECURITY_TOKEN");
    const char *role_arn = opts->role_arn && *opts->role_arn
                               ? opts->role_arn
                               : env_get(opts, "ALIBABA_CLOUD_ROLE_ARN");
    const char *prov = opts->oidc_provider_arn && *opts->oidc_provider_arn
                           ? opts->oidc_provider_arn
                           : env_get(opts, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
    const char *tokf = opts->oidc_token_file && *opts->oidc_token_file
                           ? opts->oidc_token_file
                           : env_get(opts, "ALIBABA_CLOUD_OIDC_TOKEN_FILE");

    if (opts->access_key_id && *opts->access_key_id && opts->access_key_secret &&
        *opts->access_key_secret) {
        /* the agent resolves ALIBABA_CLOUD_ACCESS_KEY_ID into its configuration too:
         * report where the key really came from */
        c->source =
            eid && strcmp(eid, opts->access_key_id) == 0 ? ALIYUN_CRED_ENV : ALIYUN_CRED_STATIC;
        r = credential_set(&c->cur, opts->access_key_id, opts->access_key_secret,
                           opts->security_token, 0);
        c->have = r == 0;
    } else if (eid && esec) {
        c->source = ALIYUN_CRED_ENV;
        r = credential_set(&c->cur, eid, esec, etok, 0);
        c->have = r == 0;
    } else if (role_arn && prov && tokf) {
        c->source = ALIYUN_CRED_RRSA;
        if (!opts->sts_endpoint || !*opts->sts_endpoint) {
            r = -EINVAL;
            goto fail;
        }
        c->role_arn = dup_or_null(role_arn, &r);
        c->provider_arn = dup_or_null(prov, &r);
        c->token_file = dup_or_null(tokf, &r);
        c->sts_endpoint = dup_or_null(opts->sts_endpoint, &r);
        c->ca_file = dup_or_null(opts->ca_file, &r);
        c->session_name =
            dup_or_null(opts->role_session_name ? opts->role_session_name : "eip-agent", &r);
    } else if (md && !opts->disable_ecs_ram_role) {
        c->source = ALIYUN_CRED_ECS_RAM_ROLE;
        const char *role = opts->ram_role && *opts->ram_role ? opts->ram_role
                                                             : env_get(opts, "EIP_AGENT_RAM_ROLE");
        c->ram_role = dup_or_null(role, &r);
    } else {
        r = -ENOENT;
        goto fail;
    }
    if (r)
        goto fail;
    set_source_name(c);
    c->timer = malloc(sizeof(*c->timer));
    c->notify = malloc(sizeof(*c->notify));
    if (!c->timer || !c->notify) {
        free(c->timer);
        free(c->notify);
        c->timer = c->notify = NULL;
        r = -ENOMEM;
        goto fail;
    }
    uv_timer_init(loop, c->timer);
    uv_timer_init(loop, c->notify);
    c->timer->data = c;
    c->notify->data = c;
    return c;
fail:
    if (err)
        *err = r ? r : -EINVAL;
    aliyun_creds_free(c);
    return NULL;
}

static void creds_release(aliyun_creds *c)
{
    aliyun_credential_clear(&c->cur);
    if (c->timer)
        uv_close((uv_handle_t *)c->timer, timer_closed);
    if (c->notify)
        uv_close((uv_handle_t *)c->notify, timer_closed);
    free(c->role_arn);
    free(c->provider_arn);
    free(c->token_file);
    free(c->sts_endpoint);
    free(c->ca_file);
    free(c->session_name);
    free(c->ram_role);
    free(c);
}

void aliyun_creds_free(aliyun_creds *c)
{
    if (!c || c->free_pending)
        return;
    while (c->waiters)
        aliyun_creds_waiter_cancel(c->waiters);
    if (c->http)
        c->tr.cancel(c->tr.ctx, c->http);
    c->http = NULL;
    if (c->mdreq)
        aliyun_md_req_cancel(c->mdreq);
    c->mdreq = NULL;
    if (c->timer)
        uv_timer_stop(c->timer);
    if (c->notify)
        uv_timer_stop(c->notify);
    if (c->dispatching > 0) {
        c->free_pending = true; /* released when the callback has returned */
        return;
    }
    creds_release(c);
}

static void creds_enter(aliyun_creds *c)
{
    c->dispatching++;
}

static void creds_leave(aliyun_creds *c)
{
    if (--c->dispatching == 0 && c->free_pending)
        creds_release(c);
}

enum aliyun_cred_source aliyun_creds_source(const aliyun_creds *c)
{
    return c->source;
}

const char *aliyun_creds_source_name(const aliyun_creds *c)
{
    return c->source_name;
}

uint64_t aliyun_creds_refresh_count(const aliyun_creds *c)
{
    return c->refreshes;
}

size_t aliyun_creds_describe(const aliyun_creds *c, char *buf, size_t cap)
{
    char id[16] = "none", exp[32] = "never";
    if (c->have && c->cur.access_key_id) {
        /* the AccessKeyId is not secret, but a prefix is enough to tell keys apart */
        snprintf(id, sizeof(id), "%.4s****", c->cur.access_key_id);
    }
    if (c->have && c->cur.expiration_ms > 0)
        eip_time_format_rfc3339(exp, sizeof(exp), (time_t)(c->cur.expiration_ms / 1000));
    int n = snprintf(buf, cap, "source=%s access_key_id=%s sts=%s expires=%s refreshes=%llu%s%s",
                     c->source_name, id, c->have && c->cur.security_token ? "yes" : "no",
                     c->have ? exp : "-", (unsigned long long)c->refreshes,
                     c->last_error[0] ? " last_error=" : "", c->last_error);
    if (n < 0 || cap == 0)
        return 0;
    return (size_t)n >= cap ? cap - 1 : (size_t)n;
}

const aliyun_credential *aliyun_creds_current(const aliyun_creds *c)
{
    if (!c->have || c->invalid)
        return NULL;
    if (c->cur.expiration_ms > 0 && eip_time_now_ms() >= c->cur.expiration_ms - EXPIRY_SAFETY_MS)
        return NULL;
    return &c->cur;
}

static void notify_cb(uv_timer_t *t);

static void wake_waiters(aliyun_creds *c, int err)
{
    /* a waiter's callback may add or cancel waiters: take them one at a time */
    while (c->waiters && !c->free_pending) {
        aliyun_creds_waiter *w = c->waiters;
        aliyun_creds_waiter_cancel(w);
        w->cb(w, err, w->arg);
    }
}

static void notify_cb(uv_timer_t *t)
{
    aliyun_creds *c = t->data;
    creds_enter(c);
    if (aliyun_creds_current(c))
        wake_waiters(c, 0);
    else if (!c->fetching)
        wake_waiters(c, c->last_err ? c->last_err : -EAGAIN);
    creds_leave(c);
}

static void fetch(aliyun_creds *c);

static void timer_cb(uv_timer_t *t)
{
    aliyun_creds *c = t->data;
    creds_enter(c);
    fetch(c);
    creds_leave(c);
}

static void fetch_failed(aliyun_creds *c, int err, const char *what)
{
    c->fetching = false;
    c->last_err = err;
    snprintf(c->last_error, sizeof(c->last_error), "%s", what);
    int64_t d = eip_backoff_next(&c->retry, eip_time_mono_ms(), eip_backoff_rand01());
    if (d < 100)
        d = 100;
    log_debug("aliyun credentials (%s): refresh failed: %s; again in %lld ms", c->source_name, what,
              (long long)d);
    uv_timer_start(c->timer, timer_cb, (uint64_t)d, 0);
    if (!aliyun_creds_current(c))
        wake_waiters(c, err);
}

static void fetched(aliyun_creds *c, const aliyun_credential *n)
{
    c->fetching = false;
    if (credential_set(&c->cur, n->access_key_id, n->access_key_secret, n->security_token,
                       n->expiration_ms)) {
        fetch_failed(c, -ENOMEM, "out of memory");
        return;
    }
    c->have = true;
    c->invalid = false;
    if (!aliyun_creds_current(c)) {
        /* Expired on arrival (a skewed clock, or a stale answer): waking the
         * waiters with success would send them straight back to fetch(), a
         * loop without backoff against STS or the metadata server. */
        fetch_failed(c, -EKEYEXPIRED,
                     "the new credential is already expired (is the clock right?)");
        return;
    }
    eip_backoff_reset(&c->retry);
    c->last_err = 0;
    c->refreshes++;
    c->last_error[0] = '\0';
    int64_t d =
        aliyun_creds_refresh_delay_ms(eip_time_now_ms(), n->expiration_ms, c->refresh_before_ms);
    if (d >= 0) {
        if (d < c->min_refresh_ms)
            d = c->min_refresh_ms;
        uv_timer_start(c->timer, timer_cb, (uint64_t)d, 0);
    }
    log_debug("aliyun credentials (%s): refreshed, next refresh in %lld ms", c->source_name,
              (long long)d);
    wake_waiters(c, 0);
}

static void on_oidc(int err, const aliyun_credential *cred, const aliyun_error *e, void *arg)
{
    aliyun_creds *c = arg;
    c->http = NULL;
    creds_enter(c);
    if (err) {
        char msg[256];
        aliyun_error_format(e, msg, sizeof(msg));
        fetch_failed(c, err, msg);
    } else {
        fetched(c, cred);
    }
    creds_leave(c);
}

/* The projected service-account token, read afresh: kubelet rotates it. */
static int read_token_file(const aliyun_creds *c, char **out)
{
    char *data = NULL;
    size_t len = 0;
    int r = eip_read_file(c->token_file, c->max_token_bytes, &data, &len);
    if (r)
        return r;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    if (len == 0) {
        free(data);
        return -ENODATA;
    }
    *out = data;
    return 0;
}

static void fetch_rrsa(aliyun_creds *c)
{
    char *token = NULL;
    int r = read_token_file(c, &token);
    if (r) {
        char msg[256];
        snprintf(msg, sizeof(msg), "OIDC token file %s: %s", c->token_file, strerror(-r));
        fetch_failed(c, r, msg);
        return;
    }
    aliyun_oidc_params p = {
        .endpoint = c->sts_endpoint,
        .ca_file = c->ca_file,
        .timeout_ms = c->timeout_ms,
        .role_arn = c->role_arn,
        .oidc_provider_arn = c->provider_arn,
        .oidc_token = token,
        .role_session_name = c->session_name,
        .duration_seconds = c->duration_seconds,
    };
    r = aliyun_sts_assume_role_with_oidc(&c->tr, &p, on_oidc, c, &c->http);
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    if (r) {
        c->http = NULL;
        fetch_failed(c, r, "AssumeRoleWithOIDC could not be sent");
    }
}

static void on_role_creds_inner(aliyun_creds *c, int err, const char *value, size_t len);

static void on_role_creds(int err, const char *value, size_t len, void *arg)
{
    aliyun_creds *c = arg;
    creds_enter(c);
    on_role_creds_inner(c, err, value, len);
    creds_leave(c);
}

static void on_role_creds_inner(aliyun_creds *c, int err, const char *value, size_t len)
{
    c->mdreq = NULL;
    if (err) {
        char msg[256];
        snprintf(msg, sizeof(msg), "metadata ram/security-credentials/%s: %s", c->ram_role,
                 strerror(-err));
        fetch_failed(c, err, msg);
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(value, len, 0, &jerr);
    aliyun_credential n = {0};
    int r = root ? aliyun_parse_ecs_ram_credentials(root, &n) : -EINVAL;
    json_decref(root);
    if (r) {
        fetch_failed(c, r, "metadata RAM role credentials: unexpected document");
        return;
    }
    fetched(c, &n);
    aliyun_credential_clear(&n);
}

static void fetch_role_creds(aliyun_creds *c)
{
    char path[256];
    snprintf(path, sizeof(path), "ram/security-credentials/%s", c->ram_role);
    int r = aliyun_metadata_get(c->md, path, on_role_creds, c, &c->mdreq);
    if (r) {
        c->mdreq = NULL;
        fetch_failed(c, r, "metadata request could not be sent");
    }
}

static void on_role_list_inner(aliyun_creds *c, int err, const char *value, size_t len);

static void on_role_list(int err, const char *value, size_t len, void *arg)
{
    aliyun_creds *c = arg;
    creds_enter(c);
    on_role_list_inner(c, err, value, len);
    creds_leave(c);
}

static void on_role_list_inner(aliyun_creds *c, int err, const char *value, size_t len)
{
    c->mdreq = NULL;
    char **roles = NULL;
    if (!err)
        err = aliyun_metadata_parse_list(value, len, &roles);
    if (!err && !roles[0])
        err = -ENOENT;
    if (err) {
        aliyun_strv_free(roles);
        fetch_failed(c, err,
                     err == -ENOENT ? "no RAM role attached to this instance"
                                    : "metadata ram/security-credentials/ failed");
        return;
    }
    c->ram_role = strdup(roles[0]);
    aliyun_strv_free(roles);
    if (!c->ram_role) {
        fetch_failed(c, -ENOMEM, "out of memory");
        return;
    }
    set_source_name(c);
    fetch_role_creds(c);
}

static void fetch(aliyun_creds *c)
{
    if (c->fetching)
        return;
    uv_timer_stop(c->timer);
    switch (c->source) {
    case ALIYUN_CRED_RRSA:
        c->fetching = true;
        fetch_rrsa(c);
        break;
    case ALIYUN_CRED_ECS_RAM_ROLE:
        c->fetching = true;
        if (c->ram_role) {
            fetch_role_creds(c);
        } else {
            int r =
                aliyun_metadata_get(c->md, "ram/security-credentials/", on_role_list, c, &c->mdreq);
            if (r) {
                c->mdreq = NULL;
                fetch_failed(c, r, "metadata request could not be sent");
            }
        }
        break;
    default: /* static and env do not change */
        uv_timer_start(c->notify, notify_cb, 0, 0);
        break;
    }
}

void aliyun_creds_start(aliyun_creds *c)
{
    if (c && !aliyun_creds_current(c))
        fetch(c);
}

int aliyun_creds_wait(aliyun_creds *c, aliyun_creds_waiter *w, aliyun_creds_cb cb, void *arg)
{
    if (!c || !w || !cb)
        return -EINVAL;
    w->cb = cb;
    w->arg = arg;
    w->owner = c;
    w->prev = NULL;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
    if (aliyun_creds_current(c))
        uv_timer_start(c->notify, notify_cb, 0, 0);
    else if (c->fetching)
        ; /* woken when the fetch ends */
    else if (c->retry.failures > 0 && uv_is_active((uv_handle_t *)c->timer))
        uv_timer_start(c->notify, notify_cb, 0, 0); /* in backoff: fail fast */
    else
        fetch(c);
    return 0;
}

void aliyun_creds_waiter_cancel(aliyun_creds_waiter *w)
{
    aliyun_creds *c = w->owner;
    if (!c)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else if (c->waiters == w)
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->owner = NULL;
}

void aliyun_creds_invalidate(aliyun_creds *c)
{
    if (!c || c->source == ALIYUN_CRED_STATIC || c->source == ALIYUN_CRED_ENV)
        return;
    c->invalid = true;
    if (!c->fetching)
        fetch(c);
}
