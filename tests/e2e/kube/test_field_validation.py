# SPDX-License-Identifier: MIT
"""kubectl 1.32 with its default validation (no --validate=false): it reads the
OpenAPI v3 documents, finds the fieldValidation parameter and leaves validation to
the server (fieldValidation=Strict). The parameter's three modes as the API server
implements them (handlers/create.go, update.go, patch.go; default Warn)."""
import json

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: nginx:1.27
    ports: [{{containerPort: 80}}]
{extra}"""

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"terminationGracePeriodSeconds": 0,
                                             "containers": [{"name": "c", "image": "nginx:1",
                                                             "env": [{"name": "A", "value": "1"},
                                                                     {"name": "B", "value": "2"}]},
                                                            {"name": "side", "image": "busybox"}]}}}}
CMS = "/api/v1/namespaces/default/configmaps"


def kubectl_calls(c, since=0):
    return [x for x in c.sim("GET", f"/__sim/calls?since={since}").json["calls"] if "kubectl" in x["user_agent"]]


def test_kubectl_create_pod_with_default_validation(cluster, kubectl):
    c = cluster
    out = kubectl(c, "create", "-f", "-", input=POD.format(name="web", extra="")).stdout
    assert out.strip() == "pod/web created"
    c.wait_running("web")
    calls = kubectl_calls(c)
    assert any(x["path"] == "/openapi/v3" and x["status"] == 200 for x in calls)
    assert any(x["path"] == "/openapi/v3/api/v1" and x["status"] == 200 for x in calls)
    post = [x for x in calls if x["method"] == "POST" and x["path"].endswith("/pods")]
    assert post and "fieldValidation=Strict" in post[0]["query"] and post[0]["status"] == 201
    # an unknown field is the server's strict decoding error, worded as the real one
    bad = POD.format(name="bad", extra="  nodeSelectr: {disk: ssd}\n").replace("image: nginx:1.27",
                                                                                 "image: nginx:1.27\n    imagePull: x")
    p = kubectl(c, "create", "-f", "-", input=bad, check=False)
    assert p.returncode != 0
    assert ('Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" cannot be handled as '
            'a Pod: strict decoding error: unknown field "spec.containers[0].imagePull", unknown field '
            '"spec.nodeSelectr"') in p.stderr, p.stderr
    assert c.get("/api/v1/namespaces/default/pods/bad").status == 404


def test_kubectl_apply_deployment_with_default_validation(cluster, kubectl):
    c = cluster
    out = kubectl(c, "apply", "-f", "-", input=json.dumps(DEPLOYMENT)).stdout
    assert out.strip() == "deployment.apps/web created"
    kubectl(c, "rollout", "status", "deploy/web", "--timeout=15s")
    changed = json.loads(json.dumps(DEPLOYMENT))
    tpl = changed["spec"]["template"]["spec"]
    tpl["containers"] = [{"name": "c", "image": "nginx:2", "env": [{"name": "A", "value": "1"}]}]
    changed["spec"]["replicas"] = 3
    p = kubectl(c, "apply", "-f", "-", input=json.dumps(changed))
    assert p.stdout.strip() == "deployment.apps/web configured" and "warning" not in p.stderr.lower(), p.stderr
    got = c.ok("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert got["spec"]["replicas"] == 3
    assert got["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "nginx:2",
                                                              "env": [{"name": "A", "value": "1"}]}]
    patches = [x for x in kubectl_calls(c) if x["method"] == "PATCH"]
    assert patches[-1]["content_type"] == "application/strategic-merge-patch+json"
    assert "fieldValidation=Strict" in patches[-1]["query"]
    assert "unchanged" in kubectl(c, "apply", "-f", "-", input=json.dumps(changed)).stdout
    kubectl(c, "rollout", "status", "deploy/web", "--timeout=15s")
    # a typo in the manifest is refused by the server on the patch, as a real one does
    changed["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    p = kubectl(c, "apply", "-f", "-", input=json.dumps(changed), check=False)
    assert p.returncode != 0
    assert 'strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in p.stderr


def test_openapi_v3_documents(cluster):
    c = cluster
    index = c.ok("GET", "/openapi/v3")["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1", "apis/alibabacloud.com/v1beta1"} <= set(index)
    url = index["api/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/api/v1?hash=")
    r = c.get(url)
    assert r.status == 200 and "immutable" in r.headers["Cache-Control"]
    doc = r.json
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["properties"][
        "containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    pe = c.ok("GET", index["apis/alibabacloud.com/v1beta1"]["serverRelativeURL"])
    pe_patch = pe["paths"]["/apis/alibabacloud.com/v1beta1/namespaces/{namespace}/podeips/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in pe_patch["requestBody"]["content"]
    assert c.get("/openapi/v3/apis/nothing.example.com/v1").status == 404
    assert c.get("/openapi/v3", token=None).status == 401


def cm(name, **extra):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}, **extra}


def test_field_validation_modes_on_create_and_update(cluster):
    c = cluster
    r = c.req("POST", CMS + "?fieldValidation=Strict", cm("s", bogus=1, spec={"x": 1}))
    assert r.status == 400 and r.json["reason"] == "BadRequest"
    assert r.json["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
                                 'error: unknown field "bogus", unknown field "spec"')
    r = c.req("POST", CMS + "?fieldValidation=Warn", cm("w", bogus=1))
    assert r.status == 201 and "bogus" not in r.json
    assert r.headers.get_all("Warning") == ['299 - "unknown field \\"bogus\\""']
    r = c.req("POST", CMS, cm("d", bogus=1))  # no parameter: Warn
    assert r.status == 201 and r.headers.get_all("Warning") == ['299 - "unknown field \\"bogus\\""']
    r = c.req("POST", CMS + "?fieldValidation=Ignore", cm("i", bogus=1))
    assert r.status == 201 and "bogus" not in r.json and r.headers.get("Warning") is None
    assert "bogus" not in c.ok("GET", CMS + "/i")
    # duplicate fields: the last wins, Strict refuses
    raw = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"},"data":{"a":"1"}}'
    r = c.req("POST", CMS + "?fieldValidation=Strict", raw)
    assert r.status == 400 and r.json["message"].endswith('strict decoding error: duplicate field "metadata.name"')
    r = c.req("POST", CMS + "?fieldValidation=Warn", raw)
    assert r.status == 201 and r.json["metadata"]["name"] == "dup2"
    assert r.headers.get_all("Warning") == ['299 - "duplicate field \\"metadata.name\\""']
    # PUT
    cur = c.ok("POST", CMS, cm("s2"))
    cur["bogus"] = True
    r = c.req("PUT", CMS + "/s2?fieldValidation=Strict", cur)
    assert r.status == 400 and 'unknown field "bogus"' in r.json["message"]
    r = c.req("PUT", CMS + "/s2?fieldValidation=Ignore", cur)
    assert r.status == 200 and "bogus" not in r.json
    # known fields nested in lists are fine, unknown ones are named with their index
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "a", "image": "x", "env": [{"name": "E", "valueFrom": {
               "fieldRef": {"fieldPath": "status.podIP"}}, "bogus": 1}]}]}}
    r = c.req("POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict", pod)
    assert r.status == 400 and r.json["message"].endswith('unknown field "spec.containers[0].env[0].bogus"')


def test_field_validation_on_patches(cluster):
    c = cluster
    c.ok("POST", CMS, cm("p"))
    r = c.req("PATCH", CMS + "/p?fieldValidation=Strict", {"bogus": 1}, ctype="application/merge-patch+json")
    assert r.status == 422 and r.json["reason"] == "Invalid"
    msg = r.json["message"]
    assert msg.startswith(' "" is invalid: patch: Invalid value: "{') and \
        msg.endswith('": strict decoding error: unknown field "bogus"'), msg
    assert r.json["details"]["causes"][0]["field"] == "patch"
    r = c.req("PATCH", CMS + "/p?fieldValidation=Strict", {"bogus": {"x": 1}},
              ctype="application/strategic-merge-patch+json")
    assert r.status == 422 and r.json["message"] == (' "" is invalid: patch: Invalid value: "map[bogus:map[x:1]]": '
                                                     'strict decoding error: unknown field "bogus"')
    r = c.req("PATCH", CMS + "/p?fieldValidation=Strict", [{"op": "add", "path": "/bogus", "value": 1}],
              ctype="application/json-patch+json")
    assert r.status == 422 and r.json["message"].endswith('strict decoding error: unknown field "bogus"')
    r = c.req("PATCH", CMS + "/p", {"bogus": 1, "data": {"b": "2"}}, ctype="application/merge-patch+json")
    assert r.status == 200 and r.json["data"] == {"a": "1", "b": "2"} and "bogus" not in r.json
    assert r.headers.get_all("Warning") == ['299 - "unknown field \\"bogus\\""']
    # custom resources: unknown fields come from pruning against the schema
    pe = {"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP", "metadata": {"name": "x"},
          "spec": {"allocationID": "eip-1", "allocationType": {"releaseStrategy": "Never"}}}
    path = "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips"
    c.ok("POST", path, pe)
    r = c.req("PATCH", path + "/x?fieldValidation=Strict", {"spec": {"allocationType": {"ttl": "1h"}}},
              ctype="application/merge-patch+json")
    assert r.status == 422 and r.json["message"].endswith(
        'strict decoding error: unknown field "spec.allocationType.ttl"')
    r = c.req("PATCH", path + "/x/status?fieldValidation=Warn", {"status": {"eipAddress": "203.0.113.1", "ip": "x"}},
              ctype="application/merge-patch+json")
    assert r.status == 200 and r.json["status"] == {"eipAddress": "203.0.113.1"}
    assert r.headers.get_all("Warning") == ['299 - "unknown field \\"status.ip\\""']
