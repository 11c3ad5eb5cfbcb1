# SPDX-License-Identifier: MIT
"""Conformance of the simulated API server with the real kubectl (v1.32):
discovery, Table output, create/apply/patch/label/annotate/delete, describe
(events found by field selector), get -w, 401 and RBAC 403."""
import json
import subprocess
import time

import pytest
import yaml

from kubetest import KUBECTL, wait_for

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: web}}
  annotations: {{network.alibabacloud.com/pod-with-eip: "true"}}
spec:
  terminationGracePeriodSeconds: 0
  readinessGates: [{{conditionType: k8s.aliyun.com/eip}}]
  containers:
  - name: app
    image: nginx:1.27
    ports: [{{containerPort: 80}}]
"""


@pytest.fixture
def ns(shared_cluster, kubectl, request):
    name = "t-" + request.node.name.replace("_", "-")[5:40].strip("-").lower()
    kubectl(shared_cluster, "create", "namespace", name)
    return name


def k(kubectl, c, *args, **kw):
    return kubectl(c, *args, **kw)


def test_get_nodes_table_wide_json_yaml(shared_cluster, kubectl):
    c = shared_cluster
    out = kubectl(c, "get", "nodes").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [l.split()[:2] for l in out[1:]] == [["node-1", "Ready"], ["node-2", "Ready"]]
    wide = kubectl(c, "get", "nodes", "-o", "wide").stdout.splitlines()
    assert "INTERNAL-IP" in wide[0]
    assert c.info["nodes"]["node-1"]["private_ip"] in wide[1]
    doc = json.loads(kubectl(c, "get", "nodes", "-o", "json").stdout)
    assert doc["kind"] == "List" and len(doc["items"]) == 2
    assert doc["items"][0]["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"
    y = yaml.safe_load(kubectl(c, "get", "node", "node-2", "-o", "yaml").stdout)
    assert y["kind"] == "Node" and y["metadata"]["name"] == "node-2"
    # kubectl asked for Tables and the server gave them
    calls = c.sim("GET", "/__sim/calls").json["calls"]
    table_calls = [x for x in calls if x["path"] == "/api/v1/nodes" and "as=Table" in x["accept"]]
    assert table_calls and all(x["status"] == 200 for x in table_calls)
    assert kubectl(c, "get", "--raw", "/version").stdout.startswith("{")
    assert "v1.32" in kubectl(c, "version", "-o", "json").stdout


def test_create_pod_get_wide_describe_with_events(shared_cluster, kubectl, ns):
    c = shared_cluster
    kubectl(c, "create", "-f", "-", "--validate=false", input=POD.format(name="web", ns=ns))
    pod = wait_for(lambda: (lambda p: p if p["status"].get("phase") == "Running" else None)(
        json.loads(kubectl(c, "-n", ns, "get", "pod", "web", "-o", "json").stdout)), 10, what="running")
    rows = kubectl(c, "-n", ns, "get", "pods", "-o", "wide").stdout.splitlines()
    assert rows[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "READINESS GATES" in rows[0]
    cells = rows[1].split()
    assert cells[0] == "web" and cells[1] == "1/1" and cells[2] == "Running"
    assert pod["status"]["podIP"] in cells and pod["spec"]["nodeName"] in cells and "0/1" in cells
    # an event created through the API shows in describe
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.eip1", "namespace": ns},
          "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns, "uid": pod["metadata"]["uid"],
                             "apiVersion": "v1"},
          "reason": "EIPAssociated", "message": "EIP 203.0.113.9 bound to " + pod["status"]["podIP"],
          "type": "Normal", "source": {"component": "eip-agent"}, "count": 1,
          "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}
    c.ok("POST", f"/api/v1/namespaces/{ns}/events", ev)
    out = kubectl(c, "-n", ns, "describe", "pod", "web").stdout
    assert "Readiness Gates:" in out and "k8s.aliyun.com/eip" in out
    assert "EIPAssociated" in out and "EIP 203.0.113.9 bound to" in out and "eip-agent" in out
    calls = c.sim("GET", "/__sim/calls").json["calls"]
    assert any(x["path"] == f"/api/v1/namespaces/{ns}/events" and "involvedObject.name%3Dweb" in x["query"]
               for x in calls)
    evs = kubectl(c, "-n", ns, "get", "events").stdout
    assert "EIPAssociated" in evs and "pod/web" in evs


def test_create_namespace_podeip_deployment_statefulset(shared_cluster, kubectl, ns):
    c = shared_cluster
    objs = [
        {"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP", "metadata": {"name": "web-0", "namespace": ns},
         "spec": {"allocationID": "eip-sim1", "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": ns},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                  "template": {"metadata": {"labels": {"app": "api"}},
                               "spec": {"terminationGracePeriodSeconds": 0,
                                        "containers": [{"name": "c", "image": "nginx"}]}}}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": ns},
         "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                  "template": {"metadata": {"labels": {"app": "db"}},
                               "spec": {"terminationGracePeriodSeconds": 0,
                                        "containers": [{"name": "c", "image": "nginx"}]}}}},
    ]
    out = kubectl(c, "create", "--validate=false", "-f", "-", input=yaml.safe_dump_all(objs)).stdout
    assert "podeip.alibabacloud.com/web-0 created" in out
    assert "deployment.apps/api created" in out and "statefulset.apps/db created" in out
    got = json.loads(kubectl(c, "-n", ns, "get", "podeips", "web-0", "-o", "json").stdout)
    assert got["spec"]["allocationID"] == "eip-sim1"
    assert "web-0" in kubectl(c, "-n", ns, "get", "podeip").stdout
    wait_for(lambda: kubectl(c, "-n", ns, "get", "deploy", "api").stdout.split("\n")[1].split()[1] == "2/2",
             10, what="deployment 2/2")
    wait_for(lambda: "db-0" in kubectl(c, "-n", ns, "get", "pods", "-l", "app=db").stdout, 10, what="db-0")
    pods = json.loads(kubectl(c, "-n", ns, "get", "pods", "-l", "app=api", "-o", "json").stdout)["items"]
    assert len(pods) == 2 and all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
    # PodEIP status through the status subresource (merge patch; CRs have no strategic merge)
    kubectl(c, "-n", ns, "patch", "podeip", "web-0", "--subresource=status", "--type=merge",
            "-p", '{"status":{"eipAddress":"203.0.113.7","status":"InUse"}}')
    got = json.loads(kubectl(c, "-n", ns, "get", "podeip", "web-0", "-o", "json").stdout)
    assert got["status"]["eipAddress"] == "203.0.113.7"
    p = kubectl(c, "-n", ns, "patch", "podeip", "web-0", "-p", '{"spec":{"x":1}}', check=False)
    assert p.returncode != 0 and ("UnsupportedMediaType" in p.stderr or "unknown format" in p.stderr), p.stderr
    kubectl(c, "delete", "namespace", ns, "--wait=true", timeout=30)
    assert c.get(f"/api/v1/namespaces/{ns}").status == 404


def test_apply_create_then_update(shared_cluster, kubectl, ns):
    c = shared_cluster
    cmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns,
                                                                  "labels": {"a": "1"}},
            "data": {"one": "1", "two": "2"}}
    out = kubectl(c, "apply", "--validate=false", "-f", "-", input=json.dumps(cmap)).stdout
    assert "configmap/cfg created" in out
    cmap["data"] = {"one": "uno", "three": "3"}
    cmap["metadata"]["labels"] = {"b": "2"}
    out = kubectl(c, "apply", "--validate=false", "-f", "-", input=json.dumps(cmap)).stdout
    assert "configmap/cfg configured" in out
    got = c.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/cfg")
    assert got["data"] == {"one": "uno", "three": "3"}
    assert got["metadata"]["labels"] == {"b": "2"}
    last = json.loads(got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == cmap["data"]
    out = kubectl(c, "apply", "--validate=false", "-f", "-", input=json.dumps(cmap)).stdout
    assert "configmap/cfg unchanged" in out
    calls = [x for x in c.sim("GET", "/__sim/calls").json["calls"] if x["path"].endswith("/configmaps/cfg")]
    assert any(x["verb"] == "patch" and x["content_type"] == "application/strategic-merge-patch+json"
               for x in calls)
    # a pod: list fields merged by name (containers) through strategic merge
    kubectl(c, "apply", "--validate=false", "-f", "-", input=POD.format(name="ap", ns=ns))
    changed = POD.format(name="ap", ns=ns).replace("labels: {app: web}", "labels: {app: web, tier: x}")
    assert "pod/ap configured" in kubectl(c, "apply", "--validate=false", "-f", "-", input=changed).stdout
    assert c.ok("GET", f"/api/v1/namespaces/{ns}/pods/ap")["metadata"]["labels"] == {"app": "web", "tier": "x"}
    # a custom resource is applied with a JSON merge patch
    pe = {"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP", "metadata": {"name": "x", "namespace": ns},
          "spec": {"allocationID": "eip-1", "allocationType": {"releaseStrategy": "Follow"}}}
    kubectl(c, "apply", "--validate=false", "-f", "-", input=json.dumps(pe))
    pe["spec"]["allocationID"] = "eip-2"
    assert "configured" in kubectl(c, "apply", "--validate=false", "-f", "-", input=json.dumps(pe)).stdout
    assert c.ok("GET", f"/apis/alibabacloud.com/v1beta1/namespaces/{ns}/podeips/x")["spec"]["allocationID"] == "eip-2"
    # server-side apply
    ssa = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns}, "data": {"a": "b"}}
    kubectl(c, "apply", "--server-side", "--validate=false", "-f", "-", input=json.dumps(ssa))
    assert c.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/ssa")["data"] == {"a": "b"}


def test_patch_label_annotate_delete(shared_cluster, kubectl, ns):
    c = shared_cluster
    kubectl(c, "create", "-f", "-", "--validate=false", input=POD.format(name="p", ns=ns))
    kubectl(c, "-n", ns, "patch", "pod", "p", "--type", "merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
    kubectl(c, "-n", ns, "patch", "pod", "p", "-p", '{"metadata":{"labels":{"s":"2"}}}')  # strategic
    kubectl(c, "-n", ns, "patch", "pod", "p", "--type", "json",
            "-p", '[{"op":"add","path":"/metadata/annotations/j","value":"3"}]')
    kubectl(c, "-n", ns, "label", "pod", "p", "l=4")
    kubectl(c, "-n", ns, "label", "pod", "p", "l=5", "--overwrite")
    kubectl(c, "-n", ns, "annotate", "pod", "p", "an=6")
    got = c.ok("GET", f"/api/v1/namespaces/{ns}/pods/p")
    assert got["metadata"]["labels"] == {"app": "web", "m": "1", "s": "2", "l": "5"}
    assert got["metadata"]["annotations"]["j"] == "3" and got["metadata"]["annotations"]["an"] == "6"
    p = kubectl(c, "-n", ns, "label", "pod", "p", "l=6", check=False)
    assert p.returncode != 0 and "already has a value" in p.stderr
    p = kubectl(c, "-n", ns, "patch", "pod", "p", "--type", "json",
                "-p", '[{"op":"test","path":"/metadata/labels/l","value":"0"}]', check=False)
    assert p.returncode != 0
    # status condition through the status subresource (strategic merge on type)
    wait_for(lambda: c.ok("GET", f"/api/v1/namespaces/{ns}/pods/p")["status"].get("phase") == "Running", 10)
    kubectl(c, "-n", ns, "patch", "pod", "p", "--subresource=status",
            "-p", '{"status":{"conditions":[{"type":"k8s.aliyun.com/eip","status":"True"}]}}')
    got = c.ok("GET", f"/api/v1/namespaces/{ns}/pods/p")
    conds = {x["type"]: x["status"] for x in got["status"]["conditions"]}
    assert conds["k8s.aliyun.com/eip"] == "True" and conds["Ready"] == "True" and conds["PodScheduled"] == "True"
    assert "1/1" in kubectl(c, "-n", ns, "get", "pod", "p", "-o", "wide").stdout.splitlines()[1].split()
    out = kubectl(c, "-n", ns, "delete", "pod", "p").stdout
    assert 'pod "p" deleted' in out
    assert c.get(f"/api/v1/namespaces/{ns}/pods/p").status == 404
    p = kubectl(c, "-n", ns, "get", "pod", "p", check=False)
    assert p.returncode != 0 and 'pods "p" not found' in p.stderr
    p = kubectl(c, "-n", ns, "get", "pods", "--field-selector", "spec.foo=x", check=False)
    assert p.returncode != 0 and "field label not supported: spec.foo" in p.stderr


def test_get_watch_sees_added_and_modified(shared_cluster, kubectl, ns, tmp_path):
    c = shared_cluster
    cmd = [KUBECTL, "--cache-dir", str(kubectl.cache), "--kubeconfig", c.kubeconfig, "-n", ns, "get", "pods",
           "-w", "--output-watch-events", "-o", "json", "--request-timeout=20s"]
    mark = c.sim("GET", "/__sim/calls").json["next"]

    def watching():
        calls = c.sim("GET", f"/__sim/calls?since={mark}").json["calls"]
        return any(x["verb"] == "watch" and x["namespace"] == ns and "kubectl" in x["user_agent"] for x in calls)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(watching, 10, what="kubectl's watch")
        mark = c.sim("GET", "/__sim/calls").json["next"]
        kubectl(c, "create", "-f", "-", "--validate=false", input=POD.format(name="w", ns=ns))
        kubectl(c, "-n", ns, "label", "pod", "w", "seen=yes")
        time.sleep(0.3)
    finally:
        proc.terminate()
        out, err = proc.communicate(10)
    dec = json.JSONDecoder()
    events, text = [], out.strip()
    while text:
        obj, end = dec.raw_decode(text)
        events.append(obj)
        text = text[end:].strip()
    assert events, err
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "w"
    mods = [e for e in events if e["type"] == "MODIFIED"]
    assert any(e["object"]["metadata"].get("labels", {}).get("seen") == "yes" for e in mods)
    # the plain table form of -w prints rows as the pod changes
    proc = subprocess.Popen([KUBECTL, "--cache-dir", str(kubectl.cache), "--kubeconfig", c.kubeconfig, "-n", ns,
                             "get", "pods", "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(watching, 10, what="kubectl's second watch")
        kubectl(c, "-n", ns, "label", "pod", "w", "again=yes")
        time.sleep(0.3)
    finally:
        proc.terminate()
        out, err = proc.communicate(10)
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "READY", "STATUS"], (out, err)
    assert len([l for l in lines if l.startswith("w ")]) >= 2, (out, err)


def test_bad_token_401(shared_cluster, kubectl):
    c = shared_cluster
    p = kubectl(c, "--token", "not-a-token", "get", "pods", check=False)
    assert p.returncode != 0
    # what kubectl prints for a 401 Status from a real API server
    assert "error: You must be logged in to the server (the server has asked for the client to provide credentials)" \
        in p.stderr


def test_rbac_403(make_cluster, kubectl, tmp_path):
    rules = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "eip-agent"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "eip-agent"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "eip-agent"},
         "subjects": [{"kind": "ServiceAccount", "name": "eip-agent", "namespace": "kube-system"}]},
    ]
    f = tmp_path / "rbac.yaml"  # YAML as in a kustomize base (JSON works too)
    f.write_text(yaml.safe_dump_all(rules))
    c = make_cluster("--nodes", "1", "--rbac", str(f))
    agent_kc = c.info["kube"]["agent_kubeconfig"]
    kubectl(c, "get", "pods", "-A", kubeconfig=agent_kc)
    p = kubectl(c, "get", "configmaps", kubeconfig=agent_kc, check=False)
    assert p.returncode != 0
    assert ('Error from server (Forbidden): configmaps is forbidden: User '
            '"system:serviceaccount:kube-system:eip-agent" cannot list resource "configmaps" in API group "" '
            'in the namespace "default"') in p.stderr
    p = kubectl(c, "create", "configmap", "x", "--from-literal=a=b", kubeconfig=agent_kc, check=False)
    assert p.returncode != 0 and 'configmaps is forbidden: User "system:serviceaccount:kube-system:eip-agent" ' \
        'cannot create resource "configmaps"' in p.stderr
    # admin is in system:masters; generator commands send protobuf bodies
    kubectl(c, "create", "configmap", "x", "--from-literal=a=b")
    kubectl(c, "create", "namespace", "proto")
    assert c.ok("GET", "/api/v1/namespaces/default/configmaps/x")["data"] == {"a": "b"}
    assert "generation" not in c.ok("GET", "/api/v1/namespaces/proto")["metadata"]


def test_rollout_scale_wait(shared_cluster, kubectl, ns):
    c = shared_cluster
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": ns},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}},
                                 "spec": {"terminationGracePeriodSeconds": 0,
                                          "containers": [{"name": "c", "image": "nginx:1"}]}}}}
    kubectl(c, "apply", "--validate=false", "-f", "-", input=json.dumps(dep))
    assert "successfully rolled out" in kubectl(c, "-n", ns, "rollout", "status", "deploy/d", "--timeout=15s").stdout
    assert "scaled" in kubectl(c, "-n", ns, "scale", "deploy/d", "--replicas=3").stdout
    scale = c.ok("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/d/scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3 and scale["status"]["selector"] == "app=d"
    kubectl(c, "-n", ns, "rollout", "status", "deploy/d", "--timeout=15s")
    out = kubectl(c, "-n", ns, "wait", "--for=condition=Ready", "pod", "-l", "app=d", "--timeout=15s").stdout
    assert out.count("condition met") == 3
    kubectl(c, "-n", ns, "set", "image", "deploy/d", "c=nginx:2")
    kubectl(c, "-n", ns, "rollout", "status", "deploy/d", "--timeout=15s")
    pods = json.loads(kubectl(c, "-n", ns, "get", "pods", "-l", "app=d", "-o", "json").stdout)["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 3 and {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:2"}
    rs = kubectl(c, "-n", ns, "get", "rs").stdout.splitlines()
    assert rs[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"] and len(rs) == 3


def test_cordon_and_drain(make_cluster, kubectl):
    c = make_cluster("--nodes", "2", "--pod-start-delay", "0.1", "--pod-stop-delay", "0.2")
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    kubectl(c, "apply", "--validate=false", "-f", "-", input=json.dumps(dep))
    kubectl(c, "rollout", "status", "deploy/d", "--timeout=15s")
    # drain finds pods/eviction in discovery and POSTs Evictions
    out = kubectl(c, "drain", "node-1", "--timeout=15s").stdout
    assert "node/node-1 cordoned" in out and "node/node-1 drained" in out and "evicted" in out
    ev = [x for x in c.sim("GET", "/__sim/calls").json["calls"] if x.get("subresource") == "eviction"]
    assert ev and all(x["status"] == 201 and x["verb"] == "create" for x in ev)
    assert ev[0]["body"]["kind"] == "Eviction"
    assert c.ok("GET", "/api/v1/nodes/node-1")["spec"]["unschedulable"] is True
    kubectl(c, "rollout", "status", "deploy/d", "--timeout=15s")
    pods = c.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dd")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 2 and {p["spec"]["nodeName"] for p in live} == {"node-2"}
    kubectl(c, "uncordon", "node-1")
    assert not c.ok("GET", "/api/v1/nodes/node-1")["spec"].get("unschedulable")


def test_auth_can_i_and_impersonation(make_cluster, kubectl, tmp_path):
    c = make_cluster("--nodes", "1", "--no-rbac")  # its own rules only
    rules = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "eip-agent:pods"}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [pods/status], verbs: [patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "eip-agent:pods"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "eip-agent:pods"}
subjects: [{kind: ServiceAccount, name: eip-agent, namespace: kube-system}]
"""
    kubectl(c, "apply", "--validate=false", "-f", "-", input=rules)
    sa = "--as=system:serviceaccount:kube-system:eip-agent"

    def can(*what):
        p = kubectl(c, "auth", "can-i", *what, sa, check=False)
        return p.stdout.strip()
    assert can("list", "pods") == "yes"
    assert can("patch", "pods", "--subresource=status") == "yes"
    assert can("patch", "pods") == "no"
    assert can("create", "configmaps") == "no"
    p = kubectl(c, "get", "configmaps", sa, check=False)
    assert p.returncode != 0 and 'User "system:serviceaccount:kube-system:eip-agent" cannot list' in p.stderr
    kubectl(c, "get", "pods", sa)
    # the agent itself may ask about itself, not impersonate others
    agent_kc = c.info["kube"]["agent_kubeconfig"]
    assert kubectl(c, "auth", "can-i", "watch", "pods", kubeconfig=agent_kc, check=False).stdout.strip() == "yes"
    p = kubectl(c, "get", "pods", "--as=someone", kubeconfig=agent_kc, check=False)
    assert p.returncode != 0 and "cannot impersonate" in p.stderr
