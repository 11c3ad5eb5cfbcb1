/* SPDX-License-Identifier: MIT */
/* The HTTP server's request-target decoding and routing (http/router_internal.h),
 * directly rather than through a connection (fuzz_http_request): the whole
 * decision for a target, percent-decoding with and without '+' as space, and
 * the router's pattern parser. Input: one byte choosing the method, then the
 * request target; a second line, if any, is also tried as a route pattern. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/router_internal.h"

static void h(http_exchange *ex, void *arg)
{
    (void)ex;
    (void)arg;
}

static const char *const patterns[] = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/pods/{ns}/{name}",
    "/v1/pods/{ns}/{name}/ready",
    "/v1/pods/self/{name}/ready",
    "/v1/eips/{id}",
    "/debug/{a}/{b}/{c}/{d}",
};

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "", "get"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    fuzz_in in = {data, size};
    const char *method = methods[fuzz_u8(&in) & 7];
    const char *raw = (const char *)in.p;
    size_t len = in.n;
    const char *nl = memchr(raw, '\n', len);
    size_t tlen = nl ? (size_t)(nl - raw) : len;

    http_router *r = NULL;
    if (http_router_new(&r) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
        if (http_router_add(r, patterns[i], h, NULL) != 0)
            abort();

    /* a pattern from the input, NUL-terminated */
    if (nl) {
        size_t plen = len - tlen - 1;
        char *pat = malloc(plen + 1);
        if (pat) {
            memcpy(pat, nl + 1, plen);
            pat[plen] = '\0';
            int ar = http_router_add(r, pat, h, NULL);
            if (ar != 0 && ar != -EINVAL && ar != -EEXIST && ar != -ENOMEM)
                abort();
            free(pat);
        }
    }

    http_target t;
    http_match m;
    int d = http_router_decide(r, method, raw, tlen, &t, &m);
    if (d == 0 || d == 405) {
        if (!t.path || t.nsegs > HTTP_ROUTER_MAX_SEGMENTS || t.nquery > HTTP_ROUTER_MAX_QUERY)
            abort();
        if (d == 0 && (!m.pattern || m.handler != h))
            abort();
        for (size_t i = 0; i < m.nparams; i++)
            if (!m.params[i].name || !m.params[i].value)
                abort();
        for (size_t i = 0; i < t.nquery; i++)
            (void)http_target_query(&t, t.query[i].name);
        http_target_free(&t);
    } else if (d != 400 && d != 404 && d != -ENOMEM) {
        abort();
    }

    for (int plus = 0; plus < 2; plus++) {
        char *out = NULL;
        int pr = http_pct_decode(raw, tlen, plus == 1, &out);
        if (pr == 0) {
            if (!out || strlen(out) > tlen)
                abort(); /* decoding never grows */
            free(out);
        } else if (pr != -EINVAL && pr != -ENOMEM) {
            abort();
        }
    }
    http_router_free(r);
    return 0;
}
