/* SPDX-License-Identifier: MIT */
#ifndef EIP_ALIYUN_METADATA_INTERNAL_H
#define EIP_ALIYUN_METADATA_INTERNAL_H

/* Internal to aliyun/ (exposed for its unit tests and fuzzers): the parsers of
 * the instance metadata documents. */

#include <stddef.h>

/* Parses private-ipv4s (a JSON array of strings, e.g. ["192.168.0.5","192.168.0.6"]).
 * 0 and *out (a NULL-terminated array; free with aliyun_strv_free) or -EINVAL. */
int aliyun_metadata_parse_ipv4s(const char *body, size_t len, char ***out);
/* Splits a listing ("a/\nb/\n") into names without the trailing '/'. */
int aliyun_metadata_parse_list(const char *body, size_t len, char ***out);
void aliyun_strv_free(char **v);

#endif
