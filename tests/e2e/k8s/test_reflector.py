# SPDX-License-Identifier: MIT
"""k8s/ against the simulated API server: list+watch (reflector), faults,
restarts, token rotation, kubeconfig variants, status patches, events, leases."""
import base64
import os
import shutil
import signal
import time
from urllib.parse import parse_qs

import pytest


def q(call):
    return {k: v[-1] for k, v in parse_qs(call.get("query", ""), keep_blank_values=True).items()}


def pod_lists(sim, mark):
    return [c for c in sim.calls(mark)["calls"]
            if c.get("resource") == "pods" and c.get("verb") == "list" and c["method"] == "GET"]


def pod_watches(sim, mark):
    return [c for c in sim.calls(mark)["calls"]
            if c.get("resource") == "pods" and c.get("verb") == "watch"]


def names(lines, typ):
    return [l["name"] for l in lines if l.get("type") == typ]


def last_rv_printed(lines):
    """The driver's last seen resourceVersion in lines: the largest of its events'
    and of its lists' (a list's can be newer than every object in it)."""
    return max((int(l["rv"]) for l in lines
                if l["type"] in ("ADDED", "MODIFIED", "DELETED", "SYNCED") and l.get("rv")), default=0)


def settle(d, sim, *pods):
    """Waits until the pods are Running, unchanged for a moment, and the driver has
    seen their current versions; returns the driver's last seen resourceVersion."""
    deadline = time.monotonic() + 15
    prev = None
    while time.monotonic() < deadline:
        cur = {}
        for name in pods:
            pod = sim.get_pod(name)
            if pod.get("status", {}).get("phase") != "Running":
                break
            cur[name] = pod["metadata"]["resourceVersion"]
        else:
            if cur == prev and all(any(l.get("name") == n and l.get("rv") == rv for l in list(d.lines))
                                   for n, rv in cur.items()):
                return str(last_rv_printed(list(d.lines)))
            prev = cur
        time.sleep(0.2)
    raise AssertionError(f"pods {pods} did not settle")


def watch(k8s_driver, sim, *extra):
    return k8s_driver("--kubeconfig", sim.agent_kubeconfig, "watch", "--node", "node-1", *extra)


# ---------------------------------------------------------------- list + watch

def test_initial_list_from_cache_and_synced(sim, k8s_driver):
    for i in range(5):
        sim.create_pod(f"p{i}")
    sim.create_pod("other", node="node-2")
    mark = sim.calls_mark()
    d = watch(k8s_driver, sim, "--page-size", "2")
    synced = d.wait_type("SYNCED")
    assert synced["count"] == 5
    assert sorted(names(d.lines, "ADDED")) == [f"p{i}" for i in range(5)]
    assert "other" not in names(d.lines, "ADDED")
    lists = pod_lists(sim, mark)
    # client-go: the first list is resourceVersion "0" with a limit; a real
    # server answers it from its watch cache whole, ignoring the limit. (Paging
    # with continue happens on a "" list and is covered by tests/unit/k8s.)
    assert len(lists) == 1, lists
    first = q(lists[0])
    assert first["resourceVersion"] == "0"
    assert first["limit"] == "2"
    assert first["fieldSelector"] == "spec.nodeName=node-1"
    assert "continue" not in first
    assert lists[0]["user_agent"].startswith("eip-agent/")
    watches = []
    deadline = time.monotonic() + 10
    while not watches and time.monotonic() < deadline:
        watches = pod_watches(sim, mark)
        time.sleep(0.05)
    wq = q(watches[0])
    assert wq["resourceVersion"] == synced["rv"]
    assert wq["allowWatchBookmarks"] == "true"
    assert 300 <= int(wq["timeoutSeconds"]) <= 600
    assert wq["fieldSelector"] == "spec.nodeName=node-1"
    assert d.stop() == 0


def test_create_update_delete_seen(sim, k8s_driver):
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED", count=0)
    created = sim.create_pod("web")
    add = d.wait_type("ADDED", name="web")
    assert add["uid"] == created["metadata"]["uid"]
    sim.api("PATCH", "/api/v1/namespaces/default/pods/web", {"metadata": {"labels": {"x": "1"}}},
            ctype="application/merge-patch+json")
    mod = d.wait_for(lambda l: l.get("type") == "MODIFIED" and l.get("name") == "web"
                     and int(l["rv"]) > int(add["rv"]), what="MODIFIED web")
    assert int(mod["old_rv"]) < int(mod["rv"])  # the handler gets the previous object too
    sim.delete_pod("web")
    gone = d.wait_type("DELETED", name="web")
    assert gone["uid"] == created["metadata"]["uid"]
    # a pod on another node never shows
    sim.create_pod("elsewhere", node="node-2")
    sim.create_pod("marker")
    d.wait_type("ADDED", name="marker")
    assert "elsewhere" not in names(d.lines, "ADDED")
    assert not d.of_type("ERROR")
    assert d.stop() == 0


def test_dropped_watches_rewatch_from_last_rv(sim, k8s_driver):
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED")
    sim.create_pod("a")
    last = settle(d, sim, "a")
    for clean in (False, True):
        mark = sim.calls_mark()
        start = d.index()
        out = sim.faults(drop_watches=True, clean=clean)
        assert out.get("dropped_watches", 0) >= 1
        name = f"after-{'clean' if clean else 'abrupt'}"
        sim.create_pod(name)
        d.wait_type("ADDED", name=name, start=start)
        watches = pod_watches(sim, mark)
        assert watches, "no new watch after the drop"
        assert q(watches[0])["resourceVersion"] == last, (watches[0], last)
        assert not pod_lists(sim, mark), "a dropped watch must not cause a relist"
        last = settle(d, sim, name)
    assert d.stop() == 0


def test_compaction_relist_no_missed_events(sim, k8s_driver):
    for n in ("keep", "gone", "changed"):
        sim.create_pod(n)
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED", count=3)
    last_rv = settle(d, sim, "keep", "gone", "changed")
    # The agent stalls (SIGSTOP); meanwhile its watch is dropped, things change
    # and the server compacts: resuming, the watch from the last RV gets 410.
    d.signal(signal.SIGSTOP)
    try:
        sim.faults(drop_watches=True)
        sim.delete_pod("gone")
        sim.wait_pod_gone("gone")
        sim.api("PATCH", "/api/v1/namespaces/default/pods/changed",
                {"metadata": {"labels": {"v": "2"}}}, ctype="application/merge-patch+json")
        sim.create_pod("new")
        mark = sim.calls_mark()
        sim.faults(compact=True)
        sim.clear_faults()
    finally:
        d.signal(signal.SIGCONT)
    start = d.index()
    d.wait_type("SYNCED", count=3, start=start, timeout=20)
    lines = d.lines[start:]
    assert "gone" in names(lines, "DELETED")
    assert "new" in names(lines, "ADDED")
    assert "changed" in names(lines, "MODIFIED") or "changed" in names(lines, "ADDED")
    assert "keep" not in names(lines, "MODIFIED") + names(lines, "ADDED") + names(lines, "DELETED")
    assert any(l.get("result") == "gone" for l in lines if l["type"] == "ERROR")
    lists = pod_lists(sim, mark)
    assert lists
    # relist from the last resourceVersion seen (not "0", not ""): the largest the
    # driver printed before its 410
    gone_at = next(i for i, l in enumerate(d.lines) if l["type"] == "ERROR" and l.get("result") == "gone")
    seen = last_rv_printed(d.lines[:gone_at])
    assert seen >= int(last_rv)
    assert q(lists[0]).get("resourceVersion") == str(seen)
    # and the watch resumes: later changes still arrive
    sim.create_pod("later")
    d.wait_type("ADDED", name="later", start=start)
    assert d.stop() == 0


def test_apiserver_restart_deletions_after_relist(sim, k8s_driver):
    for n in ("a", "b"):
        sim.create_pod(n)
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED", count=2)
    settle(d, sim, "a", "b")
    # the agent stalls; its watch is gone (nothing of what follows is buffered
    # for it); a pod is deleted; the API server restarts (its watch cache starts
    # at the current resourceVersion, as after a real restart)
    d.signal(signal.SIGSTOP)
    try:
        sim.faults(drop_watches=True)
        sim.delete_pod("a")
        sim.wait_pod_gone("a")
        sim.restart_apiserver(down_seconds=1.0)
        sim.reload()
    finally:
        d.signal(signal.SIGCONT)
    start = d.index()
    deleted = d.wait_type("DELETED", name="a", start=start, timeout=30)
    assert deleted["uid"]
    synced = d.wait_type("SYNCED", start=start, timeout=30)
    assert synced["count"] == 1
    # the deletion came from the relist (mark-and-sweep), after the watch's 410
    assert deleted["_t"] <= synced["_t"]
    assert any(l.get("result") == "gone" for l in d.lines[start:] if l["type"] == "ERROR")
    sim.create_pod("c")
    d.wait_type("ADDED", name="c", start=start, timeout=20)
    assert "b" not in names(d.lines[start:], "DELETED")
    assert d.stop() == 0


def test_apiserver_down_then_back(sim, k8s_driver):
    """Restart while the agent runs: connection errors back off, then it re-watches."""
    d = watch(k8s_driver, sim, "--backoff-initial-ms", "200")
    d.wait_type("SYNCED")
    start = d.index()
    sim.restart_apiserver(down_seconds=2.0)
    sim.create_pod("after-restart")
    d.wait_type("ADDED", name="after-restart", start=start, timeout=30)
    assert d.stop() == 0


def test_429_storm_backs_off(sim, k8s_driver):
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED")
    mark = sim.calls_mark()
    sim.faults(error_rate=1.0, status=429, paths="/api/v1/pods", drop_watches=True)
    t0 = time.monotonic()
    d.wait_for(lambda l: l.get("type") == "ERROR" and l.get("result") == "too-many-requests",
               what="429 seen")
    # let the storm go on for 8 seconds (bounded by the deadline, not a sleep on a race)
    while time.monotonic() - t0 < 8:
        time.sleep(0.2)
    calls = sorted((c for c in sim.calls(mark)["calls"] if c.get("resource") == "pods"),
                   key=lambda c: c["time"])
    # 0.8 s doubling with jitter: at most a handful of attempts in 8 s, not hundreds
    assert 2 <= len(calls) <= 7, [(c["verb"], c["status"], c["time"]) for c in calls]
    # the drop was the first failure (0.8-1.6 s); after it each 429 waits at least
    # the next step of the doubling: 1.6 s, 3.2 s, ...
    gaps = [b["time"] - a["time"] for a, b in zip(calls, calls[1:]) if a["status"] == 429]
    assert gaps, calls
    for i, g in enumerate(gaps):
        assert g >= 0.8 * 2 ** (i + 1) - 0.1, gaps
    sim.clear_faults()
    sim.create_pod("after-storm")
    d.wait_type("ADDED", name="after-storm", timeout=40)
    assert d.stop() == 0


def test_429_retry_after_honoured(sim, k8s_driver):
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED")
    mark = sim.calls_mark()
    sim.faults(error_rate=1.0, status=429, retry_after=3, paths="/api/v1/pods", drop_watches=True)
    d.wait_for(lambda l: l.get("type") == "ERROR" and l.get("result") == "too-many-requests")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 7:
        time.sleep(0.2)
    calls = [c for c in sim.calls(mark)["calls"] if c.get("resource") == "pods"]
    calls.sort(key=lambda c: c["time"])
    # every request that follows a 429 waited at least its Retry-After
    gaps = [b["time"] - a["time"] for a, b in zip(calls, calls[1:]) if a["status"] == 429]
    assert gaps and all(g >= 2.9 for g in gaps), gaps
    sim.clear_faults()
    assert d.stop() == 0


def test_hung_server_dead_watch_restarted(sim, k8s_driver):
    d = watch(k8s_driver, sim, "--watch-timeout", "2", "--grace-ms", "1000")
    d.wait_type("SYNCED")
    start = d.index()
    # the watch ends after its 2 s; the next one hangs: nothing, not even headers
    sim.faults(hang=True, paths="watch=true")
    err = d.wait_for(lambda l: l.get("type") == "ERROR" and "timeoutSeconds" in l.get("detail", ""),
                     timeout=15, what="dead-watch restart", start=start)
    assert err["what"] == "watch"
    sim.clear_faults()
    sim.create_pod("alive")
    d.wait_type("ADDED", name="alive", start=start, timeout=20)
    d.signal(signal.SIGTERM)
    stats = d.wait_type("STATS")
    assert stats["dead_watches"] >= 1
    assert stats["relists"] == 0  # a dead watch is re-watched, not relisted
    assert d.stop() == 0


def test_oversized_watch_event_relists(sim, k8s_driver):
    d = watch(k8s_driver, sim, "--max-event-bytes", "4096")
    d.wait_type("SYNCED")
    start = d.index()
    sim.create_pod("big", annotations={"blob": "x" * 8000})
    d.wait_for(lambda l: l.get("type") == "ERROR" and l.get("result") == "too-large", start=start)
    # the relisted object (lists are not subject to the per-event cap) arrives
    d.wait_type("ADDED", name="big", start=start)
    d.wait_type("SYNCED", start=start)
    assert d.stop() == 0


def test_token_rotation(sim, k8s_driver):
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED")
    mark = sim.calls_mark()
    sim.admin("/rotate-token", {"user": "agent"})
    # force new requests: the cached token is stale now
    sim.faults(drop_watches=True, clean=True)
    sim.create_pod("after-rotation")
    d.wait_type("ADDED", name="after-rotation", timeout=20)
    calls = [c for c in sim.calls(mark)["calls"] if c.get("resource") == "pods"]
    statuses = [c["status"] for c in calls]
    assert statuses.count(401) <= 1, statuses
    assert any(c["status"] == 200 and c["verb"] == "watch" for c in calls), calls
    assert not [l for l in d.lines if l.get("result") == "unauthorized"]
    # a one-off request reads the new token from the file at start
    assert d.stop() == 0


# ---------------------------------------------------------------- configuration

def test_check_ok_and_version(sim, run_driver):
    rc, lines, err = run_driver("--kubeconfig", sim.agent_kubeconfig, "check", "node-1")
    assert rc == 0, (lines, err)
    assert lines[-1]["ok"] and "v1.32.4-sim" in lines[-1]["detail"]


def _kc(tmp, name, server, cluster_lines, user_lines, ctx="sim"):
    text = ("apiVersion: v1\nkind: Config\ncurrent-context: %s\n"
            "contexts:\n- name: sim\n  context: {cluster: c, user: u}\n"
            "clusters:\n- name: c\n  cluster:\n    server: %s\n%s"
            "users:\n- name: u\n  user:\n%s") % (ctx, server, cluster_lines, user_lines)
    p = tmp / name
    p.write_text(text)
    return p


def test_kubeconfig_variants(sim, run_driver, tmp_path):
    server = sim.server
    token = sim.admin_token
    ca_pem = open(sim.ca).read()
    ca_b64 = base64.b64encode(ca_pem.encode()).decode()
    sub = tmp_path / "kc"
    sub.mkdir()
    shutil.copy(sim.ca, sub / "the-ca.crt")
    (sub / "tok").write_text(token + "\n")
    port = server.rsplit(":", 1)[1]
    good = {
        "ca-data": _kc(sub, "a", server, f"    certificate-authority-data: {ca_b64}\n", f"    token: {token}\n"),
        "ca-relative": _kc(sub, "b", server, "    certificate-authority: the-ca.crt\n", "    tokenFile: tok\n"),
        "server-name": _kc(sub, "c", f"https://127.0.0.1:{port}",
                           "    certificate-authority: the-ca.crt\n    tls-server-name: localhost\n",
                           f"    token: {token}\n"),
        "insecure": _kc(sub, "d", server, "    insecure-skip-tls-verify: true\n", f"    token: {token}\n"),
    }
    for what, path in good.items():
        rc, lines, err = run_driver("--kubeconfig", path, "check", "node-1")
        assert rc == 0 and lines[-1]["ok"], (what, lines, err)
    bad_tls = {
        "no-ca": _kc(sub, "e", server, "", f"    token: {token}\n"),
        "wrong-name": _kc(sub, "f", server,
                          "    certificate-authority: the-ca.crt\n    tls-server-name: wrong.example\n",
                          f"    token: {token}\n"),
    }
    for what, path in bad_tls.items():
        rc, lines, err = run_driver("--kubeconfig", path, "check", "node-1")
        assert rc == 1 and not lines[-1]["ok"], (what, lines)
        assert "transport" in lines[-1]["detail"], (what, lines)
    rc, lines, _ = run_driver("--kubeconfig", _kc(sub, "g", server, "", "    token: t\n", ctx="nope"),
                              "check", "node-1")
    assert rc == 3 and 'context "nope" not found' in lines[-1]["detail"]
    assert str(sub / "g") in lines[-1]["detail"]
    (sub / "h").write_text("clusters: [\n  - {name: c\n")
    rc, lines, _ = run_driver("--kubeconfig", sub / "h", "check", "node-1")
    assert rc == 3 and f"{sub / 'h'}:" in lines[-1]["detail"] and "invalid YAML" in lines[-1]["detail"]
    # a wrong token is a clear unauthorized
    rc, lines, _ = run_driver("--kubeconfig", _kc(sub, "i", server, "    certificate-authority: the-ca.crt\n",
                                                  "    token: wrong\n"), "check", "node-1")
    assert rc == 1 and "unauthorized" in lines[-1]["detail"]


def test_incluster_config(sim, run_driver):
    sa = os.path.join(sim.dir, "serviceaccount")
    port = sim.server.rsplit(":", 1)[1]
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port, "KUBECONFIG": ""}
    rc, lines, err = run_driver("--incluster", sa, "check", "node-1", env=env)
    assert rc == 0, (lines, err)
    # the server certificate is for localhost/127.0.0.1/::1 only: the name is checked
    env["KUBERNETES_SERVICE_HOST"] = "localhost"
    rc, lines, err = run_driver("--incluster", sa, "check", "node-1", env=env)
    assert rc == 0, (lines, err)


# ---------------------------------------------------------------- writes

def _wait(pred, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout}s")


def test_strategic_merge_status_condition(sim, run_driver):
    sim.create_pod("eip-pod")
    pod = _wait(lambda: (lambda p: p if p.get("status", {}).get("conditions") else None)(sim.get_pod("eip-pod")),
                what="pod conditions")
    before = {c["type"]: c for c in pod["status"]["conditions"]}
    rc, lines, err = run_driver("--kubeconfig", sim.agent_kubeconfig, "patch-status", "default", "eip-pod",
                                "True", "Associate eip succeed", "eip-1 203.0.113.5")
    assert rc == 0, (lines, err)
    assert lines[-1]["result"] == "ok"
    after = sim.get_pod("eip-pod")["status"]["conditions"]
    mine = [c for c in after if c["type"] == "k8s.aliyun.com/eip"]
    assert len(mine) == 1 and mine[0]["status"] == "True" and mine[0]["reason"] == "Associate eip succeed"
    others = {c["type"] for c in after if c["type"] != "k8s.aliyun.com/eip"}
    assert set(before) - {"k8s.aliyun.com/eip"} <= others
    rc, lines, _ = run_driver("--kubeconfig", sim.agent_kubeconfig, "patch-status", "default", "eip-pod",
                              "False", "Disassociated", "gone")
    assert rc == 0
    after = sim.get_pod("eip-pod")["status"]["conditions"]
    mine = [c for c in after if c["type"] == "k8s.aliyun.com/eip"]
    assert len(mine) == 1 and mine[0]["status"] == "False"
    assert set(before) - {"k8s.aliyun.com/eip"} <= {c["type"] for c in after}
    calls = [c for c in sim.calls()["calls"] if c.get("subresource") == "status" and c["method"] == "PATCH"]
    assert calls and all(c["content_type"].startswith("application/strategic-merge-patch+json") for c in calls)


def test_conflict_surfaced(sim, run_driver):
    sim.create_pod("cf")
    pod = sim.get_pod("cf")
    stale = dict(pod)
    stale["metadata"] = dict(pod["metadata"], resourceVersion="1")
    import json as _json
    rc, lines, _ = run_driver("--kubeconfig", sim.info["kube"]["kubeconfig"], "request", "PUT",
                              "/api/v1/namespaces/default/pods/cf", _json.dumps(stale))
    assert rc == 1
    assert lines[-1]["result"] == "conflict" and lines[-1]["status"] == 409 and lines[-1]["reason"] == "Conflict"
    rc, lines, _ = run_driver("--kubeconfig", sim.info["kube"]["kubeconfig"], "request", "GET",
                              "/api/v1/namespaces/default/pods/none")
    assert lines[-1]["result"] == "not-found" and lines[-1]["reason"] == "NotFound"


def test_events_dedup_count(sim, run_driver):
    sim.create_pod("ev")
    uid = sim.get_pod("ev")["metadata"]["uid"]
    rc, lines, err = run_driver("--kubeconfig", sim.agent_kubeconfig, "event", "default", "ev", "Warning",
                                "EIPFailed", "quota exceeded", "--repeat", "3", "--uid", uid)
    assert rc == 0, (lines, err)
    stats = lines[-1]
    assert (stats["created"], stats["patched"], stats["dropped"]) == (1, 2, 0)
    evs = [e for e in sim.api("GET", "/api/v1/namespaces/default/events")["items"]
           if e["involvedObject"].get("name") == "ev" and e.get("source", {}).get("component") == "eip-agent"]
    assert len(evs) == 1, evs
    e = evs[0]
    assert e["count"] == 3 and e["reason"] == "EIPFailed" and e["type"] == "Warning"
    assert e["source"]["component"] == "eip-agent"
    assert e["involvedObject"]["uid"] == uid and e["involvedObject"]["kind"] == "Pod"
    name, _, hexpart = e["metadata"]["name"].partition(".")
    assert name == "ev" and abs(int(hexpart, 16) / 1e9 - time.time()) < 60
    patches = [c for c in sim.calls()["calls"] if c.get("resource") == "events" and c["method"] == "PATCH"]
    assert len(patches) == 2
    assert all(c["content_type"].startswith("application/strategic-merge-patch+json") for c in patches)


def test_events_spam_filter(sim, run_driver):
    rc, lines, err = run_driver("--kubeconfig", sim.agent_kubeconfig, "event", "default", "noisy", "Normal",
                                "Spam", "same", "--repeat", "30")
    assert rc == 0, (lines, err)
    assert lines[-1]["dropped"] == 5 and lines[-1]["created"] == 1 and lines[-1]["patched"] == 24
    evs = [e for e in sim.api("GET", "/api/v1/namespaces/default/events")["items"]
           if e["involvedObject"].get("name") == "noisy"]
    assert len(evs) == 1 and evs[0]["count"] == 25


# ---------------------------------------------------------------- leases

LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eip-agent"


def lease_args(sim, ident, *extra):
    return ("--kubeconfig", sim.agent_kubeconfig, "lease", "kube-system", "eip-agent", ident,
            "--duration-ms", "3000", "--renew-deadline-ms", "2000", "--retry-ms", "300", *extra)


def test_lease_handover_release_and_death(sim, k8s_driver):
    a = k8s_driver(*lease_args(sim, "agent-a"))
    a.wait_type("LEADING", transitions=0)
    lease = sim.api("GET", LEASE)
    assert lease["spec"]["holderIdentity"] == "agent-a" and lease["spec"]["leaseTransitions"] == 0
    assert lease["spec"]["leaseDurationSeconds"] == 3
    b = k8s_driver(*lease_args(sim, "agent-b"))
    b.wait_type("NEW_LEADER", identity="agent-a")
    # a renews: renewTime moves while b waits
    r1 = sim.api("GET", LEASE)["spec"]["renewTime"]
    _wait(lambda: sim.api("GET", LEASE)["spec"]["renewTime"] != r1, what="renewal")
    assert not b.of_type("LEADING")
    # a releases on SIGTERM; b takes over at once with leaseTransitions+1
    t0 = time.monotonic()
    a.signal(signal.SIGTERM)
    a.wait_type("RELEASED")
    assert a.wait_exit() == 0
    lead = b.wait_type("LEADING", timeout=10)
    assert lead["_t"] - t0 < 2.5  # no need to wait for the 3 s lease to expire
    spec = sim.api("GET", LEASE)["spec"]
    assert spec["holderIdentity"] == "agent-b" and spec["leaseTransitions"] == 1
    # b dies without releasing: c waits for the lease to expire (by its own clock)
    b.kill()
    t1 = time.monotonic()
    c = k8s_driver(*lease_args(sim, "agent-c"))
    c.wait_type("NEW_LEADER", identity="agent-b")
    lead = c.wait_type("LEADING", timeout=15)
    assert lead["_t"] - t1 >= 2.9
    spec = sim.api("GET", LEASE)["spec"]
    assert spec["holderIdentity"] == "agent-c" and spec["leaseTransitions"] == 2
    c.signal(signal.SIGTERM)
    c.wait_type("RELEASED")
    spec = sim.api("GET", LEASE)["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 2
    assert c.wait_exit() == 0


def test_patch_content_types(sim, run_driver):
    sim.create_pod("pt")
    kc = sim.info["kube"]["kubeconfig"]
    path = "/api/v1/namespaces/default/pods/pt"
    rc, lines, _ = run_driver("--kubeconfig", kc, "patch", path, "json",
                              '[{"op":"add","path":"/metadata/labels/jp","value":"1"}]')
    assert rc == 0 and lines[-1]["body"]["metadata"]["labels"]["jp"] == "1"
    rc, lines, _ = run_driver("--kubeconfig", kc, "patch", path, "merge",
                              '{"metadata":{"labels":{"jp":null,"mp":"2"}}}')
    labels = lines[-1]["body"]["metadata"]["labels"]
    assert rc == 0 and "jp" not in labels and labels["mp"] == "2"
    # a JSON patch whose test fails is a clear error, not a success
    rc, lines, _ = run_driver("--kubeconfig", kc, "patch", path, "json",
                              '[{"op":"test","path":"/metadata/labels/mp","value":"nope"}]')
    assert rc == 1 and lines[-1]["status"] in (409, 422) and lines[-1]["message"]
    types = [c["content_type"].split(";")[0] for c in sim.calls()["calls"]
             if c["method"] == "PATCH" and c.get("name") == "pt"]
    assert types == ["application/json-patch+json", "application/merge-patch+json",
                     "application/json-patch+json"]


def test_client_qps_and_burst(sim, run_driver):
    """kubeClientQPS/Burst: 25 writes at 5 qps with a burst of 5 take >= 4 s."""
    mark = sim.calls_mark()
    t0 = time.monotonic()
    rc, lines, err = run_driver("--kubeconfig", sim.agent_kubeconfig, "--qps", "5", "--burst", "5",
                                "event", "default", "paced", "Normal", "R", "m", "--repeat", "25")
    took = time.monotonic() - t0
    assert rc == 0, (lines, err)
    assert lines[-1]["created"] + lines[-1]["patched"] == 25
    calls = sorted((c for c in sim.calls(mark)["calls"] if c.get("resource") == "events"),
                   key=lambda c: c["time"])
    assert len(calls) == 25
    span = calls[-1]["time"] - calls[0]["time"]
    assert span >= 3.8, span
    # never more than burst + qps*t in any window starting at a call
    for i, c in enumerate(calls):
        in_1s = [d for d in calls[i:] if d["time"] - c["time"] < 1.0]
        assert len(in_1s) <= 5 + 5 + 1, len(in_1s)
    assert took < 20


def test_lease_leader_steps_down_when_api_hangs(sim, k8s_driver):
    """A leader that cannot renew within renewDeadline stops leading, before the
    lease could expire for the others (no split brain), even if requests hang."""
    a = k8s_driver(*lease_args(sim, "agent-a"))
    a.wait_type("LEADING")
    start = a.index()
    t0 = time.monotonic()
    sim.faults(hang=True, paths="leases")
    stopped = a.wait_type("STOPPED_LEADING", start=start, timeout=10)
    assert stopped["_t"] - t0 < 2.9, stopped["_t"] - t0  # renew deadline 2 s < lease 3 s
    sim.clear_faults()
    # still the holder on the server: it takes its own lease back, no transition
    again = a.wait_type("LEADING", start=start, timeout=15)
    assert again["transitions"] == 0
    a.signal(signal.SIGTERM)
    a.wait_type("RELEASED")
    assert a.wait_exit() == 0


def test_label_selector_and_custom_resource(sim, k8s_driver):
    # a label selector narrows the pods of the node
    d = k8s_driver("--kubeconfig", sim.agent_kubeconfig, "watch", "--node", "node-1",
                   "--label-selector", "eip=yes")
    d.wait_type("SYNCED", count=0)
    sim.create_pod("plain")
    sim.create_pod("labelled", labels={"eip": "yes"})
    d.wait_type("ADDED", name="labelled")
    assert "plain" not in names(d.lines, "ADDED")
    assert d.stop() == 0
    # any collection: PodEIP custom resources in all namespaces, no selector
    body = {"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP",
            "metadata": {"name": "web-0", "namespace": "default"},
            "spec": {"allocationID": "eip-1", "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}}}
    sim.api("POST", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips", body)
    p = k8s_driver("--kubeconfig", sim.info["kube"]["kubeconfig"], "watch",
                   "--resource", "/apis/alibabacloud.com/v1beta1/podeips")
    p.wait_type("ADDED", name="web-0")
    p.wait_type("SYNCED", count=1)
    sim.api("DELETE", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips/web-0")
    p.wait_type("DELETED", name="web-0")
    assert p.stop() == 0


def test_recreated_pod_same_name_is_delete_then_add(sim, k8s_driver):
    """A StatefulSet-style pod deleted and created again under the same name while
    the agent was away: the relist reports the old object deleted and the new one
    added (different uid), never a MODIFIED that would hide the change of uid."""
    old = sim.create_pod("sts-0")
    d = watch(k8s_driver, sim)
    d.wait_type("SYNCED", count=1)
    settle(d, sim, "sts-0")
    d.signal(signal.SIGSTOP)
    try:
        sim.faults(drop_watches=True)
        sim.delete_pod("sts-0")
        sim.wait_pod_gone("sts-0")
        new = sim.create_pod("sts-0")
        sim.faults(compact=True)
        sim.clear_faults()
    finally:
        d.signal(signal.SIGCONT)
    start = d.index()
    d.wait_type("SYNCED", start=start, timeout=20)
    lines = [l for l in d.lines[start:] if l.get("name") == "sts-0"]
    kinds = [(l["type"], l["uid"]) for l in lines]
    assert kinds[:2] == [("DELETED", old["metadata"]["uid"]), ("ADDED", new["metadata"]["uid"])], kinds
    assert d.stop() == 0
