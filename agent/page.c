/* SPDX-License-Identifier: MIT */
#include "agent/page.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_internal.h"
#include "agent/api.h"
#include "common/timeutil.h"

/* GET /: the status page. Rendering is a pure function of the readiness and
 * /v1/pods documents (agent_page_render), so it is tested without a server. */

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2327;background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .3em}"
    ".ready{color:#176b2c;font-weight:600}.notready{color:#a4281d;font-weight:600}"
    "table{border-collapse:collapse;margin-top:1em;min-width:60%}"
    "th,td{border-bottom:1px solid #d6d9dc;padding:.35em .7em;text-align:left;"
    "vertical-align:top}"
    "th{background:#f3f4f5}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "code{font-family:ui-monospace,monospace;font-size:.95em}"
    ".s-Bound{color:#176b2c;font-weight:600}.s-Failed{color:#a4281d;font-weight:600}"
    ".s-Waiting,.s-Allocating,.s-Associating,.s-Releasing{color:#8a5a00;font-weight:600}"
    ".age,.muted{color:#6a737c}footer{margin-top:1.5em;color:#6a737c}";

static int put(eip_buf *b, const char *s)
{
    return eip_buf_appends(b, s);
}

/* s with & < > " ' as entities and control characters (but tab and newline)
 * as U+FFFD, so no value can close an element or an attribute. */
static int put_esc(eip_buf *b, const char *s)
{
    if (!s)
        return 0;
    const char *run = s;
    for (const char *p = s;; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '\0':
            break;
        default:
            if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n')
                rep = "\xEF\xBF\xBD";
            else if (*p == 0x7f)
                rep = "\xEF\xBF\xBD";
            break;
        }
        if (!rep && *p)
            continue;
        int r = eip_buf_append(b, run, (size_t)(p - run));
        if (r)
            return r;
        if (!*p)
            return 0;
        if ((r = put(b, rep)))
            return r;
        run = p + 1;
    }
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* " <span class="age">for 45s</span>": 45s, 3m12s, 2h04m, 3d05h (negative
 * clock skew reads as 0s). */
static int put_age(eip_buf *b, int64_t secs)
{
    long long s = secs < 0 ? 0 : (long long)secs;
    const char *open = " <span class=\"age\">for ", *close = "</span>";
    if (s < 60)
        return eip_buf_appendf(b, "%s%llds%s", open, s, close);
    if (s < 3600)
        return eip_buf_appendf(b, "%s%lldm%02llds%s", open, s / 60, s % 60, close);
    if (s < 86400)
        return eip_buf_appendf(b, "%s%lldh%02lldm%s", open, s / 3600, s % 3600 / 60, close);
    return eip_buf_appendf(b, "%s%lldd%02lldh%s", open, s / 86400, s % 86400 / 3600, close);
}

static int pod_cmp(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    int c = strcmp(str(a, "namespace"), str(b, "namespace"));
    return c ? c : strcmp(str(a, "name"), str(b, "name"));
}

/* One <td>: the escaped value, or a muted dash when it is empty. */
static int cell(eip_buf *b, const char *cls, const char *value, bool code)
{
    int r = put(b, cls ? "<td class=\"" : "<td>");
    if (!r && cls)
        r = put(b, cls);
    if (!r && cls)
        r = put(b, "\">");
    if (r)
        return r;
    if (!*value)
        return put(b, "<span class=\"muted\">&ndash;</span></td>");
    if (code && (r = put(b, "<code>")))
        return r;
    if ((r = put_esc(b, value)))
        return r;
    if (code && (r = put(b, "</code>")))
        return r;
    return put(b, "</td>");
}

/* The <tr> with the pod's name and IP. */
static int row_name(eip_buf *b, const json_t *p)
{
    const char *ns = str(p, "namespace"), *name = str(p, "name");
    int r = put(b, "<tr data-pod=\"");
    if (!r)
        r = put_esc(b, ns);
    if (!r)
        r = put(b, "/");
    if (!r)
        r = put_esc(b, name);
    if (!r)
        r = put(b, "\" data-state=\"");
    if (!r)
        r = put_esc(b, str(p, "state"));
    if (!r)
        r = put(b, "\"><td>");
    if (!r)
        r = put_esc(b, ns);
    if (!r)
        r = put(b, "/<b>");
    if (!r)
        r = put_esc(b, name);
    if (!r)
        r = put(b, "</b></td>");
    if (!r)
        r = cell(b, NULL, str(p, "podIP"), true);
    return r;
}

/* The state, and how long it has been in it. */
static int row_state(eip_buf *b, const json_t *p, int64_t now_ms)
{
    const char *state = str(p, "state");
    int r = put(b, "<td class=\"state\"><span class=\"s-");
    if (!r)
        r = put_esc(b, state);
    if (!r)
        r = put(b, "\">");
    if (!r)
        r = put_esc(b, state);
    if (!r)
        r = put(b, "</span>");
    time_t since;
    if (!r && !eip_time_parse_rfc3339(str(p, "since"), &since))
        r = put_age(b, now_ms / 1000 - (int64_t)since);
    if (!r)
        r = put(b, "</td>");
    return r;
}

/* Auto/Static and the release strategy (with the TTL), then the time to bind. */
static int row_strategy(eip_buf *b, const json_t *p)
{
    int r = put(b, "<td class=\"strategy\">");
    if (!r)
        r = put_esc(b, str(p, "type"));
    if (!r && *str(p, "releaseStrategy")) {
        r = put(b, ", ");
        if (!r)
            r = put_esc(b, str(p, "releaseStrategy"));
        if (!r && *str(p, "releaseAfter")) {
            r = put(b, " ");
            if (!r)
                r = put_esc(b, str(p, "releaseAfter"));
        }
    }
    if (!r)
        r = put(b, "</td>");
    const json_t *secs = json_object_get(p, "bindSeconds");
    if (!r && json_is_number(secs))
        r = eip_buf_appendf(b, "<td class=\"num bind\">%.2f s</td>", json_number_value(secs));
    else if (!r)
        r = put(b, "<td class=\"num bind\"><span class=\"muted\">&ndash;</span></td>");
    return r;
}

/* Why it is not bound, when it says: "reason: message"; then the end of the row. */
static int row_message(eip_buf *b, const json_t *p)
{
    const char *reason = str(p, "reason"), *message = str(p, "message");
    int r;
    if (!*reason && !*message) {
        r = cell(b, "message", "", false);
    } else {
        r = put(b, "<td class=\"message\">");
        if (!r)
            r = put_esc(b, reason);
        if (!r && *reason && *message)
            r = put(b, ": ");
        if (!r)
            r = put_esc(b, message);
        if (!r)
            r = put(b, "</td>");
    }
    if (!r)
        r = put(b, "</tr>\n");
    return r;
}

static int row(eip_buf *b, const json_t *p, int64_t now_ms)
{
    int r = row_name(b, p);
    if (!r)
        r = row_state(b, p, now_ms);
    if (!r)
        r = cell(b, "eip", str(p, "eipAddress"), true);
    if (!r)
        r = cell(b, "eni", str(p, "networkInterfaceId"), true);
    if (!r)
        r = row_strategy(b, p);
    if (!r)
        r = row_message(b, p);
    return r;
}

static int table(eip_buf *b, const json_t *pods, int64_t now_ms)
{
    const json_t *items = pods ? json_object_get(pods, "pods") : NULL;
    size_t n = json_array_size(items);
    int r = put(b, "<table id=\"pods\">\n<thead><tr><th>Pod</th><th>Pod IP</th><th>State</th>"
                   "<th>EIP</th><th>ENI</th><th>Strategy</th><th>Time to bind</th>"
                   "<th>Message</th></tr></thead>\n<tbody>\n");
    if (r)
        return r;
    if (!pods)
        return put(b, "<tr><td colspan=\"8\" class=\"muted\">The eip controller is not enabled "
                      "(<code>enableControllers</code>): this agent serves no pods.</td></tr>\n"
                      "</tbody></table>\n");
    if (n == 0)
        return put(b, "<tr><td colspan=\"8\" class=\"muted\">No EIP pods on this node.</td></tr>\n"
                      "</tbody></table>\n");
    const json_t **sorted = calloc(n, sizeof(*sorted));
    if (!sorted)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(items, i);
    qsort(sorted, n, sizeof(*sorted), pod_cmp);
    size_t shown = n < PAGE_MAX_ROWS ? n : PAGE_MAX_ROWS;
    for (size_t i = 0; i < shown && !r; i++)
        r = row(b, sorted[i], now_ms);
    free(sorted);
    if (!r && shown < n)
        r = eip_buf_appendf(b,
                            "<tr><td colspan=\"8\" class=\"muted\">%zu more pods not shown: "
                            "<a href=\"/v1/pods\">/v1/pods</a> has them all.</td></tr>\n",
                            n - shown);
    if (!r)
        r = put(b, "</tbody></table>\n");
    return r;
}

/* "3 EIP pods: 2 Bound, 1 Associating" (states in the order first seen). */
static int summary(eip_buf *b, const json_t *pods)
{
    const json_t *items = pods ? json_object_get(pods, "pods") : NULL;
    size_t n = json_array_size(items);
    int r = eip_buf_appendf(b, "<p id=\"summary\">%zu EIP pod%s", n, n == 1 ? "" : "s");
    const char *states[16];
    size_t counts[16], nstates = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = str(json_array_get(items, i), "state");
        size_t k = 0;
        while (k < nstates && strcmp(states[k], s) != 0)
            k++;
        if (k == nstates) {
            if (nstates == sizeof(states) / sizeof(states[0]))
                continue;
            states[nstates] = s;
            counts[nstates++] = 0;
        }
        counts[k]++;
    }
    for (size_t k = 0; k < nstates && !r; k++) {
        r = eip_buf_appendf(b, "%s%zu ", k ? ", " : ": ", counts[k]);
        if (!r)
            r = put_esc(b, states[k]);
    }
    if (!r)
        r = put(b, "</p>\n");
    return r;
}

static int readiness_block(eip_buf *b, const json_t *ready)
{
    bool ok = json_is_true(json_object_get(ready, "ready"));
    if (ok)
        return put(b, "<p id=\"readiness\" class=\"ready\">Ready</p>\n");
    int r = put(b, "<p id=\"readiness\" class=\"notready\">Not ready</p>\n<ul id=\"reasons\">\n");
    const json_t *reasons = json_object_get(ready, "reasons");
    for (size_t i = 0; i < json_array_size(reasons) && !r; i++) {
        r = put(b, "<li>");
        if (!r)
            r = put_esc(b, json_string_value(json_array_get(reasons, i)));
        if (!r)
            r = put(b, "</li>\n");
    }
    if (!r)
        r = put(b, "</ul>\n");
    return r;
}

int agent_page_render(eip_buf *b, const char *node, const json_t *ready, const json_t *pods,
                      int64_t now_ms)
{
    char now[40] = "";
    eip_time_format_rfc3339(now, sizeof(now), (time_t)(now_ms / 1000));
    const char *n = node && *node ? node : "(no node name)";
    int r = eip_buf_appendf(
        b,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">\n"
        "<meta http-equiv=\"refresh\" content=\"%d\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>eip-agent: ",
        PAGE_REFRESH_S);
    if (!r)
        r = put_esc(b, n);
    if (!r)
        r = put(b, "</title>\n<style>");
    if (!r)
        r = put(b, STYLE);
    if (!r)
        r = put(b, "</style>\n</head>\n<body>\n<h1>eip-agent on <span id=\"node\">");
    if (!r)
        r = put_esc(b, n);
    if (!r)
        r = put(b, "</span></h1>\n");
    if (!r)
        r = readiness_block(b, ready);
    if (!r)
        r = summary(b, pods);
    if (!r)
        r = table(b, pods, now_ms);
    if (!r)
        r = eip_buf_appendf(b,
                            "<footer>eip-agent %s &middot; rendered %s, refreshes every %d s "
                            "&middot; as JSON: <a href=\"/v1/pods\">/v1/pods</a>, "
                            "<a href=\"/readyz\">/readyz</a>, <a href=\"/metrics\">/metrics</a>"
                            "</footer>\n</body>\n</html>\n",
                            EIP_AGENT_VERSION, now, PAGE_REFRESH_S);
    return r;
}

/* ---- the route ---- */

static void on_page(http_exchange *ex, void *arg)
{
    struct agent *a = arg;
    json_t *ready = readiness_json(a->ready);
    json_t *pods = a->ctl ? api_pods_json(a->ctl) : NULL;
    if (!ready || (a->ctl && !pods)) {
        json_decref(ready);
        json_decref(pods);
        http_exchange_reply_error(ex, 500, "out of memory");
        return;
    }
    eip_buf b;
    eip_buf_init(&b, PAGE_MAX_BYTES);
    int r = agent_page_render(&b, a->cfg->node_name, ready, pods, eip_time_now_ms());
    json_decref(ready);
    json_decref(pods);
    if (r)
        http_exchange_reply_error(ex, 500, r == -E2BIG ? "page too large" : "out of memory");
    else
        http_exchange_reply(ex, 200, "text/html; charset=utf-8", b.data, b.len);
    eip_buf_free(&b);
}

int agent_page_routes(struct agent *a)
{
    return http_server_route(a->server, "/", on_page, a);
}
