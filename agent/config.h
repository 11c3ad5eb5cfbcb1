/* SPDX-License-Identifier: MIT */
#ifndef EIP_AGENT_CONFIG_H
#define EIP_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "common/log.h"

/* The agent's whole configuration (docs/configuration.md is the contract).
 * Built in layers: defaults < YAML file < $CREDENTIALS_DIRECTORY files <
 * environment < flags. Every string is owned by the struct (malloc'd, freed by
 * agent_config_free); NULL means "not set" (the consumer applies its own
 * default, e.g. the region from instance metadata). */

/* A NULL-terminated list of owned strings; items == NULL when empty. */
struct agent_config_list {
    char **items;
    size_t n;
};

struct agent_config {
    /* ack-extend-network-controller Helm keys */
    char *cluster_id; /* clusterID (required when the eip controller runs) */
    char *region_id;  /* regionID; NULL: instance metadata */
    char *vpc_id;     /* vpcID / vpcid; NULL: instance metadata */
    struct agent_config_list enable_controllers; /* enableControllers, default [eip] */
    struct agent_config_list stateful_kinds;     /* customStatefulWorkloadKinds */
    int max_concurrent_reconciles; /* networkController.eipController.maxConcurrentReconciles */
    int gc_period_minutes;         /* ...eipController.garbageCollectionPeriodInMinutes */
    int gc_period_seconds;         /* gcPeriodSeconds: overrides the minutes when set (0: unset) */
    char *leader_namespace;        /* leaderElection.namespace: where the Lease lives */

    /* credentials (secrets: never printed, see agent_config_dump) */
    char *access_key_id;     /* credential.accessKey, ALIBABA_CLOUD_ACCESS_KEY_ID */
    char *access_key_secret; /* credential.accessSecret, ALIBABA_CLOUD_ACCESS_KEY_SECRET */
    char *security_token;    /* ALIBABA_CLOUD_SECURITY_TOKEN */
    char *ram_role;          /* credential.ramRole, EIP_AGENT_RAM_ROLE */
    char *role_arn;          /* ALIBABA_CLOUD_ROLE_ARN (RRSA) */
    char *oidc_provider_arn; /* ALIBABA_CLOUD_OIDC_PROVIDER_ARN */
    char *oidc_token_file;   /* ALIBABA_CLOUD_OIDC_TOKEN_FILE */

    /* ALIBABA_CLOUD_ACCESS_KEY_ID gave access_key_id: the credential source is
     * then "env", not "static" (agent/cloud.c tells aliyun/credentials) */
    bool access_key_from_env;

    /* node and local API */
    char *node_name; /* nodeName, NODE_NAME (required when the eip controller runs) */
    char *host_ip;   /* hostIP, HOST_IP */
    char *listen;    /* listen; never NULL after agent_config_load ("$HOST_IP:9469") */
    enum eip_log_level log_level;
    enum eip_log_format log_format;

    /* Kubernetes */
    char *kubeconfig;        /* NULL: in-cluster */
    char *kube_service_host; /* in-cluster API server host: KUBERNETES_SERVICE_HOST */
    char *kube_service_port; /* in-cluster API server port: KUBERNETES_SERVICE_PORT */
    int kube_qps;
    int kube_burst;

    /* Alibaba Cloud; endpoints NULL: derived, see agent_config_endpoint */
    char *vpc_endpoint;
    char *ecs_endpoint;
    char *sts_endpoint;
    char *metadata_endpoint; /* default http://100.100.100.200 */
    bool use_public_endpoints;
    char *cloud_ca_file;
    char *signature_version; /* "v3" (default) or "rpc" */
    int cloud_qps;
    int cloud_rate_limit_percent; /* aliyun.rateLimitPercent: share of the documented limits */
    int cloud_max_in_flight;
    int cloud_timeout_seconds;

    /* agent's own HTTP server limits (0: the server's default) */
    int http_header_timeout_ms; /* http.headerTimeoutMs */
    int http_idle_timeout_ms;   /* http.idleTimeoutMs */
    int http_max_connections;   /* http.maxConnections */
    int http_max_header_bytes;  /* http.maxHeaderBytes */
    int http_max_url_bytes;     /* http.maxUrlBytes */
    int shutdown_timeout_ms;    /* shutdownTimeoutMs: the longest a drain may take */
    int check_timeout_ms;       /* checkTimeoutMs: per --check-config check */

    /* derived */
    bool eip_controller; /* "eip" is in enableControllers */
    char *config_file;   /* --config, NULL when none */
};

/* Command line, parsed once; kept so a reload (SIGHUP) can re-apply the flags. */
struct agent_cli {
    const char *config_file; /* borrowed from argv */
    bool check_config;
    bool version;
    bool help;
    size_t n_overrides;
    struct {
        int key;           /* index into the key table */
        const char *value; /* borrowed from argv */
    } overrides[32];
};

/* Parses argv with getopt_long. 0 on success; -EINVAL on an unknown flag or a
 * missing argument (getopt has printed the reason; print the usage and exit 2). */
int agent_cli_parse(struct agent_cli *cli, int argc, char **argv);
/* The usage text (flags and one line each). */
void agent_cli_usage(FILE *out, const char *argv0);

/* Defaults for every key. */
void agent_config_init(struct agent_config *c);
void agent_config_free(struct agent_config *c);

/* Loads the YAML file into c (on top of what is there). Returns 0, or -errno
 * with "file:line: message" (naming the key) in err. Unknown keys are logged
 * as warnings. */
int agent_config_load_file(struct agent_config *c, const char *path, char *err, size_t errcap);
/* Loads YAML from memory; name is used in messages in place of a file name. */
int agent_config_load_yaml(struct agent_config *c, const char *name, const char *yaml, size_t len,
                           char *err, size_t errcap);
/* Overlays the environment (getenv). Empty variables count as unset. */
int agent_config_apply_env(struct agent_config *c, char *err, size_t errcap);
/* Overlays access-key-id, access-key-secret, security-token from dir (systemd
 * LoadCredential=) if they exist; trailing newlines are stripped. dir NULL:
 * $CREDENTIALS_DIRECTORY, nothing when that is unset. */
int agent_config_apply_credentials_dir(struct agent_config *c, const char *dir, char *err,
                                       size_t errcap);
/* Overlays the flag values of cli. */
int agent_config_apply_cli(struct agent_config *c, const struct agent_cli *cli, char *err,
                           size_t errcap);
/* Fills in derived values (listen default, eip_controller) and validates.
 * running: whether the agent will serve (requires nodeName and clusterID when the
 * eip controller is enabled). 0 or -EINVAL with the reason in err. */
int agent_config_finish(struct agent_config *c, bool running, char *err, size_t errcap);

/* All layers in order: init, file (cli->config_file), credentials dir, env,
 * flags, finish. On failure c is still valid to free. */
int agent_config_load(struct agent_config *c, const struct agent_cli *cli, bool running, char *err,
                      size_t errcap);

/* Writes "key: value" lines of the effective configuration; secrets show as
 * "(set, redacted)" or "(unset)". */
void agent_config_dump(const struct agent_config *c, FILE *out);

/* Parses "host:port", "[v6]:port" or ":port" (numeric hosts only). 0 or -EINVAL. */
int agent_listen_parse(const char *s, struct sockaddr_storage *out);

/* The endpoint URL for product "vpc", "ecs" or "sts": the configured one, else
 * https://<product>-vpc.<region>.aliyuncs.com (https://<product>.<region>... with
 * usePublicEndpoints). region: the config's when NULL. Newly allocated; NULL
 * when no region is known or on allocation failure. */
char *agent_config_endpoint(const struct agent_config *c, const char *product, const char *region);

#endif
