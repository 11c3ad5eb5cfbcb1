# SPDX-License-Identifier: MIT
"""kill -9 of the agent at each step of a bind and of a release, then a restart:
one EIP per pod uid, none leaked, none left on a freed IP. Nothing is stored
locally: the agent rebuilds from the pods, their PodEIPs and the cloud's tags."""
import pytest

from world import P, wait_for


def auto():
    return {P + "pod-with-eip": "true"}


def uid_of(w, name):
    return w.pod(name)["metadata"]["uid"]


def eip_of(w, name):
    e = w.eips_of_uid(uid_of(w, name))
    return e[0] if len(e) == 1 else None


# Each: (what it stops on, how to make the agent dwell there, how to see it is there)
BIND_STEPS = {
    "allocate-in-flight": (
        lambda w: w.cloud_faults({"action": "AllocateEipAddress", "latency_ms": 1500}),
        lambda w: w.wait_view(w.agent, "p", lambda v: v["reason"] == "Allocating")),
    "allocated-not-associated": (
        lambda w: w.cloud_faults({"action": "AssociateEipAddress", "hang": True}),
        lambda w: wait_for(lambda: w.cloud_calls("AssociateEipAddress"), 20, "associate sent")),
    "associating": (
        lambda w: w.cloud_config(associate_delay=4.0),
        lambda w: wait_for(lambda: (eip_of(w, "p") or {}).get("Status") == "Associating", 20,
                           "Associating")),
    "in-use-not-written": (
        lambda w: w.kube_faults(hang=True, verbs=["patch"], paths="/pods/p/status"),
        lambda w: wait_for(lambda: (eip_of(w, "p") or {}).get("Status") == "InUse", 20, "InUse")),
    "in-use-podeip-not-written": (
        lambda w: w.kube_faults(hang=True, paths="podeips", verbs=["create", "update", "patch"]),
        lambda w: in_use_not_ready(w)),
}


def in_use_not_ready(w):
    """InUse, the PodEIP write hanging: the pod's condition is not True yet (the
    durable record goes first, so a Ready pod's release strategy survives the
    agent)."""
    wait_for(lambda: w.cloud_calls("AssociateEipAddress"), 20, "associate sent")
    w.wait_view(w.agent, "p", lambda v: v["reason"] == "Recording")
    assert (eip_of(w, "p") or {}).get("Status") == "InUse"
    assert (w.condition(w.pod("p")) or {}).get("status") != "True"


@pytest.mark.parametrize("step", list(BIND_STEPS))
def test_kill_during_bind(make_world, step):
    w = make_world(nodes=1)
    w.agent = w.start_agent("node-1")
    induce, reached = BIND_STEPS[step]
    induce(w)
    w.create_pod("p", auto())
    reached(w)
    w.kill_agent(w.agent)
    w.cloud_clear_faults()
    w.kube_clear_faults()
    w.cloud_config(associate_delay=0.3)
    w.agent = w.start_agent("node-1")
    pod = w.wait_bound("p", timeout=60)
    wait_for(lambda: w.podeip("p"), 20, "PodEIP written")
    eips = w.eips_of_uid(pod["metadata"]["uid"])
    assert len(eips) == 1, f"{step}: {eips}"
    assert eips[0]["Status"] == "InUse" and eips[0]["PrivateIpAddress"] == pod["status"]["podIP"]
    assert w.podeip("p")["spec"]["allocationID"] == eips[0]["AllocationId"]
    allocs = w.cloud_calls("AllocateEipAddress")
    tokens = {c["client_token"] for c in allocs if c.get("http_status") == 200}
    assert len(tokens) <= 1, f"{step}: more than one ClientToken for one pod: {tokens}"
    w.assert_no_leaks()


RELEASE_STEPS = {
    "dead-before-deletion": (
        lambda w: None,
        lambda w: None),
    "unassociate-in-flight": (
        lambda w: w.cloud_faults({"action": "UnassociateEipAddress", "latency_ms": 1500}),
        lambda w: w.wait_view(w.agent, "p", lambda v: v["reason"] == "Unassociating")),
    "unassociating": (
        lambda w: w.cloud_config(unassociate_delay=4.0),
        lambda w: wait_for(lambda: any(e["Status"] == "Unassociating" for e in w.eips()), 20,
                           "Unassociating")),
    "podeip-delete-hung": (
        lambda w: w.kube_faults(hang=True, verbs=["delete"], paths="podeips"),
        lambda w: wait_for(lambda: any(e["Status"] == "Available" for e in w.eips()), 20,
                           "unassociated")),
    "release-in-flight": (
        lambda w: w.cloud_faults({"action": "ReleaseEipAddress", "latency_ms": 1500}),
        lambda w: w.wait_view(w.agent, "p", lambda v: v["reason"] == "Releasing")),
}


@pytest.mark.parametrize("step", list(RELEASE_STEPS))
def test_kill_during_release(make_world, step):
    w = make_world(nodes=1)
    w.agent = w.start_agent("node-1")
    w.create_pod("p", auto())
    pod = w.wait_bound("p")
    uid, ip = pod["metadata"]["uid"], pod["status"]["podIP"]
    induce, reached = RELEASE_STEPS[step]
    induce(w)
    if step == "dead-before-deletion":
        w.kill_agent(w.agent)
        w.delete_pod("p")
    else:
        w.delete_pod("p")
        reached(w)
        w.kill_agent(w.agent)
    w.cloud_clear_faults()
    w.kube_clear_faults()
    w.cloud_config(unassociate_delay=0.3)
    w.wait_pod_gone("p")
    # the freed IP goes to the next pod while no agent runs
    w.create_pod("next", {})
    nxt = wait_for(lambda: (w.pod("next") or {}).get("status", {}).get("podIP"), 20, "next IP")
    if step == "dead-before-deletion":
        # the next pod got the freed IP with the old pod's EIP still on it
        assert any("now pod next's" in b for b in w.leaks()), w.leaks()
    w.agent = w.start_agent("node-1")
    wait_for(lambda: not w.eips_of_uid(uid), 60, f"{step}: EIP of the gone pod released")
    wait_for(lambda: w.podeip("p") is None, 20, f"{step}: PodEIP deleted")
    w.wait_no_leaks()
    print(f"{step}: pod IP {ip}, next pod got {nxt}")
