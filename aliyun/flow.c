/* SPDX-License-Identifier: MIT */
#include "aliyun/flow_internal.h"

#include <errno.h>
#include <string.h>

int64_t aliyun_retry_after_floor_ms(int64_t backoff_ms, int64_t retry_after_ms)
{
    if (retry_after_ms < 0)
        return backoff_ms;
    if (retry_after_ms > ALIYUN_RETRY_AFTER_MAX_MS)
        retry_after_ms = ALIYUN_RETRY_AFTER_MAX_MS;
    return backoff_ms < retry_after_ms ? retry_after_ms : backoff_ms;
}

int64_t aliyun_parse_retry_after_ms(const char *value)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (!*value)
        return -1;
    int64_t v = 0;
    for (; *value >= '0' && *value <= '9'; value++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*value - '0');
    }
    while (*value == ' ')
        value++;
    return *value ? -1 : v;
}

/* Calls per 60 s per account, from the EIP quotas page
 * (https://www.alibabacloud.com/help/en/eip/quotas) where it lists the action;
 * the rest are the lowest published EIP value (docs/simulators.md). */
static const struct {
    const char *action;
    double calls;
} limits[] = {
    {"AllocateEipAddress", 120},
    {"AssociateEipAddress", 120},
    {"UnassociateEipAddress", 120},
    {"DescribeEipAddresses", 600},
    {"ReleaseEipAddress", 600},
    {"ModifyEipAddressAttribute", 120},
    {"AddCommonBandwidthPackageIp", 120},
    {"RemoveCommonBandwidthPackageIp", 120},
    {"TagResources", 120},
    {"UntagResources", 120},
    {"ListTagResources", 120},
};

int aliyun_action_limit(const char *action, double *calls, double *window_s)
{
    for (size_t i = 0; action && i < sizeof(limits) / sizeof(limits[0]); i++) {
        if (strcmp(limits[i].action, action) == 0) {
            *calls = limits[i].calls;
            *window_s = 60;
            return 0;
        }
    }
    return -ENOENT;
}

void aliyun_window_bucket(double calls, double window_s, double scale, double *rate, double *burst)
{
    double n = calls * (scale > 0 ? scale : 1);
    double b = n / 10;
    if (b < 1)
        b = 1;
    *burst = b;
    *rate = window_s > 0 && n > b ? (n - b) / window_s : 0.001;
}
