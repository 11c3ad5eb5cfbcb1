/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_TRANSPORT_H
#define EIP_ALIYUN_TRANSPORT_H

#include "http/client.h"

/* How aliyun/ sends HTTP requests: http/client.h by default, a fake in unit tests.
 * The three functions have the contracts of http_client_send, http_request_cancel
 * and http_response_header. */
typedef struct aliyun_transport {
    int (*send)(void *ctx, const http_request_opts *opts, http_request **out);
    void (*cancel)(void *ctx, http_request *req);
    const char *(*header)(const http_response *resp, const char *name);
    void *ctx;
} aliyun_transport;

/* A transport over an http_client (not owned). */
aliyun_transport aliyun_transport_http(http_client *client);

#endif
