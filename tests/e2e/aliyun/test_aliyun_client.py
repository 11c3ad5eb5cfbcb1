# SPDX-License-Identifier: MIT
"""The C aliyun/ layer (through build/drivers/aliyun_cli) against the simulated
cloud: what the simulator saw is the verdict."""
import json
import ssl
import subprocess
import time
import urllib.request

import pytest

ACCESS_KEY_SECRET = "simSecret0001"


def sim_get(sim, path):
    ctx = ssl.create_default_context(cafile=sim.ca_file)
    with urllib.request.urlopen(f"https://127.0.0.1:{sim.port}{path}", context=ctx) as r:
        return json.loads(r.read())


def sim_post(sim, path, body):
    ctx = ssl.create_default_context(cafile=sim.ca_file)
    req = urllib.request.Request(f"https://127.0.0.1:{sim.port}{path}", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read())

LIFECYCLE = ["AllocateEipAddress", "TagResources", "AssociateEipAddress",
             "UnassociateEipAddress", "ReleaseEipAddress"]


def pod_ip(sim):
    ip, eni = sim.allocate_pod_ip("node-1")
    return ip, eni


def api_calls(sim, action=None):
    calls = [c for c in sim.calls_snapshot() if c["action"]]
    if action:
        calls = [c for c in calls if c["action"] == action]
    return calls


@pytest.mark.parametrize("style", ["v3", "rpc"])
def test_lifecycle_both_signatures(cli, sim, style):
    ip, eni = pod_ip(sim)
    rc, out, err = cli.run("lifecycle", eni, ip,
                           env=cli.static_env(EIP_AGENT_SIGNATURE_VERSION=style))
    assert rc == 0, (out, err)
    steps = [s["step"] for s in out["steps"]]
    assert steps == ["allocate", "tag", "associate", "wait-inuse", "unassociate",
                     "wait-available", "release"]
    inuse = out["steps"][3]["eip"]
    assert inuse["Status"] == "InUse"
    assert inuse["InstanceId"] == eni and inuse["PrivateIpAddress"] == ip
    assert inuse["InstanceType"] == "NetworkInterface"
    assert inuse["Bandwidth"] == "5"
    assert inuse["Tags"] == {"eip-agent/test": "lifecycle", "eip-agent/node": "cli"}
    calls = api_calls(sim)
    assert [c["action"] for c in calls if c["action"] != "DescribeEipAddresses"] == LIFECYCLE
    for c in calls:
        assert c["style"] == style
        assert c["signature_verified"], c
        assert c["http_status"] == 200, c
    alloc = api_calls(sim, "AllocateEipAddress")[0]
    assert alloc["client_token"] and alloc["params"]["InternetChargeType"] == "PayByTraffic"
    assoc = api_calls(sim, "AssociateEipAddress")[0]["params"]
    assert assoc["InstanceType"] == "NetworkInterface" and assoc["PrivateIpAddress"] == ip
    # nothing leaked
    assert sim.eips_snapshot() == []


def test_faults_are_retried_until_success(cli, sim):
    ip, eni = pod_ip(sim)
    sim.add_fault({"action": "AllocateEipAddress", "code": "Throttling.User", "count": 2})
    sim.add_fault({"action": "AssociateEipAddress", "code": "ServiceUnavailable",
                   "http_status": 503, "count": 1})
    sim.add_fault({"action": "AssociateEipAddress", "code": "TaskConflict", "count": 1})
    sim.add_fault({"action": "TagResources", "http_status": 500, "code": "InternalError",
                   "count": 1})
    sim.add_fault({"action": "UnassociateEipAddress", "reset": True, "count": 1})
    sim.add_fault({"action": "DescribeEipAddresses", "latency_ms": 300, "count": 2})
    sim.add_fault({"action": "ReleaseEipAddress", "code": "SystemBusy", "count": 1})
    rc, out, err = cli.run("lifecycle", eni, ip)
    assert rc == 0, (out, err)
    attempts = {s["step"]: s["attempts"] for s in out["steps"]}
    assert attempts["allocate"] == 3
    assert attempts["associate"] == 3
    assert attempts["tag"] == 2
    # a reset on a reused connection may be resent by libcurl itself before any
    # byte came back: either way the simulator saw the reset and then a success
    assert attempts["unassociate"] in (1, 2)
    assert [c["code"] for c in api_calls(sim, "UnassociateEipAddress")] == ["(reset)", ""]
    assert attempts["release"] == 2
    allocs = api_calls(sim, "AllocateEipAddress")
    assert [c["code"] for c in allocs] == ["Throttling.User", "Throttling.User", ""]
    # one logical operation: the same ClientToken on every attempt
    assert len({c["client_token"] for c in allocs}) == 1 and allocs[0]["client_token"]
    assocs = api_calls(sim, "AssociateEipAddress")
    assert [c["code"] for c in assocs] == ["ServiceUnavailable", "TaskConflict", ""]
    assert len({c["client_token"] for c in assocs}) == 1
    assert sim.eips_snapshot() == []


def test_release_during_transition_is_reported_then_succeeds(cli, sim):
    """IncorrectEipStatus while the EIP is still Unassociating: the client looks
    (DescribeEipAddresses), reports it retryable, and a later release goes through."""
    sim.configure(associate_delay=0.0, unassociate_delay=60.0, delay_jitter=0)
    ip, eni = pod_ip(sim)
    rc, out, _ = cli.run("allocate", "transit")
    assert rc == 0
    aid = out["AllocationId"]
    assert cli.run("associate", aid, eni, ip)[0] == 0
    assert cli.run("unassociate", aid, eni, ip)[0] == 0
    rc, out, err = cli.run("release", aid)
    assert rc == 1, (out, err)
    assert out["result"]["class"] == "retryable" and out["result"]["status"] == -11
    assert out["result"]["code"] == "IncorrectEipStatus" and "Unassociating" in out["result"]["message"]
    seq = [(c["action"], c["code"]) for c in api_calls(sim)
           if c["action"] in ("ReleaseEipAddress", "DescribeEipAddresses")]
    assert seq == [("ReleaseEipAddress", "IncorrectEipStatus"), ("DescribeEipAddresses", "")]
    sim.configure(clock_offset=61)  # the disassociation finishes
    rc, out, err = cli.run("release", aid)
    assert rc == 0 and out["result"]["class"] == "ok", (out, err)
    assert sim.eips_snapshot() == []


def test_cleanup_of_missing_eip_is_done(cli, sim):
    rc, out, _ = cli.run("release", "eip-doesnotexist")
    assert rc == 0
    assert out["result"]["class"] == "done"
    assert out["result"]["code"] == "InvalidAllocationId.NotFound"
    assert len(api_calls(sim, "ReleaseEipAddress")) == 1


def test_fatal_errors_are_called_once(cli, sim):
    sim.configure(eip_quota=0)
    rc, out, _ = cli.run("allocate", "quota")
    assert rc == 1
    assert out["result"]["code"] == "QuotaExceeded.Eip"
    assert out["result"]["class"] == "fatal" and out["result"]["attempts"] == 1
    assert len(api_calls(sim, "AllocateEipAddress")) == 1

    sim.configure(eip_quota=20)
    sim.clear_calls()
    rc, out, _ = cli.run("allocate", "1-starts-with-a-digit")  # Name must start with a letter
    assert rc == 1
    assert out["result"]["code"] == "InvalidParameter"
    assert len(api_calls(sim, "AllocateEipAddress")) == 1

    sim.clear_calls()
    sim.add_fault({"action": "DescribeEipAddresses", "code": "Forbidden.RAM", "count": 5})
    rc, out, _ = cli.run("describe")
    assert rc == 1 and out["result"]["code"] == "Forbidden.RAM"
    assert len(api_calls(sim, "DescribeEipAddresses")) == 1

    sim.clear_calls()
    sim.clear_faults()
    env = cli.static_env(ALIYUN_CLI_ACCESS_KEY_SECRET="wrong-secret")
    rc, out, err = cli.run("describe", env=env)
    assert rc == 1 and out["result"]["code"] == "SignatureDoesNotMatch"
    assert len(api_calls(sim, "DescribeEipAddresses")) == 1
    # the server's echo of the string it signed never reaches our output
    assert "string to sign" not in out["result"]["message"].lower()


def test_idempotent_parameter_mismatch_is_fatal(cli, sim):
    env = cli.static_env(ALIYUN_CLI_CLIENT_TOKEN="fixed-token-1")
    assert cli.run("allocate", "first", env=env)[0] == 0
    rc, out, _ = cli.run("allocate", "second", env=env)
    assert rc == 1 and out["result"]["code"] == "IdempotentParameterMismatch"
    assert out["result"]["attempts"] == 1
    # the same request again returns the same EIP (a retry after a crash)
    rc, again, _ = cli.run("allocate", "first", env=env)
    assert rc == 0 and again["AllocationId"] == sim.eips_snapshot()[0]["AllocationId"]
    assert len(sim.eips_snapshot()) == 1


def test_invalid_security_token_refreshes_once_then_fatal(cli, sim):
    cred = sim.issue_sts_credentials(3600, "test")
    env = cli.static_env(ALIYUN_CLI_ACCESS_KEY_ID=cred["AccessKeyId"],
                         ALIYUN_CLI_ACCESS_KEY_SECRET=cred["AccessKeySecret"],
                         ALIYUN_CLI_SECURITY_TOKEN="CAISnotTheRightToken")
    rc, out, _ = cli.run("describe", env=env)
    assert rc == 1
    assert out["result"]["code"].startswith("InvalidSecurityToken")
    assert len(api_calls(sim, "DescribeEipAddresses")) == 2


def test_throttled_calls_retry_within_configured_qps(cli, sim):
    sim.configure(qps={"DescribeEipAddresses": 5})
    qps = 8
    rc, out, err = cli.run("burst", "24", env=cli.static_env(EIP_AGENT_CLOUD_QPS=qps))
    assert rc == 0, (out, err)
    assert all(r["status"] == 0 for r in out["results"])
    calls = api_calls(sim, "DescribeEipAddresses")
    throttled = [c for c in calls if c["code"] == "Throttling.User"]
    assert throttled, "the simulator never throttled: the test proves nothing"
    assert len(calls) == 24 + len(throttled)
    assert out["stats"]["throttled"] == len(throttled)
    # token bucket (rate qps, burst qps): no 1 s window holds more than 2*qps attempts
    ts = sorted(c["timestamp"] for c in calls)
    for i, t0 in enumerate(ts):
        in_window = sum(1 for t in ts[i:] if t < t0 + 1.0)
        assert in_window <= 2 * qps + 1, (i, in_window)
    # and steady state is paced: the last 16 attempts span at least (16-1)/qps s
    tail = ts[-16:]
    assert tail[-1] - tail[0] >= (16 - 1) / qps - 0.1


def test_every_call_signature_verified_via_admin_api(cli, sim):
    ip, eni = pod_ip(sim)
    assert cli.run("lifecycle", eni, ip)[0] == 0
    assert cli.run("enis", ip)[0] == 0
    calls = [c for c in sim_get(sim, "/__sim/calls")["calls"] if c["action"]]
    assert calls and all(c["signature_verified"] for c in calls)
    assert {c["product"] for c in calls} == {"Vpc", "Ecs"}


def test_describe_network_interfaces_on_virtual_node(cli, sim):
    ip, eni = sim.allocate_pod_ip("virtual-1")
    rc, out, err = cli.run("enis", ip)
    assert rc == 0 and out["eni"] == eni, (out, err)
    # an ECI pod's IP is its ENI's primary address: found by PrimaryIpAddress
    p = api_calls(sim, "DescribeNetworkInterfaces")[0]["params"]
    assert p["PrimaryIpAddress"] == ip and p["RegionId"] == "cn-hangzhou"
    # a secondary IP on an ECS node's ENI is found by PrivateIpAddress.N
    sim.clear_calls()
    ip2, eni2 = sim.allocate_pod_ip("node-1")
    rc, out, err = cli.run("enis", ip2)
    assert rc == 0 and out["eni"] == eni2, (out, err)
    calls = api_calls(sim, "DescribeNetworkInterfaces")
    assert [sorted(k for k in c["params"] if "Ip" in k) for c in calls] == [
        ["PrimaryIpAddress"], ["PrivateIpAddress.1"]]
    rc, out, _ = cli.run("enis", "127.0.99.99")
    assert rc == 1 and out["result"]["status"] == -2


def test_describe_pages_through_everything(cli, sim):
    for i in range(7):
        assert cli.run("allocate", f"page{i}")[0] == 0
    sim.clear_calls()
    rc, out, _ = cli.run("describe", env=cli.static_env(ALIYUN_CLI_PAGE_SIZE=3))
    assert rc == 0 and len(out["eips"]) == 7 and out["total"] == 7
    pages = [c["params"]["PageNumber"] for c in api_calls(sim, "DescribeEipAddresses")]
    assert pages == ["1", "2", "3"]
    ids = [e["AllocationId"] for e in out["eips"][:2]]
    rc, out, _ = cli.run("describe", *ids)
    assert rc == 0 and sorted(e["AllocationId"] for e in out["eips"]) == sorted(ids)


@pytest.mark.parametrize("hardened", [False, True])
def test_metadata_eni_lookup_and_cache_invalidation(cli, sim, hardened):
    sim.configure(metadata_hardened_required=hardened)
    ip1, eni = pod_ip(sim)
    # the simulator hands out pod IPs in order: the next one is predictable
    ip2 = ip1.rsplit(".", 1)[0] + "." + str(int(ip1.rsplit(".", 1)[1]) + 1)
    p = subprocess.Popen([str(cli.path), "metadata-eni", ip1, "wait:400", ip2, "198.18.0.1"],
                         env=cli.static_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert json.loads(p.stdout.readline()) == {"waiting": True}
    # ip1 filled the cache; ip2 appears on the ENI while the driver waits, so its
    # lookup misses the cache and must list the ENIs again
    new_ip, new_eni = sim.allocate_pod_ip("node-1")
    assert new_ip == ip2
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1, err  # the last address is nobody's
    res = json.loads(out.splitlines()[-1])["results"]
    assert res[0]["error"] == 0 and res[0]["eni"] == eni
    assert res[1]["error"] == 0 and res[1]["eni"] == new_eni
    assert res[2]["error"] == -2  # -ENOENT
    assert "debug" not in err


def test_rrsa_credentials_work_and_refresh(cli, sim, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(sim.make_oidc_token())
    oidc = sim.config["oidc"]
    env = dict(cli.base_env,
               ALIBABA_CLOUD_ROLE_ARN=oidc["role_arns"][0],
               ALIBABA_CLOUD_OIDC_PROVIDER_ARN=oidc["provider_arn"],
               ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(token_file),
               ALIYUN_CLI_DURATION_SECONDS="900",
               # 900 s credentials refreshed 898.8 s early: every 1.2 s
               ALIYUN_CLI_REFRESH_BEFORE_MS="898800",
               ALIYUN_CLI_MIN_REFRESH_MS="100",
               EIP_AGENT_LOG_LEVEL="debug")
    rc, out, err = cli.run("creds", "3500", env=env)
    assert rc == 0, (out, err)
    assert out["source"] == "rrsa"
    assert out["calls_failed"] == 0 and out["calls_ok"] >= 5
    assert out["refreshes"] >= 3
    sts = api_calls(sim, "AssumeRoleWithOIDC")
    assert len(sts) == out["refreshes"]
    assert all(c["style"].endswith("anonymous") and c["code"] == "" for c in sts)
    assert sts[0]["params"]["RoleSessionName"] == "eip-agent"
    assert sts[0]["params"]["DurationSeconds"] == "900"
    keys = {c["access_key_id"] for c in api_calls(sim, "DescribeEipAddresses")}
    assert len(keys) >= 2 and all(k.startswith("STS.") for k in keys)
    # no secret on stderr, debug logging on
    assert "debug" in err
    secrets = [token_file.read_text()]
    for cred in sim.sts_keys.values():
        secrets += [cred["AccessKeySecret"], cred["SecurityToken"]]
    for s in secrets:
        assert s not in err and s not in str(out)


def test_ecs_ram_role_credentials_work_and_refresh(cli, sim):
    sim.configure(ram_credential_lifetime=200, ram_credential_rotate_before=199,
                  metadata_hardened_required=True)
    env = dict(cli.base_env,
               ALIYUN_CLI_REFRESH_BEFORE_MS="198800",
               ALIYUN_CLI_MIN_REFRESH_MS="100",
               EIP_AGENT_LOG_LEVEL="debug")
    rc, out, err = cli.run("creds", "3500", env=env)
    assert rc == 0, (out, err)
    assert out["source"] == "ecs-ram-role:EipAgentSimRole"
    assert out["calls_failed"] == 0
    assert out["refreshes"] >= 2
    keys = {c["access_key_id"] for c in api_calls(sim, "DescribeEipAddresses")}
    assert len(keys) >= 2
    for cred in sim.sts_keys.values():
        assert cred["AccessKeySecret"] not in err and cred["SecurityToken"] not in err


def test_no_secret_in_debug_output(cli, sim):
    ip, eni = pod_ip(sim)
    env = cli.static_env(EIP_AGENT_LOG_LEVEL="debug")
    rc, out, err = cli.run("lifecycle", eni, ip, env=env)
    assert rc == 0
    assert "debug" in err
    assert ACCESS_KEY_SECRET not in err and ACCESS_KEY_SECRET not in str(out)
    rc, out, err = cli.run("check", env=env)
    assert rc == 0 and out["ok"]
    assert "credentials from static" in out["detail"]
    assert "metadata ok" in out["detail"]
    assert ACCESS_KEY_SECRET not in out["detail"] and ACCESS_KEY_SECRET not in err


def test_check_fails_clearly(cli, sim):
    env = cli.static_env(ALIYUN_CLI_ACCESS_KEY_ID="LTAIunknownKey")
    rc, out, _ = cli.run("check", env=env)
    assert rc == 1 and not out["ok"]
    assert "InvalidAccessKeyId.NotFound" in out["detail"]
    assert "credentials from static" in out["detail"]
    assert len(api_calls(sim, "DescribeEipAddresses")) == 1


def test_creds_source_env(cli, sim):
    env = dict(cli.base_env, ALIBABA_CLOUD_ACCESS_KEY_ID="LTAIsimAccessKey0001",
               ALIBABA_CLOUD_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET)
    rc, out, _ = cli.run("creds", env=env)
    assert rc == 0 and out["source"] == "env"
    assert ACCESS_KEY_SECRET not in str(out)


def test_bandwidth_package_add_remove_via_faults_admin(cli, sim):
    """Faults injected through the admin API (POST /__sim/faults) behave the same."""
    sim_post(sim, "/__sim/faults", {"action": "DescribeEipAddresses",
                                    "code": "Throttling.User", "count": 1})
    rc, out, _ = cli.run("describe")
    assert rc == 0 and out["result"]["attempts"] == 2


def test_hung_request_times_out_and_is_retried(cli, sim):
    sim.add_fault({"action": "DescribeEipAddresses", "hang": True, "count": 1})
    env = cli.static_env(EIP_AGENT_CLOUD_TIMEOUT_SECONDS=1)
    rc, out, err = cli.run("describe", env=env)
    assert rc == 0, (out, err)
    assert out["result"]["attempts"] == 2
    codes = [c["code"] for c in api_calls(sim, "DescribeEipAddresses")]
    assert codes == ["(hang)", ""]


def test_fault_injected_quota_is_not_retried_even_as_5xx(cli, sim):
    sim.add_fault({"action": "AllocateEipAddress", "code": "QuotaExceeded.Eip",
                   "http_status": 503, "count": 3})
    rc, out, _ = cli.run("allocate", "q")
    assert rc == 1 and out["result"]["attempts"] == 1
    assert len(api_calls(sim, "AllocateEipAddress")) == 1


def test_unassociate_refusal_is_checked_before_calling_it_done(cli, sim):
    """IncorrectEipStatus means 'not bound' or 'still Associating': the client looks."""
    sim.configure(associate_delay=1.5, unassociate_delay=0.0)
    ip, eni = pod_ip(sim)
    rc, out, _ = cli.run("allocate", "verify")
    aid = out["AllocationId"]
    assert cli.run("associate", aid, eni, ip)[0] == 0
    # still Associating: not done, retryable
    rc, out, _ = cli.run("unassociate", aid, eni, ip)
    assert rc == 1
    assert out["result"]["class"] == "retryable" and out["result"]["status"] == -11
    assert out["result"]["code"] == "IncorrectEipStatus"
    seq = [(c["action"], c["code"]) for c in api_calls(sim)
           if c["action"] in ("UnassociateEipAddress", "DescribeEipAddresses")]
    assert seq == [("UnassociateEipAddress", "IncorrectEipStatus"), ("DescribeEipAddresses", "")]
    # once InUse it really unbinds; then a second unassociate finds it Available: done
    deadline = time.monotonic() + 10
    while sim.eips_snapshot()[0]["Status"] != "InUse":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rc, out, _ = cli.run("unassociate", aid, eni, ip)
    assert rc == 0 and out["result"]["class"] == "ok"
    rc, out, _ = cli.run("unassociate", aid, eni, ip)
    assert rc == 0 and out["result"]["class"] == "done"
    assert out["result"]["code"] == "IncorrectEipStatus"
    # bound to nobody: the same
    rc, out, _ = cli.run("unassociate", "eip-gone", eni, ip)
    assert rc == 0 and out["result"]["class"] == "done"


def _agent_check_env(sim, **extra):
    url = f"https://127.0.0.1:{sim.port}"
    env = {"PATH": "/usr/bin:/bin", "EIP_AGENT_VPC_ENDPOINT": url, "EIP_AGENT_ECS_ENDPOINT": url,
           "EIP_AGENT_STS_ENDPOINT": url, "EIP_AGENT_CLOUD_CA_FILE": sim.ca_file,
           "EIP_AGENT_METADATA_ENDPOINT": f"http://127.0.0.1:{sim.metadata_ports['node-1']}"}
    env.update(extra)
    return env


@pytest.mark.parametrize("case", ["env", "bad-secret", "ecs-ram-role"])
def test_agent_check_aliyun(driver, sim, case):
    """agent/check_aliyun.c (the --check-config probe) with the agent's own config."""
    extra = {}
    if case != "ecs-ram-role":
        extra = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIsimAccessKey0001",
                 "ALIBABA_CLOUD_ACCESS_KEY_SECRET":
                     ACCESS_KEY_SECRET if case == "env" else "not-the-secret"}
    p = subprocess.run([str(driver("aliyun_agent_check"))], env=_agent_check_env(sim, **extra),
                       capture_output=True, text=True, timeout=60)
    line = p.stdout.strip()
    assert ACCESS_KEY_SECRET not in line and "not-the-secret" not in line + p.stderr
    if case == "bad-secret":
        assert p.returncode == 1 and line.startswith("FAIL aliyun: credentials from env;")
        assert "SignatureDoesNotMatch" in line
        assert len(api_calls(sim, "DescribeEipAddresses")) == 1
        return
    assert p.returncode == 0, (line, p.stderr)
    source = "env" if case == "env" else "ecs-ram-role:EipAgentSimRole"
    assert line.startswith(f"ok   aliyun: credentials from {source};")
    # the region came from the instance metadata (regionID is not configured)
    assert "metadata ok (region-id cn-hangzhou)" in line
    calls = api_calls(sim, "DescribeEipAddresses")
    assert len(calls) == 1 and calls[0]["params"]["PageSize"] == "1"
    assert calls[0]["signature_verified"]


@pytest.mark.parametrize("style", ["v3", "rpc"])
def test_encoding_edge_cases_are_signed_like_the_server(cli, sim, style):
    """UTF-8, '*', '~', '+', '/', '=', '&' and spaces in values: the server's own
    canonicalisation must agree with ours, or the signature would not verify."""
    name = "测试-eip_1.x"
    desc = "a*b ~c+d/e=f&g %20 ü"
    env = cli.static_env(EIP_AGENT_SIGNATURE_VERSION=style, ALIYUN_CLI_DESCRIPTION=desc)
    rc, out, err = cli.run("allocate", name, env=env)
    assert rc == 0, (out, err)
    call = api_calls(sim, "AllocateEipAddress")[0]
    assert call["signature_verified"] and call["params"]["Name"] == name
    assert call["params"]["Description"] == desc
    rc, out, _ = cli.run("describe", env=env)
    assert out["eips"][0]["Name"] == name and out["eips"][0]["Description"] == desc
