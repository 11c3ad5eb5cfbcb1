/* SPDX-License-Identifier: MIT */
#include "agent/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/file.h"
#include "common/err.h"

#define DEFAULT_PORT "9469"
#define MAX_CONFIG_FILE_BYTES (4u << 20)
#define MAX_CREDENTIAL_BYTES (64u << 10)

enum key_type {
    K_STR,    /* plain string */
    K_SECRET, /* string never printed */
    K_INT,    /* integer in [min, max] */
    K_BOOL,
    K_LIST,   /* YAML sequence, or a comma-separated string */
    K_LEVEL,  /* log level */
    K_FORMAT, /* log format */
    K_URL,    /* http:// or https:// URL */
    K_SIGVER, /* v3 | rpc */
};

/* One row per configuration key: where it may come from and where it goes. */
struct key {
    const char *yaml;  /* dotted YAML path; NULL: not a file key */
    const char *alias; /* another accepted YAML spelling */
    const char *env;
    const char *flag; /* long option name */
    enum key_type type;
    size_t off;
    int min, max;
};

#define F(field) offsetof(struct agent_config, field)

static const struct key keys[] = {
    {"clusterID", NULL, "EIP_AGENT_CLUSTER_ID", "cluster-id", K_STR, F(cluster_id), 0, 0},
    {"regionID", NULL, "EIP_AGENT_REGION_ID", "region-id", K_STR, F(region_id), 0, 0},
    {"vpcID", "vpcid", "EIP_AGENT_VPC_ID", "vpc-id", K_STR, F(vpc_id), 0, 0},
    {"enableControllers", NULL, NULL, NULL, K_LIST, F(enable_controllers), 0, 0},
    {"credential.accessKey", NULL, "ALIBABA_CLOUD_ACCESS_KEY_ID", NULL, K_SECRET, F(access_key_id),
     0, 0},
    {"credential.accessSecret", NULL, "ALIBABA_CLOUD_ACCESS_KEY_SECRET", NULL, K_SECRET,
     F(access_key_secret), 0, 0},
    {NULL, NULL, "ALIBABA_CLOUD_SECURITY_TOKEN", NULL, K_SECRET, F(security_token), 0, 0},
    {NULL, NULL, "ALIBABA_CLOUD_ROLE_ARN", NULL, K_SECRET, F(role_arn), 0, 0},
    {NULL, NULL, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", NULL, K_SECRET, F(oidc_provider_arn), 0, 0},
    {NULL, NULL, "ALIBABA_CLOUD_OIDC_TOKEN_FILE", NULL, K_SECRET, F(oidc_token_file), 0, 0},
    {"credential.ramRole", NULL, "EIP_AGENT_RAM_ROLE", NULL, K_SECRET, F(ram_role), 0, 0},
    {"networkController.eipController.maxConcurrentReconciles", NULL,
     "EIP_AGENT_MAX_CONCURRENT_RECONCILES", NULL, K_INT, F(max_concurrent_reconciles), 1, 1000},
    {"networkController.eipController.garbageCollectionPeriodInMinutes", NULL,
     "EIP_AGENT_GC_PERIOD_MINUTES", NULL, K_INT, F(gc_period_minutes), 1, 10080},
    {"gcPeriodSeconds", NULL, "EIP_AGENT_GC_PERIOD_SECONDS", NULL, K_INT, F(gc_period_seconds), 1,
     604800},
    {"leaderElection.namespace", NULL, "EIP_AGENT_LEADER_NAMESPACE", NULL, K_STR,
     F(leader_namespace), 0, 0},
    {"customStatefulWorkloadKinds", NULL, NULL, NULL, K_LIST, F(stateful_kinds), 0, 0},
    {"nodeName", NULL, "NODE_NAME", "node-name", K_STR, F(node_name), 0, 0},
    {"hostIP", NULL, "HOST_IP", NULL, K_STR, F(host_ip), 0, 0},
    {"listen", NULL, "EIP_AGENT_LISTEN", "listen", K_STR, F(listen), 0, 0},
    {"logLevel", NULL, "EIP_AGENT_LOG_LEVEL", "log-level", K_LEVEL, F(log_level), 0, 0},
    {"logFormat", NULL, "EIP_AGENT_LOG_FORMAT", "log-format", K_FORMAT, F(log_format), 0, 0},
    {"kubeconfig", NULL, "KUBECONFIG", "kubeconfig", K_STR, F(kubeconfig), 0, 0},
    {"kubernetesServiceHost", NULL, "KUBERNETES_SERVICE_HOST", NULL, K_STR, F(kube_service_host), 0,
     0},
    {"kubernetesServicePort", NULL, "KUBERNETES_SERVICE_PORT", NULL, K_STR, F(kube_service_port), 0,
     0},
    {"kubeClientQPS", NULL, "EIP_AGENT_KUBE_QPS", NULL, K_INT, F(kube_qps), 1, 100000},
    {"kubeClientBurst", NULL, "EIP_AGENT_KUBE_BURST", NULL, K_INT, F(kube_burst), 1, 100000},
    {"aliyun.vpcEndpoint", NULL, "EIP_AGENT_VPC_ENDPOINT", NULL, K_URL, F(vpc_endpoint), 0, 0},
    {"aliyun.ecsEndpoint", NULL, "EIP_AGENT_ECS_ENDPOINT", NULL, K_URL, F(ecs_endpoint), 0, 0},
    {"aliyun.stsEndpoint", NULL, "EIP_AGENT_STS_ENDPOINT", NULL, K_URL, F(sts_endpoint), 0, 0},
    {"aliyun.metadataEndpoint", NULL, "EIP_AGENT_METADATA_ENDPOINT", NULL, K_URL,
     F(metadata_endpoint), 0, 0},
    {"aliyun.usePublicEndpoints", NULL, "EIP_AGENT_PUBLIC_ENDPOINTS", NULL, K_BOOL,
     F(use_public_endpoints), 0, 0},
    {"aliyun.caFile", NULL, "EIP_AGENT_CLOUD_CA_FILE", NULL, K_STR, F(cloud_ca_file), 0, 0},
    {"aliyun.signatureVersion", NULL, "EIP_AGENT_SIGNATURE_VERSION", NULL, K_SIGVER,
     F(signature_version), 0, 0},
    {"aliyun.qps", NULL, "EIP_AGENT_CLOUD_QPS", NULL, K_INT, F(cloud_qps), 1, 100000},
    {"aliyun.rateLimitPercent", NULL, "EIP_AGENT_CLOUD_RATE_LIMIT_PERCENT", NULL, K_INT,
     F(cloud_rate_limit_percent), 1, 100000},
    {"aliyun.maxInFlight", NULL, "EIP_AGENT_CLOUD_MAX_IN_FLIGHT", NULL, K_INT,
     F(cloud_max_in_flight), 1, 4096},
    {"aliyun.timeoutSeconds", NULL, "EIP_AGENT_CLOUD_TIMEOUT_SECONDS", NULL, K_INT,
     F(cloud_timeout_seconds), 1, 3600},
    {"http.headerTimeoutMs", NULL, "EIP_AGENT_HTTP_HEADER_TIMEOUT_MS", NULL, K_INT,
     F(http_header_timeout_ms), 10, 600000},
    {"http.idleTimeoutMs", NULL, "EIP_AGENT_HTTP_IDLE_TIMEOUT_MS", NULL, K_INT,
     F(http_idle_timeout_ms), 10, 3600000},
    {"http.maxConnections", NULL, "EIP_AGENT_HTTP_MAX_CONNECTIONS", NULL, K_INT,
     F(http_max_connections), 1, 100000},
    {"http.maxHeaderBytes", NULL, "EIP_AGENT_HTTP_MAX_HEADER_BYTES", NULL, K_INT,
     F(http_max_header_bytes), 256, 1 << 20},
    {"http.maxUrlBytes", NULL, "EIP_AGENT_HTTP_MAX_URL_BYTES", NULL, K_INT, F(http_max_url_bytes),
     64, 1 << 20},
    {"shutdownTimeoutMs", NULL, "EIP_AGENT_SHUTDOWN_TIMEOUT_MS", NULL, K_INT,
     F(shutdown_timeout_ms), 0, 600000},
    {"checkTimeoutMs", NULL, "EIP_AGENT_CHECK_TIMEOUT_MS", NULL, K_INT, F(check_timeout_ms), 10,
     600000},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* Mappings that hold keys; anything else unknown is warned about and skipped. */
static const char *const sections[] = {"credential", "networkController",
                                       "networkController.eipController", "aliyun", "http"};

static const char *key_name(const struct key *k)
{
    return k->yaml ? k->yaml : k->env;
}

static char **str_field(struct agent_config *c, const struct key *k)
{
    return (char **)(void *)((char *)c + k->off);
}

static int *int_field(struct agent_config *c, const struct key *k)
{
    return (int *)(void *)((char *)c + k->off);
}

static const void *cfield(const struct agent_config *c, const struct key *k)
{
    return (const char *)c + k->off;
}

static void list_clear(struct agent_config_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int list_push(struct agent_config_list *l, const char *s, size_t len)
{
    char **items = realloc(l->items, (l->n + 2) * sizeof(*items));
    if (!items)
        return -ENOMEM;
    l->items = items;
    items[l->n] = strndup(s, len);
    if (!items[l->n])
        return -ENOMEM;
    l->n++;
    items[l->n] = NULL;
    return 0;
}

/* Comma-separated, items trimmed, empty items skipped. */
static int list_set_csv(struct agent_config_list *l, const char *s)
{
    list_clear(l);
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            int r = list_push(l, a, (size_t)(b - a));
            if (r)
                return r;
        }
        s = *end ? end + 1 : end;
    }
    return 0;
}

static int parse_int(const char *s, long *out)
{
    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static bool valid_url(const char *s)
{
    const char *rest;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else
        return false;
    if (!*rest || *rest == '/' || *rest == ':')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* Sets key k from the text s. On a bad value, -EINVAL and the reason in why
 * (without the key's name: the caller prefixes where it came from). */
static int set_value(struct agent_config *c, const struct key *k, const char *s, char *why,
                     size_t cap)
{
    switch (k->type) {
    case K_STR:
    case K_SECRET:
    case K_URL:
    case K_SIGVER: {
        if (k->type == K_URL && !valid_url(s)) {
            eip_seterr(why, cap, "'%s' is not an http:// or https:// URL", s);
            return -EINVAL;
        }
        if (k->type == K_SIGVER && strcmp(s, "v3") != 0 && strcmp(s, "rpc") != 0) {
            eip_seterr(why, cap, "'%s' is not a signature version (v3 or rpc)", s);
            return -EINVAL;
        }
        char *dup = strdup(s);
        if (!dup) {
            eip_seterr(why, cap, "out of memory");
            return -ENOMEM;
        }
        char **f = str_field(c, k);
        if (*f && k->type == K_SECRET)
            explicit_bzero(*f, strlen(*f));
        free(*f);
        *f = dup;
        return 0;
    }
    case K_INT: {
        long v;
        if (parse_int(s, &v)) {
            eip_seterr(why, cap, "'%.64s' is not an integer", s);
            return -EINVAL;
        }
        if (v < k->min || v > k->max) {
            eip_seterr(why, cap, "%ld is out of range [%d, %d]", v, k->min, k->max);
            return -EINVAL;
        }
        *int_field(c, k) = (int)v;
        return 0;
    }
    case K_BOOL: {
        bool b;
        if (parse_bool(s, &b)) {
            eip_seterr(why, cap, "'%s' is not a boolean (true or false)", s);
            return -EINVAL;
        }
        *(bool *)(void *)((char *)c + k->off) = b;
        return 0;
    }
    case K_LIST: {
        int r = list_set_csv((struct agent_config_list *)(void *)((char *)c + k->off), s);
        if (r)
            eip_seterr(why, cap, "out of memory");
        return r;
    }
    case K_LEVEL: {
        enum eip_log_level lv;
        if (eip_log_level_parse(s, &lv)) {
            eip_seterr(why, cap, "'%s' is not a log level (error, warn, info, debug)", s);
            return -EINVAL;
        }
        c->log_level = lv;
        return 0;
    }
    case K_FORMAT: {
        enum eip_log_format fm;
        if (eip_log_format_parse(s, &fm)) {
            eip_seterr(why, cap, "'%s' is not a log format (text, json)", s);
            return -EINVAL;
        }
        c->log_format = fm;
        return 0;
    }
    }
    return -EINVAL;
}

void agent_config_init(struct agent_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_concurrent_reconciles = 10;
    c->gc_period_minutes = 5;
    c->cloud_rate_limit_percent = 100;
    c->log_level = EIP_LOG_INFO;
    c->log_format = EIP_LOG_TEXT;
    c->kube_qps = 20;
    c->kube_burst = 30;
    c->cloud_qps = 10;
    c->cloud_max_in_flight = 16;
    c->cloud_timeout_seconds = 30;
    c->shutdown_timeout_ms = 10000;
    c->check_timeout_ms = 10000;
    /* Allocation failures here surface in agent_config_finish (NULL defaults). */
    list_push(&c->enable_controllers, "eip", 3);
    c->metadata_endpoint = strdup("http://100.100.100.200");
    c->signature_version = strdup("v3");
}

void agent_config_free(struct agent_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        if (k->type == K_LIST) {
            list_clear((struct agent_config_list *)(void *)((char *)c + k->off));
        } else if (k->type == K_STR || k->type == K_SECRET || k->type == K_URL ||
                   k->type == K_SIGVER) {
            char **f = str_field(c, k);
            if (*f && k->type == K_SECRET)
                explicit_bzero(*f, strlen(*f));
            free(*f);
            *f = NULL;
        }
    }
    free(c->config_file);
    c->config_file = NULL;
}

/* ---- YAML ---- */

struct yaml_ctx {
    struct agent_config *c;
    yaml_document_t *doc;
    const char *name;
    char *err;
    size_t errcap;
};

static bool scalar_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static unsigned long node_line(const yaml_node_t *n)
{
    return (unsigned long)n->start_mark.line + 1;
}

static const struct key *find_yaml_key(const char *path)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].yaml && strcmp(keys[i].yaml, path) == 0)
            return &keys[i];
        if (keys[i].alias && strcmp(keys[i].alias, path) == 0)
            return &keys[i];
    }
    return NULL;
}

static bool is_section(const char *path)
{
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (strcmp(sections[i], path) == 0)
            return true;
    return false;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a scalar";
    }
}

static int yaml_set_key(struct yaml_ctx *x, const struct key *k, const char *path, yaml_node_t *v)
{
    char why[256];
    if (scalar_is_null(v))
        return 0; /* "key:" with no value leaves the default */
    if (k->type == K_LIST) {
        struct agent_config_list *l = (struct agent_config_list *)(void *)((char *)x->c + k->off);
        if (v->type == YAML_SCALAR_NODE) {
            if (set_value(x->c, k, (const char *)v->data.scalar.value, why, sizeof(why))) {
                eip_seterr(x->err, x->errcap, "%s:%lu: %s: %s", x->name, node_line(v), path, why);
                return -EINVAL;
            }
            return 0;
        }
        if (v->type != YAML_SEQUENCE_NODE) {
            eip_seterr(x->err, x->errcap, "%s:%lu: %s: expected a list, got %s", x->name,
                       node_line(v), path, node_kind(v));
            return -EINVAL;
        }
        list_clear(l);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *item = yaml_document_get_node(x->doc, *it);
            if (!item || item->type != YAML_SCALAR_NODE) {
                eip_seterr(x->err, x->errcap, "%s:%lu: %s: list items must be strings, got %s",
                           x->name, item ? node_line(item) : node_line(v), path,
                           item ? node_kind(item) : "nothing");
                return -EINVAL;
            }
            if (scalar_is_null(item))
                continue;
            if (list_push(l, (const char *)item->data.scalar.value, item->data.scalar.length)) {
                eip_seterr(x->err, x->errcap, "%s: out of memory", x->name);
                return -ENOMEM;
            }
        }
        return 0;
    }
    if (v->type != YAML_SCALAR_NODE) {
        const char *want = k->type == K_INT    ? "an integer"
                           : k->type == K_BOOL ? "a boolean"
                                               : "a string";
        eip_seterr(x->err, x->errcap, "%s:%lu: %s: expected %s, got %s", x->name, node_line(v),
                   path, want, node_kind(v));
        return -EINVAL;
    }
    const char *s = (const char *)v->data.scalar.value;
    if (strlen(s) != v->data.scalar.length) {
        eip_seterr(x->err, x->errcap, "%s:%lu: %s: value contains a NUL byte", x->name,
                   node_line(v), path);
        return -EINVAL;
    }
    int r = set_value(x->c, k, s, why, sizeof(why));
    if (r)
        eip_seterr(x->err, x->errcap, "%s:%lu: %s: %s", x->name, node_line(v), path, why);
    return r;
}

static int yaml_walk(struct yaml_ctx *x, yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
        if (!kn || !vn)
            continue;
        if (kn->type != YAML_SCALAR_NODE) {
            eip_seterr(x->err, x->errcap, "%s:%lu: %s%skeys must be strings, got %s", x->name,
                       node_line(kn), prefix ? prefix : "", prefix ? ": " : "", node_kind(kn));
            return -EINVAL;
        }
        char path[256];
        int n = snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
                         (const char *)kn->data.scalar.value);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            log_warn("%s:%lu: ignoring a key longer than %zu bytes", x->name, node_line(kn),
                     sizeof(path));
            continue;
        }
        const struct key *k = find_yaml_key(path);
        if (k) {
            int r = yaml_set_key(x, k, path, vn);
            if (r)
                return r;
        } else if (is_section(path)) {
            if (scalar_is_null(vn))
                continue;
            if (vn->type != YAML_MAPPING_NODE) {
                eip_seterr(x->err, x->errcap, "%s:%lu: %s: expected a mapping, got %s", x->name,
                           node_line(vn), path, node_kind(vn));
                return -EINVAL;
            }
            int r = yaml_walk(x, vn, path);
            if (r)
                return r;
        } else {
            log_warn("%s:%lu: unknown key '%s' ignored", x->name, node_line(kn), path);
        }
    }
    return 0;
}

int agent_config_load_yaml(struct agent_config *c, const char *name, const char *yaml, size_t len,
                           char *err, size_t errcap)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int r = 0;
    if (!yaml_parser_initialize(&parser)) {
        eip_seterr(err, errcap, "%s: out of memory", name);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        unsigned long line = (unsigned long)parser.problem_mark.line + 1;
        if (parser.error == YAML_MEMORY_ERROR) {
            eip_seterr(err, errcap, "%s: out of memory", name);
            r = -ENOMEM;
        } else {
            char ctx[160] = "";
            if (parser.context)
                eip_seterr(ctx, sizeof(ctx), " (%s started at line %lu)", parser.context,
                           (unsigned long)parser.context_mark.line + 1);
            eip_seterr(err, errcap, "%s:%lu: malformed YAML: %s%s", name, line,
                       parser.problem ? parser.problem : "syntax error", ctx);
            r = -EINVAL;
        }
        yaml_parser_delete(&parser);
        return r;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !scalar_is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            eip_seterr(err, errcap, "%s:%lu: the top level must be a mapping of keys, got %s", name,
                       node_line(root), node_kind(root));
            r = -EINVAL;
        } else {
            struct yaml_ctx x = {c, &doc, name, err, errcap};
            r = yaml_walk(&x, root, NULL);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return r;
}

int agent_config_load_file(struct agent_config *c, const char *path, char *err, size_t errcap)
{
    char *data = NULL;
    size_t len = 0;
    int r = eip_read_file(path, MAX_CONFIG_FILE_BYTES, &data, &len);
    if (r) {
        eip_seterr(err, errcap, "%s: %s", path,
                   r == -EFBIG ? "file is larger than 4 MiB" : strerror(-r));
        return r;
    }
    r = agent_config_load_yaml(c, path, data, len, err, errcap);
    free(data);
    if (r)
        return r;
    char *dup = strdup(path);
    if (!dup) {
        eip_seterr(err, errcap, "out of memory");
        return -ENOMEM;
    }
    free(c->config_file);
    c->config_file = dup;
    return 0;
}

int agent_config_apply_env(struct agent_config *c, char *err, size_t errcap)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        if (!k->env)
            continue;
        const char *v = getenv(k->env);
        if (!v || !*v)
            continue;
        char why[256];
        int r = set_value(c, k, v, why, sizeof(why));
        if (r) {
            eip_seterr(err, errcap, "environment %s: %s", k->env, why);
            return r;
        }
        if (k->off == F(access_key_id))
            c->access_key_from_env = true;
    }
    return 0;
}

int agent_config_apply_credentials_dir(struct agent_config *c, const char *dir, char *err,
                                       size_t errcap)
{
    static const struct {
        const char *file;
        size_t off;
    } files[] = {
        {"access-key-id", F(access_key_id)},
        {"access-key-secret", F(access_key_secret)},
        {"security-token", F(security_token)},
    };
    if (!dir)
        dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || !*dir)
        return 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, files[i].file);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            eip_seterr(err, errcap, "CREDENTIALS_DIRECTORY: path too long");
            return -ENAMETOOLONG;
        }
        char *data = NULL;
        size_t len = 0;
        int r = eip_read_file(path, MAX_CREDENTIAL_BYTES, &data, &len);
        if (r == -ENOENT)
            continue;
        if (r) {
            eip_seterr(err, errcap, "%s: %s", path, r == -EFBIG ? "file too large" : strerror(-r));
            return r;
        }
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
                           data[len - 1] == '\t'))
            data[--len] = '\0';
        if (strlen(data) != len) {
            explicit_bzero(data, len);
            free(data);
            eip_seterr(err, errcap, "%s: contains a NUL byte", path);
            return -EINVAL;
        }
        char **f = (char **)(void *)((char *)c + files[i].off);
        if (*f) {
            explicit_bzero(*f, strlen(*f));
            free(*f);
        }
        *f = len ? data : NULL;
        if (!len)
            free(data);
    }
    return 0;
}

/* ---- command line ---- */

enum {
    OPT_CONFIG = 'c',
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
    OPT_CHECK = 1000,
    OPT_KEY_BASE = 2000,
};

int agent_cli_parse(struct agent_cli *cli, int argc, char **argv)
{
    struct option opts[N_KEYS + 5];
    size_t n = 0;
    memset(cli, 0, sizeof(*cli));
    opts[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    opts[n++] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
    opts[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    opts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].flag)
            opts[n++] =
                (struct option){keys[i].flag, required_argument, NULL, OPT_KEY_BASE + (int)i};
    opts[n] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* full re-initialisation (GNU), so tests may parse many times */
    opterr = 1;
    for (;;) {
        int o = getopt_long(argc, argv, "+c:hV", opts, NULL);
        if (o == -1)
            break;
        switch (o) {
        case OPT_CONFIG:
            cli->config_file = optarg;
            break;
        case OPT_CHECK:
            cli->check_config = true;
            break;
        case OPT_VERSION:
            cli->version = true;
            break;
        case OPT_HELP:
            cli->help = true;
            break;
        default:
            if (o >= OPT_KEY_BASE && o < OPT_KEY_BASE + (int)N_KEYS) {
                size_t cap = sizeof(cli->overrides) / sizeof(cli->overrides[0]);
                if (cli->n_overrides == cap) {
                    fprintf(stderr, "%s: too many flags\n", argv[0]);
                    return -EINVAL;
                }
                cli->overrides[cli->n_overrides].key = o - OPT_KEY_BASE;
                cli->overrides[cli->n_overrides].value = optarg;
                cli->n_overrides++;
                break;
            }
            return -EINVAL; /* getopt printed "unrecognized option" */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        return -EINVAL;
    }
    return 0;
}

void agent_cli_usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "Usage: %s [options]\n"
            "\n"
            "Gives Kubernetes pods on this node their own Alibaba Cloud EIP.\n"
            "Flags override the environment, which overrides the YAML file.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE       YAML configuration file (Helm-style keys)\n"
            "      --check-config      validate the configuration, check dependencies, exit\n"
            "      --cluster-id ID     cluster id tagged on every EIP\n"
            "      --region-id ID      region (default: instance metadata)\n"
            "      --vpc-id ID         VPC (default: instance metadata)\n"
            "      --node-name NAME    the node whose pods this agent serves\n"
            "      --listen ADDR       local HTTP API, host:port (default $HOST_IP:9469,\n"
            "                          else 0.0.0.0:9469)\n"
            "      --log-level LEVEL   error, warn, info, debug (default info)\n"
            "      --log-format FMT    text, json (default text)\n"
            "      --kubeconfig FILE   kubeconfig (default: in-cluster)\n"
            "  -V, --version           print the version and exit\n"
            "  -h, --help              print this help and exit\n"
            "\n"
            "Secrets are read from the file, the environment or $CREDENTIALS_DIRECTORY,\n"
            "never from flags. See docs/configuration.md for every key.\n",
            argv0);
}

int agent_config_apply_cli(struct agent_config *c, const struct agent_cli *cli, char *err,
                           size_t errcap)
{
    for (size_t i = 0; i < cli->n_overrides; i++) {
        const struct key *k = &keys[cli->overrides[i].key];
        char why[256];
        int r = set_value(c, k, cli->overrides[i].value, why, sizeof(why));
        if (r) {
            eip_seterr(err, errcap, "--%s: %s", k->flag, why);
            return r;
        }
    }
    return 0;
}

/* ---- validation ---- */

int agent_listen_parse(const char *s, struct sockaddr_storage *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    if (!s || !*s)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host))
            return -EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        if (strchr(host, ':'))
            return -EINVAL; /* IPv6 needs brackets */
        if (!host[0])
            memcpy(host, "0.0.0.0", sizeof("0.0.0.0"));
        port = colon + 1;
    }
    if (!*port || strlen(port) > 5)
        return -EINVAL;
    long p = 0;
    for (const char *q = port; *q; q++) {
        if (*q < '0' || *q > '9')
            return -EINVAL;
        p = p * 10 + (*q - '0');
    }
    if (p > 65535)
        return -EINVAL;
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        return 0;
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        return 0;
    }
    return -EINVAL;
}

int agent_config_finish(struct agent_config *c, bool running, char *err, size_t errcap)
{
    if (!c->metadata_endpoint || !c->signature_version) {
        eip_seterr(err, errcap, "out of memory"); /* a default failed to allocate */
        return -ENOMEM;
    }
    if (!c->listen) {
        char buf[INET6_ADDRSTRLEN + 16];
        int n = c->host_ip && *c->host_ip
                    ? snprintf(buf, sizeof(buf),
                               strchr(c->host_ip, ':') ? "[%s]:" DEFAULT_PORT : "%s:" DEFAULT_PORT,
                               c->host_ip)
                    : snprintf(buf, sizeof(buf), "0.0.0.0:" DEFAULT_PORT);
        if (n < 0 || (size_t)n >= sizeof(buf)) {
            eip_seterr(err, errcap, "hostIP %.64s is not an address", c->host_ip);
            return -EINVAL;
        }
        c->listen = strdup(buf);
        if (!c->listen) {
            eip_seterr(err, errcap, "out of memory");
            return -ENOMEM;
        }
    }
    struct sockaddr_storage ss;
    if (agent_listen_parse(c->listen, &ss)) {
        eip_seterr(err, errcap,
                   "listen: '%s' is not a valid address (numeric host:port, [v6]:port or :port)",
                   c->listen);
        return -EINVAL;
    }
    c->eip_controller = false;
    for (size_t i = 0; i < c->enable_controllers.n; i++)
        if (strcasecmp(c->enable_controllers.items[i], "eip") == 0)
            c->eip_controller = true;
    if (c->access_key_id && !c->access_key_secret) {
        eip_seterr(err, errcap, "credential.accessKey is set but credential.accessSecret is not");
        return -EINVAL;
    }
    if (c->access_key_secret && !c->access_key_id) {
        eip_seterr(err, errcap, "credential.accessSecret is set but credential.accessKey is not");
        return -EINVAL;
    }
    if (running && c->eip_controller) {
        if (!c->node_name || !*c->node_name) {
            eip_seterr(err, errcap, "nodeName is required (nodeName, NODE_NAME or --node-name)");
            return -EINVAL;
        }
        /* an empty one would tag EIPs with no cluster: as good as missing */
        if (!c->cluster_id || !*c->cluster_id) {
            eip_seterr(err, errcap,
                       "clusterID is required (clusterID, EIP_AGENT_CLUSTER_ID or --cluster-id)");
            return -EINVAL;
        }
    }
    return 0;
}

int agent_config_load(struct agent_config *c, const struct agent_cli *cli, bool running, char *err,
                      size_t errcap)
{
    int r = 0;
    agent_config_init(c);
    if (cli->config_file)
        r = agent_config_load_file(c, cli->config_file, err, errcap);
    if (!r)
        r = agent_config_apply_credentials_dir(c, NULL, err, errcap);
    if (!r)
        r = agent_config_apply_env(c, err, errcap);
    if (!r)
        r = agent_config_apply_cli(c, cli, err, errcap);
    if (!r)
        r = agent_config_finish(c, running, err, errcap);
    return r;
}

/* ---- output ---- */

void agent_config_dump(const struct agent_config *c, FILE *out)
{
    fprintf(out, "configuration (%s%s):\n", c->config_file ? "file " : "no file",
            c->config_file ? c->config_file : "");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        fprintf(out, "  %s: ", key_name(k));
        switch (k->type) {
        case K_SECRET:
            fputs(*(char *const *)cfield(c, k) ? "(set, redacted)" : "(unset)", out);
            break;
        case K_STR:
        case K_URL:
        case K_SIGVER: {
            const char *v = *(char *const *)cfield(c, k);
            if (v)
                fputs(v, out);
            else if (k->off == F(region_id) || k->off == F(vpc_id))
                fputs("(from instance metadata)", out);
            else if (k->off == F(kubeconfig))
                fputs("(in-cluster)", out);
            else if (k->type == K_URL)
                fputs("(derived from the region)", out);
            else
                fputs("(unset)", out);
            break;
        }
        case K_INT: {
            int v = *(const int *)cfield(c, k);
            if (v == 0 && k->min > 0)
                fputs("(server default)", out);
            else
                fprintf(out, "%d", v);
            break;
        }
        case K_BOOL:
            fputs(*(const bool *)cfield(c, k) ? "true" : "false", out);
            break;
        case K_LIST: {
            const struct agent_config_list *l = cfield(c, k);
            fputc('[', out);
            for (size_t j = 0; j < l->n; j++)
                fprintf(out, "%s%s", j ? ", " : "", l->items[j]);
            fputc(']', out);
            break;
        }
        case K_LEVEL:
            fputs(eip_log_level_name(c->log_level), out);
            break;
        case K_FORMAT:
            fputs(c->log_format == EIP_LOG_JSON ? "json" : "text", out);
            break;
        }
        fputc('\n', out);
    }
}

char *agent_config_endpoint(const struct agent_config *c, const char *product, const char *region)
{
    const char *explicit = NULL;
    if (strcmp(product, "vpc") == 0)
        explicit = c->vpc_endpoint;
    else if (strcmp(product, "ecs") == 0)
        explicit = c->ecs_endpoint;
    else if (strcmp(product, "sts") == 0)
        explicit = c->sts_endpoint;
    else
        return NULL;
    if (explicit)
        return strdup(explicit);
    if (!region)
        region = c->region_id;
    if (!region || !*region)
        return NULL;
    char *url = NULL;
    if (asprintf(&url,
                 c->use_public_endpoints ? "https://%s.%s.aliyuncs.com"
                                         : "https://%s-vpc.%s.aliyuncs.com",
                 product, region) < 0)
        return NULL;
    return url;
}
