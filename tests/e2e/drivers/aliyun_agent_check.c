/* SPDX-License-Identifier: MIT */
/* aliyun_agent_check: runs only the agent's "aliyun" --check-config check
 * (agent/check_aliyun.c) with the configuration from the environment, the way
 * eip-agent --check-config will once check_register_all lists it. Prints
 * "ok|FAIL aliyun: <detail>"; exit 0 when ok. */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "agent/check.h"
#include "agent/config.h"
#include "http/client.h"

int check_aliyun_register(check_registry *reg);

static int failed = 1;

static void report(const struct check_result *res, size_t n, void *arg)
{
    (void)arg;
    failed = 0;
    for (size_t i = 0; i < n; i++) {
        printf("%s %s: %s\n", res[i].ok ? "ok  " : "FAIL", res[i].name, res[i].detail);
        if (!res[i].ok)
            failed = 1;
    }
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct agent_config cfg;
    char err[512];
    agent_config_init(&cfg);
    if (agent_config_apply_credentials_dir(&cfg, NULL, err, sizeof(err)) ||
        agent_config_apply_env(&cfg, err, sizeof(err)) ||
        agent_config_finish(&cfg, false, err, sizeof(err))) {
        fprintf(stderr, "config: %s\n", err);
        agent_config_free(&cfg);
        return 2;
    }
    eip_log_set_level(cfg.log_level);
    uv_loop_t *loop = uv_default_loop();
    http_client_opts ho = {.loop = loop, .ca_file = cfg.cloud_ca_file};
    http_client *http = NULL;
    if (http_client_new(&http, &ho, err, sizeof(err)) != 0)
        fprintf(stderr, "%s\n", err); /* the checks then report "no HTTP client" */
    check_registry *reg;
    if (check_registry_new(&reg) || check_aliyun_register(reg)) {
        fprintf(stderr, "registry failed\n");
        return 2;
    }
    struct check_env env = {.loop = loop, .cfg = &cfg, .http = http};
    if (check_registry_run(reg, &env, report, NULL) == 0)
        uv_run(loop, UV_RUN_DEFAULT);
    check_registry_free(reg);
    http_client_free(http);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_walk(loop, walk_close, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    agent_config_free(&cfg);
    return failed;
}
