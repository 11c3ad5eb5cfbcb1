/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_WATCH_INTERNAL_H
#define EIP_K8S_WATCH_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "k8s/status_internal.h"

/* Internal to k8s/ (the reflector; exposed for its unit tests and fuzzers):
 * the incremental parser of a watch stream, newline-delimited JSON events
 * ({"type":..., "object":...}) split across arbitrary chunk boundaries. */

typedef enum k8s_watch_type {
    K8S_WATCH_ADDED,
    K8S_WATCH_MODIFIED,
    K8S_WATCH_DELETED,
    K8S_WATCH_BOOKMARK,
    K8S_WATCH_ERROR,
} k8s_watch_type;

const char *k8s_watch_type_name(k8s_watch_type t);

typedef struct k8s_watch_event {
    k8s_watch_type type;
    json_t *object;               /* borrowed, valid during the callback */
    const char *resource_version; /* object's metadata.resourceVersion or NULL */
    k8s_status status;            /* ERROR events: the Status object */
    k8s_result error_class;       /* ERROR events: K8S_E_GONE for 410 Expired/Gone */
} k8s_watch_event;

/* Return 0 to go on, non-zero to stop feeding (returned by k8s_watch_feed). */
typedef int (*k8s_watch_event_cb)(const k8s_watch_event *ev, void *arg);

typedef struct k8s_watch_parser {
    eip_buf line; /* the partial line, never more than max_event bytes */
} k8s_watch_parser;

/* max_event: the largest event accepted (0: 4 MiB). */
void k8s_watch_parser_init(k8s_watch_parser *p, size_t max_event);
void k8s_watch_parser_reset(k8s_watch_parser *p);
void k8s_watch_parser_free(k8s_watch_parser *p);

/* Feeds a chunk; calls cb for each complete event. 0 when all was consumed,
 * -E2BIG when an event passed max_event, -EBADMSG for a line that is not a
 * watch event, -ENOMEM, or the callback's non-zero value. After an error the
 * stream should be dropped (the parser is left reset). */
int k8s_watch_feed(k8s_watch_parser *p, const char *data, size_t len, k8s_watch_event_cb cb,
                   void *arg);

/* Parses one complete event line. */
int k8s_watch_parse_line(const char *line, size_t len, k8s_watch_event_cb cb, void *arg);

#endif
