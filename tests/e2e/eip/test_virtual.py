# SPDX-License-Identifier: MIT
"""A virtual node (ACS/ECI): no DaemonSet there and no instance metadata; the same
binary with NODE_NAME set to the virtual node serves it. Each pod owns an ENI
whose primary address is the pod IP: ENIs come from DescribeNetworkInterfaces
(one listing for a burst), and the association leaves PrivateIpAddress out."""
from world import P, wait_for


def virtual_pod(w, name):
    body = w.pod_body(name, {P + "pod-with-eip": "true"}, node="virtual-node-1")
    body["spec"]["tolerations"] = [{"key": "virtual-kubelet.io/provider", "operator": "Exists",
                                    "effect": "NoSchedule"}]
    return w.kube.call("POST", "/api/v1/namespaces/default/pods", body)[1]


def test_virtual_node_pods_bound_through_their_own_enis(make_world):
    w = make_world(nodes=1, virtual_nodes=1)
    agent = w.start_agent("virtual-node-1")
    names = [f"eci-{i}" for i in range(4)]
    for n in names:
        virtual_pod(w, n)
    pods = [w.wait_bound(n, timeout=60) for n in names]
    enis = {}
    for p in pods:
        assert p["spec"]["nodeName"] == "virtual-node-1"
        e = w.eips_of_uid(p["metadata"]["uid"])[0]
        assert e["Status"] == "InUse"
        # a primary-IP binding: described with an empty PrivateIpAddress
        assert e["PrivateIpAddress"] == ""
        enis[e["InstanceId"]] = p["status"]["podIP"]
        view = w.view(agent, p["metadata"]["name"])
        assert view["networkInterfaceId"] == e["InstanceId"]
    assert len(enis) == len(names), "each pod its own ENI"
    assocs = [c for c in w.cloud_calls("AssociateEipAddress") if c["http_status"] == 200]
    assert assocs and all("PrivateIpAddress" not in c["params"] for c in assocs)
    # ENIs from the API, no metadata on a virtual node; the burst used listings
    enis_calls = w.cloud_calls("DescribeNetworkInterfaces")
    assert enis_calls and len(enis_calls) < 2 * len(names), len(enis_calls)
    assert not [c for c in w.cloud_calls("Metadata")]
    for n in names:
        w.delete_pod(n)
    wait_for(lambda: not [e for e in w.eips()], 60, "released")
    w.assert_no_leaks()
