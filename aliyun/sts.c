/* SPDX-License-Identifier: MIT */
#include "aliyun/sts_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "aliyun/client_internal.h"
#include "aliyun/credentials_internal.h"
#include "aliyun/errors_internal.h"
#include "aliyun/sign.h"
#include "common/err.h"
#include "common/json.h"

/* A URL built from the configured endpoint is refused past this (-E2BIG). */
#define STS_URL_MAX (8 * 1024)

typedef struct oidc_req {
    aliyun_oidc_cb cb;
    void *arg;
    char *token; /* to redact from error messages */
} oidc_req;

static void oidc_req_free(oidc_req *o)
{
    if (o->token) {
        OPENSSL_cleanse(o->token, strlen(o->token));
        free(o->token);
    }
    free(o);
}

static void on_oidc(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    oidc_req *o = arg;
    aliyun_error e;
    memset(&e, 0, sizeof(e));
    aliyun_credential cred = {0};
    int err = 0;
    if (resp->error) {
        e.transport = resp->error;
        err = -EIO;
    } else if (resp->status == 200) {
        json_error_t jerr;
        json_t *root = NULL;
        if (eip_json_loadb(resp->body, resp->body_len, 0, &root, &jerr) ||
            aliyun_parse_sts_credentials(root, &cred)) {
            e.http_status = resp->status;
            eip_seterr(e.code, sizeof(e.code), "%s", "InvalidResponse");
            eip_seterr(e.message, sizeof(e.message), "%s",
                       "AssumeRoleWithOIDC answered without Credentials");
            err = -EPROTO;
        }
        json_decref(root);
    } else {
        aliyun_error_parse(&e, resp->status, resp->body, resp->body_len);
        aliyun_redact(e.message, o->token);
        aliyun_redact(e.recommend, o->token);
        err = -EIO;
    }
    o->cb(err, err ? NULL : &cred, err ? &e : NULL, o->arg);
    aliyun_credential_clear(&cred);
    oidc_req_free(o);
}

/* The form of the request: anonymous RPC style, the token is the proof. */
static int oidc_form(const aliyun_oidc_params *p, eip_buf *body)
{
    aliyun_params q;
    aliyun_params_init(&q);
    int r = aliyun_rpc_common_params(&q, "AssumeRoleWithOIDC", "2015-04-01");
    if (!r)
        r = aliyun_params_add(&q, "RoleArn", p->role_arn);
    if (!r)
        r = aliyun_params_add(&q, "OIDCProviderArn", p->oidc_provider_arn);
    if (!r)
        r = aliyun_params_add(&q, "OIDCToken", p->oidc_token);
    if (!r)
        r = aliyun_params_add(&q, "RoleSessionName",
                              p->role_session_name ? p->role_session_name : "eip-agent");
    if (!r && p->duration_seconds > 0)
        r = aliyun_params_addf(&q, "DurationSeconds", "%d", p->duration_seconds);
    if (!r) {
        aliyun_params_sort(&q);
        r = aliyun_canonical_query(body, &q);
    }
    aliyun_params_free(&q);
    return r;
}

int aliyun_sts_assume_role_with_oidc(const aliyun_transport *tr, const aliyun_oidc_params *p,
                                     aliyun_oidc_cb cb, void *arg, http_request **out)
{
    if (!tr || !p || !p->endpoint || !p->role_arn || !p->oidc_provider_arn || !p->oidc_token || !cb)
        return -EINVAL;
    oidc_req *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->cb = cb;
    o->arg = arg;
    o->token = strdup(p->oidc_token);
    eip_buf body, url;
    eip_buf_init(&body, 256 * 1024);
    eip_buf_init(&url, STS_URL_MAX);
    size_t l = strlen(p->endpoint);
    while (l > 0 && p->endpoint[l - 1] == '/')
        l--;
    int r = o->token ? 0 : -ENOMEM;
    if (!r)
        r = oidc_form(p, &body);
    if (!r)
        r = eip_buf_append(&url, p->endpoint, l);
    if (!r)
        r = eip_buf_append(&url, "/", 1);
    if (!r) {
        const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                              "Accept: application/json", NULL};
        http_request_opts ho = {
            .method = "POST",
            .url = url.data,
            .headers = hdrs,
            .body = body.data ? body.data : "",
            .body_len = body.len,
            .connect_timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 10000,
            .timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 10000,
            .max_response_bytes = 64 * 1024,
            .ca_file = p->ca_file,
            .on_done = on_oidc,
            .arg = o,
        };
        r = tr->send(tr->ctx, &ho, out);
    }
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    eip_buf_free(&body);
    eip_buf_free(&url);
    if (r)
        oidc_req_free(o);
    return r;
}
