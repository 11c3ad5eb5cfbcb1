/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "k8s/events_internal.h"

typedef struct clock {
    int64_t mono_ms;
    int64_t wall_us;
} clock_t_;

static int64_t mono(void *arg)
{
    return ((clock_t_ *)arg)->mono_ms;
}

static int64_t wall(void *arg)
{
    return ((clock_t_ *)arg)->wall_us;
}

static k8s_recorder *new_recorder(clock_t_ *clk, size_t cache)
{
    k8s_recorder_opts o = {
        .host = "node-1",
        .now_mono_ms = mono,
        .now_wall_us = wall,
        .clock_arg = clk,
        .cache_size = cache,
    };
    k8s_recorder *r = NULL;
    assert_int_equal(k8s_recorder_new(&r, &o, NULL, 0), 0);
    return r;
}

static const k8s_object_ref POD = {
    .kind = "Pod", .api_version = "v1", .namespace = "default", .name = "web-0", .uid = "u-1"};

static void naming_is_name_dot_hex_nanos(void **state)
{
    (void)state;
    clock_t_ clk = {.mono_ms = 1000, .wall_us = 1764129285123456};
    k8s_recorder *r = new_recorder(&clk, 0);
    k8s_event_decision d;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "EIPAllocated", "eip-1", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE);
    char want[64];
    unsigned long long nanos = 1764129285123456ull * 1000ull;
    /* the sub-microsecond digits are a counter (uniqueness); the rest is the time */
    snprintf(want, sizeof(want), "web-0.%llx", nanos);
    assert_int_equal(strlen(d.name), strlen(want));
    assert_memory_equal(d.name, want, strlen(want) - 3);
    unsigned long long got = strtoull(d.name + strlen("web-0."), NULL, 16);
    assert_true(got >= nanos && got < nanos + 1000);
    assert_string_equal(d.namespace, "default");
    assert_int_equal(d.count, 1);

    json_t *ev = k8s_recorder_build(r, &POD, "Normal", "EIPAllocated", "eip-1", &d);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "kind")), "Event");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "metadata"), "name")),
                        d.name);
    json_t *src = json_object_get(ev, "source");
    assert_string_equal(json_string_value(json_object_get(src, "component")), "eip-agent");
    assert_string_equal(json_string_value(json_object_get(src, "host")), "node-1");
    assert_string_equal(json_string_value(json_object_get(ev, "reportingComponent")), "eip-agent");
    assert_string_equal(json_string_value(json_object_get(ev, "reportingInstance")), "node-1");
    json_t *inv = json_object_get(ev, "involvedObject");
    assert_string_equal(json_string_value(json_object_get(inv, "uid")), "u-1");
    assert_string_equal(json_string_value(json_object_get(inv, "kind")), "Pod");
    assert_string_equal(json_string_value(json_object_get(ev, "firstTimestamp")),
                        "2025-11-26T03:54:45Z");
    assert_int_equal(json_integer_value(json_object_get(ev, "count")), 1);
    json_decref(ev);
    k8s_recorder_free(r);
}

static void dedup_within_window_then_new(void **state)
{
    (void)state;
    clock_t_ clk = {.mono_ms = 1000, .wall_us = 1764129285000000};
    k8s_recorder *r = new_recorder(&clk, 0);
    k8s_event_decision d1, d;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Warning", "EIPFailed", "quota", &d1), 0);
    assert_int_equal(d1.action, K8S_EVENT_CREATE);
    clk.mono_ms += 60000;
    clk.wall_us += 60000000;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Warning", "EIPFailed", "quota", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_PATCH);
    assert_string_equal(d.name, d1.name);
    assert_int_equal(d.count, 2);
    assert_int_equal(d.first_us, d1.first_us);
    assert_int_equal(d.last_us, clk.wall_us);
    /* another message is another event */
    assert_int_equal(k8s_recorder_decide(r, &POD, "Warning", "EIPFailed", "other", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE);
    assert_string_not_equal(d.name, d1.name);
    /* so is another object (uid) */
    k8s_object_ref other = POD;
    other.uid = "u-2";
    assert_int_equal(k8s_recorder_decide(r, &other, "Warning", "EIPFailed", "quota", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE);
    /* 9:59 after the last one: still the same event */
    clk.mono_ms += 599000;
    clk.wall_us += 599000000;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Warning", "EIPFailed", "quota", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_PATCH);
    assert_int_equal(d.count, 3);
    /* more than 10 minutes of silence: a new Event object */
    clk.mono_ms += 600001;
    clk.wall_us += 600001000;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Warning", "EIPFailed", "quota", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE);
    assert_int_equal(d.count, 1);
    assert_string_not_equal(d.name, d1.name);
    k8s_recorder_free(r);
}

static void spam_filter_burst_25_then_one_per_5_minutes(void **state)
{
    (void)state;
    clock_t_ clk = {.mono_ms = 0, .wall_us = 1764129285000000};
    k8s_recorder *r = new_recorder(&clk, 0);
    k8s_event_decision d;
    char msg[32];
    for (int i = 0; i < 25; i++) {
        snprintf(msg, sizeof(msg), "m%d", i);
        assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", msg, &d), 0);
        assert_int_not_equal(d.action, K8S_EVENT_DROPPED);
    }
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "m25", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_DROPPED);
    /* even a duplicate (a PATCH) needs a token */
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "m0", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_DROPPED);
    /* other objects have their own bucket */
    k8s_object_ref other = POD;
    other.name = "web-1";
    other.uid = "u-9";
    assert_int_equal(k8s_recorder_decide(r, &other, "Normal", "R", "m0", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE);
    /* 4:59 later: still nothing; at 5:00 one token */
    clk.mono_ms += 299000;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "m26", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_DROPPED);
    clk.mono_ms += 1000;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "m26", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE);
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "m27", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_DROPPED);
    k8s_recorder_stats st;
    k8s_recorder_get_stats(r, &st);
    assert_int_equal(st.dropped, 4);
    k8s_recorder_free(r);
}

static void caches_are_bounded_lru(void **state)
{
    (void)state;
    clock_t_ clk = {.mono_ms = 0, .wall_us = 1764129285000000};
    k8s_recorder *r = new_recorder(&clk, 4);
    k8s_event_decision d, first;
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "keep", &first), 0);
    char msg[32];
    for (int i = 0; i < 3; i++) {
        snprintf(msg, sizeof(msg), "x%d", i);
        assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", msg, &d), 0);
    }
    /* touching "keep" makes it the most recent... */
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "keep", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_PATCH);
    /* ...so one more entry evicts x0, not keep */
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "new", &d), 0);
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "keep", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_PATCH);
    assert_string_equal(d.name, first.name);
    assert_int_equal(d.count, 3);
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "x0", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE); /* forgotten */
    /* many objects: the spam cache stays bounded too (and the old object's
     * bucket is forgotten, as client-go's LRU does) */
    for (int i = 0; i < 100; i++) {
        k8s_object_ref o = POD;
        char name[32];
        snprintf(name, sizeof(name), "p%d", i);
        o.name = name;
        assert_int_equal(k8s_recorder_decide(r, &o, "Normal", "R", "m", &d), 0);
        assert_int_equal(d.action, K8S_EVENT_CREATE);
    }
    k8s_recorder_free(r);
}

/* An Event's name is never cut: too long is -E2BIG, and nothing is cached. */
static void name_too_long_is_refused(void **state)
{
    (void)state;
    clock_t_ clk = {.mono_ms = 0, .wall_us = 1764129285000000};
    k8s_recorder *r = new_recorder(&clk, 0);
    char name[400];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    k8s_object_ref long_ref = POD;
    long_ref.name = name;
    k8s_event_decision d;
    assert_int_equal(k8s_recorder_decide(r, &long_ref, "Normal", "R", "m", &d), -E2BIG);
    assert_int_equal(k8s_recorder_decide(r, &long_ref, "Normal", "R", "m", &d), -E2BIG);
    char ns[300];
    memset(ns, 's', sizeof(ns) - 1);
    ns[sizeof(ns) - 1] = '\0';
    k8s_object_ref long_ns = POD;
    long_ns.namespace = ns;
    assert_int_equal(k8s_recorder_decide(r, &long_ns, "Normal", "R", "m", &d), -E2BIG);
    assert_int_equal(k8s_recorder_decide(r, &POD, "Normal", "R", "m", &d), 0);
    assert_int_equal(d.action, K8S_EVENT_CREATE);
    k8s_recorder_free(r);
}

static void ref_from_json(void **state)
{
    (void)state;
    json_t *pod = json_loads("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\","
                             "\"resourceVersion\":\"5\"}}",
                             0, NULL);
    k8s_object_ref ref;
    assert_int_equal(k8s_object_ref_from_json(pod, "Pod", "v1", &ref), 0);
    assert_string_equal(ref.kind, "Pod");
    assert_string_equal(ref.api_version, "v1");
    assert_string_equal(ref.uid, "u");
    assert_string_equal(ref.resource_version, "5");
    json_decref(pod);
    pod = json_loads("{\"metadata\":{}}", 0, NULL);
    assert_int_equal(k8s_object_ref_from_json(pod, "Pod", "v1", &ref), -EINVAL);
    json_decref(pod);
    clock_t_ clk = {0};
    k8s_recorder *r = new_recorder(&clk, 0);
    k8s_event_decision d;
    assert_int_equal(k8s_recorder_decide(r, NULL, "Normal", "R", "m", &d), -EINVAL);
    assert_int_equal(k8s_recorder_event(r, &POD, "Normal", "R", "m"),
                     0); /* no client: decide only */
    k8s_recorder_free(r);
    k8s_recorder_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(naming_is_name_dot_hex_nanos),
        cmocka_unit_test(dedup_within_window_then_new),
        cmocka_unit_test(spam_filter_burst_25_then_one_per_5_minutes),
        cmocka_unit_test(caches_are_bounded_lru),
        cmocka_unit_test(name_too_long_is_refused),
        cmocka_unit_test(ref_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
