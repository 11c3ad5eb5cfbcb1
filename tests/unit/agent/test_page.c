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

#include "agent/agent_internal.h"
#include "agent/page.h"
#include "common/timeutil.h"

/* The status page: what a person reads (node, readiness, one row per pod with
 * state, EIP, ENI, strategy, time to bind), every value escaped, no script or
 * external asset, bounded; and GET / on a real agent. */

/* 2026-11-26T03:54:45Z */
#define NOW_MS 1795665285000LL

static json_t *pod(const char *ns, const char *name, const char *state, const char *since)
{
    json_t *p =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "namespace", ns, "name",
                  name, "uid", "u-1", "podIP", "127.0.10.5", "state", state, "reason", "",
                  "message", "", "since", since, "type", "Auto", "allocationId", "", "eipAddress",
                  "", "networkInterfaceId", "", "releaseStrategy", "Follow", "ready", 0);
    assert_non_null(p);
    return p;
}

static json_t *doc(json_t *pods)
{
    json_t *d = json_pack("{s:s,s:o}", "node", "node-1", "pods", pods);
    assert_non_null(d);
    return d;
}

static json_t *ready_doc(bool ok)
{
    json_t *r = ok ? json_pack("{s:b,s:[]}", "ready", 1, "reasons")
                   : json_pack("{s:b,s:[s]}", "ready", 0, "reasons",
                               "pods-synced: watch lost: 410 <Expired>");
    assert_non_null(r);
    return r;
}

static char *render(const char *node, json_t *ready, json_t *pods, size_t max)
{
    eip_buf b;
    eip_buf_init(&b, max);
    assert_int_equal(agent_page_render(&b, node, ready, pods, NOW_MS), 0);
    char *out = eip_buf_steal(&b);
    assert_non_null(out);
    return out;
}

/* The text between the first occurrence of start and the next end. */
static char *between(const char *s, const char *start, const char *end)
{
    const char *a = strstr(s, start);
    assert_non_null(a);
    a += strlen(start);
    const char *z = strstr(a, end);
    assert_non_null(z);
    return strndup(a, (size_t)(z - a));
}

static void self_contained(const char *html)
{
    assert_non_null(strstr(html, "<meta http-equiv=\"refresh\" content=\"5\">"));
    assert_non_null(strstr(html, "default-src 'none'"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<iframe"));
    assert_null(strstr(html, "<object"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "url("));
}

static void rows_in_order_with_every_column(void **state)
{
    (void)state;
    json_t *pods = json_array();
    json_t *b = pod("games", "udp-0", "Bound", "2026-11-26T03:53:40.000Z");
    json_object_set_new(b, "eipAddress", json_string("203.0.113.7"));
    json_object_set_new(b, "allocationId", json_string("eip-sim001"));
    json_object_set_new(b, "networkInterfaceId", json_string("eni-sim002"));
    json_object_set_new(b, "releaseStrategy", json_string("TTL"));
    json_object_set_new(b, "releaseAfter", json_string("10m"));
    json_object_set_new(b, "bindSeconds", json_real(1.234));
    json_object_set_new(b, "ready", json_true());
    json_t *f = pod("default", "web-1", "Failed", "2026-11-26T01:50:00.000Z");
    json_object_set_new(f, "reason", json_string("QuotaExceeded.Eip"));
    json_object_set_new(f, "message", json_string("Elastic IP address quota exceeded"));
    json_t *w = pod("default", "web-0", "Associating", "2026-11-26T03:54:44.000Z");
    json_object_set_new(w, "type", json_string("Static"));
    json_object_set_new(w, "releaseStrategy", json_string(""));
    json_array_append_new(pods, b);
    json_array_append_new(pods, f);
    json_array_append_new(pods, w);
    json_t *d = doc(pods), *r = ready_doc(true);
    char *html = render("node-1", r, d, PAGE_MAX_BYTES);
    self_contained(html);

    assert_non_null(strstr(html, "<title>eip-agent: node-1</title>"));
    assert_non_null(strstr(html, "<span id=\"node\">node-1</span>"));
    assert_non_null(strstr(html, "<p id=\"readiness\" class=\"ready\">Ready</p>"));
    assert_null(strstr(html, "id=\"reasons\""));
    assert_non_null(strstr(html, "<p id=\"summary\">3 EIP pods: 1 Bound, 1 Failed, 1 Associating"));
    /* sorted by namespace, then name */
    const char *r1 = strstr(html, "data-pod=\"default/web-0\"");
    const char *r2 = strstr(html, "data-pod=\"default/web-1\"");
    const char *r3 = strstr(html, "data-pod=\"games/udp-0\"");
    assert_true(r1 && r2 && r3 && r1 < r2 && r2 < r3);

    char *bound = between(html, "data-pod=\"games/udp-0\"", "</tr>");
    assert_non_null(strstr(bound, "data-state=\"Bound\""));
    assert_non_null(strstr(bound, "<span class=\"s-Bound\">Bound</span>"));
    assert_non_null(strstr(bound, "<span class=\"age\">for 1m05s</span>"));
    assert_non_null(strstr(bound, "<td class=\"eip\"><code>203.0.113.7</code></td>"));
    assert_non_null(strstr(bound, "<td class=\"eni\"><code>eni-sim002</code></td>"));
    assert_non_null(strstr(bound, "<td class=\"strategy\">Auto, TTL 10m</td>"));
    assert_non_null(strstr(bound, "<td class=\"num bind\">1.23 s</td>"));
    assert_non_null(strstr(bound, "<code>127.0.10.5</code>"));
    free(bound);

    char *failed = between(html, "data-pod=\"default/web-1\"", "</tr>");
    assert_non_null(strstr(failed,
                           "<td class=\"message\">QuotaExceeded.Eip: Elastic IP address quota "
                           "exceeded</td>"));
    assert_non_null(strstr(failed, "for 2h04m"));
    assert_non_null(strstr(failed, "<td class=\"eip\"><span class=\"muted\">&ndash;</span>"));
    free(failed);

    char *waiting = between(html, "data-pod=\"default/web-0\"", "</tr>");
    assert_non_null(strstr(waiting, "<td class=\"strategy\">Static</td>"));
    assert_non_null(strstr(waiting, "for 1s"));
    assert_non_null(
        strstr(waiting, "<td class=\"num bind\"><span class=\"muted\">&ndash;</span></td>"));
    free(waiting);

    free(html);
    json_decref(d);
    json_decref(r);
}

static void every_value_is_escaped(void **state)
{
    (void)state;
    json_t *pods = json_array();
    json_t *p = pod("ns\"><script>x</script>", "a&b<i>'", "Failed", "not a time");
    json_object_set_new(p, "message", json_string("<img src=x onerror=alert(1)> \x01\x1f\x7f ok"));
    json_object_set_new(p, "eipAddress", json_string("\"'><"));
    json_array_append_new(pods, p);
    json_t *d = doc(pods), *r = ready_doc(false);
    char *html = render("<b>node</b>", r, d, PAGE_MAX_BYTES);
    self_contained(html);
    assert_null(strstr(html, "<script>"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<b>node"));
    assert_null(strstr(html, "<i>"));
    assert_null(strstr(html, "\x01"));
    assert_null(strstr(html, "\x7f"));
    assert_non_null(strstr(html, "data-pod=\"ns&quot;&gt;&lt;script&gt;x&lt;/script&gt;/"
                                 "a&amp;b&lt;i&gt;&#39;\""));
    assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt; \xEF\xBF\xBD\xEF\xBF\xBD"
                                 "\xEF\xBF\xBD ok"));
    assert_non_null(strstr(html, "<code>&quot;&#39;&gt;&lt;</code>"));
    assert_non_null(strstr(html, "<span id=\"node\">&lt;b&gt;node&lt;/b&gt;</span>"));
    /* readiness reasons are values too */
    assert_non_null(strstr(html, "<p id=\"readiness\" class=\"notready\">Not ready</p>"));
    assert_non_null(strstr(html, "<li>pods-synced: watch lost: 410 &lt;Expired&gt;</li>"));
    /* a since that does not parse shows no age, rather than a wrong one */
    assert_null(strstr(html, "class=\"age\""));
    free(html);
    json_decref(d);
    json_decref(r);
}

static void no_controller_and_no_pods(void **state)
{
    (void)state;
    json_t *r = ready_doc(true);
    char *html = render(NULL, r, NULL, PAGE_MAX_BYTES);
    self_contained(html);
    assert_non_null(strstr(html, "The eip controller is not enabled"));
    assert_non_null(strstr(html, "<span id=\"node\">(no node name)</span>"));
    assert_null(strstr(html, "data-pod="));
    free(html);

    json_t *d = doc(json_array());
    html = render("node-1", r, d, PAGE_MAX_BYTES);
    assert_non_null(strstr(html, "No EIP pods on this node."));
    assert_non_null(strstr(html, "<p id=\"summary\">0 EIP pods</p>"));
    free(html);
    json_decref(d);
    json_decref(r);
}

static void rows_are_capped(void **state)
{
    (void)state;
    json_t *pods = json_array();
    for (int i = 0; i < PAGE_MAX_ROWS + 7; i++) {
        char name[32];
        assert_true(snprintf(name, sizeof(name), "p-%05d", i) < (int)sizeof(name));
        json_array_append_new(pods, pod("default", name, "Bound", "2026-11-26T03:54:45Z"));
    }
    json_t *d = doc(pods), *r = ready_doc(true);
    char *html = render("node-1", r, d, PAGE_MAX_BYTES);
    size_t rows = 0;
    for (const char *s = html; (s = strstr(s, "data-pod=")); s++)
        rows++;
    assert_int_equal(rows, PAGE_MAX_ROWS);
    assert_non_null(strstr(html, "7 more pods not shown"));
    assert_non_null(strstr(html, "data-pod=\"default/p-00999\""));
    assert_null(strstr(html, "data-pod=\"default/p-01000\""));
    free(html);
    json_decref(d);
    json_decref(r);
}

/* Every maximum short of the page's size is -E2BIG: no write's error is lost. */
static void bounded_buffer(void **state)
{
    (void)state;
    json_t *pods = json_array();
    json_t *p = pod("default", "web-0", "Bound", "2026-11-26T03:54:40Z");
    json_object_set_new(p, "bindSeconds", json_real(0.5));
    json_object_set_new(p, "releaseAfter", json_string("1h"));
    json_object_set_new(p, "reason", json_string("r"));
    json_object_set_new(p, "message", json_string("m"));
    json_array_append_new(pods, p);
    json_array_append_new(pods, pod("default", "web-1", "Waiting", "2026-11-26T03:54:40Z"));
    json_t *d = doc(pods), *r = ready_doc(false);
    char *html = render("node-1", r, d, PAGE_MAX_BYTES);
    size_t len = strlen(html);
    for (size_t max = 0; max < len; max++) {
        eip_buf b;
        eip_buf_init(&b, max);
        int e = agent_page_render(&b, "node-1", r, d, NOW_MS);
        if (e != -E2BIG)
            fail_msg("max %zu of %zu: %d", max, len, e);
        eip_buf_free(&b);
    }
    free(html);
    json_decref(d);
    json_decref(r);
}

/* ---- GET / on an agent ---- */

struct t {
    uv_loop_t loop;
    struct agent_config cfg;
    struct agent_cli cli;
    struct agent *a;
    http_client *client;
    long status;
    char *type;
    char *body;
};

static void on_done(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    struct t *t = arg;
    assert_int_equal(resp->error, HTTP_OK);
    t->status = resp->status;
    const char *ct = http_response_header(resp, "content-type");
    t->type = ct ? strdup(ct) : NULL;
    t->body = strdup(resp->body);
    http_client_free(t->client);
    t->client = NULL;
    agent_stop(t->a);
}

static void served_at_root(void **state)
{
    (void)state;
    struct t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    char err[256] = "";
    assert_int_equal(uv_loop_init(&t->loop), 0);
    agent_config_init(&t->cfg);
    t->cfg.listen = strdup("127.0.0.1:0");
    t->cfg.node_name = strdup("node-<7>");
    t->cfg.cluster_id = strdup("c1");
    assert_int_equal(agent_config_finish(&t->cfg, true, err, sizeof(err)), 0);
    t->cfg.eip_controller = false;
    assert_int_equal(agent_new(&t->a, &t->loop, &t->cfg, &t->cli, err, sizeof(err)), 0);
    assert_int_equal(agent_start(t->a, err, sizeof(err)), 0);
    http_client_opts ho = {.loop = &t->loop};
    assert_int_equal(http_client_new(&t->client, &ho, NULL, 0), 0);
    char url[64];
    assert_true(snprintf(url, sizeof(url), "http://127.0.0.1:%d/", agent_port(t->a)) <
                (int)sizeof(url));
    http_request_opts o = {.url = url, .timeout_ms = 5000, .on_done = on_done, .arg = t};
    assert_int_equal(http_client_send(t->client, &o, NULL), 0);
    uv_run(&t->loop, UV_RUN_DEFAULT);

    assert_int_equal(t->status, 200);
    assert_non_null(t->type);
    assert_string_equal(t->type, "text/html; charset=utf-8");
    self_contained(t->body);
    assert_non_null(strstr(t->body, "<span id=\"node\">node-&lt;7&gt;</span>"));
    assert_non_null(strstr(t->body, "Not ready"));
    assert_non_null(strstr(t->body, "The eip controller is not enabled"));

    agent_free(t->a);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    free(t->type);
    free(t->body);
    agent_config_free(&t->cfg);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_in_order_with_every_column),
        cmocka_unit_test(every_value_is_escaped),
        cmocka_unit_test(no_controller_and_no_pods),
        cmocka_unit_test(rows_are_capped),
        cmocka_unit_test(bounded_buffer),
        cmocka_unit_test(served_at_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
