# SPDX-License-Identifier: MIT
"""Stateful pods keep their EIP across nodes, and one elected agent cares for
the whole cluster: TTL and Never release strategies, the PodEIP as the durable
record (ours and ack-extend-network-controller's), the leader's GC of EIPs whose
node or PodEIP is gone, and a leader killed mid-GC."""
import time

from world import GATE, L, P, wait_for

GC = "gcPeriodSeconds: 2\n"


def sts(name, annotations, replicas=1):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations},
                                  "spec": {"terminationGracePeriodSeconds": 1,
                                           "readinessGates": [{"conditionType": GATE}],
                                           "containers": [{"name": "c", "image": "game"}]}}}}


def cordon(w, node, on=True):
    w.kube.call("PATCH", f"/api/v1/nodes/{node}", {"spec": {"unschedulable": on}},
                ctype="application/merge-patch+json")


def scale(w, name, n):
    w.kube.call("PATCH", f"/apis/apps/v1/namespaces/default/statefulsets/{name}",
                {"spec": {"replicas": n}}, ctype="application/merge-patch+json")


def releases_of(w, aid):
    return [c for c in w.cloud_calls("ReleaseEipAddress")
            if c.get("params", {}).get("AllocationId") == aid and c.get("http_status") == 200]


def two_nodes(make_world, config=GC, **kw):
    w = make_world(nodes=2, **kw)
    w.a1 = w.start_agent("node-1", config=config)
    w.a2 = w.start_agent("node-2", config=config)
    return w


def test_statefulset_ttl_same_eip_on_another_node_then_released(make_world):
    w = two_nodes(make_world)
    w.kube.call("POST", "/apis/apps/v1/namespaces/default/statefulsets",
                sts("game", {P + "pod-with-eip": "true", P + "pod-eip-release-strategy": "20s"}))
    pod = w.wait_bound("game-0")
    first_node = pod["spec"]["nodeName"]
    aid = pod["metadata"]["annotations"][P + "allocated-eip-id"]
    pe = wait_for(lambda: w.podeip("game-0"), 10, "PodEIP")
    assert pe["spec"]["allocationType"] == {"type": "Auto", "releaseStrategy": "TTL",
                                            "releaseAfter": "20s"}
    # recreated on the other node: the same EIP
    cordon(w, first_node)
    w.delete_pod("game-0")
    other = "node-2" if first_node == "node-1" else "node-1"

    def recreated():
        p = w.pod("game-0")
        return p if p and p["metadata"]["uid"] != pod["metadata"]["uid"] and \
            p["spec"].get("nodeName") else None
    again = wait_for(recreated, 30, "game-0 recreated and scheduled")
    assert again["spec"]["nodeName"] == other
    again = w.wait_bound("game-0", timeout=60)
    assert again["metadata"]["annotations"][P + "allocated-eip-id"] == aid
    e = w.eip(aid)
    assert e["PrivateIpAddress"] == again["status"]["podIP"]
    assert w.tags(e)["eip-agent/node"] == other
    assert w.tags(e)["eip-agent/pod-uid"] == again["metadata"]["uid"]
    assert len([c for c in w.cloud_calls("AllocateEipAddress") if c["http_status"] == 200]) == 1
    assert w.podeip("game-0")["metadata"]["annotations"]["eip-agent/pod-uid"] == \
        again["metadata"]["uid"]
    # no pod of that name any more: kept for the TTL, then released
    scale(w, "game", 0)
    w.wait_pod_gone("game-0")
    gone_at = time.monotonic()
    wait_for(lambda: w.eip(aid)["Status"] == "Available", 20, "unassociated")
    pe = wait_for(lambda: (lambda p: p if p and not p["status"].get("privateIPAddress") else None)(
        w.podeip("game-0")), 20, "PodEIP marked unbound")
    assert pe["status"].get("podLastSeen")
    while time.monotonic() - gone_at < 14:  # well inside the 20 s
        assert w.eip(aid) is not None, "released before its TTL"
        time.sleep(0.5)
    wait_for(lambda: w.eip(aid) is None, 40, "released after the TTL")
    assert time.monotonic() - gone_at >= 18
    wait_for(lambda: w.podeip("game-0") is None, 20, "PodEIP deleted")
    assert len(releases_of(w, aid)) == 1
    w.assert_no_leaks()


def test_never_survives_until_its_podeip_is_deleted(make_world):
    w = two_nodes(make_world)
    w.create_pod("keeper", {P + "pod-with-eip": "true", L + "pod-eip-release-strategy": "Never"})
    pod = w.wait_bound("keeper")  # a bare pod: stateful
    aid = pod["metadata"]["annotations"][P + "allocated-eip-id"]
    w.delete_pod("keeper")
    w.wait_pod_gone("keeper")
    wait_for(lambda: w.eip(aid)["Status"] == "Available", 20, "unassociated")
    time.sleep(6)  # three GC periods: Never keeps it
    assert w.eip(aid) is not None and w.podeip("keeper") is not None
    w.kube.call("DELETE", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips/keeper")
    wait_for(lambda: w.eip(aid) is None, 30, "released once the PodEIP is gone")
    assert len(releases_of(w, aid)) == 1
    w.assert_no_leaks()


def test_custom_stateful_kind_honoured_and_replicaset_never_ignored(make_world):
    w = two_nodes(make_world, config=GC + "customStatefulWorkloadKinds: [GameServer]\n")
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gameservers.games.example.com"},
           "spec": {"group": "games.example.com", "scope": "Namespaced",
                    "names": {"plural": "gameservers", "singular": "gameserver", "kind": "GameServer"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    w.kube.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    gs = wait_for(lambda: w.kube.call("POST", "/apis/games.example.com/v1/namespaces/default/gameservers",
                                      {"apiVersion": "games.example.com/v1", "kind": "GameServer",
                                       "metadata": {"name": "gs-1"}}, ok=(201, 404))[1]
                  .get("metadata"), 20, "GameServer served")
    owner = {"apiVersion": "games.example.com/v1", "kind": "GameServer", "name": "gs-1",
             "uid": gs["uid"], "controller": True}
    w.create_pod("gs-1", {P + "pod-with-eip": "true", P + "pod-eip-release-strategy": "Never"},
                 owner=owner)
    rs_body = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}, "annotations": {
                            P + "pod-with-eip": "true", P + "pod-eip-release-strategy": "Never"}},
                            "spec": {"terminationGracePeriodSeconds": 1,
                                     "containers": [{"name": "c", "image": "web"}]}}}}
    w.kube.call("POST", "/apis/apps/v1/namespaces/default/replicasets", rs_body)
    gs_pod = w.wait_bound("gs-1")
    web = wait_for(lambda: [p for p in w.kube.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")[1]["items"]
                            if (w.condition(p) or {}).get("status") == "True"], 60, "web pod bound")[0]
    web_name = web["metadata"]["name"]
    ev = wait_for(lambda: w.events(web_name, reason="ReleaseStrategyIgnored"), 20, "ignored event")
    assert "ReplicaSet" in ev[0]["message"] and ev[0]["type"] == "Normal"
    assert w.podeip(web_name)["spec"]["allocationType"]["releaseStrategy"] == "Follow"
    assert w.podeip("gs-1")["spec"]["allocationType"]["releaseStrategy"] == "Never"
    gs_aid = gs_pod["metadata"]["annotations"][P + "allocated-eip-id"]
    web_aid = web["metadata"]["annotations"][P + "allocated-eip-id"]
    w.delete_pod("gs-1")
    w.kube.call("DELETE", "/apis/apps/v1/namespaces/default/replicasets/web")
    wait_for(lambda: w.eip(web_aid) is None, 30, "the ReplicaSet pod's EIP released")
    wait_for(lambda: w.eip(gs_aid)["Status"] == "Available", 30, "GameServer pod's EIP unbound")
    time.sleep(4)
    assert w.eip(gs_aid) is not None


def test_node_deleted_while_its_agent_is_dead(make_world):
    w = two_nodes(make_world)
    w.create_pod("follow-1", {P + "pod-with-eip": "true"}, node="node-2")
    w.create_pod("ttl-1", {P + "pod-with-eip": "true", P + "pod-eip-release-strategy": "15s"},
                 node="node-2")
    f = w.wait_bound("follow-1")
    t = w.wait_bound("ttl-1")
    f_aid = f["metadata"]["annotations"][P + "allocated-eip-id"]
    t_aid = t["metadata"]["annotations"][P + "allocated-eip-id"]
    w.kill_agent(w.a2)
    w.kube.call("DELETE", "/api/v1/nodes/node-2")
    w.wait_pod_gone("follow-1")
    w.wait_pod_gone("ttl-1")
    gone_at = time.monotonic()
    # the leader (node-1's agent) releases the Follow EIP, keeps the TTL one
    wait_for(lambda: w.eip(f_aid) is None, 40, "Follow EIP of the deleted node released")
    st, out = w.agent_get(w.a1, "/v1/eips")
    assert st == 200, out
    kept = [e for e in out["eips"] if e["allocationId"] == t_aid]
    assert kept and kept[0]["state"] == "Kept" and kept[0]["strategy"] == "TTL" and kept[0]["releaseAt"]
    assert w.eip(t_aid) is not None
    wait_for(lambda: w.eip(t_aid) is None, 60, "TTL EIP released after its TTL")
    assert time.monotonic() - gone_at >= 13
    assert len(releases_of(w, f_aid)) == 1 and len(releases_of(w, t_aid)) == 1
    wait_for(lambda: w.podeip("ttl-1") is None and w.podeip("follow-1") is None, 30,
             "PodEIPs deleted")


def test_leader_killed_mid_gc(make_world):
    w = two_nodes(make_world)
    names = [f"orphan-{i}" for i in range(4)]
    for n in names:
        w.create_pod(n, {P + "pod-with-eip": "true"}, node="node-2")
    aids = [w.wait_bound(n)["metadata"]["annotations"][P + "allocated-eip-id"] for n in names]
    w.kill_agent(w.a2)

    # make node-1's agent the leader for sure, then slow its releases down
    wait_for(lambda: w.agent_get(w.a1, "/v1/eips")[0] == 200, 40, "node-1 leads")
    w.cloud_faults({"action": "ReleaseEipAddress", "latency_ms": 1500})
    w.kube.call("DELETE", "/api/v1/nodes/node-2")
    # the leader starts releasing; kill it while it does
    wait_for(lambda: any(c["action"] == "ReleaseEipAddress" for c in w.cloud_calls()), 60,
             "a release started")
    w.kill_agent(w.a1)
    w.cloud_clear_faults()
    # a new agent (node-1 again, restarted) becomes the leader once the Lease expires
    w.a1 = w.start_agent("node-1", config=GC)
    wait_for(lambda: all(w.eip(a) is None for a in aids), 90, "every orphan released")
    for a in aids:
        assert len(releases_of(w, a)) == 1, (a, releases_of(w, a))
    w.assert_no_leaks()


def test_ack_podeip_adopted_without_a_new_allocation(make_world):
    """A pod whose EIP ack-extend-network-controller allocated, bound and recorded
    (PodEIP with its finalizer, pod annotations) is adopted as it is; on deletion the
    EIP is released and the record goes, finalizer and all."""
    w = make_world(nodes=1)
    w.create_pod("migrated", {L + "pod-with-eip": "true"}, node="node-1")
    pod = wait_for(lambda: (lambda p: p if p and p["status"].get("podIP") else None)(w.pod("migrated")),
                   20, "pod IP")
    ip = pod["status"]["podIP"]
    eni = next(e for e in w.cloud.call("GET", "/enis")[1]["enis"]
               if ip in [s["PrivateIpAddress"] for s in e["PrivateIpSets"]["PrivateIpSet"]])
    aid = w.create_eip(Name="ack")["AllocationId"]
    w.cloud_api("AssociateEipAddress", AllocationId=aid, InstanceId=eni["NetworkInterfaceId"],
                InstanceType="NetworkInterface", PrivateIpAddress=ip)
    wait_for(lambda: w.eip(aid)["Status"] == "InUse", 20, "InUse")
    addr = w.eip(aid)["IpAddress"]
    w.kube.call("POST", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips", {
        "apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP",
        "metadata": {"name": "migrated", "namespace": "default",
                     "finalizers": ["podeip-controller.alibabacloud.com/finalizer"]},
        "spec": {"allocationID": aid, "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}}})
    w.kube.call("PATCH", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips/migrated/status",
                {"status": {"eipAddress": addr, "networkInterfaceID": eni["NetworkInterfaceId"],
                            "privateIPAddress": ip, "status": "InUse", "podLastSeen": None}},
                ctype="application/merge-patch+json")
    w.patch_pod("migrated", {"metadata": {"annotations": {L + "allocated-eipAddress": addr}}})
    w.agent = w.start_agent("node-1", config=GC)
    pod = w.wait_bound("migrated")
    assert pod["metadata"]["annotations"][P + "allocated-eip-id"] == aid
    assert not [c for c in w.cloud_calls("AllocateEipAddress")
                if c.get("client_token", "").startswith("eip-agent")], "no new allocation"
    assert w.tags(w.eip(aid))["eip-agent/pod-uid"] == pod["metadata"]["uid"]
    w.delete_pod("migrated")
    wait_for(lambda: w.eip(aid) is None, 30, "released with its pod")
    wait_for(lambda: w.podeip("migrated") is None, 20, "PodEIP gone (finalizer removed)")
