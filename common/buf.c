/* SPDX-License-Identifier: MIT */
#include "common/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eip_buf_init(eip_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int buf_reserve(eip_buf *b, size_t add)
{
    if (add > b->max || b->len > b->max - add)
        return -E2BIG;
    size_t need = b->len + add + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int eip_buf_append(eip_buf *b, const void *data, size_t len)
{
    int r = buf_reserve(b, len);
    if (r)
        return r;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int eip_buf_appends(eip_buf *b, const char *s)
{
    return eip_buf_append(b, s, strlen(s));
}

int eip_buf_vappendf(eip_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    int r = buf_reserve(b, (size_t)n);
    if (r)
        return r;
    /* The room is exactly n + 1 bytes: the same format and arguments fill it. */
    if (vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap) != n) {
        b->data[b->len] = '\0';
        return -EINVAL;
    }
    b->len += (size_t)n;
    return 0;
}

int eip_buf_appendf(eip_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = eip_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return r;
}

void eip_buf_consume(eip_buf *b, size_t n)
{
    if (n >= b->len) {
        eip_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void eip_buf_reset(eip_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *eip_buf_steal(eip_buf *b)
{
    char *p = b->data;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void eip_buf_free(eip_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
