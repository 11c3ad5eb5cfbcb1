/* SPDX-License-Identifier: MIT */
/* The watch stream parser (k8s/watch.h). Input: two control bytes, then the
 * stream. Byte 0 picks max_event (small, to reach -E2BIG, or the default) and
 * whether the callback stops at some event; byte 1 seeds the chunk sizes. The
 * stream is fed once whole and once in chunks: both must report the same
 * events and the same result, wherever the chunk boundaries fall. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "k8s/watch_internal.h"

#define MAX_EVENTS 256

typedef struct run {
    size_t n;
    unsigned stop_at; /* stop (return 1) at this event; 0: never */
    uint32_t sig[MAX_EVENTS];
} run;

static uint32_t hash_str(uint32_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int on_event(const k8s_watch_event *ev, void *arg)
{
    run *r = arg;
    if (!json_is_object(ev->object))
        abort();
    uint32_t h = 2166136261u ^ (uint32_t)ev->type;
    if (ev->type == K8S_WATCH_ERROR) {
        if (strlen(ev->status.reason) >= sizeof(ev->status.reason) ||
            strlen(ev->status.message) >= sizeof(ev->status.message))
            abort();
        h = hash_str(h, ev->status.reason);
        h = h * 31u + (uint32_t)ev->status.code + (uint32_t)ev->error_class;
        (void)k8s_result_name(ev->error_class);
    } else {
        if (!ev->resource_version || !*ev->resource_version)
            abort(); /* documented: every other event carries one */
        h = hash_str(h, ev->resource_version);
    }
    (void)k8s_watch_type_name(ev->type);
    if (r->n < MAX_EVENTS)
        r->sig[r->n] = h;
    r->n++;
    return r->stop_at && r->n == r->stop_at ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    fuzz_in in = {data, size};
    uint8_t mode = fuzz_u8(&in);
    uint8_t seed = fuzz_u8(&in);
    size_t max_event = (mode & 0x80) ? 0 : 16 + (size_t)(mode & 0x3f) * 16;
    unsigned stop_at = (mode & 0x40) ? 1u + (seed & 3u) : 0;
    const char *s = (const char *)in.p;
    size_t n = in.n;

    /* whole */
    run a = {.stop_at = stop_at};
    k8s_watch_parser p;
    k8s_watch_parser_init(&p, max_event);
    int ra = k8s_watch_feed(&p, s, n, on_event, &a);
    k8s_watch_parser_free(&p);

    /* in chunks of 1..16 bytes from a small LCG, stopping at the first error */
    run b = {.stop_at = stop_at};
    k8s_watch_parser_init(&p, max_event);
    uint32_t x = seed | 1u;
    int rb = 0;
    size_t off = 0;
    while (off < n && rb == 0) {
        x = x * 1103515245u + 12345u;
        size_t take = 1 + ((x >> 16) & 15u);
        if (take > n - off)
            take = n - off;
        rb = k8s_watch_feed(&p, s + off, take, on_event, &b);
        off += take;
    }
    /* after an error the parser is reset and may be fed again */
    if (rb && off < n)
        (void)k8s_watch_feed(&p, s + off, n - off, on_event, &(run){0});
    k8s_watch_parser_free(&p);

    if (ra != rb || a.n != b.n)
        abort();
    for (size_t i = 0; i < a.n && i < MAX_EVENTS; i++)
        if (a.sig[i] != b.sig[i])
            abort();
    if (ra != 0 && ra != -E2BIG && ra != -EBADMSG && ra != -ENOMEM && ra != 1)
        abort();

    /* one line straight to the line parser */
    const char *nl = memchr(s, '\n', n);
    run c = {0};
    (void)k8s_watch_parse_line(s, nl ? (size_t)(nl - s) : n, on_event, &c);
    return 0;
}
