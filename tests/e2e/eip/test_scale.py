# SPDX-License-Identifier: MIT
"""Many pods at once on one node, and two nodes side by side: all bound, the
InUse poller batches (at most one DescribeEipAddresses per 10 pods), the agent
stays under the cloud's documented rate limits (AllocateEipAddress 120 a minute
paces the burst: about 100 s for 200 pods), and each agent touches only its own
node's pods."""
import time

from world import P, wait_for

BURST = 200


def deployment(name, replicas, node=None, annotations=None):
    tmpl_spec = {"terminationGracePeriodSeconds": 1,
                 "readinessGates": [{"conditionType": "k8s.aliyun.com/eip"}],
                 "containers": [{"name": "c", "image": "busybox"}]}
    if node:
        tmpl_spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name},
                                               "annotations": annotations or
                                               {P + "pod-with-eip": "true"}},
                                  "spec": tmpl_spec}}}


def pods_of(w, app):
    _, out = w.kube.call("GET", f"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}")
    return out["items"]


def bound_count(w, app):
    return sum(1 for p in pods_of(w, app)
               if (w.condition(p) or {}).get("status") == "True")


def test_burst_of_200_pods(make_world):
    w = make_world(nodes=1, eip_quota=BURST + 50)
    w.agent = w.start_agent("node-1", config="kubeClientQPS: 500\nkubeClientBurst: 1000\n")
    t0 = time.monotonic()
    w.kube.call("POST", "/apis/apps/v1/namespaces/default/deployments",
                deployment("burst", BURST))
    wait_for(lambda: bound_count(w, "burst") == BURST, 600, f"{BURST} pods bound", interval=1)
    took = time.monotonic() - t0
    describes = [c for c in w.cloud_calls("DescribeEipAddresses")]
    allocs = [c for c in w.cloud_calls("AllocateEipAddress") if c.get("http_status") == 200]
    assocs = [c for c in w.cloud_calls("AssociateEipAddress") if c.get("http_status") == 200]
    pods = pods_of(w, "burst")
    uids = {p["metadata"]["uid"] for p in pods}
    per_uid = {}
    for e in w.eips():
        u = w.tags(e).get("eip-agent/pod-uid")
        per_uid[u] = per_uid.get(u, 0) + 1
    assert all(per_uid.get(u) == 1 for u in uids), "one EIP per pod"
    st, metrics = w.agent_get(w.agent, "/metrics")
    print(f"\n{BURST} pods bound in {took:.1f} s: {len(allocs)} AllocateEipAddress, "
          f"{len(assocs)} AssociateEipAddress, {len(describes)} DescribeEipAddresses "
          f"({len(describes) / BURST:.3f} per pod)")
    assert len(allocs) == BURST
    assert len(describes) <= BURST // 10, f"{len(describes)} describes for {BURST} pods"
    # paced under the documented per-account limits: the cloud never had to throttle
    throttled = [c for c in w.cloud_calls() if c.get("code", "").startswith("Throttling")]
    assert not throttled, throttled[:3]
    w.assert_no_leaks()


def test_two_nodes_each_agent_its_own_pods(make_world):
    w = make_world(nodes=2)
    a1 = w.start_agent("node-1")
    a2 = w.start_agent("node-2")
    w.kube.call("POST", "/apis/apps/v1/namespaces/default/deployments",
                deployment("n1", 3, node="node-1"))
    w.kube.call("POST", "/apis/apps/v1/namespaces/default/deployments",
                deployment("n2", 3, node="node-2"))
    wait_for(lambda: bound_count(w, "n1") == 3 and bound_count(w, "n2") == 3, 60, "6 bound")
    for agent, app, node in ((a1, "n1", "node-1"), (a2, "n2", "node-2")):
        st, out = w.agent_get(agent, "/v1/pods")
        names = sorted(p["name"] for p in out["pods"])
        assert names == sorted(p["metadata"]["name"] for p in pods_of(w, app)), names
        for p in pods_of(w, app):
            e = w.eips_of_uid(p["metadata"]["uid"])[0]
            assert w.tags(e)["eip-agent/node"] == node
    # the API server saw each agent write only its own pods
    for c in w.kube_calls()["calls"]:
        if c.get("resource") == "pods" and c.get("verb") == "patch":
            assert c["name"].startswith(("n1-", "n2-")), c
    # a node's pods deleted: only its agent acts
    w.kube.call("DELETE", "/apis/apps/v1/namespaces/default/deployments/n2")
    wait_for(lambda: not pods_of(w, "n2"), 60, "n2 pods gone")
    wait_for(lambda: len(w.eips()) == 3, 60, "n2 EIPs released")
    assert bound_count(w, "n1") == 3
    w.assert_no_leaks()
