/* SPDX-License-Identifier: MIT */
/* Response headers as the HTTP client stores them (http/client_internal.h):
 * each input line goes where curl's header callback would send it (a status
 * line resets the store, anything else is a header line or an obs-fold), then
 * http_response_header() looks up every name seen, in other case too. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/client_internal.h"

#define MAX_HEADER_BYTES 4096

static void lookup_all(const http_response *resp, const struct http_headers *h)
{
    const eip_buf *b = &h->buf;
    size_t i = 0;
    while (i < b->len) {
        const char *n = b->data + i;
        size_t nl = strlen(n);
        if (i + nl >= b->len)
            abort(); /* every name has a value after it */
        const char *v = n + nl + 1;
        size_t vl = strlen(v);
        char upper[64];
        size_t k;
        for (k = 0; k < nl && k + 1 < sizeof(upper); k++)
            upper[k] = (char)toupper((unsigned char)n[k]);
        upper[k] = '\0';
        if (!http_response_header(resp, n))
            abort();
        (void)http_response_header(resp, upper);
        i += nl + 1 + vl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    struct http_headers h;
    eip_buf_init(&h.buf, MAX_HEADER_BYTES);
    http_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.headers_ = &h;
    const char *s = (const char *)data;
    size_t off = 0;
    while (off < size) {
        const char *nl = memchr(s + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (s + off)) + 1 : size - off;
        const char *line = s + off;
        off += len;
        if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
            eip_buf_reset(&h.buf);
            long st = http_parse_status_line(line, len);
            if (st < 0 || st > 999)
                abort();
            continue;
        }
        size_t before = h.buf.len;
        int r = http_headers_add_line(&h, line, len);
        if (r != 0 && r != -E2BIG && r != -ENOMEM)
            abort();
        if (r && h.buf.len != before)
            abort(); /* a refused line leaves the store as it was */
        if (h.buf.len > MAX_HEADER_BYTES)
            abort();
    }
    lookup_all(&resp, &h);
    (void)http_response_header(&resp, "x-acs-retry-after");
    (void)http_response_header(&resp, "retry-after");
    (void)http_response_header(&resp, "content-type");
    eip_buf_free(&h.buf);
    return 0;
}
