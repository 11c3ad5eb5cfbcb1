# SPDX-License-Identifier: MIT
"""The local status API as init-containers, readiness probes and people use it:
long-polls from the pod's own address (/v1/self/ready?wait=), answered as the
condition is written; a pod not seen yet is waited for; the probe pattern sees
503 until the EIP is InUse and written, 200 after."""
import json
import threading
import time

from world import P, wait_for


def auto():
    return {P + "pod-with-eip": "true"}


def test_init_container_long_poll_from_pod_address(world):
    w = world
    w.cloud_config(associate_delay=1.5)
    w.create_pod("init-1", auto())
    ip = wait_for(lambda: (w.pod("init-1") or {}).get("status", {}).get("podIP"), 20, "pod IP")
    t0 = time.time()
    st, view = w.agent_get(w.agent, "/v1/self/ready?wait=60", timeout=70, source=ip)
    answered = time.time()
    assert st == 200, view
    assert view["name"] == "init-1" and view["podIP"] == ip and view["state"] == "Bound"
    # it was held (the association takes 1.5 s), and it went out once the pod said so
    assert answered - t0 > 0.5
    pod = w.pod("init-1")
    cond = w.condition(pod)
    assert cond and cond["status"] == "True"
    e = w.eip(view["allocationId"])
    assert e["Status"] == "InUse" and e["PrivateIpAddress"] == ip
    # the condition patch came before the answer
    patches = [c for c in w.kube_calls()["calls"]
               if c.get("verb") == "patch" and c.get("subresource") == "status"
               and c.get("name") == "init-1" and c.get("status") == 200]
    assert patches
    print(f"long-poll answered {answered - t0:.3f}s after it was asked")


def test_wait_for_pod_not_seen_yet(world):
    w = world
    out = {}

    def ask():
        out["r"] = w.agent_get(w.agent, "/v1/pods/default/later/ready?wait=60", timeout=70)
    th = threading.Thread(target=ask)
    th.start()
    time.sleep(0.3)  # the request is in before the pod exists (nothing to poll for)
    assert th.is_alive()
    w.create_pod("later", auto())
    th.join(70)
    st, view = out["r"]
    assert st == 200 and view["state"] == "Bound", view
    assert w.condition(w.pod("later"))["status"] == "True"


def test_wait_times_out_with_503(world):
    w = world
    t0 = time.monotonic()
    st, body = w.agent_get(w.agent, "/v1/pods/default/never/ready?wait=1", timeout=10)
    assert st == 503 and time.monotonic() - t0 >= 0.9
    st, body = w.agent_get(w.agent, "/v1/pods/default/never/ready")
    assert st == 404 and "never" in body["error"]
    st, body = w.agent_get(w.agent, "/v1/pods/default/never/ready?wait=abc")
    assert st == 400


def test_readiness_probe_pattern(world):
    """What an exec readiness probe (curl -f $HOST_IP:9469/v1/self/ready) sees."""
    w = world
    w.cloud_config(associate_delay=1.0)
    w.create_pod("probe-1", auto())
    ip = wait_for(lambda: (w.pod("probe-1") or {}).get("status", {}).get("podIP"), 20, "pod IP")
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st, view = w.agent_get(w.agent, "/v1/self/ready", source=ip)
        seen.append(st)
        if st == 200:
            break
        time.sleep(0.1)
    assert seen[-1] == 200 and 503 in seen, seen
    assert all(s in (503, 404) for s in seen[:-1]), seen
    # once 200, the EIP is InUse and written on the pod
    assert w.condition(w.pod("probe-1"))["status"] == "True"
    st, view = w.agent_get(w.agent, "/v1/self", source=ip)
    assert st == 200 and view["state"] == "Bound"


def test_pods_list_and_unknown(world):
    w = world
    w.create_pod("l-1", auto())
    w.create_pod("plain", {})  # not an EIP pod: not listed
    w.wait_bound("l-1")
    st, out = w.agent_get(w.agent, "/v1/pods")
    assert st == 200 and out["node"] == "node-1"
    names = [p["name"] for p in out["pods"]]
    assert names == ["l-1"], names
    st, out = w.agent_get(w.agent, "/v1/pods/default/plain")
    assert st == 404
    st, out = w.agent_get(w.agent, "/v1/self")  # from 127.0.0.1: no pod there
    assert st == 404
    st, out = w.agent_get(w.agent, "/v1/nothing")
    assert st == 404


def test_readyz_names_why_the_pods_are_not_listed(make_world, tmp_path):
    """A service account without the package's RBAC: /readyz says the list was
    forbidden, not just that it is not synced yet."""
    w = make_world(nodes=1)
    viewer = w.info["kube"]["tokens"]["viewer"]
    tok = tmp_path / "viewer-token"
    tok.write_text(viewer)
    kc = (w.dir / "agent.kubeconfig").read_text().replace(
        str(w.info["kube"]["token_file"]), str(tok))
    path = tmp_path / "viewer.kubeconfig"
    path.write_text(kc)
    a = w.start_agent("node-1", env={"KUBECONFIG": str(path)}, wait_ready=False)

    def forbidden():
        st, body = w.agent_get(a, "/readyz")
        return st == 503 and any("forbidden" in r for r in body.get("reasons", [])) and body
    body = wait_for(forbidden, 30, "/readyz naming the 403")
    assert any("pods-synced" in r for r in body["reasons"])
