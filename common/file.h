/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_FILE_H
#define EIP_COMMON_FILE_H

#include <stddef.h>

/* Reads a whole local file of at most max bytes (the configuration file, a
 * token, a CA bundle, a kubeconfig). Synchronous: only for small local files,
 * at start-up or on a rotation timer, as client-go does.
 *
 * Returns 0 with *data a NUL-terminated heap buffer the caller frees (also for
 * an empty file) and *len its length without the NUL (len may be NULL), or a
 * negative errno and *data NULL: -ENOENT, -EACCES, -EISDIR, ..., -EFBIG when the
 * file holds more than max bytes, -ENOMEM. The file is opened O_CLOEXEC and
 * O_NOCTTY. Intermediate buffers are wiped before they are freed (tokens and
 * keys pass through here); wiping the result is the caller's job. */
int eip_read_file(const char *path, size_t max, char **data, size_t *len);

#endif
