/* SPDX-License-Identifier: MIT */
#include "agent/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/timer.h"

struct check_def {
    struct check_def *next;
    char *name;
    check_start_fn start;
    check_cancel_fn cancel;
    unsigned timeout_ms;
    void *arg;
};

struct check_registry {
    struct check_def *head, **tail;
    size_t n;
    bool running;
};

struct batch;

struct check_run {
    struct batch *batch;
    const struct check_def *def;
    uv_timer_t timer;
    bool finished;
    bool ok;
    unsigned timeout_ms;
    char detail[512];
    void *data;
};

struct batch {
    check_registry *reg;
    check_report_cb report;
    void *arg;
    size_t n, unfinished, open_timers;
    bool reported;
    uv_timer_t kick; /* defers the report to the loop */
    struct check_run runs[];
};

int check_registry_new(check_registry **out)
{
    check_registry *reg = calloc(1, sizeof(*reg));
    *out = reg;
    if (!reg)
        return -ENOMEM;
    reg->tail = &reg->head;
    return 0;
}

void check_registry_free(check_registry *reg)
{
    if (!reg)
        return;
    struct check_def *d = reg->head;
    while (d) {
        struct check_def *next = d->next;
        free(d->name);
        free(d);
        d = next;
    }
    free(reg);
}

int check_registry_add(check_registry *reg, const char *name, check_start_fn start,
                       check_cancel_fn cancel, unsigned timeout_ms, void *arg)
{
    for (struct check_def *d = reg->head; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            return -EEXIST;
    struct check_def *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->name = strdup(name);
    if (!d->name) {
        free(d);
        return -ENOMEM;
    }
    d->start = start;
    d->cancel = cancel;
    d->timeout_ms = timeout_ms;
    d->arg = arg;
    *reg->tail = d;
    reg->tail = &d->next;
    reg->n++;
    return 0;
}

size_t check_registry_count(const check_registry *reg)
{
    return reg->n;
}

/* Reports once every check has finished and every timer handle is closed, so
 * the batch can be freed right after. */
static void batch_maybe_report(struct batch *b)
{
    if (b->reported || b->unfinished || b->open_timers)
        return;
    b->reported = true;
    struct check_result *res = calloc(b->n ? b->n : 1, sizeof(*res));
    if (res) {
        for (size_t i = 0; i < b->n; i++) {
            res[i].name = b->runs[i].def->name;
            res[i].ok = b->runs[i].ok;
            res[i].detail = b->runs[i].detail;
        }
        b->report(res, b->n, b->arg);
        free(res);
    } else {
        log_error("checks: out of memory for the report");
        b->report(NULL, 0, b->arg);
    }
    b->reg->running = false;
    free(b);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct check_run *run = h->data;
    struct batch *b = run->batch;
    b->open_timers--;
    batch_maybe_report(b);
}

static void run_finish(struct check_run *run, bool ok, const char *detail)
{
    run->finished = true;
    run->ok = ok;
    eip_seterr(run->detail, sizeof(run->detail), "%s", detail ? detail : ""); /* a message */
    run->batch->unfinished--;
    if (!uv_is_closing((uv_handle_t *)&run->timer))
        uv_close((uv_handle_t *)&run->timer, on_timer_closed);
}

void check_done(check_run *run, bool ok, const char *fmt, ...)
{
    if (run->finished) {
        log_debug("check %s: finished twice (ignored)", run->def->name);
        return;
    }
    char detail[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        eip_vseterr(detail, sizeof(detail), fmt, ap);
        va_end(ap);
    }
    run_finish(run, ok, detail);
}

void check_run_set_data(check_run *run, void *data)
{
    run->data = data;
}

void *check_run_data(const check_run *run)
{
    return run->data;
}

static void on_timeout(uv_timer_t *t)
{
    struct check_run *run = t->data;
    if (run->finished)
        return;
    /* Marked finished first: a cancel that reports through check_done is ignored. */
    run->finished = true;
    if (run->def->cancel)
        run->def->cancel(run, run->def->arg);
    run->finished = false;
    char msg[64];
    eip_seterr(msg, sizeof(msg), "timed out after %u ms", run->timeout_ms);
    run_finish(run, false, msg);
}

static void on_kick_closed(uv_handle_t *h)
{
    struct batch *b = h->data;
    b->open_timers--;
    batch_maybe_report(b);
}

static void on_kick(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, on_kick_closed);
}

int check_registry_run(check_registry *reg, const struct check_env *env, check_report_cb report,
                       void *arg)
{
    if (reg->running)
        return -EBUSY;
    struct batch *b = calloc(1, sizeof(*b) + reg->n * sizeof(struct check_run));
    if (!b)
        return -ENOMEM;
    b->reg = reg;
    b->report = report;
    b->arg = arg;
    b->n = reg->n;
    b->unfinished = reg->n;
    reg->running = true;

    /* The report always comes from the loop, never from inside this call. */
    uv_timer_init(env->loop, &b->kick); /* always 0 (libuv) */
    b->kick.data = b;
    b->open_timers++;
    eip_timer_start(&b->kick, on_kick, 0, "check report");

    size_t i = 0;
    for (const struct check_def *d = reg->head; d; d = d->next, i++) {
        struct check_run *run = &b->runs[i];
        run->batch = b;
        run->def = d;
        run->timeout_ms = d->timeout_ms ? d->timeout_ms
                          : env->cfg && env->cfg->check_timeout_ms > 0
                              ? (unsigned)env->cfg->check_timeout_ms
                              : 10000u;
        uv_timer_init(env->loop, &run->timer); /* always 0 (libuv) */
        run->timer.data = run;
        b->open_timers++;
        int r = d->start(run, env, d->arg);
        if (r < 0) {
            if (!run->finished) {
                char msg[128];
                eip_seterr(msg, sizeof(msg), "could not start: %s", strerror(-r));
                run_finish(run, false, msg);
            }
            continue;
        }
        if (!run->finished && eip_timer_start(&run->timer, on_timeout, run->timeout_ms, "check"))
            run_finish(run, false, "cannot arm its timeout");
    }
    return 0;
}

int check_register_all(check_registry *reg)
{
    static int (*const builtin[])(check_registry *) = {
        check_listen_register,
        check_aliyun_register,
        check_k8s_register,
    };
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        int r = builtin[i](reg);
        if (r)
            return r;
    }
    return 0;
}
