# SPDX-License-Identifier: MIT
"""The C aliyun/ client (build/drivers/aliyun_cli) against the simulator's
documented errors (issue 7): transient codes from fault presets and rate limits are
retried with backoff until the operation converges; state refusals
(IncorrectEipStatus) are decided by a DescribeEipAddresses. The simulator's call
log (/__sim/calls) is the verdict."""
import time

import pytest


def api_calls(sim, *actions):
    return [c for c in sim.calls_snapshot() if c["action"] and (not actions or c["action"] in actions)]


def codes(sim, action):
    return [c["code"] for c in api_calls(sim, action)]


def wait_eip(sim, aid, status, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        e = [x for x in sim.eips_snapshot() if x["AllocationId"] == aid]
        if e and e[0]["Status"] == status:
            return e[0]
        assert time.monotonic() < deadline, f"{aid} never {status}: {e}"
        time.sleep(0.05)


def allocate(cli, name="e"):
    rc, out, err = cli.run("allocate", name)
    assert rc == 0, (out, err)
    return out["AllocationId"]


def test_every_transient_preset_is_retried_and_the_lifecycle_converges(cli, sim):
    """Each documented transient code, injected through /__sim/faults presets on the
    action that documents it, is retried with backoff and the same ClientToken."""
    ip, eni = sim.allocate_pod_ip("node-1")
    faults = [
        {"preset": "OperationFailed.SystemBusy", "action": "AllocateEipAddress", "count": 1},
        {"preset": "OperationConflict", "action": "AllocateEipAddress", "count": 1},
        {"preset": "Throttling.User", "action": "TagResources", "count": 1},
        {"preset": "TaskConflict", "action": "AssociateEipAddress", "count": 2},
        {"preset": "ServiceUnavailable", "action": "DescribeEipAddresses", "count": 1},
        {"preset": "Operation.Conflict", "action": "UnassociateEipAddress", "count": 1},
        {"preset": "TaskConflict", "action": "UnassociateEipAddress", "count": 1},
        {"preset": "TaskConflict", "action": "ReleaseEipAddress", "count": 2},
        {"preset": "OperationFailed.SystemBusy", "action": "ReleaseEipAddress", "count": 1},
    ]
    for f in faults:
        sim.add_fault(f)
    rc, out, err = cli.run("lifecycle", eni, ip, env=cli.static_env(ALIYUN_CLI_MAX_ATTEMPTS=8))
    assert rc == 0, (out, err)
    assert codes(sim, "AllocateEipAddress") == ["OperationFailed.SystemBusy", "OperationConflict", ""]
    assert codes(sim, "TagResources") == ["Throttling.User", ""]
    assert codes(sim, "AssociateEipAddress") == ["TaskConflict", "TaskConflict", ""]
    assert codes(sim, "DescribeEipAddresses")[0] == "ServiceUnavailable"
    assert codes(sim, "UnassociateEipAddress") == ["Operation.Conflict", "TaskConflict", ""]
    assert codes(sim, "ReleaseEipAddress") == ["TaskConflict", "TaskConflict",
                                               "OperationFailed.SystemBusy", ""]
    # the real statuses came back (500 for Allocate's SystemBusy, 409, 403, 503)
    status = {(c["action"], c["code"]): c["http_status"] for c in api_calls(sim)}
    assert status[("AllocateEipAddress", "OperationFailed.SystemBusy")] == 500
    assert status[("AllocateEipAddress", "OperationConflict")] == 409
    assert status[("UnassociateEipAddress", "Operation.Conflict")] == 403
    assert status[("ReleaseEipAddress", "OperationFailed.SystemBusy")] == 400
    assert status[("DescribeEipAddresses", "ServiceUnavailable")] == 503
    for action in ("AllocateEipAddress", "AssociateEipAddress", "UnassociateEipAddress"):
        tokens = {c["client_token"] for c in api_calls(sim, action)}
        assert len(tokens) == 1 and tokens != {""}, (action, tokens)
    attempts = {s["step"]: s["attempts"] for s in out["steps"]}
    assert (attempts["allocate"], attempts["associate"], attempts["unassociate"],
            attempts["release"]) == (3, 3, 3, 4)
    # backoff: the retries were spread out, not sent back to back
    rel = [c["timestamp"] for c in api_calls(sim, "ReleaseEipAddress")]
    assert rel[-1] - rel[0] >= 0.02
    assert sim.eips_snapshot() == []


def test_real_timings_converge(cli, sim):
    """With the default ~1 s jittered association and release, the lifecycle ends
    with every EIP gone and the association observed in between."""
    sim.configure(associate_delay=1.0, unassociate_delay=1.0, release_delay=1.0, delay_jitter=0.2)
    ip, eni = sim.allocate_pod_ip("node-1")
    rc, out, err = cli.run("lifecycle", eni, ip)
    assert rc == 0, (out, err)
    steps = {s["step"]: s for s in out["steps"]}
    assert steps["wait-inuse"]["eip"]["Status"] == "InUse" and steps["wait-inuse"]["polls"] >= 2
    assoc = api_calls(sim, "AssociateEipAddress")[0]
    assert 0.8 <= assoc["async_delay_s"] <= 1.2
    # released: Releasing first, gone after its delay (the simulator's own record)
    deadline = time.monotonic() + 5
    while sim.eips_snapshot():
        assert time.monotonic() < deadline, sim.eips_snapshot()
        time.sleep(0.05)
    assert [h["status"] for h in sim.released[-1]["_history"]][-2:] == ["Releasing", "(gone)"]


def test_rate_limited_actions_are_paced_by_the_retry_after(cli, sim):
    """The documented per-action limit (scaled to a 1 s window): every call ends
    well, throttled attempts were retried after x-acs-retry-after, and no window
    held more accepted calls than the limit."""
    sim.configure(rate_limits={"DescribeEipAddresses": 4}, rate_window=1.0)
    rc, out, err = cli.run("burst", "12", env=cli.static_env(EIP_AGENT_CLOUD_QPS=50,
                                                             ALIYUN_CLI_MAX_ATTEMPTS=10))
    assert rc == 0, (out, err)
    assert all(r["status"] == 0 for r in out["results"])
    calls = api_calls(sim, "DescribeEipAddresses")
    throttled = [c for c in calls if c["code"] == "Throttling.User"]
    assert throttled, "never throttled: the test proves nothing"
    assert all(c["http_status"] == 400 for c in throttled)
    ok = sorted(c["timestamp"] for c in calls if c["code"] == "")
    assert len(ok) == 12
    assert all(sum(1 for t in ok if t0 <= t < t0 + 1.0) <= 4 for t0 in ok)
    assert out["stats"]["throttled"] == len(throttled)


# ---------------------------------------------------------------- state refusals
def test_associate_refusal_on_the_same_target_is_done(cli, sim):
    ip, eni = sim.allocate_pod_ip("node-1")
    aid = allocate(cli)
    assert cli.run("associate", aid, eni, ip)[0] == 0
    # a second association (another ClientToken) of the EIP that is Associating/InUse
    # here: refused for its status, looked at, done
    rc, out, err = cli.run("associate", aid, eni, ip)
    assert rc == 0 and out["result"]["class"] == "done", (out, err)
    assert out["result"]["code"] == "IncorrectEipStatus"
    assert [(c["action"], c["code"]) for c in api_calls(sim, "AssociateEipAddress", "DescribeEipAddresses")] == [
        ("AssociateEipAddress", ""), ("AssociateEipAddress", "IncorrectEipStatus"), ("DescribeEipAddresses", "")]
    # the same ClientToken replays the first answer: no refusal, no look
    sim.clear_calls()
    env = cli.static_env(ALIYUN_CLI_CLIENT_TOKEN="assoc-token-1")
    aid2 = allocate(cli, "second")
    ip2, _ = sim.allocate_pod_ip("node-1")
    for _ in range(2):
        rc, out, _ = cli.run("associate", aid2, eni, ip2, env=env)
        assert rc == 0 and out["result"]["class"] == "ok"
    assert codes(sim, "AssociateEipAddress") == ["", ""]
    assert codes(sim, "DescribeEipAddresses") == []


def test_associate_refusal_elsewhere(cli, sim):
    sim.configure(associate_delay=60, delay_jitter=0)
    ip, eni = sim.allocate_pod_ip("node-1")
    ip2, eni2 = sim.allocate_pod_ip("node-1")
    aid = allocate(cli)
    assert cli.run("associate", aid, eni, ip)[0] == 0
    # Associating on another IP: busy, retryable
    rc, out, _ = cli.run("associate", aid, eni, ip2)
    assert rc == 1 and out["result"]["class"] == "retryable" and out["result"]["status"] == -11
    assert out["result"]["code"] == "IncorrectEipStatus"
    sim.configure(clock_offset=61)
    wait_eip(sim, aid, "InUse")
    # InUse elsewhere: fatal, with the refusal and the state seen
    rc, out, _ = cli.run("associate", aid, eni, ip2)
    assert rc == 1 and out["result"]["class"] == "fatal" and out["result"]["status"] == -5
    assert out["result"]["code"] == "IncorrectEipStatus" and "InUse" in out["result"]["message"]
    assert codes(sim, "AssociateEipAddress") == ["", "IncorrectEipStatus", "IncorrectEipStatus"]
    assert len(api_calls(sim, "DescribeEipAddresses")) == 2


def test_release_refusal_is_decided_by_the_state(cli, sim):
    sim.configure(associate_delay=0, unassociate_delay=0)
    ip, eni = sim.allocate_pod_ip("node-1")
    aid = allocate(cli)
    assert cli.run("associate", aid, eni, ip)[0] == 0
    wait_eip(sim, aid, "InUse")
    # bound: reported, not retried; the caller unassociates first
    rc, out, _ = cli.run("release", aid)
    assert rc == 1 and out["result"]["class"] == "fatal" and out["result"]["status"] == -16
    assert out["result"]["code"] == "IncorrectEipStatus" and "InUse" in out["result"]["message"]
    assert [(c["action"], c["code"]) for c in api_calls(sim, "ReleaseEipAddress", "DescribeEipAddresses")][-2:] == [
        ("ReleaseEipAddress", "IncorrectEipStatus"), ("DescribeEipAddresses", "")]
    assert cli.run("unassociate", aid, eni, ip)[0] == 0
    wait_eip(sim, aid, "Available")
    # Releasing (a release already under way): done
    sim.configure(release_delay=60, delay_jitter=0)
    assert cli.run("release", aid)[0] == 0
    rc, out, _ = cli.run("release", aid)
    assert rc == 0 and out["result"]["class"] == "done" and out["result"]["code"] == "IncorrectEipStatus"
    assert codes(sim, "ReleaseEipAddress") == ["IncorrectEipStatus", "", "IncorrectEipStatus"]
    sim.configure(clock_offset=61)
    assert sim.eips_snapshot() == []


def test_prepaid_release_is_fatal_at_once(cli, sim):
    with sim.lock:
        aid = sim.act_allocate({"RegionId": sim.region, "InstanceChargeType": "PrePaid",
                                "Period": "1"})["AllocationId"]
    rc, out, _ = cli.run("release", aid)
    assert rc == 1 and out["result"]["class"] == "fatal" and out["result"]["attempts"] == 1
    assert out["result"]["code"] == "Forbidden.ChargeTypeIsPrepaid"
    assert codes(sim, "ReleaseEipAddress") == ["Forbidden.ChargeTypeIsPrepaid"]
    assert codes(sim, "DescribeEipAddresses") == []


@pytest.mark.parametrize("with_ip", [False, True])
def test_pod_owning_its_eni(cli, sim, with_ip):
    """A virtual-node pod owns its ENI: associate with or without PrivateIpAddress;
    unassociation (and its verification) works both ways."""
    sim.configure(associate_delay=0, unassociate_delay=0)
    ip, eni = sim.allocate_pod_ip("virtual-1")
    aid = allocate(cli)
    rc, out, err = cli.run("associate", aid, eni, ip if with_ip else "")
    assert rc == 0, (out, err)
    e = wait_eip(sim, aid, "InUse")
    assert e["InstanceId"] == eni and e["PrivateIpAddress"] == (ip if with_ip else "")
    assert "PrivateIpAddress" not in api_calls(sim, "AssociateEipAddress")[0]["params"] or with_ip
    # a second association to the same ENI: refused for status, done by the look
    rc, out, _ = cli.run("associate", aid, eni, ip if with_ip else "")
    assert rc == 0 and out["result"]["class"] == "done"
    # unassociate naming the pod IP, twice: the second finds it Available (done)
    assert cli.run("unassociate", aid, eni, ip)[0] == 0
    wait_eip(sim, aid, "Available")
    rc, out, _ = cli.run("unassociate", aid, eni, ip)
    assert rc == 0 and out["result"]["class"] == "done"
    assert codes(sim, "UnassociateEipAddress") == ["", "IncorrectEipStatus"]
