/* SPDX-License-Identifier: MIT */
#include "aliyun/metadata.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "aliyun/metadata_internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/list.h"
#include "common/log.h"
#include "common/timeutil.h"

#define MD_BODY_MAX (256 * 1024)
/* After the server refused to hand out a token, normal mode for this long. */
#define TOKEN_RETRY_MS (5 * 60 * 1000)
/* A URL or a header built from the configured endpoint is refused past this. */
#define MD_URL_MAX (8 * 1024)
#define MD_TOKEN_MAX 4096

/* Hardened mode; token_set_state() is the only writer:
 *   NONE -> FETCHING            a request needs a token: PUT /latest/api/token
 *   FETCHING -> VALID           a token came
 *   FETCHING -> UNSUPPORTED     none came (or the PUT could not be sent): normal mode
 *                               until token_retry_ms
 *   VALID -> NONE               the token is near its end, or was refused (401)
 *   UNSUPPORTED -> NONE         token_retry_ms passed: ask again */
enum token_state { TOKEN_NONE, TOKEN_FETCHING, TOKEN_VALID, TOKEN_UNSUPPORTED };

typedef struct eni_entry {
    char *mac;
    char *eni_id;
    char **ips;
} eni_entry;

enum req_kind { REQ_GET, REQ_FIND_ENI };

/* A find-ENI request: the MAC listing (its own GET), then the scan of each MAC. */
enum find_step { FIND_LISTING, FIND_SCANNING };

/* What a child of a scan reads of its MAC. */
enum scan_field { FIELD_IPS, FIELD_ENI_ID };

struct aliyun_md_req {
    aliyun_metadata *md;
    enum req_kind kind;
    char *path;          /* what is read (REQ_FIND_ENI: the MAC listing) */
    char *ip;            /* REQ_FIND_ENI */
    enum find_step step; /* REQ_FIND_ENI */
    aliyun_metadata_cb cb;
    aliyun_metadata_eni_cb eni_cb;
    void *arg;
    int attempts;
    bool token_retried;
    http_request *http;
    /* REQ_FIND_ENI: the listing and its sub-requests */
    aliyun_md_req *parent;
    int pending;
    int first_err;
    eni_entry *scan;
    size_t scan_n;
    size_t scan_idx; /* REQ_GET children: which entry, and field */
    enum scan_field field;
    /* delivery */
    int result;
    char *value;
    size_t value_len;
    bool waiting_token;
    bool deferred;
    eip_list_node node; /* in aliyun_metadata.reqs */
};

struct aliyun_metadata {
    uv_loop_t *loop;
    aliyun_transport tr;
    char *endpoint;
    bool disable_token;
    int token_ttl_s;
    long timeout_ms;
    int max_attempts;
    enum token_state token_state;
    char *token;
    int64_t token_expires_ms; /* monotonic */
    int64_t token_retry_ms;   /* TOKEN_UNSUPPORTED until then */
    http_request *token_http;
    eip_list reqs; /* aliyun_md_req.node: every live request, newest first */
    uv_timer_t *defer;
    eni_entry *enis;
    size_t n_enis;
    int dispatching;   /* inside one of our entry points (callbacks may free md) */
    bool free_pending; /* aliyun_metadata_free() was called from a callback */
};

void aliyun_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static int strv_push(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 2) * sizeof(**v));
    if (!nv)
        return -ENOMEM;
    *v = nv;
    nv[*n] = strndup(s, len);
    if (!nv[*n])
        return -ENOMEM;
    (*n)++;
    nv[*n] = NULL;
    return 0;
}

int aliyun_metadata_parse_ipv4s(const char *body, size_t len, char ***out)
{
    json_error_t jerr;
    json_t *root = NULL;
    int jr = eip_json_loadb(body, len, 0, &root, &jerr);
    if (jr || !json_is_array(root)) {
        json_decref(root);
        return jr ? jr : -EINVAL;
    }
    char **v = calloc(1, sizeof(*v));
    size_t n = 0;
    int r = v ? 0 : -ENOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(root, i, e)
    {
        if (r)
            break;
        if (!json_is_string(e)) {
            r = -EINVAL;
            break;
        }
        r = strv_push(&v, &n, json_string_value(e), json_string_length(e));
    }
    json_decref(root);
    if (r) {
        aliyun_strv_free(v);
        return r;
    }
    *out = v;
    return 0;
}

int aliyun_metadata_parse_list(const char *body, size_t len, char ***out)
{
    char **v = calloc(1, sizeof(*v));
    size_t n = 0;
    if (!v)
        return -ENOMEM;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '\n' && body[j] != '\r')
            j++;
        size_t e = j;
        while (e > i && (body[e - 1] == '/' || body[e - 1] == ' '))
            e--;
        size_t s = i;
        while (s < e && body[s] == ' ')
            s++;
        if (e > s) {
            int r = strv_push(&v, &n, body + s, e - s);
            if (r) {
                aliyun_strv_free(v);
                return r;
            }
        }
        i = j + 1;
    }
    *out = v;
    return 0;
}

static void defer_cb(uv_timer_t *t);

int aliyun_metadata_new(aliyun_metadata **out, const aliyun_metadata_opts *opts, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->loop || !opts->transport) {
        eip_seterr(err, errlen, "metadata client: no %s",
                   opts && opts->loop ? "transport" : "loop");
        return -EINVAL;
    }
    int r = -ENOMEM;
    aliyun_metadata *md = calloc(1, sizeof(*md));
    if (!md)
        goto fail;
    md->loop = opts->loop;
    md->tr = *opts->transport;
    const char *ep = opts->endpoint && *opts->endpoint ? opts->endpoint : "http://100.100.100.200";
    size_t l = strlen(ep);
    while (l > 0 && ep[l - 1] == '/')
        l--;
    md->endpoint = strndup(ep, l);
    md->disable_token = opts->disable_token;
    md->token_ttl_s = opts->token_ttl_seconds > 0 ? opts->token_ttl_seconds : 21600;
    md->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 3000;
    md->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 3;
    md->token_state = md->disable_token ? TOKEN_UNSUPPORTED : TOKEN_NONE; /* the start */
    eip_list_init(&md->reqs);
    md->token_retry_ms = md->disable_token ? INT64_MAX : 0;
    md->defer = malloc(sizeof(*md->defer));
    if (!md->endpoint || !md->defer)
        goto fail;
    r = uv_timer_init(opts->loop, md->defer);
    if (r)
        goto fail;
    md->defer->data = md;
    *out = md;
    return 0;
fail:
    eip_seterr(err, errlen, "metadata client: %s", r == -ENOMEM ? "out of memory" : uv_strerror(r));
    if (md) {
        free(md->defer);
        free(md->endpoint);
        free(md);
    }
    return r;
}

const char *aliyun_metadata_endpoint(const aliyun_metadata *md)
{
    return md->endpoint;
}

static void enis_free(eni_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].mac);
        free(v[i].eni_id);
        aliyun_strv_free(v[i].ips);
    }
    free(v);
}

void aliyun_metadata_invalidate_enis(aliyun_metadata *md)
{
    enis_free(md->enis, md->n_enis);
    md->enis = NULL;
    md->n_enis = 0;
}

static void req_unlink(aliyun_md_req *r)
{
    eip_list_remove(&r->md->reqs, &r->node);
}

static aliyun_md_req *req_of(eip_list_node *n)
{
    return eip_container_of(n, aliyun_md_req, node);
}

static const char *token_state_name(enum token_state s)
{
    switch (s) {
    case TOKEN_NONE:
        return "none";
    case TOKEN_FETCHING:
        return "fetching";
    case TOKEN_VALID:
        return "valid";
    case TOKEN_UNSUPPORTED:
        return "unsupported";
    }
    return "?";
}

/* The only writer of md->token_state after the start; UNSUPPORTED holds until
 * now_ms + TOKEN_RETRY_MS. */
static void token_set_state(aliyun_metadata *md, enum token_state to, int64_t now_ms)
{
    log_debug("aliyun metadata: token %s -> %s", token_state_name(md->token_state),
              token_state_name(to));
    if (to == TOKEN_UNSUPPORTED)
        md->token_retry_ms = now_ms + TOKEN_RETRY_MS;
    md->token_state = to;
}

static void req_free(aliyun_md_req *r)
{
    free(r->path);
    free(r->ip);
    free(r->value);
    enis_free(r->scan, r->scan_n);
    free(r);
}

static void req_cancel_one(aliyun_md_req *r)
{
    if (r->http)
        r->md->tr.cancel(r->md->tr.ctx, r->http);
    r->http = NULL;
    req_unlink(r);
    req_free(r);
}

void aliyun_md_req_cancel(aliyun_md_req *req)
{
    if (!req)
        return;
    aliyun_metadata *md = req->md;
    /* children of a find-ENI go with it */
    eip_list_node *n, *tmp;
    eip_list_foreach_safe(&md->reqs, n, tmp)
    {
        if (req_of(n)->parent == req)
            req_cancel_one(req_of(n));
    }
    req_cancel_one(req);
}

static void defer_closed(uv_handle_t *h)
{
    free(h);
}

static void md_release(aliyun_metadata *md)
{
    if (md->token) {
        OPENSSL_cleanse(md->token, strlen(md->token));
        free(md->token);
    }
    aliyun_metadata_invalidate_enis(md);
    uv_close((uv_handle_t *)md->defer, defer_closed);
    free(md->endpoint);
    free(md);
}

void aliyun_metadata_free(aliyun_metadata *md)
{
    if (!md || md->free_pending)
        return;
    while (!eip_list_empty(&md->reqs))
        req_cancel_one(req_of(eip_list_first(&md->reqs)));
    if (md->token_http)
        md->tr.cancel(md->tr.ctx, md->token_http);
    md->token_http = NULL;
    (void)uv_timer_stop(md->defer); /* never fails */
    if (md->dispatching > 0) {
        md->free_pending = true; /* released when the callback has returned */
        return;
    }
    md_release(md);
}

static void md_enter(aliyun_metadata *md)
{
    md->dispatching++;
}

/* true when md is gone */
static bool md_leave(aliyun_metadata *md)
{
    if (--md->dispatching == 0 && md->free_pending) {
        md_release(md);
        return true;
    }
    return false;
}

/* A live request reading path (copied); for a find-ENI, ip (copied) too. NULL
 * on ENOMEM (nothing left behind). */
static aliyun_md_req *req_new(aliyun_metadata *md, enum req_kind kind, const char *path,
                              const char *ip)
{
    aliyun_md_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->md = md;
    r->kind = kind;
    r->path = strdup(path);
    r->ip = ip ? strdup(ip) : NULL;
    if (!r->path || (ip && !r->ip)) {
        req_free(r);
        return NULL;
    }
    eip_list_node_init(&r->node);
    eip_list_push_front(&md->reqs, &r->node);
    return r;
}

/* Completes r later from the loop (a callback never runs inside the call that
 * started the request). */
static void defer_result(aliyun_md_req *r, int result)
{
    r->result = result;
    r->deferred = true;
    int rc = uv_timer_start(r->md->defer, defer_cb, 0, 0);
    if (rc) /* only a closing handle refuses: the client is being freed */
        log_debug("aliyun metadata: cannot arm the defer timer: %s", uv_strerror(rc));
}

static void deliver(aliyun_md_req *r);

static void defer_cb(uv_timer_t *t)
{
    aliyun_metadata *md = t->data;
    md_enter(md);
    while (!md->free_pending) {
        aliyun_md_req *r = NULL;
        eip_list_node *n;
        eip_list_foreach(&md->reqs, n)
        {
            if (req_of(n)->deferred) {
                r = req_of(n);
                break;
            }
        }
        if (!r)
            break;
        r->deferred = false;
        deliver(r);
    }
    md_leave(md);
}

static void send_get(aliyun_md_req *r);
static void child_done(aliyun_md_req *child);
static void list_done(aliyun_md_req *r);

/* Calls the user's callback (or the parent's step) and frees r. */
static void deliver(aliyun_md_req *r)
{
    if (r->parent) {
        child_done(r);
        return;
    }
    if (r->kind == REQ_FIND_ENI && r->step == FIND_LISTING) {
        /* the MAC listing came back: scan it */
        list_done(r);
        return;
    }
    req_unlink(r);
    if (r->kind == REQ_GET) {
        r->cb(r->result, r->result ? NULL : (r->value ? r->value : ""), r->value_len, r->arg);
    } else {
        const eni_entry *hit = NULL;
        for (size_t i = 0; !r->result && i < r->md->n_enis && !hit; i++)
            for (char **ip = r->md->enis[i].ips; ip && *ip && !hit; ip++)
                if (strcmp(*ip, r->ip) == 0)
                    hit = &r->md->enis[i];
        r->eni_cb(r->result ? r->result : (hit ? 0 : -ENOENT), hit ? hit->eni_id : NULL,
                  hit ? hit->mac : NULL, r->arg);
    }
    req_free(r);
}

static void wake_token_waiters(aliyun_metadata *md)
{
    /* send_get() never completes a request synchronously: the list holds */
    eip_list_node *n;
    eip_list_foreach(&md->reqs, n)
    {
        if (md->free_pending)
            break;
        aliyun_md_req *r = req_of(n);
        if (r->waiting_token) {
            r->waiting_token = false;
            send_get(r);
        }
    }
}

static void on_token(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    aliyun_metadata *md = arg;
    md->token_http = NULL;
    md_enter(md);
    int64_t now = eip_time_mono_ms();
    char *tok = NULL;
    if (!resp->error && resp->status == 200 && resp->body_len > 0 &&
        resp->body_len < MD_TOKEN_MAX && !memchr(resp->body, '\0', resp->body_len))
        tok = strndup(resp->body, resp->body_len);
    if (tok) {
        if (md->token) {
            OPENSSL_cleanse(md->token, strlen(md->token));
            free(md->token);
        }
        md->token = tok;
        md->token_expires_ms = now + (int64_t)md->token_ttl_s * 1000;
        token_set_state(md, TOKEN_VALID, now);
    } else {
        /* no hardened mode here (or not now, or out of memory): go on without a token */
        log_debug("aliyun metadata: no token (%s, HTTP %ld); normal mode",
                  resp->error ? http_error_name(resp->error) : "ok", resp->status);
        token_set_state(md, TOKEN_UNSUPPORTED, now);
    }
    wake_token_waiters(md);
    md_leave(md);
}

/* PUT /latest/api/token. 0, or an error (the caller goes on without a token). */
static int send_token_request(aliyun_metadata *md)
{
    eip_buf url;
    eip_buf_init(&url, MD_URL_MAX);
    char ttl[96];
    int n =
        snprintf(ttl, sizeof(ttl), "X-aliyun-ecs-metadata-token-ttl-seconds: %d", md->token_ttl_s);
    int r = n < 0 || (size_t)n >= sizeof(ttl) ? -E2BIG : 0;
    if (!r)
        r = eip_buf_appendf(&url, "%s/latest/api/token", md->endpoint);
    if (!r) {
        const char *hdrs[] = {ttl, NULL};
        http_request_opts o = {
            .method = "PUT",
            .url = url.data,
            .headers = hdrs,
            .body = "",
            .body_len = 0,
            .connect_timeout_ms = md->timeout_ms,
            .timeout_ms = md->timeout_ms,
            .max_response_bytes = MD_TOKEN_MAX,
            .on_done = on_token,
            .arg = md,
        };
        r = md->tr.send(md->tr.ctx, &o, &md->token_http);
    }
    if (r)
        md->token_http = NULL;
    eip_buf_free(&url);
    return r;
}

/* 0: go ahead (with md->token or without); 1: the request waits for a token. */
static int need_token(aliyun_metadata *md, aliyun_md_req *r)
{
    int64_t now = eip_time_mono_ms();
    if (md->token_state == TOKEN_VALID) {
        /* refresh when less than a tenth of the lifetime (at most a minute) is left */
        int64_t margin = (int64_t)md->token_ttl_s * 100;
        if (margin > 60000)
            margin = 60000;
        if (now < md->token_expires_ms - margin)
            return 0;
        token_set_state(md, TOKEN_NONE, now);
    }
    if (md->token_state == TOKEN_UNSUPPORTED) {
        if (now < md->token_retry_ms)
            return 0;
        token_set_state(md, TOKEN_NONE, now);
    }
    r->waiting_token = true;
    if (md->token_state == TOKEN_FETCHING)
        return 1;
    token_set_state(md, TOKEN_FETCHING, now);
    if (send_token_request(md)) {
        token_set_state(md, TOKEN_UNSUPPORTED, now);
        r->waiting_token = false;
        return 0;
    }
    return 1;
}

static void on_get_inner(const http_response *resp, aliyun_md_req *r);

static void on_get(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    aliyun_md_req *r = arg;
    aliyun_metadata *md = r->md;
    md_enter(md);
    on_get_inner(resp, r);
    md_leave(md);
}

static void on_get_inner(const http_response *resp, aliyun_md_req *r)
{
    aliyun_metadata *md = r->md;
    r->http = NULL;
    if (!resp->error && resp->status == 200) {
        free(r->value);
        /* all body_len bytes: strndup() would stop at a NUL in the body while
         * value_len still counted past it, and the parsers read value_len */
        r->value = malloc(resp->body_len + 1);
        if (r->value) {
            memcpy(r->value, resp->body, resp->body_len);
            r->value[resp->body_len] = '\0';
        }
        r->value_len = resp->body_len;
        r->result = r->value ? 0 : -ENOMEM;
        deliver(r);
        return;
    }
    if (!resp->error && resp->status == 401 && md->token && !r->token_retried) {
        /* the token expired or was revoked: get another one, once */
        r->token_retried = true;
        token_set_state(md, TOKEN_NONE, eip_time_mono_ms());
        send_get(r);
        return;
    }
    bool transient = resp->error || resp->status >= 500;
    if (transient && r->attempts < md->max_attempts) {
        send_get(r);
        return;
    }
    if (resp->error == HTTP_E_TIMEOUT)
        r->result = -ETIMEDOUT;
    else if (resp->error)
        r->result = -EIO;
    else if (resp->status == 404)
        r->result = -ENOENT;
    else if (resp->status == 401 || resp->status == 403)
        r->result = -EACCES;
    else
        r->result = -EIO;
    deliver(r);
}

/* The GET of r's path, with the token when there is one. */
static int send_get_request(aliyun_md_req *r)
{
    aliyun_metadata *md = r->md;
    eip_buf url, tok;
    eip_buf_init(&url, MD_URL_MAX);
    eip_buf_init(&tok, MD_TOKEN_MAX + 64);
    const char *hdrs[2] = {NULL, NULL};
    int rc = eip_buf_appendf(&url, "%s/latest/meta-data/%s", md->endpoint, r->path);
    if (!rc && md->token_state == TOKEN_VALID && md->token) {
        rc = eip_buf_appendf(&tok, "X-aliyun-ecs-metadata-token: %s", md->token);
        hdrs[0] = tok.data;
    }
    if (!rc) {
        http_request_opts o = {
            .method = "GET",
            .url = url.data,
            .headers = hdrs,
            .connect_timeout_ms = md->timeout_ms,
            .timeout_ms = md->timeout_ms,
            .max_response_bytes = MD_BODY_MAX,
            .on_done = on_get,
            .arg = r,
        };
        r->attempts++;
        rc = md->tr.send(md->tr.ctx, &o, &r->http);
    }
    if (tok.data)
        OPENSSL_cleanse(tok.data, tok.len);
    eip_buf_free(&tok);
    eip_buf_free(&url);
    return rc;
}

static void send_get(aliyun_md_req *r)
{
    if (need_token(r->md, r))
        return;
    int rc = send_get_request(r);
    if (rc) {
        r->http = NULL;
        defer_result(r, rc);
    }
}

int aliyun_metadata_get(aliyun_metadata *md, const char *path, aliyun_metadata_cb cb, void *arg,
                        aliyun_md_req **out)
{
    if (!md || !path || !cb)
        return -EINVAL;
    if (strstr(path, "..") || strchr(path, '?') || strchr(path, '#') || strlen(path) > 512)
        return -EINVAL;
    aliyun_md_req *r = req_new(md, REQ_GET, path[0] == '/' ? path + 1 : path, NULL);
    if (!r)
        return -ENOMEM;
    r->cb = cb;
    r->arg = arg;
    if (out)
        *out = r;
    send_get(r);
    return 0;
}

int aliyun_metadata_cached_eni(const aliyun_metadata *md, const char *ip, char *eni, size_t cap)
{
    for (size_t i = 0; i < md->n_enis; i++)
        for (char **p = md->enis[i].ips; p && *p; p++)
            if (strcmp(*p, ip) == 0) {
                int n = snprintf(eni, cap, "%s", md->enis[i].eni_id ? md->enis[i].eni_id : "");
                return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
            }
    return -ENOENT;
}

/* A sub-request of a find-ENI scan. */
static int start_child(aliyun_md_req *parent, size_t idx, enum scan_field field)
{
    char p[512];
    int n = snprintf(p, sizeof(p), "network/interfaces/macs/%s/%s", parent->scan[idx].mac,
                     field == FIELD_IPS ? "private-ipv4s" : "network-interface-id");
    if (n < 0 || (size_t)n >= sizeof(p))
        return -E2BIG; /* a MAC no metadata server lists */
    aliyun_md_req *ch = req_new(parent->md, REQ_GET, p, NULL);
    if (!ch)
        return -ENOMEM;
    ch->parent = parent;
    ch->scan_idx = idx;
    ch->field = field;
    parent->pending++;
    send_get(ch);
    return 0;
}

static void list_done(aliyun_md_req *r)
{
    free(r->path);
    r->path = NULL;
    r->step = FIND_SCANNING;
    if (r->result) {
        req_unlink(r);
        r->eni_cb(r->result, NULL, NULL, r->arg);
        req_free(r);
        return;
    }
    char **macs = NULL;
    int rc = aliyun_metadata_parse_list(r->value ? r->value : "", r->value_len, &macs);
    size_t n = 0;
    while (!rc && macs[n])
        n++;
    if (!rc && n > 0) {
        r->scan = calloc(n, sizeof(*r->scan));
        if (!r->scan)
            rc = -ENOMEM;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        r->scan[i].mac = macs[i];
        macs[i] = NULL;
        r->scan_n++;
    }
    aliyun_strv_free(macs);
    for (size_t i = 0; !rc && i < r->scan_n; i++) {
        rc = start_child(r, i, FIELD_IPS);
        if (!rc)
            rc = start_child(r, i, FIELD_ENI_ID);
    }
    if (rc && r->first_err == 0)
        r->first_err = rc;
    if (r->pending == 0) {
        /* nothing to wait for: an empty listing or a failure to start */
        aliyun_metadata_invalidate_enis(r->md);
        defer_result(r, r->first_err);
    }
}

static void child_done(aliyun_md_req *ch)
{
    aliyun_md_req *p = ch->parent;
    req_unlink(ch);
    if (ch->result) {
        if (!p->first_err)
            p->first_err = ch->result;
    } else if (ch->field == FIELD_IPS) {
        char **ips = NULL;
        int rc = aliyun_metadata_parse_ipv4s(ch->value, ch->value_len, &ips);
        if (rc) {
            if (!p->first_err)
                p->first_err = rc;
        } else {
            aliyun_strv_free(p->scan[ch->scan_idx].ips);
            p->scan[ch->scan_idx].ips = ips;
        }
    } else {
        size_t l = ch->value_len;
        while (l > 0 && (ch->value[l - 1] == '\n' || ch->value[l - 1] == ' '))
            l--;
        free(p->scan[ch->scan_idx].eni_id);
        p->scan[ch->scan_idx].eni_id = strndup(ch->value, l);
        if (!p->scan[ch->scan_idx].eni_id && !p->first_err)
            p->first_err = -ENOMEM;
    }
    req_free(ch);
    if (--p->pending > 0)
        return;
    aliyun_metadata *md = p->md;
    if (p->first_err) {
        p->result = p->first_err;
    } else {
        aliyun_metadata_invalidate_enis(md);
        md->enis = p->scan;
        md->n_enis = p->scan_n;
        p->scan = NULL;
        p->scan_n = 0;
        p->result = 0;
    }
    deliver(p);
}

int aliyun_metadata_find_eni(aliyun_metadata *md, const char *ip, aliyun_metadata_eni_cb cb,
                             void *arg, aliyun_md_req **out)
{
    if (!md || !ip || !cb)
        return -EINVAL;
    aliyun_md_req *r = req_new(md, REQ_FIND_ENI, ALIYUN_MD_MACS, ip);
    if (!r)
        return -ENOMEM;
    r->eni_cb = cb;
    r->arg = arg;
    if (out)
        *out = r;
    char eni[128];
    if (aliyun_metadata_cached_eni(md, ip, eni, sizeof(eni)) != -ENOENT) {
        r->step = FIND_SCANNING; /* nothing to list: deliver from the cache */
        defer_result(r, 0);
        return 0;
    }
    /* a miss: the cache is stale or empty, list the MACs again */
    r->step = FIND_LISTING;
    send_get(r);
    return 0;
}
