/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8s/config.h"
#include "test_seed.h"
#include "test_tmp.h"

typedef struct fixture {
    char dir[64];
} fixture;

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(eip_test_tmp_path(f->dir, sizeof(f->dir), "k8s-kubeconfig-XXXXXX"), 0);
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    return 0;
}

/* A kubeconfig with two contexts; cluster and user bodies are filled in. */
static void write_kubeconfig(fixture *f, const char *cluster, const char *user)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "apiVersion: v1\n"
             "kind: Config\n"
             "current-context: sim\n"
             "contexts:\n"
             "- name: other\n"
             "  context: {cluster: nowhere, user: nobody}\n"
             "- name: sim\n"
             "  context:\n"
             "    cluster: simcluster\n"
             "    user: agent\n"
             "    namespace: kube-system\n"
             "clusters:\n"
             "- name: simcluster\n"
             "  cluster:\n"
             "%s"
             "users:\n"
             "- name: agent\n"
             "  user:\n"
             "%s",
             cluster, user);
    write_file(f->dir, "config", text);
}

/* k8s_config_kubeconfig of the file at path, context ctx. */
static int kubeconfig_at(const char *path, const char *ctx, k8s_config **out, char *err,
                         size_t errlen)
{
    k8s_config_opts o = {.kubeconfig = path, .context = ctx};
    return k8s_config_kubeconfig(out, &o, err, errlen);
}

/* k8s_config_incluster with the service-account directory dir and the
 * KUBERNETES_SERVICE_HOST/PORT an agent would have read. */
static int incluster(const char *dir, const char *host, const char *port, k8s_config **out,
                     char *err, size_t errlen)
{
    k8s_config_opts o = {.service_host = host, .service_port = port, .sa_dir = dir};
    return k8s_config_incluster(out, &o, err, errlen);
}

static k8s_config *load_ok(fixture *f, const char *context)
{
    char path[128], err[512] = "";
    snprintf(path, sizeof(path), "%s/config", f->dir);
    k8s_config *c = NULL;
    int r = kubeconfig_at(path, context, &c, err, sizeof(err));
    if (r)
        fail_msg("unexpected error %d: %s", r, err);
    assert_non_null(c);
    return c;
}

static int load_err(fixture *f, char *err, size_t errlen)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/config", f->dir);
    k8s_config *c = NULL;
    int r = kubeconfig_at(path, NULL, &c, err, errlen);
    assert_null(c);
    assert_int_not_equal(r, 0);
    assert_non_null(strstr(err, path)); /* every message names the file */
    return r;
}

static void ca_file_relative(void **state)
{
    fixture *f = *state;
    write_file(f->dir, "ca.crt", "-----BEGIN CERTIFICATE-----\n");
    write_kubeconfig(f,
                     "    server: https://127.0.0.1:6443/\n"
                     "    certificate-authority: ca.crt\n",
                     "    token: abc.def\n");
    k8s_config *c = load_ok(f, NULL);
    assert_string_equal(c->server, "https://127.0.0.1:6443"); /* trailing slash dropped */
    char want[128];
    snprintf(want, sizeof(want), "%s/ca.crt", f->dir);
    assert_string_equal(c->ca_file, want);
    assert_null(c->ca_pem);
    assert_string_equal(c->token, "abc.def");
    assert_string_equal(c->namespace, "kube-system");
    assert_false(c->insecure_skip_verify);
    char *tok = NULL;
    assert_int_equal(k8s_config_read_token(c, &tok, NULL, 0), 0);
    assert_string_equal(tok, "abc.def");
    free(tok);
    k8s_config_free(c);
}

static void ca_data_and_client_cert_data(void **state)
{
    fixture *f = *state;
    /* base64 of "CA PEM\n", "CERT\n", "KEY\n" */
    write_kubeconfig(f,
                     "    server: https://[::1]:6443\n"
                     "    certificate-authority-data: Q0EgUEVNCg==\n",
                     "    client-certificate-data: Q0VSVAo=\n"
                     "    client-key-data: S0VZCg==\n");
    k8s_config *c = load_ok(f, NULL);
    assert_string_equal(c->server, "https://[::1]:6443");
    assert_null(c->ca_file);
    assert_string_equal(c->ca_pem, "CA PEM\n");
    assert_string_equal(c->client_cert_pem, "CERT\n");
    assert_string_equal(c->client_key_pem, "KEY\n");
    assert_null(c->token);
    k8s_config_free(c);
}

static void client_cert_files_relative(void **state)
{
    fixture *f = *state;
    mkdir(strcat(strcpy((char[96]){0}, f->dir), "/pki"), 0700);
    write_file(f->dir, "pki/agent.crt", "x");
    write_file(f->dir, "pki/agent.key", "y");
    write_kubeconfig(f, "    server: https://localhost:1\n",
                     "    client-certificate: pki/agent.crt\n"
                     "    client-key: pki/agent.key\n");
    k8s_config *c = load_ok(f, NULL);
    char want[128];
    snprintf(want, sizeof(want), "%s/pki/agent.crt", f->dir);
    assert_string_equal(c->client_cert_file, want);
    snprintf(want, sizeof(want), "%s/pki/agent.key", f->dir);
    assert_string_equal(c->client_key_file, want);
    k8s_config_free(c);
}

static void token_file_wins_and_is_trimmed(void **state)
{
    fixture *f = *state;
    write_file(f->dir, "token", "  rotated-token-1\n");
    write_kubeconfig(f, "    server: https://localhost:1\n",
                     "    token: static\n"
                     "    tokenFile: token\n");
    k8s_config *c = load_ok(f, NULL);
    char *tok = NULL;
    assert_int_equal(k8s_config_read_token(c, &tok, NULL, 0), 0);
    assert_string_equal(tok, "rotated-token-1");
    free(tok);
    write_file(f->dir, "token", "rotated-token-2");
    assert_int_equal(k8s_config_read_token(c, &tok, NULL, 0), 0);
    assert_string_equal(tok, "rotated-token-2");
    free(tok);
    k8s_config_free(c);
}

static void insecure_and_server_name(void **state)
{
    fixture *f = *state;
    write_kubeconfig(f,
                     "    server: https://10.0.0.1:6443\n"
                     "    insecure-skip-tls-verify: true\n"
                     "    tls-server-name: kubernetes.default.svc\n",
                     "    token: t\n");
    k8s_config *c = load_ok(f, NULL);
    assert_true(c->insecure_skip_verify);
    assert_string_equal(c->tls_server_name, "kubernetes.default.svc");
    k8s_config_free(c);
}

static void empty_values_are_unset(void **state)
{
    fixture *f = *state;
    write_kubeconfig(f,
                     "    server: https://localhost:1\n"
                     "    tls-server-name: ''\n"
                     "    certificate-authority: ~\n",
                     "    token: \"\"\n"
                     "    tokenFile: null\n");
    k8s_config *c = load_ok(f, NULL);
    assert_null(c->token);
    assert_null(c->token_file);
    assert_null(c->tls_server_name);
    assert_null(c->ca_file);
    char *tok = (char *)1;
    assert_int_equal(k8s_config_read_token(c, &tok, NULL, 0), 0);
    assert_null(tok);
    k8s_config_free(c);
}

static void explicit_context(void **state)
{
    fixture *f = *state;
    write_kubeconfig(f, "    server: https://localhost:1\n", "    token: t\n");
    char path[128], err[512] = "";
    snprintf(path, sizeof(path), "%s/config", f->dir);
    k8s_config *c = NULL;
    /* "other" names a cluster that does not exist */
    assert_int_equal(kubeconfig_at(path, "other", &c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cluster \"nowhere\""));
    assert_int_equal(kubeconfig_at(path, "missing", &c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "context \"missing\" not found"));
}

static void missing_current_context(void **state)
{
    fixture *f = *state;
    write_file(f->dir, "config",
               "apiVersion: v1\nkind: Config\ncurrent-context: gone\ncontexts: []\n"
               "clusters: []\nusers: []\n");
    char err[512] = "";
    load_err(f, err, sizeof(err));
    assert_non_null(strstr(err, "context \"gone\" not found"));
    write_file(f->dir, "config", "apiVersion: v1\nkind: Config\n");
    load_err(f, err, sizeof(err));
    assert_non_null(strstr(err, "no current-context"));
}

static void malformed_yaml_names_line(void **state)
{
    fixture *f = *state;
    write_file(f->dir, "config",
               "apiVersion: v1\n"
               "clusters:\n"
               "- name: a\n"
               "  cluster: {server: https://x\n"
               "users: [\n");
    char err[512] = "";
    assert_int_equal(load_err(f, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "invalid YAML"));
    char path[128];
    snprintf(path, sizeof(path), "%s/config:", f->dir);
    const char *p = strstr(err, path);
    assert_non_null(p);
    long line = strtol(p + strlen(path), NULL, 10);
    assert_true(line >= 4 && line <= 6);
}

static void bad_base64_and_missing_files(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    write_kubeconfig(f,
                     "    server: https://localhost:1\n"
                     "    certificate-authority-data: '%%%%'\n",
                     "    token: t\n");
    load_err(f, err, sizeof(err));
    assert_non_null(strstr(err, "certificate-authority-data"));
    write_kubeconfig(f,
                     "    server: https://localhost:1\n"
                     "    certificate-authority: nothere.crt\n",
                     "    token: t\n");
    load_err(f, err, sizeof(err));
    assert_non_null(strstr(err, "nothere.crt"));
    write_kubeconfig(f, "    server: https://localhost:1\n",
                     "    client-certificate-data: Q0VSVAo=\n");
    load_err(f, err, sizeof(err));
    assert_non_null(strstr(err, "without a key"));
    write_kubeconfig(f, "    server: localhost:1\n", "    token: t\n");
    load_err(f, err, sizeof(err));
    assert_non_null(strstr(err, "not an http(s) URL"));
    write_kubeconfig(f, "    insecure-skip-tls-verify: maybe\n    server: https://a\n",
                     "    token: t\n");
    load_err(f, err, sizeof(err));
    assert_non_null(strstr(err, "insecure-skip-tls-verify"));
}

static void missing_file(void **state)
{
    fixture *f = *state;
    char path[128], err[512] = "";
    snprintf(path, sizeof(path), "%s/none", f->dir);
    k8s_config *c = NULL;
    assert_int_equal(kubeconfig_at(path, NULL, &c, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, path));
}

/* k8s/ reads no environment: the agent's configuration maps KUBECONFIG and
 * KUBERNETES_SERVICE_HOST/PORT and passes them. */
static void load_reads_no_environment(void **state)
{
    fixture *f = *state;
    write_kubeconfig(f, "    server: https://from-env:1\n", "    token: t\n");
    char path[256];
    snprintf(path, sizeof(path), "%s/config", f->dir);
    setenv("KUBECONFIG", path, 1);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    k8s_config *c = NULL;
    char err[256] = "";
    k8s_config_opts none = {.sa_dir = f->dir};
    assert_int_equal(k8s_config_load(&c, &none, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
    assert_null(c);
    k8s_config_opts given = {.kubeconfig = path};
    assert_int_equal(k8s_config_load(&c, &given, err, sizeof(err)), 0);
    assert_string_equal(c->server, "https://from-env:1");
    k8s_config_free(c);
    k8s_config_opts no_file = {.context = "sim"};
    assert_int_equal(k8s_config_kubeconfig(&c, &no_file, err, sizeof(err)), -EINVAL);
    assert_null(c);
}

static void write_sa(fixture *f)
{
    write_file(f->dir, "token", "sa-token\n");
    write_file(f->dir, "ca.crt", "pem");
    write_file(f->dir, "namespace", "eip-system\n");
}

static void incluster_ipv6_bracketed(void **state)
{
    fixture *f = *state;
    write_sa(f);
    k8s_config *c = NULL;
    char err[256] = "";
    assert_int_equal(incluster(f->dir, "fd00:10:96::1", "443", &c, err, sizeof(err)), 0);
    assert_string_equal(c->server, "https://[fd00:10:96::1]:443");
    assert_string_equal(c->namespace, "eip-system");
    char want[128];
    snprintf(want, sizeof(want), "%s/ca.crt", f->dir);
    assert_string_equal(c->ca_file, want);
    char *tok = NULL;
    assert_int_equal(k8s_config_read_token(c, &tok, NULL, 0), 0);
    assert_string_equal(tok, "sa-token");
    free(tok);
    k8s_config_free(c);

    assert_int_equal(incluster(f->dir, "10.96.0.1", "443", &c, err, sizeof(err)), 0);
    assert_string_equal(c->server, "https://10.96.0.1:443");
    k8s_config_free(c);
}

static void incluster_errors(void **state)
{
    fixture *f = *state;
    k8s_config *c = NULL;
    char err[256] = "";
    assert_int_equal(incluster(f->dir, NULL, NULL, &c, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
    assert_int_equal(incluster(f->dir, "10.96.0.1", "", &c, err, sizeof(err)), -ENOENT);
    assert_int_equal(incluster(f->dir, "10.96.0.1", "44x", &c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "bad KUBERNETES_SERVICE_PORT"));
    assert_int_not_equal(incluster(f->dir, "10.96.0.1", "443", &c, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "ca.crt"));
    write_file(f->dir, "ca.crt", "pem");
    assert_int_not_equal(incluster(f->dir, "10.96.0.1", "443", &c, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "token"));
    assert_null(c);
}

/* Mutated kubeconfigs (run under ASan): a result, an error that names the
 * file, never a crash. */
static void mutated_kubeconfigs(void **state)
{
    fixture *f = *state;
    static const char good[] = "apiVersion: v1\n"
                               "current-context: sim\n"
                               "contexts:\n"
                               "- name: sim\n"
                               "  context: {cluster: c, user: u, namespace: ns}\n"
                               "clusters:\n"
                               "- name: c\n"
                               "  cluster:\n"
                               "    server: https://127.0.0.1:6443\n"
                               "    certificate-authority-data: Q0EgUEVNCg==\n"
                               "    insecure-skip-tls-verify: false\n"
                               "users:\n"
                               "- name: u\n"
                               "  user: {token: abc, client-certificate-data: Q0VSVAo=, "
                               "client-key-data: S0VZCg==}\n";
    static const char pool[] = "{}[]:-,&*!|>'\"#%@` \n\tax0=";
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/config", f->dir);
    char text[sizeof(good)];
    eip_test_rng rng;
    eip_test_rng_init(&rng, "mutated_kubeconfigs");
    for (int round = 0; round < 400; round++) {
        memcpy(text, good, sizeof(good));
        int flips = 1 + (int)eip_test_rng_below(&rng, 4);
        for (int i = 0; i < flips; i++)
            text[eip_test_rng_below(&rng, sizeof(good) - 1)] =
                pool[eip_test_rng_below(&rng, sizeof(pool) - 1)];
        write_file(f->dir, "config", text);
        k8s_config *c = NULL;
        err[0] = '\0';
        int r = kubeconfig_at(path, NULL, &c, err, sizeof(err));
        if (r == 0) {
            assert_non_null(c);
            assert_non_null(c->server);
            k8s_config_free(c);
        } else {
            assert_null(c);
            assert_non_null(strstr(err, path));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ca_file_relative, setup, teardown),
        cmocka_unit_test_setup_teardown(ca_data_and_client_cert_data, setup, teardown),
        cmocka_unit_test_setup_teardown(client_cert_files_relative, setup, teardown),
        cmocka_unit_test_setup_teardown(token_file_wins_and_is_trimmed, setup, teardown),
        cmocka_unit_test_setup_teardown(insecure_and_server_name, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_values_are_unset, setup, teardown),
        cmocka_unit_test_setup_teardown(explicit_context, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_current_context, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_yaml_names_line, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_base64_and_missing_files, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(load_reads_no_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(incluster_ipv6_bracketed, setup, teardown),
        cmocka_unit_test_setup_teardown(incluster_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(mutated_kubeconfigs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
