# SPDX-License-Identifier: MIT
"""One pod's EIP from creation to deletion, as the cloud and the API server saw
it: Auto (allocate, associate, Ready only after InUse, records on the pod, the
PodEIP, release on delete) and Static (bind an existing EIP, never release it,
a second pod naming it waits and takes it over when the first is gone)."""
from world import GATE, L, P, wait_for


def auto(**extra):
    return {P + "pod-with-eip": "true", **extra}


def test_auto_bind_and_release(world):
    w = world
    w.create_pod("web-1", auto())
    pod = w.wait_bound("web-1")
    uid = pod["metadata"]["uid"]
    ann = pod["metadata"]["annotations"]
    eips = w.eips_of_uid(uid)
    assert len(eips) == 1, eips
    e = eips[0]
    aid, addr = e["AllocationId"], e["IpAddress"]
    # the cloud: InUse on the pod IP through the ENI holding it, tagged for the pod
    assert e["Status"] == "InUse"
    assert e["PrivateIpAddress"] == pod["status"]["podIP"]
    assert e["InstanceType"] == "NetworkInterface"
    t = w.tags(e)
    assert t["ack.aliyun.com"] == w.cluster_id
    assert t["eip-agent/node"] == "node-1"
    assert (t["eip-agent/pod-namespace"], t["eip-agent/pod-name"]) == ("default", "web-1")
    assert t["eip-agent/type"] == "Auto"
    assert e["InternetChargeType"] == "PayByTraffic"  # ack's default, not the API's
    # the pod: annotations (both spellings) and the condition, no other condition touched
    assert ann[P + "allocated-eip-id"] == aid
    assert ann[P + "allocated-eip-address"] == addr
    assert ann[L + "allocated-eipAddress"] == addr
    cond = w.condition(pod)
    assert cond["reason"] == "Associate eip succeed"
    types = [c["type"] for c in pod["status"]["conditions"]]
    assert len(types) == len(set(types)) and "PodScheduled" in types
    # Ready only once the gate is True
    wait_for(lambda: (w.condition(w.pod("web-1"), "Ready") or {}).get("status") == "True", 10,
             "Ready")
    # the PodEIP
    pe = w.podeip("web-1")
    assert pe["spec"]["allocationID"] == aid
    assert pe["spec"]["allocationType"] == {"type": "Auto", "releaseStrategy": "Follow"}
    assert pe["status"]["eipAddress"] == addr
    assert pe["status"]["privateIPAddress"] == pod["status"]["podIP"]
    assert pe["status"]["networkInterfaceID"] == e["InstanceId"]
    assert pe["status"]["status"] == "InUse"
    # events
    reasons = [ev["reason"] for ev in w.events("web-1")]
    assert "EIPAllocated" in reasons and "EIPAssociated" in reasons
    # the status API
    st, view = w.agent_get(w.agent, "/v1/pods/default/web-1")
    assert st == 200 and view["state"] == "Bound" and view["allocationId"] == aid
    # the metrics count what was asked of whom
    st, text = w.agent_get(w.agent, "/metrics")
    text = text["raw"]
    for line in ('eip_agent_cloud_requests_total{action="AllocateEipAddress",code="OK"} 1',
                 'eip_agent_cloud_requests_total{action="AssociateEipAddress",code="OK"} 1',
                 'eip_agent_k8s_requests_total{verb="patch",code="200"}',
                 'eip_agent_cloud_request_duration_seconds_count{action="AllocateEipAddress"} 1',
                 'eip_agent_pods{state="Bound"} 1',
                 'eip_agent_bind_duration_seconds_count 1'):
        assert line in text, line
    assert view["networkInterfaceId"] == e["InstanceId"] and view["releaseStrategy"] == "Follow"

    w.delete_pod("web-1")
    wait_for(lambda: w.eip(aid) is None, 30, f"{aid} released")
    wait_for(lambda: w.podeip("web-1") is None, 10, "PodEIP deleted")
    wait_for(lambda: w.events("web-1", reason="EIPReleased"), 10, "EIPReleased event")
    # unassociated before released, and the release happened while the pod was
    # still terminating (its IP not handed on yet)
    calls = [c for c in w.cloud_calls() if c.get("params", {}).get("AllocationId") == aid]
    actions = [c["action"] for c in calls]
    assert actions.index("UnassociateEipAddress") < actions.index("ReleaseEipAddress"), actions
    w.assert_no_leaks()


def test_ready_waits_for_in_use(world):
    """With a slow association the pod is not Ready while the EIP is Associating."""
    w = world
    w.cloud_config(associate_delay=2.0)
    w.create_pod("slow-1", auto())

    def associating():
        p = w.pod("slow-1")
        e = [x for x in w.eips_of_uid(p["metadata"]["uid"])] if p else []
        return e and e[0]["Status"] == "Associating" and p
    p = wait_for(associating, 20, "Associating")
    assert (w.condition(p) or {}).get("status") != "True"
    assert (w.condition(p, "Ready") or {}).get("status") != "True"
    st, view = w.agent_get(w.agent, "/v1/pods/default/slow-1/ready")
    assert st == 503 and view["state"] in ("Associating", "Allocating"), view
    w.wait_bound("slow-1")
    e = w.eips_of_uid(p["metadata"]["uid"])[0]
    assert e["Status"] == "InUse"


def test_static_bind_never_released(world):
    w = world
    aid = w.create_eip(Name="mine")["AllocationId"]
    w.create_pod("st-1", {P + "pod-eip-instanceid": aid})
    pod = w.wait_bound("st-1")
    e = w.eip(aid)
    assert e["Status"] == "InUse" and e["PrivateIpAddress"] == pod["status"]["podIP"]
    assert w.tags(e)["eip-agent/type"] == "Static"
    assert w.podeip("st-1")["spec"]["allocationType"]["type"] == "Static"
    w.delete_pod("st-1")
    wait_for(lambda: w.eip(aid)["Status"] == "Available", 30, "unassociated")
    wait_for(lambda: w.podeip("st-1") is None, 10, "PodEIP deleted")
    assert not [c for c in w.cloud_calls("ReleaseEipAddress")
                if c.get("params", {}).get("AllocationId") == aid]
    assert w.eip(aid)["Name"] == "mine"


def test_static_second_pod_waits_then_takes_over(world):
    w = world
    aid = w.create_eip()["AllocationId"]
    w.create_pod("first", {L + "pod-eip-instanceid": aid})
    first = w.wait_bound("first")
    w.create_pod("second", {P + "pod-eip-instanceid": aid})

    def waiting():
        st, v = w.agent_get(w.agent, "/v1/pods/default/second")
        return st == 200 and v["state"] == "Waiting" and "first" in v["message"] and v
    v = wait_for(waiting, 20, "second waiting on first")
    assert aid in v["message"]
    assert w.eip(aid)["PrivateIpAddress"] == first["status"]["podIP"]
    w.delete_pod("first")
    second = w.wait_bound("second", timeout=60)
    e = w.eip(aid)
    assert e["Status"] == "InUse" and e["PrivateIpAddress"] == second["status"]["podIP"]
    assert w.tags(e)["eip-agent/pod-name"] == "second"


def test_static_holder_gone_is_taken_over(world):
    """The EIP is bound to an IP where no pod lives (its pod vanished while nobody
    watched): the pod naming it takes it over."""
    w = world
    aid = w.create_eip()["AllocationId"]
    w.create_pod("old", {P + "pod-eip-instanceid": aid})
    w.wait_bound("old")
    w.kill_agent(w.agent)
    w.delete_pod("old", grace=0)
    w.wait_pod_gone("old")
    # the cloud still has it bound to the old pod's IP (the agent was dead)
    w.create_pod("new", {P + "pod-eip-instanceid": aid})
    w.agent = w.start_agent("node-1")
    new = w.wait_bound("new", timeout=60)
    assert w.eip(aid)["PrivateIpAddress"] == new["status"]["podIP"]
    w.assert_no_leaks()


def test_quota_exhausted_then_recovered(world):
    """The account's EIP quota runs out: a Warning event, the pod waits (slowly
    retried), other pods are not held up, and it binds once quota is back."""
    w = world
    w.cloud_config(eip_quota=1)
    w.create_pod("q-1", auto())
    w.wait_bound("q-1")
    w.create_pod("q-2", auto())
    ev = wait_for(lambda: [e for e in w.events("q-2", reason="EIPFailed")
                           if "quota" in e["message"].lower()], 30, "quota event")
    assert ev[0]["type"] == "Warning"
    v = w.wait_view(w.agent, "q-2", lambda v: v["state"] == "Failed")
    assert v["reason"] == "QuotaExceeded", v
    w.cloud_config(eip_quota=10)
    w.wait_bound("q-2", timeout=60)
    allocs = [c for c in w.cloud_calls("AllocateEipAddress")
              if c.get("client_token", "").startswith("eip-agent")]
    assert len([c for c in allocs if c.get("http_status") == 200]) == 2
    # retried slowly: a handful of refused allocations, not a storm
    refused = [c for c in allocs if c.get("code") == "QuotaExceeded.Eip"]
    assert 1 <= len(refused) <= 5, len(refused)
