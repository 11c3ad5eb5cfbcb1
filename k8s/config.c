/* SPDX-License-Identifier: MIT */
#include "k8s/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "common/file.h"
#include "common/log.h"
#include "k8s/internal.h"

#define TOKEN_MAX (64 * 1024)
#define KUBECONFIG_MAX (4 * 1024 * 1024)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void k8s_config_free(k8s_config *c)
{
    if (!c)
        return;
    free(c->server);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->client_cert_file);
    free(c->client_key_file);
    free(c->client_cert_pem);
    free(c->client_key_pem);
    free(c->tls_server_name);
    free(c->token);
    free(c->token_file);
    free(c->namespace);
    free(c->source);
    free(c);
}

static char *trim_dup(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    return strndup(s, n);
}

int k8s_config_read_token(const k8s_config *cfg, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->token_file) {
        char *data = NULL;
        int r = eip_read_file(cfg->token_file, TOKEN_MAX, &data, NULL);
        if (r) {
            set_err(err, errlen, "cannot read token file %s: %s", cfg->token_file, strerror(-r));
            return r;
        }
        char *t = trim_dup(data);
        free(data);
        if (!t)
            return -ENOMEM;
        if (!*t) {
            free(t);
            set_err(err, errlen, "token file %s is empty", cfg->token_file);
            return -EINVAL;
        }
        *out = t;
        return 0;
    }
    if (cfg->token) {
        *out = strdup(cfg->token);
        return *out ? 0 : -ENOMEM;
    }
    return 0;
}

/* ---- in-cluster ---- */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int k8s_config_incluster(const char *sa_dir, k8s_config **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!sa_dir)
        sa_dir = K8S_SA_DIR;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
        set_err(err, errlen,
                "in-cluster configuration: KUBERNETES_SERVICE_HOST and "
                "KUBERNETES_SERVICE_PORT must be set (or give a kubeconfig)");
        return -ENOENT;
    }
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9') {
            set_err(err, errlen, "in-cluster configuration: bad KUBERNETES_SERVICE_PORT \"%s\"",
                    port);
            return -EINVAL;
        }
    }
    int r = -ENOMEM;
    k8s_config *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    size_t n = strlen(host) + strlen(port) + 16;
    c->server = malloc(n);
    if (!c->server)
        goto fail;
    snprintf(c->server, n, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
    c->source = strdup("in-cluster");
    c->token_file = path_join(sa_dir, "token");
    c->ca_file = path_join(sa_dir, "ca.crt");
    char *ns_path = path_join(sa_dir, "namespace");
    if (!c->source || !c->token_file || !c->ca_file || !ns_path) {
        free(ns_path);
        goto fail;
    }
    char *ns = NULL;
    if (eip_read_file(ns_path, 4096, &ns, NULL) == 0) {
        c->namespace = trim_dup(ns);
        free(ns);
    }
    free(ns_path);
    if (access(c->ca_file, R_OK) != 0) {
        r = -errno;
        set_err(err, errlen, "in-cluster configuration: cannot read %s: %s", c->ca_file,
                strerror(errno));
        goto fail;
    }
    char *tok = NULL;
    r = k8s_config_read_token(c, &tok, err, errlen);
    free(tok);
    if (r)
        goto fail;
    *out = c;
    return 0;
fail:
    if (r == -ENOMEM)
        set_err(err, errlen, "out of memory");
    k8s_config_free(c);
    return r;
}

/* ---- kubeconfig ---- */

typedef struct kc {
    yaml_document_t doc;
    const char *path;
    char *dir;
    char *err;
    size_t errlen;
} kc;

static yaml_node_t *node_get(kc *k, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&k->doc, p->key);
        if (kn && kn->type == YAML_SCALAR_NODE && strlen(key) == kn->data.scalar.length &&
            memcmp(kn->data.scalar.value, key, kn->data.scalar.length) == 0)
            return yaml_document_get_node(&k->doc, p->value);
    }
    return NULL;
}

/* The scalar value of key in map: 0 and *out (borrowed, NUL-terminated by
 * libyaml), -ENOENT when absent or null, -EINVAL when not a scalar. */
static int scalar_get(kc *k, yaml_node_t *map, const char *key, const char **out)
{
    *out = NULL;
    yaml_node_t *n = node_get(k, map, key);
    if (!n)
        return -ENOENT;
    if (n->type != YAML_SCALAR_NODE) {
        set_err(k->err, k->errlen, "kubeconfig %s:%zu: \"%s\" must be a string", k->path,
                n->start_mark.line + 1, key);
        return -EINVAL;
    }
    const char *v = (const char *)n->data.scalar.value;
    /* null, ~ and "" all mean "not set" (an empty token is no token) */
    if (!*v || (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                (!strcmp(v, "null") || !strcmp(v, "~"))))
        return -ENOENT;
    *out = v;
    return 0;
}

/* Finds the entry of a named list (contexts, clusters, users) and returns its
 * inner mapping (entry[field]). */
static yaml_node_t *named_entry(kc *k, yaml_node_t *root, const char *list, const char *field,
                                const char *name)
{
    yaml_node_t *seq = node_get(k, root, list);
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(&k->doc, *it);
        const char *n = NULL;
        if (scalar_get(k, e, "name", &n) == 0 && !strcmp(n, name)) {
            yaml_node_t *inner = node_get(k, e, field);
            return inner ? inner : e;
        }
    }
    return NULL;
}

static char *resolve_path(kc *k, const char *p)
{
    if (p[0] == '/')
        return strdup(p);
    return path_join(k->dir, p);
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) {
        *out = false;
        return true;
    }
    return false;
}

/* file: key holding a path, data: key holding base64 PEM. Sets *file or *pem. */
static int load_file_or_data(kc *k, yaml_node_t *map, const char *what, const char *file_key,
                             const char *data_key, char **file, char **pem)
{
    const char *v = NULL;
    int r = scalar_get(k, map, data_key, &v);
    if (r == -EINVAL)
        return r;
    if (r == 0) {
        size_t n = 0;
        r = k8s_base64_decode(v, strlen(v), pem, &n);
        if (r == -EINVAL)
            set_err(k->err, k->errlen, "kubeconfig %s: %s of %s is not valid base64", k->path,
                    data_key, what);
        if (r)
            return r;
        return 0;
    }
    r = scalar_get(k, map, file_key, &v);
    if (r == -EINVAL)
        return r;
    if (r == 0) {
        *file = resolve_path(k, v);
        if (!*file)
            return -ENOMEM;
        if (access(*file, R_OK) != 0) {
            int e = errno;
            set_err(k->err, k->errlen, "kubeconfig %s: %s %s of %s: %s", k->path, file_key, *file,
                    what, strerror(e));
            return -e;
        }
    }
    return 0;
}

static int load_kubeconfig_doc(kc *k, const char *context, k8s_config *c)
{
    yaml_node_t *root = yaml_document_get_root_node(&k->doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        set_err(k->err, k->errlen, "kubeconfig %s: not a YAML mapping", k->path);
        return -EINVAL;
    }
    const char *ctx_name = context;
    int r;
    if (!ctx_name) {
        r = scalar_get(k, root, "current-context", &ctx_name);
        if (r == -ENOENT)
            set_err(k->err, k->errlen, "kubeconfig %s: no current-context is set", k->path);
        if (r)
            return -EINVAL;
    }
    yaml_node_t *ctx = named_entry(k, root, "contexts", "context", ctx_name);
    if (!ctx) {
        set_err(k->err, k->errlen, "kubeconfig %s: context \"%s\" not found", k->path, ctx_name);
        return -EINVAL;
    }
    const char *cluster_name = NULL, *user_name = NULL, *ns = NULL;
    if (scalar_get(k, ctx, "cluster", &cluster_name)) {
        set_err(k->err, k->errlen, "kubeconfig %s: context \"%s\" names no cluster", k->path,
                ctx_name);
        return -EINVAL;
    }
    if (scalar_get(k, ctx, "namespace", &ns) == 0 && !(c->namespace = strdup(ns)))
        return -ENOMEM;
    yaml_node_t *cl = named_entry(k, root, "clusters", "cluster", cluster_name);
    if (!cl) {
        set_err(k->err, k->errlen, "kubeconfig %s: cluster \"%s\" (of context \"%s\") not found",
                k->path, cluster_name, ctx_name);
        return -EINVAL;
    }
    const char *v = NULL;
    if (scalar_get(k, cl, "server", &v)) {
        set_err(k->err, k->errlen, "kubeconfig %s: cluster \"%s\" has no server", k->path,
                cluster_name);
        return -EINVAL;
    }
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
        set_err(k->err, k->errlen,
                "kubeconfig %s: server \"%s\" of cluster \"%s\" is not an http(s) URL", k->path, v,
                cluster_name);
        return -EINVAL;
    }
    size_t sl = strlen(v);
    while (sl > 8 && v[sl - 1] == '/')
        sl--;
    if (!(c->server = strndup(v, sl)))
        return -ENOMEM;
    char what[300];
    snprintf(what, sizeof(what), "cluster \"%s\"", cluster_name);
    r = load_file_or_data(k, cl, what, "certificate-authority", "certificate-authority-data",
                          &c->ca_file, &c->ca_pem);
    if (r)
        return r;
    if (scalar_get(k, cl, "insecure-skip-tls-verify", &v) == 0 &&
        !parse_bool(v, &c->insecure_skip_verify)) {
        set_err(k->err, k->errlen,
                "kubeconfig %s: insecure-skip-tls-verify of %s must be true or false, not \"%s\"",
                k->path, what, v);
        return -EINVAL;
    }
    if (scalar_get(k, cl, "tls-server-name", &v) == 0 && !(c->tls_server_name = strdup(v)))
        return -ENOMEM;

    if (scalar_get(k, ctx, "user", &user_name) == 0) {
        yaml_node_t *u = named_entry(k, root, "users", "user", user_name);
        if (!u) {
            set_err(k->err, k->errlen, "kubeconfig %s: user \"%s\" (of context \"%s\") not found",
                    k->path, user_name, ctx_name);
            return -EINVAL;
        }
        snprintf(what, sizeof(what), "user \"%s\"", user_name);
        if (scalar_get(k, u, "token", &v) == 0 && !(c->token = strdup(v)))
            return -ENOMEM;
        if (scalar_get(k, u, "tokenFile", &v) == 0) {
            if (!(c->token_file = resolve_path(k, v)))
                return -ENOMEM;
        }
        r = load_file_or_data(k, u, what, "client-certificate", "client-certificate-data",
                              &c->client_cert_file, &c->client_cert_pem);
        if (r)
            return r;
        r = load_file_or_data(k, u, what, "client-key", "client-key-data", &c->client_key_file,
                              &c->client_key_pem);
        if (r)
            return r;
        bool have_cert = c->client_cert_file || c->client_cert_pem;
        bool have_key = c->client_key_file || c->client_key_pem;
        if (have_cert != have_key) {
            set_err(k->err, k->errlen,
                    "kubeconfig %s: %s has a client certificate without a key or a key "
                    "without a certificate",
                    k->path, what);
            return -EINVAL;
        }
        if (!c->token && !c->token_file && !have_cert &&
            (node_get(k, u, "exec") || node_get(k, u, "auth-provider"))) {
            set_err(k->err, k->errlen,
                    "kubeconfig %s: %s uses exec/auth-provider credentials, which eip-agent "
                    "does not support (use a token, tokenFile or client certificate)",
                    k->path, what);
            return -ENOTSUP;
        }
    }
    return 0;
}

int k8s_config_kubeconfig(const char *path, const char *context, k8s_config **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    char *owned_path = NULL;
    if (!path) {
        const char *env = getenv("KUBECONFIG");
        if (env && *env) {
            const char *colon = strchr(env, ':');
            owned_path = colon ? strndup(env, (size_t)(colon - env)) : strdup(env);
        } else {
            const char *home = getenv("HOME");
            if (!home) {
                set_err(err, errlen, "no kubeconfig: KUBECONFIG and HOME are unset");
                return -ENOENT;
            }
            owned_path = path_join(home, ".kube/config");
        }
        if (!owned_path)
            return -ENOMEM;
        path = owned_path;
    }
    kc k = {.path = path, .err = err, .errlen = errlen};
    k8s_config *c = NULL;
    char *data = NULL;
    size_t len = 0;
    bool have_doc = false;
    yaml_parser_t parser;
    bool have_parser = false;
    int r = eip_read_file(path, KUBECONFIG_MAX, &data, &len);
    if (r) {
        set_err(err, errlen, "kubeconfig %s: %s", path, strerror(-r));
        goto out;
    }
    const char *slash = strrchr(path, '/');
    k.dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    c = calloc(1, sizeof(*c));
    if (!k.dir || !c || !(c->source = strdup(path))) {
        r = -ENOMEM;
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        r = -ENOMEM;
        goto out;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &k.doc)) {
        set_err(err, errlen, "kubeconfig %s:%zu:%zu: invalid YAML: %s%s%s", path,
                parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "error", parser.context ? " " : "",
                parser.context ? parser.context : "");
        r = -EINVAL;
        goto out;
    }
    have_doc = true;
    r = load_kubeconfig_doc(&k, context, c);
    if (r == -ENOMEM)
        set_err(err, errlen, "out of memory");
out:
    if (have_doc)
        yaml_document_delete(&k.doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    free(data);
    free(k.dir);
    free(owned_path);
    if (r) {
        k8s_config_free(c);
        return r;
    }
    log_debug("k8s: kubeconfig %s: server %s", c->source, c->server);
    *out = c;
    return 0;
}

int k8s_config_load(const char *kubeconfig, k8s_config **out, char *err, size_t errlen)
{
    if (kubeconfig && *kubeconfig)
        return k8s_config_kubeconfig(kubeconfig, NULL, out, err, errlen);
    const char *env = getenv("KUBECONFIG");
    if (env && *env)
        return k8s_config_kubeconfig(NULL, NULL, out, err, errlen);
    return k8s_config_incluster(NULL, out, err, errlen);
}
