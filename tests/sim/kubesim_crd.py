# SPDX-License-Identifier: MIT
"""kubesim: CustomResourceDefinitions as apiextensions-apiserver serves them: the
CRD's own validation and defaulting, its status (NamesAccepted, Established,
Terminating), the Resource each served version becomes, what a custom resource goes
through on a write (prune, default, validate against the structural schema), and
additionalPrinterColumns for Table output.

References: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/
and apiextensions-apiserver (pkg/apis/apiextensions/validation, pkg/registry/customresource,
pkg/apiserver/schema/{pruning,defaulting}, pkg/controller/{establish,finalizer})."""
import json
import re

import kubesim_schema as schema
from kubesim_core import deepcopy, now_iso
from kubesim_resources import NAME_COL, Resource, _age, _col

CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def apply_defaults(crd):
    """SetDefaults of apiextensions v1 (names.singular, names.listKind, conversion)."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    return crd


def validate_crd(crd):
    """[(field, reason, message)] as ValidateCustomResourceDefinition words them (a subset)."""
    causes = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group") or "", names.get("plural") or ""
    name = (crd.get("metadata") or {}).get("name", "")
    if name != f"{plural}.{group}":
        causes.append(("metadata.name", "FieldValueInvalid",
                       f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if not group:
        causes.append(("spec.group", "FieldValueRequired", "Required value"))
    elif "." not in group:
        causes.append(("spec.group", "FieldValueInvalid", f'Invalid value: "{group}": should be a domain with at '
                                                          'least one dot'))
    if spec.get("scope") not in ("Cluster", "Namespaced"):
        if not spec.get("scope"):
            causes.append(("spec.scope", "FieldValueRequired", "Required value"))
        else:
            causes.append(("spec.scope", "FieldValueNotSupported", f'Unsupported value: "{spec["scope"]}": supported '
                                                                   'values: "Cluster", "Namespaced"'))
    for f in ("plural", "kind", "listKind"):
        if not names.get(f):
            causes.append((f"spec.names.{f}", "FieldValueRequired", "Required value"))
    if plural and not DNS_LABEL.match(plural):
        causes.append(("spec.names.plural", "FieldValueInvalid", f'Invalid value: "{plural}": a lowercase RFC 1123 '
                                                                 'label must consist of lower case alphanumeric '
                                                                 "characters or '-', and must start and end with an "
                                                                 "alphanumeric character"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: null: must have exactly one version "
                                                             "marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(("spec.versions", "FieldValueInvalid", f"Invalid value: {schema.go_repr(versions)}: must "
                                                             "have exactly one version marked as storage version"))
    seen = set()
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        if not v.get("name"):
            causes.append((p + ".name", "FieldValueRequired", "Required value"))
        elif v["name"] in seen:
            causes.append((p + ".name", "FieldValueInvalid", f'Invalid value: "{v["name"]}": must be unique'))
        seen.add(v.get("name"))
        s = (v.get("schema") or {}).get("openAPIV3Schema")
        if s is None:
            causes.append((p + ".schema.openAPIV3Schema", "FieldValueRequired", "Required value: schemas are "
                                                                                  "required"))
        else:
            causes.extend(schema.structural_errors(s, p + ".schema.openAPIV3Schema"))
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            cp = f"{p}.additionalPrinterColumns[{j}]"
            if col.get("type") not in ("integer", "number", "string", "boolean", "date"):
                causes.append((cp + ".type", "FieldValueNotSupported",
                               f'Unsupported value: "{col.get("type", "")}": supported values: "boolean", "date", '
                               '"integer", "number", "string"'))
            if not col.get("jsonPath"):
                causes.append((cp + ".jsonPath", "FieldValueRequired", "Required value"))
    return causes


def initial_status(crd):
    """The status a new CRD is created with (the storage version recorded, no names yet)."""
    storage = next((v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")), None)
    return {"conditions": [], "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": [storage] if storage else []}


def _set_cond(conds, typ, status, reason, message):
    for c in conds:
        if c.get("type") == typ:
            if c.get("status") != status:
                c["lastTransitionTime"] = now_iso()
            c.update({"status": status, "reason": reason, "message": message})
            return
    conds.append({"type": typ, "status": status, "lastTransitionTime": now_iso(), "reason": reason,
                  "message": message})


def established_status(crd):
    """What the naming and establishing controllers write: names accepted, Established."""
    st = deepcopy(crd.get("status") or initial_status(crd))
    names = deepcopy(crd["spec"]["names"])
    st["acceptedNames"] = names
    conds = st.setdefault("conditions", [])
    _set_cond(conds, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
    _set_cond(conds, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted")
    storage = next((v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")), None)
    stored = st.setdefault("storedVersions", [])
    if storage and storage not in stored:
        stored.append(storage)
    return st


def terminating_status(crd, reason, message):
    st = deepcopy(crd.get("status") or {})
    _set_cond(st.setdefault("conditions", []), "Terminating", "True", reason, message)
    return st


def is_established(crd):
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def is_terminating(crd):
    return bool((crd.get("metadata") or {}).get("deletionTimestamp"))


def resources_for(crd):
    """The Resources an established CRD serves: one per served version."""
    spec = crd["spec"]
    names = (crd.get("status") or {}).get("acceptedNames") or spec["names"]
    if not names.get("plural"):
        names = spec["names"]
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served"):
            continue
        subs = v.get("subresources") or {}
        r = Resource(spec["group"], v["name"], names["plural"], names["kind"], spec.get("scope") == "Namespaced",
                     names.get("shortNames") or (), status="status" in subs,
                     categories=names.get("categories") or (), custom=True)
        r.singular = names.get("singular") or names["kind"].lower()
        r.list_kind = names.get("listKind") or names["kind"] + "List"
        r.crd = crd["metadata"]["name"]
        r.schema = (v.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"}
        r.has_defaults = schema.has_defaults(r.schema)
        r.columns = v.get("additionalPrinterColumns") or DEFAULT_COLUMNS
        r.terminating = is_terminating(crd)
        r.storage_version = storage
        out.append(r)
    return out


# ---------------------------------------------------------------- custom resources

def root_schema(res):
    return res.schema or {"type": "object"}


def decode(res, obj, meta_schema):
    """What decoding a custom resource does: unknown fields pruned (their paths are
    returned for fieldValidation), then defaults applied. In place."""
    unknown = schema.prune(obj, root_schema(res), meta_schema=meta_schema)
    schema.default(obj, root_schema(res))
    return unknown


def default_on_read(res, obj):
    """Objects read from storage are defaulted with the current schema (a default added
    to a CRD shows on objects stored before)."""
    if not res.has_defaults:
        return obj
    out = deepcopy(obj)
    schema.default(out, root_schema(res))
    return out


def validate_cr(res, obj):
    return schema.validate(obj, root_schema(res))


# ---------------------------------------------------------------- printer columns

def _jsonpath(obj, path):
    """A subset of kubectl's JSONPath: .a.b, .a[0].b, .a[*].b (first), [?(@.k=="v")]."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    cur = [obj]
    tokens = re.findall(r'\.([A-Za-z0-9_\-$/]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_\-]+)\s*==\s*["\']([^"\']*)["\']\)\]',
                        p)
    for name, idx, fkey, fval in tokens:
        nxt = []
        for c in cur:
            if name:
                if isinstance(c, dict) and name in c:
                    nxt.append(c[name])
            elif idx:
                if isinstance(c, list):
                    if idx == "*":
                        nxt.extend(c)
                    elif int(idx) < len(c):
                        nxt.append(c[int(idx)])
            else:
                if isinstance(c, list):
                    nxt.extend(x for x in c if isinstance(x, dict) and str(x.get(fkey)) == fval)
        cur = nxt
    return cur


def column_definitions(res):
    cols = [NAME_COL]
    for c in res.columns:
        cols.append(_col(c["name"], c.get("type", "string"), int(c.get("priority", 0)), c.get("format", ""),
                         c.get("description", "")))
    return cols


def row(res, obj):
    cells = [obj["metadata"]["name"]]
    for c in res.columns:
        vals = _jsonpath(obj, c.get("jsonPath", ""))
        if not vals or vals[0] is None:
            cells.append(None)
            continue
        v, t = vals[0], c.get("type", "string")
        if t == "date":
            cells.append(_age(v) if isinstance(v, str) else None)
        elif t == "integer":
            cells.append(v if isinstance(v, int) and not isinstance(v, bool) else None)
        elif t == "number":
            cells.append(v if isinstance(v, (int, float)) and not isinstance(v, bool) else None)
        elif t == "boolean":
            cells.append(v if isinstance(v, bool) else None)
        else:
            cells.append(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
    return cells


DEFAULT_COLUMNS = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                    "description": "CreationTimestamp is a timestamp representing the server time when this object "
                                   "was created."}]
