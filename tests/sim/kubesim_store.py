# SPDX-License-Identifier: MIT
"""kubesim: object storage with one global resourceVersion, bounded event
history (the watch cache), watchers fed through per-watch queues, JSON
persistence, and the generic registry semantics (create/update/patch/delete,
list with limit/continue, status subresources, finalizers, graceful pod
deletion). Objects in the store are never mutated in place: every write stores
a new dict, so readers may serialize what they got without the lock."""
import base64
import collections
import json
import os
import queue
import random
import re
import threading
import time
import uuid

from kubesim_core import (ApiError, already_exists, bad_request, conflict, deepcopy, expired,
                          invalid, json_patch, JsonPatchError, merge_patch, not_found, now_iso,
                          parse_field_selector, parse_label_selector, qualified,
                          strategic_merge_patch)
from kubesim_resources import BY_KEY, RESOURCES
import kubesim_crd

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PATH_SEGMENT_NAMES = {"clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io",
                      "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"}


def _name_error(res, name):
    """The name rule of each registry's validation (NameIsDNSSubdomain, NameIsDNSLabel,
    ValidatePathSegmentName); None when the name is fine."""
    if res.key in PATH_SEGMENT_NAMES:
        if name in (".", ".."):
            return f"may not be '{name}'"
        for bad in ("/", "%"):
            if bad in name:
                return f"may not contain '{bad}'"
        return None
    if res.key == "namespaces":
        if len(name) > 63:
            return "must be no more than 63 characters"
        if not DNS_LABEL.match(name):
            return ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
        return None
    if len(name) > 253:
        return "must be no more than 253 characters"
    if not DNS_SUBDOMAIN.match(name):
        return ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    return None


def _restore(m, om, k):
    if k in om:
        m[k] = deepcopy(om[k])
    else:
        m.pop(k, None)


LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def _qualified_name_error(key):
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return ("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
                "and '/' (e.g. 'example.com/MyName')")
    if prefix or key.startswith("/"):
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix):
            return ("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
                    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not LABEL_NAME.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
    return None


def _validate_meta(m):
    """ValidateObjectMeta's label and annotation rules (apimachinery validation)."""
    causes = []
    labels = m.get("labels") or {}
    if not isinstance(labels, dict):
        labels = {}
    for k in sorted(labels):
        why = _qualified_name_error(k)
        if why:
            causes.append(("metadata.labels", "FieldValueInvalid", f'Invalid value: "{k}": {why}'))
        v = labels[k]
        if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
            why = "must be no more than 63 characters" if isinstance(v, str) and len(v) > 63 else (
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
                "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
            causes.append(("metadata.labels", "FieldValueInvalid", f"Invalid value: {json.dumps(v)}: {why}"))
    annotations = m.get("annotations") or {}
    if isinstance(annotations, dict):
        for k in sorted(annotations):
            why = _qualified_name_error(k.lower())
            if why:
                causes.append(("metadata.annotations", "FieldValueInvalid", f'Invalid value: "{k}": {why}'))
        size = sum(len(k) + len(str(v)) for k, v in annotations.items())
        if size > 256 * 1024:
            causes.append(("metadata.annotations", "FieldValueTooLong",
                           "Too long: must have at most 262144 bytes"))
    return causes


def _validate_meta_update(m, om):
    """ValidateObjectMetaUpdate: uid is immutable; no new finalizers once deletion started."""
    causes = []
    if m.get("uid") and m.get("uid") != om.get("uid"):
        causes.append(("metadata.uid", "FieldValueInvalid", f'Invalid value: "{m["uid"]}": field is immutable'))
    if om.get("deletionTimestamp"):
        extra = sorted(set(m.get("finalizers") or []) - set(om.get("finalizers") or []))
        if extra:
            causes.append(("metadata.finalizers", "FieldValueForbidden",
                           "Forbidden: no new finalizers can be added if the object is being deleted, found new "
                           "finalizers []string{" + ", ".join(json.dumps(f) for f in extra) + "}"))
    return causes


def _validate_lease(spec):
    """ValidateLeaseSpec (pkg/apis/coordination/validation)."""
    causes = []
    d = spec.get("leaseDurationSeconds")
    if d is not None and d <= 0:
        causes.append(("spec.leaseDurationSeconds", "FieldValueInvalid", f"Invalid value: {d}: must be greater than 0"))
    t = spec.get("leaseTransitions")
    if t is not None and t < 0:
        causes.append(("spec.leaseTransitions", "FieldValueInvalid",
                       f"Invalid value: {t}: must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None and strategy != "OldestEmulationVersion":
        causes.append(("spec.strategy", "FieldValueNotSupported",
                       f'Unsupported value: "{strategy}": supported values: "OldestEmulationVersion"'))
    if spec.get("preferredHolder") and not strategy:
        causes.append(("spec.preferredHolder", "FieldValueForbidden",
                       "Forbidden: may only be specified if `strategy` is defined"))
    return causes


GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Resources whose status is reset on create (their strategies' PrepareForCreate).
RESET_STATUS_ON_CREATE = {"pods", "deployments.apps", "replicasets.apps", "statefulsets.apps",
                          "daemonsets.apps"}
# Status strategies that also reset labels (apps: deploymentStatusStrategy and friends).
STATUS_KEEPS_OLD_LABELS = {"deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps"}
NO_GENERATION = {"pods", "events", "nodes", "namespaces", "configmaps", "secrets", "serviceaccounts",
                 "leases.coordination.k8s.io"}


class Event:
    __slots__ = ("rv", "key", "type", "old", "new", "obj")

    def __init__(self, rv, key, typ, old, new, obj):
        self.rv, self.key, self.type, self.old, self.new, self.obj = rv, key, typ, old, new, obj


class Watcher:
    """One watch stream: the handler thread reads self.q; the store pushes
    (type, object) under its lock."""

    def __init__(self, res, ns, lsel, fsel, bookmarks):
        self.res, self.ns, self.lsel, self.fsel = res, ns, lsel, fsel
        self.bookmarks = bookmarks
        self.q = queue.Queue()
        self.closed = threading.Event()
        self.abrupt = False
        self.last_rv = 0

    def match(self, obj):
        if obj is None:
            return False
        m = obj.get("metadata", {})
        if self.ns and m.get("namespace") != self.ns:
            return False
        return self.lsel(m.get("labels")) and self.fsel(obj)

    def offer(self, ev):
        if ev.key != self.res.key:
            return
        o, n = self.match(ev.old), self.match(ev.new)
        if ev.type == "DELETED":
            if o:
                self.q.put(("DELETED", ev.obj))
        elif o and n:
            self.q.put(("MODIFIED", ev.new))
        elif n:
            self.q.put(("ADDED", ev.new))
        elif o:
            # leaving the selector: the previous object at the new resourceVersion
            prev = dict(ev.old)
            prev["metadata"] = dict(prev["metadata"], resourceVersion=str(ev.rv))
            self.q.put(("DELETED", prev))
        self.last_rv = ev.rv

    def close(self, abrupt=False):
        self.abrupt = abrupt
        self.closed.set()
        self.q.put(None)


def _okey(obj):
    m = obj["metadata"]
    return (m.get("namespace", ""), m["name"])


def _strip_rv(o):
    if not isinstance(o, dict):
        return o
    c = dict(o)
    c["metadata"] = {k: v for k, v in c.get("metadata", {}).items() if k != "resourceVersion"}
    return c


class Store:
    def __init__(self, path=None, history_size=1000):
        self.lock = threading.RLock()
        self.save_lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.path = path
        self.rv = 0
        self.objs = collections.defaultdict(dict)
        self.history = collections.deque()
        self.history_size = history_size
        self.rv_wait = 3.0
        self.compacted_rv = 0
        self.watchers = set()
        self.listeners = []   # fn(event) called under the lock; must only enqueue
        self.write_hooks = []  # fn(res, old, new, sub) -> new, called under the lock before commit
        self.dirty = False
        self.loaded = False
        if path and os.path.exists(path):
            self._load()

    # -------------------------------------------------------- persistence

    def _load(self):
        with open(self.path) as f:
            data = json.load(f)
        self.rv = int(data.get("resourceVersion", 0))
        if not data.get("clean", False):
            # the last periodic save may have missed writes clients saw: jump ahead
            self.rv += 1000
        for key, items in data.get("objects", {}).items():
            for o in items:
                self.objs[key][_okey(o)] = o
        self.compacted_rv = self.rv
        self.loaded = True

    def save(self, clean=False):
        if not self.path:
            return
        with self.save_lock:
            with self.lock:
                data = {"resourceVersion": str(self.rv), "clean": clean,
                        "objects": {k: list(v.values()) for k, v in self.objs.items() if v}}
                self.dirty = False
            text = json.dumps(data, separators=(",", ":"))
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, self.path)

    def reset_history(self):
        """As after an API server restart: the watch cache starts at the current RV."""
        with self.lock:
            self.history.clear()
            self.compacted_rv = self.rv

    # -------------------------------------------------------- core

    def get(self, key, ns, name):
        with self.lock:
            return self.objs[key].get((ns or "", name))

    def items(self, key):
        with self.lock:
            return list(self.objs[key].values())

    def commit(self, res, typ, old, new):
        """Stores new (or deletes old) at the next resourceVersion; returns the stored object."""
        with self.lock:
            self.rv += 1
            rv = self.rv
            key = res.key
            if typ == "DELETED":
                obj = dict(old)
                obj["metadata"] = dict(old["metadata"], resourceVersion=str(rv))
                del self.objs[key][_okey(old)]
                new = None
            else:
                new["metadata"]["resourceVersion"] = str(rv)
                self.objs[key][_okey(new)] = new
                obj = new
            ev = Event(rv, key, typ, old, new, obj)
            self.history.append(ev)
            while len(self.history) > self.history_size:
                self.compacted_rv = self.history.popleft().rv
            for w in list(self.watchers):
                w.offer(ev)
            for fn in self.listeners:
                fn(ev)
            self.dirty = True
            self.cond.notify_all()
            return obj

    def compact(self):
        with self.lock:
            self.history.clear()
            self.compacted_rv = self.rv

    def snapshot(self, key, rv):
        """The objects of key as they were at rv (reconstructed from history)."""
        with self.lock:
            if rv >= self.rv:
                return dict(self.objs[key])
            if rv < self.compacted_rv:
                return None
            snap = dict(self.objs[key])
            for ev in reversed(self.history):
                if ev.rv <= rv:
                    break
                if ev.key != key:
                    continue
                if ev.old is None:
                    snap.pop(_okey(ev.new), None)
                else:
                    snap[_okey(ev.old)] = ev.old
            return snap

    def wait_rv(self, rv, timeout=None):
        """Waits (3 s, like the watch cache) for a resourceVersion from the future."""
        deadline = time.time() + (self.rv_wait if timeout is None else timeout)
        with self.lock:
            while self.rv < rv:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


def _too_large(rv, cur):
    return ApiError(504, "Timeout", f"Too large resource version: {rv}, current: {cur}",
                    {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1})


def _parse_rv(s):
    try:
        v = int(s)
        if v < 0:
            raise ValueError
        return v
    except (TypeError, ValueError):
        raise bad_request(f"invalid resource version: {s!r}")


def _validate_list_options(want, match, tok):
    """ValidateListOptions of the real API server: 422 Invalid on ListOptions.meta.k8s.io."""
    causes = []
    if match:
        if not want:
            causes.append(("FieldValueForbidden",
                           "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if tok:
            causes.append(("FieldValueForbidden", "Forbidden: resourceVersionMatch is forbidden when continue "
                                                  "is provided"))
        if match not in ("Exact", "NotOlderThan"):
            causes.append(("FieldValueNotSupported", f'Unsupported value: "{match}": supported values: '
                                                     '"Exact", "NotOlderThan", ""'))
        if match == "Exact" and want == "0":
            causes.append(("FieldValueForbidden",
                           'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if not causes:
        return
    msgs = [f"resourceVersionMatch: {m}" for _, m in causes]
    text = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    raise ApiError(422, "Invalid", f'ListOptions.meta.k8s.io "" is invalid: {text}',
                   {"group": "meta.k8s.io", "kind": "ListOptions",
                    "causes": [{"reason": r, "message": m, "field": "resourceVersionMatch"} for r, m in causes]})


def encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(tok):
    try:
        pad = "=" * (-len(tok) % 4)
        d = json.loads(base64.urlsafe_b64decode(tok + pad))
        return int(d["rv"]), d["start"].rstrip("\x00")
    except Exception:
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")


POD_MUTABLE_SPEC = {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds",
                    "schedulingGates"}


def _qos(spec):
    cs = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    res = [c.get("resources") or {} for c in cs]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    if all(r.get("limits", {}).get(k) and r.get("requests", r.get("limits", {})).get(k) == r["limits"][k]
           for r in res for k in ("cpu", "memory")):
        return "Guaranteed"
    return "Burstable"


class Registry:
    """The generic registry: what the HTTP handler and the controllers call."""

    def __init__(self, store, rng=None):
        self.store = store
        self.rng = rng or random.Random()

    # -------------------------------------------------------- reads

    def get(self, res, ns, name):
        o = self.store.get(res.key, ns if res.namespaced else "", name)
        if o is None:
            raise not_found(res, name)
        return o

    def list(self, res, ns, q):
        """q: dict of query parameters (single values). Returns (items, rv, continue, remaining)."""
        lsel = parse_label_selector(q.get("labelSelector", ""))
        fsel = parse_field_selector(q.get("fieldSelector", ""), res)
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise bad_request(f"invalid limit: {q.get('limit')!r}")
        start = ""
        st = self.store
        want = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        tok = q.get("continue", "")
        _validate_list_options(want, match, tok)
        if tok:
            rv, start = decode_continue(tok)
            # checked after the token decodes, as the storage layer does; "0" is tolerated
            if want not in ("", "0"):
                raise bad_request("specifying resource version is not allowed when using continue")
            snap = st.snapshot(res.key, rv)
            if snap is None:
                raise expired("The provided continue parameter is too old to display a consistent list result. "
                              "You can start a new list without the continue parameter, or use the continue "
                              "token in this response to retrieve the remainder of the results. Continuing with "
                              "the provided token results in an inconsistent list - objects that were created, "
                              "modified, or deleted between the time the first chunk was returned and now may "
                              "show up in the list.")
        elif want == "0":
            # served from the watch cache, which ignores limit: the whole list, no continue
            limit = 0
            with st.lock:
                rv, snap = st.rv, dict(st.objs[res.key])
        elif want == "":
            with st.lock:
                rv, snap = st.rv, dict(st.objs[res.key])
        else:
            n = _parse_rv(want)
            if not st.wait_rv(n):
                raise _too_large(n, st.rv)
            # Exact when asked, and (legacy) for a paginated list without resourceVersionMatch
            if match == "Exact" or (not match and limit > 0):
                snap = st.snapshot(res.key, n)
                if snap is None:
                    raise expired("The resourceVersion for the provided list is too old.")
                rv = n
            else:
                with st.lock:
                    rv, snap = st.rv, dict(st.objs[res.key])
        keys = sorted(snap)
        items = []
        ns_ = ns if res.namespaced else None
        for k in keys:
            o = snap[k]
            if ns_ and k[0] != ns_:
                continue
            if start and "/".join(k) <= start:
                continue
            if not lsel(o.get("metadata", {}).get("labels")) or not fsel(o):
                continue
            items.append((k, o))
        cont, remaining = "", None
        if limit > 0 and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            cont = encode_continue(rv, "/".join(items[-1][0]))
        return [o for _, o in items], str(rv), cont, remaining

    # -------------------------------------------------------- writes

    def _check_ns(self, res, ns):
        if not res.namespaced:
            return
        nsobj = self.store.get("namespaces", "", ns)
        if nsobj is None:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
        if nsobj.get("metadata", {}).get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f"{res.kind.lower()}s \"\" is forbidden: unable to create new content "
                           f"in namespace {ns} because it is being terminated",
                           {"kind": res.plural, "causes": [{"reason": "NamespaceTerminating", "field":
                                                            "metadata.namespace",
                                                            "message": f"namespace {ns} is being terminated"}]})

    def _typecheck(self, res, body):
        if not isinstance(body, dict):
            raise bad_request("the object provided is unrecognized (must be of type " + res.kind + ")")
        av, kind = body.get("apiVersion"), body.get("kind")
        if av and av != res.api_version and not (res.key == "events" and av in ("v1", "events.k8s.io/v1")):
            raise bad_request(f"the API version in the data ({av}) does not match the expected API version "
                              f"({res.api_version})")
        if kind and kind != res.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        body["apiVersion"], body["kind"] = res.api_version, res.kind
        if not isinstance(body.get("metadata"), dict):
            body["metadata"] = {}

    def create(self, res, ns, body, dry_run=False):
        body = deepcopy(body)
        self._typecheck(res, body)
        m = body["metadata"]
        if res.namespaced:
            if m.get("namespace") and m["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on "
                                  "the request")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        with self.store.lock:
            self._check_ns(res, ns)
            if not m.get("name"):
                if m.get("generateName"):
                    for _ in range(20):
                        name = m["generateName"] + "".join(self.rng.choice(GEN_ALPHABET) for _ in range(5))
                        if self.store.get(res.key, m.get("namespace", ""), name) is None:
                            break
                    m["name"] = name
                else:
                    raise invalid(res, "", [("metadata.name", "FieldValueRequired",
                                             "Required value: name or generateName is required")])
            name = m["name"]
            why = _name_error(res, name)
            if why:
                raise invalid(res, name, [("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {why}')])
            if self.store.get(res.key, m.get("namespace", ""), name) is not None:
                raise already_exists(res, name)
            for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                m.pop(k, None)
            m["uid"] = str(uuid.uuid4())
            m["creationTimestamp"] = now_iso()
            if res.key not in NO_GENERATION:
                m["generation"] = 1
            else:
                m.pop("generation", None)
            if res.key in RESET_STATUS_ON_CREATE:
                body["status"] = {}
            if res.custom and res.status:
                body.pop("status", None)  # customResourceStrategy.PrepareForCreate
            if res.key == kubesim_crd.CRD_KEY:
                kubesim_crd.apply_defaults(body)
                body["status"] = kubesim_crd.initial_status(body)
            if res.key == "pods":
                body["status"] = {"phase": "Pending", "qosClass": _qos(body.get("spec", {}))}
                self._pod_defaults(body)
            if res.key == "namespaces":
                body.setdefault("spec", {})["finalizers"] = ["kubernetes"]
                body["status"] = {"phase": "Active"}
            self._validate(res, None, body)
            for hook in self.store.write_hooks:
                body = hook(res, None, body, None)
            if dry_run:
                return body
            return self.store.commit(res, "ADDED", None, body)

    @staticmethod
    def _pod_defaults(pod):
        """The defaults the API server fills in (SetDefaults_Pod and friends), abridged."""
        spec = pod.setdefault("spec", {})
        for k, v in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                     ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler"),
                     ("securityContext", {}), ("enableServiceLinks", True), ("preemptionPolicy",
                                                                               "PreemptLowerPriority"),
                     ("priority", 0), ("serviceAccountName", "default"), ("serviceAccount", "default")):
            spec.setdefault(k, v)
        spec.setdefault("tolerations", []).extend(
            t for t in ({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300}) if t not in spec["tolerations"])
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if isinstance(c, dict):
                c.setdefault("terminationMessagePath", "/dev/termination-log")
                c.setdefault("terminationMessagePolicy", "File")
                img = str(c.get("image", ""))
                c.setdefault("imagePullPolicy", "Always" if img.endswith(":latest") or ":" not in
                             img.rsplit("/", 1)[-1] else "IfNotPresent")
                c.setdefault("resources", {})

    def _validate(self, res, old, new):
        name = new["metadata"]["name"]
        causes = []
        if old is not None:
            causes.extend(_validate_meta_update(new["metadata"], old["metadata"]))
        causes.extend(_validate_meta(new["metadata"]))
        if res.custom:
            causes.extend(kubesim_crd.validate_cr(res, new))
        if res.key == kubesim_crd.CRD_KEY:
            causes.extend(kubesim_crd.validate_crd(new))
        if res.key == "leases.coordination.k8s.io":
            causes.extend(_validate_lease(new.get("spec") or {}))
        if causes:
            raise invalid(res, name, causes)
        if res.key == "events":
            self._validate_event(res, new)
        if res.key == "pods":
            cs = new.get("spec", {}).get("containers")
            if not cs:
                raise invalid(res, name, [("spec.containers", "FieldValueRequired", "Required value")])
            for i, c in enumerate(cs):
                if not c.get("name"):
                    raise invalid(res, name, [(f"spec.containers[{i}].name", "FieldValueRequired", "Required value")])
                if not c.get("image"):
                    raise invalid(res, name, [(f"spec.containers[{i}].image", "FieldValueRequired", "Required value")])
            if old is not None:
                os_, ns_ = old.get("spec", {}), new.get("spec", {})
                a = {k: v for k, v in os_.items() if k not in POD_MUTABLE_SPEC and k not in ("containers", "initContainers")}
                b = {k: v for k, v in ns_.items() if k not in POD_MUTABLE_SPEC and k not in ("containers", "initContainers")}

                def noimg(lst):
                    return [{k: v for k, v in c.items() if k != "image"} for c in lst or []]
                if a != b or noimg(os_.get("containers")) != noimg(ns_.get("containers")) or \
                        noimg(os_.get("initContainers")) != noimg(ns_.get("initContainers")):
                    raise invalid(res, name, [("spec", "FieldValueForbidden",
                                               "Forbidden: pod updates may not change fields other than "
                                               "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                                               "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                                               "to existing tolerations),`spec.terminationGracePeriodSeconds` "
                                               "(allow it to be set to 1 if it was previously negative)")])
        if res.key in ("deployments.apps", "statefulsets.apps", "replicasets.apps", "daemonsets.apps"):
            spec = new.get("spec", {})
            tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            sel = (spec.get("selector") or {}).get("matchLabels")
            if not sel:
                raise invalid(res, name, [("spec.selector", "FieldValueRequired", "Required value")])
            if any(tl.get(k) != v for k, v in sel.items()):
                raise invalid(res, name, [("spec.template.metadata.labels", "FieldValueInvalid",
                                           f"Invalid value: {json.dumps(tl)}: `selector` does not match template "
                                           "`labels`")])
            if old is not None and (old.get("spec", {}).get("selector") != spec.get("selector")):
                raise invalid(res, name, [("spec.selector", "FieldValueInvalid",
                                           "Invalid value: field is immutable")])

    @staticmethod
    def _validate_event(res, ev):
        """The API server's event validation (legacy rules for core/v1, strict for events.k8s.io/v1)."""
        name, ns = ev["metadata"]["name"], ev["metadata"].get("namespace", "")
        io_ns = (ev.get("involvedObject") or {}).get("namespace", "")
        v1 = res.group == "events.k8s.io"
        causes = []
        bad_ns = ("involvedObject.namespace" if not v1 else "regarding.namespace", "FieldValueInvalid",
                  f'Invalid value: "{io_ns}": does not match event.namespace')
        if v1 and not ev.get("eventTime"):
            causes.append(("eventTime", "FieldValueRequired", "Required value"))
        if not ev.get("eventTime"):
            if (not io_ns and ns not in ("", "default")) or (io_ns and io_ns != ns):
                causes.append(bad_ns)
        else:
            if not io_ns and ns not in ("default", "kube-system"):
                causes.append(bad_ns)
            elif io_ns and io_ns != ns and v1:
                causes.append(bad_ns)
            checks = (("reportingComponent", "reportingController" if v1 else "reportingComponent", 0),
                      ("reportingInstance", "reportingInstance", 128), ("action", "action", 128),
                      ("reason", "reason", 128))
            for key, fname, limit in checks:
                val = ev.get(key) or ""
                if not val:
                    causes.append((fname, "FieldValueRequired", "Required value"))
                elif limit and len(val) > limit:
                    causes.append((fname, "FieldValueInvalid", f"Invalid value: \"\": can have at most {limit} characters"))
            if len(ev.get("message") or "") > 1024:
                causes.append(("note" if v1 else "message", "FieldValueInvalid",
                               "Invalid value: \"\": can have at most 1024 characters"))
        if v1 and ev.get("type") not in ("Normal", "Warning"):
            causes.append(("type", "FieldValueNotSupported",
                           f'Unsupported value: "{ev.get("type", "")}": supported values: "Normal", "Warning"'))
        if causes:
            raise invalid(res, name, causes)

    def _prepare_update(self, res, old, new, sub):
        """The strategy's PrepareForUpdate and rest.BeforeUpdate: which parts of the new
        object a write may change, server-owned metadata kept."""
        m, om = new.get("metadata") or {}, old["metadata"]
        if m.get("name") and m["name"] != om["name"]:
            raise bad_request(f"the name of the object ({m['name']}) does not match the name on the URL ({om['name']})")
        if res.namespaced and m.get("namespace") and m["namespace"] != om.get("namespace"):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        changed = False
        if sub == "status" and res.custom:
            # customresource statusStrategy: the old object with the new status (metadata
            # included: only managedFields would come from the request)
            out = deepcopy(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            new = out
        elif sub == "status":
            # the built-in status strategies: spec (and ownerReferences for pods, labels for
            # the apps kinds) from the old object, the rest of metadata from the request
            out = deepcopy(old)
            out["status"] = new.get("status") if new.get("status") is not None else {}
            out["metadata"] = m
            if res.key == "pods":
                _restore(m, om, "ownerReferences")
            if res.key in STATUS_KEEPS_OLD_LABELS:
                _restore(m, om, "labels")
            new = out
        else:
            new["metadata"] = m
            if res.status and res.key not in ("nodes", "services"):
                if "status" in old:
                    new["status"] = deepcopy(old["status"])
                else:
                    new.pop("status", None)
            if res.custom:
                changed = {k: v for k, v in new.items() if k not in ("metadata", "status")} != \
                    {k: v for k, v in old.items() if k not in ("metadata", "status")}
            else:
                changed = res.key not in NO_GENERATION and new.get("spec") != old.get("spec")
        m = new["metadata"]
        if sub != "status" or not res.custom:
            # rest.BeforeUpdate: generation, creationTimestamp and the deletion fields are the
            # server's; an empty uid takes the old one (a different one fails validation)
            for k in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "name", "namespace"):
                _restore(m, om, k)
            if "generation" in om:
                m["generation"] = int(om["generation"]) + (1 if sub != "status" and changed else 0)
            else:
                m.pop("generation", None)
            if not m.get("uid"):
                _restore(m, om, "uid")
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        return new

    def update(self, res, ns, name, body, sub=None, dry_run=False):
        """PUT: body replaces the object (its status subresource with sub='status')."""
        body = deepcopy(body)
        self._typecheck(res, body)
        with self.store.lock:
            old = self.store.get(res.key, ns if res.namespaced else "", name)
            if old is None:
                raise not_found(res, name)
            uid = body["metadata"].get("uid")
            if uid and uid != old["metadata"].get("uid"):
                # a PUT's uid is a storage precondition (defaultUpdatedObjectInfo.Preconditions)
                raise conflict(res, name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                                          f"{old['metadata'].get('uid')}")
            want = body["metadata"].get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise conflict(res, name)
            return self._finish_update(res, old, body, sub, dry_run)

    def _finish_update(self, res, old, body, sub, dry_run):
        new = self._prepare_update(res, old, body, sub)
        self._validate(res, old, new)
        for hook in self.store.write_hooks:
            new = hook(res, old, new, sub)
        if _strip_rv(new) == _strip_rv(old):
            return old
        if dry_run:
            return new
        nm = new["metadata"]
        if nm.get("deletionTimestamp") and not nm.get("finalizers") and \
                (res.key != "pods" or nm.get("deletionGracePeriodSeconds", 0) == 0):
            return self.store.commit(res, "DELETED", old, None)
        return self.store.commit(res, "MODIFIED", old, new)

    def patch(self, res, ns, name, ctype, patch, sub=None, dry_run=False, create_ok=False, decode=None):
        """decode(new, patch): called on the patched object before it is stored (the
        request handler's decoding: unknown fields, fieldValidation)."""
        ctype = (ctype or "").split(";")[0].strip()
        with self.store.lock:
            old = self.store.get(res.key, ns if res.namespaced else "", name)
            if old is None:
                if ctype == "application/apply-patch+yaml" and create_ok:
                    if not isinstance(patch, dict):
                        raise bad_request("invalid apply patch")
                    body = deepcopy(patch)
                    if decode is not None:
                        decode(body, patch)
                    return self.create(res, ns, body, dry_run)
                raise not_found(res, name)
            if ctype == "application/merge-patch+json":
                if not isinstance(patch, dict):
                    raise bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
                new = merge_patch(old, patch)
            elif ctype == "application/strategic-merge-patch+json":
                if res.custom or res.key.endswith(".apiextensions.k8s.io"):
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types "
                                   "include: application/json-patch+json, application/merge-patch+json, "
                                   "application/apply-patch+yaml")
                if not isinstance(patch, dict):
                    raise bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
                new = strategic_merge_patch(old, patch)
            elif ctype == "application/json-patch+json":
                try:
                    new = json_patch(old, patch)
                except JsonPatchError as e:
                    raise ApiError(422, "Invalid", str(e))
                if not isinstance(new, dict):
                    raise ApiError(422, "Invalid", "the patch produced an invalid object")
            elif ctype == "application/apply-patch+yaml":
                if not isinstance(patch, dict):
                    raise bad_request("invalid apply patch")
                new = merge_patch(old, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml" +
                               ('' if res.custom else ', application/strategic-merge-patch+json'))
            if not isinstance(new.get("metadata"), dict):
                new["metadata"] = {}
            if decode is not None:
                decode(new, patch)
            want = new["metadata"].get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise conflict(res, name)
            self._typecheck(res, new)
            return self._finish_update(res, old, new, sub, dry_run)

    def delete(self, res, ns, name, opts=None, dry_run=False):
        """Returns (object, gone). Pods on a node are deleted gracefully."""
        opts = opts or {}
        with self.store.lock:
            old = self.store.get(res.key, ns if res.namespaced else "", name)
            if old is None:
                raise not_found(res, name)
            pre = opts.get("preconditions") or {}
            om = old["metadata"]
            if pre.get("uid") and pre["uid"] != om.get("uid"):
                raise conflict(res, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                          f"UID in object meta: {om.get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != om.get("resourceVersion"):
                raise conflict(res, name, f"Precondition failed: ResourceVersion in precondition: "
                                          f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                          f"{om.get('resourceVersion')}")
            grace = opts.get("gracePeriodSeconds")
            if res.key == "pods":
                spec, st = old.get("spec", {}), old.get("status", {})
                if grace is None:
                    grace = spec.get("terminationGracePeriodSeconds", 30)
                grace = max(0, int(grace))
                if not spec.get("nodeName") or st.get("phase") in ("Succeeded", "Failed"):
                    grace = 0
            else:
                grace = 0
            fins = om.get("finalizers") or []
            if res.key == "namespaces":
                if om.get("deletionTimestamp"):
                    return old, False
                new = deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_iso()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new.setdefault("status", {})["phase"] = "Terminating"
                return (new, False) if dry_run else (self.store.commit(res, "MODIFIED", old, new), False)
            if grace > 0 or fins:
                if om.get("deletionTimestamp"):
                    cur = om.get("deletionGracePeriodSeconds", 0)
                    if grace >= cur:
                        return old, False
                if grace == 0 and not fins:
                    pass
                else:
                    new = deepcopy(old)
                    new["metadata"]["deletionTimestamp"] = now_iso(time.time() + grace)
                    new["metadata"]["deletionGracePeriodSeconds"] = grace
                    if dry_run:
                        return new, False
                    return self.store.commit(res, "MODIFIED", old, new), False
            if dry_run:
                return old, True
            return self.store.commit(res, "DELETED", old, None), True


# ---------------------------------------------------------------- RBAC

def _subject_matches(sub, user, groups, binding_ns):
    kind = sub.get("kind")
    if kind == "User":
        return sub.get("name") == user
    if kind == "Group":
        return sub.get("name") in groups
    if kind == "ServiceAccount":
        ns = sub.get("namespace") or binding_ns
        return user == f"system:serviceaccount:{ns}:{sub.get('name')}"
    return False


def _rule_allows(rule, verb, group, resource, sub, name):
    if "*" not in rule.get("verbs", []) and verb not in rule.get("verbs", []):
        return False
    if "*" not in rule.get("apiGroups", []) and group not in rule.get("apiGroups", []):
        return False
    full = resource + ("/" + sub if sub else "")
    rs = rule.get("resources", [])
    if not ("*" in rs or full in rs or (sub and f"*/{sub}" in rs)):
        return False
    names = rule.get("resourceNames")
    if names and (not name or name not in names):
        return False
    return True


class Authorizer:
    """RBAC over the Role/ClusterRole(Binding) objects in the store. With no
    binding at all every authenticated user may do everything."""

    def __init__(self, store):
        self.store = store

    def enforcing(self):
        with self.store.lock:
            return bool(self.store.objs["clusterrolebindings.rbac.authorization.k8s.io"] or
                        self.store.objs["rolebindings.rbac.authorization.k8s.io"])

    def allowed(self, user, groups, verb, res, ns, name, sub):
        if "system:masters" in groups or not self.enforcing():
            return True
        if res.group == "authorization.k8s.io" and res.plural == "selfsubjectaccessreviews" and \
                verb == "create" and "system:authenticated" in groups:
            return True  # the bootstrap ClusterRole system:basic-user
        st = self.store
        with st.lock:
            crbs = list(st.objs["clusterrolebindings.rbac.authorization.k8s.io"].values())
            rbs = list(st.objs["rolebindings.rbac.authorization.k8s.io"].values())
            croles = st.objs["clusterroles.rbac.authorization.k8s.io"]
            roles = st.objs["roles.rbac.authorization.k8s.io"]
            for b in crbs:
                if not any(_subject_matches(s, user, groups, "") for s in b.get("subjects", []) or []):
                    continue
                role = croles.get(("", b.get("roleRef", {}).get("name")))
                if role and any(_rule_allows(r, verb, res.group, res.plural, sub, name)
                                for r in role.get("rules", []) or []):
                    return True
            if not ns:
                return False
            for b in rbs:
                if b["metadata"].get("namespace") != ns:
                    continue
                if not any(_subject_matches(s, user, groups, ns) for s in b.get("subjects", []) or []):
                    continue
                ref = b.get("roleRef", {})
                role = croles.get(("", ref.get("name"))) if ref.get("kind") == "ClusterRole" \
                    else roles.get((ns, ref.get("name")))
                if role and any(_rule_allows(r, verb, res.group, res.plural, sub, name)
                                for r in role.get("rules", []) or []):
                    return True
        return False

    @staticmethod
    def forbidden(user, verb, res, ns, name, sub):
        full = res.plural + ("/" + sub if sub else "")
        what = f'{qualified(res)} "{name}"' if name else qualified(res)
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        d = {"kind": res.plural}
        if name:
            d["name"] = name
        if res.group:
            d["group"] = res.group
        return ApiError(403, "Forbidden", f'{what} is forbidden: User "{user}" cannot {verb} resource "{full}" '
                                          f'in API group "{res.group}" {scope}', d)


__all__ = ["Store", "Registry", "Watcher", "Authorizer", "RESOURCES", "BY_KEY"]
