/* SPDX-License-Identifier: MIT */
#include "support_apiserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <llhttp.h>

#include "test_alloc.h"

#define MAX_CONNS 32
#define READ_CHUNK 65536
#define MAX_REQUEST (1 << 20)

typedef struct conn {
    uv_tcp_t tcp;
    apiserver *s;
    bool used, closing, hanging;
    llhttp_t parser;
    /* the request being read: url and body grow through the hook */
    char *url, *body;
    size_t url_len, body_len;
    char field[64];
    size_t field_len;
    bool field_ctype;
    char ctype[128];
    size_t ctype_len;
} conn;

struct apiserver {
    uv_loop_t *loop;
    uv_tcp_t listener;
    llhttp_settings_t settings;
    api_handler handler;
    void *arg;
    char url[64];
    conn conns[MAX_CONNS];
    int open; /* handles not closed yet, the listener included */
    bool freeing;
    api_record *records;
    size_t n_records, cap_records;
};

typedef struct write_req {
    uv_write_t req; /* req.data: the write_req */
    size_t len;
    char bytes[];
} write_req;

static void maybe_release(apiserver *s)
{
    if (!s->freeing || s->open > 0)
        return;
    for (size_t i = 0; i < s->n_records; i++) {
        api_record *r = &s->records[i];
        free(r->method);
        free(r->path);
        free(r->query);
        free(r->content_type);
        free(r->body);
    }
    free(s->records);
    free(s);
}

static void request_reset(conn *c)
{
    free(c->url);
    free(c->body);
    c->url = c->body = NULL;
    c->url_len = c->body_len = 0;
    c->field_len = c->ctype_len = 0;
    c->field_ctype = false;
}

static void conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    apiserver *s = c->s;
    request_reset(c);
    c->used = false;
    s->open--;
    maybe_release(s);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* Appends to a buffer that grows through the hook; false when memory ran out. */
static bool grow(char **buf, size_t *len, const char *at, size_t n)
{
    if (*len + n + 1 > MAX_REQUEST)
        return false;
    char *p = realloc(*buf, *len + n + 1);
    if (!p)
        return false;
    memcpy(p + *len, at, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return true;
}

/* ---- the record (the test's bookkeeping: the hook is paused) ---- */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void record(apiserver *s, const api_request *req)
{
    test_alloc_pause();
    api_record *r = NULL;
    if (s->n_records == s->cap_records) {
        size_t cap = s->cap_records ? s->cap_records * 2 : 32;
        api_record *v = realloc(s->records, cap * sizeof(*v));
        if (!v)
            abort();
        s->records = v;
        s->cap_records = cap;
    }
    r = &s->records[s->n_records++];
    r->method = dup_n(req->method, strlen(req->method));
    r->path = dup_n(req->path, strlen(req->path));
    r->query = dup_n(req->query, strlen(req->query));
    r->content_type = dup_n(req->content_type, strlen(req->content_type));
    r->body = dup_n(req->body, req->body_len);
    r->body_len = req->body_len;
    r->status = 0;
    if (!r->method || !r->path || !r->query || !r->content_type || !r->body)
        abort();
    test_alloc_resume();
}

/* ---- answers ---- */

static void written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
}

/* Queues head + body (+ tail); false when memory ran out (the caller drops). */
static bool send_answer(conn *c, const char *head, size_t hlen, const char *body, size_t blen,
                        const char *tail)
{
    size_t tlen = tail ? strlen(tail) : 0;
    write_req *w = malloc(sizeof(*w) + hlen + blen + tlen);
    if (!w)
        return false;
    memcpy(w->bytes, head, hlen);
    memcpy(w->bytes + hlen, body, blen);
    memcpy(w->bytes + hlen + blen, tail ? tail : "", tlen);
    w->len = hlen + blen + tlen;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(w->bytes, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, written)) {
        free(w);
        return false;
    }
    return true;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    case 500:
        return "Internal Server Error";
    default:
        return "Status";
    }
}

/* false: the connection is to be dropped */
static bool answer(conn *c, const api_answer *a)
{
    char head[256];
    const char *body = a->body ? a->body : "";
    size_t blen = a->len ? a->len : strlen(body);
    int n;
    switch (a->kind) {
    case API_HANG:
        c->hanging = true;
        return true;
    case API_DROP:
        return false;
    case API_REPLY:
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     a->status, reason(a->status), blen);
        return n > 0 && (size_t)n < sizeof(head) &&
               send_answer(c, head, (size_t)n, body, blen, NULL);
    case API_STREAM:
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                     a->status, reason(a->status), blen);
        c->hanging = a->keep_open;
        return n > 0 && (size_t)n < sizeof(head) &&
               send_answer(c, head, (size_t)n, body, blen, a->keep_open ? "\r\n" : "\r\n0\r\n\r\n");
    }
    return false;
}

/* ---- llhttp ---- */

static int on_message_begin(llhttp_t *p)
{
    conn *c = p->data;
    request_reset(c);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    return grow(&c->url, &c->url_len, at, n) ? 0 : -1;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (c->field_len + n < sizeof(c->field)) {
        memcpy(c->field + c->field_len, at, n);
        c->field_len += n;
    }
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    conn *c = p->data;
    c->field_ctype = c->field_len == 12 && strncasecmp(c->field, "Content-Type", 12) == 0;
    c->field_len = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (c->field_ctype && c->ctype_len + n < sizeof(c->ctype)) {
        memcpy(c->ctype + c->ctype_len, at, n);
        c->ctype_len += n;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;
    return grow(&c->body, &c->body_len, at, n) ? 0 : -1;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = p->data;
    apiserver *s = c->s;
    c->ctype[c->ctype_len] = '\0';
    const char *url = c->url ? c->url : "";
    const char *q = strchr(url, '?');
    char path[1024];
    size_t plen = q ? (size_t)(q - url) : strlen(url);
    if (plen >= sizeof(path))
        return -1;
    memcpy(path, url, plen);
    path[plen] = '\0';
    api_request req = {.method = llhttp_method_name((llhttp_method_t)p->method),
                       .path = path,
                       .query = q ? q + 1 : "",
                       .content_type = c->ctype,
                       .body = c->body ? c->body : "",
                       .body_len = c->body_len};
    record(s, &req);
    api_answer a = {.kind = API_REPLY, .status = 404, .body = "{\"kind\":\"Status\",\"code\":404}"};
    s->handler(s, &req, &a, s->arg);
    bool ok = answer(c, &a);
    api_record *rec = &s->records[s->n_records - 1];
    rec->status = !ok ? -1 : a.kind == API_HANG ? 0 : a.status;
    request_reset(c);
    return ok ? 0 : -1;
}

/* ---- connections ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    buf->base = malloc(READ_CHUNK);
    buf->len = buf->base ? READ_CHUNK : 0;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    conn *c = st->data;
    if (n < 0 || c->closing) {
        /* the peer went, or no memory for a read buffer (UV_ENOBUFS): drop */
        free(buf->base);
        conn_close(c);
        return;
    }
    if (n > 0 && !c->hanging) {
        llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)n);
        if (e != HPE_OK)
            conn_close(c);
    }
    free(buf->base);
}

static void on_connection(uv_stream_t *l, int status)
{
    apiserver *s = l->data;
    if (status < 0)
        return;
    conn *c = NULL;
    for (int i = 0; i < MAX_CONNS && !c; i++)
        if (!s->conns[i].used)
            c = &s->conns[i];
    if (!c)
        abort(); /* a fake for a handful of connections */
    memset(c, 0, sizeof(*c));
    c->used = true;
    c->s = s;
    if (uv_tcp_init(s->loop, &c->tcp))
        abort();
    s->open++;
    c->tcp.data = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
    c->parser.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
        conn_close(c);
}

int apiserver_new(apiserver **out, uv_loop_t *loop, api_handler h, void *arg)
{
    *out = NULL;
    test_alloc_pause();
    apiserver *s = calloc(1, sizeof(*s));
    int r = s ? 0 : -ENOMEM;
    if (r)
        goto out;
    s->loop = loop;
    s->handler = h;
    s->arg = arg;
    llhttp_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_field_complete = on_header_field_complete;
    s->settings.on_header_value = on_header_value;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;
    if ((r = uv_tcp_init(loop, &s->listener))) {
        free(s);
        goto out;
    }
    s->open = 1;
    s->listener.data = s;
    struct sockaddr_in sa;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    if (!(r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0)))
        r = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
    if (!r)
        r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    if (r) {
        apiserver_free(s);
        goto out;
    }
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d",
             ntohs(((struct sockaddr_in *)&bound)->sin_port));
    *out = s;
out:
    test_alloc_resume();
    return r;
}

static void listener_closed(uv_handle_t *h)
{
    apiserver *s = h->data;
    s->open--;
    maybe_release(s);
}

void apiserver_free(apiserver *s)
{
    if (!s)
        return;
    s->freeing = true;
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i].used)
            conn_close(&s->conns[i]);
    uv_close((uv_handle_t *)&s->listener, listener_closed);
}

const char *apiserver_url(const apiserver *s)
{
    return s->url;
}

size_t apiserver_records(const apiserver *s, const api_record **out)
{
    *out = s->records;
    return s->n_records;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

const char *api_query(const char *query, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = query;
    while (p && *p) {
        size_t n = strcspn(p, "&");
        if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < n; i++) {
                char ch = p[i];
                if (ch == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
                    ch = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                }
                if (o + 1 >= cap)
                    return NULL;
                buf[o++] = ch;
            }
            buf[o] = '\0';
            return buf;
        }
        if (n == nl && strncmp(p, name, nl) == 0) {
            if (cap == 0)
                return NULL;
            buf[0] = '\0';
            return buf;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return NULL;
}

void api_reply(api_answer *a, int status, const char *body)
{
    a->kind = API_REPLY;
    a->status = status;
    a->body = body;
    a->len = 0;
}

void api_want_str(const json_t *o, const char *k, const char *value, const char *what)
{
    const char *v = json_string_value(json_object_get(o, k));
    if (!v || (value && strcmp(v, value) != 0))
        fail_msg("%s: %s is %s, want %s", what, k, v ? v : "(absent)", value ? value : "a string");
}

void api_check_bodies(const apiserver *s, api_body_check check, void *arg)
{
    const api_record *r;
    size_t n = apiserver_records(s, &r);
    for (size_t i = 0; i < n; i++) {
        char what[200];
        snprintf(what, sizeof(what), "request %zu (%s %s)", i, r[i].method, r[i].path);
        if (strcmp(r[i].method, "GET") == 0) {
            if (r[i].body_len)
                fail_msg("%s: a GET with a body", what);
            continue;
        }
        json_error_t jerr;
        json_t *b = json_loadb(r[i].body, r[i].body_len, 0, &jerr);
        if (!json_is_object(b))
            fail_msg("%s: not a JSON object: %s: %.*s", what, jerr.text, (int)r[i].body_len,
                     r[i].body);
        check(&r[i], b, what, arg);
        json_decref(b);
    }
}
