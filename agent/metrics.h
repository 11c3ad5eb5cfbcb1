/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_METRICS_H
#define EIP_AGENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* A small Prometheus registry: metric families (counter or gauge) with a fixed
 * set of label names, one series per distinct label-value tuple, rendered in
 * text exposition format 0.0.4. Series are created on first use; keep label
 * values bounded (route patterns, action names, status codes: never raw paths
 * or pod names). Single-threaded, like the rest of the agent. */

typedef struct metrics metrics;
typedef struct metric_family metric_family;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The most series one family holds; past it, updates of new series fail with -E2BIG. */
#define METRICS_MAX_SERIES 10000

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* Called at the start of every render, to refresh gauges (process metrics...). */
typedef void (*metrics_collect_cb)(metrics *m, void *arg);

/* 0 and *out, or -ENOMEM. */
int metrics_new(metrics **out);
/* Frees the registry and every family and series. NULL is a no-op. */
void metrics_free(metrics *m);

/* Registers a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels: NULL-terminated
 * list of label names ([a-zA-Z_][a-zA-Z0-9_]*, not "__*"), or NULL for none.
 * The family is owned by the registry. NULL on a bad name, a name already
 * registered, or allocation failure. */
metric_family *metrics_register(metrics *m, enum metric_type type, const char *name,
                                const char *help, const char *const *labels);
/* Registers a histogram: bounds are the finite upper bounds of the buckets, strictly
 * increasing (the +Inf bucket is implicit); labels may not include "le". Samples
 * render as <name>_bucket{...,le="b"} (cumulative), <name>_sum and <name>_count.
 * NULL on bad arguments or allocation failure. */
metric_family *metrics_register_histogram(metrics *m, const char *name, const char *help,
                                          const char *const *labels, const double *bounds,
                                          size_t n_bounds);
/* Looks a family up by name (for components that share one). */
metric_family *metrics_find(metrics *m, const char *name);

/* values: one per label name, in order (NULL when the family has no labels).
 * Counters only go up: metrics_add with a negative or NaN delta is -EINVAL.
 * 0, -EINVAL, -E2BIG (too many series) or -ENOMEM. */
int metrics_add(metric_family *f, const char *const *values, double delta);
int metrics_inc(metric_family *f, const char *const *values);
/* Gauges; or a counter mirrored from a source that counts itself (the kernel's
 * CPU time), in which case the caller keeps it monotonic. */
int metrics_set(metric_family *f, const char *const *values, double v);
/* Histograms: one observation. 0, -EINVAL (not a histogram, NaN), -E2BIG or -ENOMEM.
 * metrics_add/metrics_set on a histogram are -EINVAL. */
int metrics_observe(metric_family *f, const char *const *values, double v);
/* The number of observations of a histogram series (tests). */
uint64_t metrics_get_count(const metric_family *f, const char *const *values);
/* The current value of a series (a histogram's: the sum), 0 when it does not exist (tests). */
double metrics_get(const metric_family *f, const char *const *values);

/* Adds a collector; free_arg (may be NULL) is called on arg by metrics_free.
 * 0 or -ENOMEM (then free_arg is not called). */
int metrics_add_collector(metrics *m, metrics_collect_cb cb, void (*free_arg)(void *arg),
                          void *arg);

/* Appends the exposition text of every family (in registration order, series in
 * creation order): # HELP, # TYPE, then the samples. 0 or the eip_buf error. */
int metrics_render(metrics *m, eip_buf *out);

/* Registers and maintains process_resident_memory_bytes, process_cpu_seconds_total,
 * process_start_time_seconds, process_open_fds, process_max_fds (from /proc).
 * 0 or -ENOMEM. */
int metrics_register_process(metrics *m);

#endif
