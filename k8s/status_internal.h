/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_STATUS_INTERNAL_H
#define EIP_K8S_STATUS_INTERNAL_H

/* Internal to k8s/ (exposed for its unit tests and fuzzers): reading the
 * metav1.Status of a failed call and classifying it. */

#include <jansson.h>
#include <stddef.h>

#include "k8s/status.h"

/* Fills st from a Status object (json may be NULL or not a Status: then only
 * http_status is used). */
void k8s_status_from_json(const json_t *json, long http_status, k8s_status *st);
/* Same from a raw body (parsed leniently, never fails). */
void k8s_status_from_body(const char *body, size_t len, long http_status, k8s_status *st);

/* The result class of an HTTP status plus Status reason (409 splits into
 * conflict / already-exists; 410 and a 500/other carrying reason Expired or
 * Gone is K8S_E_GONE). */
k8s_result k8s_result_from_status(long http_status, const char *reason);

/* Retry-After header value (delta-seconds) in ms, or -1 when absent/invalid. */
long long k8s_parse_retry_after(const char *value);

#endif
