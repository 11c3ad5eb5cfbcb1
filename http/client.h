/* SPDX-License-Identifier: MIT */
#ifndef EIP_HTTP_CLIENT_H
#define EIP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Asynchronous HTTP(S) client: libcurl's multi-socket API driven by uv_poll and
 * uv_timer on the caller's loop. Nothing here blocks the loop (curl's threaded
 * resolver does the DNS). TLS peer and host verification are always on unless a
 * request sets insecure_skip_verify (kubeconfig's explicit opt-out). Only http and
 * https; redirects are not followed (a 3xx is a response); proxy environment
 * variables are ignored; no Content-Type or Expect header is added on its own.
 *
 * Lifetime: a request lives from http_client_send() until its on_done callback
 * returns or it is cancelled. Strings in the options are copied; the caller may
 * free them once http_client_send() returns. */

typedef struct http_client http_client;
typedef struct http_request http_request;

/* Transport errors (http_response.error); negative, 0 means a response arrived. */
enum http_error {
    HTTP_OK = 0,
    HTTP_E_CONNECT = -1001,   /* DNS, refused, unreachable */
    HTTP_E_TIMEOUT = -1002,   /* connect or total timeout */
    HTTP_E_TLS = -1003,       /* handshake or verification failed */
    HTTP_E_TOO_LARGE = -1004, /* response body passed max_response_bytes */
    HTTP_E_ABORTED = -1005,   /* on_chunk asked to stop */
    HTTP_E_CLOSED = -1006,    /* peer closed/reset mid-response */
    HTTP_E_INTERNAL = -1007,  /* out of memory or a libcurl error */
    HTTP_E_CANCELLED = -1008, /* the client was freed with the request in flight */
};
const char *http_error_name(int error);

typedef struct http_response {
    int error;                 /* enum http_error */
    const char *error_message; /* curl's text for the error, "" when none */
    long status;               /* HTTP status, 0 when no response line came */
    const char *body;          /* NUL-terminated; "" in streaming mode */
    size_t body_len;
    double total_seconds; /* time from send to completion */
    /* Internal to http/client.c: what http_response_header() searches. NULL in a
     * response built by hand (e.g. a fake in a unit test): lookups then return NULL. */
    const struct http_headers *headers_;
} http_response;

/* Case-insensitive response header lookup; the last value wins. The pointer is
 * valid during the callback that got the response. NULL when absent. */
const char *http_response_header(const http_response *resp, const char *name);

/* Streaming: called for each chunk of the response body as it arrives, with the
 * response status (headers are complete by then; http_response_header works on
 * the partial response passed). Return 0 to go on, non-zero to abort (on_done
 * then gets HTTP_E_ABORTED). */
typedef int (*http_chunk_cb)(http_request *req, const http_response *partial, const char *data,
                             size_t len, void *arg);
/* Called exactly once per request that was not cancelled. */
typedef void (*http_done_cb)(http_request *req, const http_response *resp, void *arg);

/* TLS trust: the request's ca_file and/or ca_pem (either may anchor the chain)
 * replace the client's ca_file, which replaces the system store. Client
 * certificate: a cert (file or PEM) and a key (file or PEM; without one the key
 * is read from the cert); a key without a cert, or a file and a PEM of the same
 * kind, is -EINVAL. tls_server_name (https only): SNI and verification use that
 * name while the connection still goes to the URL's host and port, and the Host
 * header keeps the URL's authority (like Go's tls.Config.ServerName).
 * Streaming: on_done gets body "" and body_len 0; status and headers are those
 * of the final (non-1xx) response. Response headers are capped at 64 KiB (more
 * is HTTP_E_TOO_LARGE). */
typedef struct http_request_opts {
    const char *method; /* "GET" when NULL */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const char *body;           /* copied; may be NULL */
    size_t body_len;
    long connect_timeout_ms;   /* 0: 10 s */
    long timeout_ms;           /* total; 0: none (a watch) */
    size_t max_response_bytes; /* buffered body cap; 0: 8 MiB. Ignored in streaming mode. */
    const char *ca_file;       /* PEM bundle to verify the peer; NULL: client default */
    const char *ca_pem;        /* PEM bundle in memory (kubeconfig -data); NULL: none */
    const char *client_cert_file, *client_key_file; /* mutual TLS, PEM */
    const char *client_cert_pem, *client_key_pem;   /* mutual TLS from memory */
    const char *tls_server_name;                    /* verify the certificate against this name */
    bool insecure_skip_verify;                      /* kubeconfig insecure-skip-tls-verify only */
    http_chunk_cb on_chunk;                         /* non-NULL: streaming mode */
    http_done_cb on_done;
    void *arg;
} http_request_opts;

typedef struct http_client_opts {
    uv_loop_t *loop;            /* borrowed; runs every callback, outlives the client */
    const char *ca_file;        /* default CA bundle (copied); NULL: the system store */
    const char *user_agent;     /* copied; NULL: "eip-agent/<version>" */
    long max_total_connections; /* 0 (or less): 64 */
} http_client_opts;

/* Builds a client on opts->loop. 0 and *out, or a negative errno with a
 * one-line reason in err (err may be NULL when errlen is 0): -EINVAL (no opts
 * or no loop), -ENOMEM, -ENOTSUP (libcurl without an asynchronous resolver or
 * TLS, or refusing a multi option), -EIO (curl_global_init failed). On failure
 * *out is NULL and nothing is left open. */
int http_client_new(http_client **out, const http_client_opts *opts, char *err, size_t errlen);
/* Cancels every request in flight (their on_done gets HTTP_E_CANCELLED), then
 * releases everything once libuv has closed its handles (run the loop). NULL is
 * a no-op. */
void http_client_free(http_client *c);

/* Starts a request. 0 and *out (may be NULL) or a negative errno; on failure
 * no callback is ever called: -EINVAL (bad options: scheme other than http(s),
 * header with CR/LF or without a token name, ...), -ENOMEM, -ENOTSUP (libcurl
 * lacks a feature), -ESHUTDOWN (http_client_free was called). Safe inside any
 * callback of this client; on_done never runs before this returns. */
int http_client_send(http_client *c, const http_request_opts *opts, http_request **out);
/* Stops a request; after it returns no callback fires for it. Safe inside that
 * request's own callbacks (a no-op inside its on_done) and anywhere else while
 * the request lives; NULL is a no-op. Never call it after on_done returned. */
void http_request_cancel(http_request *req);

/* Requests in flight (for drain and tests). */
size_t http_client_active(const http_client *c);

#endif
