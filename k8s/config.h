/* SPDX-License-Identifier: MIT */
#ifndef EIP_K8S_CONFIG_H
#define EIP_K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Where and how to reach the API server: in-cluster (service-account files) or
 * a kubeconfig file. Every string is owned by the struct (NULL when unset) and
 * released by k8s_config_free(). */
typedef struct k8s_config {
    char *server;  /* "https://host:port", no trailing slash */
    char *ca_file; /* absolute path, or NULL */
    char *ca_pem;  /* certificate-authority-data decoded, or NULL */
    char *client_cert_file, *client_key_file;
    char *client_cert_pem, *client_key_pem;
    char *tls_server_name; /* verify the server certificate against this name */
    bool insecure_skip_verify;
    char *token;      /* a static bearer token, or NULL */
    char *token_file; /* a bearer token file re-read periodically (wins over token) */
    char *namespace;  /* the pod's (in-cluster) or the context's namespace, or NULL */
    char *source;     /* "in-cluster" or the kubeconfig path, for messages */
} k8s_config;

/* Default service-account directory of a pod. */
#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Where the configuration comes from. Nothing here reads the environment: the
 * agent's configuration maps KUBECONFIG, KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT and passes what it found. Strings are borrowed for
 * the duration of the call (the result holds copies). */
typedef struct k8s_config_opts {
    const char *kubeconfig;   /* a kubeconfig file; NULL or "": in-cluster (k8s_config_load) */
    const char *context;      /* kubeconfig context; NULL: current-context */
    const char *service_host; /* in-cluster API server host (KUBERNETES_SERVICE_HOST) */
    const char *service_port; /* in-cluster API server port (KUBERNETES_SERVICE_PORT) */
    const char *sa_dir;       /* in-cluster service-account directory; NULL: K8S_SA_DIR */
} k8s_config_opts;

/* In-cluster configuration: https://service_host:service_port (an IPv6 host is
 * bracketed) and sa_dir/{token,ca.crt,namespace}. 0 and *out, or a negative
 * errno with a one-line reason in err (-ENOENT without a host and port). */
int k8s_config_incluster(k8s_config **out, const k8s_config_opts *opts, char *err, size_t errlen);

/* Kubeconfig YAML at opts->kubeconfig (required: -EINVAL without), context
 * opts->context (NULL: current-context). Relative file names are resolved
 * against the kubeconfig's directory. 0 and *out, or a negative errno with a
 * reason in err that names the file (and the line for YAML errors). */
int k8s_config_kubeconfig(k8s_config **out, const k8s_config_opts *opts, char *err, size_t errlen);

/* The agent's choice: the kubeconfig when opts->kubeconfig is set, else
 * in-cluster. Same results as the two above. */
int k8s_config_load(k8s_config **out, const k8s_config_opts *opts, char *err, size_t errlen);

/* Reads the current bearer token: token_file when set (trimmed), else token.
 * 0 and *out (caller frees; NULL when the config has no token), or -errno
 * with a reason in err. */
int k8s_config_read_token(const k8s_config *cfg, char **out, char *err, size_t errlen);

void k8s_config_free(k8s_config *cfg);

#endif
