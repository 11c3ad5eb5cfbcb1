/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_FUZZ_SUPPORT_TRANSPORT_H
#define EIP_TESTS_FUZZ_SUPPORT_TRANSPORT_H

/* A fake aliyun_transport whose answers come from the fuzz input: each request
 * takes the next answer (two bytes of status, 0 meaning a transport error; two
 * bytes of body length; the body) and gets it from the loop (a 0 ms timer).
 * Once the input is used up, or after max_requests, every request gets
 * default_status with default_body. Headers are never found. */

#include <stdbool.h>
#include <uv.h>

#include "aliyun/transport.h"
#include "fuzz.h"

typedef struct fuzz_transport {
    uv_loop_t *loop;
    fuzz_in *in;
    int max_requests;
    long default_status;
    const char *default_body;
    int sent; /* requests so far */
} fuzz_transport;

aliyun_transport fuzz_transport_get(fuzz_transport *ft);

#endif
