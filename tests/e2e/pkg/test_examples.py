# SPDX-License-Identifier: MIT
"""daemonset/examples/ applied with kubectl to the simulated cluster, one agent per
node listening where the DaemonSet's does ($HOST_IP:9469). Every example pod is
bound as its annotations ask. The simulated kubelet runs no containers, so the
test plays each init-container itself, as written in the example: the long-poll
of init-wait.yaml and game-server-udp.yaml runs its `sh -c` command with curl
sending from the pod's address (what the pod's network namespace would do), and
the grep of downward-api.yaml runs over an annotations file the test refreshes
from the API server the way the kubelet writes it. Each must succeed, and only
after the pod's EIP is bound. Deleting the examples releases every Follow EIP;
the StatefulSet's (TTL, and a recreated db-0 gets its EIP back) and the Static
one are kept."""
import json
import os
import re
import subprocess
import threading
import time
from datetime import datetime

import pytest
import yaml

from pkgtest import node_cidr, render
from world import GATE, HttpJson, wait_for

NS = "eip-examples"
PLACEHOLDER = "eip-replacewithyourid"
LEGACY_ADDRESS = "k8s.aliyun.com/allocated-eipAddress"


def start_agents(w, nodes):
    """One agent per node on HOST_IP:9469 (the node's address), as the DaemonSet runs."""
    agents = {}
    for n in nodes:
        ip = w.info["nodes"][n]["private_ip"]
        agents[n] = w.start_agent(n, env={"EIP_AGENT_LISTEN": f"{ip}:9469"}, wait_ready=False)
        assert agents[n].host == ip
    for n, a in agents.items():
        wait_for(lambda: get(a, "/readyz")[0] == 200, 30, f"agent of {n} ready")
    return agents


def get(a, path):
    return HttpJson(a.url("")).call("GET", path, ok=None)


def wait_view(a, name, pred, timeout=30):
    def ok():
        st, v = get(a, f"/v1/pods/{NS}/{name}")
        return v if st == 200 and pred(v) else None
    return wait_for(ok, timeout, f"agent view of {NS}/{name}")


def pods(w):
    _, lst = w.kube.call("GET", f"/api/v1/namespaces/{NS}/pods")
    return {p["metadata"]["name"]: p for p in lst["items"]}


def curl_shim(tmp_path):
    """A `curl` first in PATH that sends from $EIP_TEST_POD_IP, as curl inside the pod would."""
    d = tmp_path / "pod-bin"
    d.mkdir(exist_ok=True)
    shim = d / "curl"
    shim.write_text('#!/bin/sh\nexec /usr/bin/curl --interface "$EIP_TEST_POD_IP" "$@"\n')
    shim.chmod(0o755)
    return d


def resolve_env(container, pod):
    """The container's env as the kubelet resolves it (the downward API fields used here)."""
    out = {}
    for e in container.get("env", []):
        if "value" in e:
            out[e["name"]] = e["value"]
            continue
        path = e["valueFrom"]["fieldRef"]["fieldPath"]
        m = re.fullmatch(r"metadata\.annotations\['(.+)'\]", path)
        if m:
            out[e["name"]] = pod["metadata"].get("annotations", {}).get(m.group(1), "")
        elif path == "status.hostIP":
            out[e["name"]] = pod["status"]["hostIP"]
        elif path == "metadata.name":
            out[e["name"]] = pod["metadata"]["name"]
        elif path == "metadata.namespace":
            out[e["name"]] = pod["metadata"]["namespace"]
        else:
            raise AssertionError(f"no downward API value for {path}")
    return out


def downward_annotations(pod):
    """The file the kubelet writes for fieldPath metadata.annotations: sorted key="value" lines."""
    ann = pod["metadata"].get("annotations", {})
    return "\n".join(f"{k}={json.dumps(v)}" for k, v in sorted(ann.items()))


class InitStep:
    """One init-container's command running as the pod would run it."""

    def __init__(self, w, pod, container, tmp_path, extra_env=None, files=None):
        self.name = pod["metadata"]["name"]
        self.started = time.time()
        cmd = container["command"]
        assert cmd[:2] == ["sh", "-c"], cmd
        script = cmd[2]
        for src, dst in (files or {}).items():
            script = script.replace(src, dst)
        env = {"PATH": f"{curl_shim(tmp_path)}:/usr/bin:/bin",
               "EIP_TEST_POD_IP": pod["status"]["podIP"], **resolve_env(container, pod),
               **(extra_env or {})}
        self.out = tmp_path / f"init-{self.name}.log"
        self.proc = subprocess.Popen(["/bin/sh", "-c", script], env=env,
                                     stdout=open(self.out, "w"), stderr=subprocess.STDOUT)
        self.ended = None

    def wait(self, timeout=60):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"init step of {self.name} still waiting after {timeout}s:\n"
                                 + self.out.read_text())
        self.ended = time.time()
        assert rc == 0, f"init step of {self.name} exited {rc}:\n" + self.out.read_text()
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def bound_at(w, agents, pod):
    """When the agent of the pod's node saw its EIP bound (wall clock), and its view."""
    a = agents[pod["spec"]["nodeName"]]
    v = wait_view(a, pod["metadata"]["name"], lambda v: v["state"] == "Bound")
    return datetime.fromisoformat(v["boundAt"].replace("Z", "+00:00")).timestamp(), v


def test_examples_bind_and_their_init_steps_wait_for_it(make_world, tmp_path, rng):
    w = make_world(nodes=2, args=("--pod-stop-delay", "1", "--node-cidr", node_cidr(rng)))
    agents = start_agents(w, ["node-1", "node-2"])
    # associations take a while, so every init step starts before its pod is bound
    w.cloud_config(associate_delay=2.0)
    static = w.create_eip(Name="demo-static")["AllocationId"]
    objs = render("daemonset/examples")
    text = yaml.safe_dump_all(objs)
    assert PLACEHOLDER in text
    w.kubectl("apply", "-f", "-", input=text.replace(PLACEHOLDER, static))
    spec = {(o["kind"], o["metadata"]["name"]): o for o in objs}

    # start each init step as soon as its pod has an IP (before it can be bound)
    steps, kubelet_files, stop = {}, {}, threading.Event()
    deadline = time.monotonic() + 60
    while len(steps) < 4:  # init-wait, downward-api, two game servers
        assert time.monotonic() < deadline, f"init steps started: {sorted(steps)}"
        for name, p in pods(w).items():
            if name in steps or not p["spec"].get("initContainers") or \
                    not p.get("status", {}).get("podIP") or not p["spec"].get("nodeName"):
                continue
            # not bound yet: the agent says so
            st, v = get(agents[p["spec"]["nodeName"]], f"/v1/pods/{NS}/{name}/ready")
            assert st in (404, 503), (name, v)
            files = {}
            if name == "downward-api":
                d = tmp_path / "podinfo"
                d.mkdir()
                kubelet_files[name] = d / "annotations"
                kubelet_files[name].write_text(downward_annotations(p))
                files = {"/etc/podinfo": str(d)}
            steps[name] = InitStep(w, p, p["spec"]["initContainers"][0], tmp_path, files=files)
        time.sleep(0.05)
    assert sum(1 for n in steps if n.startswith("game-server-")) == 2, sorted(steps)

    # the kubelet refreshes the downward-API file from the API server
    def kubelet():
        while not stop.wait(0.2):
            for name, f in kubelet_files.items():
                p = w.pod(name, NS)
                if p:
                    tmp = f.with_suffix(".tmp")
                    tmp.write_text(downward_annotations(p))
                    os.replace(tmp, f)
    th = threading.Thread(target=kubelet, daemon=True)
    th.start()
    try:
        for s in steps.values():
            s.wait(90)
    finally:
        stop.set()
        th.join(5)
        for s in steps.values():
            s.stop()

    # each step ended only after its pod's EIP was written on it (the agent's patch of
    # pods/status: the condition and the annotations), which it started before
    calls = w.kube_calls()["calls"]
    for name, s in steps.items():
        t_bound = min(c["time"] for c in calls if c.get("verb") == "patch" and
                      c.get("subresource") == "status" and c.get("name") == name and
                      c.get("namespace") == NS and c.get("user", "").endswith(":eip-agent") and
                      c.get("status") == 200)
        assert s.started < t_bound <= s.ended, (name, s.started, t_bound, s.ended)
        p = w.pod(name, NS)
        assert w.condition(p)["status"] == "True"
        _, v = bound_at(w, agents, p)
        # PUBLIC_IP of the game server, resolved when its container starts: the EIP
        if name.startswith("game-server-"):
            env = resolve_env(p["spec"]["containers"][0], p)
            assert env["PUBLIC_IP"] == v["eipAddress"] and env["PUBLIC_PORT"] == "7777"
        if name == "downward-api":
            assert f'{LEGACY_ADDRESS}="{v["eipAddress"]}"' in s.out.read_text()

    # every example pod bound, as its annotations ask
    every = pods(w)
    assert len(every) == 10, sorted(every)
    views = {}
    for name, p in every.items():
        w.wait_bound(name, NS, timeout=60)
        _, views[name] = bound_at(w, agents, w.pod(name, NS))
        e = w.eip(views[name]["allocationId"])
        assert e["Status"] == "InUse" and e["PrivateIpAddress"] == p["status"]["podIP"], e
        ann = w.pod(name, NS)["metadata"]["annotations"]
        assert ann[LEGACY_ADDRESS] == e["IpAddress"]
    by_prefix = lambda pre: [v for n, v in views.items() if n.startswith(pre)]  # noqa: E731
    assert views["static-eip"]["allocationId"] == static and views["static-eip"]["type"] == "Static"
    for v in by_prefix("web-"):
        assert v["releaseStrategy"] == "Follow" and w.eip(v["allocationId"])["Bandwidth"] == "10"
    for v in by_prefix("db-"):
        assert v["releaseStrategy"] == "TTL" and v["releaseAfter"] == "10m", v
    for v in by_prefix("game-server-"):
        e = w.eip(v["allocationId"])
        assert e["Bandwidth"] == "20" and e["InternetChargeType"] == "PayByBandwidth", e
        assert w.tags(e)["app"] == "game-server"
    # the readiness gates: Ready only now
    for name in ("ready-gated", "db-0", "db-1"):
        p = w.pod(name, NS)
        assert p["spec"]["readinessGates"] == [{"conditionType": GATE}]
        assert w.condition(p, "Ready")["status"] == "True"
    assert {k for k, _ in spec} == {"Namespace", "Deployment", "StatefulSet", "Pod"}

    # the StatefulSet's promise: db-0 recreated (a new pod of the same name) gets its EIP back
    old = w.pod("db-0", NS)["metadata"]["uid"]
    w.delete_pod("db-0", NS)
    again = wait_for(lambda: (lambda p: p if p and p["metadata"]["uid"] != old and
                              (w.condition(p) or {}).get("status") == "True" else None)(
        w.pod("db-0", NS)), 60, "db-0 recreated and bound")
    assert again["metadata"]["annotations"][LEGACY_ADDRESS] == views["db-0"]["eipAddress"]
    _, views["db-0"] = bound_at(w, agents, again)

    # deleting the examples: Follow EIPs released, TTL and Static kept
    follow = {v["allocationId"] for n, v in views.items() if v["releaseStrategy"] == "Follow"
              and v["type"] == "Auto"}
    kept = {v["allocationId"] for v in views.values()} - follow
    assert len(follow) == 7 and len(kept) == 3
    w.kubectl("delete", "namespace", NS, "--wait=false")
    wait_for(lambda: not pods(w), 60, "every example pod gone")
    wait_for(lambda: all(w.eip(a) is None for a in follow), 60, "Follow EIPs released")
    for a in kept:
        assert w.eip(a) is not None, a


@pytest.mark.parametrize("example", ["init-wait", "downward-api"])
def test_init_step_fails_while_not_bound(make_world, tmp_path, example, rng):
    """The init steps really wait: with the cloud refusing every association, a step
    is still waiting when its pod has been Failed for a while."""
    w = make_world(nodes=1, args=("--node-cidr", node_cidr(rng)))
    agents = start_agents(w, ["node-1"])
    w.cloud_faults({"action": "AssociateEipAddress", "preset": "OperationFailed.SystemBusy"})
    obj = next(o for o in render("daemonset/examples") if o["metadata"]["name"] == example)
    obj["metadata"]["namespace"] = "default"
    w.kubectl("apply", "-f", "-", input=json.dumps(obj))
    p = wait_for(lambda: (lambda q: q if q and q.get("status", {}).get("podIP") else None)(
        w.pod(example)), 20, "pod IP")
    d = tmp_path / "podinfo"
    d.mkdir()
    (d / "annotations").write_text(downward_annotations(p))
    s = InitStep(w, p, p["spec"]["initContainers"][0], tmp_path,
                 files={"/etc/podinfo": str(d)})
    try:
        # the pod failed, and failed again at the retry; the step is still at it
        wait_for(lambda: (lambda r: r[0] == 200 and r[1]["state"] == "Failed" and
                          re.search(r"\(retry [2-9]", r[1]["message"]))(
            get(agents["node-1"], f"/v1/pods/default/{example}")), 60, f"{example} failed twice")
        (d / "annotations").write_text(downward_annotations(w.pod(example)))
        if example == "downward-api":
            wait_for(lambda: s.out.read_text().count("waiting for the EIP") >= 2 or
                     s.proc.poll() is not None, 30, "two rounds of the grep")
        assert s.proc.poll() is None, s.out.read_text()
        assert w.condition(w.pod(example)) is None or \
            w.condition(w.pod(example))["status"] != "True"
    finally:
        s.stop()
    w.cloud_clear_faults()
