/* SPDX-License-Identifier: MIT */
/* Kubeconfig YAML (k8s/config.h). k8s_config_kubeconfig() wants a path, so the
 * input goes into a memfd read back through /proc/self/fd/N. The first line of
 * the input that starts with "#ctx:" names the context to use instead of
 * current-context. Nothing the config names is read (tokenFile could be a FIFO). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "k8s/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    int fd = memfd_create("kubeconfig", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    char ctx[64] = "";
    if (size > 5 && memcmp(data, "#ctx:", 5) == 0) {
        size_t i = 5, j = 0;
        while (i < size && data[i] != '\n' && data[i] != '\0' && j + 1 < sizeof(ctx))
            ctx[j++] = (char)data[i++];
        ctx[j] = '\0';
    }

    k8s_config *cfg = NULL;
    char err[512];
    err[0] = '\0';
    k8s_config_opts o = {.kubeconfig = path, .context = ctx[0] ? ctx : NULL};
    int r = k8s_config_kubeconfig(&cfg, &o, err, sizeof(err));
    if (r == 0) {
        if (!cfg || !cfg->server || !cfg->source)
            abort();
        if (strncmp(cfg->server, "https://", 8) != 0 && strncmp(cfg->server, "http://", 7) != 0)
            abort();
        k8s_config_free(cfg);
    } else {
        if (cfg || r > 0)
            abort();
        if (memchr(err, '\0', sizeof(err)) == NULL)
            abort();
        /* every failure but ENOMEM is explained, naming the file */
        if (r != -ENOMEM && !strstr(err, path))
            abort();
    }
    close(fd);
    return 0;
}
