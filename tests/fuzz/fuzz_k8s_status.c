/* SPDX-License-Identifier: MIT */
/* Status bodies of failed Kubernetes calls (k8s/status.h). Input: two bytes of
 * HTTP status (100..699), then the response body. The body is also tried as a
 * Retry-After value. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "k8s/status_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    fuzz_in in = {data, size};
    long http_status = 100 + (long)(fuzz_u16(&in) % 600);
    const char *body = (const char *)in.p;

    k8s_status st;
    k8s_status_from_body(body, in.n, http_status, &st);
    if (memchr(st.reason, '\0', sizeof(st.reason)) == NULL ||
        memchr(st.message, '\0', sizeof(st.message)) == NULL)
        abort();
    if (st.code <= 0 || st.code >= 1000)
        abort();
    k8s_result r = k8s_result_from_status(st.code, st.reason);
    (void)k8s_result_name(r);
    if (http_status == 410 && st.code == 410 && r != K8S_E_GONE)
        abort();

    char *s = malloc(in.n + 1);
    if (!s)
        return 0;
    memcpy(s, body, in.n);
    s[in.n] = '\0';
    long long ms = k8s_parse_retry_after(s);
    if (ms < -1 || ms > 86400LL * 1000)
        abort();
    free(s);
    return 0;
}
