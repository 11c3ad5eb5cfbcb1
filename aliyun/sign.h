/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_SIGN_H
#define EIP_ALIYUN_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Alibaba Cloud OpenAPI request signing: the RPC style (SignatureVersion 1.0,
 * HMAC-SHA1) and V3 (ACS3-HMAC-SHA256). Pure functions, no I/O, no clock:
 * nonce and timestamp are inputs so that published vectors can be reproduced. */

/* An ordered list of string pairs (query parameters or headers). Owns copies. */
typedef struct aliyun_param {
    char *key;
    char *value;
} aliyun_param;

typedef struct aliyun_params {
    aliyun_param *v;
    size_t n, cap;
} aliyun_params;

void aliyun_params_init(aliyun_params *p);
/* Appends a copy of key/value (value NULL counts as ""). 0 or -ENOMEM. */
int aliyun_params_add(aliyun_params *p, const char *key, const char *value);
int aliyun_params_addf(aliyun_params *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Replaces the value of the first pair named key, or appends it. */
int aliyun_params_set(aliyun_params *p, const char *key, const char *value);
/* Value of the first pair named key (exact match), or NULL. */
const char *aliyun_params_get(const aliyun_params *p, const char *key);
/* Removes every pair named key; wipes the value first. */
void aliyun_params_remove(aliyun_params *p, const char *key);
/* Sorts by key in byte order (then by value), as both signatures need. */
void aliyun_params_sort(aliyun_params *p);
int aliyun_params_copy(aliyun_params *dst, const aliyun_params *src);
/* Frees and wipes every value (they may hold tokens). NULL is a no-op. */
void aliyun_params_free(aliyun_params *p);

/* Appends "k1=v1&k2=v2" with every key and value percent-encoded as Alibaba Cloud
 * documents it (common/pct.h: A-Z a-z 0-9 - _ . ~ kept, every other byte as %XY,
 * so space is %20 and '*' is %2A), in the order of p (sort first for a canonical
 * string). Empty values give "k=". 0, -ENOMEM or -E2BIG. */
int aliyun_canonical_query(eip_buf *out, const aliyun_params *p);

/* Lower-case hex SHA-256 of data (out has room for 65 bytes). */
void aliyun_hex_sha256(const void *data, size_t len, char out[65]);

/* ---- RPC style, SignatureVersion 1.0 ---- */

/* StringToSign = METHOD + "&" + encode("/") + "&" + encode(canonical query) where
 * the canonical query is built from params sorted by key (params is not modified). */
int aliyun_sign_rpc_string_to_sign(eip_buf *out, const char *method, const aliyun_params *params);
/* Base64(HMAC-SHA1(secret + "&", StringToSign)) into sig (cap >= 29). 0 or -errno. */
int aliyun_sign_rpc(const char *method, const aliyun_params *params, const char *secret, char *sig,
                    size_t cap);

/* ---- V3, ACS3-HMAC-SHA256 ---- */

typedef struct aliyun_v3_request {
    const char *method;           /* upper case */
    const char *path;             /* "/" for RPC-style APIs */
    const aliyun_params *query;   /* may be NULL */
    const aliyun_params *headers; /* every header to send; must include host and x-acs-* */
    const char *body;             /* may be NULL */
    size_t body_len;
} aliyun_v3_request;

/* The canonical request; signed_headers (may be NULL) gets "host;x-acs-...". Signed
 * headers are host, content-type and every x-acs-* header, lower-cased, sorted. */
int aliyun_sign_v3_canonical_request(eip_buf *out, eip_buf *signed_headers,
                                     const aliyun_v3_request *req);
/* hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(sha256(canonical request)))) into
 * sig (65 bytes), and when authorization is non-NULL appends the Authorization value
 * "ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=...,Signature=...". */
int aliyun_sign_v3(const aliyun_v3_request *req, const char *access_key_id, const char *secret,
                   char sig[65], eip_buf *authorization);

#endif
