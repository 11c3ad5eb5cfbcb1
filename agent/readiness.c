/* SPDX-License-Identifier: MIT */
#include "agent/readiness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"

struct condition {
    struct condition *next;
    bool met;
    char *reason; /* NULL when none */
    char name[];
};

struct readiness {
    struct condition *head, **tail;
    readiness_change_cb cb;
    void *cb_arg;
};

int readiness_new(readiness **out)
{
    readiness *r = calloc(1, sizeof(*r));
    *out = r;
    if (!r)
        return -ENOMEM;
    r->tail = &r->head;
    return 0;
}

void readiness_free(readiness *r)
{
    if (!r)
        return;
    struct condition *c = r->head;
    while (c) {
        struct condition *next = c->next;
        free(c->reason);
        free(c);
        c = next;
    }
    free(r);
}

void readiness_set_observer(readiness *r, readiness_change_cb cb, void *arg)
{
    r->cb = cb;
    r->cb_arg = arg;
}

static struct condition *find(const readiness *r, const char *name)
{
    for (struct condition *c = r->head; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int readiness_add(readiness *r, const char *name, const char *reason)
{
    if (find(r, name))
        return -EEXIST;
    size_t len = strlen(name);
    struct condition *c = calloc(1, sizeof(*c) + len + 1);
    if (!c)
        return -ENOMEM;
    memcpy(c->name, name, len + 1);
    if (reason && !(c->reason = strdup(reason))) {
        free(c);
        return -ENOMEM;
    }
    *r->tail = c;
    r->tail = &c->next;
    if (r->cb)
        r->cb(r, r->cb_arg);
    return 0;
}

int readiness_set(readiness *r, const char *name, bool met, const char *reason)
{
    struct condition *c = find(r, name);
    if (!c)
        return -ENOENT;
    bool same_reason =
        (!reason && !c->reason) || (reason && c->reason && !strcmp(reason, c->reason));
    if (c->met == met && same_reason)
        return 0;
    char *dup = NULL;
    if (reason && !(dup = strdup(reason)))
        return -ENOMEM;
    free(c->reason);
    c->reason = dup;
    c->met = met;
    if (r->cb)
        r->cb(r, r->cb_arg);
    return 0;
}

bool readiness_ready(const readiness *r)
{
    for (const struct condition *c = r->head; c; c = c->next)
        if (!c->met)
            return false;
    return true;
}

bool readiness_is_met(const readiness *r, const char *name)
{
    const struct condition *c = find(r, name);
    return c && c->met;
}

json_t *readiness_json(const readiness *r)
{
    json_t *reasons = json_array();
    if (!reasons)
        return NULL;
    for (const struct condition *c = r->head; c; c = c->next) {
        if (c->met)
            continue;
        json_t *s = c->reason ? json_sprintf("%s: %s", c->name, c->reason) : json_string(c->name);
        if (!s || json_array_append_new(reasons, s)) {
            json_decref(reasons);
            return NULL;
        }
    }
    return json_pack("{s:b, s:o}", "ready", readiness_ready(r), "reasons", reasons);
}

void readiness_summary(const readiness *r, char *dst, size_t cap)
{
    if (cap == 0)
        return;
    if (readiness_ready(r)) {
        eip_seterr(dst, cap, "ready");
        return;
    }
    /* a message for logs and sd_notify STATUS=: cut at cap */
    eip_buf b;
    eip_buf_init(&b, cap - 1);
    int e = eip_buf_appends(&b, "waiting for");
    const char *sep = " ";
    for (const struct condition *c = r->head; c && !e; c = c->next) {
        if (c->met)
            continue;
        e = eip_buf_appendf(&b, "%s%s", sep, c->name);
        sep = ", ";
    }
    eip_seterr(dst, cap, "%s", b.data ? b.data : "waiting");
    eip_buf_free(&b);
}
