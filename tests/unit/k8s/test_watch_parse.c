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

#include "common/buf.h"
#include "k8s/watch_internal.h"
#include "test_seed.h"

typedef struct seen {
    int n;
    k8s_watch_type types[16];
    char names[16][64];
    char rvs[16][32];
    int codes[16];
    k8s_result classes[16];
    int stop_after; /* return non-zero after this many events (0: never) */
} seen;

static int record(const k8s_watch_event *ev, void *arg)
{
    seen *s = arg;
    assert_true(s->n < 16);
    s->types[s->n] = ev->type;
    const char *name =
        json_string_value(json_object_get(json_object_get(ev->object, "metadata"), "name"));
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name ? name : "");
    snprintf(s->rvs[s->n], sizeof(s->rvs[0]), "%s",
             ev->resource_version ? ev->resource_version : "");
    s->codes[s->n] = ev->status.code;
    s->classes[s->n] = ev->error_class;
    s->n++;
    return (s->stop_after && s->n >= s->stop_after) ? 42 : 0;
}

static const char STREAM[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\","
    "\"namespace\":\"ns\",\"resourceVersion\":\"10\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\","
    "\"namespace\":\"ns\",\"resourceVersion\":\"11\"},\"status\":{\"podIP\":\"127.0.0.9\"}}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":"
    "\"15\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\\n\","
    "\"namespace\":\"ns\",\"resourceVersion\":\"16\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
    "\"Failure\",\"message\":\"too old resource version: 5 (16)\",\"reason\":\"Expired\","
    "\"code\":410}}\n";

static void check_stream(const seen *s)
{
    assert_int_equal(s->n, 5);
    assert_int_equal(s->types[0], K8S_WATCH_ADDED);
    assert_string_equal(s->names[0], "a");
    assert_string_equal(s->rvs[0], "10");
    assert_int_equal(s->types[1], K8S_WATCH_MODIFIED);
    assert_string_equal(s->rvs[1], "11");
    assert_int_equal(s->types[2], K8S_WATCH_BOOKMARK);
    assert_string_equal(s->rvs[2], "15");
    assert_int_equal(s->types[3], K8S_WATCH_DELETED);
    assert_string_equal(s->names[3], "a\n"); /* an escaped newline is not a separator */
    assert_int_equal(s->types[4], K8S_WATCH_ERROR);
    assert_int_equal(s->codes[4], 410);
    assert_int_equal(s->classes[4], K8S_E_GONE);
}

static void whole_stream(void **state)
{
    (void)state;
    k8s_watch_parser p;
    k8s_watch_parser_init(&p, 0);
    seen s = {0};
    assert_int_equal(k8s_watch_feed(&p, STREAM, strlen(STREAM), record, &s), 0);
    check_stream(&s);
    assert_int_equal(p.line.len, 0);
    k8s_watch_parser_free(&p);
}

static void every_split_point(void **state)
{
    (void)state;
    size_t n = strlen(STREAM);
    for (size_t cut = 0; cut <= n; cut++) {
        k8s_watch_parser p;
        k8s_watch_parser_init(&p, 0);
        seen s = {0};
        assert_int_equal(k8s_watch_feed(&p, STREAM, cut, record, &s), 0);
        assert_int_equal(k8s_watch_feed(&p, STREAM + cut, n - cut, record, &s), 0);
        check_stream(&s);
        k8s_watch_parser_free(&p);
    }
}

static void random_chunks_and_single_bytes(void **state)
{
    (void)state;
    size_t n = strlen(STREAM);
    eip_test_rng rng;
    eip_test_rng_init(&rng, "random_chunks_and_single_bytes");
    for (int round = 0; round < 200; round++) {
        k8s_watch_parser p;
        k8s_watch_parser_init(&p, 0);
        seen s = {0};
        size_t off = 0;
        while (off < n) {
            size_t take = round == 0 ? 1 : 1 + (size_t)eip_test_rng_below(&rng, 40);
            if (take > n - off)
                take = n - off;
            assert_int_equal(k8s_watch_feed(&p, STREAM + off, take, record, &s), 0);
            off += take;
        }
        check_stream(&s);
        k8s_watch_parser_free(&p);
    }
}

static void partial_event_waits(void **state)
{
    (void)state;
    k8s_watch_parser p;
    k8s_watch_parser_init(&p, 0);
    seen s = {0};
    const char *half = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",";
    assert_int_equal(k8s_watch_feed(&p, half, strlen(half), record, &s), 0);
    assert_int_equal(s.n, 0);
    const char *rest = "\"resourceVersion\":\"3\"}}}\n";
    assert_int_equal(k8s_watch_feed(&p, rest, strlen(rest), record, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.names[0], "b");
    k8s_watch_parser_free(&p);
}

static void oversized_event(void **state)
{
    (void)state;
    k8s_watch_parser p;
    k8s_watch_parser_init(&p, 256);
    seen s = {0};
    eip_buf big;
    eip_buf_init(&big, 1 << 20);
    assert_int_equal(
        eip_buf_appends(&big, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\""), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(eip_buf_appends(&big, "x"), 0);
    assert_int_equal(eip_buf_appends(&big, "\",\"resourceVersion\":\"1\"}}}\n"), 0);
    /* fed in pieces: the cap applies to the accumulated line, not the chunk */
    int r = 0;
    for (size_t off = 0; off < big.len && r == 0; off += 50) {
        size_t take = big.len - off < 50 ? big.len - off : 50;
        r = k8s_watch_feed(&p, big.data + off, take, record, &s);
    }
    assert_int_equal(r, -E2BIG);
    assert_int_equal(s.n, 0);
    /* the parser is reset and usable again */
    const char *ok = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"c\","
                     "\"resourceVersion\":\"2\"}}}\n";
    assert_int_equal(k8s_watch_feed(&p, ok, strlen(ok), record, &s), 0);
    assert_int_equal(s.n, 1);
    /* exactly at the cap (the newline is not counted) is accepted */
    k8s_watch_parser_free(&p);
    k8s_watch_parser_init(&p, strlen(ok) - 1);
    assert_int_equal(k8s_watch_feed(&p, ok, strlen(ok), record, &s), 0);
    assert_int_equal(s.n, 2);
    k8s_watch_parser_free(&p);
    eip_buf_free(&big);
}

static void big_event_memory_released(void **state)
{
    (void)state;
    k8s_watch_parser p;
    k8s_watch_parser_init(&p, 0);
    seen s = {0};
    eip_buf big;
    eip_buf_init(&big, 1 << 20);
    assert_int_equal(eip_buf_appends(&big, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{"
                                           "\"name\":\"n\",\"resourceVersion\":\"9\"},\"x\":\""),
                     0);
    for (int i = 0; i < 200000; i++)
        assert_int_equal(eip_buf_append(&big, "y", 1), 0);
    assert_int_equal(eip_buf_appends(&big, "\"}}\n{\"type\":\"ADDED\""), 0);
    assert_int_equal(k8s_watch_feed(&p, big.data, big.len, record, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.rvs[0], "9");
    /* the partial next event is small again: the 200 KB buffer was given back */
    assert_true(p.line.cap <= 64 * 1024);
    assert_int_equal(p.line.len, strlen("{\"type\":\"ADDED\""));
    k8s_watch_parser_free(&p);
    eip_buf_free(&big);
}

static void bad_lines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json\n",
        "[1,2]\n",
        "{\"type\":\"ADDED\"}\n",
        "{\"type\":\"WHAT\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}\n",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\n", /* no RV */
        "{\"type\":\"ADDED\",\"object\":\"str\"}\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        k8s_watch_parser p;
        k8s_watch_parser_init(&p, 0);
        seen s = {0};
        assert_int_equal(k8s_watch_feed(&p, bad[i], strlen(bad[i]), record, &s), -EBADMSG);
        assert_int_equal(s.n, 0);
        k8s_watch_parser_free(&p);
    }
}

static void error_event_classes(void **state)
{
    (void)state;
    seen s = {0};
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                       "\"reason\":\"Gone\",\"message\":\"gone\"}}";
    const char *internal = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,"
                           "\"reason\":\"InternalError\",\"message\":\"boom\"}}";
    /* an old server: 410 without a reason is still Gone */
    const char *bare = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}";
    assert_int_equal(k8s_watch_parse_line(gone, strlen(gone), record, &s), 0);
    assert_int_equal(k8s_watch_parse_line(internal, strlen(internal), record, &s), 0);
    assert_int_equal(k8s_watch_parse_line(bare, strlen(bare), record, &s), 0);
    assert_int_equal(s.classes[0], K8S_E_GONE);
    assert_int_equal(s.classes[1], K8S_E_SERVER);
    assert_int_equal(s.classes[2], K8S_E_GONE);
}

static int count_only(const k8s_watch_event *ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
    return 0;
}

/* Mutated copies of a valid stream (a poor man's fuzzer, run under ASan):
 * never a crash, only the documented results. */
static void mutated_streams(void **state)
{
    (void)state;
    size_t n = strlen(STREAM);
    char *buf = malloc(n);
    assert_non_null(buf);
    eip_test_rng rng;
    eip_test_rng_init(&rng, "mutated_streams");
    for (int round = 0; round < 3000; round++) {
        memcpy(buf, STREAM, n);
        int flips = 1 + (int)eip_test_rng_below(&rng, 8);
        for (int i = 0; i < flips; i++) {
            size_t at = (size_t)eip_test_rng_below(&rng, n);
            static const char pool[] = "{}[]\":,\\\n0aZ\x01\xff ";
            buf[at] = pool[eip_test_rng_below(&rng, sizeof(pool) - 1)];
        }
        k8s_watch_parser p;
        k8s_watch_parser_init(&p, 64 + (size_t)eip_test_rng_below(&rng, 400));
        int events = 0;
        size_t off = 0;
        int r = 0;
        while (off < n && r == 0) {
            size_t take = 1 + (size_t)eip_test_rng_below(&rng, 64);
            if (take > n - off)
                take = n - off;
            r = k8s_watch_feed(&p, buf + off, take, count_only, &events);
            off += take;
        }
        assert_true(r == 0 || r == -EBADMSG || r == -E2BIG);
        assert_true(events <= 5);
        k8s_watch_parser_free(&p);
    }
    free(buf);
}

static void callback_stops_feed(void **state)
{
    (void)state;
    k8s_watch_parser p;
    k8s_watch_parser_init(&p, 0);
    seen s = {.stop_after = 2};
    assert_int_equal(k8s_watch_feed(&p, STREAM, strlen(STREAM), record, &s), 42);
    assert_int_equal(s.n, 2);
    k8s_watch_parser_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_stream),
        cmocka_unit_test(every_split_point),
        cmocka_unit_test(random_chunks_and_single_bytes),
        cmocka_unit_test(partial_event_waits),
        cmocka_unit_test(oversized_event),
        cmocka_unit_test(big_event_memory_released),
        cmocka_unit_test(bad_lines),
        cmocka_unit_test(error_event_classes),
        cmocka_unit_test(callback_stops_feed),
        cmocka_unit_test(mutated_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
