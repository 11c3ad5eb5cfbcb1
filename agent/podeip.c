/* SPDX-License-Identifier: MIT */
#include "agent/podeip.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/str.h"
#include "common/timeutil.h"

/* A conflicting writer (409) is read again this many times before giving up
 * (the caller retries later). */
#define MAX_CONFLICTS 5

/* A value longer than its field (none is, by the CRD's and the cloud's limits)
 * leaves "" rather than a cut value. */
static int copy(char *dst, size_t cap, const char *src)
{
    return eip_strcpy(dst, cap, src);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- JSON ---- */

static int set_str(json_t *o, const char *k, const char *v)
{
    if (!v || !*v)
        return 0;
    return json_object_set_new(o, k, json_string(v));
}

json_t *podeip_build(const char *ns, const char *name, const struct podeip_info *i)
{
    json_t *type = json_pack("{s:s,s:s}", "type", i->type == EIP_ALLOC_STATIC ? "Static" : "Auto",
                             "releaseStrategy", eip_release_strategy_name(i->strategy));
    json_t *spec = json_pack("{s:s}", "allocationID", i->allocation_id);
    json_t *md = json_pack("{s:s,s:s}", "name", name, "namespace", ns);
    json_t *obj = NULL;
    int r = !type || !spec || !md;
    if (!r && i->strategy == EIP_RELEASE_TTL)
        r = set_str(type, "releaseAfter", i->release_after);
    if (!r)
        r = set_str(spec, "bandwidthPackageID", i->bandwidth_package_id);
    if (!r && i->pod_uid[0])
        r = json_object_set_new(md, "annotations",
                                json_pack("{s:s}", PODEIP_ANNOT_POD_UID, i->pod_uid));
    if (!r && json_object_set(spec, "allocationType", type) == 0)
        obj = json_pack("{s:s,s:s,s:O,s:O}", "apiVersion", "alibabacloud.com/v1beta1", "kind",
                        "PodEIP", "metadata", md, "spec", spec);
    json_decref(type);
    json_decref(spec);
    json_decref(md);
    return obj;
}

json_t *podeip_build_status(const struct podeip_info *i)
{
    json_t *st = json_object();
    if (!st)
        return NULL;
    int r = set_str(st, "eipAddress", i->eip_address);
    /* unbound: the ENI and private IP are removed (null in a merge patch) */
    r |= json_object_set_new(st, "networkInterfaceID",
                             i->eni_id[0] ? json_string(i->eni_id) : json_null());
    r |= json_object_set_new(st, "privateIPAddress",
                             i->private_ip[0] ? json_string(i->private_ip) : json_null());
    r |= set_str(st, "isp", i->isp);
    r |= set_str(st, "internetChargeType", i->internet_charge_type);
    r |= set_str(st, "resourceGroupID", i->resource_group_id);
    r |= set_str(st, "name", i->name);
    r |= set_str(st, "publicIpAddressPoolID", i->pool_id);
    r |= set_str(st, "status", i->status);
    r |= set_str(st, "bandwidth", i->bandwidth);
    r |= set_str(st, "bandwidthPackageID", i->bandwidth_package_id);
    if (i->pod_last_seen_ms > 0) {
        char t[40];
        eip_time_format_rfc3339(t, sizeof(t), (time_t)(i->pod_last_seen_ms / 1000));
        r |= json_object_set_new(st, "podLastSeen", json_string(t));
    }
    json_t *out = r ? NULL : json_pack("{s:o}", "status", st);
    if (r)
        json_decref(st);
    return out;
}

int podeip_parse(const json_t *obj, struct podeip_info *out)
{
    memset(out, 0, sizeof(*out));
    const json_t *md = json_object_get(obj, "metadata");
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *at = json_object_get(spec, "allocationType");
    const json_t *st = json_object_get(obj, "status");
    const char *id = jstr(spec, "allocationID");
    if (!id || !*id)
        return -EINVAL;
    out->exists = true;
    out->deleting = json_object_get(md, "deletionTimestamp") != NULL;
    if (copy(out->allocation_id, sizeof(out->allocation_id), id))
        return -EINVAL;
    copy(out->bandwidth_package_id, sizeof(out->bandwidth_package_id),
         jstr(spec, "bandwidthPackageID"));
    const char *type = jstr(at, "type");
    out->type = type && strcmp(type, "Static") == 0 ? EIP_ALLOC_STATIC : EIP_ALLOC_AUTO;
    const char *rs = jstr(at, "releaseStrategy");
    const char *after = jstr(at, "releaseAfter");
    out->strategy = EIP_RELEASE_FOLLOW;
    if (rs && strcmp(rs, "Never") == 0) {
        out->strategy = EIP_RELEASE_NEVER;
    } else if (rs && strcmp(rs, "TTL") == 0) {
        int64_t ms = 0;
        if (after && eip_duration_parse_ms(after, &ms) == 0 && ms > 0) {
            out->strategy = EIP_RELEASE_TTL;
            out->release_after_ms = ms;
            copy(out->release_after, sizeof(out->release_after), after);
        } else {
            /* a TTL without a usable duration: keep the EIP rather than lose it */
            out->strategy = EIP_RELEASE_NEVER;
        }
    }
    copy(out->pod_uid, sizeof(out->pod_uid),
         jstr(json_object_get(md, "annotations"), PODEIP_ANNOT_POD_UID));
    copy(out->eip_address, sizeof(out->eip_address), jstr(st, "eipAddress"));
    copy(out->eni_id, sizeof(out->eni_id), jstr(st, "networkInterfaceID"));
    copy(out->private_ip, sizeof(out->private_ip), jstr(st, "privateIPAddress"));
    copy(out->isp, sizeof(out->isp), jstr(st, "isp"));
    copy(out->internet_charge_type, sizeof(out->internet_charge_type),
         jstr(st, "internetChargeType"));
    copy(out->resource_group_id, sizeof(out->resource_group_id), jstr(st, "resourceGroupID"));
    copy(out->name, sizeof(out->name), jstr(st, "name"));
    copy(out->pool_id, sizeof(out->pool_id), jstr(st, "publicIpAddressPoolID"));
    copy(out->status, sizeof(out->status), jstr(st, "status"));
    copy(out->bandwidth, sizeof(out->bandwidth), jstr(st, "bandwidth"));
    const char *seen = jstr(st, "podLastSeen");
    time_t t;
    if (seen && eip_time_parse_rfc3339(seen, &t) == 0)
        out->pod_last_seen_ms = (int64_t)t * 1000;
    return 0;
}

/* ---- operations ---- */

enum op_kind { K_WRITE, K_READ, K_DELETE, K_SEEN };

enum op_step {
    S_CREATE,     /* POST */
    S_GET,        /* GET the current record */
    S_UPDATE,     /* PUT with the resourceVersion read */
    S_STATUS,     /* merge PATCH of the status subresource */
    S_FINALIZERS, /* merge PATCH dropping ack's finalizer */
    S_DELETE,     /* DELETE with the resourceVersion read as precondition */
};

struct podeip_op {
    enum op_kind kind;
    enum op_step step;
    k8s_client *c;
    char item[600];       /* .../namespaces/NS/podeips/NAME */
    char collection[600]; /* .../namespaces/NS/podeips */
    char ns[254], name[254];
    struct podeip_info want;
    struct podeip_info got;
    char rv[64];
    int conflicts;
    json_t *finalizers; /* K_DELETE: the record's finalizers without ack's */
    k8s_call *call;
    podeip_cb cb;
    void *arg;
};

static int next(podeip_op *op);

static void finish(podeip_op *op, int err, const char *detail, const struct podeip_info *info)
{
    podeip_cb cb = op->cb;
    void *arg = op->arg;
    struct podeip_info copy_of = info ? *info : (struct podeip_info){0};
    json_decref(op->finalizers);
    free(op);
    cb(err, detail, info ? &copy_of : NULL, arg);
}

static void fail_resp(podeip_op *op, const char *what, const k8s_response *resp)
{
    char d[700];
    eip_seterr(d, sizeof(d), "%s: %s%s%s", what, k8s_result_name(resp->result),
               resp->status.message[0] ? ": " : "", resp->status.message);
    finish(op, resp->result == K8S_E_TRANSPORT ? -EIO : -EPROTO, d, NULL);
}

static void go(podeip_op *op, enum op_step s)
{
    op->step = s;
    int r = next(op);
    if (r) {
        char d[120];
        eip_seterr(d, sizeof(d), "cannot send the request: %s", strerror(-r));
        finish(op, r, d, NULL);
    }
}

/* The record read is the one to act on (delete: for this EIP and pod). */
static bool is_ours_to_delete(const podeip_op *op)
{
    if (strcmp(op->got.allocation_id, op->want.allocation_id) != 0)
        return false;
    return !op->got.pod_uid[0] || strcmp(op->got.pod_uid, op->want.pod_uid) == 0;
}

/* Keeps the record's finalizers without ack's in op->finalizers; whether ack's
 * was there. */
static int strip_ack_finalizer(podeip_op *op, const json_t *obj, bool *had)
{
    *had = false;
    json_decref(op->finalizers);
    op->finalizers = json_array();
    if (!op->finalizers)
        return -ENOMEM;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "finalizers"), i, f)
    {
        const char *s = json_string_value(f);
        if (s && strcmp(s, PODEIP_ACK_FINALIZER) == 0)
            *had = true;
        else if (json_array_append(op->finalizers, f))
            return -ENOMEM;
    }
    return 0;
}

static bool spec_matches(const podeip_op *op)
{
    const struct podeip_info *w = &op->want, *g = &op->got;
    return strcmp(w->allocation_id, g->allocation_id) == 0 && w->type == g->type &&
           w->strategy == g->strategy &&
           strcmp(w->bandwidth_package_id, g->bandwidth_package_id) == 0 &&
           (w->strategy != EIP_RELEASE_TTL || strcmp(w->release_after, g->release_after) == 0) &&
           strcmp(w->pod_uid, g->pod_uid) == 0;
}

static void none_found(podeip_op *op)
{
    struct podeip_info none = {.exists = false};
    finish(op, 0, NULL, &none);
}

static void after_create(podeip_op *op, const k8s_response *resp)
{
    if (resp->result == K8S_OK)
        go(op, S_STATUS);
    else if (resp->result == K8S_E_ALREADY_EXISTS)
        go(op, S_GET);
    else
        fail_resp(op, "create", resp);
}

/* What to do with the record just read, by kind of operation. */
static void after_read(podeip_op *op, const k8s_response *resp)
{
    switch (op->kind) {
    case K_READ:
        finish(op, 0, NULL, &op->got);
        return;
    case K_WRITE:
        go(op, spec_matches(op) ? S_STATUS : S_UPDATE);
        return;
    case K_SEEN:
        if (strcmp(op->got.allocation_id, op->want.allocation_id) != 0)
            finish(op, 0, NULL, &op->got); /* another EIP's record now */
        else
            go(op, S_STATUS);
        return;
    case K_DELETE:
        if (!is_ours_to_delete(op)) {
            finish(op, 0, NULL, &op->got);
            return;
        }
        bool had = false;
        if (strip_ack_finalizer(op, resp->json, &had)) {
            finish(op, -ENOMEM, "out of memory", NULL);
            return;
        }
        go(op, had ? S_FINALIZERS : S_DELETE);
        return;
    }
}

static void after_get(podeip_op *op, const k8s_response *resp)
{
    if (resp->result == K8S_E_NOT_FOUND) {
        if (op->kind == K_READ || op->kind == K_DELETE)
            none_found(op);
        else
            go(op, S_CREATE); /* K_WRITE raced a delete; K_SEEN: keep the record */
        return;
    }
    if (resp->result != K8S_OK) {
        fail_resp(op, "read", resp);
        return;
    }
    if (podeip_parse(resp->json, &op->got)) {
        /* not a record we understand: leave it alone */
        if (op->kind == K_READ || op->kind == K_DELETE)
            none_found(op);
        else
            finish(op, -EINVAL, "the existing PodEIP has no spec.allocationID", NULL);
        return;
    }
    copy(op->rv, sizeof(op->rv), jstr(json_object_get(resp->json, "metadata"), "resourceVersion"));
    after_read(op, resp);
}

/* update, finalizer removal and delete: conditional on the version read */
static void after_conditional(podeip_op *op, const k8s_response *resp)
{
    if (resp->result == K8S_E_CONFLICT && ++op->conflicts <= MAX_CONFLICTS) {
        go(op, S_GET);
        return;
    }
    if (op->step == S_DELETE && (resp->result == K8S_OK || resp->result == K8S_E_NOT_FOUND)) {
        none_found(op);
        return;
    }
    if (resp->result != K8S_OK) {
        fail_resp(op,
                  op->step == S_UPDATE   ? "update"
                  : op->step == S_DELETE ? "delete"
                                         : "finalizer",
                  resp);
        return;
    }
    if (op->step == S_FINALIZERS) {
        copy(op->rv, sizeof(op->rv),
             jstr(json_object_get(resp->json, "metadata"), "resourceVersion"));
        go(op, S_DELETE);
    } else {
        go(op, S_STATUS);
    }
}

static void after_status(podeip_op *op, const k8s_response *resp)
{
    if (resp->result == K8S_E_NOT_FOUND && ++op->conflicts <= MAX_CONFLICTS)
        go(op, S_CREATE); /* deleted in between */
    else if (resp->result != K8S_OK)
        fail_resp(op, "status", resp);
    else
        finish(op, 0, NULL, &op->want);
}

static void on_resp(k8s_call *call, const k8s_response *resp, void *arg)
{
    (void)call;
    podeip_op *op = arg;
    op->call = NULL;
    switch (op->step) {
    case S_CREATE:
        after_create(op, resp);
        return;
    case S_GET:
        after_get(op, resp);
        return;
    case S_UPDATE:
    case S_FINALIZERS:
    case S_DELETE:
        after_conditional(op, resp);
        return;
    case S_STATUS:
        after_status(op, resp);
        return;
    }
}

static int send_json(podeip_op *op, const char *method, const char *path, json_t *body,
                     const char *content_type)
{
    if (!body)
        return -ENOMEM;
    k8s_request_opts o = {.method = method,
                          .path = path,
                          .body = body,
                          .content_type = content_type,
                          .on_done = on_resp,
                          .arg = op};
    int r = k8s_request(op->c, &o, &op->call);
    json_decref(body);
    return r;
}

static int next(podeip_op *op)
{
    char path[700];
    switch (op->step) {
    case S_CREATE:
        return send_json(op, "POST", op->collection, podeip_build(op->ns, op->name, &op->want),
                         NULL);
    case S_GET:
        return k8s_get(op->c, op->item, on_resp, op, &op->call);
    case S_UPDATE: {
        json_t *obj = podeip_build(op->ns, op->name, &op->want);
        json_t *md = json_object_get(obj, "metadata");
        if (md && json_object_set_new(md, "resourceVersion", json_string(op->rv))) {
            json_decref(obj);
            obj = NULL;
        }
        return send_json(op, "PUT", op->item, obj, NULL);
    }
    case S_STATUS: {
        int n = snprintf(path, sizeof(path), "%s/status", op->item);
        if (n < 0 || (size_t)n >= sizeof(path))
            return -E2BIG;
        return send_json(op, "PATCH", path, podeip_build_status(&op->want),
                         k8s_patch_content_type(K8S_PATCH_MERGE));
    }
    case S_FINALIZERS: {
        /* A JSON patch that only applies to the version read: the finalizers
         * without ack's (other controllers' finalizers stay). */
        json_t *ops = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:O}]", "op", "test", "path",
                                "/metadata/resourceVersion", "value", op->rv, "op", "replace",
                                "path", "/metadata/finalizers", "value", op->finalizers);
        return send_json(op, "PATCH", op->item, ops, k8s_patch_content_type(K8S_PATCH_JSON));
    }
    case S_DELETE: {
        json_t *opts = json_pack("{s:s,s:s,s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
                                 "preconditions", "resourceVersion", op->rv);
        return send_json(op, "DELETE", op->item, opts, NULL);
    }
    }
    return -EINVAL;
}

static int start(k8s_client *c, enum op_kind kind, enum op_step first, const char *ns,
                 const char *name, const struct podeip_info *want, podeip_cb cb, void *arg,
                 podeip_op **out)
{
    if (!c || !ns || !*ns || !name || !*name || !cb)
        return -EINVAL;
    podeip_op *op = calloc(1, sizeof(*op));
    if (!op)
        return -ENOMEM;
    op->kind = kind;
    op->step = first;
    op->c = c;
    op->cb = cb;
    op->arg = arg;
    copy(op->ns, sizeof(op->ns), ns);
    copy(op->name, sizeof(op->name), name);
    if (want)
        op->want = *want;
    int n1 =
        snprintf(op->collection, sizeof(op->collection), PODEIP_API "/namespaces/%s/podeips", ns);
    int n2 = snprintf(op->item, sizeof(op->item), "%s/%s", op->collection, name);
    int r = (n1 < 0 || (size_t)n1 >= sizeof(op->collection) || n2 < 0 ||
             (size_t)n2 >= sizeof(op->item) || strlen(ns) >= sizeof(op->ns) ||
             strlen(name) >= sizeof(op->name))
                ? -E2BIG
                : next(op);
    if (r) {
        json_decref(op->finalizers);
        free(op);
        return r;
    }
    if (out)
        *out = op;
    return 0;
}

int podeip_write(k8s_client *c, const char *ns, const char *name, const struct podeip_info *i,
                 podeip_cb cb, void *arg, podeip_op **out)
{
    return start(c, K_WRITE, S_CREATE, ns, name, i, cb, arg, out);
}

int podeip_read(k8s_client *c, const char *ns, const char *name, podeip_cb cb, void *arg,
                podeip_op **out)
{
    return start(c, K_READ, S_GET, ns, name, NULL, cb, arg, out);
}

int podeip_delete(k8s_client *c, const char *ns, const char *name, const char *allocation_id,
                  const char *pod_uid, podeip_cb cb, void *arg, podeip_op **out)
{
    struct podeip_info w = {.exists = true};
    copy(w.allocation_id, sizeof(w.allocation_id), allocation_id);
    copy(w.pod_uid, sizeof(w.pod_uid), pod_uid);
    return start(c, K_DELETE, S_GET, ns, name, &w, cb, arg, out);
}

int podeip_mark_seen(k8s_client *c, const char *ns, const char *name, const struct podeip_info *i,
                     int64_t now_ms, podeip_cb cb, void *arg, podeip_op **out)
{
    struct podeip_info w = *i;
    w.pod_last_seen_ms = now_ms;
    return start(c, K_SEEN, S_GET, ns, name, &w, cb, arg, out);
}

void podeip_op_cancel(podeip_op *op)
{
    if (!op)
        return;
    if (op->call)
        k8s_call_cancel(op->call);
    json_decref(op->finalizers);
    free(op);
}
