/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_ERRORS_INTERNAL_H
#define EIP_ALIYUN_ERRORS_INTERNAL_H

/* Internal to aliyun/ (exposed for its unit tests and fuzzers): parsing an
 * error body, deciding what it means (enum aliyun_err_class in aliyun/errors.h),
 * and keeping secrets out of what a server echoes. */

#include <stddef.h>

#include "aliyun/errors.h"

/* Fills e from an error response. Returns 0 when the body had a Code, -ENOENT
 * when it did not (e still gets status; code stays ""), -EINVAL on bad JSON. */
int aliyun_error_parse(aliyun_error *e, long http_status, const char *body, size_t len);

/* What to do with e for action (e.g. "UnassociateEipAddress"); action may be NULL.
 * DONE: InvalidAllocationId.NotFound on Unassociate/Release/RemoveCommonBandwidthPackageIp,
 * OperationUnsupported.IpNotInCbwp on RemoveCommonBandwidthPackageIp.
 * CHECK: IncorrectEipStatus on Associate/Unassociate/Release and InvalidBindingStatus on
 * Unassociate: the cloud gives these both when the work is done and when it is not
 * (yet) possible, so only the EIP's state tells.
 * RETRY: throttling (Throttling, Throttling.User, Throttling.Api, ...), ServiceUnavailable,
 * InternalError, SystemBusy, OperationFailed.SystemBusy, TaskConflict(.*),
 * OperationConflict, Operation.Conflict, IncorrectStatus.Eip, status refusals of other
 * actions, transport failures, and any 5xx/429 without a known fatal code. */
enum aliyun_err_class aliyun_error_classify(const char *action, const aliyun_error *e);

/* Replaces every occurrence of secret in s (in place) with "***". For messages
 * that a server may have built from our request. */
void aliyun_redact(char *s, const char *secret);

#endif
