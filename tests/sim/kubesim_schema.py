# SPDX-License-Identifier: MIT
"""kubesim: structural OpenAPI v3 schemas as the API server applies them to
custom resources (apiextensions-apiserver): pruning of unknown fields, defaulting
(on create, update and read), and validation with the field errors the real server
words (go-openapi's messages mapped by kubeOpenAPIResultToFieldErrors). The same
pruning serves the built-in kinds through kubesim_types' schemas, where it stands for
decoding into a Go struct (unknown fields dropped, reported for fieldValidation).

Paths are dotted as the server prints them: "spec.items[0].name"."""
import base64
import copy
import datetime
import ipaddress
import json
import re
import uuid

from kubesim_core import go_repr  # noqa: F401 (re-exported)

ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _join(path, key):
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------- pruning

def prune(obj, schema, path="", root=True, meta_schema=None):
    """Drops the fields obj has that schema does not declare (in place); returns the
    pruned paths ("spec.foo"), sorted. At the root apiVersion, kind and metadata are
    kept; metadata is pruned against meta_schema (ObjectMeta) when given."""
    out = []
    _prune(obj, schema or {}, path, root, meta_schema, out)
    return sorted(out)


def _prune(obj, s, path, root, meta_schema, out):
    if isinstance(obj, dict):
        if root or s.get("x-kubernetes-embedded-resource"):
            if meta_schema is not None and isinstance(obj.get("metadata"), dict):
                _prune(obj["metadata"], meta_schema, _join(path, "metadata"), False, None, out)
        props = s.get("properties")
        addl = s.get("additionalProperties")
        preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
        for k in list(obj):
            if (root or s.get("x-kubernetes-embedded-resource")) and k in ROOT_KEEP:
                continue
            if props is not None and k in props:
                _prune(obj[k], props[k], _join(path, k), False, None, out)
            elif isinstance(addl, dict):
                _prune(obj[k], addl, _join(path, k), False, None, out)
            elif addl is True or preserve:
                continue
            else:
                out.append(_join(path, k))
                del obj[k]
    elif isinstance(obj, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(obj):
                _prune(v, items, f"{path}[{i}]", False, None, out)


# ---------------------------------------------------------------- defaulting

def default(obj, schema, root=True):
    """Structural defaulting: a missing property with a default gets it; a null one gets
    it too unless the property is nullable (non-nullable nulls without a default are
    dropped first, as the server prunes them). Applied in place, top-down."""
    s = schema or {}
    if isinstance(obj, dict):
        props = s.get("properties") or {}
        for k, ps in props.items():
            if root and k in ROOT_KEEP:
                continue
            if k in obj and obj[k] is None and not ps.get("nullable"):
                del obj[k]
            if k not in obj and "default" in ps:
                obj[k] = copy.deepcopy(ps["default"])
        for k, v in list(obj.items()):
            if root and k in ROOT_KEEP:
                continue
            if k in props:
                default(v, props[k], False)
            elif isinstance(s.get("additionalProperties"), dict):
                default(v, s["additionalProperties"], False)
    elif isinstance(obj, list) and isinstance(s.get("items"), dict):
        for v in obj:
            default(v, s["items"], False)
    return obj


def has_defaults(schema):
    if not isinstance(schema, dict):
        return False
    if "default" in schema:
        return True
    for k in ("properties",):
        if any(has_defaults(v) for v in (schema.get(k) or {}).values()):
            return True
    return has_defaults(schema.get("items")) or has_defaults(schema.get("additionalProperties"))


# ---------------------------------------------------------------- validation

def go_quote(s):
    """Go's %q for a string (close enough for the ASCII the simulators see)."""
    return json.dumps(s, ensure_ascii=False)


def bad_value(v):
    """field.Error's rendering of a bad value."""
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return go_repr(v)
    if v is None:
        return "null"
    return go_repr(v)


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _type_ok(v, t):
    jt = json_type(v)
    if t == jt:
        return True
    if t == "number" and jt == "integer":
        return True
    if t == "integer" and jt == "number" and float(v).is_integer():
        return True
    return False


_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _format_ok(fmt, v):
    try:
        if fmt == "date-time":
            m = _DATE_TIME.match(v)
            if not m:
                return False
            datetime.datetime(*(int(m.group(i)) for i in range(1, 7)))
            return True
        if fmt == "date":
            datetime.date.fromisoformat(v)
            return len(v) == 10
        if fmt == "byte":
            base64.b64decode(v, validate=True)
            return True
        if fmt == "uuid":
            uuid.UUID(v)
            return True
        if fmt == "ipv4":
            ipaddress.IPv4Address(v)
            return True
        if fmt == "ipv6":
            ipaddress.IPv6Address(v)
            return True
        if fmt == "cidr":
            ipaddress.ip_network(v, strict=False)
            return "/" in v
        if fmt == "hostname":
            return len(v) <= 253 and bool(_DNS1123.match(v.lower()))
    except (ValueError, TypeError):
        return False
    return True  # formats the server does not check


def _num(x):
    return go_repr(float(x)) if isinstance(x, (int, float)) else str(x)


class _Err:
    """One error of the go-openapi validator, before kubeOpenAPIResultToFieldErrors."""
    __slots__ = ("field", "reason", "message")

    def __init__(self, field, reason, message):
        self.field, self.reason, self.message = field, reason, message


def validate(obj, schema, path=""):
    """[(field, reason, message)] for obj against schema, worded like the API server
    (the message starts with the error type: 'Required value', 'Unsupported value: ...',
    'Invalid value: ...'). Root apiVersion/kind/metadata are not validated here."""
    errs = []
    _validate(obj, schema or {}, path, errs, root=not path)
    return [(e.field, e.reason, e.message) for e in errs]


def _composite(msg):
    # not an *openapierrors.Validation: reported on the nil path with an empty value
    return _Err("<nil>", "FieldValueInvalid", f'Invalid value: "": {msg}')


def _validate(v, s, path, errs, root=False):
    where = path or "<nil>"
    # type
    types = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    if v is None:
        if s.get("nullable") or not types:
            return
        t = types if isinstance(types, str) else ",".join(types)
        errs.append(_Err(where, "FieldValueTypeInvalid",
                         f'Invalid value: "null": {path} in body must be of type {t}: "null"'))
        return
    if types:
        tl = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(v, t) for t in tl):
            got = json_type(v)
            errs.append(_Err(where, "FieldValueTypeInvalid",
                             f'Invalid value: "{got}": {path} in body must be of type {",".join(tl)}: "{got}"'))
            return
    # allOf / anyOf / oneOf / not
    if s.get("allOf"):
        ok = 0
        for sub in s["allOf"]:
            sub_errs = []
            _validate(v, sub, path, sub_errs)
            errs.extend(sub_errs)
            ok += not sub_errs
        if ok != len(s["allOf"]):
            errs.append(_composite(f'"{path}" must validate all the schemas (allOf)'
                                   + (". None validated" if ok == 0 else "")))
    if s.get("anyOf"):
        best = None
        for sub in s["anyOf"]:
            sub_errs = []
            _validate(v, sub, path, sub_errs)
            if not sub_errs:
                best = None
                break
            if best is None or len(sub_errs) < len(best):
                best = sub_errs
        else:
            errs.append(_composite(f'"{path}" must validate at least one schema (anyOf)'))
        if best:
            errs.extend(best)
    if s.get("oneOf"):
        ok, best = 0, None
        for sub in s["oneOf"]:
            sub_errs = []
            _validate(v, sub, path, sub_errs)
            if not sub_errs:
                ok += 1
            elif best is None or len(sub_errs) < len(best):
                best = sub_errs
        if ok != 1:
            more = "Found none valid" if ok == 0 else f"Found {ok} valid alternatives"
            errs.append(_composite(f'"{path}" must validate one and only one schema (oneOf). {more}'))
            if ok == 0 and best:
                errs.extend(best)
    if isinstance(s.get("not"), dict):
        sub_errs = []
        _validate(v, s["not"], path, sub_errs)
        if not sub_errs:
            errs.append(_composite(f'"{path}" must not validate the schema (not)'))
    # strings
    if isinstance(v, str):
        if "maxLength" in s and len(v) > int(s["maxLength"]):
            errs.append(_Err(where, "FieldValueTooLong", f"Too long: may not be longer than {int(s['maxLength'])}"))
        if "minLength" in s and len(v) < int(s["minLength"]):
            errs.append(_Err(where, "FieldValueInvalid", f"Invalid value: {bad_value(v)}: {path} in body should be "
                                                         f"at least {int(s['minLength'])} chars long"))
        if "pattern" in s:
            try:
                ok = re.search(s["pattern"], v) is not None
            except re.error:
                ok = True
            if not ok:
                errs.append(_Err(where, "FieldValueInvalid",
                                 f"Invalid value: {bad_value(v)}: {path} in body should match '{s['pattern']}'"))
        if s.get("format") and not _format_ok(s["format"], v):
            errs.append(_Err(where, "FieldValueTypeInvalid", f"Invalid value: {bad_value(v)}: {path} in body must "
                                                             f"be of type {s['format']}: {go_quote(v)}"))
    # numbers
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s:
            lo, exc = s["minimum"], s.get("exclusiveMinimum")
            if v < lo or (exc and v == lo):
                rel = "greater than" if exc else "greater than or equal to"
                errs.append(_Err(where, "FieldValueInvalid",
                                 f"Invalid value: {bad_value(v)}: {path} in body should be {rel} {_num(lo)}"))
        if "maximum" in s:
            hi, exc = s["maximum"], s.get("exclusiveMaximum")
            if v > hi or (exc and v == hi):
                rel = "less than" if exc else "less than or equal to"
                errs.append(_Err(where, "FieldValueInvalid",
                                 f"Invalid value: {bad_value(v)}: {path} in body should be {rel} {_num(hi)}"))
        if s.get("multipleOf") and (v / s["multipleOf"]) != int(v / s["multipleOf"]):
            errs.append(_Err(where, "FieldValueInvalid", f"Invalid value: {bad_value(v)}: {path} in body should be "
                                                         f"a multiple of {_num(s['multipleOf'])}"))
    # arrays
    if isinstance(v, list):
        if "maxItems" in s and len(v) > int(s["maxItems"]):
            errs.append(_Err(where, "FieldValueTooMany", f"Too many: {len(v)}: must have at most "
                                                         f"{int(s['maxItems'])} items"))
        if "minItems" in s and len(v) < int(s["minItems"]):
            errs.append(_Err(where, "FieldValueInvalid", f'Invalid value: {bad_value(v)}: {path} in body should have '
                                                         f'at least {int(s["minItems"])} items'))
        if s.get("uniqueItems"):
            seen = []
            for x in v:
                if x in seen:
                    errs.append(_Err(where, "FieldValueInvalid", f"Invalid value: {bad_value(v)}: {path} in body "
                                                                 "shouldn't contain duplicates"))
                    break
                seen.append(x)
        if isinstance(s.get("items"), dict):
            for i, x in enumerate(v):
                _validate(x, s["items"], f"{path}[{i}]", errs)
    # enum
    if "enum" in s and isinstance(s["enum"], list) and not any(_same(v, e) for e in s["enum"]):
        vals = ", ".join(json.dumps(e if isinstance(e, str) else json.dumps(e, separators=(",", ":")))
                         for e in s["enum"])
        errs.append(_Err(where, "FieldValueNotSupported", f"Unsupported value: {bad_value(v)}: supported values: {vals}"))
    # objects
    if isinstance(v, dict):
        for r in s.get("required") or []:
            if r not in v and not (root and r in ROOT_KEEP):
                errs.append(_Err(_join(path, r), "FieldValueRequired", "Required value"))
        if "maxProperties" in s and len(v) > int(s["maxProperties"]):
            errs.append(_Err(where, "FieldValueTooMany", f"Too many: {len(v)}: must have at most "
                                                         f"{int(s['maxProperties'])} items"))
        if "minProperties" in s and len(v) < int(s["minProperties"]):
            errs.append(_Err(where, "FieldValueInvalid", f"Invalid value: {bad_value(v)}: {path} in body should have "
                                                         f"at least {int(s['minProperties'])} properties"))
        props = s.get("properties") or {}
        for k in sorted(v):
            if root and k in ROOT_KEEP:
                continue
            if k in props:
                _validate(v[k], props[k], _join(path, k), errs)
            elif isinstance(s.get("additionalProperties"), dict):
                _validate(v[k], s["additionalProperties"], _join(path, k), errs)


def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


# ---------------------------------------------------------------- structural checks of a CRD schema

def structural_errors(schema, path):
    """A subset of the apiextensions structural-schema rules: every node under
    properties/items/additionalProperties declares a type (unless it preserves unknown
    fields or is int-or-string), the root is an object, and value validations
    (allOf/anyOf/oneOf/not) do not add properties or defaults of their own."""
    errs = []
    if not isinstance(schema, dict):
        return [(path, "FieldValueRequired", "Required value: schemas are required")]
    if schema.get("type") != "object":
        errs.append((path + ".type", "FieldValueInvalid",
                     f'Invalid value: "{schema.get("type", "")}": must be object at the root'))

    def walk(s, p, in_junctor):
        if not isinstance(s, dict):
            return
        if not in_junctor and not s.get("type") and not s.get("x-kubernetes-preserve-unknown-fields") and \
                not s.get("x-kubernetes-int-or-string") and p != path:
            errs.append((p + ".type", "FieldValueRequired", "Required value: must not be empty for specified "
                                                            "object fields"))
        if in_junctor and "default" in s:
            errs.append((p + ".default", "FieldValueForbidden", "Forbidden: must not be set inside value "
                                                                "validations (allOf, anyOf, oneOf, not)"))
        for k, v in (s.get("properties") or {}).items():
            walk(v, f"{p}.properties[{k}]", in_junctor)
        if isinstance(s.get("items"), dict):
            walk(s["items"], p + ".items", in_junctor)
        if isinstance(s.get("additionalProperties"), dict):
            walk(s["additionalProperties"], p + ".additionalProperties", in_junctor)
        for j in ("allOf", "anyOf", "oneOf"):
            for i, v in enumerate(s.get(j) or []):
                walk(v, f"{p}.{j}[{i}]", True)
        if isinstance(s.get("not"), dict):
            walk(s["not"], p + ".not", True)
    walk(schema, path, False)
    return errs
