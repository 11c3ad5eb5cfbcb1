# SPDX-License-Identifier: MIT
"""The DaemonSet package as users get it: `kubectl kustomize daemonset/` renders
every kind, the DaemonSet has the settings a node agent should have, the PodEIP
CRD covers every field of the record, the RBAC and the CRD rendered are the
very files the simulator enforces and installs, `kubectl apply -k` works on the
simulated cluster (its DaemonSet pods land on real nodes only), and the
shipped config.yaml passes --check-config there."""
import os
import re
import subprocess
import sys

import yaml

from pkgtest import REPO, container, env_of, find, project_version, render

sys.path.insert(0, str(REPO / "tests" / "sim"))
import simyaml  # noqa: E402

AGENT_SA = {"kind": "ServiceAccount", "name": "eip-agent", "namespace": "kube-system"}


def test_base_renders_every_kind(base):
    kinds = sorted(o["kind"] for o in base)
    assert kinds == sorted(["CustomResourceDefinition", "ServiceAccount", "ClusterRole",
                            "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap", "Secret",
                            "DaemonSet"]), kinds
    for o in base:
        if o["kind"] not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert o["metadata"]["namespace"] == "kube-system", o["metadata"]
        assert o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "eip-agent" or \
            o["kind"] == "CustomResourceDefinition", o["metadata"]


def test_daemonset_runs_like_a_node_agent(base):
    ds = find(base, "DaemonSet", "eip-agent")
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    c = container(ds, "eip-agent")
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert spec["updateStrategy"]["type"] == "RollingUpdate"
    assert re.fullmatch(r"[1-9][0-9]*%?", str(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"]))

    # on the node's network, resolving cluster names, on every node whatever its taints
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["priorityClassName"] == "system-node-critical"
    assert {"operator": "Exists"} in pod["tolerations"]
    # but not on virtual nodes, where a DaemonSet pod does not run
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    assert {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]} in \
        terms[0]["matchExpressions"]
    sa = find(base, "ServiceAccount")
    assert pod["serviceAccountName"] == sa["metadata"]["name"] == "eip-agent"
    assert pod["terminationGracePeriodSeconds"] > 10  # the agent drains within 10 s

    # who it is and where it listens: the downward API
    env = env_of(c)
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["HOST_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    port = next(p for p in c["ports"] if p["name"] == "http")
    assert port["containerPort"] == 9469  # the agent's default port on $HOST_IP
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path and get["port"] in ("http", 9469), c[probe]
    assert spec["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9469"

    # requests and limits
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}, c["resources"]

    # non-root, read-only, no capabilities, no privilege escalation
    psc, sc = pod["securityContext"], c["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0 and psc["runAsGroup"] > 0
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in sc["capabilities"]

    # the configuration from the ConfigMap, the AccessKey from the Secret as files
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    cm = find(base, "ConfigMap", "eip-agent-config")
    assert vols["config"]["configMap"]["name"] == cm["metadata"]["name"]  # the generated name
    assert c["args"] == ["--config", mounts["config"]["mountPath"] + "/config.yaml"]
    secret = find(base, "Secret", "eip-agent-credentials")
    assert vols["credentials"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert env["CREDENTIALS_DIRECTORY"]["value"] == mounts["credentials"]["mountPath"]
    assert all(m.get("readOnly") for m in c["volumeMounts"])
    # group-readable by the agent's group only (fsGroup), never in the environment
    assert vols["credentials"]["secret"]["defaultMode"] == 0o440 and psc["fsGroup"] == psc["runAsGroup"]
    assert "envFrom" not in c
    assert not [e for e in c["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    assert set(secret["stringData"]) == {"access-key-id", "access-key-secret"}
    # the image is the version the build makes
    assert c["image"] == f"eip-agent:{project_version()}"


def test_config_map_is_config_yaml_in_helm_keys(base):
    cm = find(base, "ConfigMap", "eip-agent-config")
    text = (REPO / "daemonset" / "config.yaml").read_text()
    assert cm["data"] == {"config.yaml": text}
    cfg = yaml.safe_load(text)
    # the keys of the ack-extend-network-controller Helm values (DESIGN §5) and the agent's own
    assert {"clusterID", "enableControllers", "networkController", "customStatefulWorkloadKinds"} \
        <= set(cfg)
    assert cfg["enableControllers"] == ["eip"]
    assert set(cfg["networkController"]["eipController"]) == {
        "maxConcurrentReconciles", "garbageCollectionPeriodInMinutes"}
    assert "credential" not in cfg  # AccessKeys live in the Secret
    # every key is one the agent knows (docs/configuration.md lists them all)
    doc = (REPO / "docs" / "configuration.md").read_text()
    for key in ("clusterID", "enableControllers", "customStatefulWorkloadKinds", "logLevel",
                "logFormat", "networkController.eipController.maxConcurrentReconciles",
                "networkController.eipController.garbageCollectionPeriodInMinutes"):
        assert f"`{key}`" in doc, key


def test_crd_schema_covers_podeip(base):
    crd = find(base, "CustomResourceDefinition", "podeips.alibabacloud.com")
    # one source file: the package's, which the simulator installs too
    src = yaml.safe_load((REPO / "daemonset" / "podeip-crd.yaml").read_text())
    assert crd == src
    sim = (REPO / "tests" / "sim" / "simcluster").read_text()
    assert 'PODEIP_CRD = os.path.join(HERE, "..", "..", "daemonset", "podeip-crd.yaml")' in sim
    assert crd["spec"]["group"] == "alibabacloud.com" and crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["kind"] == "PodEIP" and crd["spec"]["names"]["plural"] == "podeips"
    (v,) = crd["spec"]["versions"]
    assert v["name"] == "v1beta1" and v["served"] and v["storage"]
    assert v["subresources"] == {"status": {}}
    cols = {c["name"]: c for c in v["additionalPrinterColumns"]}
    assert [c["name"] for c in v["additionalPrinterColumns"]] == ["EIP", "ENI", "Status", "Age"]
    assert cols["EIP"]["jsonPath"] == ".status.eipAddress"
    assert cols["ENI"]["jsonPath"] == ".status.networkInterfaceID"
    assert cols["Status"]["jsonPath"] == ".status.status"
    assert cols["Age"]["jsonPath"] == ".metadata.creationTimestamp" and cols["Age"]["type"] == "date"

    schema = v["schema"]["openAPIV3Schema"]["properties"]
    spec, status = schema["spec"], schema["status"]
    # DESIGN §2: spec.allocationID, spec.bandwidthPackageID,
    # spec.allocationType.{type: Auto|Static, releaseStrategy: Follow|TTL|Never, releaseAfter}
    assert set(spec["properties"]) == {"allocationID", "bandwidthPackageID", "allocationType"}
    assert set(spec["required"]) == {"allocationID", "allocationType"}
    at = spec["properties"]["allocationType"]
    assert set(at["properties"]) == {"type", "releaseStrategy", "releaseAfter"}
    assert at["properties"]["type"]["enum"] == ["Auto", "Static"]
    assert at["properties"]["type"]["default"] == "Auto"
    rs = at["properties"]["releaseStrategy"]
    assert all(e["enum"] == ["Follow", "TTL", "Never"] for e in rs["allOf"])
    # status.{eipAddress, networkInterfaceID, privateIPAddress, isp, internetChargeType,
    # resourceGroupID, name, publicIpAddressPoolID, status, bandwidth, bandwidthPackageID,
    # period, podLastSeen}
    want = {"eipAddress", "networkInterfaceID", "privateIPAddress", "isp", "internetChargeType",
            "resourceGroupID", "name", "publicIpAddressPoolID", "status", "bandwidth",
            "bandwidthPackageID", "period", "podLastSeen"}
    assert set(status["properties"]) == want
    for f in want - {"period"}:
        assert status["properties"][f]["type"] == "string", f
    assert status["properties"]["period"]["type"] == "integer"
    assert status["properties"]["podLastSeen"]["format"] == "date-time"


def test_rbac_rendered_is_what_the_simulator_enforces(base):
    rendered = [o for o in base if o["apiVersion"].startswith("rbac.authorization.k8s.io/")]
    src = simyaml.load_all((REPO / "daemonset" / "rbac.yaml").read_text())
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    assert sorted(rendered, key=key) == sorted(src, key=key)
    sim = (REPO / "tests" / "sim" / "simcluster").read_text()
    assert 'AGENT_RBAC = os.path.join(HERE, "..", "..", "daemonset", "rbac.yaml")' in sim
    assert re.search(r'add_argument\("--rbac", default=AGENT_RBAC', sim)
    for b in (o for o in rendered if o["kind"].endswith("Binding")):
        assert b["subjects"] == [AGENT_SA], b
    role = find(base, "Role", "eip-agent-leader-election")
    assert role["metadata"]["namespace"] == "kube-system"
    # get/update are limited to the agent's own Lease; create cannot be (the name is in the body)
    for r in role["rules"]:
        assert r["resources"] == ["leases"] and r["apiGroups"] == ["coordination.k8s.io"]
        if r["verbs"] != ["create"]:
            assert r["resourceNames"] == ["eip-agent"], r
    # no wildcards anywhere
    for o in rendered:
        for r in o.get("rules", []):
            for k in ("verbs", "resources", "apiGroups"):
                assert "*" not in r[k], r


def test_credentials_overlay_as_documented(tmp_path):
    """docs/deploy.md's overlay gives the keys without touching the base."""
    doc = (REPO / "docs" / "deploy.md").read_text()
    m = re.search(r"<!-- overlay:kustomization -->\n```yaml\n(.*?)```", doc, re.S)
    assert m, "docs/deploy.md lacks the overlay example"
    # kustomize takes a base by a relative path only
    text = m.group(1).replace("../eip-agent/daemonset", os.path.relpath(REPO / "daemonset", tmp_path))
    (tmp_path / "kustomization.yaml").write_text(text)
    (tmp_path / "access-key-id").write_text("LTAIexample\n")
    (tmp_path / "access-key-secret").write_text("exampleSecret\n")
    (tmp_path / "config.yaml").write_text("clusterID: c0123456789abcdef\nenableControllers: [eip]\n")
    objs = render(tmp_path)
    secrets = [o for o in objs if o["kind"] == "Secret"]
    assert len(secrets) == 1
    s = secrets[0]
    assert s["metadata"]["name"] == "eip-agent-credentials"
    import base64
    data = {k: base64.b64decode(v).decode() for k, v in s["data"].items()}
    assert data == {"access-key-id": "LTAIexample\n", "access-key-secret": "exampleSecret\n"}
    assert "stringData" not in s  # the base's empty values are gone, not merged
    ds = find(objs, "DaemonSet", "eip-agent")
    cm = find(objs, "ConfigMap", "eip-agent-config")
    assert cm["data"]["config.yaml"].startswith("clusterID: c0123456789abcdef")
    vols = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
    assert vols["config"]["configMap"]["name"] == cm["metadata"]["name"]
    assert container(ds)["image"].startswith("registry.example.com/eip-agent:")


def test_apply_to_the_simulated_cluster(make_world, agent_bin, tmp_path):
    """kubectl apply -k daemonset/ as an operator runs it (strict field validation), twice;
    the DaemonSet's pods go to the real nodes only; the shipped config.yaml, with the
    node's environment, passes every --check-config check against the simulators."""
    w = make_world(nodes=2, virtual_nodes=1)
    out = w.kubectl("apply", "-k", str(REPO / "daemonset")).stdout
    for what in ("serviceaccount/eip-agent", "clusterrole.rbac.authorization.k8s.io/eip-agent",
                 "daemonset.apps/eip-agent", "secret/eip-agent-credentials"):
        assert re.search(rf"^{re.escape(what)} (created|configured|unchanged)$", out, re.M), out
    assert re.search(r"^customresourcedefinition\.apiextensions\.k8s\.io/podeips\.alibabacloud\.com ",
                     out, re.M), out
    again = w.kubectl("apply", "-k", str(REPO / "daemonset")).stdout
    assert "daemonset.apps/eip-agent unchanged" in again, again

    def ds_pods():
        _, lst = w.kube.call("GET", "/api/v1/namespaces/kube-system/pods?labelSelector="
                                    "app.kubernetes.io%2Fname%3Deip-agent")
        return sorted(p["spec"].get("nodeName", "") for p in lst["items"])
    from world import wait_for
    assert wait_for(lambda: ds_pods() == ["node-1", "node-2"], 20,
                    "DaemonSet pods on node-1 and node-2")
    _, ds = w.kube.call("GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/eip-agent")
    assert ds["status"]["desiredNumberScheduled"] == 2

    env = w.node_env("node-1")
    env.pop("EIP_AGENT_LISTEN")
    env["EIP_AGENT_LISTEN"] = "127.0.0.1:0"
    p = subprocess.run([str(agent_bin), "--config", str(REPO / "daemonset" / "config.yaml"),
                        "--check-config"], capture_output=True, text=True, timeout=60,
                       env=_clean(env))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "FAIL" not in p.stdout and "unknown key" not in p.stderr, p.stdout + p.stderr
    # without the cluster's id (config.yaml leaves it empty) it refuses to start, saying why
    env.pop("EIP_AGENT_CLUSTER_ID")
    p = subprocess.run([str(agent_bin), "--config", str(REPO / "daemonset" / "config.yaml")],
                       capture_output=True, text=True, timeout=60, env=_clean(env))
    assert p.returncode == 2 and "clusterID is required" in p.stderr, p.stderr


def _clean(extra):
    sys.path.insert(0, str(REPO / "tests" / "e2e" / "agent"))
    from agenttest import clean_env
    return clean_env(extra)


def test_image_tag_follows_the_version():
    v = project_version()
    for k in ("daemonset/kustomization.yaml", "daemonset/overlays/virtual-node/kustomization.yaml"):
        kz = yaml.safe_load((REPO / k).read_text())
        assert kz["images"] == [{"name": "eip-agent", "newName": "eip-agent", "newTag": v}], k
    assert f"eip-agent:{v}" in (REPO / "daemonset" / "Dockerfile").read_text()
