# SPDX-License-Identifier: MIT
"""kubesim: the resources the simulated API server serves, their selectable
fields, discovery documents and meta.k8s.io/v1 Table rendering for kubectl."""
import re
import threading
import time

from kubesim_core import parse_iso

SCALABLE = {"deployments.apps", "replicasets.apps", "statefulsets.apps"}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]


def _meta_fields(o):
    m = o.get("metadata", {})
    return {"metadata.name": m.get("name", ""), "metadata.namespace": m.get("namespace", "")}


def _pod_fields(o):
    f = _meta_fields(o)
    spec, st = o.get("spec", {}), o.get("status", {})
    f.update({
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.restartPolicy": spec.get("restartPolicy", ""),
        "spec.schedulerName": spec.get("schedulerName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
        "status.phase": st.get("phase", ""),
        "status.podIP": st.get("podIP", ""),
        "status.nominatedNodeName": st.get("nominatedNodeName", ""),
    })
    return f


def _event_fields(o):
    f = _meta_fields(o)
    io = o.get("involvedObject", {})
    for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        f["involvedObject." + k] = io.get(k, "")
    f["reason"] = o.get("reason", "")
    f["reportingComponent"] = o.get("reportingComponent", "")
    f["source"] = o.get("source", {}).get("component", "")
    f["type"] = o.get("type", "")
    return f


def _node_fields(o):
    f = _meta_fields(o)
    f["spec.unschedulable"] = "true" if o.get("spec", {}).get("unschedulable") else "false"
    return f


def _ns_fields(o):
    f = _meta_fields(o)
    f["status.phase"] = o.get("status", {}).get("phase", "")
    return f


def _secret_fields(o):
    f = _meta_fields(o)
    f["type"] = o.get("type", "")
    return f


class Resource:
    def __init__(self, group, version, plural, kind, namespaced, short=(), status=False,
                 field_fn=_meta_fields, extra_fields=(), verbs=VERBS, categories=(), custom=False):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced = namespaced
        self.short = list(short)
        self.status = status
        self.field_fn = field_fn
        self.fields = {"metadata.name", "metadata.namespace"} | set(extra_fields)
        self.verbs = list(verbs)
        self.categories = list(categories)
        self.singular = kind.lower()
        # custom resources (served from a CustomResourceDefinition): see kubesim_crd
        self.custom = custom
        self.crd = None             # the CRD's name
        self.schema = None          # openAPIV3Schema of this version
        self.has_defaults = False
        self.columns = []           # additionalPrinterColumns (or the default Age column)
        self.list_kind = kind + "List"
        self.terminating = False
        self.storage_version = version
        # storage key shared by the versions/groups of one resource
        self.key = plural if not group else f"{plural}.{group}"
        if plural == "events":
            self.key = "events"

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self):
        return f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"


POD_FIELDS = ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"]
EVENT_FIELDS = ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"]

RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ["ns"], status=True, field_fn=_ns_fields,
             extra_fields=["status.phase"], verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
    Resource("", "v1", "nodes", "Node", False, ["no"], status=True, field_fn=_node_fields,
             extra_fields=["spec.unschedulable"]),
    Resource("", "v1", "pods", "Pod", True, ["po"], status=True, field_fn=_pod_fields,
             extra_fields=POD_FIELDS, categories=["all"]),
    Resource("", "v1", "events", "Event", True, ["ev"], field_fn=_event_fields, extra_fields=EVENT_FIELDS),
    Resource("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    Resource("", "v1", "secrets", "Secret", True, [], field_fn=_secret_fields, extra_fields=["type"]),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    Resource("", "v1", "services", "Service", True, ["svc"], status=True, categories=["all"]),
    Resource("apps", "v1", "deployments", "Deployment", True, ["deploy"], status=True, categories=["all"]),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], status=True, categories=["all"]),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], status=True, categories=["all"]),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], status=True, categories=["all"]),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("events.k8s.io", "v1", "events", "Event", True, ["ev"], field_fn=_event_fields,
             extra_fields=EVENT_FIELDS),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
             ["crd", "crds"], status=True),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
             verbs=["create"]),
    Resource("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=["create"]),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], status=True),
]

BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KEY = {}
for _r in RESOURCES:
    BY_KEY.setdefault(_r.key, _r)

def version_priority(v):
    """Kubernetes version ordering (v1 > v1beta2 > v1beta1 > v1alpha1 > other), as a sort key."""
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, 0, 0, v)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), v)


def api_group(name, versions):
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


class Catalog:
    """The resources one API server serves: the built-in ones and those of its
    established CustomResourceDefinitions (kubesim_crd)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.resources = list(RESOURCES)
        self.by_path = dict(BY_PATH)
        self.by_key = dict(BY_KEY)
        self.generation = 0   # bumped on every change (OpenAPI hashes)

    def _rebuild(self):
        self.by_path = {(r.group, r.version, r.plural): r for r in self.resources}
        self.by_key = {}
        for r in self.resources:
            cur = self.by_key.get(r.key)
            if cur is None or (r.custom and r.version == r.storage_version):
                self.by_key[r.key] = r
        self.generation += 1

    def set_crd(self, name, resources):
        """Serves resources (one per served version) for CRD name, replacing what it served."""
        with self.lock:
            self.resources = [r for r in self.resources if r.crd != name] + list(resources)
            self._rebuild()

    def drop_crd(self, name):
        with self.lock:
            gone = [r for r in self.resources if r.crd == name]
            self.resources = [r for r in self.resources if r.crd != name]
            self._rebuild()
            return gone

    def find_kind(self, group, version, kind):
        with self.lock:
            return next((r for r in self.resources if r.group == group and r.version == version and
                         r.kind == kind), None)

    def groups(self):
        """[(group, [versions])] in discovery order (core excluded); versions of custom
        groups in Kubernetes version priority, so the first is the preferred one."""
        out = []
        with self.lock:
            rs = list(self.resources)
        for r in rs:
            if not r.group:
                continue
            g = next((x for x in out if x[0] == r.group), None)
            if g is None:
                out.append((r.group, [r.version], r.custom))
            elif r.version not in g[1]:
                g[1].append(r.version)
        return [(g, sorted(vs, key=version_priority) if custom else vs) for g, vs, custom in out]

    def discovery(self, path):
        """The legacy discovery document for path, or None."""
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]}
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [api_group(g, vs) for g, vs in self.groups()]}
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            g = next((x for x in self.groups() if x[0] == parts[1]), None)
            if g:
                d = api_group(*g)
                d.update({"kind": "APIGroup", "apiVersion": "v1"})
                return d
            return None
        if parts == ["api", "v1"]:
            group, version = "", "v1"
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        with self.lock:
            rs = [r for r in self.resources if r.group == group and r.version == version]
        if not rs:
            return None
        lst = []
        for r in rs:
            e = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": r.verbs}
            if r.short:
                e["shortNames"] = r.short
            if r.categories:
                e["categories"] = r.categories
            lst.append(e)
            if r.status:
                lst.append({"name": r.plural + "/status", "singularName": "", "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": SUB_VERBS})
            if r.key == "pods":
                lst.append({"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                            "version": "v1", "kind": "Eviction", "verbs": ["create"]})
            if r.key in SCALABLE:
                lst.append({"name": r.plural + "/scale", "singularName": "", "namespaced": r.namespaced,
                            "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": SUB_VERBS})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else "v1", "resources": lst}


# ---------------------------------------------------------------- events.k8s.io/v1 view

def event_to_v1(core):
    """core/v1 Event -> events.k8s.io/v1 Event (same storage)."""
    e = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core.get("metadata", {})}
    conv = {"involvedObject": "regarding", "related": "related", "message": "note", "reason": "reason",
            "type": "type", "action": "action", "reportingComponent": "reportingController",
            "reportingInstance": "reportingInstance", "eventTime": "eventTime"}
    for a, b in conv.items():
        if core.get(a) not in (None, ""):
            e[b] = core[a]
    if "reportingController" not in e and core.get("source", {}).get("component"):
        e["reportingController"] = core["source"]["component"]
    if core.get("count"):
        e["deprecatedCount"] = core["count"]
    if core.get("firstTimestamp"):
        e["deprecatedFirstTimestamp"] = core["firstTimestamp"]
    if core.get("lastTimestamp"):
        e["deprecatedLastTimestamp"] = core["lastTimestamp"]
    if core.get("source"):
        e["deprecatedSource"] = core["source"]
    if core.get("series"):
        e["series"] = core["series"]
    return e


def event_from_v1(ev):
    core = {"apiVersion": "v1", "kind": "Event", "metadata": ev.get("metadata", {})}
    conv = {"regarding": "involvedObject", "related": "related", "note": "message", "reason": "reason",
            "type": "type", "action": "action", "reportingController": "reportingComponent",
            "reportingInstance": "reportingInstance", "eventTime": "eventTime",
            "deprecatedCount": "count", "deprecatedFirstTimestamp": "firstTimestamp",
            "deprecatedLastTimestamp": "lastTimestamp", "deprecatedSource": "source", "series": "series"}
    for a, b in conv.items():
        if ev.get(a) not in (None, ""):
            core[b] = ev[a]
    core.setdefault("involvedObject", {})
    return core


# ---------------------------------------------------------------- Table output

def _age(ts):
    t = parse_iso(ts or "")
    if t is None:
        return "<unknown>"
    d = max(0, int(time.time() - t))
    if d < 120:
        return f"{d}s"
    if d < 3600:
        return f"{d // 60}m{d % 60}s" if d < 600 else f"{d // 60}m"
    if d < 86400:
        return f"{d // 3600}h{(d % 3600) // 60}m" if d < 36000 else f"{d // 3600}h"
    return f"{d // 86400}d"


def _col(name, typ="string", priority=0, fmt="", desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": priority}


def _pod_row(o):
    spec, st = o.get("spec", {}), o.get("status", {})
    cs = st.get("containerStatuses", []) or []
    total = len(spec.get("containers", []) or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    reason = st.get("reason") or st.get("phase") or "Pending"
    for c in cs:
        w = c.get("state", {}).get("waiting")
        t = c.get("state", {}).get("terminated")
        if w and w.get("reason"):
            reason = w["reason"]
        elif t and t.get("reason") and st.get("phase") in ("Succeeded", "Failed"):
            reason = t["reason"]
    if o.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    conds = {c.get("type"): c.get("status") for c in st.get("conditions", []) or []}
    gate_txt = "<none>"
    if gates:
        gate_txt = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    return [o["metadata"]["name"], f"{ready}/{total}", reason, restarts,
            _age(o["metadata"].get("creationTimestamp")), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>", gate_txt]


def _node_row(o):
    conds = {c.get("type"): c.get("status") for c in o.get("status", {}).get("conditions", []) or []}
    status = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if o.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = o["metadata"].get("labels", {}) or {}
    roles = ",".join(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    info = o.get("status", {}).get("nodeInfo", {})
    addrs = {a.get("type"): a.get("address") for a in o.get("status", {}).get("addresses", []) or []}
    return [o["metadata"]["name"], status, roles, _age(o["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"),
            info.get("osImage", ""), info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _event_row(o):
    io = o.get("involvedObject", {})
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    return [_age(last), o.get("type", ""), o.get("reason", ""),
            f"{io.get('kind', '').lower()}/{io.get('name', '')}", o.get("message", "")]


def _deploy_row(o):
    st, spec = o.get("status", {}), o.get("spec", {})
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o["metadata"].get("creationTimestamp"))]


def _sts_row(o):
    st, spec = o.get("status", {}), o.get("spec", {})
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            _age(o["metadata"].get("creationTimestamp"))]


def _rs_row(o):
    st, spec = o.get("status", {}), o.get("spec", {})
    return [o["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0), st.get("readyReplicas", 0),
            _age(o["metadata"].get("creationTimestamp"))]


def _ds_row(o):
    st = o.get("status", {})
    sel = ",".join(f"{k}={v}" for k, v in sorted(((o.get("spec", {}).get("template") or {}).get("spec") or {})
                                                .get("nodeSelector", {}).items())) or "<none>"
    return [o["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0), sel,
            _age(o["metadata"].get("creationTimestamp"))]


def _ns_row(o):
    return [o["metadata"]["name"], o.get("status", {}).get("phase", "Active"),
            _age(o["metadata"].get("creationTimestamp"))]


def _generic_row(o):
    return [o["metadata"]["name"], _age(o["metadata"].get("creationTimestamp"))]


NAME_COL = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
TABLES = {
    "pods": ([NAME_COL, _col("Ready"), _col("Status"), _col("Restarts", "string"), _col("Age"),
              _col("IP", priority=1), _col("Node", priority=1), _col("Nominated Node", priority=1),
              _col("Readiness Gates", priority=1)], _pod_row),
    "nodes": ([NAME_COL, _col("Status"), _col("Roles"), _col("Age"), _col("Version"),
               _col("Internal-IP", priority=1), _col("External-IP", priority=1), _col("OS-Image", priority=1),
               _col("Kernel-Version", priority=1), _col("Container-Runtime", priority=1)], _node_row),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")], _event_row),
    "deployments.apps": ([NAME_COL, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"),
                          _col("Age")], _deploy_row),
    "statefulsets.apps": ([NAME_COL, _col("Ready"), _col("Age")], _sts_row),
    "replicasets.apps": ([NAME_COL, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                          _col("Age")], _rs_row),
    "daemonsets.apps": ([NAME_COL, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                         _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Node Selector"),
                         _col("Age")], _ds_row),
    "namespaces": ([NAME_COL, _col("Status"), _col("Age")], _ns_row),
    # the default table convertor (rest.NewDefaultTableConvertor), which CRDs use
    "customresourcedefinitions.apiextensions.k8s.io": (
        [NAME_COL, _col("Created At", "date", desc="CreationTimestamp is a timestamp representing the server time "
                                                   "when this object was created.")],
        lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")]),
}


def wants_table(accept):
    return "as=Table" in (accept or "")


def table(res, objs, rv, include="Metadata"):
    if res.custom:
        import kubesim_crd
        cols, rowfn = kubesim_crd.column_definitions(res), lambda o: kubesim_crd.row(res, o)
    else:
        cols, rowfn = TABLES.get(res.key, ([NAME_COL, _col("Age")], _generic_row))
    rows = []
    for o in objs:
        if include == "None":
            ro = None
        elif include == "Object":
            ro = o
        else:
            ro = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata", {})}
        row = {"cells": rowfn(o)}
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": cols, "rows": rows}
