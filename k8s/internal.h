/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_INTERNAL_H
#define EIP_K8S_INTERNAL_H

/* Helpers shared by the files of k8s/ only; not for other folders. */

#include <stddef.h>
#include <stdint.h>

/* Decodes standard base64 (whitespace ignored, padding optional). 0 and a
 * NUL-terminated *out of *out_len bytes, -EINVAL on a bad character, -ENOMEM. */
int k8s_base64_decode(const char *in, size_t in_len, char **out, size_t *out_len);

#endif
