/* SPDX-License-Identifier: MIT */
#include "aliyun/credentials.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aliyun/credentials_internal.h"
#include "aliyun/errors.h"
#include "aliyun/metadata_internal.h"
#include "aliyun/sts_internal.h"
#include "common/backoff.h"
#include "common/err.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timer.h"
#include "common/timeutil.h"

/* A credential is not used in its last seconds: a request signed now must arrive valid. */
#define EXPIRY_SAFETY_MS 10000
/* RAM role names are at most 64 characters; a path or a name past this is refused. */
#define SOURCE_NAME_MAX 160
#define ROLE_PATH_MAX 256

/* What the credential in cur is worth; set_cred_state() is the only writer. */
enum cred_state {
    CRED_NONE,    /* nothing yet */
    CRED_VALID,   /* cur may be used until it expires */
    CRED_INVALID, /* the cloud refused cur (aliyun_creds_invalidate): a fetch replaces it */
};

struct aliyun_creds {
    uv_loop_t *loop;
    aliyun_transport tr;
    aliyun_metadata *md;
    enum aliyun_cred_source source;
    char source_name[SOURCE_NAME_MAX];
    aliyun_credential cur;
    enum cred_state state;
    bool fetching; /* a fetch is in flight (in any state) */
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
    eip_list waiters;   /* aliyun_creds_waiter.node, newest first */
    int dispatching;    /* inside one of our entry points (a waiter may free us) */
    bool free_pending;  /* aliyun_creds_free() was called from a callback */
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

/* 0, or -E2BIG when the role name does not fit the name. */
static int set_source_name(aliyun_creds *c)
{
    const char *name = "none";
    switch (c->source) {
    case ALIYUN_CRED_STATIC:
        name = "static";
        break;
    case ALIYUN_CRED_ENV:
        name = "env";
        break;
    case ALIYUN_CRED_RRSA:
        name = "rrsa";
        break;
    case ALIYUN_CRED_ECS_RAM_ROLE:
        name = "ecs-ram-role";
        break;
    case ALIYUN_CRED_NONE:
        break;
    }
    int n = c->source == ALIYUN_CRED_ECS_RAM_ROLE && c->ram_role
                ? snprintf(c->source_name, sizeof(c->source_name), "%s:%s", name, c->ram_role)
                : snprintf(c->source_name, sizeof(c->source_name), "%s", name);
    return n < 0 || (size_t)n >= sizeof(c->source_name) ? -E2BIG : 0;
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

static bool given(const char *s)
{
    return s && *s;
}

static int choose_rrsa(aliyun_creds *c, const aliyun_creds_opts *o, char *err, size_t errlen)
{
    c->source = ALIYUN_CRED_RRSA;
    if (!given(o->sts_endpoint) || !o->transport) {
        eip_seterr(err, errlen, "RRSA needs %s", o->transport ? "an STS endpoint" : "a transport");
        return -EINVAL;
    }
    int r = 0;
    c->role_arn = dup_or_null(o->role_arn, &r);
    c->provider_arn = dup_or_null(o->oidc_provider_arn, &r);
    c->token_file = dup_or_null(o->oidc_token_file, &r);
    c->sts_endpoint = dup_or_null(o->sts_endpoint, &r);
    c->ca_file = dup_or_null(o->ca_file, &r);
    c->session_name = dup_or_null(o->role_session_name ? o->role_session_name : "eip-agent", &r);
    return r;
}

static const char *cred_state_name(enum cred_state s)
{
    static const char *const names[] = {"none", "valid", "invalid"};
    return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static void set_cred_state(aliyun_creds *c, enum cred_state s)
{
    if (c->state != s)
        log_debug("aliyun credentials (%s): %s -> %s", c->source_name[0] ? c->source_name : "-",
                  cred_state_name(c->state), cred_state_name(s));
    c->state = s;
}

/* The first source of the chain that the options give. */
static int choose_source(aliyun_creds *c, const aliyun_creds_opts *o, char *err, size_t errlen)
{
    int r = 0;
    if (given(o->access_key_id) && given(o->access_key_secret)) {
        c->source = o->access_key_source == ALIYUN_CRED_ENV ? ALIYUN_CRED_ENV : ALIYUN_CRED_STATIC;
        r = credential_set(&c->cur, o->access_key_id, o->access_key_secret, o->security_token, 0);
        if (!r)
            set_cred_state(c, CRED_VALID);
    } else if (given(o->role_arn) && given(o->oidc_provider_arn) && given(o->oidc_token_file)) {
        r = choose_rrsa(c, o, err, errlen);
    } else if (o->metadata && !o->disable_ecs_ram_role) {
        c->source = ALIYUN_CRED_ECS_RAM_ROLE;
        c->ram_role = dup_or_null(given(o->ram_role) ? o->ram_role : NULL, &r);
    } else {
        eip_seterr(err, errlen, "no credential source: no AccessKey, no RRSA role, no metadata");
        return -ENOENT;
    }
    if (!r && (r = set_source_name(c)) != 0)
        eip_seterr(err, errlen, "RAM role name too long");
    if (r == -ENOMEM)
        eip_seterr(err, errlen, "out of memory");
    return r;
}

/* A heap timer (its close callback frees it): 0 and *out, or -ENOMEM or the
 * libuv error with nothing left. */
static int timer_new(uv_loop_t *loop, void *data, uv_timer_t **out)
{
    uv_timer_t *t = malloc(sizeof(*t));
    if (!t)
        return -ENOMEM;
    int r = uv_timer_init(loop, t);
    if (r) {
        free(t);
        return r;
    }
    t->data = data;
    *out = t;
    return 0;
}

static int timers_init(aliyun_creds *c, char *err, size_t errlen)
{
    int r = timer_new(c->loop, c, &c->timer);
    if (!r)
        r = timer_new(c->loop, c, &c->notify);
    if (r)
        eip_seterr(err, errlen, "timers: %s", r == -ENOMEM ? "out of memory" : uv_strerror(r));
    return r;
}

static void creds_release(aliyun_creds *c);

int aliyun_creds_new(aliyun_creds **out, const aliyun_creds_opts *opts, char *err, size_t errlen)
{
    int r = -EINVAL;
    *out = NULL;
    if (!opts || !opts->loop) {
        eip_seterr(err, errlen, "no loop");
        return r;
    }
    aliyun_creds *c = calloc(1, sizeof(*c));
    if (!c) {
        eip_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c->loop = opts->loop;
    if (opts->transport)
        c->tr = *opts->transport;
    c->md = opts->metadata;
    eip_list_init(&c->waiters);
    c->refresh_before_ms = opts->refresh_before_ms > 0 ? opts->refresh_before_ms : 180000;
    c->min_refresh_ms = opts->min_refresh_ms > 0 ? opts->min_refresh_ms : 5000;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    eip_backoff_init(&c->retry, opts->retry_base_ms > 0 ? opts->retry_base_ms : 1000,
                     opts->retry_cap_ms > 0 ? opts->retry_cap_ms : 60000, 0, EIP_JITTER_FULL, 0);
    c->duration_seconds = opts->duration_seconds > 0 ? opts->duration_seconds : 3600;
    c->max_token_bytes = opts->max_token_file_bytes > 0 ? opts->max_token_file_bytes : 64 * 1024;
    r = choose_source(c, opts, err, errlen);
    if (!r)
        r = timers_init(c, err, errlen);
    if (r) {
        creds_release(c);
        return r;
    }
    *out = c;
    return 0;
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
    while (!eip_list_empty(&c->waiters))
        aliyun_creds_waiter_cancel(
            eip_container_of(eip_list_first(&c->waiters), aliyun_creds_waiter, node));
    if (c->http)
        c->tr.cancel(c->tr.ctx, c->http);
    c->http = NULL;
    if (c->mdreq)
        aliyun_md_req_cancel(c->mdreq);
    c->mdreq = NULL;
    if (c->timer)
        (void)uv_timer_stop(c->timer); /* never fails */
    if (c->notify)
        (void)uv_timer_stop(c->notify);
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
    /* the AccessKeyId is not secret, but a prefix is enough to tell keys apart */
    char id[16] = "none", exp[32] = "never";
    if (c->state != CRED_NONE && c->cur.access_key_id) {
        size_t n = strnlen(c->cur.access_key_id, 4);
        memcpy(id, c->cur.access_key_id, n);
        memcpy(id + n, "****", 5);
    }
    if (c->state != CRED_NONE && c->cur.expiration_ms > 0 &&
        !eip_time_format_rfc3339(exp, sizeof(exp), (time_t)(c->cur.expiration_ms / 1000)))
        memcpy(exp, "?", 2);
    if (cap == 0)
        return 0;
    eip_seterr(buf, cap, "source=%s access_key_id=%s sts=%s expires=%s refreshes=%llu%s%s",
               c->source_name, id, c->state != CRED_NONE && c->cur.security_token ? "yes" : "no",
               c->state != CRED_NONE ? exp : "-", (unsigned long long)c->refreshes,
               c->last_error[0] ? " last_error=" : "", c->last_error);
    return strlen(buf);
}

const aliyun_credential *aliyun_creds_current(const aliyun_creds *c)
{
    if (c->state != CRED_VALID)
        return NULL;
    if (c->cur.expiration_ms > 0 && eip_time_now_ms() >= c->cur.expiration_ms - EXPIRY_SAFETY_MS)
        return NULL;
    return &c->cur;
}

static void wake_waiters(aliyun_creds *c, int err)
{
    /* a waiter's callback may add or cancel waiters: take them one at a time */
    while (!eip_list_empty(&c->waiters) && !c->free_pending) {
        aliyun_creds_waiter *w =
            eip_container_of(eip_list_first(&c->waiters), aliyun_creds_waiter, node);
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

static int fetch(aliyun_creds *c);

static void timer_cb(uv_timer_t *t)
{
    aliyun_creds *c = t->data;
    creds_enter(c);
    (void)fetch(c); /* a failure to start is a failed fetch, retried */
    creds_leave(c);
}

static void fetch_failed(aliyun_creds *c, int err, const char *what)
{
    c->fetching = false;
    c->last_err = err;
    eip_seterr(c->last_error, sizeof(c->last_error), "%s", what);
    int64_t d = eip_backoff_next(&c->retry, eip_time_mono_ms(), eip_backoff_rand01());
    if (d < 100)
        d = 100;
    log_debug("aliyun credentials (%s): refresh failed: %s; again in %lld ms", c->source_name, what,
              (long long)d);
    (void)eip_timer_start(c->timer, timer_cb, (uint64_t)d, "credentials retry");
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
    set_cred_state(c, CRED_VALID);
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
    if (d >= 0)
        (void)eip_timer_start(c->timer, timer_cb,
                              (uint64_t)(d < c->min_refresh_ms ? c->min_refresh_ms : d),
                              "credentials refresh");
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
        eip_seterr(msg, sizeof(msg), "OIDC token file %s: %s", c->token_file, strerror(-r));
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

static void role_creds_done(aliyun_creds *c, int err, const char *value, size_t len)
{
    if (err) {
        char msg[256];
        eip_seterr(msg, sizeof(msg), "metadata ram/security-credentials/%s: %s", c->ram_role,
                   strerror(-err));
        fetch_failed(c, err, msg);
        return;
    }
    json_error_t jerr;
    json_t *root = NULL;
    aliyun_credential n = {0};
    int r = eip_json_loadb(value, len, 0, &root, &jerr);
    if (!r)
        r = aliyun_parse_ecs_ram_credentials(root, &n);
    json_decref(root);
    if (r) {
        fetch_failed(c, r, "metadata RAM role credentials: unexpected document");
        return;
    }
    fetched(c, &n);
    aliyun_credential_clear(&n);
}

static void on_role_creds(int err, const char *value, size_t len, void *arg)
{
    aliyun_creds *c = arg;
    c->mdreq = NULL;
    creds_enter(c);
    role_creds_done(c, err, value, len);
    creds_leave(c);
}

static void fetch_role_creds(aliyun_creds *c)
{
    char path[ROLE_PATH_MAX];
    int n = snprintf(path, sizeof(path), "ram/security-credentials/%s", c->ram_role);
    int r = n < 0 || (size_t)n >= sizeof(path) ? -E2BIG : 0;
    if (!r)
        r = aliyun_metadata_get(c->md, path, on_role_creds, c, &c->mdreq);
    if (r) {
        c->mdreq = NULL;
        fetch_failed(c, r,
                     r == -E2BIG ? "RAM role name too long" : "metadata request could not be sent");
    }
}

/* The instance's roles are listed: take the first one. */
static void role_list_done(aliyun_creds *c, int err, const char *value, size_t len)
{
    char **roles = NULL;
    if (!err)
        err = aliyun_metadata_parse_list(value, len, &roles);
    if (!err && !roles[0])
        err = -ENOENT;
    if (!err && !(c->ram_role = strdup(roles[0])))
        err = -ENOMEM;
    aliyun_strv_free(roles);
    if (!err && set_source_name(c)) {
        free(c->ram_role);
        c->ram_role = NULL;
        (void)set_source_name(c); /* "ecs-ram-role" always fits */
        fetch_failed(c, -E2BIG, "the RAM role name the metadata lists is too long");
        return;
    }
    if (err) {
        fetch_failed(c, err,
                     err == -ENOENT   ? "no RAM role attached to this instance"
                     : err == -ENOMEM ? "out of memory"
                                      : "metadata ram/security-credentials/ failed");
        return;
    }
    fetch_role_creds(c);
}

static void on_role_list(int err, const char *value, size_t len, void *arg)
{
    aliyun_creds *c = arg;
    c->mdreq = NULL;
    creds_enter(c);
    role_list_done(c, err, value, len);
    creds_leave(c);
}

/* Starts a fetch of the source's credential. A source that does not change
 * (static, env) only wakes the waiters. 0, or the libuv error of that wake-up;
 * a failure to start a fetch is a failed fetch (retried on the timer). */
static int fetch(aliyun_creds *c)
{
    int r = 0;
    if (c->fetching)
        return 0;
    (void)uv_timer_stop(c->timer); /* never fails */
    switch (c->source) {
    case ALIYUN_CRED_RRSA:
        c->fetching = true;
        fetch_rrsa(c);
        return 0;
    case ALIYUN_CRED_ECS_RAM_ROLE:
        c->fetching = true;
        if (c->ram_role) {
            fetch_role_creds(c);
            return 0;
        }
        r = aliyun_metadata_get(c->md, ALIYUN_MD_RAM_ROLES, on_role_list, c, &c->mdreq);
        if (r) {
            c->mdreq = NULL;
            fetch_failed(c, r, "metadata request could not be sent");
        }
        return 0;
    default: /* static and env do not change */
        return eip_timer_start(c->notify, notify_cb, 0, "credentials wake-up");
    }
}

void aliyun_creds_start(aliyun_creds *c)
{
    if (c && !aliyun_creds_current(c))
        (void)fetch(c); /* logged; the first wait tries again */
}

int aliyun_creds_wait(aliyun_creds *c, aliyun_creds_waiter *w, aliyun_creds_cb cb, void *arg)
{
    if (!c || !w || !cb)
        return -EINVAL;
    w->cb = cb;
    w->arg = arg;
    w->owner = c;
    eip_list_node_init(&w->node);
    eip_list_push_front(&c->waiters, &w->node);
    int r = 0;
    if (aliyun_creds_current(c))
        r = eip_timer_start(c->notify, notify_cb, 0, "credentials wake-up");
    else if (c->fetching)
        ; /* woken when the fetch ends */
    else if (c->retry.failures > 0 && uv_is_active((uv_handle_t *)c->timer))
        r = eip_timer_start(c->notify, notify_cb, 0,
                            "credentials wake-up"); /* in backoff: fail fast */
    else
        r = fetch(c);
    if (r)
        aliyun_creds_waiter_cancel(w); /* no callback for a failed start */
    return r;
}

void aliyun_creds_waiter_cancel(aliyun_creds_waiter *w)
{
    aliyun_creds *c = w->owner;
    if (!c)
        return;
    eip_list_remove(&c->waiters, &w->node);
    w->owner = NULL;
}

void aliyun_creds_invalidate(aliyun_creds *c)
{
    if (!c || c->source == ALIYUN_CRED_STATIC || c->source == ALIYUN_CRED_ENV)
        return;
    if (c->state == CRED_VALID)
        set_cred_state(c, CRED_INVALID);
    (void)fetch(c); /* refetches unless one runs; a failure to start is retried */
}
