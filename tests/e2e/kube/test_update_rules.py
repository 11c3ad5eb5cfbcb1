# SPDX-License-Identifier: MIT
"""What an update may change, as the API server decides it: uid is immutable
(ValidateObjectMetaUpdate for patches, the storage precondition for PUTs), the status
strategies (pods/status keeps the request's metadata, a custom resource's /status
keeps the old object's), a strategic merge patch list item without its merge key,
Lease validation and MicroTime decoding, no new finalizers once deletion started."""
import pytest

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"
PODEIPS = "/apis/alibabacloud.com/v1beta1/namespaces/default/podeips"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"
OTHER_UID = "00000000-0000-4000-8000-000000000001"


def podeip(name):
    return {"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP", "metadata": {"name": name},
            "spec": {"allocationID": "eip-1", "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}}}


@pytest.mark.parametrize("kind", ["pod", "configmap", "podeip"])
def test_uid_is_immutable_on_patch_of_the_main_resource(cluster, kind):
    c = cluster
    if kind == "pod":
        obj, path, qkind = c.pod("u"), PODS + "/u", "Pod"
    elif kind == "configmap":
        obj, path, qkind = c.ok("POST", CMS, {"metadata": {"name": "u"}, "data": {}}), CMS + "/u", "ConfigMap"
    else:
        obj, path, qkind = c.ok("POST", PODEIPS, podeip("u")), PODEIPS + "/u", "PodEIP.alibabacloud.com"
    for ctype in (MERGE,) + ((SMP,) if kind != "podeip" else ()):
        r = c.req("PATCH", path, {"metadata": {"uid": OTHER_UID, "labels": {"x": "y"}}}, ctype=ctype)
        assert r.status == 422 and r.json["reason"] == "Invalid", r
        assert r.json["message"] == (f'{qkind} "u" is invalid: metadata.uid: Invalid value: "{OTHER_UID}": '
                                     'field is immutable')
        assert r.json["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "metadata.uid",
                                                "message": f'Invalid value: "{OTHER_UID}": field is immutable'}]
    r = c.req("PATCH", path, [{"op": "replace", "path": "/metadata/uid", "value": OTHER_UID}],
              ctype="application/json-patch+json")
    assert r.status == 422 and "metadata.uid: Invalid value" in r.json["message"]
    # the right uid is a precondition that holds
    got = c.ok("PATCH", path, {"metadata": {"uid": obj["metadata"]["uid"], "labels": {"x": "y"}}}, ctype=MERGE)
    assert got["metadata"]["labels"]["x"] == "y" and got["metadata"]["uid"] == obj["metadata"]["uid"]
    # a PUT's uid is a storage precondition: 409 Conflict
    got["metadata"]["uid"] = OTHER_UID
    r = c.req("PUT", path, got)
    assert r.status == 409 and r.json["reason"] == "Conflict"
    assert r.json["message"].endswith(f'": Precondition failed: UID in precondition: {OTHER_UID}, UID in object meta: '
                                      f'{obj["metadata"]["uid"]}')


def test_uid_on_status_subresources(cluster):
    c = cluster
    pod = c.pod("s")
    uid = pod["metadata"]["uid"]
    cond = {"status": {"conditions": [{"type": "k8s.aliyun.com/eip", "status": "True"}]}}
    # pods/status: the request's metadata goes through, so a wrong uid is refused (the agent's precondition)
    r = c.req("PATCH", PODS + "/s/status", dict(cond, metadata={"uid": OTHER_UID}), ctype=SMP)
    assert r.status == 422
    assert r.json["message"] == f'Pod "s" is invalid: metadata.uid: Invalid value: "{OTHER_UID}": field is immutable'
    got = c.ok("PATCH", PODS + "/s/status", dict(cond, metadata={"uid": uid}), ctype=SMP)
    assert any(x["type"] == "k8s.aliyun.com/eip" for x in got["status"]["conditions"])
    got["metadata"]["uid"] = OTHER_UID
    r = c.req("PUT", PODS + "/s/status", got)
    assert r.status == 409 and "Precondition failed: UID in precondition" in r.json["message"]
    # a custom resource's /status keeps the old object's metadata (apiextensions statusStrategy):
    # a patch's uid is ignored, a PUT's is still the storage precondition
    pe = c.ok("POST", PODEIPS, podeip("s"))
    got = c.ok("PATCH", PODEIPS + "/s/status", {"metadata": {"uid": OTHER_UID}, "status": {"status": "InUse"}},
               ctype=MERGE)
    assert got["metadata"]["uid"] == pe["metadata"]["uid"] and got["status"]["status"] == "InUse"
    got["metadata"]["uid"] = OTHER_UID
    r = c.req("PUT", PODEIPS + "/s/status", got)
    assert r.status == 409 and r.json["reason"] == "Conflict"


def test_pods_status_keeps_annotations_and_labels(cluster):
    c = cluster
    c.pod("a", annotations={"keep": "me"})
    c.wait_running("a")
    body = {"metadata": {"annotations": {"network.alibabacloud.com/allocated-eip-address": "203.0.113.9"},
                         "labels": {"eip": "bound"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u"}]},
            "spec": {"activeDeadlineSeconds": 9},
            "status": {"conditions": [{"type": "k8s.aliyun.com/eip", "status": "True"}]}}
    got = c.ok("PATCH", PODS + "/a/status", body, ctype=SMP)
    ann = got["metadata"]["annotations"]
    assert ann["network.alibabacloud.com/allocated-eip-address"] == "203.0.113.9" and ann["keep"] == "me"
    assert got["metadata"]["labels"]["eip"] == "bound"
    # podStatusStrategy: spec and ownerReferences stay the old object's
    assert "ownerReferences" not in got["metadata"] and "activeDeadlineSeconds" not in got["spec"]
    again = c.ok("GET", PODS + "/a")
    assert again["metadata"]["annotations"]["network.alibabacloud.com/allocated-eip-address"] == "203.0.113.9"
    # the same through a PUT of pods/status
    again["metadata"]["annotations"]["second"] = "yes"
    assert c.ok("PUT", PODS + "/a/status", again)["metadata"]["annotations"]["second"] == "yes"
    # a custom resource's /status ignores metadata altogether
    c.ok("POST", PODEIPS, podeip("a"))
    got = c.ok("PATCH", PODEIPS + "/a/status", {"metadata": {"annotations": {"x": "y"}}, "status": {"name": "n"}},
               ctype=MERGE)
    assert "annotations" not in got["metadata"] and got["status"] == {"name": "n"}


def test_strategic_merge_list_item_without_merge_key(cluster):
    c = cluster
    c.pod("m")
    c.wait_running("m")
    before = c.ok("GET", PODS + "/m")
    r = c.req("PATCH", PODS + "/m/status", {"status": {"conditions": [{"status": "True", "reason": "x"}]}},
              ctype=SMP)
    # mergepatch.ErrNoMergeKey is no Status error: the server answers 500 with reason unset
    assert r.status == 500, r
    assert r.json["message"] == "map: map[reason:x status:True] does not contain declared merge key: type"
    assert "reason" not in r.json and r.json["status"] == "Failure"
    r = c.req("PATCH", PODS + "/m", {"spec": {"containers": [{"image": "nginx:2"}]}}, ctype=SMP)
    assert r.status == 500 and r.json["message"] == "map: map[image:nginx:2] does not contain declared merge key: name"
    r = c.req("PATCH", PODS + "/m/status", {"status": {"conditions": [{"$patch": "delete", "status": "True"}]}},
              ctype=SMP)
    assert r.status == 500 and "does not contain declared merge key: type" in r.json["message"]
    assert c.ok("GET", PODS + "/m")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def lease(name, **spec):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}, "spec": spec}


def test_lease_validation(cluster):
    c = cluster
    good = lease("ok", holderIdentity="node-1", leaseDurationSeconds=15, acquireTime="2026-01-01T00:00:00.000000Z",
                 renewTime="2026-01-01T00:00:01.123456+08:00", leaseTransitions=0)
    c.ok("POST", LEASES, good)
    r = c.req("POST", LEASES, lease("zero", holderIdentity="n", leaseDurationSeconds=0))
    assert r.status == 422
    assert r.json["message"] == ('Lease.coordination.k8s.io "zero" is invalid: spec.leaseDurationSeconds: Invalid '
                                 'value: 0: must be greater than 0')
    r = c.req("POST", LEASES, lease("neg", leaseDurationSeconds=-5, leaseTransitions=-1))
    assert r.status == 422 and r.json["message"] == (
        'Lease.coordination.k8s.io "neg" is invalid: [spec.leaseDurationSeconds: Invalid value: -5: must be greater '
        'than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]')
    # an update is validated as well
    r = c.req("PATCH", LEASES + "/ok", {"spec": {"leaseDurationSeconds": 0}}, ctype=MERGE)
    assert r.status == 422 and "spec.leaseDurationSeconds: Invalid value: 0" in r.json["message"]
    # times are metav1.MicroTime: RFC 3339 with exactly six fractional digits
    r = c.req("POST", LEASES, lease("t", renewTime="2026-01-01T00:00:00Z"))
    assert r.status == 400 and r.json["message"] == (
        'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-01-01T00:00:00Z" as '
        '"2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"')
    r = c.req("PATCH", LEASES + "/ok", {"spec": {"acquireTime": "yesterday"}}, ctype=MERGE)
    assert r.status == 400 and 'parsing time "yesterday"' in r.json["message"]
    assert c.ok("GET", LEASES + "/ok")["spec"] == good["spec"]


def test_no_new_finalizers_on_an_object_being_deleted(cluster):
    c = cluster
    c.ok("POST", CMS, {"metadata": {"name": "f", "finalizers": ["example.com/a"]}, "data": {}})
    got = c.ok("DELETE", CMS + "/f")
    assert got["metadata"]["deletionTimestamp"]
    r = c.req("PATCH", CMS + "/f", {"metadata": {"finalizers": ["example.com/a", "example.com/b", "example.com/c"]}},
              ctype=MERGE)
    assert r.status == 422
    assert r.json["message"] == ('ConfigMap "f" is invalid: metadata.finalizers: Forbidden: no new finalizers can be '
                                 'added if the object is being deleted, found new finalizers []string{"example.com/b", '
                                 '"example.com/c"}')
    assert r.json["details"]["causes"][0]["reason"] == "FieldValueForbidden"
    # before deletion adding one is fine; during deletion removing one is fine (and finishes the delete)
    c.ok("POST", CMS, {"metadata": {"name": "g"}, "data": {}})
    c.ok("PATCH", CMS + "/g", {"metadata": {"finalizers": ["example.com/a"]}}, ctype=MERGE)
    c.ok("PATCH", CMS + "/f", {"metadata": {"finalizers": None}}, ctype=MERGE)
    assert c.get(CMS + "/f").status == 404
    # a pod in graceful deletion
    c.pod("p", grace=30, finalizers=["example.com/a"])
    c.wait_running("p")
    c.ok("DELETE", PODS + "/p")
    r = c.req("PATCH", PODS + "/p", {"metadata": {"finalizers": ["example.com/a", "example.com/z"]}}, ctype=SMP)
    assert r.status == 422 and 'found new finalizers []string{"example.com/z"}' in r.json["message"]


def test_invalid_messages_name_the_qualified_kind(cluster):
    c = cluster
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "y"}},
                                 "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    r = c.req("POST", "/apis/apps/v1/namespaces/default/deployments", dep)
    assert r.status == 422 and r.json["message"].startswith('Deployment.apps "d" is invalid: ')
    assert r.json["details"]["kind"] == "Deployment" and r.json["details"]["group"] == "apps"
    r = c.req("POST", CMS, {"metadata": {"name": "l", "labels": {"bad key!": "v", "k": "not ok!"}}})
    assert r.status == 422
    assert 'metadata.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters' \
        in r.json["message"]
    assert 'metadata.labels: Invalid value: "not ok!": a valid label must be an empty string or consist of ' \
           'alphanumeric characters' in r.json["message"]
