/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_ALIYUN_SUPPORT_FAKE_H
#define EIP_TESTS_ALIYUN_SUPPORT_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "aliyun/transport.h"

/* A fake HTTP transport on a real uv loop: every request is recorded and answered
 * after delay_ms (a uv timer) with what the responder returns. When memory runs
 * out (the allocation-failure walks of tests/unit/alloc/) a send is refused with
 * -ENOMEM, as http_client_send would: nothing recorded, no callback. */

typedef struct fake_reply {
    long status;
    const char *body;
    size_t body_len;         /* 0: strlen(body) (set it for a body holding NUL bytes) */
    const char *retry_after; /* x-acs-retry-after, NULL: none */
    int transport_error;     /* enum http_error, 0: a response */
    uint64_t delay_ms;
} fake_reply;

typedef struct fake_transport fake_transport;

typedef struct fake_req {
    fake_transport *ft;
    size_t index;
    char *method, *url, *body;
    char **headers;
    size_t n_headers;
    int64_t sent_ms; /* uv_now at send */
    http_done_cb on_done;
    void *arg;
    fake_reply reply;
    bool cancelled, answered;
    uv_timer_t timer;
} fake_req;

typedef fake_reply (*fake_responder)(fake_transport *ft, const fake_req *req, void *arg);

struct fake_transport {
    uv_loop_t *loop;
    fake_responder responder;
    void *arg;
    fake_req **reqs;
    size_t n, cap;
    int active, max_active;
};

void fake_init(fake_transport *ft, uv_loop_t *loop, fake_responder responder, void *arg);
aliyun_transport fake_get(fake_transport *ft);
/* Closes the timers (runs the loop to finish) and frees every record. */
void fake_free(fake_transport *ft);
/* Value of header name (case-insensitive) sent with req, or NULL. */
const char *fake_req_header(const fake_req *req, const char *name);
/* Value of parameter name in the query string or form body, decoded only for
 * plain values (tests use unreserved characters); NULL when absent. Static buffer. */
const char *fake_req_param(const fake_req *req, const char *name);

#endif
