/* SPDX-License-Identifier: MIT */
#ifndef EIP_COMMON_BUF_H
#define EIP_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* A growable byte buffer with a hard maximum (curl's dynbuf). Every buffer
 * filled from the network is one of these. data is always NUL-terminated when
 * non-NULL; len does not count the NUL. */
typedef struct eip_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* the most bytes len may reach */
} eip_buf;

void eip_buf_init(eip_buf *b, size_t max);
/* 0, -ENOMEM, or -E2BIG when len would pass max (the buffer is left unchanged). */
int eip_buf_append(eip_buf *b, const void *data, size_t len);
int eip_buf_appends(eip_buf *b, const char *s);
int eip_buf_appendf(eip_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int eip_buf_vappendf(eip_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (consumed input), keeping the rest. */
void eip_buf_consume(eip_buf *b, size_t n);
void eip_buf_reset(eip_buf *b);
/* Hands the allocation to the caller (NULL when empty) and resets the buffer. */
char *eip_buf_steal(eip_buf *b);
void eip_buf_free(eip_buf *b);

#endif
