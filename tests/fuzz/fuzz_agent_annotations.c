/* SPDX-License-Identifier: MIT */
/* A pod's annotations (agent/annotations.h): the input is a pod's
 * metadata.annotations as JSON (strings may hold \u0000); the parse must give a
 * well-formed request or a well-formed error. The raw input is also tried as
 * the value of each annotation of an Auto pod, so ill-formed UTF-8 and any
 * byte reach every row's checks, which JSON text cannot carry. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/annotations.h"
#include "fuzz.h"

static const char *const suffixes[] = {
    "pod-with-eip",
    "pod-eip-instanceid",
    "allocated-eip-id",
    "eip-bandwidth",
    "eip-internet-charge-type",
    "eip-instance-charge-type",
    "eip-common-bandwidth-package-id",
    "eip-isp",
    "eip-public-ip-address-pool-id",
    "eip-resource-group-id",
    "eip-name",
    "eip-description",
    "eip-security-protection-types",
    "eip-tags",
    "pod-eip-release-strategy",
};

static bool is_empty(const eip_request *r)
{
    return r->type == EIP_ALLOC_NONE && !r->allocation_id && r->bandwidth == 0 &&
           !r->internet_charge_type && !r->instance_charge_type && !r->bandwidth_package_id &&
           !r->isp && !r->public_ip_address_pool_id && !r->resource_group_id && !r->name &&
           !r->description && !r->security_protection_types &&
           r->n_security_protection_types == 0 && !r->tags && r->n_tags == 0 &&
           r->strategy == EIP_RELEASE_FOLLOW && r->release_after_ms == 0 && !r->release_after &&
           !r->strategy_given;
}

/* A message or key: NUL-terminated in its buffer, valid UTF-8, one line. */
static void check_text(const char *s, size_t cap)
{
    if (!memchr(s, '\0', cap) || !s[0] || strchr(s, '\n'))
        abort();
    json_t *j = json_string(s);
    if (!j)
        abort();
    json_decref(j);
}

static void check_request(const eip_request *r)
{
    if (r->type == EIP_ALLOC_NONE && !is_empty(r))
        abort(); /* a pod that asks for nothing gets nothing */
    if (r->type == EIP_ALLOC_STATIC && !r->allocation_id)
        abort();
    if (r->allocation_id && strncmp(r->allocation_id, "eip-", 4) != 0)
        abort();
    int max =
        r->internet_charge_type && !strcmp(r->internet_charge_type, "PayByBandwidth") ? 500 : 200;
    if (r->bandwidth < 0 || r->bandwidth > max)
        abort();
    if (r->n_tags > EIP_MAX_USER_TAGS || (r->n_tags == 0) != (r->tags == NULL))
        abort();
    for (size_t i = 0; i < r->n_tags; i++) {
        if (!r->tags[i].key || !r->tags[i].value)
            abort();
        if (i > 0 && strcmp(r->tags[i - 1].key, r->tags[i].key) >= 0)
            abort(); /* sorted, no duplicates */
    }
    if (r->n_security_protection_types > 10 ||
        (r->n_security_protection_types == 0) != (r->security_protection_types == NULL))
        abort();
    for (size_t i = 0; i < r->n_security_protection_types; i++)
        if (!r->security_protection_types[i] || !r->security_protection_types[i][0])
            abort();
    if (r->security_protection_types &&
        r->security_protection_types[r->n_security_protection_types])
        abort(); /* NULL-terminated */
    if ((r->strategy == EIP_RELEASE_TTL) != (r->release_after != NULL) ||
        (r->strategy == EIP_RELEASE_TTL) != (r->release_after_ms > 0))
        abort();
    if (r->strategy != EIP_RELEASE_FOLLOW && !r->strategy_given)
        abort();
    (void)eip_alloc_type_name(r->type);
    (void)eip_release_strategy_name(r->strategy);
}

static void run(const json_t *annotations)
{
    eip_request r, again;
    eip_request_error err;
    int rc = eip_request_parse(annotations, &r, &err);
    if (rc == -ENOMEM)
        return;
    if (rc == -EINVAL) {
        if (!is_empty(&r))
            abort();
        check_text(err.key, sizeof(err.key));
        check_text(err.message, sizeof(err.message));
        if (!json_object_get(annotations, err.key))
            abort(); /* the key as the pod wrote it */
        return;
    }
    if (rc != 0)
        abort();
    check_request(&r);
    if (!eip_request_equal(&r, &r))
        abort();
    /* the same annotations, the same request */
    if (eip_request_parse(annotations, &again, NULL) == 0) {
        if (!eip_request_equal(&r, &again) || !eip_request_equal(&again, &r))
            abort();
        eip_request_clear(&again);
    }
    eip_request_clear(&r);
    eip_request_clear(&r);
    if (!is_empty(&r))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    json_t *annotations = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
    run(annotations); /* NULL or not an object: no annotations */
    json_decref(annotations);

    char key[128];
    size_t plen = strlen(EIP_ANNOT_PREFIX);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t slen = strlen(suffixes[i]);
        if (plen + slen >= sizeof(key))
            abort();
        memcpy(key, EIP_ANNOT_PREFIX, plen);
        memcpy(key + plen, suffixes[i], slen + 1);
        /* json_object_set_new takes the value even when it fails */
        json_t *o = json_object();
        if (o &&
            json_object_set_new(o, EIP_ANNOT_PREFIX "pod-with-eip", json_string("true")) == 0 &&
            json_object_set_new(o, key, json_stringn_nocheck((const char *)data, size)) == 0)
            run(o);
        json_decref(o);
    }
    return 0;
}
