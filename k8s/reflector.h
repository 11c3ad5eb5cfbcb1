/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_REFLECTOR_H
#define EIP_K8S_REFLECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/client.h"

/* List+watch of one resource collection with client-go's reflector semantics:
 * paged LIST (limit, continue) with resourceVersion "0" first, the last seen
 * one on relist and "" after an Expired/Gone list; WATCH from the last seen
 * resourceVersion with bookmarks and a random timeoutSeconds; a relist after a
 * 410 turns objects missing from the new list into deletions; backoff with
 * jitter on failures; a watch that delivers nothing for longer than its
 * timeout plus a grace is restarted (half-open TCP). The reflector keeps a
 * store of the objects (namespace/name -> object). */

typedef struct k8s_reflector k8s_reflector;

typedef enum k8s_event_type {
    K8S_EVENT_ADDED,
    K8S_EVENT_MODIFIED,
    K8S_EVENT_DELETED, /* with the last known object */
} k8s_event_type;

const char *k8s_event_type_name(k8s_event_type t);

/* The watch reconnect loop. */
typedef enum k8s_reflector_state {
    K8S_REFLECTOR_IDLE,     /* created, not started */
    K8S_REFLECTOR_LISTING,  /* a LIST page is in flight */
    K8S_REFLECTOR_WATCHING, /* a WATCH stream is open */
    K8S_REFLECTOR_BACKOFF,  /* waiting before the next LIST or WATCH */
    K8S_REFLECTOR_STOPPED,
} k8s_reflector_state;

const char *k8s_reflector_state_name(k8s_reflector_state s);

/* obj is borrowed: json_incref it to keep it. old is the object the store
 * held before a MODIFIED (NULL for ADDED and DELETED), like client-go's
 * UpdateFunc(old, new). The callbacks may call k8s_reflector_stop() but not
 * k8s_reflector_free(). */
typedef void (*k8s_reflector_event_cb)(k8s_reflector *r, k8s_event_type type, json_t *obj,
                                       json_t *old, void *arg);
/* After each complete list has been applied to the store. */
typedef void (*k8s_reflector_synced_cb)(k8s_reflector *r, void *arg);
/* Each failure (for the caller to log or count): what failed, the result,
 * and a one-line detail; the reflector retries by itself. */
typedef void (*k8s_reflector_error_cb)(k8s_reflector *r, const char *what, k8s_result res,
                                       const char *detail, void *arg);

typedef struct k8s_reflector_opts {
    k8s_client *client;         /* borrowed: outlives the reflector */
    const char *path;           /* collection, e.g. "/api/v1/pods" */
    const char *field_selector; /* e.g. "spec.nodeName=node-1", or NULL */
    const char *label_selector; /* or NULL */
    unsigned page_size;         /* LIST limit; 0: 500 */
    size_t max_event_bytes;     /* one watch event; 0: 4 MiB */
    int watch_timeout_min_s;    /* timeoutSeconds random in [min,max]; 0: 300 */
    int watch_timeout_max_s;    /* 0: 600 */
    long long watch_grace_ms;   /* dead-watch grace after timeoutSeconds; 0: 30 s */
    long list_timeout_ms;       /* one LIST page; 0: 60 s */
    long long backoff_initial_ms, backoff_max_ms, backoff_reset_ms; /* 0: 800, 30000, 120000 */
    bool keep_managed_fields; /* false: metadata.managedFields is dropped (memory) */
    k8s_reflector_event_cb on_event;
    k8s_reflector_synced_cb on_synced; /* may be NULL */
    k8s_reflector_error_cb on_error;   /* may be NULL */
    void *arg;
} k8s_reflector_opts;

/* A reflector of opts->path, idle until k8s_reflector_start(). Strings in opts
 * are copied. 0 and *out, or a negative errno with a one-line reason in err
 * (-EINVAL without a client or a path starting with "/", -ENOMEM); on failure
 * nothing is left open. */
int k8s_reflector_new(k8s_reflector **out, const k8s_reflector_opts *opts, char *err,
                      size_t errlen);
/* Starts listing. 0 or a negative errno. */
int k8s_reflector_start(k8s_reflector *r);
/* Cancels what is in flight; no callback fires afterwards. The store stays. */
void k8s_reflector_stop(k8s_reflector *r);
/* Stops and releases (memory goes once the loop has closed its timers). NULL ok. */
void k8s_reflector_free(k8s_reflector *r);

k8s_reflector_state k8s_reflector_get_state(const k8s_reflector *r);
/* True once a first list completed. */
bool k8s_reflector_has_synced(const k8s_reflector *r);
/* The last resourceVersion seen ("" before the first list). */
const char *k8s_reflector_resource_version(const k8s_reflector *r);
/* The stored object (borrowed) or NULL; ns NULL for cluster-scoped. */
json_t *k8s_reflector_get(const k8s_reflector *r, const char *ns, const char *name);
size_t k8s_reflector_size(const k8s_reflector *r);
/* Calls cb for every stored object (borrowed); the store must not change
 * from inside cb. */
void k8s_reflector_foreach(const k8s_reflector *r, void (*cb)(json_t *obj, void *arg), void *arg);

/* Counters for tests and metrics. */
typedef struct k8s_reflector_stats {
    uint64_t lists;   /* LIST requests (pages) sent */
    uint64_t relists; /* complete lists after the first */
    uint64_t watches; /* WATCH requests sent */
    uint64_t events;  /* watch events applied (bookmarks excluded) */
    uint64_t bookmarks;
    uint64_t dead_watches; /* watches restarted by the dead-watch timer */
    uint64_t failures;     /* failed requests or streams */
} k8s_reflector_stats;

void k8s_reflector_get_stats(const k8s_reflector *r, k8s_reflector_stats *out);

/* "ns/name" (or "name") of an object into dst; 0, or -EINVAL without a name. */
int k8s_object_key(const json_t *obj, char *dst, size_t cap);

#endif
