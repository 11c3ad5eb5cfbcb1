/* SPDX-License-Identifier: MIT */
#include "http/client.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/list.h"
#include "common/log.h"
#include "http/client_internal.h"

/* How this file drives libcurl (curl's docs/examples/multi-uv.c is the model):
 *
 * - CURLMOPT_SOCKETFUNCTION gives one uv_poll per socket (struct sock_ctx,
 *   remembered with curl_multi_assign); CURL_POLL_REMOVE stops and closes it.
 *   curl announces the removal before it closes the descriptor, and uv_poll_stop
 *   drops the descriptor from the loop at once, so a new socket that reuses the
 *   number gets a fresh uv_poll. The memory is freed in the close callback only.
 * - CURLMOPT_TIMERFUNCTION drives one uv_timer; both end in dispatch(), which
 *   calls curl_multi_socket_action() and then reads the finished transfers.
 * - libcurl refuses most API calls from inside its own callbacks
 *   (CURLM_RECURSIVE_API_CALL). While we are inside curl_multi_socket_action()
 *   (c->in_curl) a cancel only marks the request and a send only queues it; both
 *   are carried out right after curl returns. http_client_free() inside any
 *   callback is deferred the same way, to the end of dispatch().
 * - DNS: http_client_new() refuses a libcurl without CURL_VERSION_ASYNCHDNS, so
 *   names are resolved by curl's threaded (or c-ares) resolver, never on the loop.
 * - curl_global_init() runs once per process (pthread_once). libcurl 7.88 reports
 *   CURL_VERSION_THREADSAFE, so even that would be safe from several threads; the
 *   agent has one. curl_global_cleanup() is never called: other clients may live
 *   on, and what it would free stays reachable until exit. */

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_RESPONSE_BYTES (8u * 1024u * 1024u)
#define DEFAULT_MAX_CONNECTIONS 64L
#define MAX_HEADER_BYTES (64u * 1024u)
#define MAX_METHOD_LEN 32u

/* A request's life; req_set_state() is the only writer. */
enum req_state {
    REQ_QUEUED,    /* built while curl was on the stack: the next sweep adds it */
    REQ_ACTIVE,    /* in the multi handle; its callbacks may fire */
    REQ_FAILING,   /* fails with fail_error at the next sweep (our own reason) */
    REQ_CANCELLED, /* no callback fires any more; freed at the next chance */
    REQ_FINISHED,  /* out of curl; its on_done runs now, then it is freed */
};

/* The client's life; client_set_state() is the only writer. */
enum client_state {
    CLIENT_OPEN,    /* takes requests */
    CLIENT_FREEING, /* http_client_free() ran inside a callback: torn down once it returns */
    CLIENT_CLOSING, /* torn down; freed when libuv has closed the last handle */
};

struct http_request {
    http_client *client;
    eip_list_node node; /* in client->reqs */
    CURL *easy;
    enum req_state state;
    bool in_multi;  /* curl_multi_add_handle succeeded, no remove yet */
    int fail_error; /* our own reason for a CURLE_WRITE_ERROR, or for REQ_FAILING */
    bool streaming;
    http_chunk_cb on_chunk;
    http_done_cb on_done;
    void *arg;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    eip_buf body;
    size_t max_body;
    struct http_headers resp_headers;
    bool headers_overflow;
    long status;
    uint64_t start_ns;
    http_response resp; /* what the callbacks get */
    char errbuf[CURL_ERROR_SIZE];
};

struct sock_ctx {
    uv_poll_t poll;
    http_client *client;
    curl_socket_t fd;
    eip_list_node node; /* in client->socks */
};

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    char *ca_file;
    char *user_agent;
    eip_list reqs;   /* every request not yet freed, newest first */
    eip_list socks;  /* every socket curl asked us to watch */
    size_t active;   /* requests neither cancelled nor finished */
    int in_curl;     /* inside curl_multi_socket_action() */
    int depth;       /* inside dispatch() or teardown (user callbacks may run) */
    bool need_sweep; /* some request is queued, cancelled or failing */
    enum client_state state;
    unsigned pending_closes;
};

/* ---- small helpers ---------------------------------------------------------- */

const char *http_error_name(int error)
{
    switch (error) {
    case HTTP_OK:
        return "HTTP_OK";
    case HTTP_E_CONNECT:
        return "HTTP_E_CONNECT";
    case HTTP_E_TIMEOUT:
        return "HTTP_E_TIMEOUT";
    case HTTP_E_TLS:
        return "HTTP_E_TLS";
    case HTTP_E_TOO_LARGE:
        return "HTTP_E_TOO_LARGE";
    case HTTP_E_ABORTED:
        return "HTTP_E_ABORTED";
    case HTTP_E_CLOSED:
        return "HTTP_E_CLOSED";
    case HTTP_E_INTERNAL:
        return "HTTP_E_INTERNAL";
    case HTTP_E_CANCELLED:
        return "HTTP_E_CANCELLED";
    default:
        return "HTTP_E_UNKNOWN";
    }
}

static int map_curl_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
        return HTTP_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return HTTP_E_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return HTTP_E_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return HTTP_E_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return HTTP_E_TOO_LARGE;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return HTTP_E_CLOSED;
    default:
        return HTTP_E_INTERNAL;
    }
}

static bool is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool valid_method(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > MAX_METHOD_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)m[i]))
            return false;
    return true;
}

/* "Name: value" with a token name and no CR/LF/NUL anywhere (no header injection). */
static bool valid_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return false;
    for (const char *p = h; p < colon; p++)
        if (!is_tchar((unsigned char)*p))
            return false;
    return strpbrk(colon, "\r\n") == NULL;
}

static bool header_named(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
            return true;
    return false;
}

static bool valid_server_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
            return false;
    }
    return true;
}

/* ---- response headers ------------------------------------------------------- */

static void headers_reset(struct http_headers *h)
{
    eip_buf_reset(&h->buf);
}

int http_headers_add_line(struct http_headers *h, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len == 0)
        return 0;
    if (line[0] == ' ' || line[0] == '\t') {
        /* obs-fold: continues the previous value. */
        if (h->buf.len == 0)
            return 0;
        while (len && (line[0] == ' ' || line[0] == '\t')) {
            line++;
            len--;
        }
        size_t keep = h->buf.len - 1; /* drop the value's NUL, append, restore it */
        int r = eip_buf_append(&h->buf, " ", 1);
        if (!r)
            r = eip_buf_append(&h->buf, line, len);
        if (!r)
            r = eip_buf_append(&h->buf, "", 1);
        if (r) {
            h->buf.len = keep + 1;
            h->buf.data[h->buf.len] = '\0';
            return r;
        }
        memmove(h->buf.data + keep, h->buf.data + keep + 1, h->buf.len - keep - 1);
        h->buf.len--;
        h->buf.data[h->buf.len] = '\0';
        return 0;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return 0; /* not a header; curl would have complained already */
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    size_t old = h->buf.len;
    int r = eip_buf_append(&h->buf, line, nlen);
    if (!r)
        r = eip_buf_append(&h->buf, "", 1);
    if (!r)
        r = eip_buf_append(&h->buf, v, vlen);
    if (!r)
        r = eip_buf_append(&h->buf, "", 1);
    if (r && h->buf.data) {
        h->buf.len = old;
        h->buf.data[old] = '\0';
    }
    return r;
}

const char *http_response_header(const http_response *resp, const char *name)
{
    if (!resp || !name || !resp->headers_)
        return NULL;
    const eip_buf *b = &resp->headers_->buf;
    const char *found = NULL;
    size_t i = 0;
    while (i < b->len) {
        const char *n = b->data + i;
        size_t nl = strlen(n);
        const char *v = n + nl + 1;
        size_t vl = strlen(v);
        if (strcasecmp(n, name) == 0)
            found = v;
        i += nl + 1 + vl + 1;
    }
    return found;
}

long http_parse_status_line(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    if (!sp)
        return 0;
    size_t i = (size_t)(sp - line) + 1;
    long status = 0;
    size_t digits = 0;
    while (i < len && digits < 3 && line[i] >= '0' && line[i] <= '9') {
        status = status * 10 + (line[i] - '0');
        i++;
        digits++;
    }
    return digits == 3 ? status : 0;
}

/* ---- curl callbacks for one transfer ----------------------------------------- */

static const char *req_state_name(enum req_state st)
{
    static const char *const names[] = {"queued", "active", "failing", "cancelled", "finished"};
    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

static void req_set_state(http_request *req, enum req_state st)
{
    log_debug("http client: request %p %s -> %s", (void *)req, req_state_name(req->state),
              req_state_name(st));
    req->state = st;
}

static void client_set_state(http_client *c, enum client_state st)
{
    static const char *const names[] = {"open", "freeing", "closing"};
    log_debug("http client: %p %s -> %s", (void *)c, names[c->state], names[st]);
    c->state = st;
}

/* Whether curl should stop this transfer: it was cancelled or failed by us, or
 * the client is going away. */
static bool req_dead(const http_request *req)
{
    return req->state != REQ_ACTIVE || req->client->state != CLIENT_OPEN;
}

/* A response buffer refused data (r from eip_buf, what: "headers" or "body"):
 * our own reason for the write error curl will report. */
static void req_buffer_failed(http_request *req, int r, const char *what, size_t max)
{
    if (r == -E2BIG) {
        req->fail_error = HTTP_E_TOO_LARGE;
        eip_seterr(req->errbuf, sizeof(req->errbuf), "response %s larger than %zu bytes", what,
                   max);
    } else {
        req->fail_error = HTTP_E_INTERNAL;
        eip_seterr(req->errbuf, sizeof(req->errbuf), "out of memory storing the response %s", what);
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    http_request *req = userp;
    size_t len = size * nmemb;
    if (req_dead(req))
        return 0;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (1xx, or a header block before the final one) starts. */
        headers_reset(&req->resp_headers);
        req->status = http_parse_status_line(data, len);
        return len;
    }
    int r = http_headers_add_line(&req->resp_headers, data, len);
    if (r) {
        req_buffer_failed(req, r, "headers", MAX_HEADER_BYTES);
        return 0;
    }
    return len;
}

static void fill_response(http_request *req, int error)
{
    http_response *resp = &req->resp;
    resp->error = error;
    resp->error_message = req->errbuf;
    resp->status = req->status;
    if (!req->streaming && req->body.data) {
        resp->body = req->body.data;
        resp->body_len = req->body.len;
    } else {
        resp->body = "";
        resp->body_len = 0;
    }
    resp->total_seconds = (double)(uv_hrtime() - req->start_ns) / 1e9;
    resp->headers_ = &req->resp_headers;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    http_request *req = userp;
    size_t len = size * nmemb;
    if (req_dead(req))
        return CURL_WRITEFUNC_ERROR;
    if (len == 0)
        return 0;
    if (req->streaming) {
        fill_response(req, HTTP_OK);
        req->errbuf[0] = '\0';
        int stop = req->on_chunk(req, &req->resp, data, len, req->arg);
        /* The callback may have cancelled this request or freed the client. */
        if (req_dead(req))
            return CURL_WRITEFUNC_ERROR;
        if (stop) {
            req->fail_error = HTTP_E_ABORTED;
            eip_seterr(req->errbuf, sizeof(req->errbuf), "aborted by the chunk callback");
            return CURL_WRITEFUNC_ERROR;
        }
        return len;
    }
    int r = eip_buf_append(&req->body, data, len);
    if (r) {
        req_buffer_failed(req, r, "body", req->max_body);
        return CURL_WRITEFUNC_ERROR;
    }
    return len;
}

/* ---- request lifetime -------------------------------------------------------- */

static http_request *req_at(eip_list_node *n)
{
    return eip_container_of(n, http_request, node);
}

static void req_leave_multi(http_request *req)
{
    if (req->in_multi)
        curl_multi_remove_handle(req->client->multi, req->easy);
    req->in_multi = false;
}

/* Frees a request that is in no list and not in curl. */
static void req_discard(http_request *req)
{
    if (req->easy)
        curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->headers);
    curl_slist_free_all(req->connect_to);
    eip_buf_free(&req->body);
    eip_buf_free(&req->resp_headers.buf);
    free(req);
}

/* Unlinks, detaches from curl and frees. Never inside curl's callbacks. */
static void req_destroy(http_request *req)
{
    http_client *c = req->client;
    eip_list_remove(&c->reqs, &req->node);
    req_leave_multi(req);
    req_discard(req);
}

/* Completes a request that has not been cancelled: exactly one on_done. */
static void req_finish(http_request *req, int error)
{
    http_client *c = req->client;
    req_leave_multi(req);
    if (req->state != REQ_CANCELLED) {
        req_set_state(req, REQ_FINISHED); /* from now on http_request_cancel() is a no-op */
        c->active--;
        fill_response(req, error);
        req->on_done(req, &req->resp, req->arg);
    }
    req_destroy(req);
}

static void req_finish_curl(http_request *req, CURLcode cc)
{
    int error = map_curl_error(cc);
    if (cc == CURLE_WRITE_ERROR)
        error = req->fail_error ? req->fail_error : HTTP_E_INTERNAL;
    if (cc != CURLE_OK && req->errbuf[0] == '\0')
        eip_seterr(req->errbuf, sizeof(req->errbuf), "%s", curl_easy_strerror(cc));
    if (cc == CURLE_OK) {
        long code = 0;
        if (curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code)
            req->status = code;
        req->errbuf[0] = '\0';
    }
    req_finish(req, error);
}

static void client_teardown(http_client *c);

/* Marks a live request to fail with error at the next sweep (why: its message). */
static void req_fail_later(http_request *req, int error, const char *why)
{
    if (req->state == REQ_CANCELLED || req->state == REQ_FINISHED)
        return;
    req->fail_error = error;
    eip_seterr(req->errbuf, sizeof(req->errbuf), "%s", why);
    req_set_state(req, REQ_FAILING);
    req->client->need_sweep = true;
}

/* QUEUED -> ACTIVE, or FAILING when curl refuses it. */
static void req_add_to_multi(http_request *req)
{
    CURLMcode mc = curl_multi_add_handle(req->client->multi, req->easy);
    if (mc != CURLM_OK) {
        req_fail_later(req, HTTP_E_INTERNAL, curl_multi_strerror(mc));
        return;
    }
    req->in_multi = true;
    req_set_state(req, REQ_ACTIVE);
}

/* Carries out what had to wait for curl to return: queued adds, cancels and
 * failures of our own. Restarts the walk after anything that may call back the user. */
static void sweep(http_client *c)
{
    while (c->need_sweep && c->state == CLIENT_OPEN) {
        c->need_sweep = false;
        eip_list_node *pos, *tmp;
        eip_list_foreach_safe(&c->reqs, pos, tmp)
        {
            http_request *req = req_at(pos);
            if (req->state == REQ_CANCELLED) {
                req_destroy(req);
            } else if (req->state == REQ_FAILING) {
                req_finish(req, req->fail_error);
                c->need_sweep = true; /* the user ran: the list may have changed */
                break;
            } else if (req->state == REQ_QUEUED) {
                req_add_to_multi(req);
            }
        }
    }
}

static http_request *req_of(CURL *easy)
{
    char *p = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p) != CURLE_OK)
        return NULL;
    return (http_request *)(void *)p;
}

static void read_completions(http_client *c)
{
    CURLMsg *msg;
    int left;
    while (c->state == CLIENT_OPEN && (msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode cc = msg->data.result;
        http_request *req = req_of(easy);
        if (!req)
            continue;
        if (req->state == REQ_CANCELLED)
            req_destroy(req);
        else
            req_finish_curl(req, cc);
    }
}

static void dispatch(http_client *c, curl_socket_t s, int flags)
{
    int running = 0;
    c->depth++;
    c->in_curl++;
    CURLMcode mc = curl_multi_socket_action(c->multi, s, flags, &running);
    c->in_curl--;
    if (mc != CURLM_OK)
        log_debug("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
    sweep(c);
    read_completions(c);
    sweep(c);
    c->depth--;
    if (c->depth == 0 && c->state == CLIENT_FREEING)
        client_teardown(c);
}

/* ---- libuv <-> curl ------------------------------------------------------------ */

static void on_close_done(http_client *c)
{
    if (--c->pending_closes == 0 && c->state == CLIENT_CLOSING) {
        free(c->ca_file);
        free(c->user_agent);
        free(c);
    }
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sock_ctx *sc = h->data;
    http_client *c = sc->client;
    free(sc);
    on_close_done(c);
}

static void sock_close(http_client *c, struct sock_ctx *sc)
{
    eip_list_remove(&c->socks, &sc->node);
    uv_poll_stop(&sc->poll);
    c->pending_closes++;
    uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *sc = h->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    dispatch(sc->client, sc->fd, flags);
}

static void force_fail_easy(CURL *easy, const char *why)
{
    http_request *req = req_of(easy);
    if (req)
        req_fail_later(req, HTTP_E_INTERNAL, why);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    http_client *c = userp;
    struct sock_ctx *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            curl_multi_assign(c->multi, s, NULL);
            sock_close(c, sc);
        }
        return 0;
    }
    if (!sc) {
        /* Returning -1 would make the whole multi handle unusable; fail only this
         * transfer instead (it is removed right after curl returns). */
        sc = calloc(1, sizeof(*sc));
        if (!sc) {
            force_fail_easy(easy, "out of memory watching a socket");
            return 0;
        }
        if (uv_poll_init_socket(c->loop, &sc->poll, s) != 0) {
            free(sc);
            force_fail_easy(easy, "cannot watch a socket");
            return 0;
        }
        sc->client = c;
        sc->fd = s;
        sc->poll.data = sc;
        eip_list_push_front(&c->socks, &sc->node);
        if (curl_multi_assign(c->multi, s, sc) != CURLM_OK) {
            /* curl would not hand sc back: a second poll for s would follow. */
            sock_close(c, sc);
            force_fail_easy(easy, "cannot watch a socket");
            return 0;
        }
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    if (uv_poll_start(&sc->poll, events, on_poll) != 0)
        force_fail_easy(easy, "cannot watch a socket");
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    dispatch(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    http_client *c = userp;
    if (timeout_ms < 0) {
        uv_timer_stop(&c->timer);
        return 0;
    }
    int r = uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    if (r) {
        /* Only a closing timer refuses (never while curl lives). curl then fails
         * every transfer, now and later: a client without a clock is no use. */
        log_debug("http: uv_timer_start: %s", uv_strerror(r));
        return -1;
    }
    return 0;
}

/* ---- client -------------------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Whether this process's libcurl can serve the loop: initialised, with an
 * asynchronous resolver and TLS. 0, or a negative errno and the reason in err. */
static int libcurl_usable(char *err, size_t errlen)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        eip_seterr(err, errlen, "cannot create the HTTP client: curl_global_init: %s",
                   curl_easy_strerror(global_rc));
        return global_rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
    }
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (!vi || !(vi->features & CURL_VERSION_ASYNCHDNS) || !(vi->features & CURL_VERSION_SSL)) {
        eip_seterr(err, errlen,
                   "cannot create the HTTP client: libcurl %s has no asynchronous resolver or "
                   "no TLS",
                   vi && vi->version ? vi->version : "(unknown)");
        return -ENOTSUP;
    }
    return 0;
}

static int multi_rc(CURLMcode mc)
{
    if (mc == CURLM_OK)
        return 0;
    if (mc == CURLM_OUT_OF_MEMORY)
        return -ENOMEM;
    return mc == CURLM_UNKNOWN_OPTION ? -ENOTSUP : -EINVAL;
}

/* The multi handle, bridged to this client's poll handles and timer. 0, or a
 * negative errno and the reason in err. */
static int multi_setup(http_client *c, long maxconn, char *err, size_t errlen)
{
    CURLMcode mc = CURLM_OUT_OF_MEMORY;
    c->multi = curl_multi_init();
    if (c->multi)
        mc = curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxconn);
    if (mc != CURLM_OK)
        eip_seterr(err, errlen, "cannot create the HTTP client: libcurl's multi handle: %s",
                   curl_multi_strerror(mc));
    return multi_rc(mc);
}

int http_client_new(http_client **out, const http_client_opts *opts, char *err, size_t errlen)
{
    http_client *c = NULL;
    int r = -EINVAL;
    *out = NULL;
    if (!opts || !opts->loop) {
        eip_seterr(err, errlen, "cannot create the HTTP client: no event loop");
        goto out;
    }
    r = libcurl_usable(err, errlen);
    if (r)
        goto out;
    r = -ENOMEM;
    c = calloc(1, sizeof(*c));
    if (!c)
        goto nomem;
    c->loop = opts->loop;
    eip_list_init(&c->reqs);
    eip_list_init(&c->socks);
    if (opts->ca_file && !(c->ca_file = strdup(opts->ca_file)))
        goto nomem;
    c->user_agent = strdup(opts->user_agent ? opts->user_agent : "eip-agent/" EIP_AGENT_VERSION);
    if (!c->user_agent)
        goto nomem;
    r = multi_setup(
        c, opts->max_total_connections > 0 ? opts->max_total_connections : DEFAULT_MAX_CONNECTIONS,
        err, errlen);
    if (r)
        goto out;
    /* The one libuv handle, last: nothing after it can fail. */
    r = uv_timer_init(c->loop, &c->timer);
    if (r) {
        eip_seterr(err, errlen, "cannot create the HTTP client: uv_timer_init: %s", uv_strerror(r));
        goto out;
    }
    c->timer.data = c;
    *out = c;
    return 0;
nomem:
    eip_seterr(err, errlen, "cannot create the HTTP client: out of memory");
out:
    if (c) {
        if (c->multi)
            curl_multi_cleanup(c->multi);
        free(c->ca_file);
        free(c->user_agent);
        free(c);
    }
    return r;
}

static void on_timer_closed(uv_handle_t *h)
{
    on_close_done(h->data);
}

static void client_teardown(http_client *c)
{
    client_set_state(c, CLIENT_CLOSING);
    c->depth++;
    eip_list_node *n;
    while ((n = eip_list_first(&c->reqs))) {
        http_request *req = req_at(n);
        if (req->state == REQ_FINISHED) {
            /* Its on_done is on the stack below us; that frame frees it. */
            eip_list_remove(&c->reqs, &req->node);
            continue;
        }
        if (req->state == REQ_CANCELLED) {
            req_destroy(req);
            continue;
        }
        eip_seterr(req->errbuf, sizeof(req->errbuf), "client freed");
        req_finish(req, HTTP_E_CANCELLED);
    }
    c->depth--;
    /* Stop watching while the descriptors are still open (uv_poll_stop drops them
     * from epoll), then let curl close its cached connections. */
    while ((n = eip_list_first(&c->socks))) {
        struct sock_ctx *sc = eip_container_of(n, struct sock_ctx, node);
        curl_multi_assign(c->multi, sc->fd, NULL);
        sock_close(c, sc);
    }
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while ((n = eip_list_first(&c->socks))) /* in case curl watched anything during the cleanup */
        sock_close(c, eip_container_of(n, struct sock_ctx, node));
    uv_timer_stop(&c->timer);
    c->pending_closes++;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

void http_client_free(http_client *c)
{
    if (!c || c->state != CLIENT_OPEN)
        return;
    client_set_state(c, CLIENT_FREEING);
    if (c->depth > 0)
        return; /* inside a callback: dispatch() finishes the job */
    client_teardown(c);
}

size_t http_client_active(const http_client *c)
{
    return c ? c->active : 0;
}

/* ---- sending --------------------------------------------------------------------- */

static int set_blob(CURL *easy, CURLoption opt, const char *pem)
{
    struct curl_blob blob = {
        .data = (void *)(uintptr_t)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
    CURLcode cc = curl_easy_setopt(easy, opt, &blob);
    if (cc == CURLE_OK)
        return 0;
    return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -ENOTSUP;
}

static int setopt_rc(CURLcode cc)
{
    if (cc == CURLE_OK)
        return 0;
    if (cc == CURLE_OUT_OF_MEMORY)
        return -ENOMEM;
    if (cc == CURLE_UNKNOWN_OPTION || cc == CURLE_NOT_BUILT_IN)
        return -ENOTSUP;
    return -EINVAL;
}

#define SETOPT(easy, opt, val)                                                                     \
    do {                                                                                           \
        r = setopt_rc(curl_easy_setopt((easy), (opt), (val)));                                     \
        if (r)                                                                                     \
            goto out;                                                                              \
    } while (0)

static int validate(const http_request_opts *o)
{
    if (!o->url || !o->on_done)
        return -EINVAL;
    if (o->method && !valid_method(o->method))
        return -EINVAL;
    if (o->body_len && !o->body)
        return -EINVAL;
    if (o->connect_timeout_ms < 0 || o->timeout_ms < 0)
        return -EINVAL;
    for (size_t i = 0; o->headers && o->headers[i]; i++)
        if (!valid_header(o->headers[i]))
            return -EINVAL;
    if (o->client_cert_file && o->client_cert_pem)
        return -EINVAL;
    if (o->client_key_file && o->client_key_pem)
        return -EINVAL;
    if ((o->client_key_file || o->client_key_pem) && !o->client_cert_file && !o->client_cert_pem)
        return -EINVAL;
    if (o->tls_server_name && !valid_server_name(o->tls_server_name))
        return -EINVAL;
    return 0;
}

static int url_rc(CURLUcode uc)
{
    return uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

/* For tls_server_name: CURLOPT_CONNECT_TO "NAME:PORT:HOST:PORT" into
 * req->connect_to and the "Host:" header of the real authority into
 * *host_header. 0, -ENOMEM, or -E2BIG (a host longer than the buffers allow). */
static int connect_to_real_host(http_request *req, const char *server_name, const char *host,
                                const char *port, const char *explicit_port, char **host_header)
{
    eip_buf b;
    eip_buf_init(&b, 1024);
    /* HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT; curl keeps IPv6 brackets in host. */
    int r = eip_buf_appendf(&b, "%s:%s:%s:%s", server_name, port, host, port);
    if (r)
        goto out;
    req->connect_to = curl_slist_append(NULL, b.data);
    if (!req->connect_to) {
        r = -ENOMEM;
        goto out;
    }
    eip_buf_reset(&b);
    r = eip_buf_appendf(&b, "Host: %s%s%s", host, explicit_port ? ":" : "",
                        explicit_port ? explicit_port : "");
    if (r)
        goto out;
    *host_header = eip_buf_steal(&b);
out:
    eip_buf_free(&b);
    return r;
}

/* Parses and checks the URL (http or https only). With tls_server_name on https,
 * the URL's host becomes that name, so curl sends it as SNI and verifies the
 * certificate against it, while CURLOPT_CONNECT_TO still connects to the real
 * host and port and an explicit Host header keeps the real authority. */
static int prepare_url(http_request *req, const http_request_opts *o, char **url_out,
                       char **host_header)
{
    int r = -EINVAL;
    char *scheme = NULL, *host = NULL, *port = NULL, *explicit_port = NULL;
    CURLU *u = curl_url();
    if (!u)
        return -ENOMEM;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, o->url, 0);
    if (uc != CURLUE_OK) {
        r = url_rc(uc);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto out;
    bool https = strcasecmp(scheme, "https") == 0;
    if (!https && strcasecmp(scheme, "http") != 0)
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
        goto out;
    r = 0;
    if (!https || !o->tls_server_name)
        goto out;
    uc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (uc != CURLUE_OK) {
        r = url_rc(uc);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &explicit_port, 0) != CURLUE_OK)
        explicit_port = NULL;
    r = connect_to_real_host(req, o->tls_server_name, host, port, explicit_port, host_header);
    if (r)
        goto out;
    uc = curl_url_set(u, CURLUPART_HOST, o->tls_server_name, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_URL, url_out, 0);
    r = uc == CURLUE_OK ? 0 : url_rc(uc);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(explicit_port);
    curl_url_cleanup(u);
    return r;
}

static int append_header(struct curl_slist **list, const char *h)
{
    struct curl_slist *n = curl_slist_append(*list, h);
    if (!n)
        return -ENOMEM;
    *list = n;
    return 0;
}

/* What is not the caller's: our callbacks, no signals, no proxy, keep-alive
 * probes, timeouts and the response limit. */
static int set_transfer_opts(http_request *req, const http_request_opts *o, const char *url,
                             const char *method)
{
    CURL *e = req->easy;
    int r = 0;
    SETOPT(e, CURLOPT_PRIVATE, (void *)req);
    SETOPT(e, CURLOPT_ERRORBUFFER, req->errbuf);
    SETOPT(e, CURLOPT_URL, url);
    SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(e, CURLOPT_NOSIGNAL, 1L);
    SETOPT(e, CURLOPT_NOPROGRESS, 1L);
    /* No proxy, whatever http_proxy/https_proxy/no_proxy say: the agent talks to the
     * API server, the cloud API and the metadata service directly. */
    SETOPT(e, CURLOPT_PROXY, "");
    SETOPT(e, CURLOPT_USERAGENT, req->client->user_agent);
    SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(e, CURLOPT_TCP_KEEPIDLE, 30L);
    SETOPT(e, CURLOPT_TCP_KEEPINTVL, 15L);
    SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS,
           o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
    SETOPT(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SETOPT(e, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(e, CURLOPT_HEADERDATA, (void *)req);
    SETOPT(e, CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(e, CURLOPT_WRITEDATA, (void *)req);
    /* Refuse early when Content-Length already says too much (not for HEAD, whose
     * Content-Length describes a body that never comes). */
    if (!req->streaming && strcmp(method, "HEAD") != 0)
        SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body);
out:
    return r;
}

static int set_method_and_body(CURL *e, const http_request_opts *o, const char *method)
{
    int r = 0;
    if (strcmp(method, "HEAD") == 0) {
        SETOPT(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0 && !o->body) {
        SETOPT(e, CURLOPT_HTTPGET, 1L);
    } else {
        if (o->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            /* The size first: COPYPOSTFIELDS copies that many bytes (binary-safe). */
            SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->body ? o->body_len : 0));
            SETOPT(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "");
        }
        SETOPT(e, CURLOPT_CUSTOMREQUEST, method);
    }
out:
    return r;
}

/* The caller's headers, plus suppressing curl's defaults that would surprise. */
static int set_headers(http_request *req, const http_request_opts *o, const char *host_header)
{
    int r = 0;
    for (size_t i = 0; o->headers && o->headers[i]; i++)
        if ((r = append_header(&req->headers, o->headers[i])))
            goto out;
    if (host_header && !header_named(o->headers, "Host") &&
        (r = append_header(&req->headers, host_header)))
        goto out;
    if (!header_named(o->headers, "Expect") && (r = append_header(&req->headers, "Expect:")))
        goto out;
    if (!header_named(o->headers, "Content-Type") &&
        (r = append_header(&req->headers, "Content-Type:")))
        goto out;
    SETOPT(req->easy, CURLOPT_HTTPHEADER, req->headers);
    if (req->connect_to)
        SETOPT(req->easy, CURLOPT_CONNECT_TO, req->connect_to);
out:
    return r;
}

/* The request's CA (file and/or PEM) replaces the client's default, which
 * replaces the system store; then the client certificate and key. */
static int set_tls(CURL *e, const http_request_opts *o, const char *client_ca_file)
{
    int r = 0;
    SETOPT(e, CURLOPT_SSL_VERIFYPEER, o->insecure_skip_verify ? 0L : 1L);
    SETOPT(e, CURLOPT_SSL_VERIFYHOST, o->insecure_skip_verify ? 0L : 2L);
    const char *ca_file = o->ca_file;
    if (!ca_file && !o->ca_pem)
        ca_file = client_ca_file;
    if (ca_file || o->ca_pem) {
        SETOPT(e, CURLOPT_CAPATH, (char *)NULL);
        SETOPT(e, CURLOPT_CAINFO, ca_file);
    }
    if (o->ca_pem && (r = set_blob(e, CURLOPT_CAINFO_BLOB, o->ca_pem)))
        goto out;
    if (o->client_cert_file)
        SETOPT(e, CURLOPT_SSLCERT, o->client_cert_file);
    if (o->client_cert_pem && (r = set_blob(e, CURLOPT_SSLCERT_BLOB, o->client_cert_pem)))
        goto out;
    if (o->client_cert_file || o->client_cert_pem)
        SETOPT(e, CURLOPT_SSLCERTTYPE, "PEM");
    if (o->client_key_file)
        SETOPT(e, CURLOPT_SSLKEY, o->client_key_file);
    if (o->client_key_pem && (r = set_blob(e, CURLOPT_SSLKEY_BLOB, o->client_key_pem)))
        goto out;
    if (o->client_key_file || o->client_key_pem)
        SETOPT(e, CURLOPT_SSLKEYTYPE, "PEM");
out:
    return r;
}

static http_request *req_alloc(http_client *c, const http_request_opts *o)
{
    http_request *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->client = c;
    req->state = REQ_QUEUED; /* the first state, before anyone can see it */
    eip_list_node_init(&req->node);
    req->streaming = o->on_chunk != NULL;
    req->on_chunk = o->on_chunk;
    req->on_done = o->on_done;
    req->arg = o->arg;
    req->max_body = o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE_BYTES;
    eip_buf_init(&req->body, req->max_body);
    eip_buf_init(&req->resp_headers.buf, MAX_HEADER_BYTES);
    return req;
}

int http_client_send(http_client *c, const http_request_opts *o, http_request **out)
{
    if (out)
        *out = NULL;
    if (!c || !o)
        return -EINVAL;
    if (c->state != CLIENT_OPEN)
        return -ESHUTDOWN;
    int r = validate(o);
    if (r)
        return r;

    char *url = NULL, *host_header = NULL;
    const char *method = o->method ? o->method : "GET";
    http_request *req = req_alloc(c, o);
    if (!req)
        return -ENOMEM;
    r = prepare_url(req, o, &url, &host_header);
    if (r)
        goto out;
    req->easy = curl_easy_init();
    if (!req->easy) {
        r = -ENOMEM;
        goto out;
    }
    /* The caller's URL as given, unless tls_server_name rewrote its host. */
    if ((r = set_transfer_opts(req, o, url ? url : o->url, method)) ||
        (r = set_method_and_body(req->easy, o, method)) || (r = set_headers(req, o, host_header)) ||
        (r = set_tls(req->easy, o, c->ca_file)))
        goto out;

    req->start_ns = uv_hrtime();
    if (c->in_curl) {
        c->need_sweep = true; /* added once curl returns (see sweep) */
    } else {
        CURLMcode mc = curl_multi_add_handle(c->multi, req->easy);
        if (mc != CURLM_OK) {
            r = mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
            goto out;
        }
        req->in_multi = true;
        req_set_state(req, REQ_ACTIVE);
    }
    eip_list_push_front(&c->reqs, &req->node);
    c->active++;
    if (out)
        *out = req;
out:
    curl_free(url);
    free(host_header);
    if (r)
        req_discard(req);
    return r;
}

void http_request_cancel(http_request *req)
{
    if (!req || req->state == REQ_CANCELLED || req->state == REQ_FINISHED)
        return;
    http_client *c = req->client;
    req_set_state(req, REQ_CANCELLED);
    c->active--;
    if (req->in_multi && c->in_curl) {
        c->need_sweep = true; /* curl is on the stack: removed once it returns */
        return;
    }
    req_destroy(req);
}
