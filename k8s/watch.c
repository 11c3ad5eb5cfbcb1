/* SPDX-License-Identifier: MIT */
#include "k8s/watch_internal.h"

#include <errno.h>
#include <string.h>

#include "common/json.h"

#define DEFAULT_MAX_EVENT (4u * 1024 * 1024)

const char *k8s_watch_type_name(k8s_watch_type t)
{
    switch (t) {
    case K8S_WATCH_ADDED:
        return "ADDED";
    case K8S_WATCH_MODIFIED:
        return "MODIFIED";
    case K8S_WATCH_DELETED:
        return "DELETED";
    case K8S_WATCH_BOOKMARK:
        return "BOOKMARK";
    case K8S_WATCH_ERROR:
        return "ERROR";
    }
    return "?";
}

void k8s_watch_parser_init(k8s_watch_parser *p, size_t max_event)
{
    eip_buf_init(&p->line, max_event ? max_event : DEFAULT_MAX_EVENT);
}

void k8s_watch_parser_reset(k8s_watch_parser *p)
{
    if (p->line.cap > 64 * 1024)
        eip_buf_free(&p->line); /* keeps max */
    else
        eip_buf_reset(&p->line);
}

void k8s_watch_parser_free(k8s_watch_parser *p)
{
    eip_buf_free(&p->line);
}

int k8s_watch_parse_line(const char *line, size_t len, k8s_watch_event_cb cb, void *arg)
{
    json_t *root = NULL;
    int e = eip_json_loadb(line, len, JSON_REJECT_DUPLICATES, &root, NULL);
    if (e == -ENOMEM)
        return e;
    if (!json_is_object(root)) {
        json_decref(root);
        return -EBADMSG;
    }
    int r = -EBADMSG;
    const char *type = NULL;
    json_t *obj = NULL;
    if (json_unpack(root, "{s:s, s:o}", "type", &type, "object", &obj) != 0 || !json_is_object(obj))
        goto out;
    k8s_watch_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.object = obj;
    if (!strcmp(type, "ADDED"))
        ev.type = K8S_WATCH_ADDED;
    else if (!strcmp(type, "MODIFIED"))
        ev.type = K8S_WATCH_MODIFIED;
    else if (!strcmp(type, "DELETED"))
        ev.type = K8S_WATCH_DELETED;
    else if (!strcmp(type, "BOOKMARK"))
        ev.type = K8S_WATCH_BOOKMARK;
    else if (!strcmp(type, "ERROR"))
        ev.type = K8S_WATCH_ERROR;
    else
        goto out;
    if (ev.type == K8S_WATCH_ERROR) {
        k8s_status_from_json(obj, 500, &ev.status);
        ev.error_class = k8s_result_from_status(ev.status.code, ev.status.reason);
    } else {
        const char *rv = NULL;
        json_t *md = json_object_get(obj, "metadata");
        if (json_is_object(md) && json_is_string(json_object_get(md, "resourceVersion")))
            rv = json_string_value(json_object_get(md, "resourceVersion"));
        if (!rv || !*rv)
            goto out; /* every event but ERROR carries a resourceVersion */
        ev.resource_version = rv;
    }
    r = cb(&ev, arg);
out:
    json_decref(root);
    return r;
}

int k8s_watch_feed(k8s_watch_parser *p, const char *data, size_t len, k8s_watch_event_cb cb,
                   void *arg)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        int r = eip_buf_append(&p->line, data, take);
        if (r) {
            k8s_watch_parser_reset(p);
            return r;
        }
        data += take;
        len -= take;
        if (!nl)
            break;
        data++; /* the newline */
        len--;
        const char *s = p->line.data;
        size_t n = p->line.len;
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
            n--;
        if (n > 0) {
            r = k8s_watch_parse_line(s, n, cb, arg);
            if (r) {
                k8s_watch_parser_reset(p);
                return r;
            }
        }
        /* one huge event must not pin megabytes for the life of the watch */
        if (p->line.cap > 64 * 1024)
            eip_buf_free(&p->line);
        else
            eip_buf_reset(&p->line);
    }
    return 0;
}
