/* SPDX-License-Identifier: MIT */
#include "k8s/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "k8s/internal.h"

#define TOKEN_MAX (64 * 1024)
#define KUBECONFIG_MAX (4 * 1024 * 1024)

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
            eip_seterr(err, errlen, "cannot read token file %s: %s", cfg->token_file, strerror(-r));
            return r;
        }
        char *t = trim_dup(data);
        free(data);
        if (!t)
            return -ENOMEM;
        if (!*t) {
            free(t);
            eip_seterr(err, errlen, "token file %s is empty", cfg->token_file);
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

#define SERVER_MAX 4096

/* dir/name, malloc'd; NULL on allocation failure. */
static char *path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = malloc(dl + nl + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

/* https://host:port (an IPv6 host bracketed) into c->server. */
static int incluster_server(k8s_config *c, const char *host, const char *port, char *err,
                            size_t errlen)
{
    if (!host || !*host || !port || !*port) {
        eip_seterr(err, errlen,
                   "in-cluster configuration: KUBERNETES_SERVICE_HOST and "
                   "KUBERNETES_SERVICE_PORT must be set (or give a kubeconfig)");
        return -ENOENT;
    }
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9') {
            eip_seterr(err, errlen, "in-cluster configuration: bad KUBERNETES_SERVICE_PORT \"%s\"",
                       port);
            return -EINVAL;
        }
    }
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    eip_buf b;
    eip_buf_init(&b, SERVER_MAX);
    int r = eip_buf_appendf(&b, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
    if (r == -E2BIG)
        eip_seterr(err, errlen, "in-cluster configuration: KUBERNETES_SERVICE_HOST is too long");
    else if (r)
        eip_seterr(err, errlen, "out of memory");
    if (!r)
        c->server = eip_buf_steal(&b);
    eip_buf_free(&b);
    return r;
}

int k8s_config_incluster(k8s_config **out, const k8s_config_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    const char *sa_dir = opts->sa_dir ? opts->sa_dir : K8S_SA_DIR;
    char *ns_path = NULL, *ns = NULL, *tok = NULL;
    k8s_config *c = calloc(1, sizeof(*c));
    int r = c ? 0 : -ENOMEM;
    if (!r)
        r = incluster_server(c, opts->service_host, opts->service_port, err, errlen);
    if (r)
        goto out;
    c->source = strdup("in-cluster");
    c->token_file = path_join(sa_dir, "token");
    c->ca_file = path_join(sa_dir, "ca.crt");
    ns_path = path_join(sa_dir, "namespace");
    if (!c->source || !c->token_file || !c->ca_file || !ns_path) {
        r = -ENOMEM;
        goto out;
    }
    if (eip_read_file(ns_path, 4096, &ns, NULL) == 0 && !(c->namespace = trim_dup(ns))) {
        r = -ENOMEM;
        goto out;
    }
    if (access(c->ca_file, R_OK) != 0) {
        r = -errno;
        eip_seterr(err, errlen, "in-cluster configuration: cannot read %s: %s", c->ca_file,
                   strerror(-r));
        goto out;
    }
    r = k8s_config_read_token(c, &tok, err, errlen);
out:
    if (r == -ENOMEM)
        eip_seterr(err, errlen, "out of memory");
    free(ns_path);
    free(ns);
    free(tok);
    if (r) {
        k8s_config_free(c);
        return r;
    }
    *out = c;
    return 0;
}

/* ---- kubeconfig ---- */

typedef struct kc {
    yaml_document_t doc;
    const char *path;
    char *dir;
    char *err;
    size_t errlen;
    /* the entry being read, for messages: kind "cluster" or "user" and its name */
    const char *kind, *name;
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
        eip_seterr(k->err, k->errlen, "kubeconfig %s:%zu: \"%s\" must be a string", k->path,
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

/* A credential given either as a file or inline as base64 PEM. */
typedef struct pem_source {
    const char *file_key; /* the key holding a path */
    const char *data_key; /* the key holding base64 PEM (wins over file_key) */
    char **file, **pem;   /* where the result goes */
} pem_source;

/* Sets *src->file or *src->pem from map (of entry k->kind k->name). */
static int load_file_or_data(kc *k, yaml_node_t *map, const pem_source *src)
{
    const char *v = NULL;
    int r = scalar_get(k, map, src->data_key, &v);
    if (r == 0) {
        r = k8s_base64_decode(v, strlen(v), src->pem, NULL);
        if (r == -EINVAL)
            eip_seterr(k->err, k->errlen, "kubeconfig %s: %s of %s \"%s\" is not valid base64",
                       k->path, src->data_key, k->kind, k->name);
        return r;
    }
    if (r == -EINVAL)
        return r;
    r = scalar_get(k, map, src->file_key, &v);
    if (r == -ENOENT)
        return 0;
    if (r)
        return r;
    *src->file = resolve_path(k, v);
    if (!*src->file)
        return -ENOMEM;
    if (access(*src->file, R_OK) != 0) {
        r = -errno;
        eip_seterr(k->err, k->errlen, "kubeconfig %s: %s %s of %s \"%s\": %s", k->path,
                   src->file_key, *src->file, k->kind, k->name, strerror(-r));
    }
    return r;
}

/* The cluster entry cl (named k->name): server, CA, TLS options. */
static int load_cluster(kc *k, yaml_node_t *cl, k8s_config *c)
{
    const char *v = NULL;
    if (scalar_get(k, cl, "server", &v)) {
        eip_seterr(k->err, k->errlen, "kubeconfig %s: cluster \"%s\" has no server", k->path,
                   k->name);
        return -EINVAL;
    }
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
        eip_seterr(k->err, k->errlen,
                   "kubeconfig %s: server \"%s\" of cluster \"%s\" is not an http(s) URL", k->path,
                   v, k->name);
        return -EINVAL;
    }
    size_t sl = strlen(v);
    while (sl > 8 && v[sl - 1] == '/')
        sl--;
    if (!(c->server = strndup(v, sl)))
        return -ENOMEM;
    pem_source ca = {"certificate-authority", "certificate-authority-data", &c->ca_file,
                     &c->ca_pem};
    int r = load_file_or_data(k, cl, &ca);
    if (r)
        return r;
    if (scalar_get(k, cl, "insecure-skip-tls-verify", &v) == 0 &&
        !parse_bool(v, &c->insecure_skip_verify)) {
        eip_seterr(k->err, k->errlen,
                   "kubeconfig %s: insecure-skip-tls-verify of cluster \"%s\" must be true or "
                   "false, not \"%s\"",
                   k->path, k->name, v);
        return -EINVAL;
    }
    if (scalar_get(k, cl, "tls-server-name", &v) == 0 && !(c->tls_server_name = strdup(v)))
        return -ENOMEM;
    return 0;
}

/* The user entry u (named k->name): a token, a token file or a client certificate. */
static int load_user(kc *k, yaml_node_t *u, k8s_config *c)
{
    const char *v = NULL;
    if (scalar_get(k, u, "token", &v) == 0 && !(c->token = strdup(v)))
        return -ENOMEM;
    if (scalar_get(k, u, "tokenFile", &v) == 0 && !(c->token_file = resolve_path(k, v)))
        return -ENOMEM;
    pem_source cert = {"client-certificate", "client-certificate-data", &c->client_cert_file,
                       &c->client_cert_pem};
    pem_source key = {"client-key", "client-key-data", &c->client_key_file, &c->client_key_pem};
    int r = load_file_or_data(k, u, &cert);
    if (!r)
        r = load_file_or_data(k, u, &key);
    if (r)
        return r;
    bool have_cert = c->client_cert_file || c->client_cert_pem;
    bool have_key = c->client_key_file || c->client_key_pem;
    if (have_cert != have_key) {
        eip_seterr(k->err, k->errlen,
                   "kubeconfig %s: user \"%s\" has a client certificate without a key or a key "
                   "without a certificate",
                   k->path, k->name);
        return -EINVAL;
    }
    if (!c->token && !c->token_file && !have_cert &&
        (node_get(k, u, "exec") || node_get(k, u, "auth-provider"))) {
        eip_seterr(k->err, k->errlen,
                   "kubeconfig %s: user \"%s\" uses exec/auth-provider credentials, which "
                   "eip-agent does not support (use a token, tokenFile or client certificate)",
                   k->path, k->name);
        return -ENOTSUP;
    }
    return 0;
}

static int load_kubeconfig_doc(kc *k, const char *context, k8s_config *c)
{
    yaml_node_t *root = yaml_document_get_root_node(&k->doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        eip_seterr(k->err, k->errlen, "kubeconfig %s: not a YAML mapping", k->path);
        return -EINVAL;
    }
    const char *ctx_name = context;
    int r = ctx_name ? 0 : scalar_get(k, root, "current-context", &ctx_name);
    if (r == -ENOENT)
        eip_seterr(k->err, k->errlen, "kubeconfig %s: no current-context is set", k->path);
    if (r)
        return -EINVAL;
    yaml_node_t *ctx = named_entry(k, root, "contexts", "context", ctx_name);
    if (!ctx) {
        eip_seterr(k->err, k->errlen, "kubeconfig %s: context \"%s\" not found", k->path, ctx_name);
        return -EINVAL;
    }
    const char *cluster_name = NULL, *user_name = NULL, *ns = NULL;
    if (scalar_get(k, ctx, "cluster", &cluster_name)) {
        eip_seterr(k->err, k->errlen, "kubeconfig %s: context \"%s\" names no cluster", k->path,
                   ctx_name);
        return -EINVAL;
    }
    if (scalar_get(k, ctx, "namespace", &ns) == 0 && !(c->namespace = strdup(ns)))
        return -ENOMEM;
    yaml_node_t *cl = named_entry(k, root, "clusters", "cluster", cluster_name);
    if (!cl) {
        eip_seterr(k->err, k->errlen, "kubeconfig %s: cluster \"%s\" (of context \"%s\") not found",
                   k->path, cluster_name, ctx_name);
        return -EINVAL;
    }
    k->kind = "cluster";
    k->name = cluster_name;
    r = load_cluster(k, cl, c);
    if (r || scalar_get(k, ctx, "user", &user_name) != 0)
        return r;
    yaml_node_t *u = named_entry(k, root, "users", "user", user_name);
    if (!u) {
        eip_seterr(k->err, k->errlen, "kubeconfig %s: user \"%s\" (of context \"%s\") not found",
                   k->path, user_name, ctx_name);
        return -EINVAL;
    }
    k->kind = "user";
    k->name = user_name;
    return load_user(k, u, c);
}

int k8s_config_kubeconfig(k8s_config **out, const k8s_config_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    const char *path = opts->kubeconfig;
    if (!path || !*path) {
        eip_seterr(err, errlen, "no kubeconfig file given");
        return -EINVAL;
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
        eip_seterr(err, errlen, "kubeconfig %s: %s", path, strerror(-r));
        goto out;
    }
    const char *slash = strrchr(path, '/');
    k.dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    c = calloc(1, sizeof(*c));
    if (!k.dir || !c || !(c->source = strdup(path)) || !yaml_parser_initialize(&parser)) {
        r = -ENOMEM;
        goto out;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &k.doc)) {
        eip_seterr(err, errlen, "kubeconfig %s:%zu:%zu: invalid YAML: %s%s%s", path,
                   parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                   parser.problem ? parser.problem : "error", parser.context ? " " : "",
                   parser.context ? parser.context : "");
        r = -EINVAL;
        goto out;
    }
    have_doc = true;
    r = load_kubeconfig_doc(&k, opts->context, c);
out:
    if (r == -ENOMEM)
        eip_seterr(err, errlen, "out of memory");
    if (have_doc)
        yaml_document_delete(&k.doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    free(data);
    free(k.dir);
    if (r) {
        k8s_config_free(c);
        return r;
    }
    log_debug("k8s: kubeconfig %s: server %s", c->source, c->server);
    *out = c;
    return 0;
}

int k8s_config_load(k8s_config **out, const k8s_config_opts *opts, char *err, size_t errlen)
{
    if (opts->kubeconfig && *opts->kubeconfig)
        return k8s_config_kubeconfig(out, opts, err, errlen);
    return k8s_config_incluster(out, opts, err, errlen);
}
