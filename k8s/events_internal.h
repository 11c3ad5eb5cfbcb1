/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_EVENTS_INTERNAL_H
#define EIP_K8S_EVENTS_INTERNAL_H

/* Internal to k8s/ (exposed for its unit tests): the recorder's decisions,
 * without I/O, and the Event object they make. */

#include <jansson.h>
#include <stdint.h>

#include "k8s/events.h"

typedef enum k8s_event_action {
    K8S_EVENT_CREATE,  /* a new Event object */
    K8S_EVENT_PATCH,   /* count and lastTimestamp of an existing one */
    K8S_EVENT_DROPPED, /* the spam filter said no */
} k8s_event_action;

typedef struct k8s_event_decision {
    k8s_event_action action;
    char name[320]; /* the Event's metadata.name */
    char namespace[256];
    int count;
    int64_t first_us; /* firstTimestamp, wall clock */
    int64_t last_us;  /* lastTimestamp */
} k8s_event_decision;

/* Runs the spam filter and the dedup cache for one event (no I/O) and fills
 * out. Used by k8s_recorder_event(). 0, or -EINVAL, -ENOMEM, or -E2BIG when the
 * Event's name or namespace would not fit (they are never cut). */
int k8s_recorder_decide(k8s_recorder *rec, const k8s_object_ref *ref, const char *type,
                        const char *reason, const char *message, k8s_event_decision *out);

/* The Event object for a decision (new reference). */
json_t *k8s_recorder_build(const k8s_recorder *rec, const k8s_object_ref *ref, const char *type,
                           const char *reason, const char *message, const k8s_event_decision *d);

#endif
