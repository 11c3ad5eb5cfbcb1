/* SPDX-License-Identifier: MIT */
#include "agent/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    struct series *next;
    double value;   /* counter, gauge; histogram: the sum of observations */
    uint64_t *obs;  /* histogram: per-bucket counts, then the +Inf bucket (owned) */
    char *values[]; /* one per label name, owned */
};

struct metric_family {
    metric_family *next;
    enum metric_type type;
    char *name;
    char *help;
    size_t n_labels;
    char **labels;
    struct series *series, **series_tail;
    size_t n_series;
    double *bounds; /* histogram: upper bounds, increasing (owned) */
    size_t n_bounds;
};

struct collector {
    struct collector *next;
    metrics_collect_cb cb;
    void (*free_arg)(void *arg);
    void *arg;
};

struct metrics {
    metric_family *families, **tail;
    struct collector *collectors;
};

int metrics_new(metrics **out)
{
    metrics *m = calloc(1, sizeof(*m));
    *out = m;
    if (!m)
        return -ENOMEM;
    m->tail = &m->families;
    return 0;
}

static void series_free(struct series *s, size_t n_labels)
{
    for (size_t i = 0; i < n_labels; i++)
        free(s->values[i]);
    free(s->obs);
    free(s);
}

static void family_free(metric_family *f)
{
    struct series *s = f->series;
    while (s) {
        struct series *next = s->next;
        series_free(s, f->n_labels);
        s = next;
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->labels);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    metric_family *f = m->families;
    while (f) {
        metric_family *next = f->next;
        family_free(f);
        f = next;
    }
    struct collector *c = m->collectors;
    while (c) {
        struct collector *next = c->next;
        if (c->free_arg)
            c->free_arg(c->arg);
        free(c);
        c = next;
    }
    free(m);
}

static bool valid_name(const char *s, bool colon_ok)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                     (colon_ok && ch == ':');
        bool digit = ch >= '0' && ch <= '9';
        if (!alpha && !(digit && p != s))
            return false;
    }
    return true;
}

metric_family *metrics_find(metrics *m, const char *name)
{
    for (metric_family *f = m->families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

metric_family *metrics_register(metrics *m, enum metric_type type, const char *name,
                                const char *help, const char *const *labels)
{
    if (!valid_name(name, true) || metrics_find(m, name))
        return NULL;
    size_t n = 0;
    while (labels && labels[n]) {
        if (!valid_name(labels[n], false) || strncmp(labels[n], "__", 2) == 0)
            return NULL;
        n++;
    }
    metric_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->type = type;
    f->series_tail = &f->series;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->labels = calloc(n ? n : 1, sizeof(char *));
    if (!f->name || !f->help || !f->labels)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        f->labels[i] = strdup(labels[i]);
        if (!f->labels[i]) {
            f->n_labels = i;
            goto fail;
        }
    }
    f->n_labels = n;
    *m->tail = f;
    m->tail = &f->next;
    return f;
fail:
    family_free(f);
    return NULL;
}

metric_family *metrics_register_histogram(metrics *m, const char *name, const char *help,
                                          const char *const *labels, const double *bounds,
                                          size_t n_bounds)
{
    if (!bounds || n_bounds == 0)
        return NULL;
    for (size_t i = 0; i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return NULL;
    for (size_t i = 0; labels && labels[i]; i++)
        if (strcmp(labels[i], "le") == 0)
            return NULL;
    double *copy = malloc(n_bounds * sizeof(*copy));
    if (!copy)
        return NULL;
    memcpy(copy, bounds, n_bounds * sizeof(*copy));
    metric_family *f = metrics_register(m, METRIC_HISTOGRAM, name, help, labels);
    if (!f) {
        free(copy);
        return NULL;
    }
    f->bounds = copy;
    f->n_bounds = n_bounds;
    return f;
}

static struct series *series_lookup(const metric_family *f, const char *const *values)
{
    for (struct series *s = f->series; s; s = s->next) {
        size_t i = 0;
        while (i < f->n_labels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->n_labels)
            return s;
    }
    return NULL;
}

static int series_get(metric_family *f, const char *const *values, struct series **out)
{
    for (size_t i = 0; i < f->n_labels; i++)
        if (!values || !values[i])
            return -EINVAL;
    struct series *s = series_lookup(f, values);
    if (s) {
        *out = s;
        return 0;
    }
    if (f->n_series >= METRICS_MAX_SERIES)
        return -E2BIG;
    s = calloc(1, sizeof(*s) + f->n_labels * sizeof(char *));
    if (!s)
        return -ENOMEM;
    if (f->type == METRIC_HISTOGRAM) {
        s->obs = calloc(f->n_bounds + 1, sizeof(*s->obs));
        if (!s->obs) {
            free(s);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < f->n_labels; i++) {
        s->values[i] = strdup(values[i]);
        if (!s->values[i]) {
            series_free(s, i);
            return -ENOMEM;
        }
    }
    *f->series_tail = s;
    f->series_tail = &s->next;
    f->n_series++;
    *out = s;
    return 0;
}

int metrics_add(metric_family *f, const char *const *values, double delta)
{
    if (isnan(delta) || (f->type == METRIC_COUNTER && delta < 0) || f->type == METRIC_HISTOGRAM)
        return -EINVAL;
    struct series *s;
    int r = series_get(f, values, &s);
    if (r)
        return r;
    s->value += delta;
    return 0;
}

int metrics_inc(metric_family *f, const char *const *values)
{
    return metrics_add(f, values, 1.0);
}

int metrics_set(metric_family *f, const char *const *values, double v)
{
    if (f->type == METRIC_HISTOGRAM)
        return -EINVAL;
    struct series *s;
    int r = series_get(f, values, &s);
    if (r)
        return r;
    s->value = v;
    return 0;
}

int metrics_observe(metric_family *f, const char *const *values, double v)
{
    if (f->type != METRIC_HISTOGRAM || isnan(v))
        return -EINVAL;
    struct series *s;
    int r = series_get(f, values, &s);
    if (r)
        return r;
    size_t i = 0;
    while (i < f->n_bounds && v > f->bounds[i])
        i++;
    s->obs[i]++;
    s->value += v;
    return 0;
}

uint64_t metrics_get_count(const metric_family *f, const char *const *values)
{
    if (f->type != METRIC_HISTOGRAM)
        return 0;
    for (size_t i = 0; i < f->n_labels; i++)
        if (!values || !values[i])
            return 0;
    const struct series *s = series_lookup(f, values);
    uint64_t n = 0;
    for (size_t i = 0; s && i <= f->n_bounds; i++)
        n += s->obs[i];
    return n;
}

double metrics_get(const metric_family *f, const char *const *values)
{
    for (size_t i = 0; i < f->n_labels; i++)
        if (!values || !values[i])
            return 0;
    const struct series *s = series_lookup(f, values);
    return s ? s->value : 0;
}

int metrics_add_collector(metrics *m, metrics_collect_cb cb, void (*free_arg)(void *arg), void *arg)
{
    struct collector *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cb = cb;
    c->free_arg = free_arg;
    c->arg = arg;
    struct collector **pp = &m->collectors;
    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
    return 0;
}

/* HELP text escapes \ and newline; label values also escape the double quote. */
static int append_escaped(eip_buf *out, const char *s, bool quote)
{
    int r = 0;
    for (const char *p = s; *p && !r; p++) {
        if (*p == '\\')
            r = eip_buf_append(out, "\\\\", 2);
        else if (*p == '\n')
            r = eip_buf_append(out, "\\n", 2);
        else if (quote && *p == '"')
            r = eip_buf_append(out, "\\\"", 2);
        else
            r = eip_buf_append(out, p, 1);
    }
    return r;
}

static int append_value(eip_buf *out, double v)
{
    if (isnan(v))
        return eip_buf_appends(out, "NaN");
    if (isinf(v))
        return eip_buf_appends(out, v > 0 ? "+Inf" : "-Inf");
    /* The shortest %g form that reads back as the same double. */
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v); /* at most 24 bytes */
        if (n < 0 || (size_t)n >= sizeof(tmp))
            return -E2BIG;
        if (strtod(tmp, NULL) == v)
            break;
    }
    return eip_buf_appends(out, tmp);
}

/* name{a="x",b="y"[,le="..."]} */
static int append_sample_name(eip_buf *out, const metric_family *f, const struct series *s,
                              const char *suffix, const char *le)
{
    int r = eip_buf_appendf(out, "%s%s", f->name, suffix);
    for (size_t i = 0; i < f->n_labels && !r; i++) {
        r = eip_buf_appendf(out, "%s%s=\"", i ? "," : "{", f->labels[i]);
        if (!r)
            r = append_escaped(out, s->values[i], true);
        if (!r)
            r = eip_buf_append(out, "\"", 1);
    }
    if (!r && le)
        r = eip_buf_appendf(out, "%sle=\"%s\"", f->n_labels ? "," : "{", le);
    if (!r && (f->n_labels || le))
        r = eip_buf_append(out, "}", 1);
    if (!r)
        r = eip_buf_append(out, " ", 1);
    return r;
}

static int append_sample(eip_buf *out, const metric_family *f, const struct series *s,
                         const char *suffix, const char *le, double v)
{
    int r = append_sample_name(out, f, s, suffix, le);
    if (!r)
        r = append_value(out, v);
    if (!r)
        r = eip_buf_append(out, "\n", 1);
    return r;
}

static int render_histogram(eip_buf *out, const metric_family *f, const struct series *s)
{
    uint64_t cum = 0;
    int r = 0;
    for (size_t i = 0; i <= f->n_bounds && !r; i++) {
        cum += s->obs[i];
        char le[48];
        if (i == f->n_bounds) {
            memcpy(le, "+Inf", sizeof("+Inf"));
        } else {
            eip_buf tmp;
            eip_buf_init(&tmp, sizeof(le) - 1);
            r = append_value(&tmp, f->bounds[i]);
            if (!r)
                memcpy(le, tmp.data, tmp.len + 1);
            eip_buf_free(&tmp);
        }
        if (!r)
            r = append_sample(out, f, s, "_bucket", le, (double)cum);
    }
    if (!r)
        r = append_sample(out, f, s, "_sum", NULL, s->value);
    if (!r)
        r = append_sample(out, f, s, "_count", NULL, (double)cum);
    return r;
}

static const char *type_name(enum metric_type t)
{
    return t == METRIC_COUNTER ? "counter" : t == METRIC_GAUGE ? "gauge" : "histogram";
}

int metrics_render(metrics *m, eip_buf *out)
{
    for (struct collector *c = m->collectors; c; c = c->next)
        c->cb(m, c->arg);
    int r = 0;
    for (metric_family *f = m->families; f && !r; f = f->next) {
        r = eip_buf_appendf(out, "# HELP %s ", f->name);
        if (!r)
            r = append_escaped(out, f->help, false);
        if (!r)
            r = eip_buf_appendf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
        for (struct series *s = f->series; s && !r; s = s->next)
            r = f->type == METRIC_HISTOGRAM ? render_histogram(out, f, s)
                                            : append_sample(out, f, s, "", NULL, s->value);
    }
    return r;
}
