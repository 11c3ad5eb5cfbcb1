# SPDX-License-Identifier: MIT
"""kubesim: errors as metav1.Status, label and field selectors, and the three
patch formats (JSON merge patch RFC 7386, strategic merge patch, JSON patch
RFC 6902). Standard library only."""
import copy
import datetime
import json
import re
import time


# ---------------------------------------------------------------- errors

class ApiError(Exception):
    """An error the API server answers with a metav1.Status body."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {},
              "status": "Failure", "message": self.message, "reason": self.reason,
              "code": self.code}
        if not self.reason:
            del st["reason"]  # StatusReasonUnknown is "" (omitempty)
        if self.details:
            st["details"] = self.details
        return st


def qualified(res):
    """'pods' for the core group, 'deployments.apps' otherwise (as in messages)."""
    return res.plural if not res.group else f"{res.plural}.{res.group}"


def _details(res, name):
    d = {"kind": res.plural}
    if name:
        d["name"] = name
    if res.group:
        d["group"] = res.group
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", f'{qualified(res)} "{name}" not found', _details(res, name))


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{qualified(res)} "{name}" already exists',
                    _details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes "
                            "to the latest version and try again"):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(res)} "{name}": {why}',
                    _details(res, name))


def invalid(res, name, causes):
    """causes: [(field, reason, message)] -> 422 Invalid like errors.NewInvalid: the
    message names the qualified kind ("Deployment.apps"), identical errors are printed
    once (ErrorList.ToAggregate), every cause is listed."""
    return invalid_kind(res.kind, res.group, name, causes)


def invalid_kind(kind, group, name, causes):
    msgs = []
    for f, _, m in causes:
        if f"{f}: {m}" not in msgs:
            msgs.append(f"{f}: {m}")
    text = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    d = {"name": name, "kind": kind, "causes": [
        {"reason": r, "message": m, "field": f} for f, r, m in causes]}
    if not name:
        del d["name"]
    if not kind:
        del d["kind"]
    if group:
        d["group"] = group
    qkind = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{qkind} "{name}" is invalid: {text}', d)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def expired(message):
    return ApiError(410, "Expired", message)


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s):
    try:
        return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def go_repr(v):
    """A decoded JSON value as Go's %v prints it (maps with sorted keys, strings bare)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_repr(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_repr(x) for x in v) + "]"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def deepcopy(o):
    return copy.deepcopy(o)


# ---------------------------------------------------------------- label selectors

_LABEL_TERM = re.compile(r"\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=|\s+in\s+|\s+notin\s+)\s*(\([^)]*\)|[A-Za-z0-9_.-]*))?\s*$")


def _split_top(s):
    """Splits on commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return [x for x in out if x.strip()]


def parse_label_selector(s):
    """Returns a predicate on a labels dict; raises ApiError 400 when malformed."""
    if not s:
        return lambda labels: True
    terms = []
    for t in _split_top(s):
        m = _LABEL_TERM.match(t)
        if not m:
            raise bad_request(f"unable to parse requirement: found '{t.strip()}', expected: identifier")
        neg, key, op, val = m.group(1), m.group(2), (m.group(3) or "").strip(), m.group(4)
        if neg and op:
            raise bad_request(f"unable to parse requirement: found '{t.strip()}'")
        if op in ("in", "notin"):
            if not val or not val.startswith("("):
                raise bad_request(f"unable to parse requirement: found '{t.strip()}', expected: '('")
            vals = {v.strip() for v in val[1:-1].split(",") if v.strip()}
            terms.append((key, op, vals))
        elif op:
            terms.append((key, "!=" if op == "!=" else "=", val or ""))
        else:
            terms.append((key, "!" if neg else "exists", None))

    def pred(labels):
        labels = labels or {}
        for key, op, val in terms:
            have = key in labels
            v = labels.get(key)
            if op == "=" and v != val:
                return False
            if op == "!=" and have and v == val:
                return False
            if op == "in" and (not have or v not in val):
                return False
            if op == "notin" and have and v in val:
                return False
            if op == "exists" and not have:
                return False
            if op == "!" and have:
                return False
        return True
    return pred


# ---------------------------------------------------------------- field selectors

def parse_field_selector(s, res):
    """Field selectors of the real registry strategies. res.field_fn(obj) returns the
    dict of selectable fields. Unknown fields answer 400 'field label not supported'."""
    if not s:
        return lambda obj: True
    terms = []
    for t in s.split(","):
        t = t.strip()
        if not t:
            continue
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", t)
        if not m:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{t}'")
        field, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in res.fields:
            raise bad_request(f"field label not supported: {field}")
        terms.append((field, op != "!=", val))

    def pred(obj):
        f = res.field_fn(obj)
        for field, eq, val in terms:
            if (str(f.get(field, "")) == val) != eq:
                return False
        return True
    return pred


# ---------------------------------------------------------------- merge patch

def merge_patch(target, patch):
    """JSON merge patch, RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---------------------------------------------------------------- strategic merge patch

# Merge keys of the built-in types (the patchMergeKey struct tags) by field name.
SMP_MERGE_KEYS = {
    "conditions": "type", "containers": "name", "initContainers": "name",
    "ephemeralContainers": "name", "ownerReferences": "uid", "env": "name",
    "ports": "containerPort", "volumes": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "readinessGates": "conditionType",
    "addresses": "type", "taints": "key", "resourceClaims": "name",
    "podIPs": "ip", "hostIPs": "ip", "envFrom": None,
}
# Lists of scalars with patchStrategy "merge" (set union).
SMP_PRIMITIVE_MERGE = {"finalizers"}


def strategic_merge_patch(target, patch, field=None):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    if patch.get("$patch") == "replace":
        p = {k: v for k, v in patch.items() if k != "$patch"}
        return copy.deepcopy(p)
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(target)
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list) and isinstance(v, list):
                out[name] = [x for x in out[name] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v, k)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            out[k] = _smp_list(out.get(k), v, k)
        else:
            out[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        for k in list(out):
            if k not in retain and k not in patch:
                out.pop(k, None)
    for k in list(patch):
        if k.startswith("$setElementOrder/"):
            name = k.split("/", 1)[1]
            _apply_order(out, name, patch[k])
    return out


def _apply_order(obj, name, order):
    cur = obj.get(name)
    if not isinstance(cur, list) or not isinstance(order, list):
        return
    key = SMP_MERGE_KEYS.get(name)

    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    want = [ident(o) for o in order]
    pos = {w: i for i, w in enumerate(want) if not isinstance(w, (dict, list))}
    try:
        ordered = sorted(cur, key=lambda x: pos.get(ident(x), len(pos)))
    except TypeError:
        return
    obj[name] = ordered


def _smp_list(cur, patch, field):
    key = SMP_MERGE_KEYS.get(field)
    cur = copy.deepcopy(cur) if isinstance(cur, list) else []
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    if field in SMP_PRIMITIVE_MERGE:
        for x in patch:
            if x not in cur:
                cur.append(copy.deepcopy(x))
        return cur
    if not key:
        return [copy.deepcopy(x) for x in patch]
    for item in patch:
        if not isinstance(item, dict):
            continue
        if key not in item:
            # mergepatch.ErrNoMergeKey, not a Status error: the server answers 500
            raise ApiError(500, "", f"map: {go_repr(item)} does not contain declared merge key: {key}")
        kv = item.get(key)
        idx = next((i for i, c in enumerate(cur) if isinstance(c, dict) and c.get(key) == kv), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                cur.pop(idx)
            continue
        if idx is None:
            cur.append(strategic_merge_patch({}, item, None))
        else:
            cur[idx] = strategic_merge_patch(cur[idx], item, None)
    return cur


# ---------------------------------------------------------------- JSON patch

class JsonPatchError(Exception):
    pass


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise JsonPatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise JsonPatchError(f"doc is missing path: {'/' + '/'.join(parts)}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise JsonPatchError(f"doc is missing path: {'/' + '/'.join(parts)}")
        else:
            raise JsonPatchError(f"doc is missing path: {'/' + '/'.join(parts)}")
    return cur


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise JsonPatchError("a JSON patch must be an array of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise JsonPatchError("invalid operation")
        kind, parts = op["op"], _ptr(op["path"])
        if kind == "test":
            have = _walk(doc, parts)
            if have != op.get("value"):
                raise JsonPatchError(f"testing value {op['path']} failed: test failed")
            continue
        if kind in ("move", "copy"):
            src = _ptr(op["from"])
            val = copy.deepcopy(_walk(doc, src))
            if kind == "move":
                doc = _remove(doc, src)
            doc = _add(doc, parts, val)
            continue
        if kind == "remove":
            doc = _remove(doc, parts)
        elif kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "replace":
            _walk(doc, parts)
            doc = _remove(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        else:
            raise JsonPatchError(f"Unexpected kind: {kind}")
    return doc


def _add(doc, parts, val):
    if not parts:
        return val
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = val
    elif isinstance(parent, list):
        if last == "-":
            parent.append(val)
        else:
            try:
                i = int(last)
            except ValueError:
                raise JsonPatchError(f"invalid index {last}")
            if i < 0 or i > len(parent):
                raise JsonPatchError(f"add operation does not apply: index {i} out of bounds")
            parent.insert(i, val)
    else:
        raise JsonPatchError(f"add operation does not apply: doc is missing path: {'/'.join(parts)}")
    return doc


def _remove(doc, parts):
    if not parts:
        return None
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise JsonPatchError(f"remove operation does not apply: doc is missing path: \"/{'/'.join(parts)}\"")
        del parent[last]
    elif isinstance(parent, list):
        try:
            parent.pop(int(last))
        except (ValueError, IndexError):
            raise JsonPatchError(f"remove operation does not apply: doc is missing path: \"/{'/'.join(parts)}\"")
    return doc


def dumps(o):
    return json.dumps(o, separators=(",", ":"))
