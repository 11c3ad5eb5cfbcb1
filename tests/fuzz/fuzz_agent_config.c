/* SPDX-License-Identifier: MIT */
/* The agent's YAML configuration (agent/config.h), loaded from memory on top of
 * the defaults, then finished (derived values and validation) both as a server
 * and as --check-config, dumped, and asked for the derived endpoints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "fuzz.h"

static void endpoints(const struct agent_config *c)
{
    static const char *const products[] = {"vpc", "ecs", "sts"};
    for (size_t i = 0; i < 3; i++) {
        free(agent_config_endpoint(c, products[i], NULL));
        free(agent_config_endpoint(c, products[i], "cn-hangzhou"));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    static FILE *null_out;
    if (!null_out && !(null_out = fopen("/dev/null", "w")))
        abort();
    for (int running = 0; running < 2; running++) {
        struct agent_config c;
        char err[512];
        err[0] = '\0';
        agent_config_init(&c);
        int r = agent_config_load_yaml(&c, "fuzz.yaml", (const char *)data, size, err, sizeof(err));
        if (r == 0) {
            r = agent_config_finish(&c, running == 1, err, sizeof(err));
            if (r == 0) {
                if (!c.listen)
                    abort(); /* documented: never NULL after a load */
                struct sockaddr_storage ss;
                if (agent_listen_parse(c.listen, &ss) != 0)
                    abort(); /* finish validated it */
            }
            agent_config_dump(&c, null_out);
            endpoints(&c);
        }
        if (r > 0 || (r && !err[0]))
            abort(); /* every failure is explained */
        agent_config_free(&c);
    }
    return 0;
}
