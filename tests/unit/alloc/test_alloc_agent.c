/* SPDX-License-Identifier: MIT */
/* Allocation failure in the agent's pure parts: the annotation parser, the
 * configuration (YAML, environment, flags), the metrics registry and its
 * exposition, the PodEIP records. Every allocation is failed in turn: each run
 * either succeeds or reports the failure, and leaks nothing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/annotations.h"
#include "agent/config.h"
#include "agent/metrics.h"
#include "agent/podeip.h"
#include "alloc_fail.h"
#include "common/buf.h"

static int run_annotations(void *arg)
{
    (void)arg;
    json_t *a =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "network.alibabacloud.com/pod-with-eip", "true",
                  "k8s.aliyun.com/eip-bandwidth", "10", "network.alibabacloud.com/eip-tags",
                  "{\"team\":\"games\",\"tier\":\"a\"}",
                  "network.alibabacloud.com/eip-security-protection-types", "AntiDDoS_Enhanced",
                  "network.alibabacloud.com/pod-eip-release-strategy", "10m");
    if (!a)
        return -ENOMEM;
    eip_request req;
    eip_request_error err;
    int r = eip_request_parse(a, &req, &err);
    if (r == 0) {
        assert_int_equal(req.type, EIP_ALLOC_AUTO);
        assert_int_equal(req.n_tags, 2);
        assert_int_equal(req.bandwidth, 10);
        eip_request_clear(&req);
    } else {
        if (r != -ENOMEM)
            print_message("annotations: %d after %lu allocations: %s: %s\n", r, alloc_fail_count(),
                          err.key, err.message);
        assert_int_equal(r, -ENOMEM); /* never a wrong verdict on valid input */
    }
    json_decref(a);
    return r;
}

static const char yaml[] = "clusterID: c-1\n"
                           "regionID: cn-hangzhou\n"
                           "vpcID: vpc-1\n"
                           "enableControllers: [eip]\n"
                           "credential:\n"
                           "  accessKey: ak\n"
                           "  accessSecret: sk\n"
                           "networkController:\n"
                           "  eipController:\n"
                           "    maxConcurrentReconciles: 4\n"
                           "customStatefulWorkloadKinds: [GameServer, Other]\n"
                           "nodeName: n1\n"
                           "listen: 127.0.0.1:0\n";

static int run_config(void *arg)
{
    (void)arg;
    struct agent_config c;
    char err[256] = "";
    agent_config_init(&c);
    int r = agent_config_load_yaml(&c, "values.yaml", yaml, sizeof(yaml) - 1, err, sizeof(err));
    if (!r)
        r = agent_config_finish(&c, true, err, sizeof(err));
    if (!r) {
        assert_string_equal(c.cluster_id, "c-1");
        assert_int_equal(c.stateful_kinds.n, 2);
        assert_int_equal(c.max_concurrent_reconciles, 4);
    } else {
        assert_true(err[0] != '\0'); /* a failure is explained */
    }
    agent_config_free(&c);
    return r;
}

static int run_metrics(void *arg)
{
    (void)arg;
    static const char *const labels[] = {"action", NULL};
    static const double bounds[] = {0.1, 1, 10};
    int r = -ENOMEM;
    eip_buf b;
    eip_buf_init(&b, 1 << 20);
    metrics *m;
    if ((r = metrics_new(&m)))
        goto out;
    metric_family *c = metrics_register(m, METRIC_COUNTER, "c_total", "C.", labels);
    metric_family *h = metrics_register_histogram(m, "h_seconds", "H.", labels, bounds, 3);
    if (!c || !h) {
        r = -ENOMEM;
        goto out;
    }
    const char *v[] = {"Allocate"};
    if ((r = metrics_inc(c, v)) || (r = metrics_observe(h, v, 0.5)) || (r = metrics_render(m, &b)))
        goto out;
    assert_non_null(strstr(b.data, "h_seconds_bucket{action=\"Allocate\",le=\"1\"} 1\n"));
out:
    eip_buf_free(&b);
    metrics_free(m);
    return r;
}

static int run_podeip(void *arg)
{
    (void)arg;
    struct podeip_info i = {.exists = true,
                            .type = EIP_ALLOC_AUTO,
                            .strategy = EIP_RELEASE_TTL,
                            .release_after_ms = 600000};
    strcpy(i.allocation_id, "eip-1");
    strcpy(i.release_after, "10m");
    strcpy(i.pod_uid, "uid-1");
    strcpy(i.eip_address, "203.0.113.5");
    i.pod_last_seen_ms = 1700000000000;
    json_t *obj = podeip_build("ns", "web-0", &i);
    json_t *st = podeip_build_status(&i);
    int r = obj && st ? 0 : -ENOMEM;
    if (!r && json_object_update(obj, st))
        r = -ENOMEM; /* the test's own merge */
    if (!r) {
        /* never half an object: what is built parses back whole */
        struct podeip_info back;
        assert_int_equal(podeip_parse(obj, &back), 0);
        assert_string_equal(back.allocation_id, "eip-1");
        assert_int_equal(back.strategy, EIP_RELEASE_TTL);
        assert_string_equal(back.pod_uid, "uid-1");
        assert_string_equal(back.eip_address, "203.0.113.5");
    }
    json_decref(obj);
    json_decref(st);
    return r;
}

static void walk(void **state)
{
    (void)state;
    alloc_fail_install();
    assert_true(alloc_fail_walk("annotations", run_annotations, NULL, 10000) > 0);
    assert_true(alloc_fail_walk("config", run_config, NULL, 10000) > 0);
    assert_true(alloc_fail_walk("metrics", run_metrics, NULL, 10000) > 0);
    assert_true(alloc_fail_walk("podeip", run_podeip, NULL, 10000) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
