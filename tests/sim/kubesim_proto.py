# SPDX-License-Identifier: MIT
"""kubesim: decoding of the Kubernetes protobuf envelope ("k8s\\0" + runtime.Unknown)
for the few kinds kubectl sends as protobuf (kubectl create namespace/configmap/
secret/serviceaccount, DeleteOptions and Eviction of typed clients such as kubectl drain,
SelfSubjectAccessReview of kubectl auth can-i). Field numbers follow the published
generated.proto files of k8s.io/api and apimachinery. Anything else answers 415."""
import base64
import datetime

MAGIC = b"k8s\x00"


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            v = buf[i:i + n]
            if len(v) != n:
                raise ValueError("truncated field")
            i += n
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, v


def _time(buf):
    secs = 0
    for num, _, v in _fields(buf):
        if num == 1:
            secs = v
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map(buf, binary=False):
    k = v = ""
    for num, _, val in _fields(buf):
        if num == 1:
            k = val.decode()
        elif num == 2:
            v = base64.b64encode(val).decode() if binary else val.decode()
    return k, v


# type spec: {field: (json name, kind)}; kind: "str", "int", "bool", "time", "map", "bmap",
# "rstr" (repeated string), ("msg", spec), ("rmsg", spec)
OWNER_REF = {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
             6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 5: ("uid", "str"),
               6: ("resourceVersion", "str"), 7: ("generation", "int"), 8: ("creationTimestamp", "time"),
               10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map"), 12: ("annotations", "map"),
               13: ("ownerReferences", ("rmsg", OWNER_REF)), 14: ("finalizers", "rstr")}
LOCAL_REF = {1: ("name", "str")}
PRECONDITIONS = {1: ("uid", "str"), 2: ("resourceVersion", "str")}
KINDS = {
    "Namespace": {1: ("metadata", ("msg", OBJECT_META)), 2: ("spec", ("msg", {1: ("finalizers", "rstr")}))},
    "ConfigMap": {1: ("metadata", ("msg", OBJECT_META)), 2: ("data", "map"), 3: ("binaryData", "bmap"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", ("msg", OBJECT_META)), 2: ("data", "bmap"), 3: ("type", "str"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    # typed clients (kubectl drain, delete through clientsets) send their DeleteOptions as protobuf
    "DeleteOptions": {1: ("gracePeriodSeconds", "optint"), 2: ("preconditions", ("msg", PRECONDITIONS)),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"), 5: ("dryRun", "rstr")},
    "SelfSubjectAccessReview": {1: ("metadata", ("msg", OBJECT_META)), 2: ("spec", ("msg", {
        1: ("resourceAttributes", ("msg", {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"),
                                            4: ("version", "str"), 5: ("resource", "str"),
                                            6: ("subresource", "str"), 7: ("name", "str")})),
        2: ("nonResourceAttributes", ("msg", {1: ("path", "str"), 2: ("verb", "str")}))}))},
    "Eviction": {1: ("metadata", ("msg", OBJECT_META)), 2: ("deleteOptions", ("msg", None))},
    "ServiceAccount": {1: ("metadata", ("msg", OBJECT_META)), 3: ("imagePullSecrets", ("rmsg", LOCAL_REF)),
                       4: ("automountServiceAccountToken", "bool")},
}


KINDS["Eviction"][2] = ("deleteOptions", ("msg", KINDS["DeleteOptions"]))


def _decode(buf, spec):
    out = {}
    for num, _, v in _fields(buf):
        if num not in spec:
            continue
        name, kind = spec[num]
        if kind == "str":
            if v:  # proto2 sends empty strings; JSON omits them
                out[name] = v.decode()
        elif kind == "int":
            if v:
                out[name] = v
        elif kind == "optint":  # a pointer field: present means set, even to 0
            out[name] = v - (1 << 64) if v >= 1 << 63 else v
        elif kind == "bool":
            out[name] = bool(v)
        elif kind == "time":
            out[name] = _time(v)
        elif kind in ("map", "bmap"):
            k, val = _map(v, kind == "bmap")
            out.setdefault(name, {})[k] = val
        elif kind == "rstr":
            out.setdefault(name, []).append(v.decode())
        elif kind[0] == "msg":
            out[name] = _decode(v, kind[1])
        elif kind[0] == "rmsg":
            out.setdefault(name, []).append(_decode(v, kind[1]))
    return out


def decode(body):
    """Returns the JSON form of a protobuf-encoded object, or raises ValueError."""
    if not body.startswith(MAGIC):
        raise ValueError("provided data does not appear to be a protobuf message, expected prefix "
                         "[107 56 115 0]")
    api_version = kind = ""
    raw = b""
    for num, _, v in _fields(body[4:]):
        if num == 1:
            for n2, _, v2 in _fields(v):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            raw = v
    spec = KINDS.get(kind)
    if spec is None:
        raise LookupError(kind)
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(_decode(raw, spec))
    return obj
