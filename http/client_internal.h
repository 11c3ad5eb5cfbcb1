/* SPDX-License-Identifier: MIT */
#ifndef EIP_HTTP_CLIENT_INTERNAL_H
#define EIP_HTTP_CLIENT_INTERNAL_H

/* Internal to http/ (exposed for tests and fuzzing): the response-header store
 * that http/client.c fills from curl's header callback, and what
 * http_response_header() searches. */

#include <stddef.h>

#include "common/buf.h"
#include "http/client.h"

struct http_headers {
    eip_buf buf; /* "name\0value\0" pairs, in arrival order */
};

/* One raw header line from curl (CRLF included): "Name: value", or an obs-fold
 * continuation of the previous value. 0, or -E2BIG/-ENOMEM (h unchanged). */
int http_headers_add_line(struct http_headers *h, const char *line, size_t len);

/* "HTTP/1.1 200 OK" or "HTTP/2 200" -> 200; 0 when malformed. */
long http_parse_status_line(const char *line, size_t len);

#endif
