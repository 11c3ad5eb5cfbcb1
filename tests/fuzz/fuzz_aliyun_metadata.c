/* SPDX-License-Identifier: MIT */
/* Instance metadata answers (aliyun/metadata.h): a private-ipv4s JSON array and
 * a directory listing ("a/\nb/\n"), both from the same body. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/metadata.h"
#include "aliyun/metadata_internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    const char *body = (const char *)data;
    char **v = NULL;
    int r = aliyun_metadata_parse_ipv4s(body, size, &v);
    if (r == 0) {
        if (!v)
            abort();
        aliyun_strv_free(v);
    } else if (r != -EINVAL && r != -ENOMEM) {
        abort();
    }

    v = NULL;
    r = aliyun_metadata_parse_list(body, size, &v);
    if (r == 0) {
        if (!v)
            abort();
        for (char **p = v; *p; p++) {
            if (strchr(*p, '\n') || strchr(*p, '\r'))
                abort(); /* names never span lines */
        }
        aliyun_strv_free(v);
    } else if (r != -ENOMEM) {
        abort();
    }
    aliyun_strv_free(NULL);
    return 0;
}
