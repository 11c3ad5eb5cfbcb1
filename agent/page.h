/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_PAGE_H
#define EIP_AGENT_PAGE_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"

/* The status page for people (GET /): one self-contained HTML document, no
 * script and no external asset (a Content-Security-Policy meta tag forbids
 * both), refreshing itself every PAGE_REFRESH_S seconds. It shows the node, the
 * agent's readiness and a table of the node's EIP pods (state, EIP, ENI,
 * strategy, time to bind). Rendered on the server from the same documents as
 * /readyz and /v1/pods, every value escaped for HTML. */

#define PAGE_REFRESH_S 5
/* Rows shown at most; the rest is counted and left to /v1/pods. */
#define PAGE_MAX_ROWS 1000
/* The most bytes a page may take (a full table of worst-case rows fits). */
#define PAGE_MAX_BYTES (16u << 20)

/* Appends the page to b.
 *   node:  the node's name (may be NULL)
 *   ready: the readiness_json() document ({"ready": bool, "reasons": [...]})
 *   pods:  the api_pods_json() document ({"node", "pods": [...]}); NULL when the
 *          eip controller is not enabled (an empty table and a note)
 *   now_ms: wall clock, for the "for 12s" ages of each state
 * Everything is borrowed. 0, -ENOMEM or -E2BIG (b's maximum reached; b then
 * holds a cut page and should not be sent). */
int agent_page_render(eip_buf *b, const char *node, const json_t *ready, const json_t *pods,
                      int64_t now_ms);

#endif
