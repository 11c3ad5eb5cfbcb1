/* SPDX-License-Identifier: MIT */
#include "k8s/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/pct.h"

#define PATH_MAX_BYTES 2048

struct k8s_check {
    k8s_client *c;
    k8s_call *call;
    char *node;
    char *version;
    k8s_check_cb cb;
    void *arg;
};

static void check_free(k8s_check *chk)
{
    free(chk->node);
    free(chk->version);
    free(chk);
}

static void finish(k8s_check *chk, bool ok, const char *detail)
{
    k8s_check_cb cb = chk->cb;
    void *arg = chk->arg;
    check_free(chk);
    cb(ok, detail, arg);
}

/* what: "GET https://host/version" style, the server is prefixed here. */
static void fail(k8s_check *chk, const char *method, const char *what, const k8s_response *resp)
{
    char msg[1024];
    eip_seterr(msg, sizeof(msg), "%s %s%s failed: %s (%s)", method,
               k8s_client_config(chk->c)->server, what, k8s_result_name(resp->result),
               resp->status.message);
    finish(chk, false, msg);
}

static void list_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_check *chk = arg;
    chk->call = NULL;
    if (resp->result != K8S_OK) {
        fail(chk, "LIST", "/api/v1/pods (this node's pods)", resp);
        return;
    }
    if (!json_is_array(json_object_get(resp->json, "items"))) {
        finish(chk, false, "LIST pods: the answer has no items");
        return;
    }
    char msg[1024];
    eip_seterr(msg, sizeof(msg), "API server %s (%s), pods of node %s can be listed",
               k8s_client_config(chk->c)->server, chk->version, chk->node);
    finish(chk, true, msg);
}

/* GET /api/v1/pods?fieldSelector=spec.nodeName%3D<node>&limit=1 */
static int send_list(k8s_check *chk)
{
    static const char sel[] = "spec.nodeName=";
    eip_buf path;
    eip_buf_init(&path, PATH_MAX_BYTES);
    int e = eip_buf_appends(&path, "/api/v1/pods?fieldSelector=");
    if (!e)
        e = eip_pct_encode(&path, sel, sizeof(sel) - 1);
    if (!e)
        e = eip_pct_encode(&path, chk->node, strlen(chk->node));
    if (!e)
        e = eip_buf_appends(&path, "&limit=1");
    if (!e)
        e = k8s_get(chk->c, path.data, list_done, chk, &chk->call);
    eip_buf_free(&path);
    return e;
}

static void version_done(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    k8s_check *chk = arg;
    chk->call = NULL;
    if (resp->result != K8S_OK) {
        fail(chk, "GET", "/version", resp);
        return;
    }
    const char *v = json_string_value(json_object_get(resp->json, "gitVersion"));
    chk->version = strdup(v ? v : "unknown version");
    int e = chk->version ? send_list(chk) : -ENOMEM;
    if (e) {
        char msg[128];
        eip_seterr(msg, sizeof(msg), "cannot send the pod LIST: %s", strerror(-e));
        finish(chk, false, msg);
    }
}

int k8s_check_start(k8s_client *c, const char *node_name, k8s_check_cb cb, void *arg,
                    k8s_check **out)
{
    if (out)
        *out = NULL;
    if (!node_name || !*node_name || strlen(node_name) > 253 || !cb)
        return -EINVAL;
    k8s_check *chk = calloc(1, sizeof(*chk));
    if (!chk)
        return -ENOMEM;
    chk->c = c;
    chk->cb = cb;
    chk->arg = arg;
    chk->node = strdup(node_name);
    int e = chk->node ? k8s_get(c, "/version", version_done, chk, &chk->call) : -ENOMEM;
    if (e) {
        check_free(chk);
        return e;
    }
    if (out)
        *out = chk;
    return 0;
}

void k8s_check_cancel(k8s_check *chk)
{
    if (!chk)
        return;
    k8s_call_cancel(chk->call);
    check_free(chk);
}
