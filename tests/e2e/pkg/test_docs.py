# SPDX-License-Identifier: MIT
"""The README's reference keeps up with the code: every flag of `eip-agent
--help`, every key, variable and flag of the configuration table
(agent/config.c), every metric, annotation and route the agent registers."""
import re
import subprocess

from pkgtest import REPO

README = (REPO / "README.md").read_text()
CONFIG_DOC = (REPO / "docs" / "configuration.md").read_text()


def section(title):
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert m, f"README has no section '{title}'"
    return m.group(1)


def config_keys():
    """(yaml, alias, env, flag) of every row of agent/config.c's key table."""
    src = (REPO / "agent" / "config.c").read_text()
    table = src[src.index("static const struct key keys[] = {"):]
    table = table[:table.index("};")]
    s = r'(NULL|"[^"]*")'
    rows = re.findall(rf"\{{\s*{s},\s*{s},\s*{s},\s*{s},\s*K_", table)
    assert len(rows) > 30, rows
    return [tuple(None if v == "NULL" else v.strip('"') for v in r) for r in rows]


def test_every_flag_of_help_is_in_the_reference(agent_bin):
    out = subprocess.run([str(agent_bin), "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+|-[a-zA-Z])\b", out.stdout))
    assert {"--config", "--check-config", "--node-name", "--listen", "-h", "-V"} <= flags, flags
    ref = section("Configuration reference")
    missing = [f for f in sorted(flags) if f"`{f}" not in ref and f"{f} " not in ref
               and f", {f}" not in ref]
    assert not missing, f"flags of --help missing from the README's reference: {missing}"


def test_every_key_variable_and_flag_is_documented():
    ref = section("Configuration reference")
    missing = []
    for yaml_key, alias, env, flag in config_keys():
        for what in (yaml_key, alias, env):
            if what and f"`{what}`" not in ref:
                missing.append(("README", what))
            if what and f"`{what}`" not in CONFIG_DOC:
                missing.append(("docs/configuration.md", what))
        if flag and f"`--{flag}`" not in ref:
            missing.append(("README", f"--{flag}"))
    for var in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC",
                "KUBERNETES_SERVICE_HOST"):
        if f"`{var}`" not in ref:
            missing.append(("README", var))
    assert not missing, missing


def test_every_metric_is_in_the_readme():
    names = set()
    for f in (REPO / "agent").glob("*.c"):
        names |= set(re.findall(r'"((?:eip_agent|process)_[a-z0-9_]+)"', f.read_text()))
    assert {"eip_agent_pods", "eip_agent_k8s_requests_total", "process_open_fds"} <= names
    metrics = section("Metrics")
    missing = sorted(n for n in names if f"`{n}`" not in metrics)
    assert not missing, missing


def test_every_annotation_is_in_the_readme():
    src = (REPO / "agent" / "annotations.c").read_text()
    table = src[src.index("static const struct annot_row rows[] = {"):]
    table = table[:table.index("};")]
    rows = re.findall(r'\{\s*"([a-z-]+)",\s*(NULL|"[a-z-]+")', table)
    assert len(rows) >= 14, rows
    ann = section("Pod annotations")
    missing = []
    for name, legacy in rows:
        if f"`{name}`" not in ann:
            missing.append(name)
        if legacy != "NULL" and legacy.strip('"') not in ann:
            missing.append(legacy)
    assert not missing, missing


def test_every_route_is_in_the_readme():
    routes = set()
    for f in (REPO / "agent").glob("*.c"):
        routes |= set(re.findall(r'http_server_route\(\s*[a-z>\-]+,\s*"([^"]+)"', f.read_text()))
    assert {"/", "/healthz", "/v1/pods"} <= routes, routes
    api = section("HTTP API")
    norm = lambda r: r.replace("{ns}", "{namespace}")  # noqa: E731
    missing = sorted(r for r in routes if f"`GET {norm(r)}`" not in api
                     and f"`GET {norm(r)}[" not in api)
    assert not missing, missing
