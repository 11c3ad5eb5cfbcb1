/* SPDX-License-Identifier: MIT */
#include "k8s/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/internal.h"

struct k8s_check {
    k8s_client *c;
    k8s_call *call;
    char node[256];
    char version[64];
    k8s_check_cb cb;
    void *arg;
};

static void finish(k8s_check *chk, bool ok, const char *detail)
{
    k8s_check_cb cb = chk->cb;
    void *arg = chk->arg;
    free(chk);
    cb(ok, detail, arg);
}

/* what: "GET https://host/version" style, the server is prefixed here. */
static void fail(k8s_check *chk, const char *method, const char *what, const k8s_response *resp)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s %s%s failed: %s (%s)", method, k8s_client_config(chk->c)->server,
             what, k8s_result_name(resp->result), resp->status.message);
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
    char msg[512];
    snprintf(msg, sizeof(msg), "API server %s (%s), pods of node %s can be listed",
             k8s_client_config(chk->c)->server, chk->version, chk->node);
    finish(chk, true, msg);
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
    k8s_strlcpy(chk->version, v ? v : "unknown version", sizeof(chk->version));
    char sel[600], path[900];
    char raw[300];
    snprintf(raw, sizeof(raw), "spec.nodeName=%s", chk->node);
    if (!k8s_query_escape(sel, sizeof(sel), raw)) {
        finish(chk, false, "node name too long");
        return;
    }
    snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=%s&limit=1", sel);
    int e = k8s_get(chk->c, path, list_done, chk, &chk->call);
    if (e) {
        char msg[128];
        snprintf(msg, sizeof(msg), "cannot send the pod LIST: %s", strerror(-e));
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
    k8s_strlcpy(chk->node, node_name, sizeof(chk->node));
    int e = k8s_get(c, "/version", version_done, chk, &chk->call);
    if (e) {
        free(chk);
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
    free(chk);
}
