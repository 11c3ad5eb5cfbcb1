# SPDX-License-Identifier: MIT
"""The simulated Alibaba Cloud against the API reference (issue 7): error codes and
when they come, primary-IP bindings, asynchronous tasks and their timing, bandwidth
packages, ModifyEipAddressAttribute, rate limits, fault presets, prepaid EIPs and
tags. Every verdict comes from what the simulator logged (/__sim/calls, the EIPs'
_history under /__sim/eips) or from the answers themselves; timing assertions use
the simulator's own timestamps, with generous tolerances."""
import pathlib
import re
import socket
import time

import pytest

import cloudsim
from cloudclient import ECS, Client, sim, wait_gone, wait_status

REPO = pathlib.Path(__file__).resolve().parents[3]
ERROR_KEYS = {"RequestId", "HostId", "Code", "Message", "Recommend"}


@pytest.fixture
def client(cloud):
    return Client(cloud)


def calls(cloud, action):
    return [c for c in sim(cloud, "GET", f"/__sim/calls?action={action}")["calls"]]


def sim_eip(cloud, aid):
    return [e for e in sim(cloud, "GET", "/__sim/eips")["eips"] if e["AllocationId"] == aid][0]


def assert_error(r, status, code, message=None):
    assert r.status == status and r.code == code, r
    assert set(r.body) == ERROR_KEYS, r.body
    assert r.headers["x-acs-request-id"] == r.body["RequestId"]
    assert code in r.body["Recommend"] and r.body["RequestId"] in r.body["Recommend"]
    if message is not None:
        assert r.body["Message"] == message, r.body


def bound_pair(cloud, client, node="node-1", **alloc):
    ip, eni = cloud.allocate_pod_ip(node)
    aid = client.ok("AllocateEipAddress", alloc)["AllocationId"]
    return aid, {"AllocationId": aid, "InstanceId": eni, "InstanceType": "NetworkInterface",
                 "PrivateIpAddress": ip}


# ---------------------------------------------------------------- 1. error codes
def test_defaults_are_the_real_timings_and_limits(tmp_path):
    c = cloudsim.Cloud(str(tmp_path / "d"), seed=1)
    cfg = c.public_config()
    assert (cfg["associate_delay"], cfg["unassociate_delay"], cfg["release_delay"],
            cfg["cbwp_delay"], cfg["delay_jitter"]) == (1.0, 1.0, 1.0, 1.0, 0.2)
    assert cfg["rate_window"] == 60.0
    assert {k: cfg["rate_limits"][k] for k in ("AllocateEipAddress", "AssociateEipAddress",
                                                "UnassociateEipAddress", "DescribeEipAddresses",
                                                "ReleaseEipAddress")} == {
        "AllocateEipAddress": 120, "AssociateEipAddress": 120, "UnassociateEipAddress": 120,
        "DescribeEipAddresses": 600, "ReleaseEipAddress": 600}


def test_associate_refused_by_eip_status_in_every_non_available_state(cloud, client):
    # long tasks and a clock moved forward instead of sleeping: no timing races
    cloud.configure(associate_delay=60, unassociate_delay=60, release_delay=60, delay_jitter=0)
    aid, assoc = bound_pair(cloud, client)
    _, other = bound_pair(cloud, client)
    target2 = {k: other[k] for k in ("InstanceId", "InstanceType", "PrivateIpAddress")}
    client.ok("AssociateEipAddress", dict(assoc, ClientToken="assoc-1"))
    seen = []
    for state, advance in (("Associating", 0), ("InUse", 61)):
        cloud.configure(clock_offset=advance)
        assert wait_status(client, aid, state)["Status"] == state
        for target in (assoc, dict(assoc, **target2)):  # the same target and another one
            r = client.call("AssociateEipAddress", target)
            assert_error(r, 400, "IncorrectEipStatus",
                         "Current elastic IP status does not support this operation.")
            seen.append(state)
        # a replay of the accepted request is idempotent: the first answer again
        assert client.call("AssociateEipAddress", dict(assoc, ClientToken="assoc-1")).status == 200
    client.ok("UnassociateEipAddress", assoc)
    assert_error(client.call("AssociateEipAddress", assoc), 400, "IncorrectEipStatus")
    cloud.configure(clock_offset=122)
    wait_status(client, aid, "Available")
    client.ok("ReleaseEipAddress", {"AllocationId": aid})
    assert_error(client.call("AssociateEipAddress", assoc), 400, "IncorrectEipStatus")
    log = [(c["code"], c["http_status"], c["client_token"]) for c in calls(cloud, "AssociateEipAddress")]
    assert log == [("", 200, "assoc-1"),
                   ("IncorrectEipStatus", 400, ""), ("IncorrectEipStatus", 400, ""), ("", 200, "assoc-1"),
                   ("IncorrectEipStatus", 400, ""), ("IncorrectEipStatus", 400, ""), ("", 200, "assoc-1"),
                   ("IncorrectEipStatus", 400, ""), ("IncorrectEipStatus", 400, "")]
    assert seen == ["Associating"] * 2 + ["InUse"] * 2


def test_duplicated_only_when_the_instance_already_has_an_eip(cloud, client):
    cloud.configure(associate_delay=0)
    a1, assoc = bound_pair(cloud, client)
    a2 = client.ok("AllocateEipAddress")["AllocationId"]
    client.ok("AssociateEipAddress", assoc)
    r = client.call("AssociateEipAddress", dict(assoc, AllocationId=a2))
    assert_error(r, 400, "InvalidAssociation.Duplicated", "Specified instance already is associated.")
    # once the first EIP is gone from the IP, the same request is accepted
    client.ok("UnassociateEipAddress", assoc)
    cloud.configure(unassociate_delay=0)
    wait_status(client, a1, "Available")
    client.ok("AssociateEipAddress", dict(assoc, AllocationId=a2))
    assert [c["code"] for c in calls(cloud, "AssociateEipAddress")] == [
        "", "InvalidAssociation.Duplicated", ""]


def test_every_returned_code_is_in_the_documented_table():
    """Each code the simulator can answer has its HTTP status in ERRORS and a row in
    docs/simulators.md (reference or 'not confirmed'); presets only use such codes."""
    src = (REPO / "tests" / "sim" / "cloudsim.py").read_text()
    codes = set(re.findall(r'(?:ApiError\(\s*|_region\(p, |over=)"([A-Za-z0-9_.]+)"', src))
    codes |= {p["code"] for p in cloudsim.FAULT_PRESETS.values() if "code" in p}
    assert len(codes) > 40
    doc = (REPO / "docs" / "simulators.md").read_text()
    section = doc[doc.index("## cloudsim"):]
    section = section[section.index("### Error codes"):]
    section = section[:section.index("\n### ", 1)]
    table = {}  # code -> HTTP statuses of its row
    for first, statuses in re.findall(r"^\| ((?:`[A-Za-z0-9_.]+`(?:, )?)+) \| ([0-9 /]+) \|", section, re.M):
        for code in re.findall(r"`([A-Za-z0-9_.]+)`", first):
            table[code] = {int(x) for x in statuses.split("/")}
    for code in sorted(codes):
        assert code in cloudsim.ERRORS, code
        assert code in table, f"{code} has no row in the cloudsim error table of docs/simulators.md"
    for code, statuses in sorted(table.items()):
        assert cloudsim.ERRORS[code][0] in statuses, (code, statuses)


# ---------------------------------------------------------------- 2. primary-IP bindings
def test_eni_bound_without_private_ip_is_described_with_an_empty_one(cloud, client):
    cloud.configure(associate_delay=0, unassociate_delay=0)
    ip, eni = cloud.allocate_pod_ip("virtual-1")  # a pod owning its ENI: the pod IP is primary
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    client.ok("AssociateEipAddress", {"AllocationId": aid, "InstanceId": eni,
                                      "InstanceType": "NetworkInterface"})
    e = wait_status(client, aid, "InUse")
    assert (e["InstanceId"], e["InstanceType"], e["PrivateIpAddress"]) == (eni, "NetworkInterface", "")
    # the ENI shows the EIP on its primary address
    n = client.ok("DescribeNetworkInterfaces", {"PrimaryIpAddress": ip},
                  version=ECS)["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]
    assert n["AssociatedPublicIp"]["AllocationId"] == aid
    # the primary address is taken: a second EIP on it, with or without the IP, is a duplicate
    a2 = client.ok("AllocateEipAddress")["AllocationId"]
    for extra in ({}, {"PrivateIpAddress": ip}):
        r = client.call("AssociateEipAddress", {"AllocationId": a2, "InstanceId": eni,
                                                "InstanceType": "NetworkInterface", **extra})
        assert_error(r, 400, "InvalidAssociation.Duplicated")
    # unbinding by the primary address works as by the ENI alone
    client.ok("UnassociateEipAddress", {"AllocationId": aid, "InstanceId": eni,
                                        "InstanceType": "NetworkInterface", "PrivateIpAddress": ip})
    assert wait_status(client, aid, "Available")["PrivateIpAddress"] == ""
    # with the IP given, it is shown
    client.ok("AssociateEipAddress", {"AllocationId": aid, "InstanceId": eni,
                                      "InstanceType": "NetworkInterface", "PrivateIpAddress": ip})
    assert wait_status(client, aid, "InUse")["PrivateIpAddress"] == ip


# ---------------------------------------------------------------- 3. asynchronous tasks
def _transition_delay(eip, start, end):
    hist = eip["_history"]
    t0 = [h["time"] for h in hist if h["status"] == start][-1]
    t1 = [h["time"] for h in hist if h["status"] == end][-1]
    return t1 - t0


def test_association_takes_about_a_second_with_seeded_jitter(cloud, client):
    cloud.configure(associate_delay=1.0, unassociate_delay=1.0, delay_jitter=0.2)
    pairs = [bound_pair(cloud, client, node) for node in ("node-1", "node-2") * 3]
    for _, assoc in pairs:
        client.ok("AssociateEipAddress", assoc)
    for aid, _ in pairs:
        wait_status(client, aid, "InUse", timeout=10)
    for _, assoc in pairs:
        client.ok("UnassociateEipAddress", assoc)
    for aid, _ in pairs:
        wait_status(client, aid, "Available", timeout=10)
    for action, states in (("AssociateEipAddress", ("Associating", "InUse")),
                           ("UnassociateEipAddress", ("Unassociating", "Available"))):
        log = calls(cloud, action)
        delays = [c["async_delay_s"] for c in log]
        assert len(delays) == 6 and all(0.8 <= d <= 1.2 for d in delays), delays
        assert len(set(delays)) == 6, "no per-call jitter"
        for c, (aid, _) in zip(log, pairs):
            e = sim_eip(cloud, aid)
            # the transition came when the call said it would, measured by the simulator
            assert abs(_transition_delay(e, *states) - c["async_delay_s"]) < 0.01
            t0 = [h["time"] for h in e["_history"] if h["status"] == states[0]][-1]
            assert c["timestamp"] - 0.05 <= t0 <= c["timestamp"] + c["duration_ms"] / 1000 + 0.05
    # the same seed draws the same delays
    again = [cloudsim.Cloud(str(cloud.state_dir) + f"-replay{i}", seed=cloud._seed) for i in range(2)]
    for c in again:
        c.configure(delay_jitter=0.2)
    assert [again[0]._delay("associate_delay") for _ in range(5)] == \
        [again[1]._delay("associate_delay") for _ in range(5)]


def test_release_passes_through_releasing(cloud, client):
    cloud.configure(release_delay=1.0, delay_jitter=0.2)
    aid, assoc = bound_pair(cloud, client)
    client.ok("ReleaseEipAddress", {"AllocationId": aid})
    e = client.ok("DescribeEipAddresses", {"AllocationId": aid})["EipAddresses"]["EipAddress"][0]
    assert e["Status"] == "Releasing"
    for action, params in (("ReleaseEipAddress", {"AllocationId": aid}), ("AssociateEipAddress", assoc)):
        assert_error(client.call(action, params), 400, "IncorrectEipStatus")
    wait_gone(client, aid, timeout=10)
    assert_error(client.call("ReleaseEipAddress", {"AllocationId": aid}), 404,
                 "InvalidAllocationId.NotFound")
    rel = [r for r in sim(cloud, "GET", "/__sim/eips")["released"] if r["AllocationId"] == aid][0]
    assert [h["status"] for h in rel["_history"]] == ["Releasing", "(gone)"]
    call = [c for c in calls(cloud, "ReleaseEipAddress") if c["code"] == ""][0]
    assert 0.8 <= call["async_delay_s"] <= 1.2
    assert abs(_transition_delay(rel, "Releasing", "(gone)") - call["async_delay_s"]) < 0.01
    assert [c["code"] for c in calls(cloud, "ReleaseEipAddress")] == [
        "", "IncorrectEipStatus", "InvalidAllocationId.NotFound"]


def test_bandwidth_package_binds_asynchronously_and_refuses_isp_mismatch(cloud, client):
    cloud.configure(cbwp_delay=1.0, delay_jitter=0.2)
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    p = {"BandwidthPackageId": "cbwp-sim0001", "IpInstanceId": aid}
    client.ok("AddCommonBandwidthPackageIp", p)
    pkg = {b["BandwidthPackageId"]: b for b in sim(cloud, "GET", "/__sim/eips")["bandwidthPackages"]}
    assert pkg["cbwp-sim0001"]["Status"] == "BINDING" and pkg["cbwp-sim0001"]["PublicIpAddresses"] == []
    e = client.ok("DescribeEipAddresses", {"AllocationId": aid})["EipAddresses"]["EipAddress"][0]
    assert e["BandwidthPackageId"] == ""
    # while binding: another add conflicts, a removal finds the EIP in the wrong state
    assert_error(client.call("AddCommonBandwidthPackageIp", p), 400, "TaskConflict",
                 "The operation is too frequent, TaskConflict.")
    assert_error(client.call("RemoveCommonBandwidthPackageIp", p), 400, "IncorrectStatus.Eip")
    deadline = time.time() + 10
    while client.ok("DescribeEipAddresses", {"AllocationId": aid})["EipAddresses"]["EipAddress"][0][
            "BandwidthPackageId"] != "cbwp-sim0001":
        assert time.time() < deadline, "never bound"
        time.sleep(0.05)
    pkg = {b["BandwidthPackageId"]: b for b in sim(cloud, "GET", "/__sim/eips")["bandwidthPackages"]}
    assert pkg["cbwp-sim0001"]["Status"] == "BINDED" and pkg["cbwp-sim0001"]["PublicIpAddresses"] == [aid]
    assert 0.8 <= calls(cloud, "AddCommonBandwidthPackageIp")[0]["async_delay_s"] <= 1.2
    assert_error(client.call("AddCommonBandwidthPackageIp", p), 400, "IpInstanceId.AlreadyInBandwidthPackage")
    # the line type must match the package's (BGP)
    pro = client.ok("AllocateEipAddress", {"ISP": "BGP_PRO"})["AllocationId"]
    assert_error(client.call("AddCommonBandwidthPackageIp", dict(p, IpInstanceId=pro)), 400,
                 "Mismatch.CbwpIspAndEipIsp")
    prepaid = client.ok("AllocateEipAddress", {"InstanceChargeType": "PrePaid", "Period": "1"})["AllocationId"]
    assert_error(client.call("AddCommonBandwidthPackageIp", dict(p, IpInstanceId=prepaid)), 400,
                 "IpInstanceId.ChargeType.NotSupport")
    assert_error(client.call("AddCommonBandwidthPackageIp", dict(p, IpInstanceId="eip-nope")), 404,
                 "InvalidIpInstanceId.NotFound")
    assert_error(client.call("AddCommonBandwidthPackageIp", dict(p, BandwidthPackageId="cbwp-nope")), 404,
                 "InvalidBandwidthPackageId.NotFound")
    client.ok("RemoveCommonBandwidthPackageIp", p)
    assert_error(client.call("RemoveCommonBandwidthPackageIp", p), 400, "OperationUnsupported.IpNotInCbwp")
    assert_error(client.call("RemoveCommonBandwidthPackageIp", dict(p, IpInstanceId="eip-nope")), 400,
                 "OperationUnsupported.IpNotInCbwp")
    codes = [c["code"] for c in calls(cloud, "AddCommonBandwidthPackageIp")]
    assert codes == ["", "TaskConflict", "IpInstanceId.AlreadyInBandwidthPackage", "Mismatch.CbwpIspAndEipIsp",
                     "IpInstanceId.ChargeType.NotSupport", "InvalidIpInstanceId.NotFound",
                     "InvalidBandwidthPackageId.NotFound"]


def test_modify_eip_address_attribute(cloud, client):
    aid = client.ok("AllocateEipAddress", {"InternetChargeType": "PayByTraffic"})["AllocationId"]
    client.ok("ModifyEipAddressAttribute", {"AllocationId": aid, "Name": "renamed", "Description": "about it",
                                            "Bandwidth": "200"})
    e = client.ok("DescribeEipAddresses", {"AllocationId": aid})["EipAddresses"]["EipAddress"][0]
    assert (e["Name"], e["Description"], e["Bandwidth"]) == ("renamed", "about it", "200")
    bad = [({"Bandwidth": "201"}, 'Specified value of "Bandwidth" is not supported.'),
           ({"Bandwidth": "0"}, None), ({"Name": "9lives"}, None), ({"Description": "https://x"}, None)]
    for extra, message in bad:
        assert_error(client.call("ModifyEipAddressAttribute", {"AllocationId": aid, **extra}), 400,
                     "InvalidParameter", message)
    # pay-by-bandwidth goes to 500
    bw = client.ok("AllocateEipAddress", {"InternetChargeType": "PayByBandwidth"})["AllocationId"]
    client.ok("ModifyEipAddressAttribute", {"AllocationId": bw, "Bandwidth": "500"})
    # a subscription EIP keeps its bandwidth; its name may change
    pre = client.ok("AllocateEipAddress", {"InstanceChargeType": "PrePaid", "Period": "1"})["AllocationId"]
    assert_error(client.call("ModifyEipAddressAttribute", {"AllocationId": pre, "Bandwidth": "10"}), 400,
                 "Forbidden.ChargeTypeIsPrepaid")
    client.ok("ModifyEipAddressAttribute", {"AllocationId": pre, "Name": "sub"})
    assert_error(client.call("ModifyEipAddressAttribute", {"AllocationId": "eip-nope", "Name": "x"}), 404,
                 "InvalidAllocationId.NotFound")
    cloud.configure(release_delay=60)
    client.ok("ReleaseEipAddress", {"AllocationId": bw})
    assert_error(client.call("ModifyEipAddressAttribute", {"AllocationId": bw, "Name": "late"}), 400,
                 "IncorrectEipStatus")
    assert [c["code"] for c in calls(cloud, "ModifyEipAddressAttribute")] == [
        "", "InvalidParameter", "InvalidParameter", "InvalidParameter", "InvalidParameter", "",
        "Forbidden.ChargeTypeIsPrepaid", "", "InvalidAllocationId.NotFound", "IncorrectEipStatus"]


# ---------------------------------------------------------------- 4. rate limits
def test_unassociate_limit_is_120_a_minute_with_the_real_throttling_body(cloud, client):
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    p = {"AllocationId": aid}
    for _ in range(120):  # refusals for the EIP's state count like any call
        assert client.call("UnassociateEipAddress", p).code == "IncorrectEipStatus"
    r = client.call("UnassociateEipAddress", p)
    assert_error(r, 400, "Throttling.User", "Request was denied due to user flow control.")
    assert r.body["HostId"]
    retry_ms = int(r.headers["x-acs-retry-after"])
    assert 0 < retry_ms <= 60000
    # the limit is per action: the others still answer
    assert client.call("DescribeEipAddresses").status == 200
    log = calls(cloud, "UnassociateEipAddress")
    assert [c["code"] for c in log] == ["IncorrectEipStatus"] * 120 + ["Throttling.User"]
    assert log[-1]["http_status"] == 400


def test_rate_limit_is_per_account_and_the_window_slides(cloud, client):
    cloud.configure(rate_limits={"AllocateEipAddress": 3}, rate_window=1.0)
    cred = cloud.issue_sts_credentials(3600, "test")
    sts = Client(cloud, cred["AccessKeyId"], cred["AccessKeySecret"], cred["SecurityToken"], "v3")
    for _ in range(3):
        client.ok("AllocateEipAddress")
    # another key of the same account shares the account's budget
    r = sts.call("AllocateEipAddress")
    assert_error(r, 400, "Throttling.User")
    deadline = time.time() + 5
    time.sleep(int(r.headers["x-acs-retry-after"]) / 1000)
    while sts.call("AllocateEipAddress").status != 200:
        assert time.time() < deadline, "the window never slid"
        time.sleep(0.05)
    log = calls(cloud, "AllocateEipAddress")
    ok = [c["timestamp"] for c in log if c["code"] == ""]
    # never more than 3 accepted within any 1 s
    assert all(sum(1 for t in ok if t0 <= t < t0 + 1.0) <= 3 for t0 in ok)
    assert log[3]["code"] == "Throttling.User" and log[3]["access_key_id"] == cred["AccessKeyId"]


def test_other_suites_may_raise_limits(cloud, client):
    sim(cloud, "POST", "/__sim/config", {"rate_limits": {"ReleaseEipAddress": 2}})
    aids = [client.ok("AllocateEipAddress")["AllocationId"] for _ in range(3)]
    assert [client.call("ReleaseEipAddress", {"AllocationId": a}).code for a in aids] == [
        "", "", "Throttling.User"]
    cfg = sim(cloud, "POST", "/__sim/config", {"rate_limits": {"ReleaseEipAddress": None}})
    assert cfg["rate_limits"]["ReleaseEipAddress"] is None
    assert client.call("ReleaseEipAddress", {"AllocationId": aids[2]}).status == 200


# ---------------------------------------------------------------- 5. fault presets
PRESET_CASES = [
    ("TaskConflict", "AssociateEipAddress", 400, "The eip operate too frequent, TaskConflict."),
    ("TaskConflict", "UnassociateEipAddress", 400, "The eip operate too frequent, TaskConflict."),
    ("TaskConflict", "ReleaseEipAddress", 400, "The eip operate too frequent, TaskConflict."),
    ("OperationFailed.SystemBusy", "AssociateEipAddress", 400, "Operation failed because system is busy."),
    ("OperationFailed.SystemBusy", "AllocateEipAddress", 500, "Operation failed because system is busy."),
    ("Operation.Conflict", "UnassociateEipAddress", 403, "The operation may conflicts with others."),
    ("OperationConflict", "AllocateEipAddress", 409,
     "Request was denied due to conflict with a previous request."),
    ("ServiceUnavailable", "DescribeEipAddresses", 503,
     "The request has failed due to a temporary failure of the server."),
    ("QuotaExceeded.Eip", None, 400, "Elastic IP address quota exceeded"),
    ("Throttling.User", "ReleaseEipAddress", 400, "Request was denied due to user flow control."),
]


@pytest.mark.parametrize("preset,action,status,message", PRESET_CASES,
                         ids=[f"{p}-{a}" for p, a, _, _ in PRESET_CASES])
def test_fault_preset_gives_the_real_error(cloud, client, preset, action, status, message):
    cloud.configure(associate_delay=0, unassociate_delay=0)
    aid, assoc = bound_pair(cloud, client)
    fault = {"preset": preset, "count": 2}
    if action is None:  # the preset's own action
        action = cloudsim.FAULT_PRESETS[preset]["action"]
    else:
        fault["action"] = action
    params = {"AssociateEipAddress": assoc, "UnassociateEipAddress": assoc,
              "ReleaseEipAddress": {"AllocationId": aid}, "AllocateEipAddress": {},
              "DescribeEipAddresses": {}}[action]
    if action == "UnassociateEipAddress":
        client.ok("AssociateEipAddress", assoc)
        wait_status(client, aid, "InUse")
    added = sim(cloud, "POST", "/__sim/faults", fault)["added"][0]
    assert added["action"] == action and added["preset"] == preset
    for _ in range(2):
        assert_error(client.call(action, params), status, preset, message)
    assert client.call(action, params).status == 200  # count 2: the third one goes through
    log = calls(cloud, action)[-3:]
    assert [(c["code"], c["http_status"], c["fault"]) for c in log] == [
        (preset, status, preset), (preset, status, preset), ("", 200, "")]


def test_latency_spike_and_hang_presets(cloud, client):
    sim(cloud, "POST", "/__sim/faults", {"preset": "LatencySpike", "action": "DescribeEipAddresses",
                                         "latency_ms": 400, "count": 1})
    assert client.call("DescribeEipAddresses").status == 200
    assert client.call("DescribeEipAddresses").status == 200
    d = [c["duration_ms"] for c in calls(cloud, "DescribeEipAddresses")]
    assert d[0] >= 400 and d[1] < 400
    sim(cloud, "POST", "/__sim/faults", {"preset": "Hang", "action": "AllocateEipAddress", "count": 1})
    with pytest.raises((socket.timeout, TimeoutError)):
        client.call("AllocateEipAddress", timeout=0.5)
    sim(cloud, "DELETE", "/__sim/faults")
    assert client.call("AllocateEipAddress").status == 200
    assert [c["code"] for c in calls(cloud, "AllocateEipAddress")] == ["(hang)", ""]


def test_unknown_preset_is_refused(cloud):
    with pytest.raises(Exception) as e:
        sim(cloud, "POST", "/__sim/faults", {"preset": "NoSuchThing"})
    assert "400" in str(e.value)


# ---------------------------------------------------------------- 6. prepaid, tags
def test_prepaid_release_is_forbidden(cloud, client):
    aid = client.ok("AllocateEipAddress", {"InstanceChargeType": "PrePaid", "Period": "1"})["AllocationId"]
    assert_error(client.call("ReleaseEipAddress", {"AllocationId": aid}), 400,
                 "Forbidden.ChargeTypeIsPrepaid", "It's forbidden to release a prepaid EIP")
    assert client.ok("DescribeEipAddresses", {"AllocationId": aid})["TotalCount"] == 1


def test_list_tag_resources_pages_and_needs_resource_type(cloud, client):
    ids = [client.ok("AllocateEipAddress", {"Tag.1.Key": "cluster", "Tag.1.Value": "c1",
                                            "Tag.2.Key": "pod", "Tag.2.Value": f"p{i}"})["AllocationId"]
           for i in range(7)]
    r = client.call("ListTagResources", {"ResourceId.1": ids[0]})
    assert_error(r, 400, "MissingParameter")
    assert "ResourceType" in r.body["Message"]
    rows, token, sizes = [], None, []
    while True:
        p = {"ResourceType": "EIP", "MaxResults": "5"}
        if token:
            p["NextToken"] = token
        b = client.ok("ListTagResources", p)
        sizes.append(len(b["TagResources"]["TagResource"]))
        rows += b["TagResources"]["TagResource"]
        token = b["NextToken"]
        if not token:
            break
    assert sizes == [5, 5, 4]
    assert len({(r["ResourceId"], r["TagKey"]) for r in rows}) == 14
    assert {r["ResourceId"] for r in rows} == set(ids)
    assert all(r["ResourceType"] == "EIP" for r in rows)
    # the default page holds them all; lower-case type accepted; filters narrow
    b = client.ok("ListTagResources", {"ResourceType": "eip"})
    assert len(b["TagResources"]["TagResource"]) == 14 and b["NextToken"] == ""
    b = client.ok("ListTagResources", {"ResourceType": "EIP", "Tag.1.Key": "pod", "Tag.1.Value": "p3"})
    assert [(r["ResourceId"], r["TagKey"]) for r in b["TagResources"]["TagResource"]] == [(ids[3], "pod")]
    assert_error(client.call("ListTagResources", {"ResourceType": "EIP", "MaxResults": "51"}), 400,
                 "InvalidParameter")
    assert_error(client.call("ListTagResources", {"ResourceType": "EIP", "NextToken": "garbage!"}), 400,
                 "InvalidParameter")


def test_tag_resources_validates_keys_as_documented(cloud, client):
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    base = {"ResourceType": "EIP", "ResourceId.1": aid}
    cases = [
        ({"Tag.1.Key": "aliyun-owned", "Tag.1.Value": "v"}, "InvalidTagKey"),
        ({"Tag.1.Key": "acs:thing", "Tag.1.Value": "v"}, "InvalidTagKey"),
        ({"Tag.1.Key": "x" * 129, "Tag.1.Value": "v"}, "InvalidTagKey"),
        ({"Tag.1.Key": "", "Tag.1.Value": "v"}, "InvalidTagKey"),
        ({"Tag.1.Key": "see-http://x", "Tag.1.Value": "v"}, "InvalidTagKey"),
        ({"Tag.1.Key": "k", "Tag.1.Value": "v" * 129}, "InvalidTagValue"),
        ({"Tag.1.Key": "k", "Tag.1.Value": "acs:v"}, "InvalidTagValue"),
        ({"Tag.1.Key": "k", "Tag.1.Value": "a", "Tag.2.Key": "k", "Tag.2.Value": "b"},
         "Forbidden.TagKey.Duplicated"),
        ({f"Tag.{i}.Key": f"k{i}" for i in range(1, 22)}, "SizeLimitExceeded.TagNum"),
    ]
    for tags, code in cases:
        assert_error(client.call("TagResources", dict(base, **tags)), 400, code)
    many = {f"ResourceId.{i}": aid for i in range(1, 52)}
    assert_error(client.call("TagResources", dict(base, **many, **{"Tag.1.Key": "k"})), 400,
                 "SizeLimitExceeded.ResourceId")
    # limits themselves are fine: a 128-character key, 20 tags on the EIP
    client.ok("TagResources", dict(base, **{"Tag.1.Key": "k" * 128, "Tag.1.Value": "v" * 128}))
    client.ok("TagResources", dict(base, **{f"Tag.{i}.Key": f"t{i}" for i in range(1, 20)}))
    # a 21st tag on the instance
    assert_error(client.call("TagResources", dict(base, **{"Tag.1.Key": "one-more"})), 400,
                 "QuotaExceeded.TagNum", "Custom Tags quota exceeded")
    # tags on allocation are held to the same rules
    assert_error(client.call("AllocateEipAddress", {"Tag.1.Key": "aliyun:x"}), 400, "InvalidTagKey")
    tags = client.ok("DescribeEipAddresses", {"AllocationId": aid})["EipAddresses"]["EipAddress"][0]["Tags"]
    assert len(tags["Tag"]) == 20
    codes = [c["code"] for c in calls(cloud, "TagResources")]
    assert codes == [c for _, c in cases] + ["SizeLimitExceeded.ResourceId", "", "", "QuotaExceeded.TagNum"]


# ---------------------------------------------------------------- what the agent relies on
def test_describe_up_to_50_ids_with_tag_filters_and_idempotent_tagged_allocation(cloud, client):
    cloud.configure(eip_quota=60, rate_limits={"AllocateEipAddress": None})
    ids = []
    for i in range(52):
        p = {"ClientToken": f"pod-{i}", "Tag.1.Key": "eip-agent/cluster", "Tag.1.Value": "c1",
             "Tag.2.Key": "eip-agent/node", "Tag.2.Value": "node-1" if i % 2 else "node-2"}
        ids.append(client.ok("AllocateEipAddress", p)["AllocationId"])
    # the same ClientToken and request: the same EIP, nothing new
    again = client.ok("AllocateEipAddress", {"ClientToken": "pod-0", "Tag.1.Key": "eip-agent/cluster",
                                             "Tag.1.Value": "c1", "Tag.2.Key": "eip-agent/node",
                                             "Tag.2.Value": "node-2"})
    assert again["AllocationId"] == ids[0] and len(cloud.eips_snapshot()) == 52
    b = client.ok("DescribeEipAddresses", {"AllocationId": ",".join(ids[:50]), "PageSize": "100",
                                           "Tag.1.Key": "eip-agent/node", "Tag.1.Value": "node-1"})
    assert b["TotalCount"] == 25 and {e["AllocationId"] for e in b["EipAddresses"]["EipAddress"]} == set(ids[1:50:2])
    assert_error(client.call("DescribeEipAddresses", {"AllocationId": ",".join(ids[:51])}), 400, "InvalidParameter")

