# SPDX-License-Identifier: MIT
"""In-process tests of kubesim's building blocks: the three patch formats,
selectors, and the kubelet's Ready computation."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "sim"))
from kubesim_controllers import compute_ready  # noqa: E402
from kubesim_core import (ApiError, JsonPatchError, json_patch, merge_patch, parse_field_selector,  # noqa: E402
                          parse_label_selector, strategic_merge_patch)
from kubesim_resources import BY_KEY  # noqa: E402


def test_merge_patch_rfc7386_examples():
    # the examples of RFC 7386 section 3
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": "b", "b": "c"}, {"a": None}) == {"b": "c"}
    assert merge_patch({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "c"}, {"a": ["b"]}) == {"a": ["b"]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch(["a", "b"], ["c", "d"]) == ["c", "d"]
    assert merge_patch({"a": "b"}, ["c"]) == ["c"]
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_strategic_merge_lists_by_merge_key():
    pod = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]},
           "spec": {"containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]},
                                   {"name": "b", "image": "y"}],
                    "tolerations": [{"key": "k"}]},
           "metadata": {"finalizers": ["f1"], "ownerReferences": [{"uid": "u1", "name": "o"}]}}
    out = strategic_merge_patch(pod, {
        "status": {"conditions": [{"type": "eip", "status": "True"}, {"type": "Ready", "status": "True"}]},
        "spec": {"containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}],
                 "tolerations": [{"key": "other"}]},
        "metadata": {"finalizers": ["f2"], "ownerReferences": [{"uid": "u1", "name": "renamed"}]}})
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"},
                                           {"type": "eip", "status": "True"}]
    assert out["spec"]["containers"][0] == {"name": "a", "image": "x",
                                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    assert out["spec"]["containers"][1] == {"name": "b", "image": "y"}
    assert out["spec"]["tolerations"] == [{"key": "other"}]  # no merge key: replaced
    assert out["metadata"]["finalizers"] == ["f1", "f2"]     # primitive merge list
    assert out["metadata"]["ownerReferences"] == [{"uid": "u1", "name": "renamed"}]
    assert pod["status"]["conditions"][0]["status"] == "False"  # input untouched


def test_strategic_merge_directives():
    obj = {"spec": {"containers": [{"name": "a"}, {"name": "b"}], "x": {"k": 1, "j": 2}},
           "metadata": {"finalizers": ["f1", "f2"]}}
    out = strategic_merge_patch(obj, {"spec": {"containers": [{"name": "a", "$patch": "delete"}],
                                               "x": {"$patch": "replace", "z": 3}},
                                      "$deleteFromPrimitiveList/finalizers": ["f1"]})
    assert out["spec"]["containers"] == [{"name": "b"}]
    assert out["spec"]["x"] == {"z": 3}
    out = strategic_merge_patch(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}})
    assert out["metadata"]["finalizers"] == ["f2"]
    out = strategic_merge_patch(obj, {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                                               "containers": [{"name": "a", "image": "i"}]}})
    assert out["spec"]["containers"] == [{"name": "b"}, {"name": "a", "image": "i"}]
    out = strategic_merge_patch(obj, {"spec": {"containers": [{"$patch": "replace"}, {"name": "c"}]}})
    assert out["spec"]["containers"] == [{"name": "c"}]
    assert strategic_merge_patch(obj, {"spec": {"x": None}})["spec"] == {"containers": obj["spec"]["containers"]}


def test_json_patch_rfc6902():
    doc = {"a": {"b": [1, 2]}, "c": "d"}
    assert json_patch(doc, [{"op": "add", "path": "/a/b/1", "value": 9}])["a"]["b"] == [1, 9, 2]
    assert json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 9}])["a"]["b"] == [1, 2, 9]
    assert json_patch(doc, [{"op": "remove", "path": "/c"}]) == {"a": {"b": [1, 2]}}
    assert json_patch(doc, [{"op": "replace", "path": "/c", "value": 1}])["c"] == 1
    assert json_patch(doc, [{"op": "move", "from": "/c", "path": "/e"}]) == {"a": {"b": [1, 2]}, "e": "d"}
    assert json_patch(doc, [{"op": "copy", "from": "/c", "path": "/a/x"}])["a"]["x"] == "d"
    assert json_patch({"a/b": {"~": 1}}, [{"op": "test", "path": "/a~1b/~0", "value": 1}]) == {"a/b": {"~": 1}}
    for bad in ([{"op": "test", "path": "/c", "value": "x"}], [{"op": "remove", "path": "/nope"}],
                [{"op": "replace", "path": "/nope", "value": 1}], [{"op": "add", "path": "/a/b/7", "value": 1}],
                [{"op": "frob", "path": "/c"}], {"op": "add"}):
        with pytest.raises(JsonPatchError):
            json_patch(doc, bad)
    assert doc == {"a": {"b": [1, 2]}, "c": "d"}


def test_label_selectors():
    s = parse_label_selector("app=web,tier!=db,env in (prod, staging),!legacy,team")
    assert s({"app": "web", "env": "prod", "team": "x"})
    assert not s({"app": "web", "env": "prod", "team": "x", "legacy": "1"})
    assert not s({"app": "web", "env": "dev", "team": "x"})
    assert not s({"app": "web", "tier": "db", "env": "prod", "team": "x"})
    assert not s({"app": "web", "env": "prod"})
    assert parse_label_selector("a notin (x)")({}) and not parse_label_selector("a notin (x)")({"a": "x"})
    assert parse_label_selector("a==b")({"a": "b"})
    with pytest.raises(ApiError) as e:
        parse_label_selector("a in x")
    assert e.value.code == 400


def test_field_selectors():
    pods = BY_KEY["pods"]
    f = parse_field_selector("spec.nodeName=node-1,status.phase!=Failed", pods)
    assert f({"metadata": {"name": "p"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}})
    assert not f({"metadata": {"name": "p"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Failed"}})
    assert not f({"metadata": {"name": "p"}, "spec": {}, "status": {}})
    with pytest.raises(ApiError) as e:
        parse_field_selector("spec.image=x", pods)
    assert e.value.code == 400 and e.value.message == "field label not supported: spec.image"
    ev = parse_field_selector("involvedObject.kind==Pod,involvedObject.uid=u,type=Warning", BY_KEY["events"])
    assert ev({"metadata": {}, "involvedObject": {"kind": "Pod", "uid": "u"}, "type": "Warning"})


def test_compute_ready():
    def pod(gates=(), ready=True, conds=()):
        return {"spec": {"containers": [{"name": "a"}, {"name": "b"}],
                         "readinessGates": [{"conditionType": g} for g in gates]},
                "status": {"phase": "Running", "conditions": [dict(c) for c in conds],
                           "containerStatuses": [{"name": "a", "ready": True}, {"name": "b", "ready": ready}]}}

    def cond(p, t):
        return next(c for c in p["status"]["conditions"] if c["type"] == t)
    p = pod()
    compute_ready(p)
    assert cond(p, "Ready")["status"] == "True" and cond(p, "ContainersReady")["status"] == "True"
    p = pod(ready=False)
    compute_ready(p)
    assert cond(p, "Ready")["reason"] == "ContainersNotReady"
    assert cond(p, "Ready")["message"] == "containers with unready status: [b]"
    p = pod(gates=["g1", "g2"], conds=[{"type": "g1", "status": "False"}])
    compute_ready(p)
    r = cond(p, "Ready")
    assert r["status"] == "False" and r["reason"] == "ReadinessGatesNotReady"
    assert r["message"] == ('the status of pod readiness gate "g1" is not "True", but False, '
                            'corresponding condition of pod readiness gate "g2" does not exist.')
    p = pod(gates=["g1"], conds=[{"type": "g1", "status": "True"}])
    compute_ready(p)
    assert cond(p, "Ready")["status"] == "True" and "reason" not in cond(p, "Ready")
