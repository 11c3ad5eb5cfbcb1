/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_EIPWATCH_H
#define EIP_AGENT_EIPWATCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "aliyun/vpc.h"

/* One poller for the node: every EIP someone waits on (Associating,
 * Unassociating, a Static EIP to look at) is described together. A request
 * names an AllocationId and when it wants an answer; when the earliest is due,
 * every request due within the batching window goes out with it, at most
 * ALIYUN_DESCRIBE_MAX_IDS distinct AllocationIds per DescribeEipAddresses. A
 * burst of 200 associations costs a handful of describes, not 200. */

typedef struct eipwatch eipwatch;
typedef struct eipwatch_req eipwatch_req;

/* The answer for one request, from the loop: err 0 and eip (borrowed for the
 * call), or err 0 and eip NULL when the cloud does not know the AllocationId, or
 * err < 0 when the describe failed (res says why). The request is gone after
 * the call. */
typedef void (*eipwatch_cb)(int err, const aliyun_eip *eip, const aliyun_result *res, void *arg);

typedef struct eipwatch_opts {
    uv_loop_t *loop;
    aliyun_client *client; /* borrowed */
    int64_t window_ms;     /* requests due this soon after the earliest ride along; 0: 250 */
} eipwatch_opts;

/* 0 and *out, or -ENOMEM / -EINVAL. */
int eipwatch_new(eipwatch **out, const eipwatch_opts *opts);
/* Cancels every request (no callback fires) and frees once the loop closed the
 * timer. NULL is a no-op. */
void eipwatch_free(eipwatch *w);

/* Asks for allocation_id to be described delay_ms from now (0: as soon as the
 * batching window allows). The callback comes later from the loop, exactly
 * once, unless cancelled. 0 and *out (may be NULL), or -EINVAL/-ENOMEM and no
 * callback. */
int eipwatch_describe(eipwatch *w, const char *allocation_id, int64_t delay_ms, eipwatch_cb cb,
                      void *arg, eipwatch_req **out);
/* No callback after this; safe from inside any eipwatch callback. */
void eipwatch_cancel(eipwatch_req *r);

/* While more answers are about to be wanted (pods still waiting to allocate or
 * associate), a due request is held up to hold_ms longer so that the describe
 * covers more of them: a burst paced by the cloud's rate limits costs few
 * describes, and adds nothing to how long the burst takes. A full batch (the id
 * limit) goes out at once. 0 (the default): no holding. */
void eipwatch_set_hold(eipwatch *w, int64_t hold_ms);

typedef struct eipwatch_stats {
    uint64_t describes; /* DescribeEipAddresses calls sent */
    uint64_t answered;  /* requests answered */
    size_t pending;     /* requests waiting or in flight */
} eipwatch_stats;
void eipwatch_get_stats(const eipwatch *w, eipwatch_stats *out);

#endif
