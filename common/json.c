/* SPDX-License-Identifier: MIT */
#include "common/json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct dump_ctx {
    eip_buf b;
    int err; /* the first failed write; sticky: jansson may go on after it */
} dump_ctx;

static int dump_cb(const char *buf, size_t size, void *data)
{
    dump_ctx *d = data;
    if (!d->err)
        d->err = eip_buf_append(&d->b, buf, size);
    return d->err ? -1 : 0;
}

int eip_json_dump(const json_t *j, size_t flags, size_t max, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (!json_is_object(j) && !json_is_array(j))
        return -EINVAL;
    dump_ctx d = {.err = 0};
    eip_buf_init(&d.b, max);
    int r = json_dump_callback(j, dump_cb, &d, flags);
    if (d.err)
        r = d.err; /* failed even when jansson did not notice */
    else if (r)
        r = -ENOMEM; /* jansson's own allocations */
    if (!r && !d.b.data)
        r = -ENOMEM;
    if (!r) {
        if (len)
            *len = d.b.len;
        *out = eip_buf_steal(&d.b);
    }
    eip_buf_free(&d.b);
    return r;
}

/* jansson's allocations that found no memory so far. jansson's allocator is
 * process-wide and takes no context, so this is the one counter of its kind
 * (the agent runs one loop on one thread). */
static unsigned long json_alloc_failures;

static void *counting_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        json_alloc_failures++;
    return p;
}

static void counting_free(void *p)
{
    free(p);
}

/* Both allocators are malloc and free: values made before the switch are freed
 * the same way after it. */
static void count_failures(void)
{
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    if (m != counting_malloc)
        json_set_alloc_funcs(counting_malloc, counting_free);
}

int eip_json_loadb(const char *buf, size_t len, size_t flags, json_t **out, json_error_t *err)
{
    count_failures();
    unsigned long before = json_alloc_failures;
    json_error_t e;
    json_t *j = json_loadb(buf, len, flags, &e);
    bool oom =
        json_alloc_failures != before || (!j && json_error_code(&e) == json_error_out_of_memory);
    if (oom) {
        json_decref(j); /* whole or not, it cannot be told */
        j = NULL;
        eip_seterr(e.text, sizeof(e.text), "out of memory");
        e.position = 0;
    }
    if (err)
        *err = e;
    *out = j;
    return j ? 0 : oom ? -ENOMEM : -EINVAL;
}
