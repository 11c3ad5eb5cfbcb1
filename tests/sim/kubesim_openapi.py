# SPDX-License-Identifier: MIT
"""kubesim: OpenAPI v3 discovery (/openapi/v3 and one document per group-version),
as kubectl 1.32 reads it: its fieldValidation check looks for the query parameter on
the PATCH operation tagged with the kind's x-kubernetes-group-version-kind
(cli-runtime query_param_verifier_v3.go), and client-side apply computes strategic
merge patches from the tagged component schemas when the PATCH operation accepts
application/strategic-merge-patch+json (kubectl apply/patcher.go).

References: https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3
(index layout, serverRelativeURL with a content hash, immutable caching)."""
import copy
import hashlib
import json

import kubesim_types

INFO = {"title": "Kubernetes", "version": "v1.32.4"}
WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
SMP = "application/strategic-merge-patch+json"


def _gv_path(res):
    return f"apis/{res.group}/{res.version}" if res.group else "api/v1"


def _reverse_domain(group):
    return ".".join(reversed(group.split(".")))


def component_name(res):
    if res.custom:
        return f"{_reverse_domain(res.group)}.{res.version}.{res.kind}"
    pkg = kubesim_types.GO_PACKAGES.get(res.group, "io.k8s.api." + _reverse_domain(res.group or "core"))
    return f"{pkg}.{res.kind}"


def _schema(res):
    if res.custom:
        s = copy.deepcopy(res.schema or {"type": "object"})
        props = s.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                                                                "representation of an object."}
        props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource "
                                                          "this object represents."}
        props["metadata"] = copy.deepcopy(kubesim_types.OBJECT_META)
        return s
    s = kubesim_types.schema_for(res)
    if s is None:
        # not modelled field by field: the object's frame only
        s = {"type": "object", "properties": {"apiVersion": kubesim_types.S, "kind": kubesim_types.S,
                                              "metadata": kubesim_types.OBJECT_META},
             "x-kubernetes-preserve-unknown-fields": True}
    return copy.deepcopy(s)


def _param(name, where="query"):
    p = {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}}
    if where == "path":
        p["required"] = True
    return p


def _op(res, action, ref, params=(), body=False, patch_types=None, sub=""):
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    op = {"operationId": f"{action}{res.kind}{sub.capitalize()}",
          "tags": [_gv_path(res).replace("/", "_")],
          "parameters": [_param(p) for p in params],
          "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}},
          "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
    if body:
        types = patch_types or ("application/json",)
        op["requestBody"] = {"content": {t: {"schema": {"$ref": ref}} for t in types}, "required": True}
    return op


def gv_document(catalog, group, version):
    """The OpenAPI v3 document of one group-version, or None when nothing is served there."""
    with catalog.lock:
        rs = [r for r in catalog.resources if r.group == group and r.version == version]
    if not rs:
        return None
    paths, schemas = {}, {}
    for r in rs:
        name = component_name(r)
        ref = f"#/components/schemas/{name}"
        sch = _schema(r)
        sch["x-kubernetes-group-version-kind"] = [{"group": r.group, "version": r.version, "kind": r.kind}]
        schemas[name] = sch
        schemas[name + "List"] = {"type": "object", "required": ["items"],
                                  "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                                 "items": {"type": "array", "items": {"$ref": ref}},
                                                 "metadata": {"type": "object"}},
                                  "x-kubernetes-group-version-kind": [{"group": r.group, "version": r.version,
                                                                       "kind": r.list_kind}]}
        base = "/" + _gv_path(r) + ("/namespaces/{namespace}" if r.namespaced else "") + "/" + r.plural
        ptypes = PATCH_TYPES + (() if r.custom or r.key.endswith("apiextensions.k8s.io") else (SMP,))
        common = [_param("namespace", "path")] if r.namespaced else []
        if "create" in r.verbs:
            paths[base] = {"parameters": common,
                           "get": _op(r, "list", ref + "List", ("labelSelector", "fieldSelector", "limit",
                                                                "continue", "resourceVersion", "watch")),
                           "post": _op(r, "post", ref, WRITE_PARAMS, body=True)}
        if r.verbs != ["create"]:
            item = {"parameters": common + [_param("name", "path")],
                    "get": _op(r, "get", ref),
                    "put": _op(r, "put", ref, WRITE_PARAMS, body=True),
                    "patch": _op(r, "patch", ref, WRITE_PARAMS + ("force",), body=True, patch_types=ptypes),
                    "delete": _op(r, "delete", ref, ("gracePeriodSeconds", "propagationPolicy", "dryRun"))}
            paths[base + "/{name}"] = item
            if r.status:
                paths[base + "/{name}/status"] = {
                    "parameters": common + [_param("name", "path")],
                    "get": _op(r, "get", ref, sub="status"),
                    "put": _op(r, "put", ref, WRITE_PARAMS, body=True, sub="status"),
                    "patch": _op(r, "patch", ref, WRITE_PARAMS + ("force",), body=True, patch_types=ptypes,
                                 sub="status")}
    return {"openapi": "3.0.0", "info": INFO, "paths": paths, "components": {"schemas": schemas}}


def _hash(doc):
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def serve_v3(catalog, path, raw_path):
    """(document, headers) for GET /openapi/v3[/<gv>], or (None, None)."""
    if path == "/openapi/v3":
        out = {}
        for g, versions in [("", ["v1"])] + catalog.groups():
            for v in versions:
                doc = gv_document(catalog, g, v)
                if doc is None:
                    continue
                gv = f"apis/{g}/{v}" if g else "api/v1"
                out[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(doc)}"}
        return {"paths": out}, {}
    rest = path[len("/openapi/v3/"):].split("/")
    if rest[:2] == ["api", "v1"] and len(rest) == 2:
        doc = gv_document(catalog, "", "v1")
    elif rest[0] == "apis" and len(rest) == 3:
        doc = gv_document(catalog, rest[1], rest[2])
    else:
        return None, None
    if doc is None:
        return None, None
    headers = {"Etag": '"' + _hash(doc) + '"'}
    if "hash=" in raw_path:
        headers["Cache-Control"] = "public, immutable"
        headers["Expires"] = "Thu, 01 Jan 2099 00:00:00 GMT"
    return doc, headers
