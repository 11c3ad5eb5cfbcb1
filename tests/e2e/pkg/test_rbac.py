# SPDX-License-Identifier: MIT
"""The package's RBAC (daemonset/rbac.yaml) is exactly what the agent needs.

simcluster enforces that file by default, so every end-to-end run of the agent
shows it is enough. Here two agents go through what they do in a cluster (bind
Auto and Static EIPs, wait for a Static EIP's holder, fail the same way twice, release a
record ack-extend-network-controller left a finalizer on, take over a stale
record, elect the GC leader and collect garbage), and the API server's log of
their requests is checked against the rules, with the simulator's own
authorizer:
 - enough: no request of theirs was refused, and each is allowed by the rules;
 - not more: the rules are cut into single grants (one group, resource, verb,
   names); for each, some request the agents made is refused once that grant
   alone is removed. A grant no request needs fails the test: take it out of
   rbac.yaml, or add the scenario that needs it.
The same run checks the PodEIP CRD from the other side: every field the agents
sent in a PodEIP is declared in its schema (else the API server prunes it)."""
import itertools
import threading
import types

import pytest

import kubesim_store
import simyaml
from pkgtest import REPO
from world import GATE, P, World, wait_for

AGENT = "system:serviceaccount:kube-system:eip-agent"
RBAC = REPO / "daemonset" / "rbac.yaml"
ACK_FINALIZER = "podeip-controller.alibabacloud.com/finalizer"
PODEIPS = "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips"


# ---- the simulator's authorizer over a given set of RBAC objects ----

class _Res:
    def __init__(self, group, plural):
        self.group, self.plural = group, plural


def authorizer(objs):
    objs_by_key = {k: {} for k in ("clusterroles.rbac.authorization.k8s.io",
                                   "clusterrolebindings.rbac.authorization.k8s.io",
                                   "roles.rbac.authorization.k8s.io",
                                   "rolebindings.rbac.authorization.k8s.io")}
    for o in objs:
        key = o["kind"].lower() + "s.rbac.authorization.k8s.io"
        objs_by_key[key][(o["metadata"].get("namespace", ""), o["metadata"]["name"])] = o
    store = types.SimpleNamespace(lock=threading.RLock(), objs=objs_by_key)
    return kubesim_store.Authorizer(store)


def allowed(authz, call):
    groups = ["system:serviceaccounts", "system:serviceaccounts:kube-system",
              "system:authenticated"]
    return authz.allowed(call["user"], groups, call["verb"], _Res(call["group"], call["resource"]),
                         call["namespace"], call["name"], call["subresource"])


def atoms(objs):
    """Every rule cut into single grants: (object index, rule index, group, resource, verb)."""
    out = []
    for i, o in enumerate(objs):
        for j, r in enumerate(o.get("rules", [])):
            for g, res, v in itertools.product(r["apiGroups"], r["resources"], r["verbs"]):
                out.append((i, j, g, res, v))
    return out


def without(objs, atom):
    """objs with one grant removed (every other grant of its rule kept)."""
    i, j, g, res, v = atom
    out = []
    for k, o in enumerate(objs):
        if k != i:
            out.append(o)
            continue
        rules = []
        for n, r in enumerate(o["rules"]):
            if n != j:
                rules.append(r)
                continue
            for g2, res2, v2 in itertools.product(r["apiGroups"], r["resources"], r["verbs"]):
                if (g2, res2, v2) != (g, res, v):
                    rules.append({**r, "apiGroups": [g2], "resources": [res2], "verbs": [v2]})
        out.append({**o, "rules": rules})
    return out


def describe(atom, objs):
    i, j, g, res, v = atom
    o = objs[i]
    names = o["rules"][j].get("resourceNames")
    return (f"{o['kind']} {o['metadata']['name']}: {v} {res}" + (f".{g}" if g else "") +
            (f" {names}" if names else ""))


def needing(atom, objs, calls):
    """The first call allowed by objs and refused once the grant is removed."""
    full, cut = authorizer(objs), authorizer(without(objs, atom))
    for c in calls:
        if allowed(full, c) and not allowed(cut, c):
            return c
    return None


# ---- the scenario ----

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("rbac"), nodes=2)
    try:
        yield scenario(w)
    finally:
        w.close()


def scenario(w):
    fast = {"EIP_AGENT_GC_PERIOD_SECONDS": "2"}  # the leader's cluster GC, often
    a1 = w.start_agent("node-1", env=fast)
    w.start_agent("node-2", env=fast)
    w.agent = a1

    # a Static EIP that does not exist: EIPFailed, and the same again at the retry (without
    # a request id in it): the recorder patches the first Event's count
    w.create_pod("nope", {P + "pod-eip-instanceid": "eip-doesnotexist"}, node="node-1")

    # Auto: a bare pod (stateful) and a Deployment's pod (Follow) on the other node
    w.create_pod("auto-1", {P + "pod-with-eip": "true"}, node="node-1")
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"},
                                              "annotations": {P + "pod-with-eip": "true"}},
                                 "spec": {"nodeSelector": {"kubernetes.io/hostname": "node-2"},
                                          "terminationGracePeriodSeconds": 1,
                                          "readinessGates": [{"conditionType": GATE}],
                                          "containers": [{"name": "c", "image": "nginx"}]}}}}
    w.kube.call("POST", "/apis/apps/v1/namespaces/default/deployments", dep)
    w.wait_bound("auto-1")

    # Static: the second pod naming the EIP waits for the first (its holder, looked up
    # by IP across the cluster), then takes over
    aid = w.create_eip()["AllocationId"]
    w.create_pod("static-a", {P + "pod-eip-instanceid": aid}, node="node-1")
    w.wait_bound("static-a")
    w.create_pod("static-b", {P + "pod-eip-instanceid": aid}, node="node-1")
    w.wait_view(a1, "static-b", lambda v: v["state"] == "Waiting" and "static-a" in v["message"],
                what="static-b waiting for static-a")
    w.delete_pod("static-a")
    w.wait_bound("static-b", timeout=60)

    # a record that ack-extend-network-controller keeps a finalizer on: the agent takes
    # its finalizer off (a JSON patch of the version it read), then deletes the record
    w.create_pod("migrated", {P + "pod-with-eip": "true"}, node="node-1")
    w.wait_bound("migrated")
    wait_for(lambda: w.podeip("migrated"), 10, "PodEIP migrated")
    w.kube.call("PATCH", f"{PODEIPS}/migrated", {"metadata": {"finalizers": [ACK_FINALIZER]}},
                ctype="application/merge-patch+json")
    w.delete_pod("migrated")
    wait_for(lambda: w.podeip("migrated") is None, 30, "PodEIP migrated deleted")

    # a stale record of an earlier pod of the same name: rewritten for this one
    old = w.create_eip()["AllocationId"]
    w.kube.call("POST", PODEIPS, {
        "apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP",
        "metadata": {"name": "again", "annotations": {"eip-agent/pod-uid": "uid-of-an-old-pod"}},
        "spec": {"allocationID": old, "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}}})
    w.create_pod("again", {P + "pod-with-eip": "true"}, node="node-1")
    w.wait_bound("again")
    wait_for(lambda: (w.podeip("again") or {}).get("metadata", {}).get("annotations", {})
             .get("eip-agent/pod-uid") == w.pod("again")["metadata"]["uid"], 20,
             "PodEIP again rewritten for the new pod")

    assert wait_for(lambda: [e for e in w.events("nope", reason="EIPFailed")
                             if e.get("count", 1) >= 2], 40, "EIPFailed of nope counted twice")

    # everything goes: Follow EIPs released, records deleted
    for name in ("auto-1", "static-b", "nope", "again"):
        w.delete_pod(name)
    w.kube.call("DELETE", "/apis/apps/v1/namespaces/default/deployments/web")
    for name in ("auto-1", "static-b", "nope", "again"):
        w.wait_pod_gone(name)
    w.wait_no_leaks(30)

    rbac = simyaml.load_all(RBAC.read_text())

    def agent_calls():
        return [c for c in w.kube_calls()["calls"] if c.get("user") == AGENT and c.get("resource")]

    # the leader's work (Lease, cluster GC) runs on its own period: wait until every grant
    # is needed by some request, or the deadline passes (the test then names the rest)
    grants = atoms(rbac)

    def all_needed():
        calls = agent_calls()
        return all(needing(a, rbac, calls) for a in grants) and calls
    try:
        wait_for(all_needed, 20, "a request needing each grant", interval=1.0)
    except AssertionError:
        pass
    return types.SimpleNamespace(world=w, rbac=rbac, calls=agent_calls(), grants=grants)


# ---- the checks ----

def test_rbac_is_enough(run):
    refused = [c for c in run.calls if c["status"] == 403]
    assert not refused, [(c["method"], c["path"], c["query"]) for c in refused]
    authz = authorizer(run.rbac)
    assert run.calls
    for c in run.calls:
        assert allowed(authz, c), (c["verb"], c["resource"], c["subresource"], c["namespace"])


def test_rbac_is_not_more_than_needed(run):
    unneeded = []
    for a in run.grants:
        c = needing(a, run.rbac, run.calls)
        if c is None:
            unneeded.append(describe(a, run.rbac))
        else:
            print(f"{describe(a, run.rbac):70} needed by {c['method']} {c['path']}"
                  + (f"?{c['query']}" if c["query"] else ""))
    assert not unneeded, ("grants no request of the agents needs (take them out of "
                          f"daemonset/rbac.yaml, or exercise them here): {unneeded}")


def test_every_podeip_field_the_agent_writes_is_in_the_schema(run):
    import yaml
    crd = yaml.safe_load((REPO / "daemonset" / "podeip-crd.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    def paths(value, prefix=""):
        if isinstance(value, dict):
            for k, v in value.items():
                yield from paths(v, f"{prefix}.{k}" if prefix else k)
        else:
            yield prefix

    def declared(path):
        node = schema
        for part in path.split("."):
            if node.get("x-kubernetes-preserve-unknown-fields"):
                return True
            props = node.get("properties")
            if props is None:
                return part and node.get("type") == "object" and "additionalProperties" in node
            if part not in props:
                return False
            node = props[part]
        return True

    bodies = [c["body"] for c in run.calls if c["resource"] == "podeips" and c.get("body")
              and c["verb"] in ("create", "update", "patch") and isinstance(c["body"], dict)]
    assert bodies, "no PodEIP write recorded"
    seen = set()
    for b in bodies:
        for part in ("spec", "status"):
            for p in paths(b.get(part, {}), part):
                seen.add(p)
                assert declared(p), f"the agent writes {p}, which the CRD does not declare"
    for must in ("spec.allocationID", "spec.allocationType.type",
                 "spec.allocationType.releaseStrategy", "status.eipAddress",
                 "status.networkInterfaceID", "status.privateIPAddress"):
        assert must in seen, (must, sorted(seen))


def test_simcluster_enforces_the_package_rbac_by_default(tmp_path):
    """The agent's identity may list pods but not configmaps; --no-rbac opens the server."""
    for args, want in (((), 403), (("--no-rbac",), 200)):
        w = World(tmp_path / f"w{len(args)}", args=args)
        try:
            from world import HttpJson
            agent = HttpJson(w.info["kube"]["server"], w.kube.ctx, w.info["kube"]["tokens"]["agent"])
            assert agent.call("GET", "/api/v1/pods", ok=None)[0] == 200
            st, body = agent.call("GET", "/api/v1/namespaces/default/configmaps", ok=None)
            assert st == want, body
            if want == 403:
                assert body["message"] == (
                    'configmaps is forbidden: User "system:serviceaccount:kube-system:eip-agent" '
                    'cannot list resource "configmaps" in API group "" in the namespace "default"')
                st, _ = agent.call("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/"
                                          "eip-agent", ok=None)
                assert st == 403  # the Lease only in kube-system
        finally:
            w.close()
