/* SPDX-License-Identifier: MIT */
#include "http/router_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct route {
    char *pattern;
    char *segs[HTTP_ROUTER_MAX_SEGMENTS]; /* literal text, or the capture name */
    bool cap[HTTP_ROUTER_MAX_SEGMENTS];
    size_t nsegs;
    http_handler handler;
    void *arg;
} route;

struct http_router {
    route *routes;
    size_t n;
    size_t cap;
};

int http_router_new(http_router **out)
{
    *out = calloc(1, sizeof(http_router));
    return *out ? 0 : -ENOMEM;
}

static void route_clear(route *rt)
{
    free(rt->pattern);
    for (size_t i = 0; i < rt->nsegs; i++)
        free(rt->segs[i]);
    memset(rt, 0, sizeof(*rt));
}

void http_router_free(http_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        route_clear(&r->routes[i]);
    free(r->routes);
    free(r);
}

static bool cap_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool literal_char(char c)
{
    return c != '{' && c != '}' && c != '%' && c != '?' && c != '#' && (unsigned char)c > 0x20 &&
           c != 0x7f;
}

/* Splits pattern into rt (segments and capture flags). 0, -EINVAL, -ENOMEM. */
static int route_parse(const char *pattern, route *rt)
{
    if (!pattern || pattern[0] != '/')
        return -EINVAL;
    const char *p = pattern + 1;
    if (*p == '\0')
        return 0; /* "/": no segments */
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || rt->nsegs == HTTP_ROUTER_MAX_SEGMENTS)
            return -EINVAL;
        bool cap = p[0] == '{';
        const char *s = p;
        size_t sn = n;
        if (cap) {
            if (n < 3 || p[n - 1] != '}')
                return -EINVAL;
            s = p + 1;
            sn = n - 2;
        }
        for (size_t i = 0; i < sn; i++)
            if (cap ? !cap_name_char(s[i]) : !literal_char(s[i]))
                return -EINVAL;
        char *seg = strndup(s, sn);
        if (!seg)
            return -ENOMEM;
        rt->segs[rt->nsegs] = seg;
        rt->cap[rt->nsegs] = cap;
        rt->nsegs++;
        if (!end)
            return 0;
        p = end + 1;
    }
}

static bool same_shape(const route *a, const route *b)
{
    if (a->nsegs != b->nsegs)
        return false;
    for (size_t i = 0; i < a->nsegs; i++) {
        if (a->cap[i] != b->cap[i])
            return false;
        if (!a->cap[i] && strcmp(a->segs[i], b->segs[i]) != 0)
            return false;
    }
    return true;
}

int http_router_add(http_router *r, const char *pattern, http_handler h, void *arg)
{
    route rt;
    int ret;

    memset(&rt, 0, sizeof(rt));
    if (!r || !h)
        return -EINVAL;
    ret = route_parse(pattern, &rt);
    if (ret)
        goto out;
    /* Two captures of the same name in one pattern would make lookups ambiguous. */
    for (size_t i = 0; i < rt.nsegs; i++)
        for (size_t j = i + 1; j < rt.nsegs; j++)
            if (rt.cap[i] && rt.cap[j] && strcmp(rt.segs[i], rt.segs[j]) == 0) {
                ret = -EINVAL;
                goto out;
            }
    for (size_t i = 0; i < r->n; i++)
        if (same_shape(&r->routes[i], &rt)) {
            ret = -EEXIST;
            goto out;
        }
    rt.pattern = strdup(pattern);
    if (!rt.pattern) {
        ret = -ENOMEM;
        goto out;
    }
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 8;
        route *nr = realloc(r->routes, ncap * sizeof(*nr));
        if (!nr) {
            ret = -ENOMEM;
            goto out;
        }
        r->routes = nr;
        r->cap = ncap;
    }
    rt.handler = h;
    rt.arg = arg;
    r->routes[r->n++] = rt;
    return 0;
out:
    route_clear(&rt);
    return ret;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_pct_decode(const char *s, size_t n, bool plus_is_space, char **out)
{
    int r = 0;
    size_t o = 0;
    char *d = malloc(n + 1);
    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n && !r; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = n - i >= 3 ? hexval(s[i + 1]) : -1;
            int lo = n - i >= 3 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                r = -EINVAL; /* a bad escape, or %00 */
                break;
            }
            d[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '\0') {
            r = -EINVAL;
        } else {
            d[o++] = c == '+' && plus_is_space ? ' ' : c;
        }
    }
    if (r) {
        free(d);
    } else {
        d[o] = '\0';
        *out = d;
    }
    return r;
}

void http_target_free(http_target *t)
{
    if (!t)
        return;
    free(t->path);
    for (size_t i = 0; i < t->nsegs; i++)
        free(t->segs[i]);
    for (size_t i = 0; i < t->nquery; i++) {
        free(t->query[i].name);
        free(t->query[i].value);
    }
    memset(t, 0, sizeof(*t));
}

static int parse_query(const char *q, size_t n, http_target *t)
{
    size_t i = 0;
    while (i < n) {
        const char *piece = q + i;
        const char *amp = memchr(piece, '&', n - i);
        size_t pn = amp ? (size_t)(amp - piece) : n - i;
        i += pn + 1;
        if (pn == 0)
            continue;
        if (t->nquery == HTTP_ROUTER_MAX_QUERY)
            return -EINVAL;
        const char *eq = memchr(piece, '=', pn);
        size_t kn = eq ? (size_t)(eq - piece) : pn;
        http_kv *kv = &t->query[t->nquery];
        int r = http_pct_decode(piece, kn, true, &kv->name);
        if (r)
            return r;
        r = eq ? http_pct_decode(eq + 1, pn - kn - 1, true, &kv->value)
               : http_pct_decode("", 0, true, &kv->value);
        if (r) {
            free(kv->name);
            kv->name = NULL;
            return r;
        }
        t->nquery++;
    }
    return 0;
}

int http_target_parse(const char *raw, size_t len, http_target *t)
{
    int r;

    memset(t, 0, sizeof(*t));
    if (len == 0 || raw[0] != '/')
        return -EINVAL;
    /* A fragment is never sent by a correct client; ignore it if one is. */
    const char *hash = memchr(raw, '#', len);
    if (hash)
        len = (size_t)(hash - raw);
    const char *qm = memchr(raw, '?', len);
    size_t plen = qm ? (size_t)(qm - raw) : len;

    r = http_pct_decode(raw, plen, false, &t->path);
    if (r)
        goto fail;
    /* Segments are split on the raw '/', so an encoded %2F stays inside one. */
    if (plen > 1) {
        size_t i = 1;
        for (;;) {
            const char *s = raw + i;
            const char *slash = memchr(s, '/', plen - i);
            size_t sn = slash ? (size_t)(slash - s) : plen - i;
            if (t->nsegs == HTTP_ROUTER_MAX_SEGMENTS) {
                t->too_many_segs = true;
                break;
            }
            r = http_pct_decode(s, sn, false, &t->segs[t->nsegs]);
            if (r)
                goto fail;
            t->nsegs++;
            if (!slash)
                break;
            i += sn + 1;
        }
    }
    if (qm) {
        r = parse_query(qm + 1, len - plen - 1, t);
        if (r)
            goto fail;
    }
    return 0;
fail:
    http_target_free(t);
    return r;
}

const char *http_target_query(const http_target *t, const char *name)
{
    for (size_t i = 0; i < t->nquery; i++)
        if (strcmp(t->query[i].name, name) == 0)
            return t->query[i].value;
    return NULL;
}

static bool route_matches(const route *rt, const http_target *t)
{
    if (t->too_many_segs || rt->nsegs != t->nsegs)
        return false;
    for (size_t i = 0; i < rt->nsegs; i++) {
        if (rt->cap[i]) {
            if (t->segs[i][0] == '\0')
                return false;
        } else if (strcmp(rt->segs[i], t->segs[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* True when a is more specific than b: at the first segment where one has a
 * literal and the other a capture, a has the literal. */
static bool more_specific(const route *a, const route *b)
{
    for (size_t i = 0; i < a->nsegs && i < b->nsegs; i++)
        if (a->cap[i] != b->cap[i])
            return !a->cap[i];
    return false;
}

int http_router_match(const http_router *r, const http_target *t, http_match *m)
{
    const route *best = NULL;

    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < r->n; i++) {
        const route *rt = &r->routes[i];
        if (route_matches(rt, t) && (!best || more_specific(rt, best)))
            best = rt;
    }
    if (!best)
        return -ENOENT;
    m->pattern = best->pattern;
    m->handler = best->handler;
    m->arg = best->arg;
    for (size_t i = 0; i < best->nsegs; i++) {
        if (!best->cap[i])
            continue;
        m->params[m->nparams].name = best->segs[i];
        m->params[m->nparams].value = t->segs[i];
        m->nparams++;
    }
    return 0;
}

/* RFC 9112 3.2.2: a server accepts absolute-form ("http://host/path?q") too;
 * only the path and query matter here. */
static void strip_absolute_form(const char **raw, size_t *len)
{
    size_t skip;
    if (*len >= 7 && strncasecmp(*raw, "http://", 7) == 0)
        skip = 7;
    else if (*len >= 8 && strncasecmp(*raw, "https://", 8) == 0)
        skip = 8;
    else
        return;
    const char *p = *raw + skip;
    size_t n = *len - skip;
    size_t i = 0;
    while (i < n && p[i] != '/' && p[i] != '?' && p[i] != '#')
        i++;
    if (i == 0 || i == n || p[i] != '/')
        return; /* no authority or no path: left to fail as a bad target */
    *raw = p + i;
    *len = n - i;
}

int http_router_decide(const http_router *r, const char *method, const char *raw, size_t len,
                       http_target *t, http_match *m)
{
    strip_absolute_form(&raw, &len);
    int ret = http_target_parse(raw, len, t);
    if (ret == -ENOMEM)
        return ret;
    memset(m, 0, sizeof(*m));
    if (ret)
        return 400;
    if (http_router_match(r, t, m)) {
        http_target_free(t);
        return 404;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return 405;
    return 0;
}
