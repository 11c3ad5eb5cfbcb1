# SPDX-License-Identifier: MIT
"""overlays/virtual-node/: the agent of a virtual node (ACS/ECI) as users deploy it.

The overlay, patched for the simulated virtual node the way docs/deploy.md says,
renders a one-replica Deployment with NODE_NAME set to that node, and a Service
in front of it; it applies to the simulated cluster. The agent then runs with
what that Deployment gives it (its env, the config.yaml of its ConfigMap, the
AccessKey as files in $CREDENTIALS_DIRECTORY from the Secret) on top of the
simulated endpoints. The virtual node has no instance metadata, and each of its
pods holds its own ENI: every pod there is bound on its own ENI, found with
DescribeNetworkInterfaces, and the example pod's init step (by name, through the
Service) ends only after its bind."""
import os
import re
import subprocess
import time

import yaml

from pkgtest import REPO, container, env_of, find, render
from world import HttpJson, wait_for

NODE = "virtual-node-1"
DOC_NODE = "virtual-kubelet-cn-hangzhou-k"


def doc_overlay(tmp_path):
    """docs/deploy.md's per-node overlay, for the simulated virtual node."""
    doc = (REPO / "docs" / "deploy.md").read_text()
    m = re.search(r"<!-- overlay:virtual-node -->\n```yaml\n(.*?)```", doc, re.S)
    assert m, "docs/deploy.md lacks the per-node overlay"
    text = m.group(1)
    assert "../eip-agent/daemonset/overlays/virtual-node" in text
    text = text.replace("../eip-agent/daemonset/overlays/virtual-node",
                        os.path.relpath(REPO / "daemonset" / "overlays" / "virtual-node", tmp_path))
    assert DOC_NODE in text
    (tmp_path / "kustomization.yaml").write_text(text.replace(DOC_NODE, NODE))
    return render(tmp_path)


def test_overlay_renders_one_agent_for_the_node(tmp_path):
    objs = render("daemonset/overlays/virtual-node")
    assert sorted(o["kind"] for o in objs) == ["ConfigMap", "Deployment", "Service"]
    dep = find(objs, "Deployment", "eip-agent-virtual-node")
    svc = find(objs, "Service", "eip-agent-virtual-node")
    cm = find(objs, "ConfigMap", "eip-agent-virtual-node-config")
    spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
    c = container(dep)
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    assert env_of(c)["NODE_NAME"]["value"] == DOC_NODE
    assert not pod.get("hostNetwork")
    assert {"key": "virtual-kubelet.io/provider", "operator": "Exists"} in pod["tolerations"]
    assert pod["serviceAccountName"] == "eip-agent"  # the base's, with its RBAC
    # the Service reaches the Deployment's pod on the agent's port
    labels = spec["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    (port,) = svc["spec"]["ports"]
    assert port["port"] == 9469 and port["targetPort"] == "http"
    assert {"name": "http", "containerPort": 9469, "protocol": "TCP"} in c["ports"]
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    assert cfg["listen"] == ":9469" and "regionID" in cfg and "vpcID" in cfg
    # hardened like the DaemonSet
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and pod["securityContext"]["runAsNonRoot"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["config"]["configMap"]["name"] == cm["metadata"]["name"]
    assert vols["credentials"]["secret"]["secretName"] == "eip-agent-credentials"

    # one overlay per virtual node, as docs/deploy.md shows: names and selectors apart
    mine = doc_overlay(tmp_path)
    dep2 = find(mine, "Deployment", "eip-agent-virtual-node-zone-k")
    svc2 = find(mine, "Service", "eip-agent-virtual-node-zone-k")
    assert env_of(container(dep2))["NODE_NAME"]["value"] == NODE
    assert svc2["spec"]["selector"]["eip-agent/node"] == NODE
    assert dep2["spec"]["selector"]["matchLabels"]["eip-agent/node"] == NODE
    cm2 = next(o for o in mine if o["kind"] == "ConfigMap")
    vols = {v["name"]: v for v in dep2["spec"]["template"]["spec"]["volumes"]}
    assert vols["config"]["configMap"]["name"] == cm2["metadata"]["name"]


def test_agent_of_a_virtual_node(make_world, tmp_path, agent_bin):
    w = make_world(nodes=1, virtual_nodes=1)
    ov = tmp_path / "overlay"
    ov.mkdir()
    objs = doc_overlay(ov)
    # the base and the overlay apply to the cluster, the Deployment gets its one pod
    w.kubectl("apply", "-k", str(REPO / "daemonset"))
    w.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))
    wait_for(lambda: len([p for p in w.kube.call(
        "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=eip-agent%2Fnode%3D" + NODE)[1]
        ["items"]]) == 1, 20, "the virtual node's agent pod")

    # the agent as that Deployment runs it
    dep = find(objs, "Deployment", "eip-agent-virtual-node-zone-k")
    c = container(dep)
    cm = next(o for o in objs if o["kind"] == "ConfigMap")
    sim = w.node_env(NODE)
    creds = tmp_path / "credentials"  # the Secret's files, as mounted
    creds.mkdir()
    (creds / "access-key-id").write_text(sim.pop("ALIBABA_CLOUD_ACCESS_KEY_ID") + "\n")
    (creds / "access-key-secret").write_text(sim.pop("ALIBABA_CLOUD_ACCESS_KEY_SECRET") + "\n")
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["NODE_NAME"] == NODE
    env["CREDENTIALS_DIRECTORY"] = str(creds)
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    # what the operator fills in (config.yaml leaves them to you), from the simulated cloud
    cfg.update({"clusterID": w.info["cluster_id"], "regionID": w.info["region"],
                "vpcID": w.info["vpc_id"]})
    # the simulated endpoints, instead of the real ones; no metadata (a closed port)
    for k in ("KUBECONFIG", "EIP_AGENT_VPC_ENDPOINT", "EIP_AGENT_ECS_ENDPOINT",
              "EIP_AGENT_STS_ENDPOINT", "EIP_AGENT_CLOUD_CA_FILE", "EIP_AGENT_METADATA_ENDPOINT",
              "EIP_AGENT_LISTEN"):
        env[k] = sim[k]
    assert env["EIP_AGENT_METADATA_ENDPOINT"] == "http://127.0.0.1:9"
    # the key in files only: the node's environment from simcluster has it too, and a set
    # but empty variable counts as unset
    env.update({"ALIBABA_CLOUD_ACCESS_KEY_ID": "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ""})
    a = w.start_agent(NODE, config=yaml.safe_dump(cfg), env=env)
    assert "cloud credentials loaded from static" in a.stderr(), a.stderr()[-2000:]

    # two pods on the virtual node, the example pod's way
    example = yaml.safe_load((REPO / "daemonset" / "overlays" / "virtual-node" /
                              "example-pod.yaml").read_text())
    names = ["eci-a", "eci-b"]
    since = len(w.cloud_calls())
    w.cloud_config(associate_delay=2.0)  # the init step starts before the bind
    for n in names:
        body = yaml.safe_load(yaml.safe_dump(example))
        body["metadata"]["name"] = n
        body["metadata"]["namespace"] = "default"
        body["spec"]["terminationGracePeriodSeconds"] = 1
        w.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    # play eci-a's init step: the Service's name is where kube-proxy sends it, the agent here
    p = wait_for(lambda: (lambda q: q if q and q.get("status", {}).get("podIP") else None)(
        w.pod("eci-a")), 20, "eci-a's IP")
    assert p["spec"]["nodeName"] == NODE
    init = p["spec"]["initContainers"][0]
    script = init["command"][2].replace("eip-agent-virtual-node.kube-system.svc:9469",
                                        f"{a.host}:{a.port}")
    assert script != init["command"][2]
    penv = {"PATH": "/usr/bin:/bin", "POD_NAMESPACE": "default", "POD_NAME": "eci-a"}
    t0 = time.time()
    step = subprocess.run(["/bin/sh", "-c", script], env=penv, capture_output=True, text=True,
                          timeout=90)
    t1 = time.time()
    assert step.returncode == 0, step.stdout + step.stderr

    views = {}
    for n in names:
        w.wait_bound(n, timeout=60)
        st, v = HttpJson(a.url("")).call("GET", f"/v1/pods/default/{n}", ok=None)
        assert st == 200 and v["state"] == "Bound", v
        e = w.eip(v["allocationId"])
        # bound to the pod's own ENI, whose primary address the pod's IP is
        assert e["Status"] == "InUse", e
        assert e["InstanceId"] == v["networkInterfaceId"] and e["InstanceType"] == "NetworkInterface"
        views[n] = v
    # each pod its own ENI, each ENI holding that pod's IP
    assert views["eci-a"]["networkInterfaceId"] != views["eci-b"]["networkInterfaceId"]
    enis = {x["NetworkInterfaceId"]: x for x in w.cloud.call("GET", "/enis")[1]["enis"]}
    for n, v in views.items():
        assert enis[v["networkInterfaceId"]]["PrivateIpAddress"] == v["podIP"], (n, v)
    calls = [c["action"] for c in w.cloud_calls()[since:]]
    assert "DescribeNetworkInterfaces" in calls, calls
    # eci-a's init step ended after eci-a was written bound
    patch = min(c["time"] for c in w.kube_calls()["calls"] if c.get("verb") == "patch" and
                c.get("subresource") == "status" and c.get("name") == "eci-a" and
                c.get("user", "").endswith(":eip-agent") and c.get("status") == 200)
    assert t0 < patch <= t1
    for n in names:
        w.delete_pod(n)
    for n in names:
        wait_for(lambda: w.eip(views[n]["allocationId"]) is None, 30, f"{n}'s EIP released")
    w.assert_no_leaks()
