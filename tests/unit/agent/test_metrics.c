/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/metrics.h"
#include "agent/readiness.h"

static char *render(metrics *m)
{
    eip_buf b;
    eip_buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render(m, &b), 0);
    char *s = eip_buf_steal(&b);
    eip_buf_free(&b);
    return s ? s : strdup("");
}

static void exposition_format(void **state)
{
    (void)state;
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    assert_non_null(m);
    static const char *const labels[] = {"action", "code", NULL};
    metric_family *calls =
        metrics_register(m, METRIC_COUNTER, "eip_agent_cloud_calls_total", "Cloud calls.", labels);
    metric_family *pods = metrics_register(m, METRIC_GAUGE, "eip_agent_pods", "Pods.", NULL);
    assert_non_null(calls);
    assert_non_null(pods);

    /* an empty family still has HELP and TYPE */
    char *s = render(m);
    assert_string_equal(s, "# HELP eip_agent_cloud_calls_total Cloud calls.\n"
                           "# TYPE eip_agent_cloud_calls_total counter\n"
                           "# HELP eip_agent_pods Pods.\n"
                           "# TYPE eip_agent_pods gauge\n");
    free(s);

    const char *a[] = {"AllocateEipAddress", "200"};
    const char *b[] = {"AssociateEipAddress", "Throttling"};
    assert_int_equal(metrics_inc(calls, a), 0);
    assert_int_equal(metrics_inc(calls, a), 0);
    assert_int_equal(metrics_add(calls, b, 3), 0);
    assert_int_equal(metrics_set(pods, NULL, 2.5), 0);
    s = render(m);
    assert_string_equal(
        s, "# HELP eip_agent_cloud_calls_total Cloud calls.\n"
           "# TYPE eip_agent_cloud_calls_total counter\n"
           "eip_agent_cloud_calls_total{action=\"AllocateEipAddress\",code=\"200\"} 2\n"
           "eip_agent_cloud_calls_total{action=\"AssociateEipAddress\","
           "code=\"Throttling\"} 3\n"
           "# HELP eip_agent_pods Pods.\n"
           "# TYPE eip_agent_pods gauge\n"
           "eip_agent_pods 2.5\n");
    free(s);
    metrics_free(m);
}

static void label_escaping(void **state)
{
    (void)state;
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    static const char *const labels[] = {"path", NULL};
    metric_family *f =
        metrics_register(m, METRIC_COUNTER, "x_total", "Help with \\ and\nnewline \"q\".", labels);
    assert_non_null(f);
    const char *v[] = {"a\"b\\c\nd"};
    assert_int_equal(metrics_inc(f, v), 0);
    char *s = render(m);
    assert_string_equal(s, "# HELP x_total Help with \\\\ and\\nnewline \"q\".\n"
                           "# TYPE x_total counter\n"
                           "x_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(s);
    metrics_free(m);
}

static void counters_and_values(void **state)
{
    (void)state;
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    metric_family *c = metrics_register(m, METRIC_COUNTER, "c_total", "c", NULL);
    metric_family *g = metrics_register(m, METRIC_GAUGE, "g", "g", NULL);
    assert_int_equal(metrics_add(c, NULL, -1), -EINVAL); /* counters only go up */
    assert_int_equal(metrics_add(c, NULL, NAN), -EINVAL);
    assert_int_equal(metrics_add(c, NULL, 0.1), 0);
    assert_int_equal(metrics_add(c, NULL, 0.2), 0);
    assert_true(fabs(metrics_get(c, NULL) - 0.3) < 1e-9);
    assert_int_equal(metrics_add(g, NULL, -5), 0); /* gauges go both ways */
    assert_true(metrics_get(g, NULL) == -5);
    char *s = render(m);
    /* the shortest text that reads back exactly */
    assert_non_null(strstr(s, "\nc_total 0.30000000000000004\n"));
    assert_non_null(strstr(s, "\ng -5\n"));
    free(s);
    assert_int_equal(metrics_set(g, NULL, INFINITY), 0);
    s = render(m);
    assert_non_null(strstr(s, "\ng +Inf\n"));
    free(s);
    assert_int_equal(metrics_set(g, NULL, 1e21), 0);
    s = render(m);
    assert_non_null(strstr(s, "\ng 1e+21\n"));
    free(s);
    metrics_free(m);
}

static void registration_rules(void **state)
{
    (void)state;
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    static const char *const bad_label[] = {"__reserved", NULL};
    static const char *const bad_label2[] = {"a-b", NULL};
    static const char *const two[] = {"a", "b", NULL};
    assert_null(metrics_register(m, METRIC_GAUGE, "0abc", "", NULL));
    assert_null(metrics_register(m, METRIC_GAUGE, "a-b", "", NULL));
    assert_null(metrics_register(m, METRIC_GAUGE, "", "", NULL));
    assert_null(metrics_register(m, METRIC_GAUGE, "ok", "", bad_label));
    assert_null(metrics_register(m, METRIC_GAUGE, "ok", "", bad_label2));
    metric_family *f = metrics_register(m, METRIC_COUNTER, "ns:sub_total", "", two);
    assert_non_null(f);
    assert_null(metrics_register(m, METRIC_COUNTER, "ns:sub_total", "", NULL)); /* duplicate */
    assert_ptr_equal(metrics_find(m, "ns:sub_total"), f);
    const char *missing[] = {"x", NULL};
    assert_int_equal(metrics_inc(f, missing), -EINVAL);
    assert_int_equal(metrics_inc(f, NULL), -EINVAL);
    /* the series cap bounds memory */
    char v[16];
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(v, sizeof(v), "%d", i);
        const char *vals[] = {v, "y"};
        assert_int_equal(metrics_inc(f, vals), 0);
    }
    const char *one_more[] = {"new", "y"};
    assert_int_equal(metrics_inc(f, one_more), -E2BIG);
    const char *existing[] = {"7", "y"};
    assert_int_equal(metrics_inc(f, existing), 0);
    assert_true(metrics_get(f, existing) == 2);
    metrics_free(m);
    metrics_free(NULL);
}

static void process_metrics(void **state)
{
    (void)state;
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    assert_int_equal(metrics_register_process(m), 0);
    char *s = render(m);
    const char *names[] = {"process_resident_memory_bytes ", "process_cpu_seconds_total ",
                           "process_start_time_seconds ", "process_open_fds ", "process_max_fds "};
    for (size_t i = 0; i < 5; i++) {
        char *line = strstr(s, names[i]);
        while (line && line != s && line[-1] != '\n')
            line = strstr(line + 1, names[i]);
        if (!line)
            fail_msg("%s missing in:\n%s", names[i], s);
        double v = strtod(line + strlen(names[i]), NULL);
        if (!(v > 0) && i != 1)
            fail_msg("%s is %g", names[i], v);
    }
    metric_family *start = metrics_find(m, "process_start_time_seconds");
    double st = metrics_get(start, NULL);
    assert_true(st > 1.7e9); /* after 2023 */
    free(s);
    metrics_free(m);
}

struct change_count {
    int n;
};

static void histograms(void **state)
{
    (void)state;
    metrics *m;
    assert_int_equal(metrics_new(&m), 0);
    assert_non_null(m);
    static const char *const labels[] = {"action", NULL};
    static const char *const bad_labels[] = {"le", NULL};
    const double bounds[] = {0.1, 0.5, 2};
    const double unordered[] = {1, 1};
    assert_null(metrics_register_histogram(m, "h_bad", "", bad_labels, bounds, 3));
    assert_null(metrics_register_histogram(m, "h_bad", "", NULL, unordered, 2));
    assert_null(metrics_register_histogram(m, "h_bad", "", NULL, bounds, 0));
    metric_family *h =
        metrics_register_histogram(m, "eip_agent_call_seconds", "Call time.", labels, bounds, 3);
    assert_non_null(h);
    const char *a[] = {"Allocate"};
    assert_int_equal(metrics_observe(h, a, 0.1), 0); /* le is inclusive */
    assert_int_equal(metrics_observe(h, a, 0.3), 0);
    assert_int_equal(metrics_observe(h, a, 7), 0);
    assert_int_equal(metrics_observe(h, a, NAN), -EINVAL);
    assert_int_equal(metrics_add(h, a, 1), -EINVAL);
    assert_int_equal(metrics_set(h, a, 1), -EINVAL);
    assert_int_equal(metrics_get_count(h, a), 3);
    char *s = render(m);
    assert_string_equal(s, "# HELP eip_agent_call_seconds Call time.\n"
                           "# TYPE eip_agent_call_seconds histogram\n"
                           "eip_agent_call_seconds_bucket{action=\"Allocate\",le=\"0.1\"} 1\n"
                           "eip_agent_call_seconds_bucket{action=\"Allocate\",le=\"0.5\"} 2\n"
                           "eip_agent_call_seconds_bucket{action=\"Allocate\",le=\"2\"} 2\n"
                           "eip_agent_call_seconds_bucket{action=\"Allocate\",le=\"+Inf\"} 3\n"
                           "eip_agent_call_seconds_sum{action=\"Allocate\"} 7.4\n"
                           "eip_agent_call_seconds_count{action=\"Allocate\"} 3\n");
    free(s);
    metrics_free(m);
}

static void on_change(readiness *r, void *arg)
{
    (void)r;
    ((struct change_count *)arg)->n++;
}

static void readiness_conditions(void **state)
{
    (void)state;
    readiness *r;
    assert_int_equal(readiness_new(&r), 0);
    struct change_count cc = {0};
    readiness_set_observer(r, on_change, &cc);
    assert_true(readiness_ready(r)); /* nothing registered */
    assert_int_equal(readiness_add(r, "pods-synced", "pod list not synced yet"), 0);
    assert_int_equal(readiness_add(r, "credentials-loaded", NULL), 0);
    assert_int_equal(readiness_add(r, "pods-synced", NULL), -EEXIST);
    assert_int_equal(readiness_set(r, "nope", true, NULL), -ENOENT);
    assert_false(readiness_ready(r));
    json_t *j = readiness_json(r);
    char *txt = json_dumps(j, JSON_COMPACT);
    assert_string_equal(txt, "{\"ready\":false,\"reasons\":[\"pods-synced: pod list not synced "
                             "yet\",\"credentials-loaded\"]}");
    free(txt);
    json_decref(j);
    char sum[64];
    readiness_summary(r, sum, sizeof(sum));
    assert_string_equal(sum, "waiting for pods-synced, credentials-loaded");

    int before = cc.n;
    assert_int_equal(readiness_set(r, "pods-synced", true, NULL), 0);
    assert_int_equal(readiness_set(r, "pods-synced", true, NULL), 0); /* no change, no call */
    assert_int_equal(cc.n, before + 1);
    assert_true(readiness_is_met(r, "pods-synced"));
    assert_false(readiness_ready(r));
    assert_int_equal(readiness_set(r, "credentials-loaded", true, NULL), 0);
    assert_true(readiness_ready(r));
    j = readiness_json(r);
    txt = json_dumps(j, JSON_COMPACT);
    assert_string_equal(txt, "{\"ready\":true,\"reasons\":[]}");
    free(txt);
    json_decref(j);
    readiness_summary(r, sum, sizeof(sum));
    assert_string_equal(sum, "ready");
    assert_int_equal(readiness_set(r, "pods-synced", false, "watch expired"), 0);
    readiness_summary(r, sum, 12); /* cut, still terminated */
    assert_int_equal(strlen(sum), 11);
    readiness_free(r);
    readiness_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exposition_format),   cmocka_unit_test(label_escaping),
        cmocka_unit_test(counters_and_values), cmocka_unit_test(registration_rules),
        cmocka_unit_test(process_metrics),     cmocka_unit_test(readiness_conditions),
        cmocka_unit_test(histograms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
