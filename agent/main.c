/* SPDX-License-Identifier: MIT */
/* eip-agent: parses the configuration, builds the agent, runs the loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "common/log.h"

int main(int argc, char **argv)
{
    struct agent_cli cli;
    struct agent_config cfg;
    char err[1024] = "";
    const char *argv0 = argc > 0 ? argv[0] : "eip-agent";

    signal(SIGPIPE, SIG_IGN);
    if (agent_cli_parse(&cli, argc, argv)) {
        agent_cli_usage(stderr, argv0);
        return 2;
    }
    if (cli.help) {
        agent_cli_usage(stdout, argv0);
        return 0;
    }
    if (cli.version) {
        printf("eip-agent %s\n", EIP_AGENT_VERSION);
        return 0;
    }
    if (agent_config_load(&cfg, &cli, true, err, sizeof(err))) {
        fprintf(stderr, "eip-agent: %s\n", err);
        agent_config_free(&cfg);
        return 2;
    }
    eip_log_set_level(cfg.log_level);
    eip_log_set_format(cfg.log_format);
    if (cli.check_config) {
        int rc = agent_check_config(&cfg, stdout);
        agent_config_free(&cfg);
        return rc;
    }

    uv_loop_t loop;
    struct agent *a = NULL;
    int rc = 1;
    if (uv_loop_init(&loop)) {
        log_error("cannot create the event loop");
        agent_config_free(&cfg);
        return 1;
    }
    if (agent_new(&a, &loop, &cfg, &cli, err, sizeof(err))) {
        log_error("%s", err);
    } else if (agent_start(a, err, sizeof(err))) {
        log_error("%s", err);
    } else {
        uv_run(&loop, UV_RUN_DEFAULT);
        rc = agent_exit_code(a);
        log_info("stopped");
    }
    agent_free(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* Exiting anyway: a signal from now on must not turn exit 0 into a kill. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    if (uv_loop_close(&loop))
        log_warn("event loop closed with handles still open");
    agent_config_free(&cfg);
    return rc;
}
