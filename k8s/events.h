/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_EVENTS_H
#define EIP_K8S_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/client.h"

/* core/v1 Events about an object, recorded like client-go's EventRecorder:
 *  - name "<object name>.<unix nanoseconds in hex>", source {component, host},
 *    reportingComponent/reportingInstance the same;
 *  - dedup: the same object + type + reason + message seen again within the
 *    dedup window (10 min) bumps count and lastTimestamp with a strategic-merge
 *    PATCH of the existing Event instead of creating one (a 404 on the PATCH
 *    creates it again);
 *  - spam filter: a token bucket per source+object (client-go's
 *    EventSourceObjectSpamFilter: burst 25, one token back every 5 minutes);
 *    an event without a token is dropped;
 *  - both caches are LRU-bounded (4096 entries each, like client-go).
 * Recording is fire-and-forget; failures go to on_error for the caller to log. */

typedef struct k8s_recorder k8s_recorder;

/* The involved object. Strings are borrowed for the duration of the call. */
typedef struct k8s_object_ref {
    const char *kind;        /* "Pod" */
    const char *api_version; /* "v1" */
    const char *namespace;
    const char *name;
    const char *uid;
    const char *resource_version; /* may be NULL */
} k8s_object_ref;

/* Fills ref from an object's metadata (pointers borrowed from obj); kind and
 * apiVersion from the object, else the given defaults. 0 or -EINVAL. */
int k8s_object_ref_from_json(const json_t *obj, const char *kind, const char *api_version,
                             k8s_object_ref *ref);

typedef struct k8s_recorder_opts {
    k8s_client *client;        /* borrowed, outlives the recorder; NULL: decisions only (tests) */
    const char *component;     /* NULL: "eip-agent" */
    const char *host;          /* source.host, e.g. the node name; may be NULL */
    double spam_burst;         /* 0: 25 */
    double spam_refill_per_s;  /* 0: 1/300 (one every 5 minutes) */
    size_t cache_size;         /* per cache; 0: 4096 */
    long long dedup_window_ms; /* 0: 10 minutes */
    /* Clocks (tests); NULL: eip_time_mono_ms() and the wall clock in us. */
    int64_t (*now_mono_ms)(void *clock_arg);
    int64_t (*now_wall_us)(void *clock_arg);
    void *clock_arg;
    /* Each failed create/patch, for the caller to log. May be NULL. */
    void (*on_error)(const char *event_name, k8s_result res, const char *detail, void *arg);
    void *arg;
} k8s_recorder_opts;

/* A recorder. Strings in opts are copied. 0 and *out, or a negative errno with
 * a one-line reason in err (-EINVAL without opts, -ENOMEM); on failure nothing
 * is left allocated. */
int k8s_recorder_new(k8s_recorder **out, const k8s_recorder_opts *opts, char *err, size_t errlen);
/* Cancels what is in flight. NULL is a no-op. */
void k8s_recorder_free(k8s_recorder *rec);

/* Records an event (type "Normal" or "Warning"): 0 when sent or queued,
 * -EAGAIN when the spam filter dropped it, other negative errno on failure. */
int k8s_recorder_event(k8s_recorder *rec, const k8s_object_ref *ref, const char *type,
                       const char *reason, const char *message);

typedef struct k8s_recorder_stats {
    uint64_t created, patched, dropped, failed;
} k8s_recorder_stats;
void k8s_recorder_get_stats(const k8s_recorder *rec, k8s_recorder_stats *out);
/* Creates/patches in flight (tests drive the loop until 0). */
size_t k8s_recorder_pending(const k8s_recorder *rec);

#endif
