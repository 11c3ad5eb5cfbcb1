# SPDX-License-Identifier: MIT
"""Every row of the pod interface (DESIGN §2) with both prefixes, as the cloud
received it; every invalid form gives one InvalidAnnotation event naming the key,
costs no cloud call, and a later fix of the annotation is picked up."""
import json

import pytest

from world import L, P, wait_for

ROWS = [
    # (annotation suffix, value, cloud parameter of AllocateEipAddress, expected)
    ("eip-bandwidth", "10", "Bandwidth", "10"),
    ("eip-internet-charge-type", "PayByBandwidth", "InternetChargeType", "PayByBandwidth"),
    ("eip-charge-type", "PayByBandwidth", "InternetChargeType", "PayByBandwidth"),
    ("eip-instance-charge-type", "PostPaid", "InstanceChargeType", "PostPaid"),
    ("eip-isp", "BGP_PRO", "ISP", "BGP_PRO"),
    ("eip-public-ip-address-pool-id", "pippool-sim0001", "PublicIpAddressPoolId", "pippool-sim0001"),
    ("eip-resource-group-id", "rg-acfmsimteam01", "ResourceGroupId", "rg-acfmsimteam01"),
    ("eip-name", "game-server", "Name", "game-server"),
    ("eip-description", "udp game server", "Description", "udp game server"),
    ("eip-security-protection-types", "AntiDDoS_Enhanced", "SecurityProtectionTypes.1",
     "AntiDDoS_Enhanced"),
]


def alloc_params(w, uid):
    for c in w.cloud_calls("AllocateEipAddress"):
        p = c.get("params", {})
        keys = {k[:-4]: v for k, v in p.items() if k.startswith("Tag.") and k.endswith(".Key")}
        for prefix, key in keys.items():
            if key == "eip-agent/pod-uid" and p.get(prefix + ".Value") == uid:
                return p
    return None


def user_tags(params):
    out = {}
    for k, v in params.items():
        if k.startswith("Tag.") and k.endswith(".Key") and not v.startswith("eip-agent/") \
                and v != "ack.aliyun.com":
            out[v] = params[k[:-4] + ".Value"]
    return out


@pytest.mark.parametrize("prefix", [P, L])
def test_every_row(world, prefix):
    w = world
    names = {}
    for i, (suffix, value, _, _) in enumerate(ROWS):
        name = f"row-{i}"
        names[name] = i
        w.create_pod(name, {prefix + "pod-with-eip": "true", prefix + suffix: value})
    w.create_pod("tags", {prefix + "pod-with-eip": "true",
                          prefix + "eip-tags": json.dumps({"team": "games", "tier": "edge"})})
    w.create_pod("cbwp", {prefix + "pod-with-eip": "true",
                          prefix + "eip-common-bandwidth-package-id": "cbwp-sim0001"})
    for name, i in names.items():
        pod = w.wait_bound(name)
        p = alloc_params(w, pod["metadata"]["uid"])
        suffix, value, param, want = ROWS[i]
        assert p is not None, name
        assert p.get(param) == want, f"{prefix}{suffix}={value}: {param}={p.get(param)!r}"
    pod = w.wait_bound("tags")
    assert user_tags(alloc_params(w, pod["metadata"]["uid"])) == {"team": "games", "tier": "edge"}
    e = w.eips_of_uid(pod["metadata"]["uid"])[0]
    assert w.tags(e)["team"] == "games"
    pod = w.wait_bound("cbwp")
    e = w.eips_of_uid(pod["metadata"]["uid"])[0]
    assert e["BandwidthPackageId"] == "cbwp-sim0001"
    assert w.podeip("cbwp")["spec"]["bandwidthPackageID"] == "cbwp-sim0001"


def test_legacy_names(world):
    w = world
    w.create_pod("eci", {L + "eci-with-eip": "true"})
    aid = w.create_eip()["AllocationId"]
    w.create_pod("eci-static", {L + "eci-eip-instanceid": aid})
    aid2 = w.create_eip()["AllocationId"]
    w.create_pod("given", {P + "allocated-eip-id": aid2})  # a user's, at creation: Static
    pod = w.wait_bound("eci")
    assert len(w.eips_of_uid(pod["metadata"]["uid"])) == 1
    for name, a in (("eci-static", aid), ("given", aid2)):
        pod = w.wait_bound(name)
        e = w.eip(a)
        assert e["PrivateIpAddress"] == pod["status"]["podIP"]
        assert w.tags(e)["eip-agent/type"] == "Static"
    w.delete_pod("given")
    wait_for(lambda: w.eip(aid2)["Status"] == "Available", 30, "unbound")
    assert w.eip(aid2) is not None  # never released


INVALID = [
    ("eip-bandwidth", "abc", "1 to 200"),
    ("eip-bandwidth", "0", "1 to 200"),
    ("eip-bandwidth", "201", "1 to 200"),
    ("eip-isp", "Foo", "BGP"),
    ("eip-internet-charge-type", "Foo", "PayByTraffic"),
    ("eip-instance-charge-type", "PrePaid", "PostPaid"),
    ("eip-tags", "{not json", "JSON"),
    ("eip-name", "n" * 129, "128"),
    ("eip-common-bandwidth-package-id", "bw-1", "cbwp-"),
    ("pod-eip-release-strategy", "soon", "Follow"),
    ("eip-description", "d" * (200 * 1024), "4096"),  # under the API server's 256 KiB
]


def test_invalid_annotations_then_fixed(world):
    w = world
    for i, (suffix, value, _) in enumerate(INVALID):
        prefix = P if i % 2 == 0 else L
        w.create_pod(f"bad-{i}", {prefix + "pod-with-eip": "true", prefix + suffix: value})
    pods = {}
    for i, (suffix, value, accepted) in enumerate(INVALID):
        prefix = P if i % 2 == 0 else L
        name = f"bad-{i}"
        evs = wait_for(lambda: w.events(name, reason="InvalidAnnotation"), 20,
                       f"InvalidAnnotation on {name}")
        assert len(evs) == 1 and evs[0]["type"] == "Warning"
        assert prefix + suffix in evs[0]["message"] and accepted in evs[0]["message"], evs[0]
        v = w.wait_view(w.agent, name, lambda v: v["state"] == "Failed")
        assert v["reason"] == "InvalidAnnotation"
        pod = w.pod(name)
        cond = w.condition(pod)
        assert cond and cond["status"] == "False" and cond["reason"] == "InvalidAnnotation"
        pods[name] = pod
    # every pod has its IP (annotations are vetted before the IP is waited for),
    # and still no cloud call names any of them
    def with_ip(name):
        pod = w.pod(name)
        return pod if pod["status"].get("podIP") else None

    for name in pods:
        pods[name] = wait_for(lambda: with_ip(name), 20, f"podIP of {name}")
    ips = {p["status"]["podIP"] for p in pods.values()}
    uids = {p["metadata"]["uid"] for p in pods.values()}
    for c in w.cloud_calls():
        params = json.dumps(c.get("params", {}))
        assert not any(u in params for u in uids), c
        assert not any(f'"{ip}"' in params for ip in ips), c
    # fixed: picked up and bound
    for i, (suffix, _, _) in enumerate(INVALID):
        prefix = P if i % 2 == 0 else L
        w.patch_pod(f"bad-{i}", {"metadata": {"annotations": {prefix + suffix: None}}})
    for name in pods:
        pod = w.wait_bound(name)
        assert w.condition(pod)["reason"] == "Associate eip succeed"
        assert len(w.events(name, reason="InvalidAnnotation")) == 1
