/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_UNIT_ALLOC_SUPPORT_APISERVER_H
#define EIP_TESTS_UNIT_ALLOC_SUPPORT_APISERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

/* A fake Kubernetes API server for the allocation-failure walks: HTTP/1.1 on
 * loopback (llhttp on uv_tcp), on the test's loop. http/server.h never reads a
 * request body (it answers 405), and the walks need the bodies of POST, PUT and
 * PATCH, hence this one.
 *
 * Its own allocations go through the allocation hook like the client's (read
 * buffers, the request being read, answers): when one fails it drops the
 * connection, as a server out of memory would; a handler that has no memory
 * for its answer answers 500. The record of what it received is the test's
 * bookkeeping (taken with the hook paused): every request, its body whole. */

typedef struct apiserver apiserver;

/* One request, valid during the handler. */
typedef struct api_request {
    const char *method;
    const char *path;  /* without the query, not decoded */
    const char *query; /* after '?', "" when none */
    const char *content_type;
    const char *body; /* "" when none */
    size_t body_len;
} api_request;

enum api_answer_kind {
    API_REPLY,  /* status and body, Content-Length */
    API_STREAM, /* status, then body as a chunk of a chunked stream */
    API_HANG,   /* no answer until the connection goes (a watch that lasts) */
    API_DROP,   /* close the connection without an answer */
};

typedef struct api_answer {
    enum api_answer_kind kind;
    int status;
    const char *body; /* copied */
    size_t len;       /* 0: strlen(body) */
    bool keep_open;   /* API_STREAM: the stream stays open after body */
} api_answer;

typedef void (*api_handler)(apiserver *s, const api_request *req, api_answer *ans, void *arg);

/* Listens on 127.0.0.1 (a free port). Built with the hook paused. 0 or -errno. */
int apiserver_new(apiserver **out, uv_loop_t *loop, api_handler h, void *arg);
/* Closes every connection and the listener; the memory goes once the loop has
 * run the close callbacks. NULL is a no-op. */
void apiserver_free(apiserver *s);
/* "http://127.0.0.1:<port>". */
const char *apiserver_url(const apiserver *s);

/* What the server received, in order (requests it read whole). */
typedef struct api_record {
    char *method, *path, *query, *content_type, *body;
    size_t body_len;
    int status; /* what it answered; 0: hung, -1: dropped */
} api_record;
size_t apiserver_records(const apiserver *s, const api_record **out);

/* A plain answer: status and body (copied). */
void api_reply(api_answer *a, int status, const char *body);

/* Fails the test unless o[k] is a string (equal to value unless value is NULL);
 * what names the request in the message. */
void api_want_str(const json_t *o, const char *k, const char *value, const char *what);

/* Walks what the server received: a GET must have no body, any other request a
 * whole JSON object, handed to check with a label "request N (METHOD PATH)". */
typedef void (*api_body_check)(const api_record *r, const json_t *body, const char *what,
                               void *arg);
void api_check_bodies(const apiserver *s, api_body_check check, void *arg);

/* The value of query parameter name of query, percent-decoded into buf; NULL
 * when absent or longer than cap. No allocation. */
const char *api_query(const char *query, const char *name, char *buf, size_t cap);

#endif
