# SPDX-License-Identifier: MIT
"""--check-config against the simulated cluster and cloud: every dependency
check passes with the environment simcluster writes for a node, each one fails
with a clear line when its credentials are wrong, and no secret is printed."""
import json
import re
import ssl
import subprocess
import urllib.request

import pytest

from agenttest import clean_env

SIMCLUSTER_TIMEOUT = 60


@pytest.fixture
def simcluster(repo, tmp_path):
    d = tmp_path / "sim"
    d.mkdir()
    proc = subprocess.Popen(["/usr/bin/python3", str(repo / "tests/sim/simcluster"), "up",
                             "--dir", str(d), "--nodes", "1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=open(d / "simcluster.err", "w"), text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        pytest.fail("simcluster did not start: " + (d / "simcluster.err").read_text())
    env = {}
    for raw in (d / "nodes" / "node-1" / "agent.env").read_text().splitlines():
        if raw and not raw.startswith("#"):
            k, _, v = raw.partition("=")
            env[k] = v
    yield d, env
    proc.terminate()
    proc.wait(timeout=SIMCLUSTER_TIMEOUT)


def check(agent_bin, env):
    env = dict(env, EIP_AGENT_LISTEN="127.0.0.1:0")
    p = subprocess.run([str(agent_bin), "--check-config"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=clean_env(env), timeout=60)
    assert "ERROR: AddressSanitizer" not in p.stderr
    return p


def cloud_calls(env):
    """Every call the simulated cloud logged (its /__sim/calls)."""
    ctx = ssl.create_default_context(cafile=env["EIP_AGENT_CLOUD_CA_FILE"])
    with urllib.request.urlopen(env["EIP_AGENT_VPC_ENDPOINT"] + "/__sim/calls", context=ctx) as r:
        body = json.load(r)
    return body if isinstance(body, list) else body.get("calls", [])


def test_all_checks_pass_on_the_simulated_node(agent_bin, simcluster):
    _, env = simcluster
    p = check(agent_bin, env)
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    assert re.search(r"^ok   listen: ", out, re.M), out
    assert re.search(r"^ok   aliyun: .*env", out, re.M), out
    assert re.search(r"^ok   kubernetes: .*; PodEIPs can be listed$", out, re.M), out
    assert env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] not in out + p.stderr
    # The cloud saw exactly what the check promises: a signed, verified
    # DescribeEipAddresses with PageSize=1.
    described = [c for c in cloud_calls(env) if c.get("action") == "DescribeEipAddresses"]
    assert described, "the cloud never saw DescribeEipAddresses"
    assert all(c.get("signature_verified") for c in described)
    assert str(described[-1]["params"].get("PageSize")) == "1"


def test_wrong_secret_fails_the_cloud_check_only(agent_bin, simcluster):
    _, env = simcluster
    env = dict(env, ALIBABA_CLOUD_ACCESS_KEY_SECRET="not-the-secret-0123")
    p = check(agent_bin, env)
    assert p.returncode == 1, p.stdout
    assert re.search(r"^FAIL aliyun: .*SignatureDoesNotMatch", p.stdout, re.M), p.stdout
    assert re.search(r"^ok   kubernetes: ", p.stdout, re.M), p.stdout
    assert "not-the-secret-0123" not in p.stdout + p.stderr


def test_wrong_token_fails_the_kubernetes_check_only(agent_bin, simcluster, tmp_path):
    d, env = simcluster
    kc = (d / "agent.kubeconfig").read_text()
    bad = tmp_path / "bad.kubeconfig"
    # Whatever the token's form (inline or tokenFile), point it at a wrong one.
    token_file = tmp_path / "bad-token"
    token_file.write_text("definitely-not-a-valid-token\n")
    lines = []
    for line in kc.splitlines():
        stripped = line.strip()
        if stripped.startswith("token:") or stripped.startswith("tokenFile:"):
            indent = line[:len(line) - len(line.lstrip())]
            line = f"{indent}tokenFile: {token_file}"
        lines.append(line)
    bad.write_text("\n".join(lines) + "\n")
    env = dict(env, KUBECONFIG=str(bad))
    p = check(agent_bin, env)
    assert p.returncode == 1, p.stdout
    assert re.search(r"^FAIL kubernetes: .*[Uu]nauthorized", p.stdout, re.M), p.stdout
    assert re.search(r"^ok   aliyun: ", p.stdout, re.M), p.stdout
    assert "definitely-not-a-valid-token" not in p.stdout + p.stderr


def test_missing_podeip_crd_fails_the_kubernetes_check(agent_bin, simcluster):
    """A pod is Ready only once its PodEIP is written: without the CRD no pod
    would be, so the check says so (and where the CRD is)."""
    d, env = simcluster
    kubectl = ["kubectl", "--kubeconfig", str(d / "kubeconfig"), "--cache-dir", str(d / "kc")]
    subprocess.run(kubectl + ["delete", "crd", "podeips.alibabacloud.com", "--wait=true",
                              "--timeout=30s"], check=True, capture_output=True, timeout=60)
    p = check(agent_bin, env)
    assert p.returncode == 1, p.stdout
    assert re.search(r"^FAIL kubernetes: LIST /apis/alibabacloud.com/v1beta1/podeips: not found: "
                     r"the PodEIP CRD .*daemonset/podeip-crd.yaml", p.stdout, re.M), p.stdout
    assert re.search(r"^ok   aliyun: ", p.stdout, re.M), p.stdout
