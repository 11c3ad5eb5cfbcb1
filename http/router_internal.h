/* SPDX-License-Identifier: MIT */
#ifndef EIP_HTTP_ROUTER_INTERNAL_H
#define EIP_HTTP_ROUTER_INTERNAL_H

/* Internal to http/: the server's routing table, request-target decoding
 * (percent-decoding of path segments and query parameters) and the
 * 400/404/405 decision. Other folders use http/server.h. */

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"

#define HTTP_ROUTER_MAX_SEGMENTS 32
#define HTTP_ROUTER_MAX_QUERY 64

typedef struct http_router http_router;

typedef struct http_kv {
    char *name;
    char *value;
} http_kv;

/* A decoded origin-form request target ("/a/b%20c?x=1&y"). Owns its strings. */
typedef struct http_target {
    char *path;                           /* whole path, percent-decoded */
    char *segs[HTTP_ROUTER_MAX_SEGMENTS]; /* decoded segments between '/' */
    size_t nsegs;
    bool too_many_segs; /* more than HTTP_ROUTER_MAX_SEGMENTS: matches nothing */
    http_kv query[HTTP_ROUTER_MAX_QUERY];
    size_t nquery;
} http_target;

typedef struct http_param {
    const char *name;  /* borrowed from the route */
    const char *value; /* borrowed from the target */
} http_param;

/* The route a target matched; borrows from the router and the target. */
typedef struct http_match {
    const char *pattern; /* NULL: no route */
    http_handler handler;
    void *arg;
    http_param params[HTTP_ROUTER_MAX_SEGMENTS];
    size_t nparams;
} http_match;

/* An empty table. 0 and *out, or -ENOMEM and *out NULL (the only failure: no
 * options, no reason to give). */
int http_router_new(http_router **out);
/* NULL is a no-op. */
void http_router_free(http_router *r);
/* Adds a pattern: '/'-separated non-empty segments, each a literal (no '{', '}',
 * '%', '?', '#') or a capture "{name}" (name of [A-Za-z0-9_-]). 0, -EINVAL (bad
 * pattern), -EEXIST (same shape already registered), -ENOMEM. */
int http_router_add(http_router *r, const char *pattern, http_handler h, void *arg);

/* Decodes raw (not NUL-terminated). 0; -EINVAL when it does not start with '/',
 * holds a bad %-escape or %00, or has more than HTTP_ROUTER_MAX_QUERY query
 * parameters; -ENOMEM. On error t holds nothing to free. */
int http_target_parse(const char *raw, size_t len, http_target *t);
void http_target_free(http_target *t);
/* First query parameter of that name, or NULL. */
const char *http_target_query(const http_target *t, const char *name);

/* Best route for t: a literal segment wins over a capture at the first segment
 * where two candidates differ. 0 and *m, or -ENOENT. */
int http_router_match(const http_router *r, const http_target *t, http_match *m);

/* The whole decision for one request (raw in origin-form "/p?q", or
 * absolute-form "http://host/p?q"): 0 when m names a handler to run, else the
 * status to answer: 400 (bad target), 404 (no route), 405 (route exists, method
 * is not GET or HEAD); -ENOMEM on allocation failure. On 0 and 405, t must be
 * freed by the caller (and m borrows from it); otherwise t holds nothing. */
int http_router_decide(const http_router *r, const char *method, const char *raw, size_t len,
                       http_target *t, http_match *m);

/* "%41b+c" -> "Ab c" when plus_is_space. Writes a NUL-terminated malloc'd
 * string to *out. 0, -EINVAL (bad escape, %00, raw NUL), -ENOMEM. */
int http_pct_decode(const char *s, size_t n, bool plus_is_space, char **out);

#endif
