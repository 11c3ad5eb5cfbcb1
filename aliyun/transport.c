/* SPDX-License-Identifier: MIT */
#include "aliyun/transport.h"

static int http_send(void *ctx, const http_request_opts *opts, http_request **out)
{
    return http_client_send(ctx, opts, out);
}

static void http_cancel(void *ctx, http_request *req)
{
    (void)ctx;
    http_request_cancel(req);
}

aliyun_transport aliyun_transport_http(http_client *client)
{
    aliyun_transport t = {
        .send = http_send, .cancel = http_cancel, .header = http_response_header, .ctx = client};
    return t;
}
