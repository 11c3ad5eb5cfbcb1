# SPDX-License-Identifier: MIT
"""Raw HTTPS conformance of the simulated API server: watch semantics,
list pagination, conflicts, patches, the kubelet/scheduler/controllers, faults."""
import json
import time
import http.client

import pytest

from kubetest import wait_for

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"


def cm(name, data=None, labels=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": data or {"k": "v"}}


def types(events):
    return [e["type"] for e in events]


# ------------------------------------------------------------------ watch semantics

def test_watch_from_compacted_rv_is_410_error_event(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    rv = c.rv()
    c.ok("POST", CMS, cm("b"))
    assert c.sim("POST", "/__sim/faults", {"compact": True}).status == 200
    w = c.watch(CMS, resourceVersion=rv)
    assert w.status == 200
    assert w.headers["Content-Type"] == "application/json"
    assert w.headers["Transfer-Encoding"] == "chunked"
    ev = w.next()
    assert ev["type"] == "ERROR"
    st = ev["object"]
    assert st["kind"] == "Status" and st["apiVersion"] == "v1" and st["metadata"] == {}
    assert (st["status"], st["reason"], st["code"]) == ("Failure", "Expired", 410)
    assert st["message"].startswith(f"too old resource version: {rv} (")
    assert w.next() is None  # the stream ends cleanly after the error
    # the current resourceVersion is still watchable after compaction
    w2 = c.watch(CMS, resourceVersion=c.rv(), timeoutSeconds=1)
    c.ok("POST", CMS, cm("c"))
    assert types(w2.collect(2)) == ["ADDED"]


def test_bookmarks_at_the_interval_only_when_asked(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    rv = c.rv()
    w = c.watch(CMS, resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds=3)
    plain = c.watch(CMS, resourceVersion=rv, timeoutSeconds=2)
    t0 = time.time()
    evs = w.collect(1.8)
    bms = [e for e in evs if e["type"] == "BOOKMARK"]
    assert 2 <= len(bms) <= 5, evs  # interval 0.5 s
    for b in bms:
        assert b["object"]["kind"] == "ConfigMap" and b["object"]["apiVersion"] == "v1"
        assert set(b["object"]) == {"kind", "apiVersion", "metadata"}
        assert set(b["object"]["metadata"]) == {"resourceVersion"}
        assert int(b["object"]["metadata"]["resourceVersion"]) >= rv
    assert time.time() - t0 < 2.5
    assert plain.collect(2.5) == []  # no bookmarks unless allowWatchBookmarks


def test_bookmark_interval_configurable(cluster):
    c = cluster
    assert c.sim("POST", "/__sim/config", {"bookmark_interval": 5}).json["bookmark_interval"] == 5
    w = c.watch(CMS, resourceVersion=c.rv(), allowWatchBookmarks="true", timeoutSeconds=2)
    assert [e for e in w.collect(1.5) if e["type"] == "BOOKMARK"] == []


def test_timeout_seconds_closes_stream_cleanly(cluster):
    c = cluster
    t0 = time.time()
    w = c.watch(CMS, timeoutSeconds=1)
    body = w.resp.read()  # raises IncompleteRead if the terminating chunk is missing
    assert 0.8 < time.time() - t0 < 3
    assert body == b""  # no objects in the namespace


def test_initial_watch_without_rv_sends_synthetic_added(cluster):
    c = cluster
    for n in ("a", "b"):
        c.ok("POST", CMS, cm(n))
    for rv in (None, "0"):
        kw = {"timeoutSeconds": 0.3}
        if rv:
            kw["resourceVersion"] = rv
        evs = c.watch(CMS, **kw).collect(2)
        assert types(evs) == ["ADDED", "ADDED"]
        assert [e["object"]["metadata"]["name"] for e in evs] == ["a", "b"]


def test_watch_from_exact_rv_replays_history_in_order(cluster):
    c = cluster
    rv0 = c.rv()
    c.ok("POST", CMS, cm("a"))
    c.ok("POST", CMS, cm("b"))
    c.ok("PATCH", CMS + "/a", {"data": {"k": "v2"}}, ctype="application/merge-patch+json")
    c.ok("DELETE", CMS + "/b")
    c.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    c.ok("POST", "/api/v1/namespaces/other/configmaps", cm("x"))
    evs = c.watch(CMS, resourceVersion=rv0, timeoutSeconds=0.3).collect(2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
        ("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
    assert rvs == sorted(rvs) and rvs[0] > rv0
    # all namespaces
    evs = c.watch("/api/v1/configmaps", resourceVersion=rv0, timeoutSeconds=0.3).collect(2)
    assert [e["object"]["metadata"]["name"] for e in evs] == ["a", "b", "a", "b", "x"]
    # legacy /watch/ path
    evs = c.watch("/api/v1/watch/namespaces/default/configmaps", resourceVersion=rv0, timeoutSeconds=0.3).collect(2)
    assert len(evs) == 4


def test_deleted_event_carries_the_deletion_rv(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    before = c.ok("GET", CMS + "/a")["metadata"]["resourceVersion"]
    w = c.watch(CMS, resourceVersion=before)
    c.ok("DELETE", CMS + "/a")
    after = c.rv()
    ev = w.next()
    w.close()
    assert ev["type"] == "DELETED"
    assert int(ev["object"]["metadata"]["resourceVersion"]) == after > int(before)
    assert ev["object"]["data"] == {"k": "v"}  # the last state of the object


def test_field_selector_transitions(cluster):
    c = cluster
    rv = c.rv()
    on_node = c.watch(PODS, resourceVersion=rv, fieldSelector="spec.nodeName=node-2")
    running = c.watch(PODS, resourceVersion=rv, fieldSelector="status.phase=Running,metadata.name=p")
    c.pod("p", node_selector={"kubernetes.io/hostname": "node-2"})
    c.pod("q", node_selector={"kubernetes.io/hostname": "node-1"})
    ev = on_node.next()
    assert ev["type"] == "ADDED" and ev["object"]["spec"]["nodeName"] == "node-2"
    assert ev["object"]["metadata"]["name"] == "p"  # entering the selector: ADDED, never q
    ev = running.next()
    assert ev["type"] == "ADDED" and ev["object"]["status"]["phase"] == "Running"
    c.ok("POST", "/__sim/kubelet", {"name": "p", "phase": "Succeeded"})
    ev = running.next()
    assert ev["type"] == "DELETED"  # leaving the selector
    assert ev["object"]["status"]["phase"] == "Running"  # the previous state at the new resourceVersion
    assert int(ev["object"]["metadata"]["resourceVersion"]) > int(rv)
    evs = on_node.collect(1)
    assert all(e["object"]["metadata"]["name"] == "p" for e in evs)
    assert "DELETED" not in types(evs)


def test_field_selector_leaving_event_has_new_rv(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a", labels={"tier": "x"}))
    rv = c.rv()
    w = c.watch(CMS, resourceVersion=rv, labelSelector="tier=x")
    c.ok("PATCH", CMS + "/a", {"metadata": {"labels": {"tier": "y"}}}, ctype="application/merge-patch+json")
    ev = w.next()
    now = c.ok("GET", CMS + "/a")
    assert ev["type"] == "DELETED"
    assert ev["object"]["metadata"]["labels"] == {"tier": "x"}
    assert ev["object"]["metadata"]["resourceVersion"] == now["metadata"]["resourceVersion"]
    c.ok("PATCH", CMS + "/a", {"metadata": {"labels": {"tier": "x"}}}, ctype="application/merge-patch+json")
    assert w.next()["type"] == "ADDED"


def test_selector_errors_and_watchlist(cluster):
    c = cluster
    r = c.get(PODS + "?fieldSelector=spec.foo%3Dbar")
    assert r.status == 400
    assert r.json["reason"] == "BadRequest" and r.json["message"] == "field label not supported: spec.foo"
    r = c.get(PODS + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
    assert r.status == 422 and r.json["reason"] == "Invalid"
    r = c.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dx,type!%3DNormal")
    assert r.status == 200 and r.json["kind"] == "EventList"


def test_drop_watches(cluster):
    c = cluster
    w = c.watch(CMS)
    time.sleep(0.2)
    r = c.sim("POST", "/__sim/faults", {"drop_watches": True})
    assert r.json["dropped_watches"] >= 1
    with pytest.raises((http.client.IncompleteRead, OSError, ValueError)):
        while w.next(3) is not None:
            pass
        raise http.client.IncompleteRead(b"")  # a clean end would be a failure of the test
    # drop every 0.5 s
    c.sim("POST", "/__sim/faults", {"drop_watches_every": 0.5})
    t0 = time.time()
    w = c.watch(CMS)
    with pytest.raises((http.client.IncompleteRead, OSError, ValueError)):
        while w.next(3) is not None:
            pass
        raise http.client.IncompleteRead(b"")
    assert time.time() - t0 < 2


# ------------------------------------------------------------------ lists

def test_list_limit_continue_is_a_consistent_snapshot(cluster):
    c = cluster
    for i in range(7):
        c.ok("POST", CMS, cm(f"c{i}"))
    page = c.ok("GET", CMS + "?limit=3")
    assert [i["metadata"]["name"] for i in page["items"]] == ["c0", "c1", "c2"]
    assert page["metadata"]["remainingItemCount"] == 4
    list_rv = page["metadata"]["resourceVersion"]
    c.ok("POST", CMS, cm("c3a"))        # created after the first page
    c.ok("DELETE", CMS + "/c5")         # deleted after the first page
    names = [i["metadata"]["name"] for i in page["items"]]
    tok = page["metadata"]["continue"]
    while tok:
        page = c.ok("GET", CMS + "?limit=3&continue=" + tok)
        assert page["metadata"]["resourceVersion"] == list_rv
        names += [i["metadata"]["name"] for i in page["items"]]
        tok = page["metadata"].get("continue")
    assert names == [f"c{i}" for i in range(7)]
    fresh = c.ok("GET", CMS)
    assert [i["metadata"]["name"] for i in fresh["items"]] == ["c0", "c1", "c2", "c3", "c3a", "c4", "c6"]
    assert int(fresh["metadata"]["resourceVersion"]) > int(list_rv)
    # an expired continue token
    page = c.ok("GET", CMS + "?limit=2")
    c.ok("POST", CMS, cm("later"))
    c.sim("POST", "/__sim/faults", {"compact": True})
    r = c.get(CMS + "?limit=2&continue=" + page["metadata"]["continue"])
    assert r.status == 410 and r.json["reason"] == "Expired" and r.json["kind"] == "Status"


def test_list_resource_version_semantics(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    rv_a = c.rv()
    c.ok("POST", CMS, cm("b"))
    exact = c.ok("GET", CMS + f"?resourceVersion={rv_a}&resourceVersionMatch=Exact")
    assert [i["metadata"]["name"] for i in exact["items"]] == ["a"]
    assert exact["metadata"]["resourceVersion"] == str(rv_a)
    for q in ("", "?resourceVersion=0", f"?resourceVersion={rv_a}"):
        got = c.ok("GET", CMS + q)
        assert [i["metadata"]["name"] for i in got["items"]] == ["a", "b"]
    c.sim("POST", "/__sim/config", {"rv_wait_seconds": 0.5})  # 3 s by default, as in the watch cache
    t0 = time.time()
    r = c.get(CMS + f"?resourceVersion={c.rv() + 1000}")
    assert r.status == 504 and "Too large resource version" in r.json["message"]
    assert r.json["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert 0.4 < time.time() - t0 < 2


def test_resource_version_monotonic_across_restarts(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    rv1 = c.rv()
    w = c.watch(CMS, resourceVersion=rv1)
    # in-process API server restart (simcluster restart-apiserver)
    import subprocess
    from kubetest import SIMCLUSTER
    out = subprocess.run(["/usr/bin/python3", str(SIMCLUSTER), "restart-apiserver", "--dir", str(c.dir),
                          "--down-seconds", "0.3"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "ready", out
    with pytest.raises((http.client.IncompleteRead, OSError, ValueError)):
        while w.next(3) is not None:
            pass
        raise http.client.IncompleteRead(b"")
    assert c.ok("GET", CMS + "/a")["data"] == {"k": "v"}
    created = c.ok("POST", CMS, cm("b"))
    rv2 = int(created["metadata"]["resourceVersion"])
    assert rv2 > rv1
    # the watch cache starts again at the restart: older versions are expired
    ev = c.watch(CMS, resourceVersion=rv1 - 1).next()
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410
    # whole process restart on the same directory
    c.restart_process(["--nodes", "2"])
    assert c.ok("GET", CMS + "/b")["metadata"]["resourceVersion"] == str(rv2)
    created = c.ok("POST", CMS, cm("c"))
    assert int(created["metadata"]["resourceVersion"]) > rv2
    assert [n["metadata"]["name"] for n in c.ok("GET", "/api/v1/nodes")["items"]] == ["node-1", "node-2"]


# ------------------------------------------------------------------ writes

def test_stale_put_is_409_conflict_with_the_real_status(cluster):
    c = cluster
    obj = c.ok("POST", CMS, cm("a"))
    upd = dict(obj, data={"k": "v2"})
    new = c.ok("PUT", CMS + "/a", upd)
    assert int(new["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])
    r = c.req("PUT", CMS + "/a", dict(obj, data={"k": "v3"}))
    assert r.status == 409
    assert r.json == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": 'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
                                 'please apply your changes to the latest version and try again',
                      "reason": "Conflict", "details": {"name": "a", "kind": "configmaps"}, "code": 409}
    r = c.req("POST", CMS, cm("a"))
    assert r.status == 409 and r.json["reason"] == "AlreadyExists"
    assert r.json["message"] == 'configmaps "a" already exists'
    r = c.req("GET", CMS + "/nope")
    assert r.status == 404 and r.json["message"] == 'configmaps "nope" not found'
    assert r.json["details"] == {"name": "nope", "kind": "configmaps"}
    # a finished delete answers with a Status (pods, with the object)
    tmp = c.ok("POST", CMS, cm("tmp"))
    gone = c.ok("DELETE", CMS + "/tmp")
    assert gone == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "tmp", "kind": "configmaps", "uid": tmp["metadata"]["uid"]}}
    # a no-op update keeps the resourceVersion (no event)
    same = c.ok("PUT", CMS + "/a", new)
    assert same["metadata"]["resourceVersion"] == new["metadata"]["resourceVersion"]
    gen = c.ok("POST", CMS, {"metadata": {"generateName": "gen-"}, "data": {}})
    assert gen["metadata"]["name"].startswith("gen-") and len(gen["metadata"]["name"]) == 9


def test_json_patch_test_op_failure_is_422(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    r = c.req("PATCH", CMS + "/a", [{"op": "test", "path": "/data/k", "value": "other"},
                                    {"op": "replace", "path": "/data/k", "value": "x"}],
              ctype="application/json-patch+json")
    assert r.status == 422 and r.json["kind"] == "Status"
    assert c.ok("GET", CMS + "/a")["data"] == {"k": "v"}
    got = c.ok("PATCH", CMS + "/a", [{"op": "test", "path": "/data/k", "value": "v"},
                                     {"op": "add", "path": "/data/n", "value": "1"}],
               ctype="application/json-patch+json")
    assert got["data"] == {"k": "v", "n": "1"}


def test_strategic_merge_status_patch_keeps_other_conditions(cluster):
    c = cluster
    c.pod("p", gates=["k8s.aliyun.com/eip"])
    pod = c.wait_running("p")
    before = {x["type"]: x["status"] for x in pod["status"]["conditions"]}
    assert {"PodScheduled", "Initialized", "ContainersReady", "Ready"} <= set(before)
    patch = {"status": {"conditions": [{"type": "k8s.aliyun.com/eip", "status": "True",
                                        "reason": "Associate eip succeed", "message": "ok"}]}}
    got = c.ok("PATCH", PODS + "/p/status", patch, ctype="application/strategic-merge-patch+json")
    after = {x["type"]: x["status"] for x in got["status"]["conditions"]}
    for t, s in before.items():
        if t != "Ready":
            assert after[t] == s, t
    assert after["k8s.aliyun.com/eip"] == "True" and after["Ready"] == "True"
    # pods/status ignores spec changes (podStatusStrategy keeps the old spec, not the old
    # metadata: labels go through), the main resource ignores status changes
    got = c.ok("PATCH", PODS + "/p/status", {"spec": {"activeDeadlineSeconds": 5}, "metadata": {"labels": {"z": "1"}}},
               ctype="application/merge-patch+json")
    assert "activeDeadlineSeconds" not in got["spec"] and got["metadata"]["labels"]["z"] == "1"
    got = c.ok("PATCH", PODS + "/p", {"status": {"phase": "Failed"}}, ctype="application/merge-patch+json")
    assert got["status"]["phase"] == "Running"
    # a merge patch replaces the whole list: the faithful contrast
    got = c.ok("PATCH", PODS + "/p/status", {"status": {"conditions": [{"type": "k8s.aliyun.com/eip",
                                                                         "status": "True"}]}},
               ctype="application/merge-patch+json")
    types_ = [x["type"] for x in got["status"]["conditions"]]
    assert "PodScheduled" not in types_ and "k8s.aliyun.com/eip" in types_
    # $patch: delete removes one element by merge key
    got = c.ok("PATCH", PODS + "/p/status", {"status": {"conditions": [{"type": "k8s.aliyun.com/eip",
                                                                         "$patch": "delete"}]}},
               ctype="application/strategic-merge-patch+json")
    assert "k8s.aliyun.com/eip" not in [x["type"] for x in got["status"]["conditions"]]
    # PodEIP (a custom resource) has no strategic merge patch
    r = c.req("PATCH", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips/p", {"spec": {}},
              ctype="application/strategic-merge-patch+json")
    assert r.status in (404, 415)


def test_pod_spec_is_immutable(cluster):
    c = cluster
    c.pod("p")
    r = c.req("PATCH", PODS + "/p", {"spec": {"nodeName": "node-9"}}, ctype="application/merge-patch+json")
    assert r.status == 422 and r.json["reason"] == "Invalid"
    assert r.json["message"].startswith('Pod "p" is invalid: spec: Forbidden: pod updates may not change fields')


def test_readiness_gates_fold_into_ready(cluster):
    c = cluster
    gate = "k8s.aliyun.com/eip"
    c.pod("plain")
    c.pod("gated", gates=[gate])

    def ready(name):
        p = c.ok("GET", f"{PODS}/{name}")
        return next((x for x in p["status"].get("conditions", []) if x["type"] == "Ready"), None)
    wait_for(lambda: (ready("plain") or {}).get("status") == "True", what="plain Ready")
    c.wait_running("gated")
    r = ready("gated")
    assert r["status"] == "False" and r["reason"] == "ReadinessGatesNotReady"
    assert r["message"] == f'corresponding condition of pod readiness gate "{gate}" does not exist.'
    c.ok("PATCH", PODS + "/gated/status", {"status": {"conditions": [{"type": gate, "status": "False"}]}},
         ctype="application/strategic-merge-patch+json")
    r = ready("gated")
    assert r["status"] == "False" and r["message"] == f'the status of pod readiness gate "{gate}" is not "True", but False'
    c.ok("PATCH", PODS + "/gated/status", {"status": {"conditions": [{"type": gate, "status": "True"}]}},
         ctype="application/strategic-merge-patch+json")
    assert ready("gated")["status"] == "True"
    # containers going unready win over gates
    c.ok("POST", "/__sim/kubelet", {"name": "gated", "containers_ready": False})
    r = ready("gated")
    assert r["status"] == "False" and r["reason"] == "ContainersNotReady"


def test_graceful_deletion_and_finalizers(cluster):
    c = cluster
    c.pod("slow", grace=1)
    c.wait_running("slow")
    t0 = time.time()
    got = c.ok("DELETE", PODS + "/slow")
    assert got["metadata"]["deletionGracePeriodSeconds"] == 1 and got["metadata"]["deletionTimestamp"]
    time.sleep(0.5)
    assert c.get(PODS + "/slow").status == 200
    c.wait_gone(PODS + "/slow", 5)
    assert 0.9 < time.time() - t0 < 3
    c.pod("fast", grace=30)
    c.wait_running("fast")
    c.ok("DELETE", PODS + "/fast?gracePeriodSeconds=0")
    assert c.get(PODS + "/fast").status == 404
    c.pod("fin", grace=0, finalizers=["example.com/hold"])
    c.wait_running("fin")
    c.ok("DELETE", PODS + "/fin")
    time.sleep(0.3)
    held = c.ok("GET", PODS + "/fin")
    assert held["metadata"]["deletionTimestamp"]
    c.ok("PATCH", PODS + "/fin", {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json")
    c.wait_gone(PODS + "/fin", 3)
    # preconditions
    c.pod("pre")
    r = c.req("DELETE", PODS + "/pre", {"kind": "DeleteOptions", "apiVersion": "v1",
                                        "preconditions": {"uid": "not-the-uid"}})
    assert r.status == 409 and r.json["reason"] == "Conflict"


def test_scheduler_assigns_ip_from_the_cloud(cluster):
    c = cluster
    c.pod("p1", node_selector={"kubernetes.io/hostname": "node-1"})
    c.pod("p2")
    c.pod("p3")
    pods = [c.wait_running(n) for n in ("p1", "p2", "p3")]
    assert pods[0]["spec"]["nodeName"] == "node-1"
    assert {p["spec"]["nodeName"] for p in pods[1:]} == {"node-1", "node-2"}  # round robin
    enis = c.cloud("GET", "/__sim/enis").json["enis"]
    for p in pods:
        st = p["status"]
        assert st["podIP"].startswith("127.0.10.") and st["podIPs"] == [{"ip": st["podIP"]}]
        node = c.info["nodes"][p["spec"]["nodeName"]]
        assert st["hostIP"] == node["private_ip"]
        eni_id = node.get("pod_eni_id") or node["eni_id"]
        eni = next(e for e in enis if e["NetworkInterfaceId"] == eni_id)
        assert st["podIP"] in [x["PrivateIpAddress"] for x in eni["PrivateIpSets"]["PrivateIpSet"]], eni
        assert st["startTime"] and st["containerStatuses"][0]["ready"] is True
    ip = pods[0]["status"]["podIP"]
    c.ok("DELETE", PODS + "/p1?gracePeriodSeconds=0")
    node = c.info["nodes"]["node-1"]

    # given back to the CNI: it stays on the node's pod ENI (Terway's IP pool) and is
    # the next pod's of that node
    def gone():
        return c.req("GET", PODS + "/p1").status == 404
    wait_for(gone, 5, what="p1 gone")
    c.pod("p4", node_selector={"kubernetes.io/hostname": "node-1"})
    p4 = c.wait_running("p4")
    assert p4["status"]["podIP"] == ip
    e = next(e for e in c.cloud("GET", "/__sim/enis").json["enis"]
             if e["NetworkInterfaceId"] == (node.get("pod_eni_id") or node["eni_id"]))
    assert ip in [x["PrivateIpAddress"] for x in e["PrivateIpSets"]["PrivateIpSet"]]
    # unschedulable
    c.pod("nowhere", node_selector={"kubernetes.io/hostname": "node-9"})
    time.sleep(0.3)
    p = c.ok("GET", PODS + "/nowhere")
    assert not p["spec"].get("nodeName")
    cond = next(x for x in p["status"]["conditions"] if x["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"


def test_statefulset_pod_recreated_with_the_same_name(cluster):
    c = cluster
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "spec": {"replicas": 2, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"terminationGracePeriodSeconds": 0,
                                          "containers": [{"name": "c", "image": "nginx"}]}}}}
    created = c.ok("POST", "/apis/apps/v1/namespaces/default/statefulsets", sts)
    p0 = c.wait_running("web-0")
    c.wait_running("web-1")
    ref = p0["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("StatefulSet", "web",
                                                                         created["metadata"]["uid"], True)
    assert p0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
    c.ok("DELETE", PODS + "/web-0")
    new = wait_for(lambda: (lambda r: r.json if r.status == 200 and r.json["metadata"]["uid"] !=
                            p0["metadata"]["uid"] else None)(c.get(PODS + "/web-0")), 5, what="web-0 again")
    assert new["metadata"]["name"] == "web-0"
    wait_for(lambda: c.ok("GET", "/apis/apps/v1/namespaces/default/statefulsets/web")["status"].get(
        "readyReplicas") == 2, 5, what="sts ready")
    # scale down removes the highest ordinal; deleting the sts collects its pods
    c.ok("PATCH", "/apis/apps/v1/namespaces/default/statefulsets/web", {"spec": {"replicas": 1}},
         ctype="application/merge-patch+json")
    c.wait_gone(PODS + "/web-1", 5)
    c.ok("DELETE", "/apis/apps/v1/namespaces/default/statefulsets/web")
    c.wait_gone(PODS + "/web-0", 5)


def test_deployment_pods_are_owned_by_a_replicaset(cluster):
    c = cluster
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
                    "template": {"metadata": {"labels": {"app": "api"}},
                                 "spec": {"terminationGracePeriodSeconds": 0,
                                          "containers": [{"name": "c", "image": "nginx"}]}}}}
    c.ok("POST", "/apis/apps/v1/namespaces/default/deployments", dep)
    pods = wait_for(lambda: (lambda items: items if len(items) == 3 and all(
        p["status"].get("phase") == "Running" for p in items) else None)(
        c.ok("GET", PODS + "?labelSelector=app%3Dapi")["items"]), 10, what="3 running pods")
    rs = c.ok("GET", "/apis/apps/v1/namespaces/default/replicasets")["items"]
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    for p in pods:
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["uid"] == rs[0]["metadata"]["uid"]
        assert p["metadata"]["name"].startswith(rs[0]["metadata"]["name"] + "-")
    wait_for(lambda: c.ok("GET", "/apis/apps/v1/namespaces/default/deployments/api")["status"].get(
        "readyReplicas") == 3, 5, what="deployment ready")
    c.ok("DELETE", "/apis/apps/v1/namespaces/default/deployments/api")
    wait_for(lambda: not c.ok("GET", PODS + "?labelSelector=app%3Dapi")["items"], 5, what="pods collected")


# ------------------------------------------------------------------ auth

def test_bad_token_401_and_rotation(cluster):
    c = cluster
    r = c.req("GET", PODS, token="nope")
    assert r.status == 401
    assert r.json == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    assert c.req("GET", PODS, token=None).status == 401
    assert c.req("GET", "/version", token=None).status == 200
    old = c.token("agent")
    token_file = c.info["kube"]["token_file"]
    assert open(token_file).read() == old
    assert c.req("GET", PODS, token=old).status == 200
    rot = c.sim("POST", "/__sim/rotate-token", {"user": "agent"}).json
    assert rot["old_token"] == old and rot["token"] != old
    assert c.req("GET", PODS, token=old).status == 401
    assert c.req("GET", PODS, token=rot["token"]).status == 200
    assert open(token_file).read() == rot["token"]
    rot2 = c.sim("POST", "/__sim/rotate-token", {"user": "agent", "grace_seconds": 30}).json
    assert c.req("GET", PODS, token=rot["token"]).status == 200  # still in its grace period
    assert c.req("GET", PODS, token=rot2["token"]).status == 200


def test_rbac_403(make_cluster):
    c = make_cluster("--nodes", "1", "--no-rbac")  # no rules until the test loads its own
    agent = c.token("agent")
    assert c.req("GET", CMS, token=agent).status == 200  # no rules loaded: everything allowed
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "eip-agent"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "eip-agent"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "eip-agent"},
               "subjects": [{"kind": "ServiceAccount", "name": "eip-agent", "namespace": "kube-system"}]}
    c.ok("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role)
    c.ok("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
    assert c.req("GET", PODS, token=agent).status == 200
    r = c.req("GET", CMS, token=agent)
    assert r.status == 403
    assert r.json["reason"] == "Forbidden"
    assert r.json["message"] == ('configmaps is forbidden: User "system:serviceaccount:kube-system:eip-agent" '
                                 'cannot list resource "configmaps" in API group "" in the namespace "default"')
    c.pod("p")
    assert c.req("PATCH", PODS + "/p/status", {"metadata": {}}, token=agent,
                 ctype="application/merge-patch+json").status == 200
    r = c.req("PATCH", PODS + "/p", {"metadata": {"labels": {"a": "b"}}}, token=agent,
              ctype="application/merge-patch+json")
    assert r.status == 403 and 'cannot patch resource "pods" in API group ""' in r.json["message"]
    # a namespaced RoleBinding adds configmaps in default only
    c.ok("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
         {"metadata": {"name": "cm"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]})
    c.ok("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
         {"metadata": {"name": "cm"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                  "name": "cm"},
          "subjects": [{"kind": "ServiceAccount", "name": "eip-agent", "namespace": "kube-system"}]})
    assert c.req("GET", CMS, token=agent).status == 200
    assert c.req("GET", "/api/v1/namespaces/kube-system/configmaps", token=agent).status == 403
    assert c.req("GET", CMS, token=c.token("admin")).status == 200  # system:masters
    # another service account through a group binding
    other = c.sim("POST", "/__sim/tokens", {"principal": "other",
                                            "user": "system:serviceaccount:kube-system:other"}).json
    assert "system:serviceaccounts:kube-system" in other["groups"]
    assert c.req("GET", PODS, token=other["token"]).status == 403
    c.ok("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
         {"metadata": {"name": "sa-view"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                      "kind": "ClusterRole", "name": "eip-agent"},
          "subjects": [{"kind": "Group", "name": "system:serviceaccounts:kube-system"}]})
    assert c.req("GET", PODS, token=other["token"]).status == 200


# ------------------------------------------------------------------ faults and the calls log

def test_fault_429_with_retry_after(cluster):
    c = cluster
    c.sim("POST", "/__sim/faults", {"error_rate": 1.0, "status": 429, "retry_after": 3,
                                    "paths": "^/api/v1/namespaces/default/configmaps"})
    r = c.req("GET", CMS)
    assert r.status == 429 and r.headers["Retry-After"] == "3"
    assert r.json["reason"] == "TooManyRequests" and r.json["details"]["retryAfterSeconds"] == 3
    assert c.req("GET", PODS).status == 200  # other paths unaffected
    c.sim("DELETE", "/__sim/faults")
    assert c.req("GET", CMS).status == 200
    c.sim("POST", "/__sim/faults", {"error_rate": 1.0, "status": 503, "count": 2})
    rs = [c.req("GET", CMS) for _ in range(3)]
    assert [r.status for r in rs] == [503, 503, 200]
    assert rs[0].json["reason"] == "ServiceUnavailable" and "Retry-After" not in rs[0].headers
    c.sim("DELETE", "/__sim/faults")
    c.sim("POST", "/__sim/faults", {"error_rate": 1.0, "status": 429, "verbs": ["create"]})
    assert c.req("GET", CMS).status == 200
    r = c.req("POST", CMS, cm("x"))
    assert r.status == 429 and r.headers["Retry-After"] == "1"
    calls = c.sim("GET", "/__sim/calls").json["calls"]
    assert calls[-1]["fault"] == "error 429" and calls[-1]["status"] == 429


def test_fault_hang_and_latency(cluster):
    c = cluster
    c.sim("POST", "/__sim/faults", {"hang": True, "paths": "configmaps"})
    t0 = time.time()
    with pytest.raises((TimeoutError, OSError)):
        c.req("GET", CMS, timeout=1)
    assert 0.9 < time.time() - t0 < 3
    assert c.req("GET", PODS).status == 200
    c.sim("DELETE", "/__sim/faults")
    assert c.req("GET", CMS).status == 200
    c.sim("POST", "/__sim/faults", {"latency_ms": 400})
    t0 = time.time()
    assert c.req("GET", CMS).status == 200
    assert time.time() - t0 >= 0.4


def test_calls_log_records_verbs(cluster):
    c = cluster
    c.sim("DELETE", "/__sim/calls")
    c.ok("POST", CMS, cm("a"))
    c.ok("GET", CMS)
    c.ok("GET", CMS + "/a")
    c.ok("PATCH", CMS + "/a", {"data": {"x": "y"}}, ctype="application/merge-patch+json")
    c.ok("PUT", CMS + "/a", c.ok("GET", CMS + "/a"))
    c.ok("DELETE", CMS + "/a")
    c.watch(CMS, timeoutSeconds=0.2).collect(1)
    calls = [x for x in c.sim("GET", "/__sim/calls").json["calls"] if x["path"].startswith(CMS)]
    assert [x["verb"] for x in calls] == ["create", "list", "get", "patch", "get", "update", "delete", "watch"]
    patch = calls[3]
    assert patch["method"] == "PATCH" and patch["content_type"] == "application/merge-patch+json"
    assert patch["status"] == 200 and patch["body"] == {"data": {"x": "y"}}
    assert calls[0]["status"] == 201 and calls[0]["user_agent"] == "kubetest/1.0"
    assert calls[-1]["query"].startswith("watch=true")


def test_discovery_documents(cluster):
    c = cluster
    v = c.ok("GET", "/version")
    assert v["major"] == "1" and v["minor"] == "32" and v["gitVersion"].startswith("v1.32.")
    core = c.ok("GET", "/api/v1")
    names = {r["name"]: r for r in core["resources"]}
    assert names["pods"]["kind"] == "Pod" and names["pods"]["namespaced"] and "po" in names["pods"]["shortNames"]
    assert set(names["pods/status"]["verbs"]) == {"get", "patch", "update"}
    groups = {g["name"] for g in c.ok("GET", "/apis")["groups"]}
    assert {"apps", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io", "alibabacloud.com"} <= groups
    ali = c.ok("GET", "/apis/alibabacloud.com/v1beta1")
    assert {r["name"] for r in ali["resources"]} == {"podeips", "podeips/status"}
    crd = c.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/podeips.alibabacloud.com")
    assert crd["spec"]["names"]["kind"] == "PodEIP"
    assert c.req("GET", "/openapi/v2").status == 404


def test_leases_and_events_v1(cluster):
    c = cluster
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "eip-agent"},
             "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 15}}
    got = c.ok("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", lease)
    got["spec"]["holderIdentity"] = "node-2"
    c.ok("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eip-agent", got)
    r = c.req("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eip-agent", got)
    assert r.status == 409
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "p.1"},
          "regarding": {"kind": "Pod", "name": "p", "namespace": "default", "uid": "u1"},
          "reason": "EIPAssociated", "note": "bound", "type": "Normal", "action": "Associate",
          "reportingController": "eip-agent", "reportingInstance": "node-1",
          "eventTime": "2026-01-01T00:00:00.000000Z"}
    c.ok("POST", "/apis/events.k8s.io/v1/namespaces/default/events", ev)
    core = c.ok("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dp,reason%3DEIPAssociated")
    assert len(core["items"]) == 1 and core["items"][0]["message"] == "bound"
    v1 = c.ok("GET", "/apis/events.k8s.io/v1/namespaces/default/events/p.1")
    assert v1["note"] == "bound" and v1["regarding"]["name"] == "p"


def test_event_validation(cluster):
    c = cluster
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "x.1"},
          "involvedObject": {"kind": "Pod", "name": "x", "namespace": "kube-system"},
          "reason": "EIPFailed", "message": "m", "type": "Warning"}
    r = c.req("POST", "/api/v1/namespaces/default/events", ev)
    assert r.status == 422
    assert r.json["message"] == ('Event "x.1" is invalid: involvedObject.namespace: Invalid value: "kube-system": '
                                 'does not match event.namespace')
    ev["involvedObject"]["namespace"] = "default"
    assert c.req("POST", "/api/v1/namespaces/default/events", ev).status == 201
    v1 = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "x.2"},
          "regarding": {"kind": "Pod", "name": "x", "namespace": "default"}, "reason": "EIPFailed",
          "note": "m", "type": "Warning", "eventTime": "2026-01-01T00:00:00.000000Z"}
    r = c.req("POST", "/apis/events.k8s.io/v1/namespaces/default/events", v1)
    assert r.status == 422
    for f in ("reportingController: Required value", "reportingInstance: Required value", "action: Required value"):
        assert f in r.json["message"]
    v1.update({"reportingController": "alibabacloud.com/eip-agent", "reportingInstance": "node-1",
               "action": "Associate"})
    assert c.req("POST", "/apis/events.k8s.io/v1/namespaces/default/events", v1).status == 201


def test_list_items_carry_typemeta_only_for_custom_resources(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    c.ok("POST", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips",
         {"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP", "metadata": {"name": "a"},
          "spec": {"allocationID": "eip-1", "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}},
          "status": {"eipAddress": "ignored on create"}})
    lst = c.ok("GET", CMS)
    assert lst["kind"] == "ConfigMapList" and lst["apiVersion"] == "v1"
    assert "kind" not in lst["items"][0] and "apiVersion" not in lst["items"][0]
    pe = c.ok("GET", "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips")
    assert pe["kind"] == "PodEIPList" and pe["items"][0]["kind"] == "PodEIP"
    assert pe["items"][0].get("status", {}) == {}  # status is dropped on create (status subresource)
    assert c.ok("GET", CMS + "/a")["kind"] == "ConfigMap"


def test_pod_bound_to_unknown_node_waits_for_it(cluster):
    c = cluster
    c.pod("early", node="node-3")
    time.sleep(0.6)
    p = c.ok("GET", PODS + "/early")
    assert p["status"]["phase"] == "Pending" and not p["status"].get("podIP")
    info = c.sim("POST", "/__sim/nodes", {"name": "node-3"}).json
    p = c.wait_running("early")
    assert p["status"]["hostIP"] == info["private_ip"]
    assert c.reload() is None and "node-3" in c.info["nodes"]
    assert open(c.info["nodes"]["node-3"]["agent_env"]).read().count("NODE_NAME=node-3") == 1


def test_bookmarks_while_events_flow(cluster):
    c = cluster
    w = c.watch(CMS, resourceVersion=c.rv(), allowWatchBookmarks="true", timeoutSeconds=3)
    t0, i, evs = time.time(), 0, []
    while time.time() - t0 < 1.1:
        c.ok("POST", CMS, cm(f"f{i}"))
        i += 1
        time.sleep(0.05)
    evs = w.collect(1.5)
    assert "BOOKMARK" in types(evs)
    # every event before a bookmark has a resourceVersion <= the bookmark's
    last = 0
    for e in evs:
        rv = int(e["object"]["metadata"]["resourceVersion"])
        assert rv >= last
        last = rv


def test_keep_alive_across_requests_and_a_finished_watch(cluster):
    c = cluster
    conn = c.conn()
    hdr = {"Authorization": "Bearer " + c.token("admin"), "Accept": "application/json"}
    conn.request("GET", CMS, headers=hdr)
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["kind"] == "ConfigMapList"
    sock = conn.sock
    conn.request("GET", CMS + "?watch=true&timeoutSeconds=1", headers=hdr)
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b""
    body = json.dumps(cm("a")).encode()
    conn.request("POST", CMS, body=body, headers=dict(hdr, **{"Content-Type": "application/json"}))
    r = conn.getresponse()
    assert r.status == 201 and json.loads(r.read())["metadata"]["name"] == "a"
    assert conn.sock is sock  # one connection all along
    conn.close()


def test_events_expire_after_the_ttl(cluster):
    c = cluster
    c.sim("POST", "/__sim/config", {"event_ttl_seconds": 1})
    ev = {"metadata": {"name": "x.1"}, "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"},
          "reason": "R", "message": "m", "type": "Normal"}
    c.ok("POST", "/api/v1/namespaces/default/events", ev)
    assert c.get("/api/v1/namespaces/default/events/x.1").status == 200
    c.wait_gone("/api/v1/namespaces/default/events/x.1", 5)


def test_server_notices_a_watch_client_that_went_away(cluster):
    c = cluster
    ws = [c.watch(CMS) for _ in range(3)]
    wait_for(lambda: c.sim("GET", "/__sim/state?resource=none").json["watches"] == 3, 3, what="3 watches")
    for w in ws:
        w.close()
    wait_for(lambda: c.sim("GET", "/__sim/state?resource=none").json["watches"] == 0, 4,
             what="watches released")


def test_daemonset_runs_one_pod_per_fitting_node(cluster):
    c = cluster
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "kube-system"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}},
                                "spec": {"hostNetwork": True, "terminationGracePeriodSeconds": 0,
                                         "containers": [{"name": "a", "image": "eip-agent"}]}}}}
    c.ok("POST", "/apis/apps/v1/namespaces/kube-system/daemonsets", ds)
    path = "/api/v1/namespaces/kube-system/pods?labelSelector=app%3Dagent"

    def running():
        items = c.ok("GET", path)["items"]
        return items if len(items) == 2 and all(p["status"].get("phase") == "Running" for p in items) else None
    pods = wait_for(running, 5, what="2 agent pods")
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2"]
    for p in pods:  # host network: the pod IP is the node's
        assert p["status"]["podIP"] == c.info["nodes"][p["spec"]["nodeName"]]["private_ip"]
    c.sim("POST", "/__sim/nodes", {"name": "node-3"})
    wait_for(lambda: len(c.ok("GET", path)["items"]) == 3, 5, what="a pod on the new node")
    c.sim("POST", "/__sim/nodes", {"name": "virtual-node-1", "virtual": True})  # tainted: no pod there
    time.sleep(0.5)
    assert len(c.ok("GET", path)["items"]) == 3
    wait_for(lambda: c.ok("GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/agent")["status"].get(
        "numberReady") == 3, 5, what="ds status")


def test_virtual_node_pods_get_their_own_eni(cluster):
    c = cluster
    info = c.sim("POST", "/__sim/nodes", {"name": "virtual-node-1", "virtual": True}).json
    node = c.ok("GET", "/api/v1/nodes/virtual-node-1")
    assert node["metadata"]["labels"]["type"] == "virtual-kubelet"
    assert node["spec"]["taints"][0]["effect"] == "NoSchedule"
    c.pod("normal", node_selector={"type": "virtual-kubelet"})  # no toleration: stays Pending
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "eci"},
            "spec": {"nodeSelector": {"type": "virtual-kubelet"}, "terminationGracePeriodSeconds": 0,
                     "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                     "containers": [{"name": "c", "image": "nginx"}]}}
    c.ok("POST", PODS, body)
    p = c.wait_running("eci")
    assert p["spec"]["nodeName"] == "virtual-node-1" and p["status"]["hostIP"] == p["status"]["podIP"]
    enis = [e for e in c.cloud("GET", "/__sim/enis").json["enis"] if e.get("node") == "virtual-node-1"]
    assert [e["PrivateIpAddress"] for e in enis] == [p["status"]["podIP"]]
    assert not c.ok("GET", PODS + "/normal")["spec"].get("nodeName")
    c.reload()
    assert "metadata_endpoint" not in c.info["nodes"]["virtual-node-1"]  # no instance metadata on ECI
    c.ok("DELETE", PODS + "/eci")
    wait_for(lambda: not [e for e in c.cloud("GET", "/__sim/enis").json["enis"]
                          if e.get("node") == "virtual-node-1"], 5, what="the ECI ENI released")
    assert info["virtual"] is True


def test_list_rv0_is_served_from_the_watch_cache_and_ignores_limit(cluster):
    # apiserver 1.32 (cacher shouldDelegateList: hasLimit := limit > 0 && rv != "0"): an RV="0"
    # list is answered from the watch cache, which does not page: every item, no continue
    c = cluster
    for i in range(5):
        c.ok("POST", CMS, cm(f"z{i}"))
    for q in ("?resourceVersion=0&limit=2", "?resourceVersion=0&resourceVersionMatch=NotOlderThan&limit=2"):
        got = c.ok("GET", CMS + q)
        assert [i["metadata"]["name"] for i in got["items"]] == [f"z{i}" for i in range(5)], q
        assert "continue" not in got["metadata"] and "remainingItemCount" not in got["metadata"], q
        assert got["metadata"]["resourceVersion"] == str(c.rv())
    # without resourceVersion a limit still pages (served from storage)
    assert len(c.ok("GET", CMS + "?limit=2")["items"]) == 2


def test_list_rv_with_limit_is_legacy_exact(cluster):
    c = cluster
    c.ok("POST", CMS, cm("a"))
    c.ok("POST", CMS, cm("b"))
    rv_ab = c.rv()
    c.ok("POST", CMS, cm("c"))
    c.ok("DELETE", CMS + "/a")
    # limit + resourceVersion, no resourceVersionMatch: the list at exactly rv_ab, page by page
    page = c.ok("GET", CMS + f"?resourceVersion={rv_ab}&limit=1")
    assert [i["metadata"]["name"] for i in page["items"]] == ["a"]
    assert page["metadata"]["resourceVersion"] == str(rv_ab)
    page = c.ok("GET", CMS + "?limit=1&continue=" + page["metadata"]["continue"])
    assert [i["metadata"]["name"] for i in page["items"]] == ["b"]
    assert page["metadata"]["resourceVersion"] == str(rv_ab) and "continue" not in page["metadata"]
    # no limit, or NotOlderThan: not older than rv_ab, i.e. the current state
    for q in (f"?resourceVersion={rv_ab}", f"?resourceVersion={rv_ab}&resourceVersionMatch=NotOlderThan&limit=5"):
        got = c.ok("GET", CMS + q)
        assert [i["metadata"]["name"] for i in got["items"]] == ["b", "c"], q
        assert got["metadata"]["resourceVersion"] == str(c.rv()), q
    # history compacted past rv_ab: the paginated (exact) list is 410, the unpaginated one is served
    c.sim("POST", "/__sim/faults", {"compact": True})
    for q in (f"?resourceVersion={rv_ab}&limit=1", f"?resourceVersion={rv_ab}&resourceVersionMatch=Exact"):
        r = c.get(CMS + q)
        assert r.status == 410 and r.json["reason"] == "Expired", q
        assert r.json["message"] == "The resourceVersion for the provided list is too old.", q
    assert c.ok("GET", CMS + f"?resourceVersion={rv_ab}")["metadata"]["resourceVersion"] == str(c.rv())


def test_list_continue_with_resource_version(cluster):
    c = cluster
    for i in range(3):
        c.ok("POST", CMS, cm(f"k{i}"))
    page = c.ok("GET", CMS + "?limit=1")
    tok = page["metadata"]["continue"]
    r = c.get(CMS + f"?limit=1&resourceVersion={c.rv()}&continue={tok}")
    assert r.status == 400 and r.json["reason"] == "BadRequest"
    assert r.json["message"] == "specifying resource version is not allowed when using continue"
    # "0" is tolerated with continue (the token decides)
    nxt = c.ok("GET", CMS + f"?limit=1&resourceVersion=0&continue={tok}")
    assert [i["metadata"]["name"] for i in nxt["items"]] == ["k1"] and nxt["metadata"]["continue"]


def test_list_options_validation(cluster):
    c = cluster
    tok = (c.ok("POST", CMS, cm("v0")), c.ok("POST", CMS, cm("v1")),
           c.ok("GET", CMS + "?limit=1"))[2]["metadata"]["continue"]
    cases = {
        "?resourceVersionMatch=NotOlderThan": "resourceVersionMatch: Forbidden: resourceVersionMatch is "
                                              "forbidden unless resourceVersion is provided",
        f"?resourceVersion=0&resourceVersionMatch=NotOlderThan&continue={tok}":
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided",
        "?resourceVersion=1&resourceVersionMatch=Newest":
            'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""',
        "?resourceVersion=0&resourceVersionMatch=Exact":
            'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
    }
    for q, msg in cases.items():
        r = c.get(CMS + q)
        assert r.status == 422 and r.json["reason"] == "Invalid", q
        assert r.json["message"] == f'ListOptions.meta.k8s.io "" is invalid: {msg}', q
        assert r.json["details"]["kind"] == "ListOptions" and r.json["details"]["group"] == "meta.k8s.io"
        assert r.json["details"]["causes"][0]["field"] == "resourceVersionMatch"


def test_history_size_bounds_the_watch_window(cluster):
    c = cluster
    c.sim("POST", "/__sim/config", {"history_size": 5})
    rv0 = c.rv()
    for i in range(4):
        c.ok("POST", CMS, cm(f"h{i}"))
    assert types(c.watch(CMS, resourceVersion=rv0, timeoutSeconds=0.5).collect(1)) == ["ADDED"] * 4
    for i in range(4, 12):
        c.ok("POST", CMS, cm(f"h{i}"))
    ev = c.watch(CMS, resourceVersion=rv0).next()
    assert ev["type"] == "ERROR" and ev["object"]["reason"] == "Expired"
    recent = c.rv() - 3
    assert types(c.watch(CMS, resourceVersion=recent, timeoutSeconds=0.5).collect(1)) == ["ADDED"] * 3
    r = c.get(CMS + f"?resourceVersion={rv0}&resourceVersionMatch=Exact")
    assert r.status == 410 and r.json["reason"] == "Expired"


def test_large_responses_are_gzipped_when_accepted(cluster):
    import gzip
    c = cluster
    for i in range(40):
        c.ok("POST", CMS, cm(f"big{i}", data={"blob": "x" * 4000}))
    plain = c.req("GET", CMS)
    assert plain.status == 200 and "Content-Encoding" not in plain.headers and len(plain.json["items"]) == 40
    z = c.req("GET", CMS, headers={"Accept-Encoding": "gzip"})
    assert z.headers["Content-Encoding"] == "gzip" and len(z.raw) < len(plain.raw) / 10
    assert json.loads(gzip.decompress(z.raw)) == plain.json
    small = c.req("GET", CMS + "/big0", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers  # below 128 KiB


def test_name_rules_per_resource(cluster):
    c = cluster
    r = c.req("POST", CMS, cm("Bad_Name"))
    assert r.status == 422 and r.json["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')
    r = c.req("POST", "/api/v1/namespaces", {"metadata": {"name": "a.b"}})
    assert r.status == 422 and "RFC 1123 label" in r.json["message"]
    role = {"metadata": {"name": "system:eip-agent:reader"}, "rules": []}
    c.ok("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role)
    got = c.ok("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aeip-agent%3Areader")
    assert got["metadata"]["name"] == "system:eip-agent:reader"
    r = c.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {"metadata": {"name": "a%b"}})
    assert r.status == 422 and "may not contain '%'" in r.json["message"]


def test_state_survives_a_crash(cluster):
    c = cluster
    made = c.ok("POST", CMS, cm("kept"))
    rv = int(made["metadata"]["resourceVersion"])
    time.sleep(0.6)  # the periodic save
    c.proc.kill()
    c.proc.wait()
    c.restart_process(["--nodes", "2"])
    assert c.ok("GET", CMS + "/kept")["metadata"]["uid"] == made["metadata"]["uid"]
    new = c.ok("POST", CMS, cm("after"))
    # without a clean shutdown the resourceVersion jumps ahead: nothing a client saw is reused
    assert int(new["metadata"]["resourceVersion"]) > rv + 1000


def test_simcluster_files(make_cluster):
    c = make_cluster("--nodes", "1", "--virtual-nodes", "1", name="files")
    info = c.info
    env = dict(line.split("=", 1) for line in open(info["nodes"]["node-1"]["agent_env"]).read().splitlines())
    assert set(env) == {"NODE_NAME", "KUBECONFIG", "EIP_AGENT_CLUSTER_ID", "EIP_AGENT_REGION_ID", "EIP_AGENT_VPC_ID",
                        "EIP_AGENT_VPC_ENDPOINT", "EIP_AGENT_ECS_ENDPOINT", "EIP_AGENT_STS_ENDPOINT",
                        "EIP_AGENT_METADATA_ENDPOINT", "EIP_AGENT_CLOUD_CA_FILE", "ALIBABA_CLOUD_ACCESS_KEY_ID",
                        "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "EIP_AGENT_LISTEN"}
    assert env["NODE_NAME"] == "node-1" and env["KUBECONFIG"] == info["kube"]["agent_kubeconfig"]
    assert env["EIP_AGENT_VPC_ENDPOINT"].startswith("https://127.0.0.1:")
    assert env["EIP_AGENT_METADATA_ENDPOINT"] == info["nodes"]["node-1"]["metadata_endpoint"]
    assert env["EIP_AGENT_LISTEN"].startswith("127.0.0.1:")
    assert env["ALIBABA_CLOUD_ACCESS_KEY_ID"] in info["cloud"]["access_keys"]
    venv = open(info["nodes"]["virtual-node-1"]["agent_env"]).read()
    assert "EIP_AGENT_METADATA_ENDPOINT=http://127.0.0.1:9\n" in venv and "NODE_NAME=virtual-node-1\n" in venv
    # the metadata server of node-1 answers on loopback
    import urllib.request
    with urllib.request.urlopen(env["EIP_AGENT_METADATA_ENDPOINT"] + "/latest/meta-data/instance-id", timeout=5) as r:
        assert r.read().decode() == info["nodes"]["node-1"]["instance_id"]
    sa = info["kube"]["in_cluster"]["serviceaccount_dir"]
    assert open(sa + "/namespace").read() == "kube-system"
    assert open(sa + "/token").read() == c.token("agent")
    assert open(sa + "/ca.crt").read() == open(info["kube"]["ca_file"]).read()
    kc = open(info["kube"]["kubeconfig"]).read()
    assert f"server: {info['kube']['server']}" in kc and f"certificate-authority: {info['kube']['ca_file']}" in kc
    assert f"token: {c.token('admin')}" in kc
    assert f"tokenFile: {sa}/token" in open(info["kube"]["agent_kubeconfig"]).read()
    assert int(open(c.dir / "simcluster.pid").read()) == c.proc.pid
