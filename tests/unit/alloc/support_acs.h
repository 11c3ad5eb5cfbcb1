/* SPDX-License-Identifier: MIT */
#ifndef EIP_TESTS_UNIT_ALLOC_SUPPORT_ACS_H
#define EIP_TESTS_UNIT_ALLOC_SUPPORT_ACS_H

#include "aliyun/sign.h"
#include "support_fake.h"

/* Checks of what the fake aliyun transport received (tests/unit/aliyun/
 * support_fake.h), for the allocation-failure walks; run them with the hook
 * paused. */

/* The query of url, percent-decoded into q (sorted as the signature wants it). */
void acs_parse_query(const char *url, aliyun_params *q);
/* A V3 request whose signature, computed again from what was sent (method,
 * query q, the host and x-acs-* headers, the empty body) with this key, is the
 * one in its Authorization header: nothing was added, dropped or cut after it
 * was signed. Fails the test otherwise. */
void acs_check_signature(const fake_req *req, const aliyun_params *q, const char *ak,
                         const char *sk);
/* Fails the test unless q has key (with value, when not NULL). */
void acs_want_param(const fake_req *req, const aliyun_params *q, const char *key,
                    const char *value);

#endif
