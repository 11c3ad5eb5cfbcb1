/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "agent/check.h"

/* "listen": binds the configured address and closes it again, so a port that
 * is taken (or an address that is not local) shows before the agent starts. */

struct listen_probe {
    uv_tcp_t tcp;
    check_run *run; /* NULL once cancelled */
    bool ok;
    int err;
    const char *addr;
};

static void on_closed(uv_handle_t *h)
{
    struct listen_probe *p = h->data;
    if (p->run) {
        if (p->ok)
            check_done(p->run, true, "%s can be bound", p->addr);
        else
            check_done(p->run, false, "%s: %s", p->addr, uv_strerror(p->err));
    }
    free(p);
}

static void on_connection(uv_stream_t *server, int status)
{
    (void)server;
    (void)status; /* closed before anything is accepted */
}

static int start(check_run *run, const struct check_env *env, void *arg)
{
    (void)arg;
    struct sockaddr_storage ss;
    if (agent_listen_parse(env->cfg->listen, &ss)) {
        check_done(run, false, "'%s' is not a valid address", env->cfg->listen);
        return 0;
    }
    struct listen_probe *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->run = run;
    p->addr = env->cfg->listen;
    int r = uv_tcp_init(env->loop, &p->tcp);
    if (r) {
        free(p);
        return r;
    }
    p->tcp.data = p;
    check_run_set_data(run, p);
    r = uv_tcp_bind(&p->tcp, (const struct sockaddr *)&ss, 0);
    if (!r)
        r = uv_listen((uv_stream_t *)&p->tcp, 1, on_connection);
    p->ok = r == 0;
    p->err = r;
    uv_close((uv_handle_t *)&p->tcp, on_closed);
    return 0;
}

static void cancel(check_run *run, void *arg)
{
    (void)arg;
    struct listen_probe *p = check_run_data(run);
    if (p)
        p->run = NULL;
}

int check_listen_register(check_registry *reg)
{
    return check_registry_add(reg, "listen", start, cancel, 0, NULL);
}
