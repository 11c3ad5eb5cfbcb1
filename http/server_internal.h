/* SPDX-License-Identifier: MIT */
#ifndef EIP_HTTP_SERVER_INTERNAL_H
#define EIP_HTTP_SERVER_INTERNAL_H

/* Internal to http/ (and its tests and fuzzers): entry points that bypass the
 * listening socket. */

#include <uv.h>

#include "http/server.h"

/* Adopts an already-connected stream socket (TCP, or one end of a socketpair)
 * as if the listener had accepted it: the same limits, parser and answers.
 * 0, or -errno and the caller still owns fd. Counts against max_connections. */
int http_server_adopt(http_server *s, uv_os_sock_t fd);

#endif
