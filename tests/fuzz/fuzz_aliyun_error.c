/* SPDX-License-Identifier: MIT */
/* Error bodies of the Alibaba Cloud OpenAPI (aliyun/errors.h): parse, classify
 * for an action, format into a buffer of some size, redact a secret. Input: two
 * bytes of HTTP status, one byte choosing the action, the secret and the format
 * buffer size, then the body. The body is also tried as an x-acs-retry-after
 * header value. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun/errors.h"
#include "aliyun/errors_internal.h"
#include "aliyun/flow_internal.h"
#include "fuzz.h"

static const char *const actions[] = {
    NULL,
    "UnassociateEipAddress",
    "ReleaseEipAddress",
    "RemoveCommonBandwidthPackageIp",
    "AllocateEipAddress",
    "AssociateEipAddress",
    "DescribeEipAddresses",
    "DescribeNetworkInterfaces",
};

static const char *const secrets[] = {"", "a", "*", "***", "STS.", "token", "aa", "secretsecret"};

static void check_str(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    fuzz_in in = {data, size};
    long status = (long)(fuzz_u16(&in) % 700);
    uint8_t sel = fuzz_u8(&in);
    const char *action = actions[sel & 7];
    const char *secret = secrets[(sel >> 3) & 7];
    size_t cap = (sel & 0xc0) == 0xc0 ? 512 : (size_t)(sel >> 6) * 7;

    aliyun_error e;
    int r = aliyun_error_parse(&e, status, (const char *)in.p, in.n);
    if (r != 0 && r != -ENOENT && r != -EINVAL)
        abort();
    if ((r == 0) != (e.code[0] != '\0'))
        abort();
    check_str(e.code, sizeof(e.code));
    check_str(e.message, sizeof(e.message));
    check_str(e.request_id, sizeof(e.request_id));
    check_str(e.host_id, sizeof(e.host_id));
    check_str(e.recommend, sizeof(e.recommend));

    enum aliyun_err_class cls = aliyun_error_classify(action, &e);
    (void)aliyun_err_class_name(cls);

    char *out = malloc(cap ? cap : 1);
    if (!out)
        return 0;
    size_t n = aliyun_error_format(&e, out, cap);
    if (cap && (n >= cap || strlen(out) != n))
        abort();
    free(out);

    char *hdr = malloc(in.n + 1);
    if (hdr) {
        memcpy(hdr, in.p, in.n);
        hdr[in.n] = '\0';
        int64_t ra = aliyun_parse_retry_after_ms(hdr);
        if (ra < -1)
            abort();
        free(hdr);
    }

    size_t before = strlen(e.message);
    aliyun_redact(e.message, secret);
    aliyun_redact(e.recommend, secret);
    if (strlen(e.message) > before)
        abort();
    if (secret[0] && strlen(secret) > 3 && strstr(e.message, secret))
        abort();
    return 0;
}
