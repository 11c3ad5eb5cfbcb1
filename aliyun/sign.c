/* SPDX-License-Identifier: MIT */
#include "aliyun/sign.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/hex.h"
#include "common/pct.h"

#define SIGN_BUF_MAX (1024 * 1024)

void aliyun_params_init(aliyun_params *p)
{
    p->v = NULL;
    p->n = 0;
    p->cap = 0;
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

int aliyun_params_add(aliyun_params *p, const char *key, const char *value)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        aliyun_param *v = realloc(p->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    char *k = strdup(key);
    char *val = strdup(value ? value : "");
    if (!k || !val) {
        free(k);
        free(val);
        return -ENOMEM;
    }
    p->v[p->n].key = k;
    p->v[p->n].value = val;
    p->n++;
    return 0;
}

int aliyun_params_addf(aliyun_params *p, const char *key, const char *fmt, ...)
{
    eip_buf b;
    eip_buf_init(&b, 64 * 1024);
    va_list ap;
    va_start(ap, fmt);
    int r = eip_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    if (r == 0)
        r = aliyun_params_add(p, key, b.data ? b.data : "");
    eip_buf_free(&b);
    return r;
}

int aliyun_params_set(aliyun_params *p, const char *key, const char *value)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].key, key) == 0) {
            char *val = strdup(value ? value : "");
            if (!val)
                return -ENOMEM;
            wipe_free(p->v[i].value);
            p->v[i].value = val;
            return 0;
        }
    }
    return aliyun_params_add(p, key, value);
}

const char *aliyun_params_get(const aliyun_params *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].key, key) == 0)
            return p->v[i].value;
    return NULL;
}

void aliyun_params_remove(aliyun_params *p, const char *key)
{
    size_t j = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].key, key) == 0) {
            free(p->v[i].key);
            wipe_free(p->v[i].value);
            continue;
        }
        p->v[j++] = p->v[i];
    }
    p->n = j;
}

static int param_cmp(const void *a, const void *b)
{
    const aliyun_param *x = a, *y = b;
    int c = strcmp(x->key, y->key); /* strcmp compares as unsigned char: byte order */
    return c ? c : strcmp(x->value, y->value);
}

void aliyun_params_sort(aliyun_params *p)
{
    if (p->n > 1)
        qsort(p->v, p->n, sizeof(*p->v), param_cmp);
}

int aliyun_params_copy(aliyun_params *dst, const aliyun_params *src)
{
    aliyun_params_init(dst);
    for (size_t i = 0; i < src->n; i++) {
        int r = aliyun_params_add(dst, src->v[i].key, src->v[i].value);
        if (r) {
            aliyun_params_free(dst);
            return r;
        }
    }
    return 0;
}

void aliyun_params_free(aliyun_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        wipe_free(p->v[i].value);
    }
    free(p->v);
    aliyun_params_init(p);
}

int aliyun_canonical_query(eip_buf *out, const aliyun_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        int r = 0;
        if (i > 0)
            r = eip_buf_append(out, "&", 1);
        if (!r)
            r = eip_pct_encode(out, p->v[i].key, strlen(p->v[i].key));
        if (!r)
            r = eip_buf_append(out, "=", 1);
        if (!r)
            r = eip_pct_encode(out, p->v[i].value, strlen(p->v[i].value));
        if (r)
            return r;
    }
    return 0;
}

void aliyun_hex_sha256(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data ? data : "", len, md);
    eip_hex_encode(out, md, sizeof(md));
}

int aliyun_sign_rpc_string_to_sign(eip_buf *out, const char *method, const aliyun_params *params)
{
    aliyun_params sorted;
    eip_buf q;
    eip_buf_init(&q, SIGN_BUF_MAX);
    int r = aliyun_params_copy(&sorted, params);
    if (r)
        return r;
    aliyun_params_sort(&sorted);
    r = aliyun_canonical_query(&q, &sorted);
    if (!r)
        r = eip_buf_appends(out, method ? method : "");
    if (!r)
        r = eip_buf_appends(out, "&%2F&");
    if (!r)
        r = eip_pct_encode(out, q.data ? q.data : "", q.len);
    if (q.data)
        OPENSSL_cleanse(q.data, q.len);
    eip_buf_free(&q);
    aliyun_params_free(&sorted);
    return r;
}

int aliyun_sign_rpc(const char *method, const aliyun_params *params, const char *secret, char *sig,
                    size_t cap)
{
    if (!secret || cap < 29)
        return -EINVAL;
    eip_buf sts, key;
    eip_buf_init(&sts, SIGN_BUF_MAX);
    eip_buf_init(&key, 4096);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int r = aliyun_sign_rpc_string_to_sign(&sts, method, params);
    if (!r)
        r = eip_buf_appendf(&key, "%s&", secret);
    if (r)
        goto out;
    if (!HMAC(EVP_sha1(), key.data, (int)key.len, (const unsigned char *)sts.data, sts.len, md,
              &mdlen)) {
        r = -EIO;
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)sig, md, (int)mdlen);
out:
    if (key.data)
        OPENSSL_cleanse(key.data, key.len);
    eip_buf_free(&key);
    eip_buf_free(&sts);
    return r;
}

static bool header_is_signed(const char *lname)
{
    return strcmp(lname, "host") == 0 || strcmp(lname, "content-type") == 0 ||
           strncmp(lname, "x-acs-", 6) == 0;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        return NULL;
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* Value with leading and trailing blanks removed, as the canonical headers need. */
static int append_trimmed(eip_buf *out, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return eip_buf_append(out, v, n);
}

int aliyun_sign_v3_canonical_request(eip_buf *out, eip_buf *signed_headers,
                                     const aliyun_v3_request *req)
{
    aliyun_params q, h;
    aliyun_params_init(&q);
    aliyun_params_init(&h);
    eip_buf sh;
    eip_buf_init(&sh, 64 * 1024);
    int r = 0;
    if (req->query)
        r = aliyun_params_copy(&q, req->query);
    if (r)
        goto out;
    aliyun_params_sort(&q);
    if (req->headers) {
        for (size_t i = 0; i < req->headers->n && !r; i++) {
            char *l = lower_dup(req->headers->v[i].key);
            if (!l) {
                r = -ENOMEM;
                break;
            }
            if (header_is_signed(l))
                r = aliyun_params_add(&h, l, req->headers->v[i].value);
            free(l);
        }
        if (r)
            goto out;
    }
    aliyun_params_sort(&h);

    r = eip_buf_appendf(out, "%s\n%s\n", req->method, req->path && *req->path ? req->path : "/");
    if (!r)
        r = aliyun_canonical_query(out, &q);
    if (!r)
        r = eip_buf_append(out, "\n", 1);
    for (size_t i = 0; i < h.n && !r; i++) {
        r = eip_buf_appendf(out, "%s:", h.v[i].key);
        if (!r)
            r = append_trimmed(out, h.v[i].value);
        if (!r)
            r = eip_buf_append(out, "\n", 1);
        if (!r && i > 0)
            r = eip_buf_append(&sh, ";", 1);
        if (!r)
            r = eip_buf_appends(&sh, h.v[i].key);
    }
    if (!r)
        r = eip_buf_appendf(out, "\n%s\n", sh.data ? sh.data : "");
    if (!r) {
        char hx[65];
        aliyun_hex_sha256(req->body, req->body ? req->body_len : 0, hx);
        r = eip_buf_append(out, hx, 64);
    }
    if (!r && signed_headers)
        r = eip_buf_appends(signed_headers, sh.data ? sh.data : "");
out:
    eip_buf_free(&sh);
    aliyun_params_free(&q);
    aliyun_params_free(&h);
    return r;
}

int aliyun_sign_v3(const aliyun_v3_request *req, const char *access_key_id, const char *secret,
                   char sig[65], eip_buf *authorization)
{
    if (!secret || !access_key_id)
        return -EINVAL;
    eip_buf cr, sh, sts;
    eip_buf_init(&cr, SIGN_BUF_MAX);
    eip_buf_init(&sh, 64 * 1024);
    eip_buf_init(&sts, 1024);
    int r = aliyun_sign_v3_canonical_request(&cr, &sh, req);
    if (r)
        goto out;
    char hx[65];
    aliyun_hex_sha256(cr.data, cr.len, hx);
    r = eip_buf_appendf(&sts, "ACS3-HMAC-SHA256\n%s", hx);
    if (r)
        goto out;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)sts.data, sts.len,
              md, &mdlen)) {
        r = -EIO;
        goto out;
    }
    eip_hex_encode(sig, md, mdlen);
    if (authorization)
        r = eip_buf_appendf(authorization,
                            "ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s",
                            access_key_id, sh.data ? sh.data : "", sig);
out:
    eip_buf_free(&cr);
    eip_buf_free(&sh);
    eip_buf_free(&sts);
    return r;
}
