/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_ERRORS_H
#define EIP_ALIYUN_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

/* Errors of the Alibaba Cloud OpenAPI: the JSON error body and what to do about
 * it. Classification looks at the Code (and the action), not at the HTTP status. */

enum aliyun_err_class {
    ALIYUN_ERR_NONE = 0, /* success */
    ALIYUN_ERR_RETRY,    /* transient: retry the same request with backoff */
    ALIYUN_ERR_DONE,     /* the wanted end state already holds (cleanup): treat as success */
    ALIYUN_ERR_REFRESH,  /* the credential was refused: refresh once and retry, then fatal */
    ALIYUN_ERR_FATAL,    /* retrying cannot help: report Code and Message */
    ALIYUN_ERR_CHECK,    /* the refusal depends on the resource's state: look before deciding
                          * (aliyun/vpc.c does, with DescribeEipAddresses); not retried */
};

/* One failed request. Strings are NUL-terminated and cut to fit. The Message is
 * kept without any "string to sign" echo (it can carry the security token). */
typedef struct aliyun_error {
    int transport;    /* enum http_error of http/client.h; 0 when a response came */
    long http_status; /* 0 when none */
    char code[128];
    char message[512];
    char request_id[80];
    char host_id[128];
    char recommend[256];
} aliyun_error;

/* How aliyun/ classifies a refusal is in aliyun/errors_internal.h
 * (aliyun_error_classify); callers see the class in aliyun_result.cls. */

const char *aliyun_err_class_name(enum aliyun_err_class c);

/* One line for a log or an event: "Code: Message (HTTP 400, RequestId ...)" or
 * "transport: <name>". Returns the length written (cut to cap). */
size_t aliyun_error_format(const aliyun_error *e, char *buf, size_t cap);

#endif
