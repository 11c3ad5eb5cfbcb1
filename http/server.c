/* SPDX-License-Identifier: MIT */
#include "http/server.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <llhttp.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/list.h"
#include "common/log.h"
#include "http/router_internal.h"
#include "http/server_internal.h"

#define READ_BUF_SIZE 65536
/* Stop parsing (and so reading) while this many answer bytes wait for the
 * client; resume below the low mark. */
#define WRITE_HIGH (256 * 1024)
#define WRITE_LOW (64 * 1024)
/* After an answer with "Connection: close", read and discard for this long so
 * that unread request bytes do not turn our FIN into a RST that eats the answer. */
#define LINGER_MS 2000
#define ANSWER_MAX (64 * 1024 * 1024)
/* A connection that could not be taken (out of memory) is tried again after this. */
#define ACCEPT_RETRY_MS 100

typedef struct conn conn;

/* An exchange's life; ex_set_state() is the only writer. */
enum ex_state {
    EX_PARSING,   /* its request is being read */
    EX_HANDLER,   /* its handler runs */
    EX_DEFERRED,  /* the handler will answer later */
    EX_CANCELLED, /* its owner is told (or was) that it goes away: answers are ignored */
    EX_DONE,      /* answered; waits for its turn to be written */
};
/* The server's life; server_set_state() is the only writer. */
enum server_state {
    SRV_SERVING,  /* accepts connections and requests */
    SRV_DRAINING, /* http_server_shutdown(): finishing what is in flight */
    SRV_DRAINED,  /* every connection closed, on_drained called */
    SRV_FREEING,  /* http_server_free(): freed once libuv has closed every handle */
};
enum timer_mode { TM_NONE, TM_IDLE, TM_HEADER, TM_LINGER };
enum parse_event { EV_NONE, EV_HEADERS, EV_MESSAGE };
enum header_state { HS_NONE, HS_FIELD, HS_AWAIT_VALUE, HS_VALUE };
/* A connection only moves forward through these. */
enum conn_phase {
    CONN_OPEN,        /* taking requests */
    CONN_FINISHING,   /* no more requests are parsed; answering the queued ones */
    CONN_LAST_QUEUED, /* the last answer is written or being written */
    CONN_LINGERING,   /* half-closed; reading and discarding until the client closes */
    CONN_CLOSING,     /* handles closing; freed in the close callbacks */
};

struct http_exchange {
    conn *c;
    eip_list_node node; /* in c->queue while queued */
    enum ex_state state;
    const char *method; /* static string (llhttp) */
    bool head;
    bool keep_alive;
    bool has_body;
    bool headers_done;
    bool in_handler;
    bool orphan; /* the connection closed while the handler ran */
    bool close_after;
    int route_status; /* 0, or the 404/405 the router decided */
    eip_buf url;
    eip_buf hdrs; /* "name\0value\0" pairs */
    enum header_state hstate;
    http_target target;
    http_match match;
    /* the answer */
    int status;
    char *ans; /* content type, NUL, body */
    const char *body;
    size_t body_len;
    http_cancel_cb cancel;
    void *cancel_arg;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    http_server *s;
    eip_list_node node; /* in s->conns until its handles are closed */
    llhttp_t parser;
    struct sockaddr_storage peer;
    http_exchange *cur; /* request being parsed */
    eip_list queue;     /* parsed requests, answered in this order */
    eip_buf pending;    /* received, not parsed yet */
    size_t head_bytes;
    size_t wbytes;
    enum timer_mode tmode;
    enum parse_event event;
    int cb_status; /* status a parser callback asked for */
    unsigned open_handles;
    bool reading;
    bool parsing;
    bool kick; /* headers done: llhttp needs one more (empty) call to complete the message */
    bool eof;
    bool rejected; /* beyond max_connections: gets a 503 */
    enum conn_phase phase;
};

struct http_server {
    uv_loop_t *loop;
    http_server_limits lim;
    http_router *router;
    http_observe_cb observe;
    void *observe_arg;
    uv_tcp_t *listener;
    uv_timer_t accept_retry;  /* takes a pending connection that found no memory */
    unsigned closing_handles; /* listeners and the retry timer being closed */
    int port;
    eip_list conns; /* every connection not yet freed */
    size_t nactive; /* connections not rejected */
    size_t nrejected;
    enum server_state state;
    void (*on_drained)(void *arg);
    void *drained_arg;
    llhttp_settings_t settings;
    time_t date_sec;
    char date[64];
    char rbuf[READ_BUF_SIZE];
};

struct write_req {
    uv_write_t req;
    conn *c;
    size_t len;
    char *data;
};

static void conn_close(conn *c);
static void conn_flush(conn *c);
static void conn_resume(conn *c);
static void conn_update(conn *c);
static void conn_fail(conn *c, int status, const char *msg);

/* ---- small helpers ---- */

static const char *status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

static const char *server_date(http_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec || s->date[0] == '\0') {
        struct tm tm;
        if (gmtime_r(&now, &tm) &&
            strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
            s->date_sec = now;
    }
    return s->date;
}

static void conn_timer(conn *c, enum timer_mode m, unsigned ms);

static void server_set_state(http_server *s, enum server_state st)
{
    static const char *const names[] = {"serving", "draining", "drained", "freeing"};
    log_debug("http server: %p %s -> %s", (void *)s, names[s->state], names[st]);
    s->state = st;
}

/* ---- exchanges ---- */

static void ex_set_state(http_exchange *ex, enum ex_state st)
{
    static const char *const names[] = {"parsing", "handler", "deferred", "cancelled", "done"};
    log_debug("http server: exchange %p %s -> %s", (void *)ex, names[ex->state], names[st]);
    ex->state = st;
}

static http_exchange *ex_new(conn *c)
{
    http_exchange *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return NULL;
    ex->c = c;
    eip_list_node_init(&ex->node);
    ex->method = "";
    ex->keep_alive = false;
    eip_buf_init(&ex->url, c->s->lim.max_url_bytes);
    eip_buf_init(&ex->hdrs, c->s->lim.max_header_bytes);
    return ex;
}

static void ex_free(http_exchange *ex)
{
    if (!ex)
        return;
    eip_buf_free(&ex->url);
    eip_buf_free(&ex->hdrs);
    http_target_free(&ex->target);
    free(ex->ans);
    free(ex);
}

/* Stores the answer and tells the observer. Never fails: without memory the
 * answer becomes a bodiless 500. */
static void ex_set_answer(http_exchange *ex, int status, const char *ctype, const char *body,
                          size_t len)
{
    free(ex->ans);
    ex->ans = NULL;
    if (status < 100 || status > 999)
        status = 500;
    /* A handler's content type must not smuggle header lines in. */
    for (const char *q = ctype; q && *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            ctype = NULL;
    if (!ctype)
        ctype = "text/plain; charset=utf-8";
    if (!body)
        len = 0;
    size_t clen = strlen(ctype);
    char *a = NULL;
    if (len < ANSWER_MAX && clen < 256)
        a = malloc(clen + 1 + len + 1);
    if (a) {
        memcpy(a, ctype, clen + 1);
        if (len)
            memcpy(a + clen + 1, body, len);
        a[clen + 1 + len] = '\0';
        ex->ans = a;
        ex->body = a + clen + 1;
        ex->body_len = len;
    } else {
        status = 500;
        ex->body = "";
        ex->body_len = 0;
    }
    ex->status = status;
    ex_set_state(ex, EX_DONE);
    http_server *s = ex->c->s;
    if (s->observe)
        s->observe(ex->match.pattern ? ex->match.pattern : "", ex->method, status, s->observe_arg);
}

static void ex_set_error(http_exchange *ex, int status, const char *msg)
{
    json_t *j =
        json_pack("{s:s, s:i}", "error", msg ? msg : status_reason(status), "status", status);
    char *txt = NULL;
    size_t len = 0;
    if (!j || eip_json_dump(j, JSON_COMPACT, ANSWER_MAX, &txt, &len))
        txt = NULL;
    json_decref(j);
    if (txt)
        ex_set_answer(ex, status, "application/json", txt, len);
    else
        ex_set_answer(ex, status, "application/json", "{}", 2);
    free(txt);
}

static http_exchange *ex_at(eip_list_node *n)
{
    return n ? eip_container_of(n, http_exchange, node) : NULL;
}

/* The first queued exchange (the next to be answered), or NULL. */
static http_exchange *queue_head(const conn *c)
{
    return ex_at(eip_list_first(&c->queue));
}

/* The first deferred exchange in the queue, or NULL. */
static http_exchange *queue_find_deferred(const conn *c)
{
    eip_list_node *n;
    eip_list_foreach(&c->queue, n)
    {
        http_exchange *ex = eip_container_of(n, http_exchange, node);
        if (ex->state == EX_DEFERRED)
            return ex;
    }
    return NULL;
}

/* Removes every queued exchange: deferred ones get their cancel callback,
 * all are freed (but one whose handler is running is left to the dispatcher). */
static void conn_drop_queue(conn *c)
{
    /* Detached first: what the callbacks do cannot reach these any more. */
    eip_list list;
    eip_list_init(&list);
    eip_list_move(&list, &c->queue);
    eip_list_node *n;
    while ((n = eip_list_pop_front(&list))) {
        http_exchange *ex = ex_at(n);
        if (ex->in_handler) {
            ex->orphan = true;
            continue;
        }
        if (ex->state == EX_DEFERRED && ex->cancel) {
            http_cancel_cb cb = ex->cancel;
            ex->cancel = NULL;
            ex_set_state(ex, EX_CANCELLED);
            cb(ex, ex->cancel_arg);
        }
        ex_free(ex);
    }
}

/* Drain: the deferred exchange's owner forgets it, and the client gets a 503
 * in its place so that the answers behind it keep their order. False when the
 * exchange went away during the cancel callback. */
static bool ex_cancel_for_drain(http_exchange *ex)
{
    http_cancel_cb cb = ex->cancel;
    ex->cancel = NULL;
    /* Neither answerable nor freeable while its owner is being told. */
    ex_set_state(ex, EX_CANCELLED);
    ex->in_handler = true;
    if (cb)
        cb(ex, ex->cancel_arg);
    ex->in_handler = false;
    if (ex->orphan) {
        ex_free(ex);
        return false;
    }
    ex_set_error(ex, 503, "server shutting down");
    return true;
}

/* ---- connection lifecycle ---- */

static const char *conn_phase_name(enum conn_phase p)
{
    static const char *const names[] = {"open", "finishing", "last-queued", "lingering", "closing"};
    return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

static void conn_set_phase(conn *c, enum conn_phase p)
{
    if (p <= c->phase)
        return;
    log_debug("http server: connection %p %s -> %s", (void *)c, conn_phase_name(c->phase),
              conn_phase_name(p));
    c->phase = p;
}

static void server_after_conn_closed(http_server *s);

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    http_server *s = c->s;
    eip_list_remove(&s->conns, &c->node);
    eip_buf_free(&c->pending);
    free(c);
    server_after_conn_closed(s);
}

static void conn_close(conn *c)
{
    if (c->phase == CONN_CLOSING)
        return;
    conn_set_phase(c, CONN_CLOSING);
    /* The slot is free now, not only once libuv has closed the handles. */
    if (c->rejected)
        c->s->nrejected--;
    else
        c->s->nactive--;
    uv_timer_stop(&c->timer);
    conn_drop_queue(c);
    ex_free(c->cur);
    c->cur = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    enum timer_mode m = c->tmode;
    c->tmode = TM_NONE;
    if (c->phase == CONN_CLOSING)
        return;
    switch (m) {
    case TM_HEADER:
        conn_fail(c, 408, "request header timeout");
        break;
    case TM_IDLE:
    case TM_LINGER:
        conn_close(c);
        break;
    case TM_NONE:
        break;
    }
}

static void conn_timer(conn *c, enum timer_mode m, unsigned ms)
{
    c->tmode = m;
    if (m == TM_NONE) {
        uv_timer_stop(&c->timer);
        return;
    }
    int r = uv_timer_start(&c->timer, on_timer, ms, 0);
    if (r) {
        /* A connection without its timer could hang forever: close it (only a
         * closing timer refuses, so it is closing already). */
        log_debug("http server: uv_timer_start: %s", uv_strerror(r));
        c->tmode = TM_NONE;
        conn_close(c);
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    if (status < 0 && c->phase != CONN_CLOSING)
        conn_close(c);
}

/* The last answer is written: half-close, then read and discard until the
 * client closes or the linger time ends. */
static void conn_linger(conn *c)
{
    if (c->phase >= CONN_LINGERING)
        return;
    if (c->eof) {
        conn_close(c);
        return;
    }
    conn_set_phase(c, CONN_LINGERING);
    conn_timer(c, TM_LINGER, LINGER_MS);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    conn_update(c);
}

static bool conn_can_parse(const conn *c)
{
    return c->phase == CONN_OPEN && c->s->state == SRV_SERVING &&
           c->queue.len < c->s->lim.max_pipelined && c->wbytes < WRITE_HIGH;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)suggested;
    /* One buffer for the whole server: read callbacks consume (or copy) the
     * data before returning, and they never nest. */
    buf->base = c->s->rbuf;
    buf->len = sizeof(c->s->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Starts or stops reading and the idle timer to match the state. */
static void conn_update(conn *c)
{
    if (c->phase == CONN_CLOSING)
        return;
    /* Keep reading while requests cannot be parsed (a deferred answer at the
     * head, a full pipeline): that is how a client's disconnect is noticed.
     * What arrives meanwhile is held, up to a bound; a large write queue stops
     * reading altogether. */
    bool want =
        c->phase == CONN_LINGERING || (c->phase < CONN_LAST_QUEUED && c->wbytes < WRITE_HIGH &&
                                       c->pending.len + READ_BUF_SIZE <= c->pending.max);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            conn_close(c);
            return;
        }
        c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (c->phase == CONN_LINGERING)
        return;
    bool idle = eip_list_empty(&c->queue) && !c->cur && c->phase == CONN_OPEN;
    if (idle && c->tmode != TM_IDLE)
        conn_timer(c, TM_IDLE, c->s->lim.idle_timeout_ms);
    else if (!idle && c->tmode == TM_IDLE)
        conn_timer(c, TM_NONE, 0);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    conn *c = w->c;
    c->wbytes -= w->len;
    free(w->data);
    free(w);
    if (c->phase == CONN_CLOSING)
        return;
    if (status < 0) {
        log_debug("http server: write failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    if (c->phase >= CONN_LAST_QUEUED) {
        if (c->wbytes == 0)
            conn_linger(c);
        return;
    }
    if (c->wbytes < WRITE_LOW)
        conn_resume(c);
}

static int conn_write_answer(conn *c, const http_exchange *ex, bool last)
{
    eip_buf b;
    int r;
    struct write_req *w = NULL;
    const char *ctype = ex->ans ? ex->ans : "text/plain; charset=utf-8";
    /* These never have a body, and 1xx and 204 must not say Content-Length. */
    bool bodyless = ex->status < 200 || ex->status == 204 || ex->status == 304;

    eip_buf_init(&b, ANSWER_MAX + 4096);
    r = eip_buf_appendf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n", ex->status,
                        status_reason(ex->status), server_date(c->s), ctype);
    if (!r && !bodyless)
        r = eip_buf_appendf(&b, "Content-Length: %zu\r\n", ex->body_len);
    if (!r)
        r = eip_buf_appendf(&b, "Connection: %s\r\n%s\r\n", last ? "close" : "keep-alive",
                            ex->status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!r && !ex->head && !bodyless)
        r = eip_buf_append(&b, ex->body, ex->body_len);
    if (r)
        goto out;
    w = calloc(1, sizeof(*w));
    if (!w) {
        r = -ENOMEM;
        goto out;
    }
    w->c = c;
    w->len = b.len;
    w->data = eip_buf_steal(&b);
    uv_buf_t ub = uv_buf_init(w->data, (unsigned)w->len);
    r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, on_write);
    if (r) {
        free(w->data);
        free(w);
        goto out;
    }
    c->wbytes += w->len;
out:
    eip_buf_free(&b);
    return r;
}

/* Writes every answer that is ready at the head of the queue, in order. */
static void conn_flush(conn *c)
{
    http_exchange *ex;

    if (c->phase >= CONN_LAST_QUEUED)
        return;
    while ((ex = queue_head(c)) && ex->state == EX_DONE) {
        bool last = ex->close_after || !ex->keep_alive ||
                    (c->s->state != SRV_SERVING && !eip_list_next(&c->queue, &ex->node));
        int r = conn_write_answer(c, ex, last);
        eip_list_remove(&c->queue, &ex->node);
        ex_free(ex);
        if (r) {
            conn_close(c);
            return;
        }
        if (last) {
            conn_set_phase(c, CONN_LAST_QUEUED);
            conn_drop_queue(c);
            break;
        }
    }
    if (c->phase >= CONN_LAST_QUEUED) {
        ex_free(c->cur);
        c->cur = NULL;
        if (c->tmode != TM_LINGER)
            conn_timer(c, TM_NONE, 0);
        if (c->wbytes == 0)
            conn_linger(c);
        else
            conn_update(c);
        return;
    }
    conn_resume(c);
}

/* ---- parsing ---- */

static int set_cb_status(conn *c, int r, int too_big_status)
{
    c->cb_status = r == -E2BIG ? too_big_status : 500;
    return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
    conn *c = p->data;
    ex_free(c->cur);
    c->cur = ex_new(c);
    if (!c->cur) {
        c->cb_status = 500;
        return HPE_USER;
    }
    c->head_bytes = 0;
    conn_timer(c, TM_HEADER, c->s->lim.header_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    conn *c = p->data;
    int r = eip_buf_append(&c->cur->url, at, len);
    return r ? set_cb_status(c, r, 414) : 0;
}

static int hdr_append(conn *c, const char *at, size_t len)
{
    int r = eip_buf_append(&c->cur->hdrs, at, len);
    return r ? set_cb_status(c, r, 431) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn *c = p->data;
    http_exchange *ex = c->cur;
    /* The previous header had an empty value and no value callback. */
    if (ex->hstate == HS_AWAIT_VALUE) {
        int r = hdr_append(c, "", 1);
        if (r)
            return r;
    }
    ex->hstate = HS_FIELD;
    return hdr_append(c, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
    conn *c = p->data;
    c->cur->hstate = HS_AWAIT_VALUE;
    return hdr_append(c, "", 1);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    conn *c = p->data;
    c->cur->hstate = HS_VALUE;
    return hdr_append(c, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    conn *c = p->data;
    eip_buf *h = &c->cur->hdrs;
    if (c->cur->hstate == HS_NONE)
        return 0;
    c->cur->hstate = HS_NONE;
    /* Trailing whitespace is not part of a field value (the name's NUL stops it). */
    while (h->len && (h->data[h->len - 1] == ' ' || h->data[h->len - 1] == '\t'))
        h->len--;
    return hdr_append(c, "", 1);
}

static int on_headers_complete(llhttp_t *p)
{
    conn *c = p->data;
    http_exchange *ex = c->cur;
    if (ex->hstate == HS_AWAIT_VALUE || ex->hstate == HS_VALUE) {
        int r = hdr_append(c, "", 1);
        if (r)
            return r;
        ex->hstate = HS_NONE;
    }
    ex->method = llhttp_method_name((llhttp_method_t)p->method);
    ex->head = p->method == HTTP_HEAD;
    ex->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
    ex->has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    ex->headers_done = true;
    c->event = EV_HEADERS;
    return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = p->data;
    c->event = EV_MESSAGE;
    return HPE_PAUSED;
}

/* An answer that ends the connection (after the answers queued before it). */
static void conn_fail(conn *c, int status, const char *msg)
{
    http_exchange *ex = c->cur;
    c->cur = NULL;
    if (c->tmode == TM_HEADER)
        conn_timer(c, TM_NONE, 0);
    conn_set_phase(c, CONN_FINISHING);
    eip_buf_reset(&c->pending);
    if (!ex)
        ex = ex_new(c);
    if (!ex) {
        conn_close(c);
        return;
    }
    log_debug("http server: %d %s", status, msg);
    if (!ex->headers_done)
        ex->method = "";
    ex->close_after = true;
    ex_set_error(ex, status, msg);
    eip_list_push_back(&c->queue, &ex->node);
    conn_update(c);
    conn_flush(c);
}

static void conn_on_headers(conn *c)
{
    http_exchange *ex = c->cur;
    const char *m = ex->method;

    if (c->tmode == TM_HEADER)
        conn_timer(c, TM_NONE, 0);
    if (c->head_bytes > c->s->lim.max_header_bytes) {
        conn_fail(c, 431, "request header too large");
        return;
    }
    bool safe = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (ex->has_body && safe) {
        conn_fail(c, 413, "a request body is not allowed here");
        return;
    }
    int st = http_router_decide(c->s->router, m, ex->url.data ? ex->url.data : "", ex->url.len,
                                &ex->target, &ex->match);
    if (st < 0) {
        conn_fail(c, 500, "out of memory");
        return;
    }
    if (st == 400) {
        conn_fail(c, 400, "bad request target");
        return;
    }
    ex->route_status = st;
    /* Request bodies are never read: answer now and close. */
    if (ex->has_body) {
        conn_fail(c, st ? st : 405, st == 404 ? "not found" : "method not allowed");
        return;
    }
}

static void conn_dispatch(conn *c, http_exchange *ex)
{
    ex_set_state(ex, EX_HANDLER);
    ex->in_handler = true;
    ex->match.handler(ex, ex->match.arg);
    ex->in_handler = false;
    if (ex->orphan) {
        if (ex->state == EX_DEFERRED && ex->cancel) {
            ex_set_state(ex, EX_CANCELLED);
            ex->cancel(ex, ex->cancel_arg);
        }
        ex_free(ex);
        return;
    }
    if (ex->state == EX_HANDLER)
        ex_set_error(ex, 500, "handler did not answer");
    else if (ex->state == EX_DEFERRED && c->s->state != SRV_SERVING)
        ex_cancel_for_drain(ex);
}

static void conn_on_message(conn *c)
{
    http_exchange *ex = c->cur;
    c->cur = NULL;
    if (!ex)
        return;
    eip_list_push_back(&c->queue, &ex->node);
    if (!ex->keep_alive)
        conn_set_phase(c, CONN_FINISHING);
    if (ex->route_status == 404)
        ex_set_error(ex, 404, "not found");
    else if (ex->route_status == 405)
        ex_set_error(ex, 405, "method not allowed");
    else
        conn_dispatch(c, ex);
    conn_flush(c);
}

/* Feeds data to llhttp one event at a time; returns how much was consumed. */
static size_t conn_parse(conn *c, const char *data, size_t len)
{
    size_t off = 0;

    c->parsing = true;
    if (!data)
        data = "";
    while ((off < len || c->kick) && conn_can_parse(c)) {
        c->kick = false;
        c->event = EV_NONE;
        c->cb_status = 0;
        llhttp_errno_t err = llhttp_execute(&c->parser, data + off, len - off);
        size_t used = len - off;
        if (err == HPE_PAUSED) {
            used = (size_t)(llhttp_get_error_pos(&c->parser) - (data + off));
            llhttp_resume(&c->parser);
        } else if (err != HPE_OK) {
            int st = c->cb_status ? c->cb_status : 400;
            log_debug("http server: parse error %s (%s)", llhttp_errno_name(err),
                      llhttp_get_error_reason(&c->parser));
            conn_fail(c, st,
                      st == 414   ? "request URL too long"
                      : st == 431 ? "request header too large"
                      : st == 500 ? "out of memory"
                                  : "malformed request");
            off = len;
            break;
        }
        if (c->cur && (!c->cur->headers_done || c->event == EV_HEADERS))
            c->head_bytes += used;
        off += used;
        if (c->event == EV_HEADERS) {
            c->kick = true;
            conn_on_headers(c);
        } else if (c->event == EV_MESSAGE) {
            conn_on_message(c);
        } else if (c->cur && !c->cur->headers_done && c->head_bytes > c->s->lim.max_header_bytes) {
            conn_fail(c, 431, "request header too large");
            off = len;
            break;
        } else if (err == HPE_PAUSED && used == 0) {
            break; /* cannot happen; never spin */
        }
    }
    c->parsing = false;
    return off;
}

/* Parses what was held back, if the connection may take more requests now. */
static void conn_resume(conn *c)
{
    if (c->phase == CONN_CLOSING)
        return;
    if (!c->parsing && (c->pending.len || c->kick) && conn_can_parse(c)) {
        size_t n = conn_parse(c, c->pending.data, c->pending.len);
        if (c->phase == CONN_CLOSING)
            return;
        if (c->phase >= CONN_FINISHING)
            eip_buf_reset(&c->pending);
        else
            eip_buf_consume(&c->pending, n);
    }
    conn_update(c);
}

static void conn_on_eof(conn *c)
{
    c->reading = false;
    c->eof = true;
    bool deferred = queue_find_deferred(c) != NULL;
    /* A client that went away cannot get later answers; finish writing what
     * is already on its way, cancel what is not. */
    if (deferred || c->wbytes == 0) {
        conn_close(c);
        return;
    }
    conn_set_phase(c, CONN_LAST_QUEUED);
    conn_drop_queue(c);
    ex_free(c->cur);
    c->cur = NULL;
    conn_timer(c, TM_NONE, 0);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = st->data;
    if (c->phase == CONN_CLOSING || nread == 0)
        return;
    if (c->phase == CONN_LINGERING) {
        if (nread < 0)
            conn_close(c);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug("http server: read failed: %s", uv_strerror((int)nread));
        conn_on_eof(c);
        return;
    }
    size_t len = (size_t)nread;
    if (c->phase >= CONN_FINISHING)
        return; /* no more requests are taken: discard */
    if (c->pending.len) {
        if (eip_buf_append(&c->pending, buf->base, len) != 0) {
            conn_close(c);
            return;
        }
        conn_resume(c);
        return;
    }
    size_t n = conn_parse(c, buf->base, len);
    if (c->phase == CONN_CLOSING)
        return;
    if (n < len && c->phase == CONN_OPEN) {
        if (eip_buf_append(&c->pending, buf->base + n, len - n) != 0) {
            conn_close(c);
            return;
        }
    }
    conn_update(c);
}

/* ---- accepting ---- */

static void on_unborn_closed(uv_handle_t *h)
{
    free(h->data);
}

/* A connection with its two handles, not yet accepted. 0 and *out, or a
 * negative errno and nothing left but, at worst, a handle closing. */
static int conn_new(http_server *s, conn **out)
{
    *out = NULL;
    conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->s = s;
    c->tcp.data = c;
    c->timer.data = c;
    int r = uv_tcp_init(s->loop, &c->tcp);
    if (r) {
        free(c); /* a failed uv_tcp_init leaves nothing on the loop */
        return r;
    }
    r = uv_timer_init(s->loop, &c->timer);
    if (r) {
        /* The TCP handle is on the loop: its memory goes in its close callback. */
        uv_close((uv_handle_t *)&c->tcp, on_unborn_closed);
        return r;
    }
    /* Both handles exist from here on and are freed in their close callbacks. */
    c->open_handles = 2;
    llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
    c->parser.data = c;
    eip_buf_init(&c->pending, 2 * READ_BUF_SIZE);
    eip_list_init(&c->queue);
    eip_list_push_front(&s->conns, &c->node);
    c->rejected = true; /* until conn_start counts it */
    s->nrejected++;
    *out = c;
    return 0;
}

static void conn_start(conn *c)
{
    http_server *s = c->s;
    int len = (int)sizeof(c->peer);
    /* A latency hint, not a need: a socketpair (http_server_adopt) has no Nagle
     * to turn off, and answers go out either way. */
    int r = uv_tcp_nodelay(&c->tcp, 1);
    if (r)
        log_debug("http server: TCP_NODELAY: %s", uv_strerror(r));
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) != 0)
        memset(&c->peer, 0, sizeof(c->peer));
    if (s->nactive >= s->lim.max_connections) {
        /* Beyond max: a short answer, then close. Rejected connections are
         * bounded too; past that they are closed without a word. */
        if (s->nrejected > s->lim.max_connections) {
            log_debug("http server: too many connections, closing without an answer");
            conn_close(c);
            return;
        }
        conn_fail(c, 503, "too many connections");
        return;
    }
    c->rejected = false;
    s->nrejected--;
    s->nactive++;
    conn_update(c);
}

static void on_connection(uv_stream_t *server, int status);

static void on_accept_retry(uv_timer_t *t)
{
    http_server *s = t->data;
    if (s->listener)
        on_connection((uv_stream_t *)s->listener, 0);
}

static void on_connection(uv_stream_t *server, int status)
{
    http_server *s = server->data;
    if (status < 0) {
        log_debug("http server: accept failed: %s", uv_strerror(status));
        return;
    }
    conn *c;
    int r = conn_new(s, &c);
    if (r) {
        /* libuv holds the pending socket and stops listening until it is
         * taken: try again soon rather than never. */
        log_debug("http server: cannot take a connection: %s", uv_strerror(r));
        r = uv_timer_start(&s->accept_retry, on_accept_retry, ACCEPT_RETRY_MS, 0);
        if (r)
            log_debug("http server: uv_timer_start: %s", uv_strerror(r));
        return;
    }
    /* A fresh handle fails only with UV_EAGAIN: nothing pending (a retry
     * after the client went away). */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    conn_start(c);
}

int http_server_adopt(http_server *s, uv_os_sock_t fd)
{
    if (!s || s->state != SRV_SERVING)
        return -EINVAL;
    conn *c;
    int r = conn_new(s, &c);
    if (r)
        return r;
    r = uv_tcp_open(&c->tcp, fd);
    if (r) {
        conn_close(c);
        return r;
    }
    conn_start(c);
    return 0;
}

/* ---- server ---- */

static void limits_defaults(http_server_limits *l)
{
    if (!l->max_header_bytes)
        l->max_header_bytes = 8192;
    if (!l->max_url_bytes)
        l->max_url_bytes = 2048;
    if (!l->max_connections)
        l->max_connections = 1024;
    if (!l->header_timeout_ms)
        l->header_timeout_ms = 5000;
    if (!l->idle_timeout_ms)
        l->idle_timeout_ms = 60000;
    if (!l->max_pipelined)
        l->max_pipelined = 16;
}

int http_server_new(http_server **out, const http_server_opts *opts, char *err, size_t errlen)
{
    http_server *s = NULL;
    int r = -EINVAL;
    *out = NULL;
    if (!opts || !opts->loop) {
        eip_seterr(err, errlen, "cannot create the HTTP server: no event loop");
        goto out;
    }
    r = -ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    r = http_router_new(&s->router);
    if (r)
        goto out;
    s->loop = opts->loop;
    eip_list_init(&s->conns);
    s->lim = opts->limits;
    limits_defaults(&s->lim);
    llhttp_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_field_complete = on_header_field_complete;
    s->settings.on_header_value = on_header_value;
    s->settings.on_header_value_complete = on_header_value_complete;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_message_complete = on_message_complete;
    /* The one libuv handle, last: nothing after it can fail. */
    r = uv_timer_init(s->loop, &s->accept_retry);
    if (r) {
        eip_seterr(err, errlen, "cannot create the HTTP server: uv_timer_init: %s", uv_strerror(r));
        goto out;
    }
    s->accept_retry.data = s;
    *out = s;
out:
    if (r) {
        if (r == -ENOMEM)
            eip_seterr(err, errlen, "cannot create the HTTP server: out of memory");
        if (s)
            http_router_free(s->router);
        free(s);
    }
    return r;
}

int http_server_route(http_server *s, const char *pattern, http_handler h, void *arg)
{
    if (!s)
        return -EINVAL;
    return http_router_add(s->router, pattern, h, arg);
}

void http_server_set_observer(http_server *s, http_observe_cb cb, void *arg)
{
    if (!s)
        return;
    s->observe = cb;
    s->observe_arg = arg;
}

static void server_maybe_free(http_server *s)
{
    if (s->state == SRV_FREEING && eip_list_empty(&s->conns) && s->closing_handles == 0 &&
        !s->listener) {
        http_router_free(s->router);
        free(s);
    }
}

static void server_after_conn_closed(http_server *s)
{
    if (s->state == SRV_FREEING) {
        server_maybe_free(s);
        return;
    }
    if (s->state == SRV_DRAINING && eip_list_empty(&s->conns)) {
        server_set_state(s, SRV_DRAINED);
        if (s->on_drained)
            s->on_drained(s->drained_arg); /* may free s */
    }
}

static void on_listener_closed(uv_handle_t *h)
{
    http_server *s = h->data;
    free(h);
    s->closing_handles--;
    server_maybe_free(s);
}

static void on_retry_closed(uv_handle_t *h)
{
    http_server *s = h->data;
    s->closing_handles--;
    server_maybe_free(s);
}

static void close_listener(http_server *s)
{
    uv_timer_stop(&s->accept_retry);
    if (!s->listener)
        return;
    uv_close((uv_handle_t *)s->listener, on_listener_closed);
    s->listener = NULL;
    s->closing_handles++;
}

static int parse_port(const char *p, int *out)
{
    long v = 0;
    if (!*p)
        return -EINVAL;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] < '0' || p[i] > '9' || i >= 5)
            return -EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* "host:port", "[v6]:port", ":port" -> a socket address. No name lookups
 * (they would block) except "localhost". */
static int parse_listen_addr(const char *addr, struct sockaddr_storage *ss)
{
    char host[64];
    const char *port;
    size_t hlen;
    bool v6 = false;
    int p, r;

    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        hlen = (size_t)(end - addr - 1);
        if (hlen == 0 || hlen >= sizeof(host))
            return -EINVAL;
        memcpy(host, addr + 1, hlen);
        host[hlen] = '\0';
        port = end + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon)
            return -EINVAL;
        hlen = (size_t)(colon - addr);
        if (hlen >= sizeof(host) || memchr(addr, ':', hlen))
            return -EINVAL;
        memcpy(host, addr, hlen);
        host[hlen] = '\0';
        port = colon + 1;
    }
    r = parse_port(port, &p);
    if (r)
        return r;
    memset(ss, 0, sizeof(*ss));
    if (v6)
        return uv_ip6_addr(host, p, (struct sockaddr_in6 *)ss);
    if (hlen == 0)
        return uv_ip4_addr("0.0.0.0", p, (struct sockaddr_in *)ss);
    if (strcmp(host, "localhost") == 0)
        return uv_ip4_addr("127.0.0.1", p, (struct sockaddr_in *)ss);
    return uv_ip4_addr(host, p, (struct sockaddr_in *)ss);
}

int http_server_listen(http_server *s, const char *addr)
{
    struct sockaddr_storage ss;
    int r;

    if (!s || !addr)
        return -EINVAL;
    if (s->listener || s->state != SRV_SERVING)
        return -EBUSY;
    r = parse_listen_addr(addr, &ss);
    if (r)
        return r < 0 ? r : -EINVAL;
    uv_tcp_t *l = malloc(sizeof(*l));
    if (!l)
        return -ENOMEM;
    r = uv_tcp_init(s->loop, l);
    if (r) {
        free(l);
        return r;
    }
    l->data = s;
    r = uv_tcp_bind(l, (const struct sockaddr *)&ss, 0);
    if (!r)
        r = uv_listen((uv_stream_t *)l, 511, on_connection);
    if (r) {
        log_debug("http server: listen on %s: %s", addr, uv_strerror(r));
        uv_close((uv_handle_t *)l, on_listener_closed);
        s->closing_handles++;
        return r;
    }
    struct sockaddr_storage bound;
    int blen = (int)sizeof(bound);
    s->port = 0;
    if (uv_tcp_getsockname(l, (struct sockaddr *)&bound, &blen) == 0) {
        if (bound.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        else if (bound.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    s->listener = l;
    log_debug("http server: listening on %s (port %d)", addr, s->port);
    return 0;
}

int http_server_port(const http_server *s)
{
    return s ? s->port : 0;
}

size_t http_server_connections(const http_server *s)
{
    return s ? s->conns.len : 0;
}

static void conn_drain(conn *c)
{
    if (c->phase >= CONN_LINGERING)
        return;
    conn_set_phase(c, CONN_FINISHING);
    eip_buf_reset(&c->pending);
    ex_free(c->cur);
    c->cur = NULL;
    if (c->tmode == TM_HEADER || c->tmode == TM_IDLE)
        conn_timer(c, TM_NONE, 0);
    if (c->phase >= CONN_LAST_QUEUED)
        return; /* already finishing */
    if (eip_list_empty(&c->queue)) {
        if (c->wbytes == 0) {
            conn_close(c);
        } else {
            conn_set_phase(c, CONN_LAST_QUEUED);
            conn_update(c);
        }
        return;
    }
    /* Rescan after each callback: it may have answered or closed things. */
    for (;;) {
        http_exchange *ex = queue_find_deferred(c);
        if (!ex || c->phase == CONN_CLOSING)
            break;
        ex_cancel_for_drain(ex);
    }
    if (c->phase == CONN_CLOSING)
        return;
    conn_flush(c);
    conn_update(c);
}

void http_server_shutdown(http_server *s, void (*on_drained)(void *arg), void *arg)
{
    if (!s || s->state != SRV_SERVING)
        return;
    server_set_state(s, SRV_DRAINING);
    s->on_drained = on_drained;
    s->drained_arg = arg;
    close_listener(s);
    eip_list_node *pos, *tmp;
    eip_list_foreach_safe(&s->conns, pos, tmp)
    {
        conn_drain(eip_container_of(pos, conn, node));
    }
    if (s->state == SRV_DRAINING && eip_list_empty(&s->conns)) {
        server_set_state(s, SRV_DRAINED);
        if (on_drained)
            on_drained(arg);
    }
}

void http_server_free(http_server *s)
{
    if (!s || s->state == SRV_FREEING)
        return;
    server_set_state(s, SRV_FREEING);
    s->on_drained = NULL;
    close_listener(s);
    s->closing_handles++;
    uv_close((uv_handle_t *)&s->accept_retry, on_retry_closed);
    eip_list_node *pos, *tmp;
    eip_list_foreach_safe(&s->conns, pos, tmp)
    {
        conn_close(eip_container_of(pos, conn, node));
    }
    server_maybe_free(s);
}

/* ---- exchange API ---- */

const char *http_exchange_method(const http_exchange *ex)
{
    return ex->method;
}

const char *http_exchange_path(const http_exchange *ex)
{
    return ex->target.path ? ex->target.path : "";
}

const char *http_exchange_route(const http_exchange *ex)
{
    return ex->match.pattern ? ex->match.pattern : "";
}

const char *http_exchange_param(const http_exchange *ex, const char *name)
{
    for (size_t i = 0; i < ex->match.nparams; i++)
        if (strcmp(ex->match.params[i].name, name) == 0)
            return ex->match.params[i].value;
    return NULL;
}

const char *http_exchange_query(const http_exchange *ex, const char *name)
{
    return http_target_query(&ex->target, name);
}

const char *http_exchange_header(const http_exchange *ex, const char *name)
{
    const char *p = ex->hdrs.data;
    const char *end = p ? p + ex->hdrs.len : NULL;
    while (p && p < end) {
        const char *value = p + strlen(p) + 1;
        if (value >= end)
            break;
        if (strcasecmp(p, name) == 0)
            return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

const struct sockaddr_storage *http_exchange_peer(const http_exchange *ex)
{
    return &ex->c->peer;
}

void http_exchange_reply(http_exchange *ex, int status, const char *content_type, const char *body,
                         size_t len)
{
    if (!ex || (ex->state != EX_HANDLER && ex->state != EX_DEFERRED))
        return;
    ex->cancel = NULL;
    ex_set_answer(ex, status, content_type, body, len);
    if (!ex->in_handler)
        conn_flush(ex->c);
}

void http_exchange_reply_json(http_exchange *ex, int status, json_t *j)
{
    char *txt = NULL;
    size_t len = 0;
    if (!j || eip_json_dump(j, JSON_COMPACT, ANSWER_MAX, &txt, &len))
        txt = NULL;
    json_decref(j);
    if (!txt) {
        http_exchange_reply_error(ex, 500, "cannot serialize the answer");
        return;
    }
    http_exchange_reply(ex, status, "application/json", txt, len);
    free(txt);
}

void http_exchange_reply_error(http_exchange *ex, int status, const char *message)
{
    if (!ex || (ex->state != EX_HANDLER && ex->state != EX_DEFERRED))
        return;
    ex->cancel = NULL;
    ex_set_error(ex, status, message);
    if (!ex->in_handler)
        conn_flush(ex->c);
}

void http_exchange_defer(http_exchange *ex, http_cancel_cb cancel, void *arg)
{
    if (!ex || ex->state != EX_HANDLER)
        return;
    ex_set_state(ex, EX_DEFERRED);
    ex->cancel = cancel;
    ex->cancel_arg = arg;
}
