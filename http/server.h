/* SPDX-License-Identifier: MIT */
#ifndef EIP_HTTP_SERVER_H
#define EIP_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

/* HTTP/1.1 server: llhttp on uv_tcp. GET and HEAD routed by path pattern,
 * keep-alive and pipelining (answers go out in request order), deferred answers
 * (long-poll), and limits that keep one bad client from hurting the others.
 *
 * Everything runs on the loop's thread; handlers are called from it and must
 * not block. The process must ignore SIGPIPE (agent/main.c does): a client that
 * goes away mid-answer would otherwise kill it. Errors the server answers by itself are JSON
 * ({"error": ..., "status": N}); 400, 408, 413, 414, 431 and the 503 for too
 * many connections close the connection after the answer, 404 and 405 do not
 * (unless the request carried a body, which is never read). */

typedef struct http_server http_server;
/* One request awaiting its answer. Owned by the server; valid until it is
 * answered or its cancel callback has run. */
typedef struct http_exchange http_exchange;

typedef void (*http_handler)(http_exchange *ex, void *arg);
/* The client went away (or the server is shutting down) before a deferred
 * exchange was answered; the exchange is freed after this returns and must not
 * be answered. */
typedef void (*http_cancel_cb)(http_exchange *ex, void *arg);
/* After every answer: the route pattern ("" when none matched) and the status
 * (for metrics with bounded labels). */
typedef void (*http_observe_cb)(const char *route, const char *method, int status, void *arg);

/* What keeps one bad client from hurting the others; a 0 field takes the default. */
typedef struct http_server_limits {
    size_t max_header_bytes;    /* request line + headers; 0: 8 KiB -> 431 */
    size_t max_url_bytes;       /* 0: 2 KiB -> 414 */
    size_t max_connections;     /* 0: 1024; beyond: 503 and close */
    unsigned header_timeout_ms; /* first byte to end of headers; 0: 5000 -> 408 and close */
    unsigned idle_timeout_ms;   /* keep-alive idle; 0: 60000 -> close */
    size_t max_pipelined;       /* requests queued on one connection; 0: 16 */
} http_server_limits;

typedef struct http_server_opts {
    uv_loop_t *loop;           /* borrowed; runs every handler, outlives the server */
    http_server_limits limits; /* copied */
} http_server_opts;

/* Builds a server that does not listen yet (http_server_listen). 0 and *out, or
 * a negative errno with a one-line reason in err (err may be NULL when errlen
 * is 0): -EINVAL (no opts or no loop), -ENOMEM. On failure *out is NULL and
 * nothing is left open. */
int http_server_new(http_server **out, const http_server_opts *opts, char *err, size_t errlen);
/* Registers GET (and HEAD) for a pattern: literal segments and {name} captures,
 * e.g. "/v1/pods/{ns}/{name}/ready". A literal segment wins over a capture.
 * Another method on a matched path -> 405 with Allow. 0 or -errno. */
int http_server_route(http_server *s, const char *pattern, http_handler h, void *arg);
void http_server_set_observer(http_server *s, http_observe_cb cb, void *arg);
/* "host:port", "[v6]:port" or ":port". 0 or -errno (-EADDRINUSE, -EINVAL...). */
int http_server_listen(http_server *s, const char *addr);
/* The bound port (after listen; useful with port 0). */
int http_server_port(const http_server *s);
/* Stops accepting, answers "Connection: close" to what is in flight, cancels
 * deferred exchanges, closes idle connections, and calls on_drained once every
 * connection is closed (possibly before returning). */
void http_server_shutdown(http_server *s, void (*on_drained)(void *arg), void *arg);
/* Closes everything and frees once libuv has closed the handles. NULL is a no-op. */
void http_server_free(http_server *s);
size_t http_server_connections(const http_server *s);

/* Request accessors (valid while the exchange lives). */
const char *http_exchange_method(const http_exchange *ex);
const char *http_exchange_path(const http_exchange *ex);  /* decoded path, no query */
const char *http_exchange_route(const http_exchange *ex); /* the pattern that matched */
/* A {name} capture, percent-decoded; NULL if the pattern has none of that name. */
const char *http_exchange_param(const http_exchange *ex, const char *name);
/* A query parameter, percent-decoded; NULL when absent. */
const char *http_exchange_query(const http_exchange *ex, const char *name);
const char *http_exchange_header(const http_exchange *ex, const char *name);
/* The client's address (for /v1/self). */
const struct sockaddr_storage *http_exchange_peer(const http_exchange *ex);

/* Answers. Each exchange is answered exactly once; after the call it is gone.
 * The body is copied. HEAD gets the headers only; 204 and 304 never carry a
 * body. content_type NULL (or holding control characters) means
 * "text/plain; charset=utf-8". A handler that returns without answering or
 * deferring gets a 500 answered for it. */
void http_exchange_reply(http_exchange *ex, int status, const char *content_type, const char *body,
                         size_t len);
/* Serializes and answers with application/json; steals the reference to j. */
void http_exchange_reply_json(http_exchange *ex, int status, json_t *j);
/* {"error": message, "status": status} as JSON. */
void http_exchange_reply_error(http_exchange *ex, int status, const char *message);
/* Marks the exchange as answered later (long-poll); only from inside its
 * handler. Keep the pointer and answer it later with one of the replies above.
 * cancel (may be NULL) is called once if the client disconnects or the server
 * shuts down or is freed first; forget the pointer there: the exchange is freed
 * when cancel returns, and a reply made during cancel is ignored. At shutdown
 * the server itself answers a cancelled exchange 503 so that the answers
 * pipelined behind it keep their order. */
void http_exchange_defer(http_exchange *ex, http_cancel_cb cancel, void *arg);

#endif
