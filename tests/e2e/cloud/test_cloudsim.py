# SPDX-License-Identifier: MIT
"""Tests of the simulated Alibaba Cloud (tests/sim/cloudsim.py).

The client (cloudclient.py) is a small signer written independently of the
simulator's verifier (tests/sim/cloudsim_sign.py): both are checked against the
published vectors in tests/unit/aliyun/testdata, and the simulator is then driven
over HTTPS by this client."""
import hashlib
import http.client
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import xml.sax.saxutils

import pytest

import cloudsim
import cloudsim_sign
from cloudclient import (AK, ECS, REPO, SK, STS, VPC, Client, enc, load_vectors, md_get,  # noqa: F401
                         rpc_sig, rpc_sts, sim, utcnow, v3_canonical, v3_sig, wait_gone,
                         wait_status)


@pytest.fixture
def client(cloud):
    return Client(cloud)


@pytest.fixture
def v3(cloud):
    return Client(cloud, style="v3")


# ---------------------------------------------------------------- published vectors
def test_rpc_vectors_both_signers():
    for v in load_vectors()["rpc_v1_hmac_sha1"]:
        ours = rpc_sts(v["method"], v["params"])
        theirs = cloudsim_sign.rpc_string_to_sign(v["method"], v["params"])
        assert ours == theirs == v["string_to_sign"], v["source"]
        assert rpc_sig(v["secret"], ours) == v["signature"]
        assert cloudsim_sign.rpc_sign(v["secret"], theirs) == v["signature"]


def test_v3_vectors_both_signers():
    for v in load_vectors()["v3_acs3_hmac_sha256"]:
        headers = dict(v["headers"], host=v["host"])
        signed = v["signed_headers"].split(";")
        h = v["headers"]["x-acs-content-sha256"]
        assert h == hashlib.sha256(v["body"].encode()).hexdigest()
        ours = v3_canonical(v["method"], v["path"], v["query"], headers, signed, h)
        theirs = cloudsim_sign.v3_canonical_request(v["method"], v["path"], v["query"], headers, signed, h)
        assert ours == theirs
        assert hashlib.sha256(ours.encode()).hexdigest() == v["hashed_canonical_request"]
        assert v3_sig(v["secret"], ours)[1] == v["signature"]
        assert cloudsim_sign.v3_sign(v["secret"], cloudsim_sign.v3_string_to_sign(theirs)) == v["signature"]


def test_server_verifies_published_rpc_request(cloud):
    """The documented DescribeRegions request, replayed at its own time, passes the
    simulator's verifier (the action itself is not simulated: 404, XML as asked)."""
    v = load_vectors()["rpc_v1_hmac_sha1"][0]
    cloud.access_keys["testid"] = v["secret"]
    cloud.configure(clock_offset=cloudsim.parse_iso(v["params"]["Timestamp"]) - time.time())
    q = dict(v["params"], Signature=v["signature"])
    c = Client(cloud)
    r = c._send("GET", "/?" + "&".join(enc(k) + "=" + enc(x) for k, x in q.items()), {}, b"", 5)
    assert r.status == 404 and b"<Code>InvalidAction.NotFound</Code>" in r.raw, r
    call = cloud.calls_snapshot()[-1]
    assert call["signature_verified"] is True and call["access_key_id"] == "testid"
    # one bit off: rejected, and the server shows its string to sign
    q["Signature"] = v["signature"].replace("O", "P", 1)
    r = c._send("GET", "/?" + "&".join(enc(k) + "=" + enc(x) for k, x in q.items()), {}, b"", 5)
    assert r.status == 400 and b"SignatureDoesNotMatch" in r.raw
    assert v["string_to_sign"] in xml.sax.saxutils.unescape(r.raw.decode())


def test_server_verifies_published_v3_request(cloud):
    v = load_vectors()["v3_acs3_hmac_sha256"][0]
    cloud.access_keys[v["access_key_id"]] = v["secret"]
    cloud.configure(clock_offset=cloudsim.parse_iso(v["headers"]["x-acs-date"]) - time.time())
    headers = dict(v["headers"], host=v["host"])
    headers["authorization"] = (f"ACS3-HMAC-SHA256 Credential={v['access_key_id']},"
                                f"SignedHeaders={v['signed_headers']},Signature={v['signature']}")
    path = "/?" + "&".join(enc(k) + "=" + enc(x) for k, x in v["query"].items())
    c = Client(cloud)
    conn = c.conn()
    conn.putrequest(v["method"], path, skip_host=True, skip_accept_encoding=True)
    for k, x in headers.items():
        conn.putheader(k, x)
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 404 and body["Code"] == "InvalidAction.NotFound", body
    assert cloud.calls_snapshot()[-1]["signature_verified"] is True


# ---------------------------------------------------------------- authentication
@pytest.mark.parametrize("style", ["rpc", "v3"])
def test_signature_mismatch_shows_string_to_sign(cloud, style):
    c = Client(cloud, style=style)
    r = c.call("DescribeEipAddresses", tamper=True)
    assert r.status == 400 and r.code == "SignatureDoesNotMatch", r
    assert set(r.body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert r.body["Message"].split("server string to sign is:", 1)[1] == c.last_sts
    assert cloud.calls_snapshot()[-1]["signature_verified"] is False


@pytest.mark.parametrize("style", ["rpc", "v3"])
def test_nonce_replay(cloud, style):
    c = Client(cloud, style=style)
    ts = utcnow()
    assert c.call("DescribeEipAddresses", nonce="n-1", timestamp=ts).status == 200
    r = c.call("DescribeEipAddresses", nonce="n-1", timestamp=ts)
    assert r.status == 400 and r.code == "SignatureNonceUsed", r


@pytest.mark.parametrize("style", ["rpc", "v3"])
def test_timestamp_skew(cloud, style):
    c = Client(cloud, style=style)
    assert c.call("DescribeEipAddresses", timestamp=utcnow(-14 * 60)).status == 200
    for skew in (-16 * 60, 16 * 60):
        r = c.call("DescribeEipAddresses", timestamp=utcnow(skew))
        assert r.status == 400 and r.code == "InvalidTimeStamp.Expired", r
    r = c.call("DescribeEipAddresses", timestamp="yesterday")
    assert r.status == 400 and r.code == "InvalidTimeStamp.Format"


@pytest.mark.parametrize("style", ["rpc", "v3"])
def test_unknown_access_key(cloud, style):
    r = Client(cloud, akid="LTAInobody", secret="x", style=style).call("DescribeEipAddresses")
    assert r.status == 404 and r.code == "InvalidAccessKeyId.NotFound", r


def test_missing_and_invalid_parameters(client):
    r = client.call("AssociateEipAddress", {"InstanceId": "eni-x"})
    assert r.status == 400 and r.code == "MissingParameter" and "AllocationId" in r.body["Message"]
    r = client.call("DescribeEipAddresses", {"PageSize": "101"})
    assert r.status == 400 and r.code == "InvalidParameter"
    r = client.call("AllocateEipAddress", {"InternetChargeType": "Free"})
    assert r.status == 400 and r.code == "InvalidParameter"
    r = client.call("DescribeEipAddresses", region=False)
    assert r.status == 400 and r.code == "MissingParameter"
    r = client.call("DescribeEipAddresses", {"RegionId": "us-nowhere-1"})
    assert r.status == 404 and r.code == "Forbidden.RegionNotFound"
    r = client.call("NoSuchAction")
    assert r.status == 404 and r.code == "InvalidAction.NotFound"


def test_rpc_xml_format(cloud, client, rng):
    q = {"Action": "DescribeEipAddresses", "Version": VPC, "AccessKeyId": AK, "RegionId": "cn-hangzhou",
         "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": "%032x" % rng.getrandbits(128),
         "Timestamp": utcnow()}
    q["Signature"] = rpc_sig(SK, rpc_sts("GET", q))
    r = client._send("GET", "/?" + "&".join(enc(k) + "=" + enc(v) for k, v in q.items()), {}, b"", 5)
    assert r.status == 200 and r.raw.startswith(b"<?xml")
    assert b"<DescribeEipAddressesResponse><RequestId>" in r.raw and b"<TotalCount>0</TotalCount>" in r.raw


# ---------------------------------------------------------------- EIP lifecycle
@pytest.mark.parametrize("style", ["rpc", "v3"])
def test_full_lifecycle(cloud, style):
    c = Client(cloud, style=style)
    ip, eni = cloud.allocate_pod_ip("node-1")
    a = c.ok("AllocateEipAddress", {"Bandwidth": "5", "InternetChargeType": "PayByTraffic",
                                     "InstanceChargeType": "PostPaid", "ISP": "BGP", "Name": "pod-a",
                                     "Description": "test", "Tag.1.Key": "cluster", "Tag.1.Value": "c1"})
    assert set(a) == {"RequestId", "AllocationId", "EipAddress", "ResourceGroupId"}
    aid = a["AllocationId"]
    assert a["EipAddress"].startswith("203.0.113.")
    c.ok("AssociateEipAddress", {"AllocationId": aid, "InstanceId": eni,
                                 "InstanceType": "NetworkInterface", "PrivateIpAddress": ip})
    e = c.ok("DescribeEipAddresses", {"AllocationId": aid})["EipAddresses"]["EipAddress"][0]
    assert e["Status"] == "Associating"
    e = wait_status(c, aid, "InUse")
    assert (e["InstanceId"], e["InstanceType"], e["PrivateIpAddress"]) == (eni, "NetworkInterface", ip)
    assert e["Bandwidth"] == "5" and isinstance(e["Bandwidth"], str)
    assert e["InternetChargeType"] == "PayByTraffic" and e["ChargeType"] == "PostPaid"
    assert e["Name"] == "pod-a" and e["Descritpion"] == e["Description"] == "test"
    assert e["Tags"]["Tag"] == [{"Key": "cluster", "Value": "c1"}]
    # the ENI shows the public IP on the pod's private IP
    n = c.ok("DescribeNetworkInterfaces", {"PrivateIpAddress.1": ip},
             version=ECS)["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]
    s = [x for x in n["PrivateIpSets"]["PrivateIpSet"] if x["PrivateIpAddress"] == ip][0]
    assert s["AssociatedPublicIp"]["PublicIpAddress"] == a["EipAddress"]
    c.ok("UnassociateEipAddress", {"AllocationId": aid, "InstanceId": eni,
                                   "InstanceType": "NetworkInterface", "PrivateIpAddress": ip})
    assert wait_status(c, aid, "Available")["InstanceId"] == ""
    c.ok("ReleaseEipAddress", {"AllocationId": aid})
    b = c.ok("DescribeEipAddresses", {"AllocationId": aid})
    assert b["TotalCount"] == 0 and b["EipAddresses"]["EipAddress"] == []
    r = c.call("ReleaseEipAddress", {"AllocationId": aid})
    assert r.status == 404 and r.code == "InvalidAllocationId.NotFound"


def test_associate_ecs_instance_uses_primary_ip(cloud, client):
    node = cloud._node_info("node-2")
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    client.ok("AssociateEipAddress", {"AllocationId": aid, "InstanceId": node["instance_id"]})
    e = wait_status(client, aid, "InUse")
    assert e["InstanceType"] == "EcsInstance" and e["PrivateIpAddress"] == node["private_ip"]


def test_mid_transition_conflicts(cloud, client):
    # long delays, and the clock moved forward instead of sleeping: no timing races
    cloud.configure(associate_delay=60, unassociate_delay=60, delay_jitter=0)
    ip, eni = cloud.allocate_pod_ip("node-1")
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    assoc = {"AllocationId": aid, "InstanceId": eni, "InstanceType": "NetworkInterface",
             "PrivateIpAddress": ip}
    client.ok("AssociateEipAddress", assoc)
    for action, params in (("UnassociateEipAddress", assoc), ("ReleaseEipAddress", {"AllocationId": aid}),
                           ("AssociateEipAddress", assoc)):
        r = client.call(action, params)
        assert r.status == 400 and r.code == "IncorrectEipStatus", (action, r)
    cloud.configure(clock_offset=61)
    wait_status(client, aid, "InUse")
    r = client.call("ReleaseEipAddress", {"AllocationId": aid})
    assert r.status == 400 and r.code == "IncorrectEipStatus"
    client.ok("UnassociateEipAddress", assoc)
    # a second disassociation while the first task runs: TaskConflict (UnassociateEipAddress
    # error table); other operations in Unassociating stay IncorrectEipStatus
    r = client.call("UnassociateEipAddress", assoc)
    assert r.status == 400 and r.code == "TaskConflict", r
    for action, params in (("ReleaseEipAddress", {"AllocationId": aid}), ("AssociateEipAddress", assoc)):
        r = client.call(action, params)
        assert r.status == 400 and r.code == "IncorrectEipStatus", (action, r)
    cloud.configure(clock_offset=122)
    wait_status(client, aid, "Available")
    client.ok("ReleaseEipAddress", {"AllocationId": aid})


def test_duplicate_association_and_wrong_ip(cloud, client):
    cloud.configure(associate_delay=0)
    ip, eni = cloud.allocate_pod_ip("node-1")
    other_ip, _ = cloud.allocate_pod_ip("node-2")
    a1 = client.ok("AllocateEipAddress")["AllocationId"]
    a2 = client.ok("AllocateEipAddress")["AllocationId"]
    tgt = {"InstanceId": eni, "InstanceType": "NetworkInterface", "PrivateIpAddress": ip}
    client.ok("AssociateEipAddress", {"AllocationId": a1, **tgt})
    # the same EIP again: its own status refuses it (InUse is not Available)
    r = client.call("AssociateEipAddress", {"AllocationId": a1, **tgt})
    assert r.status == 400 and r.code == "IncorrectEipStatus", r
    # another EIP on the same target: the instance already has one
    r = client.call("AssociateEipAddress", {"AllocationId": a2, **tgt})
    assert r.status == 400 and r.code == "InvalidAssociation.Duplicated", r
    r = client.call("AssociateEipAddress", {"AllocationId": a2, **tgt, "PrivateIpAddress": other_ip})
    assert r.status == 400 and r.code == "InvalidParameter" and other_ip in r.body["Message"], r
    primary = cloud._node_info("node-1")["eni_id"]
    r = client.call("AssociateEipAddress", {"AllocationId": a2, "InstanceId": primary,
                                            "InstanceType": "NetworkInterface"})
    assert r.status == 400 and r.code == "InvalidParameter" and "primary ENI" in r.body["Message"], r
    r = client.call("AssociateEipAddress", {"AllocationId": a2, **tgt, "InstanceId": "eni-nope"})
    assert r.status == 404 and r.code == "InvalidInstanId.NotFound", r
    r = client.call("AssociateEipAddress", {"AllocationId": "eip-nope", **tgt})
    assert r.status == 404 and r.code == "InvalidAllocationId.NotFound", r
    r = client.call("UnassociateEipAddress", {"AllocationId": a1, **tgt, "PrivateIpAddress": other_ip})
    assert r.status == 400 and r.code == "InvalidBindingStatus", r
    r = client.call("UnassociateEipAddress", {"AllocationId": a1, **tgt, "InstanceId": "eni-nope"})
    assert r.status == 400 and r.code == "InvalidInstanceId.NotFound", r
    client.ok("UnassociateEipAddress", {"AllocationId": a1})  # InstanceId is optional


def test_quota(cloud, client):
    cloud.configure(eip_quota=2, release_delay=0)
    ids = [client.ok("AllocateEipAddress")["AllocationId"] for _ in range(2)]
    r = client.call("AllocateEipAddress")
    assert r.status == 400 and r.code == "QuotaExceeded.Eip", r
    client.ok("ReleaseEipAddress", {"AllocationId": ids[0]})
    client.ok("AllocateEipAddress")


def test_quota_counts_releasing(cloud, client):
    cloud.configure(eip_quota=1, release_delay=0.4)
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    client.ok("ReleaseEipAddress", {"AllocationId": aid})
    assert client.ok("DescribeEipAddresses")["EipAddresses"]["EipAddress"][0]["Status"] == "Releasing"
    assert client.call("AllocateEipAddress").code == "QuotaExceeded.Eip"
    wait_gone(client, aid)
    client.ok("AllocateEipAddress")


def test_client_token_idempotency(cloud, client):
    p = {"Bandwidth": "5", "ClientToken": "pod-uid-1"}
    a = client.ok("AllocateEipAddress", p)
    b = client.ok("AllocateEipAddress", p, style="v3")
    assert (a["AllocationId"], a["EipAddress"]) == (b["AllocationId"], b["EipAddress"])
    assert len(cloud.eips_snapshot()) == 1
    r = client.call("AllocateEipAddress", {"Bandwidth": "6", "ClientToken": "pod-uid-1"})
    assert r.status == 400 and r.code == "IdempotentParameterMismatch", r
    ip, eni = cloud.allocate_pod_ip("node-1")
    assoc = {"AllocationId": a["AllocationId"], "InstanceId": eni, "InstanceType": "NetworkInterface",
             "PrivateIpAddress": ip, "ClientToken": "assoc-1"}
    client.ok("AssociateEipAddress", assoc)
    client.ok("AssociateEipAddress", assoc)  # a retry is not a duplicate association
    assert cloud.calls_snapshot()[-1]["client_token"] == "assoc-1"


def test_tags_filters_and_paging(cloud, client):
    ids = []
    for i in range(7):
        ids.append(client.ok("AllocateEipAddress", {"Tag.1.Key": "cluster",
                                                     "Tag.1.Value": "a" if i % 2 else "b"})["AllocationId"])
    client.ok("TagResources", {"ResourceType": "EIP", "ResourceId.1": ids[0], "ResourceId.2": ids[1],
                               "Tag.1.Key": "pod", "Tag.1.Value": "p0"})
    b = client.ok("DescribeEipAddresses", {"Tag.1.Key": "cluster", "Tag.1.Value": "a"})
    assert b["TotalCount"] == 3
    b = client.ok("DescribeEipAddresses", {"Tag.1.Key": "cluster", "Tag.1.Value": "b",
                                           "Tag.2.Key": "pod", "Tag.2.Value": "p0"})
    assert [e["AllocationId"] for e in b["EipAddresses"]["EipAddress"]] == [ids[0]]
    seen = []
    for page in (1, 2, 3, 4):
        b = client.ok("DescribeEipAddresses", {"PageNumber": str(page), "PageSize": "2"})
        assert (b["TotalCount"], b["PageNumber"], b["PageSize"]) == (7, page, 2)
        assert isinstance(b["TotalCount"], int)
        seen += [e["AllocationId"] for e in b["EipAddresses"]["EipAddress"]]
    assert seen == ids
    b = client.ok("DescribeEipAddresses", {"AllocationId": ",".join(ids[:3])})
    assert b["TotalCount"] == 3
    r = client.call("DescribeEipAddresses", {"AllocationId": ",".join(["eip-x%d" % i for i in range(51)])})
    assert r.code == "InvalidParameter"
    r = client.call("TagResources", {"ResourceType": "EIP", "ResourceId.1": "eip-nope",
                                     "Tag.1.Key": "k", "Tag.1.Value": "v"})
    assert r.status == 404 and r.code == "InvalidResourceId.NotFound"


def test_bandwidth_package(cloud, client):
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    p = {"BandwidthPackageId": "cbwp-sim0001", "IpInstanceId": aid}
    client.ok("AddCommonBandwidthPackageIp", p)
    e = client.ok("DescribeEipAddresses", {"AllocationId": aid})["EipAddresses"]["EipAddress"][0]
    assert e["BandwidthPackageId"] == "cbwp-sim0001" and e["BandwidthPackageType"] == "CommonBandwidthPackage"
    client.ok("RemoveCommonBandwidthPackageIp", p)
    r = client.call("RemoveCommonBandwidthPackageIp", p)
    assert r.code == "OperationUnsupported.IpNotInCbwp"
    r = client.call("AddCommonBandwidthPackageIp", dict(p, BandwidthPackageId="cbwp-nope"))
    assert r.status == 404 and r.code == "InvalidBandwidthPackageId.NotFound"


# ---------------------------------------------------------------- throttling and faults
def test_throttling_retry_after(cloud, client):
    cloud.configure(qps={"DescribeEipAddresses": 2})
    assert client.call("DescribeEipAddresses").status == 200
    assert client.call("DescribeEipAddresses").status == 200
    r = client.call("DescribeEipAddresses")
    assert r.status == 400 and r.code == "Throttling.User", r
    wait_ms = int(r.headers["x-acs-retry-after"])
    assert 0 < wait_ms <= 1000
    assert client.call("AllocateEipAddress").status == 200  # other actions have their own limit
    time.sleep(wait_ms / 1000 + 0.02)
    assert client.call("DescribeEipAddresses").status == 200


def test_fault_error_count(cloud, client):
    sim(cloud, "POST", "/__sim/faults", {"action": "AllocateEipAddress", "code": "ServiceUnavailable",
                                         "http_status": 503, "count": 2})
    for _ in range(2):
        r = client.call("AllocateEipAddress")
        assert r.status == 503 and r.code == "ServiceUnavailable", r
    assert client.call("DescribeEipAddresses").status == 200
    assert client.call("AllocateEipAddress").status == 200


def test_fault_error_rate(cloud, client):
    sim(cloud, "POST", "/__sim/faults", {"action": "*", "error_rate": 0.5, "code": "InternalError",
                                         "http_status": 500})
    codes = [client.call("DescribeEipAddresses").status for _ in range(30)]
    assert 3 < codes.count(500) < 27 and codes.count(200) + codes.count(500) == 30
    sim(cloud, "DELETE", "/__sim/faults")
    assert all(client.call("DescribeEipAddresses").status == 200 for _ in range(5))


def test_fault_latency(cloud, client):
    sim(cloud, "POST", "/__sim/faults", {"action": "DescribeEipAddresses", "latency_ms": 300})
    t = time.time()
    assert client.call("DescribeEipAddresses").status == 200
    assert time.time() - t >= 0.3


def test_fault_hang_and_reset(cloud, client):
    sim(cloud, "POST", "/__sim/faults", {"action": "DescribeEipAddresses", "hang": True, "count": 1})
    t = time.time()
    with pytest.raises((socket.timeout, TimeoutError)):
        client.call("DescribeEipAddresses", timeout=0.5)
    assert time.time() - t < 3
    sim(cloud, "POST", "/__sim/faults", {"action": "DescribeEipAddresses", "reset": True, "count": 1})
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
        client.call("DescribeEipAddresses")
    assert client.call("DescribeEipAddresses").status == 200
    codes = [c["code"] for c in sim(cloud, "GET", "/__sim/calls")["calls"]]
    assert "(hang)" in codes and "(reset)" in codes


# ---------------------------------------------------------------- metadata and credentials
def test_metadata_paths_and_hardened_mode(cloud):
    info = cloud._node_info("node-1")
    ip1, _ = cloud.allocate_pod_ip("node-1")
    ip2, _ = cloud.allocate_pod_ip("node-1")
    st, macs = md_get(cloud, "node-1", "/latest/meta-data/network/interfaces/macs/")
    assert st == 200 and sorted(macs.split("\n")) == sorted([info["mac"] + "/", info["pod_mac"] + "/"])
    base = f"/latest/meta-data/network/interfaces/macs/{info['mac']}/"
    assert md_get(cloud, "node-1", base + "network-interface-id") == (200, info["eni_id"])
    assert md_get(cloud, "node-1", base + "primary-ip-address") == (200, info["private_ip"])
    assert json.loads(md_get(cloud, "node-1", base + "private-ipv4s")[1]) == [info["private_ip"]]
    base = f"/latest/meta-data/network/interfaces/macs/{info['pod_mac']}/"
    assert md_get(cloud, "node-1", base + "network-interface-id") == (200, info["pod_eni_id"])
    st, ips = md_get(cloud, "node-1", base + "private-ipv4s")
    assert st == 200 and ips.startswith('["') and json.loads(ips)[1:] == [ip1, ip2]
    for key, want in (("region-id", "cn-hangzhou"), ("instance-id", info["instance_id"]),
                      ("vpc-id", "vpc-sim0001"), ("zone-id", info["zone_id"]), ("mac", info["mac"]),
                      ("vswitch-id", info["vswitch_id"])):
        assert md_get(cloud, "node-1", "/latest/meta-data/" + key) == (200, want)
    assert md_get(cloud, "node-1", "/latest/meta-data/nope")[0] == 404
    # hardened mode
    assert md_get(cloud, "node-1", "/latest/api/token", method="PUT")[0] == 400
    assert md_get(cloud, "node-1", "/latest/api/token", method="PUT",
                  headers={"X-aliyun-ecs-metadata-token-ttl-seconds": "21601"})[0] == 400
    st, token = md_get(cloud, "node-1", "/latest/api/token", method="PUT",
                       headers={"X-aliyun-ecs-metadata-token-ttl-seconds": "5"})
    assert st == 200 and token
    hdr = {"X-aliyun-ecs-metadata-token": token}
    assert md_get(cloud, "node-1", "/latest/meta-data/region-id", hdr) == (200, "cn-hangzhou")
    assert md_get(cloud, "node-2", "/latest/meta-data/region-id", hdr)[0] == 401  # other node's token
    cloud.configure(metadata_hardened_required=True)
    assert md_get(cloud, "node-1", "/latest/meta-data/region-id")[0] == 403
    assert md_get(cloud, "node-1", "/latest/meta-data/region-id", hdr)[0] == 200
    cloud.configure(clock_offset=6)
    assert md_get(cloud, "node-1", "/latest/meta-data/region-id", hdr)[0] == 401
    calls = sim(cloud, "GET", "/__sim/calls?action=Metadata")["calls"]
    assert token not in json.dumps(calls)
    assert [c["hardened"] for c in calls[-3:]] == [False, True, True]


def test_ram_credentials_expire_rotate_and_sign(cloud):
    # time is moved with clock_offset (within the 15 min signature skew), not slept
    cloud.configure(ram_credential_lifetime=600, ram_credential_rotate_before=300)
    st, role = md_get(cloud, "node-1", "/latest/meta-data/ram/security-credentials/")
    assert st == 200 and role == "EipAgentSimRole"
    st, text = md_get(cloud, "node-1", "/latest/meta-data/ram/security-credentials/" + role)
    c1 = json.loads(text)
    assert c1["Code"] == "Success" and c1["AccessKeyId"].startswith("STS.")
    assert set(c1) == {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration", "LastUpdated", "Code"}
    for style in ("rpc", "v3"):
        cl = Client(cloud, c1["AccessKeyId"], c1["AccessKeySecret"], c1["SecurityToken"], style)
        assert cl.call("DescribeEipAddresses").status == 200
        r = Client(cloud, c1["AccessKeyId"], c1["AccessKeySecret"], None, style).call("DescribeEipAddresses")
        assert r.code == "MissingSecurityToken"
        r = Client(cloud, c1["AccessKeyId"], c1["AccessKeySecret"], "CAISbogus", style).call("DescribeEipAddresses")
        assert r.code == "InvalidSecurityToken.Malformed"
    # still the same set until rotation is due
    assert json.loads(md_get(cloud, "node-1", "/latest/meta-data/ram/security-credentials/" + role)[1]) == c1
    cloud.configure(clock_offset=301)
    assert cl.call("DescribeEipAddresses").status == 200  # the old set still works
    c2 = json.loads(md_get(cloud, "node-1", "/latest/meta-data/ram/security-credentials/" + role)[1])
    assert c2["AccessKeyId"] != c1["AccessKeyId"]
    r = Client(cloud, c1["AccessKeyId"], c1["AccessKeySecret"], c2["SecurityToken"]).call("DescribeEipAddresses")
    assert r.code == "InvalidSecurityToken.MismatchWithAccessKey"
    cloud.configure(clock_offset=601)
    r = Client(cloud, c1["AccessKeyId"], c1["AccessKeySecret"], c1["SecurityToken"]).call("DescribeEipAddresses")
    assert r.status == 400 and r.code == "InvalidSecurityToken.Expired", r
    c3 = json.loads(md_get(cloud, "node-1", "/latest/meta-data/ram/security-credentials/" + role)[1])
    assert Client(cloud, c3["AccessKeyId"], c3["AccessKeySecret"], c3["SecurityToken"]).call(
        "DescribeEipAddresses").status == 200
    assert md_get(cloud, "node-1", "/latest/meta-data/ram/security-credentials/OtherRole")[0] == 404


@pytest.mark.parametrize("style", ["rpc", "v3"])
def test_sts_assume_role_with_oidc(cloud, style):
    oidc = cloud.config["oidc"]
    anon = Client(cloud, style=style)
    good = {"RoleArn": oidc["role_arns"][0], "OIDCProviderArn": oidc["provider_arn"],
            "OIDCToken": cloud.make_oidc_token(), "RoleSessionName": "eip-agent", "DurationSeconds": "900"}
    b = anon.ok("AssumeRoleWithOIDC", good, version=STS, anonymous=True)
    cred = b["Credentials"]
    assert set(cred) == {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}
    assert b["AssumedRoleUser"]["Arn"].endswith("/eip-agent")
    assert b["OIDCTokenInfo"]["Subject"] == "system:serviceaccount:kube-system:eip-agent"
    user = Client(cloud, cred["AccessKeyId"], cred["AccessKeySecret"], cred["SecurityToken"], style)
    assert user.call("DescribeEipAddresses").status == 200
    bad = [
        (dict(good, OIDCToken="not-a-jwt"), "AuthenticationFail.OIDCToken.Invalid"),
        (dict(good, OIDCToken=cloud.make_oidc_token(exp=int(time.time()) - 10)),
         "AuthenticationFail.OIDCToken.Expired"),
        (dict(good, OIDCToken=cloud.make_oidc_token(issuer="https://evil")),
         "AuthenticationFail.OIDCToken.IssuerNotMatch"),
        (dict(good, OIDCToken=cloud.make_oidc_token(audience="someone")),
         "AuthenticationFail.OIDCToken.AudienceNotMatch"),
        (dict(good, RoleArn="acs:ram::1:role/other"), "EntityNotExist.Role"),
        (dict(good, OIDCProviderArn="acs:ram::1:oidc-provider/x"), "EntityNotExist.OIDCProvider"),
        (dict(good, DurationSeconds="60"), "InvalidParameter.DurationSeconds"),
        ({k: v for k, v in good.items() if k != "RoleSessionName"}, "MissingParameter"),
    ]
    for params, code in bad:
        r = anon.call("AssumeRoleWithOIDC", params, version=STS, anonymous=True)
        assert r.status in (400, 404) and r.code == code, (code, r)


def test_sts_subject_restriction(cloud):
    cloud.configure(oidc={"subjects": ["system:serviceaccount:kube-system:eip-agent"]})
    oidc = cloud.config["oidc"]
    p = {"RoleArn": oidc["role_arns"][0], "OIDCProviderArn": oidc["provider_arn"],
         "RoleSessionName": "s1", "OIDCToken": cloud.make_oidc_token(subject="system:serviceaccount:default:x")}
    r = Client(cloud).call("AssumeRoleWithOIDC", p, version=STS, anonymous=True)
    assert r.code == "AuthenticationFail.OIDCToken.Invalid"


# ---------------------------------------------------------------- ENIs and virtual nodes
def test_describe_network_interfaces(cloud, client):
    ip1, eni1 = cloud.allocate_pod_ip("node-1")
    ip2, eni2 = cloud.allocate_pod_ip("node-2")
    sets = client.ok("DescribeNetworkInterfaces", {"PrivateIpAddress.1": ip1, "PrivateIpAddress.2": ip2,
                                                   "VpcId": "vpc-sim0001"},
                     version=ECS)["NetworkInterfaceSets"]["NetworkInterfaceSet"]
    assert sorted(s["NetworkInterfaceId"] for s in sets) == sorted([eni1, eni2])
    for s in sets:
        assert s["MacAddress"].startswith("00:16:3e:") and s["Status"] == "InUse"
        assert s["InstanceId"].startswith("i-")
    b = client.ok("DescribeNetworkInterfaces", {"NetworkInterfaceId.1": eni1}, version=ECS)
    assert b["TotalCount"] == 1
    # PrivateIpAddress.N matches secondary IPs only; the primary IP needs PrimaryIpAddress
    node = cloud._node_info("node-1")
    b = client.ok("DescribeNetworkInterfaces", {"PrivateIpAddress.1": node["private_ip"]}, version=ECS)
    assert b["TotalCount"] == 0
    b = client.ok("DescribeNetworkInterfaces", {"PrimaryIpAddress": node["private_ip"]}, version=ECS)
    assert [s["NetworkInterfaceId"] for s in b["NetworkInterfaceSets"]["NetworkInterfaceSet"]] == [node["eni_id"]]
    # NextToken paging: MaxResults below 10 counts as 10
    for _ in range(9):
        cloud.allocate_pod_ip("virtual-1")
    ids, token, pages = [], None, 0
    while True:
        p = {"MaxResults": "1"}
        if token:
            p["NextToken"] = token
        b = client.ok("DescribeNetworkInterfaces", p, version=ECS)
        ids += [s["NetworkInterfaceId"] for s in b["NetworkInterfaceSets"]["NetworkInterfaceSet"]]
        pages += 1
        token = b["NextToken"]
        if not token:
            break
    assert pages == 2 and len(ids) == len(set(ids)) == 13 and {eni1, eni2} < set(ids)
    # a pod IP given back stays on its ENI, in the node's pool, and is the next
    # pod's of that node (Terway's ENI multi-IP mode)
    cloud.release_pod_ip(ip1)
    b = client.ok("DescribeNetworkInterfaces", {"PrivateIpAddress.1": ip1}, version=ECS)
    assert b["TotalCount"] == 1
    again, eni_again = cloud.allocate_pod_ip("node-1")
    assert again == ip1 and eni_again == eni1


def test_virtual_node_eni_per_pod(cloud, client):
    cloud.configure(associate_delay=0)
    ip1, eni1 = cloud.allocate_pod_ip("virtual-1")
    ip2, eni2 = cloud.allocate_pod_ip("virtual-1")
    assert eni1 != eni2
    sets = client.ok("DescribeNetworkInterfaces", {"PrimaryIpAddress": ip2},
                     version=ECS)["NetworkInterfaceSets"]["NetworkInterfaceSet"]
    assert [s["NetworkInterfaceId"] for s in sets] == [eni2] and sets[0]["PrivateIpAddress"] == ip2
    assert sets[0]["ServiceManaged"] is True and sets[0]["InstanceId"] == ""
    assert client.ok("DescribeNetworkInterfaces", {"PrivateIpAddress.1": ip2}, version=ECS)["TotalCount"] == 0
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    client.ok("AssociateEipAddress", {"AllocationId": aid, "InstanceId": eni2,
                                      "InstanceType": "NetworkInterface", "PrivateIpAddress": ip2})
    assert wait_status(client, aid, "InUse")["InstanceId"] == eni2
    with pytest.raises(KeyError):
        cloud.start_metadata("virtual-1")
    cloud.release_pod_ip(ip2)
    assert eni2 not in {e["NetworkInterfaceId"] for e in sim(cloud, "GET", "/__sim/enis")["enis"]}
    assert wait_status(client, aid, "Available")["InstanceId"] == ""


# ---------------------------------------------------------------- the call log
def test_calls_never_contain_secrets(cloud, rng):
    oidc = cloud.config["oidc"]
    tok = cloud.make_oidc_token()
    b = Client(cloud).ok("AssumeRoleWithOIDC", {"RoleArn": oidc["role_arns"][0],
                                                "OIDCProviderArn": oidc["provider_arn"],
                                                "OIDCToken": tok, "RoleSessionName": "s1"},
                         version=STS, anonymous=True)
    cred = b["Credentials"]
    secrets = [SK, tok, cred["AccessKeySecret"], cred["SecurityToken"]]
    signatures = []
    for style in ("rpc", "v3"):
        for c in (Client(cloud, style=style),
                  Client(cloud, cred["AccessKeyId"], cred["AccessKeySecret"], cred["SecurityToken"], style)):
            c.ok("AllocateEipAddress", {"ClientToken": "%032x" % rng.getrandbits(128)})
            c.call("DescribeEipAddresses", tamper=True)
            signatures.append(rpc_sig(c.secret, c.last_sts) if style == "rpc" else None)
    dump = json.dumps(sim(cloud, "GET", "/__sim/calls"))
    for s in secrets:
        assert s not in dump
    for s in filter(None, signatures):
        assert s not in dump
    calls = sim(cloud, "GET", "/__sim/calls")["calls"]
    assert len(calls) == 9
    for c in calls:
        assert "Signature" not in c["params"] and "SecurityToken" not in c["params"]
        assert c["style"] in ("rpc", "v3", "rpc-anonymous", "v3-anonymous")
        for k in ("time", "action", "params", "signature_verified", "http_status", "code",
                  "client_token", "source"):
            assert k in c
    assert {c["access_key_id"] for c in calls if c["signature_verified"]} == {AK, cred["AccessKeyId"]}
    sim(cloud, "DELETE", "/__sim/calls")
    assert sim(cloud, "GET", "/__sim/calls")["calls"] == []


def test_sim_endpoints(cloud, client):
    cfg = sim(cloud, "POST", "/__sim/config", {"associate_delay": 0, "qps": {"*": 50}})
    assert cfg["associate_delay"] == 0 and cfg["qps"]["*"] == 50
    aid = client.ok("AllocateEipAddress", {"ClientToken": "t1"})["AllocationId"]
    eips = sim(cloud, "GET", "/__sim/eips")["eips"]
    assert eips[0]["AllocationId"] == aid and eips[0]["_clientToken"] == "t1"
    assert len(sim(cloud, "GET", "/__sim/enis")["enis"]) == 4
    with pytest.raises(urllib.error.HTTPError):
        sim(cloud, "POST", "/__sim/config", {"nope": 1})


def test_cli_standalone(tmp_path, tls_dir):
    d = tmp_path / "standalone"
    p = subprocess.Popen([sys.executable, str(REPO / "tests" / "sim" / "cloudsim.py"), "--dir", str(d),
                          "--nodes", "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        info = json.loads((d / "cloud.json").read_text())
        assert info["access_keys"] == {AK: SK} and len(info["metadata_ports"]) == 2
        ctx = ssl.create_default_context(cafile=info["ca_file"])
        with urllib.request.urlopen(info["sim_endpoint"] + "/eips", context=ctx, timeout=5) as r:
            assert json.loads(r.read())["eips"] == []
        port = info["metadata_ports"]["node-1"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/latest/meta-data/region-id", timeout=5) as r:
            assert r.read() == b"cn-hangzhou"
    finally:
        p.terminate()
        p.wait(5)


def test_forbidden_ram(cloud, client):
    cloud.configure(forbidden_actions=["ReleaseEipAddress"])
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    r = client.call("ReleaseEipAddress", {"AllocationId": aid})
    assert r.status == 403 and r.code == "Forbidden.RAM", r


def test_metadata_faults(cloud):
    sim(cloud, "POST", "/__sim/faults", {"action": "Metadata", "http_status": 500, "count": 1})
    assert md_get(cloud, "node-1", "/latest/meta-data/region-id")[0] == 500
    assert md_get(cloud, "node-1", "/latest/meta-data/region-id") == (200, "cn-hangzhou")
    sim(cloud, "POST", "/__sim/faults", {"action": "*", "http_status": 503})
    assert md_get(cloud, "node-1", "/latest/meta-data/region-id")[0] == 200  # "*" is for the API only


def test_sts_duration_override(cloud):
    cloud.configure(sts_duration_override=30)
    oidc = cloud.config["oidc"]
    cred = Client(cloud).ok("AssumeRoleWithOIDC", {"RoleArn": oidc["role_arns"][0],
                                                   "OIDCProviderArn": oidc["provider_arn"],
                                                   "OIDCToken": cloud.make_oidc_token(),
                                                   "RoleSessionName": "short"},
                            version=STS, anonymous=True)["Credentials"]
    user = Client(cloud, cred["AccessKeyId"], cred["AccessKeySecret"], cred["SecurityToken"], "v3")
    assert user.call("DescribeEipAddresses").status == 200
    assert cred["Expiration"] == cloudsim.iso(cloudsim.parse_iso(cred["Expiration"]))
    cloud.configure(clock_offset=31)
    assert user.call("DescribeEipAddresses").code == "InvalidSecurityToken.Expired"


def test_released_address_not_reused_at_once(cloud, client):
    cloud.configure(release_delay=0)
    a = client.ok("AllocateEipAddress")
    client.ok("ReleaseEipAddress", {"AllocationId": a["AllocationId"]})
    b = client.ok("AllocateEipAddress")
    assert b["EipAddress"] != a["EipAddress"] and b["AllocationId"] != a["AllocationId"]


def test_calls_filter(cloud, client):
    client.ok("AllocateEipAddress")
    client.ok("DescribeEipAddresses")
    calls = sim(cloud, "GET", "/__sim/calls?action=AllocateEipAddress")["calls"]
    assert [c["action"] for c in calls] == ["AllocateEipAddress"]
    assert calls[0]["signature_verified"] is True and calls[0]["http_status"] == 200


def test_restart_keeps_state(tmp_path, tls_dir):
    d = str(tmp_path / "persist")
    c1 = cloudsim.Cloud(d, seed=3)
    c1.configure(associate_delay=0)
    c1.add_node("node-1")
    ip, eni = c1.allocate_pod_ip("node-1")
    c1.start(tls_dir=tls_dir)
    cl = Client(c1)
    a = cl.ok("AllocateEipAddress", {"ClientToken": "uid-1"})
    cl.ok("AssociateEipAddress", {"AllocationId": a["AllocationId"], "InstanceId": eni,
                                  "InstanceType": "NetworkInterface", "PrivateIpAddress": ip})
    c1.stop()
    c2 = cloudsim.Cloud(d, seed=3)
    assert c2.add_node("node-1")["pod_eni_id"] == eni  # known node: same instance and ENIs
    c2.start(tls_dir=tls_dir)
    try:
        cl = Client(c2)
        e = wait_status(cl, a["AllocationId"], "InUse")
        assert e["PrivateIpAddress"] == ip
        assert cl.ok("AllocateEipAddress", {"ClientToken": "uid-1"})["AllocationId"] == a["AllocationId"]
        b = cl.ok("AllocateEipAddress")
        assert b["AllocationId"] != a["AllocationId"] and b["EipAddress"] != a["EipAddress"]
        ip2, _ = c2.allocate_pod_ip("node-1")
        assert ip2 != ip
    finally:
        c2.stop()


def test_sim_nodes_and_pod_ips_over_http(cloud, client):
    info = sim(cloud, "POST", "/__sim/nodes", {"name": "node-3"})
    assert info["instance_id"].startswith("i-") and info["metadata_port"]
    assert md_get(cloud, "node-3", "/latest/meta-data/instance-id") == (200, info["instance_id"])
    got = sim(cloud, "POST", "/__sim/pod-ips", {"node": "node-3"})
    assert got["eni_id"] == info["pod_eni_id"]
    b = client.ok("DescribeNetworkInterfaces", {"PrivateIpAddress.1": got["ip"]}, version=ECS)
    assert b["TotalCount"] == 1
    sim(cloud, "DELETE", f"/__sim/pod-ips/{got['ip']}")
    # given back to the node's pool: still on the ENI, the next pod's
    assert client.ok("DescribeNetworkInterfaces", {"PrivateIpAddress.1": got["ip"]}, version=ECS)["TotalCount"] == 1
    assert sim(cloud, "POST", "/__sim/pod-ips", {"node": "node-3"})["ip"] == got["ip"]
    calls = sim(cloud, "GET", "/__sim/calls?action=Metadata")["calls"]
    assert calls and calls[-1]["params"] == {"path": "/latest/meta-data/instance-id", "node": "node-3"}
    assert calls[-1]["hardened"] is False and calls[-1]["http_status"] == 200


def test_async_association_failure_and_out_of_band_changes(cloud, client):
    cloud.configure(associate_delay=0.1)
    ip, eni = cloud.allocate_pod_ip("node-1")
    aid = client.ok("AllocateEipAddress")["AllocationId"]
    sim(cloud, "POST", "/__sim/faults", {"action": "AssociateEipAddress", "async_fail": True, "count": 1})
    assoc = {"AllocationId": aid, "InstanceId": eni, "InstanceType": "NetworkInterface", "PrivateIpAddress": ip}
    client.ok("AssociateEipAddress", assoc)  # accepted, then the task fails
    assert wait_status(client, aid, "Available")["InstanceId"] == ""
    client.ok("AssociateEipAddress", assoc)
    wait_status(client, aid, "InUse")
    e = sim(cloud, "POST", f"/__sim/eips/{aid}/unassociate")["eip"]
    assert e["Status"] == "Available"
    sim(cloud, "DELETE", f"/__sim/eips/{aid}")
    assert client.ok("DescribeEipAddresses", {"AllocationId": aid})["TotalCount"] == 0


def test_concurrent_clients(cloud):
    import concurrent.futures
    cloud.configure(eip_quota=10)

    def worker(i):
        c = Client(cloud, style="v3" if i % 2 else "rpc")
        out = []
        for j in range(3):
            r = c.call("AllocateEipAddress", {"ClientToken": f"w{i}-{j % 2}"})
            out.append((r.status, r.code, r.body.get("AllocationId")))
        return out

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = [x for r in ex.map(worker, range(8)) for x in r]
    ok = {aid for st, _, aid in results if st == 200}
    assert len(ok) == 10  # 16 distinct tokens, quota 10
    assert all(code == "QuotaExceeded.Eip" for st, code, _ in results if st != 200)
    assert len(cloud.eips_snapshot()) == 10


def test_allocate_validation(cloud, client):
    bad = [{"Bandwidth": "201", "InternetChargeType": "PayByTraffic"},
           {"Bandwidth": "0"},
           {"Name": "1starts-with-digit"},
           {"Description": "http://x"},
           {"ISP": "Nope"},
           {"InstanceChargeType": "PrePaid", "InternetChargeType": "PayByTraffic", "Period": "1"},
           {"InstanceChargeType": "PrePaid", "Name": "named", "Period": "1"},
           {"PublicIpAddressPoolId": "pippool-nope"}]
    for p in bad:
        r = client.call("AllocateEipAddress", p)
        assert r.status == 400 and r.code == "InvalidParameter", (p, r)
    r = client.call("AllocateEipAddress", {"InstanceChargeType": "PrePaid"})
    assert r.code == "MissingParameter" and "Period" in r.body["Message"]
    a = client.ok("AllocateEipAddress", {"InstanceChargeType": "PrePaid", "Period": "1", "AutoPay": "true",
                                         "Bandwidth": "1000"})
    assert isinstance(a["OrderId"], int)
    a = client.ok("AllocateEipAddress", {"PublicIpAddressPoolId": "pippool-sim0001"})
    assert a["EipAddress"].startswith("198.51.100.")
    a = client.ok("AllocateEipAddress", {"IpAddress": "203.0.113.77", "Bandwidth": "200",
                                         "InternetChargeType": "PayByTraffic"})
    assert a["EipAddress"] == "203.0.113.77"
    assert client.call("AllocateEipAddress", {"IpAddress": "203.0.113.77"}).code == "InvalidParameter"


def test_address_allocation_is_constant_time_on_a_large_network(tmp_path):
    # a /12 pod network: the old allocator listed every host (about 1M) for each pod IP
    c = cloudsim.Cloud(str(tmp_path / "big"), seed=5, pod_cidr="10.0.0.0/12", eip_cidr="100.64.0.0/10")
    c.add_node("node-1")
    t0 = time.time()
    ips = [c.allocate_pod_ip("node-1")[0] for _ in range(200)]
    pub = [c._next_ip(c._eip_net, c._used_public, rotate=True) for _ in range(200)]
    assert time.time() - t0 < 5
    assert len(set(ips)) == 200 and len(set(pub)) == 200
    assert ips[:2] == ["10.0.0.2", "10.0.0.3"] and "10.0.1.1" not in ips  # .1 stays the gateway
    # private addresses: the lowest free one comes back at once
    c.release_pod_ip(ips[10])
    assert c.allocate_pod_ip("node-1")[0] == ips[10]
    # public addresses: a released one only after every never-used one
    c._free_ip(pub[0], c._used_public)
    assert c._next_ip(c._eip_net, c._used_public, rotate=True) not in pub


def test_public_addresses_cycle_before_reuse(tmp_path):
    c = cloudsim.Cloud(str(tmp_path / "small"), seed=5, eip_cidr="192.0.2.0/29")  # 6 hosts
    first = [c._next_ip(c._eip_net, c._used_public, rotate=True) for _ in range(6)]
    assert len(set(first)) == 6
    with pytest.raises(cloudsim.ApiError):
        c._next_ip(c._eip_net, c._used_public, rotate=True)
    c._free_ip(first[3], c._used_public)
    c._free_ip(first[1], c._used_public)
    assert [c._next_ip(c._eip_net, c._used_public, rotate=True) for _ in range(2)] == [first[3], first[1]]
    # addresses that went back without _free_ip are found by a rescan once the range is used up
    c._used_public.discard(first[0])
    assert c._next_ip(c._eip_net, c._used_public, rotate=True) == first[0]


def test_accepted_sockets_have_tcp_nodelay():
    srv = cloudsim._Server(("127.0.0.1", 0), cloudsim._ApiHandler)
    try:
        cli = socket.create_connection(srv.server_address)
        sock, _ = srv.get_request()
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            sock.close()
            cli.close()
    finally:
        srv.server_close()
