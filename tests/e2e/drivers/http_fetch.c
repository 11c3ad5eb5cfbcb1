/* SPDX-License-Identifier: MIT */
/* http_fetch: a small CLI over http/client.h for tests/e2e/http.
 *
 * http_fetch [--method M] [--header H]... [--data S] [--cacert F] [--ca-pem F]
 *            [--cert F --key F] [--cert-pem F --key-pem F] [--tls-server-name N]
 *            [--insecure] [--timeout-ms N] [--connect-timeout-ms N] [--max-bytes N]
 *            [--stream] [--cancel-after-chunks N] [--abort-after-chunks N]
 *            [--cancel-after-ms N] [--free-after-ms N] [--parallel N] [--repeat N]
 *            [--show-header NAME]... [--print-body] [--client-cacert F] [--user-agent S] URL
 *
 * Prints one JSON line per event on stdout (flushed): {"event":"chunk",...} for each
 * streamed chunk, {"event":"done",...} per finished request, {"event":"cancelled"}
 * for a request cancelled by --cancel-after-*, and with --parallel or --repeat (each
 * job sends its next request from inside on_done) a final
 * {"event":"summary",...}. Exit status 0 when the run itself worked (whatever the
 * HTTP outcome), 2 on usage errors, 3 when a send failed, 4 when the loop did not
 * close cleanly (a handle leaked). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "http/client.h"

#define MAX_HEADERS 64

struct fetch {
    uv_loop_t *loop;
    http_client *client;
    http_request_opts opts;
    const char *show[MAX_HEADERS];
    size_t nshow;
    bool print_body;
    long cancel_after_chunks, abort_after_chunks;
    long cancel_after_ms, free_after_ms;
    long parallel;
    long repeat;
    bool quiet; /* parallel or repeat: only the summary */
    long outstanding;
    uv_timer_t timer;
    bool timer_used;
    json_t *errors;   /* summary: error name -> count */
    json_t *statuses; /* summary: status -> count */
    struct job *jobs;
};

struct job {
    struct fetch *f;
    http_request *req;
    long index;
    long chunks;
    size_t streamed;
    double first_chunk_s;
    bool finished;
    long sent;
};

static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(s);
    }
    json_decref(o);
}

static json_t *str_or_null(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    return j ? j : json_null();
}

static json_t *headers_json(struct fetch *f, const http_response *resp)
{
    json_t *h = json_object();
    for (size_t i = 0; h && i < f->nshow; i++) {
        const char *v = http_response_header(resp, f->show[i]);
        json_object_set_new(h, f->show[i], v ? str_or_null(v, strlen(v)) : json_null());
    }
    return h;
}

static void job_finished(struct job *j)
{
    struct fetch *f = j->f;
    j->finished = true;
    j->req = NULL;
    if (--f->outstanding == 0) {
        if (f->timer_used)
            uv_close((uv_handle_t *)&f->timer, NULL);
        f->timer_used = false;
        http_client_free(f->client);
        f->client = NULL;
    }
}

static void count(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static int on_chunk(http_request *req, const http_response *partial, const char *data, size_t len,
                    void *arg)
{
    struct job *j = arg;
    struct fetch *f = j->f;
    if (j->chunks == 0)
        j->first_chunk_s = partial->total_seconds;
    j->chunks++;
    j->streamed += len;
    if (!f->quiet) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:o}", "event", "chunk", "n",
                              (json_int_t)j->chunks, "len", (json_int_t)len, "status",
                              (json_int_t)partial->status, "headers", headers_json(f, partial));
        if (o && f->print_body)
            json_object_set_new(o, "data", str_or_null(data, len));
        if (o)
            emit(o);
    }
    if (f->cancel_after_chunks && j->chunks >= f->cancel_after_chunks) {
        http_request_cancel(req);
        http_request_cancel(req); /* twice: must be harmless */
        if (!f->quiet)
            emit(json_pack("{s:s, s:I}", "event", "cancelled", "chunks", (json_int_t)j->chunks));
        job_finished(j);
        return 0; /* ignored: the request is cancelled */
    }
    if (f->abort_after_chunks && j->chunks >= f->abort_after_chunks)
        return 1;
    return 0;
}

static void on_done(http_request *req, const http_response *resp, void *arg)
{
    (void)req;
    struct job *j = arg;
    struct fetch *f = j->f;
    const char *name = http_error_name(resp->error);
    count(f->errors, name);
    char st[32];
    snprintf(st, sizeof(st), "%ld", resp->status);
    count(f->statuses, st);
    if (!f->quiet) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:o}", "event", "done",
                              "error", name, "error_message", resp->error_message, "status",
                              (json_int_t)resp->status, "body_len", (json_int_t)resp->body_len,
                              "chunks", (json_int_t)j->chunks, "streamed", (json_int_t)j->streamed,
                              "first_chunk_s", j->first_chunk_s, "total_s", resp->total_seconds,
                              "headers", headers_json(f, resp));
        if (o && f->print_body)
            json_object_set_new(o, "body", str_or_null(resp->body, resp->body_len));
        if (o)
            emit(o);
    }
    if (j->sent < f->repeat) {
        /* The next request of this job, from inside on_done. */
        f->opts.arg = j;
        j->chunks = 0;
        j->streamed = 0;
        int r = http_client_send(f->client, &f->opts, &j->req);
        if (r == 0) {
            j->sent++;
            return;
        }
        emit(json_pack("{s:s, s:i}", "event", "send_failed", "errno", -r));
    }
    job_finished(j);
}

static void on_timer(uv_timer_t *t)
{
    struct fetch *f = t->data;
    if (f->cancel_after_ms) {
        for (long i = 0; i < f->parallel; i++) {
            struct job *j = &f->jobs[i];
            if (j->finished)
                continue;
            http_request_cancel(j->req);
            emit(json_pack("{s:s, s:I}", "event", "cancelled", "chunks", (json_int_t)j->chunks));
            job_finished(&f->jobs[i]);
        }
    } else if (f->free_after_ms && f->client) {
        size_t before = http_client_active(f->client);
        emit(json_pack("{s:s, s:I}", "event", "freeing", "active", (json_int_t)before));
        /* Each on_done(HTTP_E_CANCELLED) runs inside this call; the last one frees
         * the client again through job_finished, which must be a no-op. */
        http_client *c = f->client;
        uv_close((uv_handle_t *)&f->timer, NULL);
        f->timer_used = false;
        http_client_free(c);
    }
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(data, cap);
            if (!p) {
                free(data);
                fclose(fp);
                return NULL;
            }
            data = p;
        }
        size_t n = fread(data + len, 1, cap - len - 1, fp);
        len += n;
        if (n == 0)
            break;
    }
    fclose(fp);
    data[len] = '\0';
    return data;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: http_fetch [options] URL (see the source)\n");
    return 2;
}

/* What the command line sets besides struct fetch. */
struct args {
    const char *headers[MAX_HEADERS + 1];
    size_t nheaders;
    char *ca_pem, *cert_pem, *key_pem; /* read from files; freed at the end */
    long max_bytes;
    http_client_opts copts;
};

/* One option with a value: a string, a number or a PEM file read in. Returns
 * 1 when a matches none, 0 when taken, -1 on a bad value. */
static int parse_valued(struct fetch *f, struct args *ar, const char *a, const char *v)
{
    const struct {
        const char *name;
        const char **dst;
    } strs[] = {
        {"--method", &f->opts.method},
        {"--cacert", &f->opts.ca_file},
        {"--cert", &f->opts.client_cert_file},
        {"--key", &f->opts.client_key_file},
        {"--tls-server-name", &f->opts.tls_server_name},
        {"--client-cacert", &ar->copts.ca_file},
        {"--user-agent", &ar->copts.user_agent},
    };
    const struct {
        const char *name;
        long *dst;
        long min;
    } longs[] = {
        {"--timeout-ms", &f->opts.timeout_ms, 0},
        {"--connect-timeout-ms", &f->opts.connect_timeout_ms, 0},
        {"--max-bytes", &ar->max_bytes, 0},
        {"--cancel-after-chunks", &f->cancel_after_chunks, 0},
        {"--abort-after-chunks", &f->abort_after_chunks, 0},
        {"--cancel-after-ms", &f->cancel_after_ms, 0},
        {"--free-after-ms", &f->free_after_ms, 0},
        {"--parallel", &f->parallel, 1},
        {"--repeat", &f->repeat, 1},
    };
    const struct {
        const char *name;
        char **buf;
        const char **dst;
    } pems[] = {
        {"--ca-pem", &ar->ca_pem, &f->opts.ca_pem},
        {"--cert-pem", &ar->cert_pem, &f->opts.client_cert_pem},
        {"--key-pem", &ar->key_pem, &f->opts.client_key_pem},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (strcmp(a, strs[i].name) == 0) {
            *strs[i].dst = v;
            return 0;
        }
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
        if (strcmp(a, longs[i].name) == 0)
            return parse_long(v, longs[i].dst) || *longs[i].dst < longs[i].min ? -1 : 0;
    for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++)
        if (strcmp(a, pems[i].name) == 0) {
            free(*pems[i].buf);
            *pems[i].dst = *pems[i].buf = read_file(v);
            return *pems[i].buf ? 0 : -1;
        }
    if (strcmp(a, "--data") == 0) {
        f->opts.body = v;
        f->opts.body_len = strlen(v);
    } else if (strcmp(a, "--header") == 0 && ar->nheaders < MAX_HEADERS) {
        ar->headers[ar->nheaders++] = v;
    } else if (strcmp(a, "--show-header") == 0 && f->nshow < MAX_HEADERS) {
        f->show[f->nshow++] = v;
    } else if (strcmp(a, "--header") == 0 || strcmp(a, "--show-header") == 0) {
        return -1; /* more than MAX_HEADERS */
    } else {
        return 1;
    }
    return 0;
}

/* The command line into f and ar. Returns 0, or -1 on a usage error. */
static int parse_args(struct fetch *f, struct args *ar, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--insecure") == 0) {
            f->opts.insecure_skip_verify = true;
        } else if (strcmp(a, "--stream") == 0) {
            f->opts.on_chunk = on_chunk;
        } else if (strcmp(a, "--print-body") == 0) {
            f->print_body = true;
        } else if (a[0] == '-') {
            int r = i + 1 < argc ? parse_valued(f, ar, a, argv[i + 1]) : -1;
            if (r)
                return -1;
            i++;
        } else if (!f->opts.url) {
            f->opts.url = a;
        } else {
            return -1;
        }
    }
    if (!f->opts.url)
        return -1;
    if ((f->cancel_after_chunks || f->abort_after_chunks) && !f->opts.on_chunk)
        return -1;
    f->opts.headers = ar->nheaders ? ar->headers : NULL;
    f->opts.max_response_bytes = (size_t)ar->max_bytes;
    f->opts.on_done = on_done;
    return 0;
}

/* Sends the first request of every job. Returns 0, or 3 when a send failed. */
static int start_jobs(struct fetch *f)
{
    int rc = 0;
    for (long i = 0; i < f->parallel; i++) {
        struct job *j = &f->jobs[i];
        j->f = f;
        j->index = i;
        f->opts.arg = j;
        int r = http_client_send(f->client, &f->opts, &j->req);
        if (r) {
            emit(json_pack("{s:s, s:i, s:s}", "event", "send_failed", "errno", -r, "message",
                           strerror(-r)));
            rc = 3;
            j->finished = true;
            continue;
        }
        j->sent = 1;
        f->outstanding++;
    }
    if (f->outstanding == 0) {
        http_client_free(f->client);
        f->client = NULL;
    } else if (f->cancel_after_ms || f->free_after_ms) {
        uv_timer_init(f->loop, &f->timer);
        f->timer.data = f;
        f->timer_used = true;
        uv_timer_start(&f->timer, on_timer,
                       (uint64_t)(f->cancel_after_ms ? f->cancel_after_ms : f->free_after_ms), 0);
    }
    return rc;
}

/* Runs the loop to its end, prints the summary; returns 4 when a request or a
 * handle was left behind, else rc. */
static int run(struct fetch *f, int rc)
{
    uv_run(f->loop, UV_RUN_DEFAULT);
    if (f->quiet) {
        json_t *o = json_pack("{s:s, s:I, s:O, s:O}", "event", "summary", "count",
                              (json_int_t)(f->parallel * f->repeat), "errors", f->errors,
                              "statuses", f->statuses);
        if (o)
            emit(o);
    }
    if (f->outstanding != 0) {
        fprintf(stderr, "http_fetch: %ld requests never finished\n", f->outstanding);
        rc = 4;
    }
    if (uv_loop_close(f->loop) != 0) {
        fprintf(stderr, "http_fetch: loop not closed cleanly (leaked handles)\n");
        rc = 4;
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct fetch f;
    struct args ar;
    memset(&f, 0, sizeof(f));
    memset(&ar, 0, sizeof(ar));
    f.parallel = 1;
    f.repeat = 1;
    int rc = 1;
    uv_loop_t loop;
    if (parse_args(&f, &ar, argc, argv)) {
        rc = usage();
        goto out;
    }
    if (uv_loop_init(&loop))
        goto out;
    f.loop = &loop;
    f.errors = json_object();
    f.statuses = json_object();
    f.quiet = f.parallel > 1 || f.repeat > 1;
    f.jobs = calloc((size_t)f.parallel, sizeof(*f.jobs));
    ar.copts.loop = &loop;
    char cerr[256] = "";
    int cr = http_client_new(&f.client, &ar.copts, cerr, sizeof(cerr));
    if (!f.errors || !f.statuses || !f.jobs || cr) {
        fprintf(stderr, "http_fetch: setup failed%s%s\n", cr ? ": " : "", cerr);
        http_client_free(f.client);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        goto out;
    }
    rc = run(&f, start_jobs(&f));
out:
    json_decref(f.errors);
    json_decref(f.statuses);
    free(f.jobs);
    free(ar.ca_pem);
    free(ar.cert_pem);
    free(ar.key_pem);
    return rc;
}
