/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "agent/agent_internal.h"
#include "common/buf.h"

/* GET /healthz, /readyz, /metrics. */

#define METRICS_MAX_BYTES (16u << 20)

static void on_healthz(http_exchange *ex, void *arg)
{
    (void)arg;
    http_exchange_reply(ex, 200, "text/plain; charset=utf-8", "ok", 2);
}

static void on_readyz(http_exchange *ex, void *arg)
{
    struct agent *a = arg;
    json_t *j = readiness_json(a->ready);
    if (!j) {
        http_exchange_reply_error(ex, 500, "out of memory");
        return;
    }
    http_exchange_reply_json(ex, readiness_ready(a->ready) ? 200 : 503, j);
}

static void on_metrics(http_exchange *ex, void *arg)
{
    struct agent *a = arg;
    eip_buf b;
    eip_buf_init(&b, METRICS_MAX_BYTES);
    int r = metrics_render(a->metrics, &b);
    if (r)
        http_exchange_reply_error(ex, 500, r == -E2BIG ? "metrics too large" : "out of memory");
    else
        http_exchange_reply(ex, 200, METRICS_CONTENT_TYPE, b.data ? b.data : "", b.len);
    eip_buf_free(&b);
}

int agent_health_routes(struct agent *a)
{
    int r = http_server_route(a->server, "/healthz", on_healthz, a);
    if (!r)
        r = http_server_route(a->server, "/readyz", on_readyz, a);
    if (!r)
        r = http_server_route(a->server, "/metrics", on_metrics, a);
    return r;
}
