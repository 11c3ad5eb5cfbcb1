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

#include "agent/config.h"
#include "test_tmp.h"

static const char *const all_env[] = {"EIP_AGENT_CLUSTER_ID",
                                      "EIP_AGENT_REGION_ID",
                                      "EIP_AGENT_VPC_ID",
                                      "ALIBABA_CLOUD_ACCESS_KEY_ID",
                                      "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                                      "ALIBABA_CLOUD_SECURITY_TOKEN",
                                      "ALIBABA_CLOUD_ROLE_ARN",
                                      "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                                      "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
                                      "EIP_AGENT_RAM_ROLE",
                                      "EIP_AGENT_MAX_CONCURRENT_RECONCILES",
                                      "EIP_AGENT_GC_PERIOD_MINUTES",
                                      "NODE_NAME",
                                      "HOST_IP",
                                      "EIP_AGENT_LISTEN",
                                      "EIP_AGENT_LOG_LEVEL",
                                      "EIP_AGENT_LOG_FORMAT",
                                      "KUBECONFIG",
                                      "EIP_AGENT_KUBE_QPS",
                                      "EIP_AGENT_KUBE_BURST",
                                      "EIP_AGENT_VPC_ENDPOINT",
                                      "EIP_AGENT_ECS_ENDPOINT",
                                      "EIP_AGENT_STS_ENDPOINT",
                                      "EIP_AGENT_METADATA_ENDPOINT",
                                      "EIP_AGENT_PUBLIC_ENDPOINTS",
                                      "EIP_AGENT_CLOUD_CA_FILE",
                                      "EIP_AGENT_SIGNATURE_VERSION",
                                      "EIP_AGENT_CLOUD_QPS",
                                      "EIP_AGENT_CLOUD_MAX_IN_FLIGHT",
                                      "EIP_AGENT_CLOUD_TIMEOUT_SECONDS",
                                      "EIP_AGENT_HTTP_HEADER_TIMEOUT_MS",
                                      "CREDENTIALS_DIRECTORY",
                                      NULL};

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; all_env[i]; i++)
        unsetenv(all_env[i]);
    assert_int_equal(eip_test_tmp_path(tmpdir, sizeof(tmpdir), "eip-test-config-XXXXXX"), 0);
    assert_non_null(mkdtemp(tmpdir));
    eip_log_set_level(EIP_LOG_ERROR); /* unknown-key warnings stay quiet */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    for (size_t i = 0; all_env[i]; i++)
        unsetenv(all_env[i]);
    return 0;
}

/* Writes tmpdir/name and returns its path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* getopt_long does not write to argv with a "+" optstring; literals are safe. */
static int parse_args(struct agent_cli *cli, const char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return agent_cli_parse(cli, argc, (char **)(uintptr_t)argv);
}

static int load_yaml(struct agent_config *c, const char *yaml, char *err, size_t cap)
{
    agent_config_init(c);
    return agent_config_load_yaml(c, "values.yaml", yaml, strlen(yaml), err, cap);
}

static void defaults(void **state)
{
    (void)state;
    struct agent_config c;
    struct agent_cli cli;
    char err[256] = "";
    const char *argv[] = {"eip-agent", NULL};
    assert_int_equal(parse_args(&cli, argv), 0);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), 0);
    assert_string_equal(c.listen, "0.0.0.0:9469");
    assert_int_equal(c.max_concurrent_reconciles, 10);
    assert_int_equal(c.gc_period_minutes, 5);
    assert_int_equal(c.kube_qps, 20);
    assert_int_equal(c.kube_burst, 30);
    assert_int_equal(c.cloud_qps, 10);
    assert_int_equal(c.cloud_max_in_flight, 16);
    assert_int_equal(c.cloud_timeout_seconds, 30);
    assert_string_equal(c.metadata_endpoint, "http://100.100.100.200");
    assert_string_equal(c.signature_version, "v3");
    assert_int_equal(c.log_level, EIP_LOG_INFO);
    assert_int_equal(c.log_format, EIP_LOG_TEXT);
    assert_true(c.eip_controller);
    assert_int_equal(c.enable_controllers.n, 1);
    assert_null(c.cluster_id);
    agent_config_free(&c);

    /* running requires nodeName and clusterID */
    assert_int_equal(agent_config_load(&c, &cli, true, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "nodeName is required"));
    agent_config_free(&c);
}

static void host_ip_default_listen(void **state)
{
    (void)state;
    struct agent_config c;
    struct agent_cli cli;
    char err[256] = "";
    const char *argv[] = {"eip-agent", NULL};
    setenv("HOST_IP", "10.0.0.7", 1);
    assert_int_equal(parse_args(&cli, argv), 0);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), 0);
    assert_string_equal(c.listen, "10.0.0.7:9469");
    agent_config_free(&c);
    setenv("HOST_IP", "fd00::7", 1);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), 0);
    assert_string_equal(c.listen, "[fd00::7]:9469");
    agent_config_free(&c);
}

static void precedence(void **state)
{
    (void)state;
    const char *path = write_file("config.yaml", "clusterID: from-file\n"
                                                 "regionID: cn-file\n"
                                                 "vpcID: vpc-file\n"
                                                 "nodeName: node-file\n"
                                                 "logLevel: warn\n"
                                                 "listen: 127.0.0.1:1000\n"
                                                 "kubeClientQPS: 5\n");
    struct agent_config c;
    struct agent_cli cli;
    char err[256] = "";
    const char *argv1[] = {"eip-agent", "--config", path, NULL};

    /* file only */
    assert_int_equal(parse_args(&cli, argv1), 0);
    assert_int_equal(agent_config_load(&c, &cli, true, err, sizeof(err)), 0);
    assert_string_equal(c.cluster_id, "from-file");
    assert_string_equal(c.region_id, "cn-file");
    assert_string_equal(c.node_name, "node-file");
    assert_string_equal(c.listen, "127.0.0.1:1000");
    assert_int_equal(c.log_level, EIP_LOG_WARN);
    assert_int_equal(c.kube_qps, 5);
    assert_string_equal(c.config_file, path);
    agent_config_free(&c);

    /* env beats file */
    setenv("EIP_AGENT_CLUSTER_ID", "from-env", 1);
    setenv("EIP_AGENT_REGION_ID", "cn-env", 1);
    setenv("NODE_NAME", "node-env", 1);
    setenv("EIP_AGENT_LOG_LEVEL", "debug", 1);
    setenv("EIP_AGENT_LISTEN", "127.0.0.1:2000", 1);
    setenv("EIP_AGENT_KUBE_QPS", "7", 1);
    setenv("EIP_AGENT_VPC_ID", "", 1); /* empty counts as unset */
    assert_int_equal(agent_config_load(&c, &cli, true, err, sizeof(err)), 0);
    assert_string_equal(c.cluster_id, "from-env");
    assert_string_equal(c.region_id, "cn-env");
    assert_string_equal(c.vpc_id, "vpc-file");
    assert_string_equal(c.node_name, "node-env");
    assert_string_equal(c.listen, "127.0.0.1:2000");
    assert_int_equal(c.log_level, EIP_LOG_DEBUG);
    assert_int_equal(c.kube_qps, 7);
    agent_config_free(&c);

    /* flags beat env */
    const char *argv2[] = {"eip-agent",   "--config",       path,          "--cluster-id=from-flag",
                           "--node-name", "node-flag",      "--log-level", "error",
                           "--listen",    "127.0.0.1:3000", "--vpc-id",    "vpc-flag",
                           NULL};
    assert_int_equal(parse_args(&cli, argv2), 0);
    assert_int_equal(agent_config_load(&c, &cli, true, err, sizeof(err)), 0);
    assert_string_equal(c.cluster_id, "from-flag");
    assert_string_equal(c.region_id, "cn-env"); /* no flag given: env still wins */
    assert_string_equal(c.vpc_id, "vpc-flag");
    assert_string_equal(c.node_name, "node-flag");
    assert_string_equal(c.listen, "127.0.0.1:3000");
    assert_int_equal(c.log_level, EIP_LOG_ERROR);
    agent_config_free(&c);
}

static void helm_keys(void **state)
{
    (void)state;
    struct agent_config c;
    char err[256] = "";
    const char *yaml = "# a Helm values file\n"
                       "clusterID: c123\n"
                       "regionID: cn-hangzhou\n"
                       "vpcid: vpc-lower\n"
                       "enableControllers:\n"
                       "  - eip\n"
                       "  - podnetworking\n"
                       "customStatefulWorkloadKinds: [CloneSet, \"AdvancedStatefulSet\"]\n"
                       "credential:\n"
                       "  accessKey: AKID\n"
                       "  accessSecret: \"s3cr3t\"\n"
                       "  ramRole: role-x\n"
                       "networkController:\n"
                       "  eipController:\n"
                       "    maxConcurrentReconciles: \"5\"\n"
                       "    garbageCollectionPeriodInMinutes: 3\n"
                       "  other: 1\n"
                       "aliyun:\n"
                       "  vpcEndpoint: http://127.0.0.1:8443/vpc\n"
                       "  usePublicEndpoints: yes\n"
                       "  signatureVersion: rpc\n"
                       "  qps: 3\n"
                       "http:\n"
                       "  headerTimeoutMs: 250\n"
                       "image:\n"
                       "  repository: whatever\n"
                       "resources: {limits: {cpu: 1}}\n";
    assert_int_equal(load_yaml(&c, yaml, err, sizeof(err)), 0);
    assert_int_equal(agent_config_finish(&c, false, err, sizeof(err)), 0);
    assert_string_equal(c.cluster_id, "c123");
    assert_string_equal(c.vpc_id, "vpc-lower");
    assert_int_equal(c.enable_controllers.n, 2);
    assert_string_equal(c.enable_controllers.items[1], "podnetworking");
    assert_null(c.enable_controllers.items[2]);
    assert_true(c.eip_controller);
    assert_int_equal(c.stateful_kinds.n, 2);
    assert_string_equal(c.stateful_kinds.items[0], "CloneSet");
    assert_string_equal(c.stateful_kinds.items[1], "AdvancedStatefulSet");
    assert_string_equal(c.access_key_id, "AKID");
    assert_string_equal(c.access_key_secret, "s3cr3t");
    assert_string_equal(c.ram_role, "role-x");
    assert_int_equal(c.max_concurrent_reconciles, 5);
    assert_int_equal(c.gc_period_minutes, 3);
    assert_string_equal(c.vpc_endpoint, "http://127.0.0.1:8443/vpc");
    assert_true(c.use_public_endpoints);
    assert_string_equal(c.signature_version, "rpc");
    assert_int_equal(c.cloud_qps, 3);
    assert_int_equal(c.http_header_timeout_ms, 250);

    char *u = agent_config_endpoint(&c, "vpc", NULL);
    assert_string_equal(u, "http://127.0.0.1:8443/vpc");
    free(u);
    u = agent_config_endpoint(&c, "ecs", NULL);
    assert_string_equal(u, "https://ecs.cn-hangzhou.aliyuncs.com");
    free(u);
    agent_config_free(&c);

    /* vpcID spelled the documented way, and an empty controller list */
    assert_int_equal(load_yaml(&c, "vpcID: vpc-upper\nenableControllers: []\n", err, sizeof(err)),
                     0);
    assert_int_equal(agent_config_finish(&c, true, err, sizeof(err)), 0);
    assert_string_equal(c.vpc_id, "vpc-upper");
    assert_false(c.eip_controller); /* so nodeName/clusterID are not required */
    char *u2 = agent_config_endpoint(&c, "sts", "cn-beijing");
    assert_string_equal(u2, "https://sts-vpc.cn-beijing.aliyuncs.com");
    free(u2);
    assert_null(agent_config_endpoint(&c, "vpc", NULL)); /* no region known */
    agent_config_free(&c);
}

static void yaml_errors(void **state)
{
    (void)state;
    struct agent_config c;
    char err[256] = "";

    /* malformed: libyaml's line */
    const char *path = write_file("bad.yaml", "clusterID: a\nregionID: [b\nvpcID: c\n");
    agent_config_init(&c);
    assert_int_equal(agent_config_load_file(&c, path, err, sizeof(err)), -EINVAL);
    char want[160];
    snprintf(want, sizeof(want), "%s:", path);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    assert_non_null(strstr(err, "malformed YAML"));
    agent_config_free(&c);

    const char *tab = write_file("tab.yaml", "clusterID: a\n\tnodeName: b\n");
    agent_config_init(&c);
    assert_int_equal(agent_config_load_file(&c, tab, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:2: ", tab);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    agent_config_free(&c);

    /* an empty clusterID is no cluster id: EIPs would be tagged with none */
    assert_int_equal(load_yaml(&c, "clusterID: \"\"\nnodeName: n1\n", err, sizeof(err)), 0);
    assert_int_equal(agent_config_finish(&c, true, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "clusterID is required"));
    agent_config_free(&c);

    /* wrong type */
    assert_int_equal(load_yaml(&c, "clusterID: a\nnodeName:\n  x: 1\n", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "values.yaml:3: nodeName: expected a string, got a mapping");
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "aliyun: 5\n", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "values.yaml:1: aliyun: expected a mapping, got a scalar");
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "enableControllers: {a: b}\n", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "values.yaml:1: enableControllers: expected a list, got a mapping");
    agent_config_free(&c);

    /* bad numbers */
    assert_int_equal(load_yaml(&c,
                               "networkController:\n  eipController:\n"
                               "    maxConcurrentReconciles: lots\n",
                               err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "values.yaml:3: networkController.eipController."
                             "maxConcurrentReconciles: 'lots' is not an integer");
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "\n\naliyun:\n  qps: 0\n", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "values.yaml:4: aliyun.qps: 0 is out of range [1, 100000]");
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "kubeClientBurst: 99999999999999999999\n", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "values.yaml:1: kubeClientBurst: "));
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "kubeClientQPS: 1.5\n", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "values.yaml:1: kubeClientQPS: '1.5' is not an integer");
    agent_config_free(&c);

    /* other bad values */
    assert_int_equal(load_yaml(&c, "logLevel: loud\n", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "values.yaml:1: logLevel: 'loud' is not a log level"));
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "aliyun:\n  stsEndpoint: ftp://x\n", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "values.yaml:2: aliyun.stsEndpoint: 'ftp://x' is not an http"));
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "aliyun:\n  usePublicEndpoints: maybe\n", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "values.yaml:2: aliyun.usePublicEndpoints:"));
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "- a\n- b\n", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "values.yaml:1: the top level must be a mapping"));
    agent_config_free(&c);

    /* missing file */
    agent_config_init(&c);
    assert_int_equal(agent_config_load_file(&c, "/nonexistent/x.yaml", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "/nonexistent/x.yaml: No such file or directory");
    agent_config_free(&c);

    /* empty document and a null value are fine */
    assert_int_equal(load_yaml(&c, "", err, sizeof(err)), 0);
    agent_config_free(&c);
    assert_int_equal(load_yaml(&c, "clusterID:\nregionID: ~\n", err, sizeof(err)), 0);
    assert_null(c.cluster_id);
    agent_config_free(&c);
}

static void env_and_flag_errors(void **state)
{
    (void)state;
    struct agent_config c;
    struct agent_cli cli;
    char err[256] = "";
    const char *argv[] = {"eip-agent", NULL};
    assert_int_equal(parse_args(&cli, argv), 0);
    setenv("EIP_AGENT_CLOUD_QPS", "ten", 1);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "environment EIP_AGENT_CLOUD_QPS: 'ten' is not an integer");
    agent_config_free(&c);
    unsetenv("EIP_AGENT_CLOUD_QPS");

    const char *argv2[] = {"eip-agent", "--log-format", "xml", NULL};
    assert_int_equal(parse_args(&cli, argv2), 0);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "--log-format: 'xml' is not a log format"));
    agent_config_free(&c);

    /* unknown flag, stray argument, secret as a flag */
    const char *argv3[] = {"eip-agent", "--no-such-flag", NULL};
    assert_int_equal(parse_args(&cli, argv3), -EINVAL);
    const char *argv4[] = {"eip-agent", "stray", NULL};
    assert_int_equal(parse_args(&cli, argv4), -EINVAL);
    const char *argv5[] = {"eip-agent", "--access-key-secret", "x", NULL};
    assert_int_equal(parse_args(&cli, argv5), -EINVAL);
    const char *argv6[] = {"eip-agent", "--check-config", "-c", "/x", "--version", "--help", NULL};
    assert_int_equal(parse_args(&cli, argv6), 0);
    assert_true(cli.check_config && cli.version && cli.help);
    assert_string_equal(cli.config_file, "/x");
}

static void unknown_keys_tolerated(void **state)
{
    (void)state;
    struct agent_config c;
    char err[256] = "";
    assert_int_equal(load_yaml(&c,
                               "fooBar: 1\nclusterID: ok\ncredential:\n  unknown: x\n"
                               "nested: {deep: [1, 2]}\n",
                               err, sizeof(err)),
                     0);
    assert_string_equal(c.cluster_id, "ok");
    agent_config_free(&c);
}

static void secrets_redacted(void **state)
{
    (void)state;
    struct agent_config c;
    struct agent_cli cli;
    char err[256] = "";
    const char *path = write_file("s.yaml", "credential:\n  accessKey: AKIDVISIBLE\n"
                                            "  accessSecret: TOPSECRETVALUE\n");
    const char *argv[] = {"eip-agent", "-c", path, NULL};
    setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "STSTOKENVALUE", 1);
    setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/var/run/token", 1);
    assert_int_equal(parse_args(&cli, argv), 0);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), 0);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    assert_non_null(f);
    agent_config_dump(&c, f);
    fclose(f);
    assert_null(strstr(dump, "TOPSECRETVALUE"));
    assert_null(strstr(dump, "AKIDVISIBLE"));
    assert_null(strstr(dump, "STSTOKENVALUE"));
    assert_non_null(strstr(dump, "credential.accessSecret: (set, redacted)"));
    assert_non_null(strstr(dump, "ALIBABA_CLOUD_SECURITY_TOKEN: (set, redacted)"));
    assert_non_null(strstr(dump, "ALIBABA_CLOUD_ROLE_ARN: (unset)"));
    assert_non_null(strstr(dump, "listen: 0.0.0.0:9469"));
    assert_non_null(strstr(dump, "enableControllers: [eip]"));
    free(dump);
    agent_config_free(&c);

    /* a key without its secret is an error, and the message shows neither */
    assert_int_equal(load_yaml(&c, "credential:\n  accessKey: AKIDONLY\n", err, sizeof(err)), 0);
    assert_int_equal(agent_config_finish(&c, false, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "AKIDONLY"));
    agent_config_free(&c);
}

static void credentials_directory(void **state)
{
    (void)state;
    struct agent_config c;
    struct agent_cli cli;
    char err[256] = "";
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/creds", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file("creds/access-key-id", "AKIDFROMFILE\n");
    write_file("creds/access-key-secret", "SECRETFROMFILE\r\n");
    char path[128];
    snprintf(path, sizeof(path), "%s",
             write_file("c.yaml", "credential:\n  accessKey: filekey\n"
                                  "  accessSecret: filesecret\n"));
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    const char *argv[] = {"eip-agent", "--config", path, NULL};
    assert_int_equal(parse_args(&cli, argv), 0);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDFROMFILE");
    assert_string_equal(c.access_key_secret, "SECRETFROMFILE");
    assert_null(c.security_token); /* no security-token file */
    /* the credential source is "static" */
    assert_false(c.access_key_from_env);
    agent_config_free(&c);

    /* the environment still wins over LoadCredential files */
    setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SECRETENV", 1);
    write_file("creds/security-token", "TOKEN");
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDENV");
    assert_string_equal(c.access_key_secret, "SECRETENV");
    assert_true(c.access_key_from_env); /* the credential source is "env" */
    assert_string_equal(c.security_token, "TOKEN");
    agent_config_free(&c);
}

static void listen_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    assert_int_equal(agent_listen_parse("127.0.0.1:9469", &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(agent_listen_parse(":80", &ss), 0);
    assert_int_equal(agent_listen_parse("[::1]:0", &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(agent_listen_parse("0.0.0.0:65535", &ss), 0);
    const char *bad[] = {"",        "127.0.0.1",    "127.0.0.1:",   "127.0.0.1:65536",
                         "::1:80",  "[::1]80",      "localhost:80", "1.2.3.4:8a",
                         "[::1:80", "300.0.0.1:80", "127.0.0.1:-1", "127.0.0.1:123456",
                         "[zz]:80", "127.0.0.1: 80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (agent_listen_parse(bad[i], &ss) != -EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    }

    struct agent_config c;
    struct agent_cli cli;
    char err[256] = "";
    const char *argv[] = {"eip-agent", "--listen", "localhost:9469", NULL};
    assert_int_equal(parse_args(&cli, argv), 0);
    assert_int_equal(agent_config_load(&c, &cli, false, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "listen: 'localhost:9469' is not a valid address"));
    agent_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(host_ip_default_listen, setup, teardown),
        cmocka_unit_test_setup_teardown(precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(helm_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(yaml_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(env_and_flag_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_keys_tolerated, setup, teardown),
        cmocka_unit_test_setup_teardown(secrets_redacted, setup, teardown),
        cmocka_unit_test_setup_teardown(credentials_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(listen_addresses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
