/* SPDX-License-Identifier: MIT */
#include "aliyun/vpc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/vpc_internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

/* ---- parsing ---- */

/* A string field as a new string: strings as they are, numbers printed, else "". */
static char *field_dup(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    char num[64];
    const char *s = "";
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_integer(v)) {
        int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = n > 0 && (size_t)n < sizeof(num) ? num : "";
    } else if (json_is_real(v)) {
        int n = snprintf(num, sizeof(num), "%g", json_real_value(v));
        s = n > 0 && (size_t)n < sizeof(num) ? num : "";
    }
    return strdup(s);
}

void aliyun_eip_clear(aliyun_eip *e)
{
    if (!e)
        return;
    char **f[] = {&e->allocation_id,
                  &e->ip_address,
                  &e->status,
                  &e->instance_id,
                  &e->instance_type,
                  &e->private_ip_address,
                  &e->bandwidth,
                  &e->internet_charge_type,
                  &e->isp,
                  &e->name,
                  &e->description,
                  &e->resource_group_id,
                  &e->bandwidth_package_id,
                  &e->public_ip_address_pool_id,
                  &e->mode};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
    for (size_t i = 0; i < e->n_tags; i++) {
        free(e->tags[i].key);
        free(e->tags[i].value);
    }
    free(e->tags);
    e->tags = NULL;
    e->n_tags = 0;
}

void aliyun_eip_page_clear(aliyun_eip_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        aliyun_eip_clear(&p->eips[i]);
    free(p->eips);
    memset(p, 0, sizeof(*p));
}

const char *aliyun_eip_tag(const aliyun_eip *e, const char *key)
{
    for (size_t i = 0; i < e->n_tags; i++)
        if (strcmp(e->tags[i].key, key) == 0)
            return e->tags[i].value;
    return NULL;
}

/* json_unpack_ex failed for want of memory (jansson's own), not for a field:
 * never to be read as a field that is absent. */
static bool unpack_oom(const json_error_t *e)
{
    return json_error_code(e) == json_error_out_of_memory;
}

int aliyun_parse_eip(json_t *obj, aliyun_eip *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    const char *aid = NULL;
    if (json_unpack_ex(obj, &jerr, 0, "{s:s}", "AllocationId", &aid))
        return unpack_oom(&jerr) ? -ENOMEM : -EINVAL;
    if (!*aid)
        return -EINVAL;
    out->allocation_id = field_dup(obj, "AllocationId");
    out->ip_address = field_dup(obj, "IpAddress");
    out->status = field_dup(obj, "Status");
    out->instance_id = field_dup(obj, "InstanceId");
    out->instance_type = field_dup(obj, "InstanceType");
    out->private_ip_address = field_dup(obj, "PrivateIpAddress");
    out->bandwidth = field_dup(obj, "Bandwidth");
    out->internet_charge_type = field_dup(obj, "InternetChargeType");
    out->isp = field_dup(obj, "ISP");
    out->name = field_dup(obj, "Name");
    /* the published response spells it "Descritpion"; accept both */
    out->description =
        field_dup(obj, json_object_get(obj, "Description") ? "Description" : "Descritpion");
    out->resource_group_id = field_dup(obj, "ResourceGroupId");
    out->bandwidth_package_id = field_dup(obj, "BandwidthPackageId");
    out->public_ip_address_pool_id = field_dup(obj, "PublicIpAddressPoolId");
    out->mode = field_dup(obj, "Mode");
    int r = 0;
    if (!out->allocation_id || !out->ip_address || !out->status || !out->instance_id ||
        !out->instance_type || !out->private_ip_address || !out->bandwidth ||
        !out->internet_charge_type || !out->isp || !out->name || !out->description ||
        !out->resource_group_id || !out->bandwidth_package_id || !out->public_ip_address_pool_id ||
        !out->mode)
        r = -ENOMEM;
    json_t *tags = NULL;
    if (!r && json_unpack_ex(obj, &jerr, 0, "{s:{s:o}}", "Tags", "Tag", &tags) && unpack_oom(&jerr))
        r = -ENOMEM; /* not "no tags": the tags say whose EIP it is */
    if (!r && json_is_array(tags) && json_array_size(tags) > 0) {
        out->tags = calloc(json_array_size(tags), sizeof(*out->tags));
        if (!out->tags)
            r = -ENOMEM;
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t)
        {
            if (r)
                break;
            const char *k = NULL, *v = "";
            if (json_unpack_ex(t, &jerr, 0, "{s:s, s?s}", "Key", &k, "Value", &v)) {
                if (unpack_oom(&jerr))
                    r = -ENOMEM;
                continue;
            }
            aliyun_kv *kv = &out->tags[out->n_tags];
            kv->key = strdup(k);
            kv->value = strdup(v ? v : "");
            out->n_tags++;
            if (!kv->key || !kv->value)
                r = -ENOMEM;
        }
    }
    if (r)
        aliyun_eip_clear(out);
    return r;
}

int aliyun_parse_eip_page(json_t *root, aliyun_eip_page *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *arr = NULL;
    json_int_t total = 0, page = 0, size = 0;
    if (json_unpack_ex(root, &jerr, 0, "{s:{s:o}, s?I, s?I, s?I}", "EipAddresses", "EipAddress",
                       &arr, "TotalCount", &total, "PageNumber", &page, "PageSize", &size))
        return unpack_oom(&jerr) ? -ENOMEM : -EINVAL;
    if (!json_is_array(arr))
        return -EINVAL;
    out->total_count = (long)total;
    out->page_number = (long)page;
    out->page_size = (long)size;
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    out->eips = calloc(n, sizeof(*out->eips));
    if (!out->eips)
        return -ENOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        int r = aliyun_parse_eip(e, &out->eips[out->n]);
        if (r) {
            aliyun_eip_page_clear(out);
            return r;
        }
        out->n++;
    }
    return 0;
}

/* ---- request helpers ---- */

static int add_opt(aliyun_params *p, const char *key, const char *value)
{
    if (!value || !*value)
        return 0;
    return aliyun_params_add(p, key, value);
}

/* "<prefix>.<n><suffix>" (a repeated parameter's name) into buf: 0 or -E2BIG. */
static int param_name(char *buf, size_t cap, const char *prefix, size_t n, const char *suffix)
{
    int w = snprintf(buf, cap, "%s.%zu%s", prefix, n, suffix);
    return w < 0 || (size_t)w >= cap ? -E2BIG : 0;
}

static int add_tags(aliyun_params *p, const aliyun_tag *tags, size_t n)
{
    int r = 0;
    for (size_t i = 0; i < n && !r; i++) {
        char k[48], v[48];
        if (!tags[i].key || !*tags[i].key)
            return -EINVAL;
        r = param_name(k, sizeof(k), "Tag", i + 1, ".Key");
        if (!r)
            r = param_name(v, sizeof(v), "Tag", i + 1, ".Value");
        if (r)
            return r;
        r = aliyun_params_add(p, k, tags[i].key);
        if (!r && tags[i].value)
            r = aliyun_params_add(p, v, tags[i].value);
    }
    return r;
}

static int add_region(aliyun_client *c, aliyun_params *p, const char *region_id)
{
    return aliyun_params_add(p, "RegionId",
                             region_id && *region_id ? region_id : aliyun_client_region(c));
}

/* A result that failed here (a response we cannot use), from the call's result. */
static aliyun_result local_failure(const aliyun_result *res, int status, const char *code)
{
    aliyun_result bad = *res;
    bad.status = status;
    bad.cls = ALIYUN_ERR_FATAL;
    if (code)
        eip_seterr(bad.error.code, sizeof(bad.error.code), "%s", code);
    return bad;
}

/* ---- typed completions ---- */

enum typed_kind { T_DONE, T_ALLOCATE, T_PAGE, T_VERIFY };

/* The actions whose state refusals (cls CHECK) are decided by a look at the EIP. */
enum verify_op { V_ASSOCIATE, V_UNASSOCIATE, V_RELEASE };

/* Where a verified call (associate, unassociate, release) is; verify_set_step()
 * is the only writer:
 *   ACT -> DESCRIBE   the action was refused with a state error (cls CHECK):
 *                     DescribeEipAddresses of the EIP on the same call
 *   DESCRIBE -> ACT   the EIP is ready for the action after all: sent again
 *                     (at most twice in all)
 *   ACT|DESCRIBE -> DONE  an outcome for the caller's callback */
enum verify_step { VERIFY_ACT, VERIFY_DESCRIBE, VERIFY_DONE };

typedef struct typed_ctx {
    enum typed_kind kind;
    union {
        aliyun_done_cb done;
        aliyun_allocate_cb allocate;
        aliyun_eip_page_cb page;
    } cb;
    void *arg;
    aliyun_call *call;
    /* T_VERIFY: the request, to look at the EIP after a state refusal and to send
     * it again when the EIP turns out to be ready for it */
    enum verify_op op;
    aliyun_params req;
    enum verify_step step;
    int rounds; /* the action sent again */
    aliyun_error refusal;
} typed_ctx;

static void typed_free(void *arg)
{
    typed_ctx *t = arg;
    aliyun_params_free(&t->req);
    free(t);
}

static void verify_done(typed_ctx *t, const aliyun_result *res, json_t *body);

static void allocated(typed_ctx *t, const aliyun_result *res, json_t *body)
{
    if (res->status) {
        t->cb.allocate(res, NULL, t->arg);
        return;
    }
    json_error_t jerr;
    aliyun_allocated_eip a = {.resource_group_id = "", .order_id = ""};
    json_t *order = json_object_get(body, "OrderId");
    char order_buf[64] = "";
    int n = 0;
    if (json_is_integer(order))
        n = snprintf(order_buf, sizeof(order_buf), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(order));
    else if (json_is_string(order))
        n = snprintf(order_buf, sizeof(order_buf), "%s", json_string_value(order));
    if (n < 0 || (size_t)n >= sizeof(order_buf))
        order_buf[0] = '\0'; /* not an order id we know how to use */
    a.order_id = order_buf;
    if (json_unpack_ex(body, &jerr, 0, "{s:s, s:s, s?s}", "AllocationId", &a.allocation_id,
                       "EipAddress", &a.eip_address, "ResourceGroupId", &a.resource_group_id)) {
        aliyun_result bad = local_failure(res, -EPROTO, "InvalidResponse");
        eip_seterr(bad.error.message, sizeof(bad.error.message), "AllocateEipAddress response: %s",
                   jerr.text);
        t->cb.allocate(&bad, NULL, t->arg);
        return;
    }
    t->cb.allocate(res, &a, t->arg);
}

static void described(typed_ctx *t, const aliyun_result *res, json_t *body)
{
    if (res->status) {
        t->cb.page(res, NULL, t->arg);
        return;
    }
    aliyun_eip_page pg;
    int r = aliyun_parse_eip_page(body, &pg);
    if (r) {
        aliyun_result bad = local_failure(res, r, "InvalidResponse");
        eip_seterr(bad.error.message, sizeof(bad.error.message), "%s",
                   "DescribeEipAddresses response has no EipAddresses.EipAddress");
        t->cb.page(&bad, NULL, t->arg);
        return;
    }
    t->cb.page(res, &pg, t->arg);
    aliyun_eip_page_clear(&pg);
}

static void typed_done(const aliyun_result *res, json_t *body, void *arg)
{
    typed_ctx *t = arg;
    switch (t->kind) {
    case T_DONE:
        t->cb.done(res, t->arg);
        break;
    case T_VERIFY:
        verify_done(t, res, body);
        break;
    case T_ALLOCATE:
        allocated(t, res, body);
        break;
    case T_PAGE:
        described(t, res, body);
        break;
    }
}

/* Starts action with q (taken over) for t (taken over; NULL: out of memory). */
static int start_typed(aliyun_client *c, const char *action, aliyun_params *q, typed_ctx *t,
                       aliyun_call **out)
{
    if (!t) {
        aliyun_params_free(q);
        return -ENOMEM;
    }
    aliyun_call_spec spec = {.service = ALIYUN_SVC_VPC,
                             .action = action,
                             .version = ALIYUN_VPC_VERSION,
                             .cb = typed_done,
                             .arg = t,
                             .arg_free = typed_free};
    int r = aliyun_client_call(c, &spec, q, &t->call);
    if (r) {
        typed_free(t);
        return r;
    }
    if (out)
        *out = t->call;
    return 0;
}

static typed_ctx *ctx_new(enum typed_kind kind, void *arg)
{
    typed_ctx *t = calloc(1, sizeof(*t));
    if (t) {
        t->kind = kind;
        t->arg = arg;
        aliyun_params_init(&t->req);
    }
    return t;
}

static typed_ctx *ctx_done(aliyun_done_cb cb, void *arg)
{
    typed_ctx *t = ctx_new(T_DONE, arg);
    if (t)
        t->cb.done = cb;
    return t;
}

/* ---- the verified actions: a state refusal is looked at before deciding ---- */

static const char *verify_action(enum verify_op op)
{
    switch (op) {
    case V_ASSOCIATE:
        return "AssociateEipAddress";
    case V_UNASSOCIATE:
        return "UnassociateEipAddress";
    case V_RELEASE:
        return "ReleaseEipAddress";
    }
    return "?";
}

static const char *verify_step_name(enum verify_step s)
{
    switch (s) {
    case VERIFY_ACT:
        return "act";
    case VERIFY_DESCRIBE:
        return "describe";
    case VERIFY_DONE:
        return "done";
    }
    return "?";
}

/* The only writer of t->step; logs the transition. */
static void verify_set_step(typed_ctx *t, enum verify_step to)
{
    log_debug("aliyun: %s %s: %s -> %s", verify_action(t->op),
              aliyun_params_get(&t->req, "AllocationId"), verify_step_name(t->step),
              verify_step_name(to));
    t->step = to;
}

/* VERIFY_DONE and the caller's callback. */
static void verify_report(typed_ctx *t, const aliyun_result *res)
{
    verify_set_step(t, VERIFY_DONE);
    t->cb.done(res, t->arg);
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool status_is(const aliyun_eip *e, const char *status)
{
    return e && strcmp(e->status, status) == 0;
}

static void set_outcome(aliyun_result *out, int status, enum aliyun_err_class cls)
{
    out->status = status;
    out->cls = cls;
}

/* What the EIP's state says, per action: fills status, cls and the message of
 * out, or returns true to send the action again (allowed while may_resend). */
static bool decide_unassociate(typed_ctx *t, const aliyun_eip *e, bool may_resend,
                               aliyun_result *out)
{
    const char *iid = aliyun_params_get(&t->req, "InstanceId");
    const char *pip = aliyun_params_get(&t->req, "PrivateIpAddress");
    /* an EIP bound to an ENI without a private IP is described with an empty one */
    bool ours = e && str_eq(e->instance_id, iid) &&
                (!pip || !*pip || !*e->private_ip_address || str_eq(e->private_ip_address, pip));
    if (!ours || status_is(e, "Available") || status_is(e, "Unassociating")) {
        set_outcome(out, 0, ALIYUN_ERR_DONE);
        return false;
    }
    if (status_is(e, "InUse") && may_resend)
        return true; /* it finished associating in between: unassociate it for real */
    set_outcome(out, -EAGAIN, ALIYUN_ERR_RETRY);
    eip_seterr(out->error.message, sizeof(out->error.message), "%s is %s on %s: not unbound yet",
               e->allocation_id, e->status, e->instance_id);
    return false;
}

static bool decide_associate(typed_ctx *t, const aliyun_eip *e, bool may_resend, aliyun_result *out)
{
    const char *iid = aliyun_params_get(&t->req, "InstanceId");
    const char *pip = aliyun_params_get(&t->req, "PrivateIpAddress");
    bool same =
        e && str_eq(e->instance_id, iid) && (!pip || !*pip || str_eq(e->private_ip_address, pip));
    if (same && (status_is(e, "InUse") || status_is(e, "Associating"))) {
        set_outcome(out, 0, ALIYUN_ERR_DONE);
        return false;
    }
    if (status_is(e, "Available") && may_resend)
        return true;
    if (!e) {
        set_outcome(out, -ENOENT, ALIYUN_ERR_FATAL);
        eip_seterr(out->error.message, sizeof(out->error.message), "%s", "the EIP is gone");
        return false;
    }
    const char *on = e->instance_id[0] ? e->instance_id : "nothing";
    if (status_is(e, "Associating") || status_is(e, "Unassociating")) {
        set_outcome(out, -EAGAIN, ALIYUN_ERR_RETRY);
        eip_seterr(out->error.message, sizeof(out->error.message), "%s is %s on %s: not free yet",
                   e->allocation_id, e->status, on);
    } else {
        set_outcome(out, -EIO, ALIYUN_ERR_FATAL);
        eip_seterr(out->error.message, sizeof(out->error.message), "%s is %s on %s",
                   e->allocation_id, e->status, on);
    }
    return false;
}

static bool decide_release(typed_ctx *t, const aliyun_eip *e, bool may_resend, aliyun_result *out)
{
    (void)t;
    if (!e || status_is(e, "Releasing")) {
        set_outcome(out, 0, ALIYUN_ERR_DONE);
        return false;
    }
    if (status_is(e, "Available") && may_resend)
        return true;
    /* bound or on its way: the caller unassociates (or waits) first */
    if (status_is(e, "InUse"))
        set_outcome(out, -EBUSY, ALIYUN_ERR_FATAL);
    else
        set_outcome(out, -EAGAIN, ALIYUN_ERR_RETRY);
    eip_seterr(out->error.message, sizeof(out->error.message), "%s is %s%s%s: unbind it first",
               e->allocation_id, e->status, e->instance_id[0] ? " on " : "", e->instance_id);
    return false;
}

/* DESCRIBE -> ACT: the request again on the same call (the EIP became ready). */
static int verify_again(typed_ctx *t)
{
    aliyun_params q;
    int r = aliyun_params_copy(&q, &t->req);
    if (!r)
        r = aliyun_call_rearm(t->call, verify_action(t->op), &q);
    if (!r) {
        t->rounds++;
        verify_set_step(t, VERIFY_ACT);
    }
    return r;
}

/* The decision on a described EIP (e NULL: gone): an outcome in out, or the
 * request sent again (returns true). */
static bool verify_decide(typed_ctx *t, const aliyun_eip *e, aliyun_result *out)
{
    bool may_resend = t->rounds < 2;
    bool again = false;
    switch (t->op) {
    case V_UNASSOCIATE:
        again = decide_unassociate(t, e, may_resend, out);
        break;
    case V_ASSOCIATE:
        again = decide_associate(t, e, may_resend, out);
        break;
    case V_RELEASE:
        again = decide_release(t, e, may_resend, out);
        break;
    }
    if (!again)
        return false;
    int r = verify_again(t);
    if (!r)
        return true;
    set_outcome(out, r, ALIYUN_ERR_FATAL);
    return false;
}

/* ACT -> DESCRIBE: the action was refused with a state error; look at the EIP. */
static void verify_look(typed_ctx *t, const aliyun_result *res)
{
    t->refusal = res->error;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = aliyun_params_add(&q, "RegionId", aliyun_params_get(&t->req, "RegionId"));
    if (!r)
        r = aliyun_params_add(&q, "AllocationId", aliyun_params_get(&t->req, "AllocationId"));
    if (!r)
        r = aliyun_call_rearm(t->call, "DescribeEipAddresses", &q);
    else
        aliyun_params_free(&q);
    if (r) {
        aliyun_result bad = local_failure(res, r, NULL);
        verify_report(t, &bad);
        return;
    }
    verify_set_step(t, VERIFY_DESCRIBE);
}

/* DESCRIBE: the EIP as described decides (or the look failed: that is reported). */
static void verify_described(typed_ctx *t, const aliyun_result *res, json_t *body)
{
    const char *aid = aliyun_params_get(&t->req, "AllocationId");
    aliyun_result out = *res;
    out.action = verify_action(t->op);
    if (res->status) {
        verify_report(t, &out);
        return;
    }
    aliyun_eip_page pg;
    if (aliyun_parse_eip_page(body, &pg)) {
        set_outcome(&out, -EPROTO, ALIYUN_ERR_FATAL);
        verify_report(t, &out);
        return;
    }
    out.error = t->refusal;
    const aliyun_eip *e = NULL;
    for (size_t i = 0; i < pg.n && !e; i++)
        if (strcmp(pg.eips[i].allocation_id, aid) == 0)
            e = &pg.eips[i];
    bool again = verify_decide(t, e, &out);
    aliyun_eip_page_clear(&pg);
    if (!again)
        verify_report(t, &out);
}

/* The cloud answers IncorrectEipStatus (and, for UnassociateEipAddress,
 * InvalidBindingStatus) both when the wanted state already holds and when the EIP
 * is busy: look (DescribeEipAddresses on the same call) before deciding. */
static void verify_done(typed_ctx *t, const aliyun_result *res, json_t *body)
{
    switch (t->step) {
    case VERIFY_ACT:
        if (res->cls == ALIYUN_ERR_CHECK)
            verify_look(t, res);
        else
            verify_report(t, res);
        break;
    case VERIFY_DESCRIBE:
        verify_described(t, res, body);
        break;
    case VERIFY_DONE: /* no call goes on after its outcome */
        break;
    }
}

/* A T_VERIFY context for op, keeping a copy of its request q; NULL on ENOMEM. */
static typed_ctx *ctx_verify(enum verify_op op, const aliyun_params *q, aliyun_done_cb cb,
                             void *arg)
{
    typed_ctx *t = ctx_new(T_VERIFY, arg);
    if (t && aliyun_params_copy(&t->req, q)) {
        typed_free(t);
        return NULL;
    }
    if (t) {
        t->op = op;
        t->cb.done = cb;
        t->step = VERIFY_ACT;
    }
    return t;
}

/* Starts op with q (taken over), or frees q when r says building it failed. */
static int start_verified(aliyun_client *c, enum verify_op op, aliyun_params *q, int r,
                          aliyun_done_cb cb, void *arg, aliyun_call **out)
{
    if (r) {
        aliyun_params_free(q);
        return r;
    }
    return start_typed(c, verify_action(op), q, ctx_verify(op, q, cb, arg), out);
}

/* ---- actions ---- */

int aliyun_vpc_allocate_eip(aliyun_client *c, const aliyun_allocate_eip_params *p,
                            aliyun_allocate_cb cb, void *arg, aliyun_call **out)
{
    if (!c || !p || !cb)
        return -EINVAL;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = add_region(c, &q, p->region_id);
    if (!r && p->bandwidth > 0)
        r = aliyun_params_addf(&q, "Bandwidth", "%d", p->bandwidth);
    if (!r)
        r = add_opt(&q, "InternetChargeType", p->internet_charge_type);
    if (!r)
        r = add_opt(&q, "InstanceChargeType", p->instance_charge_type);
    if (!r)
        r = add_opt(&q, "ISP", p->isp);
    if (!r)
        r = add_opt(&q, "Name", p->name);
    if (!r)
        r = add_opt(&q, "Description", p->description);
    if (!r)
        r = add_opt(&q, "ResourceGroupId", p->resource_group_id);
    if (!r)
        r = add_opt(&q, "PublicIpAddressPoolId", p->public_ip_address_pool_id);
    for (size_t i = 0; !r && i < p->n_security_protection_types; i++) {
        char k[64];
        r = param_name(k, sizeof(k), "SecurityProtectionTypes", i + 1, "");
        if (!r)
            r = add_opt(&q, k, p->security_protection_types[i]);
    }
    if (!r)
        r = add_tags(&q, p->tags, p->n_tags);
    if (!r)
        r = add_opt(&q, "ClientToken", p->client_token);
    if (r) {
        aliyun_params_free(&q);
        return r;
    }
    typed_ctx *t = ctx_new(T_ALLOCATE, arg);
    if (t)
        t->cb.allocate = cb;
    return start_typed(c, "AllocateEipAddress", &q, t, out);
}

/* Starts op on the binding b with one optional parameter of its own (Mode,
 * Force; extra_value NULL or "": none). b is checked first: -EINVAL and no call. */
static int start_binding(aliyun_client *c, enum verify_op op, const aliyun_eip_binding *b,
                         const char *extra_key, const char *extra_value, aliyun_done_cb cb,
                         void *arg, aliyun_call **out)
{
    if (!c || !cb || !b->allocation_id || !b->instance_id)
        return -EINVAL;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = add_region(c, &q, b->region_id);
    if (!r)
        r = aliyun_params_add(&q, "AllocationId", b->allocation_id);
    if (!r)
        r = aliyun_params_add(&q, "InstanceId", b->instance_id);
    if (!r)
        r = aliyun_params_add(&q, "InstanceType",
                              b->instance_type ? b->instance_type : "NetworkInterface");
    if (!r)
        r = add_opt(&q, "PrivateIpAddress", b->private_ip_address);
    if (!r)
        r = add_opt(&q, extra_key, extra_value);
    if (!r)
        r = add_opt(&q, "ClientToken", b->client_token);
    return start_verified(c, op, &q, r, cb, arg, out);
}

int aliyun_vpc_associate_eip(aliyun_client *c, const aliyun_associate_eip_params *p,
                             aliyun_done_cb cb, void *arg, aliyun_call **out)
{
    if (!p)
        return -EINVAL;
    return start_binding(c, V_ASSOCIATE, &p->to, "Mode", p->mode, cb, arg, out);
}

int aliyun_vpc_unassociate_eip(aliyun_client *c, const aliyun_unassociate_eip_params *p,
                               aliyun_done_cb cb, void *arg, aliyun_call **out)
{
    if (!p)
        return -EINVAL;
    return start_binding(c, V_UNASSOCIATE, &p->from, "Force", p->force ? "true" : NULL, cb, arg,
                         out);
}

int aliyun_vpc_release_eip(aliyun_client *c, const aliyun_release_eip_params *p, aliyun_done_cb cb,
                           void *arg, aliyun_call **out)
{
    if (!c || !p || !p->allocation_id || !*p->allocation_id || !cb)
        return -EINVAL;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = add_region(c, &q, p->region_id);
    if (!r)
        r = aliyun_params_add(&q, "AllocationId", p->allocation_id);
    return start_verified(c, V_RELEASE, &q, r, cb, arg, out);
}

static int describe_params(aliyun_client *c, const aliyun_describe_eips_params *p, aliyun_params *q,
                           int page_number, int page_size)
{
    if (p->n_allocation_ids > ALIYUN_DESCRIBE_MAX_IDS || page_size > ALIYUN_DESCRIBE_MAX_PAGE_SIZE)
        return -EINVAL;
    int r = add_region(c, q, p->region_id);
    if (!r && p->n_allocation_ids > 0) {
        eip_buf ids;
        eip_buf_init(&ids, 64 * 1024);
        for (size_t i = 0; !r && i < p->n_allocation_ids; i++)
            r = eip_buf_appendf(&ids, "%s%s", i ? "," : "", p->allocation_ids[i]);
        if (!r)
            r = aliyun_params_add(q, "AllocationId", ids.data);
        eip_buf_free(&ids);
    }
    if (!r)
        r = add_opt(q, "EipAddress", p->eip_address);
    if (!r)
        r = add_opt(q, "AssociatedInstanceType", p->associated_instance_type);
    if (!r)
        r = add_opt(q, "AssociatedInstanceId", p->associated_instance_id);
    if (!r)
        r = add_opt(q, "Status", p->status);
    if (!r)
        r = add_tags(q, p->tags, p->n_tags);
    if (!r && page_number > 0)
        r = aliyun_params_addf(q, "PageNumber", "%d", page_number);
    if (!r && page_size > 0)
        r = aliyun_params_addf(q, "PageSize", "%d", page_size);
    return r;
}

int aliyun_vpc_describe_eips(aliyun_client *c, const aliyun_describe_eips_params *p,
                             aliyun_eip_page_cb cb, void *arg, aliyun_call **out)
{
    if (!c || !p || !cb)
        return -EINVAL;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = describe_params(c, p, &q, p->page_number, p->page_size);
    if (r) {
        aliyun_params_free(&q);
        return r;
    }
    typed_ctx *t = ctx_new(T_PAGE, arg);
    if (t)
        t->cb.page = cb;
    return start_typed(c, "DescribeEipAddresses", &q, t, out);
}

/* ---- paging through everything ---- */

struct aliyun_pager {
    aliyun_client *c;
    aliyun_params base; /* everything but PageNumber */
    int page_size;
    int page;
    aliyun_eip_page all;
    size_t cap;
    aliyun_call *call;
    aliyun_eip_page_cb cb;
    void *arg;
};

static void pager_free(aliyun_pager *pg)
{
    aliyun_params_free(&pg->base);
    aliyun_eip_page_clear(&pg->all);
    free(pg);
}

static int pager_next(aliyun_pager *pg);

static void pager_page(const aliyun_result *res, const aliyun_eip_page *page, void *arg)
{
    aliyun_pager *pg = arg;
    pg->call = NULL;
    if (res->status) {
        pg->cb(res, NULL, pg->arg);
        pager_free(pg);
        return;
    }
    aliyun_result fail = *res;
    int r = 0;
    if (pg->all.n + page->n > pg->cap) {
        size_t cap = pg->cap ? pg->cap * 2 : 128;
        while (cap < pg->all.n + page->n)
            cap *= 2;
        aliyun_eip *v = realloc(pg->all.eips, cap * sizeof(*v));
        if (!v)
            r = -ENOMEM;
        else {
            pg->all.eips = v;
            pg->cap = cap;
        }
    }
    if (!r) {
        /* steal the EIPs of this page: the page is cleared after we return, so
         * move the strings and leave empty structs behind */
        aliyun_eip_page *mp = (aliyun_eip_page *)(uintptr_t)page;
        for (size_t i = 0; i < mp->n; i++) {
            pg->all.eips[pg->all.n++] = mp->eips[i];
            memset(&mp->eips[i], 0, sizeof(mp->eips[i]));
        }
        pg->all.total_count = page->total_count;
        pg->all.page_number = pg->page;
        pg->all.page_size = pg->page_size;
        bool more = page->n > 0 && (long)pg->all.n < page->total_count;
        if (more) {
            r = pager_next(pg);
            if (!r)
                return;
        } else {
            pg->cb(res, &pg->all, pg->arg);
            pager_free(pg);
            return;
        }
    }
    fail.status = r;
    fail.cls = ALIYUN_ERR_FATAL;
    pg->cb(&fail, NULL, pg->arg);
    pager_free(pg);
}

static int pager_next(aliyun_pager *pg)
{
    aliyun_params q;
    int r = aliyun_params_copy(&q, &pg->base);
    if (r)
        return r;
    pg->page++;
    r = aliyun_params_addf(&q, "PageNumber", "%d", pg->page);
    if (r) {
        aliyun_params_free(&q);
        return r;
    }
    typed_ctx *t = ctx_new(T_PAGE, pg);
    if (t)
        t->cb.page = pager_page;
    return start_typed(pg->c, "DescribeEipAddresses", &q, t, &pg->call);
}

int aliyun_vpc_describe_all_eips(aliyun_client *c, const aliyun_describe_eips_params *p,
                                 aliyun_eip_page_cb cb, void *arg, aliyun_pager **out)
{
    if (!c || !p || !cb)
        return -EINVAL;
    aliyun_pager *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return -ENOMEM;
    pg->c = c;
    pg->cb = cb;
    pg->arg = arg;
    pg->page_size = p->page_size > 0 ? p->page_size : ALIYUN_DESCRIBE_MAX_PAGE_SIZE;
    aliyun_params_init(&pg->base);
    int r = describe_params(c, p, &pg->base, 0, pg->page_size);
    if (!r)
        r = pager_next(pg);
    if (r) {
        pager_free(pg);
        return r;
    }
    if (out)
        *out = pg;
    return 0;
}

void aliyun_pager_cancel(aliyun_pager *pg)
{
    if (!pg)
        return;
    if (pg->call)
        aliyun_call_cancel(pg->call);
    pager_free(pg);
}

/* ---- bandwidth packages and tags ---- */

/* AddCommonBandwidthPackageIp and RemoveCommonBandwidthPackageIp take the same
 * parameters. */
static int cbwp_ip(aliyun_client *c, const char *action, const aliyun_cbwp_ip_params *p,
                   aliyun_done_cb cb, void *arg, aliyun_call **out)
{
    if (!c || !p || !p->bandwidth_package_id || !p->allocation_id || !cb)
        return -EINVAL;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = add_region(c, &q, p->region_id);
    if (!r)
        r = aliyun_params_add(&q, "BandwidthPackageId", p->bandwidth_package_id);
    if (!r)
        r = aliyun_params_add(&q, "IpInstanceId", p->allocation_id);
    if (!r)
        r = add_opt(&q, "ClientToken", p->client_token);
    if (r) {
        aliyun_params_free(&q);
        return r;
    }
    return start_typed(c, action, &q, ctx_done(cb, arg), out);
}

int aliyun_vpc_add_cbwp_ip(aliyun_client *c, const aliyun_cbwp_ip_params *p, aliyun_done_cb cb,
                           void *arg, aliyun_call **out)
{
    return cbwp_ip(c, "AddCommonBandwidthPackageIp", p, cb, arg, out);
}

int aliyun_vpc_remove_cbwp_ip(aliyun_client *c, const aliyun_cbwp_ip_params *p, aliyun_done_cb cb,
                              void *arg, aliyun_call **out)
{
    return cbwp_ip(c, "RemoveCommonBandwidthPackageIp", p, cb, arg, out);
}

int aliyun_vpc_tag_eips(aliyun_client *c, const aliyun_tag_eips_params *p, aliyun_done_cb cb,
                        void *arg, aliyun_call **out)
{
    if (!c || !p || !p->allocation_ids || p->n_allocation_ids == 0 ||
        p->n_allocation_ids > ALIYUN_TAG_MAX_RESOURCES || !p->tags || p->n_tags == 0 ||
        p->n_tags > ALIYUN_TAG_MAX_TAGS || !cb)
        return -EINVAL;
    aliyun_params q;
    aliyun_params_init(&q);
    int r = add_region(c, &q, p->region_id);
    if (!r)
        r = aliyun_params_add(&q, "ResourceType", "EIP");
    for (size_t i = 0; !r && i < p->n_allocation_ids; i++) {
        char k[48];
        r = param_name(k, sizeof(k), "ResourceId", i + 1, "");
        if (!r)
            r = aliyun_params_add(&q, k, p->allocation_ids[i]);
    }
    if (!r)
        r = add_tags(&q, p->tags, p->n_tags);
    if (r) {
        aliyun_params_free(&q);
        return r;
    }
    return start_typed(c, "TagResources", &q, ctx_done(cb, arg), out);
}
