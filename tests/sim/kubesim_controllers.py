# SPDX-License-Identifier: MIT
"""kubesim: the parts of a cluster that are not the API server. One thread
plays the scheduler, CNI (pod IPs from the cloud simulator's ENIs), the kubelet
(phases, container statuses, the Ready condition with readiness gates, graceful
deletion), the Deployment/ReplicaSet/StatefulSet controllers, the namespace
controller and the garbage collector (ownerReferences)."""
import hashlib
import heapq
import itertools
import json
import queue
import threading
import time
import traceback
import uuid

from kubesim_core import ApiError, deepcopy, now_iso, parse_iso
from kubesim_resources import BY_KEY

PODS = BY_KEY["pods"]
EVENTS = BY_KEY["events"]
RS = BY_KEY["replicasets.apps"]
DEPLOY = BY_KEY["deployments.apps"]
STS = BY_KEY["statefulsets.apps"]
DS = BY_KEY["daemonsets.apps"]
NODES = BY_KEY["nodes"]
NAMESPACES = BY_KEY["namespaces"]


def _set_cond(conds, typ, status, reason="", message="", probe=False):
    now = now_iso()
    for c in conds:
        if c.get("type") == typ:
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            c["status"] = status
            for k, v in (("reason", reason), ("message", message)):
                if v:
                    c[k] = v
                else:
                    c.pop(k, None)
            return
    c = {"type": typ, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    conds.append(c)


def compute_ready(pod):
    """Folds container readiness and spec.readinessGates into ContainersReady and Ready
    the way the kubelet's status manager does."""
    st = pod.setdefault("status", {})
    if not st.get("containerStatuses"):
        return
    cs = {c.get("name"): c for c in st.get("containerStatuses") or []}
    names = [c.get("name") for c in pod.get("spec", {}).get("containers", [])]
    unready = [n for n in names if not cs.get(n, {}).get("ready")]
    conds = st.setdefault("conditions", [])
    if st.get("phase") in ("Succeeded", "Failed"):
        _set_cond(conds, "ContainersReady", "False", "PodCompleted")
        _set_cond(conds, "Ready", "False", "PodCompleted")
        return
    if unready:
        msg = f"containers with unready status: [{' '.join(unready)}]"
        _set_cond(conds, "ContainersReady", "False", "ContainersNotReady", msg)
        _set_cond(conds, "Ready", "False", "ContainersNotReady", msg)
        return
    _set_cond(conds, "ContainersReady", "True")
    have = {c.get("type"): c for c in conds}
    msgs = []
    for g in pod.get("spec", {}).get("readinessGates") or []:
        t = g.get("conditionType")
        c = have.get(t)
        if c is None:
            msgs.append(f'corresponding condition of pod readiness gate "{t}" does not exist.')
        elif c.get("status") != "True":
            msgs.append(f'the status of pod readiness gate "{t}" is not "True", but {c.get("status")}')
    if msgs:
        _set_cond(conds, "Ready", "False", "ReadinessGatesNotReady", ", ".join(msgs))
    else:
        _set_cond(conds, "Ready", "True")


def pod_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []) or [])


def _hash(obj, n=10):
    h = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).digest()
    alpha = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alpha[b % len(alpha)] for b in h[:n])


def _tolerates(pod, taint):
    for t in pod.get("spec", {}).get("tolerations") or []:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _expr_ok(e, labels):
    key, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
    if op == "In":
        return key in labels and labels[key] in vals
    if op == "NotIn":
        return key not in labels or labels[key] not in vals
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and key in labels and len(vals) == 1:
        try:
            a, b = int(labels[key]), int(vals[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _affinity_ok(spec, labels):
    """requiredDuringSchedulingIgnoredDuringExecution node affinity: the terms are ORed,
    the matchExpressions of a term ANDed (matchFields are not modelled)."""
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms") or []
    if not terms:
        return True
    return any(all(_expr_ok(e, labels) for e in t.get("matchExpressions") or []) for t in terms)


class Controllers:
    def __init__(self, store, registry, cloud, config):
        self.store, self.reg, self.cloud, self.config = store, registry, cloud, config
        self.q = queue.Queue()
        self.timers = []
        self.seq = itertools.count()
        self.rr = 0
        self.starting, self.killing = set(), set()
        self.sandbox_failures = {}
        self.dependents = {}   # owner uid -> {(key, ns, name)}
        self.node_ips = {}
        self.stop_ev = threading.Event()
        self.thread = None
        # the owner index is kept in step with the store (under its lock), the rest reacts later
        store.listeners.append(lambda ev: self._index(ev.key, ev.old, ev.new))
        store.listeners.append(self.q.put)
        store.write_hooks.append(self._hook)

    # -------------------------------------------------------- plumbing

    def start(self):
        with self.store.lock:
            for key, objs in self.store.objs.items():
                for o in objs.values():
                    self._index(key, None, o)
            pods = list(self.store.objs["pods"].values())
            owners = [(k, o) for k in ("deployments.apps", "replicasets.apps", "statefulsets.apps",
                                       "daemonsets.apps", "namespaces")
                      for o in self.store.objs[k].values()]
        for p in pods:
            self.q.put(("resync", "pods", p))
        for k, o in owners:
            self.q.put(("resync", k, o))
        self.thread = threading.Thread(target=self._run, name="kubesim-controllers", daemon=True)
        self.thread.start()
        self.at(1.0, self.expire_events)

    def stop(self):
        self.stop_ev.set()
        self.q.put(None)
        if self.thread:
            self.thread.join(5)

    def at(self, delay, fn, *args):
        self.q.put(("timer", time.monotonic() + max(0.0, delay), fn, args))

    def _run(self):
        while not self.stop_ev.is_set():
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            try:
                item = self.q.get(timeout=timeout)
            except queue.Empty:
                item = ()
            if item is None:
                break
            try:
                if isinstance(item, tuple) and item and item[0] == "timer":
                    heapq.heappush(self.timers, (item[1], next(self.seq), item[2], item[3]))
                elif isinstance(item, tuple) and item and item[0] == "resync":
                    self._on(item[1], "ADDED", None, item[2])
                elif item != ():
                    self._on(item.key, item.type, item.old, item.new)
                now = time.monotonic()
                while self.timers and self.timers[0][0] <= now:
                    _, _, fn, args = heapq.heappop(self.timers)
                    fn(*args)
            except Exception:
                traceback.print_exc()

    def _index(self, key, old, new):
        for o, add in ((old, False), (new, True)):
            if o is None:
                continue
            m = o["metadata"]
            ident = (key, m.get("namespace", ""), m["name"])
            for ref in m.get("ownerReferences") or []:
                s = self.dependents.setdefault(ref.get("uid"), set())
                if add:
                    s.add(ident)
                else:
                    s.discard(ident)

    def _mutate(self, res, ns, name, uid, fn):
        """Internal write bypassing the API's validation (scheduler binding, kubelet status)."""
        with self.store.lock:
            old = self.store.get(res.key, ns, name)
            if old is None or (uid and old["metadata"].get("uid") != uid):
                return None
            new = fn(deepcopy(old))
            if new is None:
                return old
            for hook in self.store.write_hooks:
                new = hook(res, old, new, "status")
            if new == old:
                return old
            return self.store.commit(res, "MODIFIED", old, new)

    def _hook(self, res, old, new, sub):
        if res.key == "pods":
            compute_ready(new)
        return new

    def event(self, obj, reason, message, typ="Normal", component="kubelet", host=None):
        m = obj["metadata"]
        ns = m.get("namespace") or "default"
        ts = now_iso()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": f"{m['name']}.{uuid.uuid4().hex[:16]}", "namespace": ns},
              "involvedObject": {"kind": obj.get("kind"), "namespace": m.get("namespace", ""), "name": m["name"],
                                 "uid": m.get("uid"), "apiVersion": obj.get("apiVersion"),
                                 "resourceVersion": m.get("resourceVersion")},
              "reason": reason, "message": message, "type": typ, "count": 1,
              "source": {"component": component, **({"host": host} if host else {})},
              "firstTimestamp": ts, "lastTimestamp": ts, "reportingComponent": component,
              "reportingInstance": host or ""}
        try:
            self.reg.create(EVENTS, ns, ev)
        except ApiError:
            pass

    # -------------------------------------------------------- dispatch

    def _on(self, key, typ, old, new):
        if key == "pods":
            self._on_pod(typ, old, new)
        elif key == "deployments.apps" and new is not None:
            self.reconcile_deploy(new["metadata"]["namespace"], new["metadata"]["name"])
        elif key == "replicasets.apps" and new is not None:
            self.reconcile_rs(new["metadata"]["namespace"], new["metadata"]["name"])
            self._owner(new)
        elif key == "statefulsets.apps" and new is not None:
            self.reconcile_sts(new["metadata"]["namespace"], new["metadata"]["name"])
        elif key == "daemonsets.apps" and new is not None:
            self.reconcile_ds(new["metadata"]["namespace"], new["metadata"]["name"])
        elif key == "namespaces" and new is not None and new["metadata"].get("deletionTimestamp"):
            self.finalize_ns(new["metadata"]["name"])
        elif key == "nodes" and new is None and old is not None:
            # the pod garbage collector (kube-controller-manager PodGC, gcOrphaned):
            # pods bound to a node that no longer exists are force-deleted after a
            # quarantine (40 s on a real cluster; pod_gc_delay here)
            self.at(float(self.config.get("pod_gc_delay", 2.0)), self.gc_orphaned,
                    old["metadata"]["name"])
        elif key == "nodes" and new is not None:
            self.at(0.05, self.retry_unscheduled)
            for d in self.store.items(DS.key):
                self.at(0.05, self.reconcile_ds, d["metadata"]["namespace"], d["metadata"]["name"])
        if typ == "DELETED" and old is not None:
            self.collect(old)

    def gc_orphaned(self, node):
        if self.store.get("nodes", "", node) is not None:
            return  # back again
        for p in self.store.items("pods"):
            if p.get("spec", {}).get("nodeName") != node:
                continue
            m = p["metadata"]
            try:
                self.reg.delete(PODS, m["namespace"], m["name"], {"gracePeriodSeconds": 0})
            except ApiError:
                pass

    def _owner(self, obj):
        for ref in obj["metadata"].get("ownerReferences") or []:
            if not ref.get("controller"):
                continue
            ns = obj["metadata"].get("namespace", "")
            if ref.get("kind") == "ReplicaSet":
                self.reconcile_rs(ns, ref.get("name"))
            elif ref.get("kind") == "StatefulSet":
                self.reconcile_sts(ns, ref.get("name"))
            elif ref.get("kind") == "Deployment":
                self.reconcile_deploy(ns, ref.get("name"))
            elif ref.get("kind") == "DaemonSet":
                self.reconcile_ds(ns, ref.get("name"))

    catalog = None  # set by KubeSim: the resources served, custom ones included

    def _by_key(self):
        return self.catalog.by_key if self.catalog is not None else BY_KEY

    def _res(self, key):
        return self._by_key().get(key)

    def collect(self, owner):
        """Garbage collector (background propagation)."""
        uid = owner["metadata"].get("uid")
        with self.store.lock:
            deps = sorted(self.dependents.pop(uid, set()))
        for key, ns, name in deps:
            res = self._res(key)
            o = self.store.get(key, ns, name)
            if res is None or o is None:
                continue
            refs = o["metadata"].get("ownerReferences") or []
            if any(r.get("uid") != uid and self._alive(r, ns) for r in refs):
                continue
            try:
                self.reg.delete(res, ns, name, {"propagationPolicy": "Background"})
            except ApiError:
                pass

    def _alive(self, ref, ns):
        """Whether the owner named by ref still exists (then the dependent stays)."""
        group = ref.get("apiVersion", "v1").rpartition("/")[0]
        for res in list(self._by_key().values()):
            if res.kind == ref.get("kind") and res.group == group:
                o = self.store.get(res.key, ns if res.namespaced else "", ref.get("name"))
                return o is not None and o["metadata"].get("uid") == ref.get("uid")
        return False

    # -------------------------------------------------------- scheduler

    def _on_pod(self, typ, old, pod):
        if typ == "DELETED":
            self._release(old)
            self.starting.discard(old["metadata"].get("uid"))
            self._owner(old)
            return
        m = pod["metadata"]
        uid = m.get("uid")
        if m.get("deletionTimestamp"):
            if uid not in self.killing:
                self.killing.add(uid)
                grace = float(m.get("deletionGracePeriodSeconds", 0))
                cap = self.config.get("pod_stop_delay")
                delay = grace if cap is None else min(grace, float(cap))
                self.at(delay, self.kill, m["namespace"], m["name"], uid)
            self._owner(pod)
            return
        spec = pod.get("spec", {})
        if not spec.get("nodeName"):
            self.schedule(pod)
        elif self.store.get("nodes", "", spec["nodeName"]) is None:
            pass  # no kubelet for that node (yet): the pod stays Pending
        elif uid not in self.starting and not pod.get("status", {}).get("containerStatuses"):
            self.starting.add(uid)
            delay = float(self.config.get("pod_start_delay", 0.5))
            self.at(delay / 2, self.sandbox, m["namespace"], m["name"], uid, delay / 2)
        elif uid not in self.starting and pod.get("status", {}).get("phase") == "Pending" and \
                pod["status"].get("podIP"):
            self.starting.add(uid)
            self.at(float(self.config.get("pod_start_delay", 0.5)) / 2, self.run_containers,
                    m["namespace"], m["name"], uid)
        self._owner(pod)

    def retry_unscheduled(self):
        """A node appeared or changed: schedule what was unschedulable, start what waited for it."""
        for p in self.store.items("pods"):
            if p["metadata"].get("deletionTimestamp"):
                continue
            if not p.get("spec", {}).get("nodeName") or not p.get("status", {}).get("containerStatuses"):
                self._on_pod("MODIFIED", None, p)

    def schedule(self, pod):
        nodes = sorted(self.store.items("nodes"), key=lambda n: n["metadata"]["name"])
        sel = pod.get("spec", {}).get("nodeSelector") or {}
        fit = []
        for n in nodes:
            labels = n["metadata"].get("labels") or {}
            if n.get("spec", {}).get("unschedulable"):
                continue
            if any(labels.get(k) != v for k, v in sel.items()):
                continue
            if not _affinity_ok(pod.get("spec", {}), labels):
                continue
            taints = [t for t in n.get("spec", {}).get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
            if any(not _tolerates(pod, t) for t in taints):
                continue
            fit.append(n)
        m = pod["metadata"]
        if not fit:
            msg = f"0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match Pod's node affinity/selector."

            def unsched(p):
                conds = p.setdefault("status", {}).setdefault("conditions", [])
                _set_cond(conds, "PodScheduled", "False", "Unschedulable", msg)
                return p
            self._mutate(PODS, m["namespace"], m["name"], m.get("uid"), unsched)
            return
        node = fit[self.rr % len(fit)]
        self.rr += 1
        nname = node["metadata"]["name"]

        def bind(p):
            if p.get("spec", {}).get("nodeName") or p["metadata"].get("deletionTimestamp"):
                return None
            p["spec"]["nodeName"] = nname
            conds = p.setdefault("status", {}).setdefault("conditions", [])
            _set_cond(conds, "PodScheduled", "True")
            return p
        bound = self._mutate(PODS, m["namespace"], m["name"], m.get("uid"), bind)
        if bound is not None and bound["spec"].get("nodeName") == nname:
            self.event(bound, "Scheduled", f"Successfully assigned {m['namespace']}/{m['name']} to {nname}",
                       component="default-scheduler")

    # -------------------------------------------------------- CNI + kubelet

    def _node_ip(self, nname):
        n = self.store.get("nodes", "", nname)
        for a in (n or {}).get("status", {}).get("addresses", []) or []:
            if a.get("type") == "InternalIP":
                return a.get("address")
        return ""

    def sandbox(self, ns, name, uid, run_delay):
        pod = self.store.get("pods", ns, name)
        if pod is None or pod["metadata"].get("uid") != uid or pod["metadata"].get("deletionTimestamp"):
            self.starting.discard(uid)
            return
        node = pod["spec"]["nodeName"]
        host_ip = self._node_ip(node)
        nobj = self.store.get("nodes", "", node) or {}
        virtual = (nobj.get("metadata", {}).get("labels") or {}).get("type") == "virtual-kubelet"
        if pod["spec"].get("hostNetwork") and not virtual:
            ip = host_ip
        else:
            try:
                ip, _eni = self.cloud.allocate_pod_ip(node)
                if virtual:
                    host_ip = ip  # an ECI instance is its own host
            except Exception as e:  # the CNI failing: retry with backoff like the kubelet does
                n = self.sandbox_failures.get(uid, 0)
                self.sandbox_failures[uid] = n + 1
                if n == 0 or n % 5 == 0:
                    self.event(pod, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}", "Warning",
                               host=node)
                self.at(min(30.0, 0.5 * 2 ** n), self.sandbox, ns, name, uid, run_delay)
                return
            self.sandbox_failures.pop(uid, None)
        containers = pod["spec"].get("containers", [])

        def set_ip(p):
            st = p.setdefault("status", {})
            st["phase"] = "Pending"
            st["hostIP"] = host_ip
            st["hostIPs"] = [{"ip": host_ip}]
            st["podIP"] = ip
            st["podIPs"] = [{"ip": ip}]
            st["startTime"] = now_iso()
            st.setdefault("qosClass", "BestEffort")
            conds = st.setdefault("conditions", [])
            _set_cond(conds, "PodReadyToStartContainers", "True")
            _set_cond(conds, "Initialized", "True")
            _set_cond(conds, "PodScheduled", "True")
            st["containerStatuses"] = [{
                "name": c.get("name"), "image": c.get("image"), "imageID": "", "ready": False,
                "started": False, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}
                for c in containers]
            return p
        out = self._mutate(PODS, ns, name, uid, set_ip)
        if out is None or out["metadata"].get("deletionTimestamp") or out.get("status", {}).get("podIP") != ip:
            if not pod["spec"].get("hostNetwork"):
                self._release_ip(ip)
            self.starting.discard(uid)
            return
        self.at(run_delay, self.run_containers, ns, name, uid)

    def run_containers(self, ns, name, uid):
        self.starting.discard(uid)

        def run(p):
            if p["metadata"].get("deletionTimestamp"):
                return None
            st = p["status"]
            st["phase"] = "Running"
            now = now_iso()
            st["containerStatuses"] = [{
                "name": c.get("name"), "image": c.get("image"),
                "imageID": f"docker.io/library/{c.get('image')}@sha256:{_hash(c.get('image'), 16)}",
                "containerID": f"containerd://{uuid.uuid4().hex}{uuid.uuid4().hex}", "ready": True,
                "started": True, "restartCount": 0, "state": {"running": {"startedAt": now}}, "lastState": {}}
                for c in p["spec"].get("containers", [])]
            return p
        out = self._mutate(PODS, ns, name, uid, run)
        if out is not None and out["status"].get("phase") == "Running":
            self.event(out, "Started", f"Started container {out['spec']['containers'][0].get('name')}",
                       host=out["spec"].get("nodeName"))

    def set_pod_state(self, ns, name, phase=None, containers_ready=None):
        """Test hook (/__sim/kubelet): make a pod's containers (un)ready or finish it."""
        def f(p):
            st = p.setdefault("status", {})
            if phase:
                st["phase"] = phase
                if phase in ("Succeeded", "Failed"):
                    for c in st.get("containerStatuses") or []:
                        c["ready"] = False
                        c["state"] = {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1,
                                                     "reason": "Completed" if phase == "Succeeded" else "Error",
                                                     "finishedAt": now_iso()}}
            if containers_ready is not None:
                for c in st.get("containerStatuses") or []:
                    c["ready"] = bool(containers_ready)
            return p
        return self._mutate(PODS, ns, name, None, f)

    def kill(self, ns, name, uid):
        self.killing.discard(uid)
        pod = self.store.get("pods", ns, name)
        if pod is None or pod["metadata"].get("uid") != uid:
            return

        def stop(p):
            st = p.setdefault("status", {})
            for c in st.get("containerStatuses") or []:
                if "running" in c.get("state", {}):
                    c["ready"] = False
                    c["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now_iso()}}
            return p
        if pod.get("spec", {}).get("nodeName"):
            self.event(pod, "Killing", f"Stopping container {pod['spec']['containers'][0].get('name')}",
                       host=pod["spec"]["nodeName"])
        self._mutate(PODS, ns, name, uid, stop)
        with self.store.lock:
            cur = self.store.get("pods", ns, name)
            if cur is None or cur["metadata"].get("uid") != uid:
                return
            if cur["metadata"].get("finalizers"):
                new = deepcopy(cur)
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if new != cur:
                    self.store.commit(PODS, "MODIFIED", cur, new)
            else:
                self.store.commit(PODS, "DELETED", cur, None)

    def _release(self, pod):
        st, spec = pod.get("status", {}), pod.get("spec", {})
        if st.get("podIP") and (not spec.get("hostNetwork") or st.get("podIP") == st.get("hostIP") and
                                st.get("podIP") != self._node_ip(spec.get("nodeName", ""))):
            self._release_ip(st["podIP"])

    def _release_ip(self, ip):
        try:
            self.cloud.release_pod_ip(ip)
        except Exception:
            traceback.print_exc()

    # -------------------------------------------------------- workloads

    def _pod_from_template(self, owner, tmpl, name=None, generate=None, extra_labels=None):
        tm = deepcopy(tmpl.get("metadata") or {})
        labels = dict(tm.get("labels") or {})
        labels.update(extra_labels or {})
        meta = {"labels": labels, "namespace": owner["metadata"]["namespace"],
                "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                     "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                     "controller": True, "blockOwnerDeletion": True}]}
        if tm.get("annotations"):
            meta["annotations"] = tm["annotations"]
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = generate
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": deepcopy(tmpl.get("spec") or {})}

    def _owned(self, key, owner):
        uid = owner["metadata"]["uid"]
        out = []
        with self.store.lock:
            deps = list(self.dependents.get(uid, ()))
        for k, ns, name in deps:
            if k != key:
                continue
            o = self.store.get(k, ns, name)
            if o is not None and any(r.get("uid") == uid and r.get("controller")
                                     for r in o["metadata"].get("ownerReferences") or []):
                out.append(o)
        return out

    def _set_status(self, res, obj, status):
        def f(o):
            st = dict(o.get("status") or {})
            st.update(status)
            o["status"] = st
            return o
        m = obj["metadata"]
        self._mutate(res, m["namespace"], m["name"], m["uid"], f)

    def reconcile_deploy(self, ns, name):
        d = self.store.get(DEPLOY.key, ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        spec = d.get("spec", {})
        replicas = int(spec.get("replicas", 1))
        tmpl = spec.get("template") or {}
        h = _hash(tmpl)
        rs_name = f"{name}-{h}"
        rss = self._owned(RS.key, d)
        cur = next((r for r in rss if r["metadata"]["name"] == rs_name), None)
        if cur is None:
            t = deepcopy(tmpl)
            t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            sel = deepcopy(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": rs_name, "namespace": ns,
                               "labels": dict(t["metadata"]["labels"]),
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                    "uid": d["metadata"]["uid"], "controller": True,
                                                    "blockOwnerDeletion": True}]},
                  "spec": {"replicas": replicas, "selector": sel, "template": t}}
            try:
                self.reg.create(RS, ns, rs)
            except ApiError:
                pass
        elif int(cur.get("spec", {}).get("replicas", 1)) != replicas:
            self._mutate(RS, ns, rs_name, cur["metadata"]["uid"],
                         lambda o: (o["spec"].__setitem__("replicas", replicas), o)[1])
        for r in rss:
            if r["metadata"]["name"] != rs_name and int(r.get("spec", {}).get("replicas", 0)) != 0:
                self._mutate(RS, ns, r["metadata"]["name"], r["metadata"]["uid"],
                             lambda o: (o["spec"].__setitem__("replicas", 0), o)[1])
        rss = self._owned(RS.key, d)
        total = sum(int(r.get("status", {}).get("replicas", 0)) for r in rss)
        ready = sum(int(r.get("status", {}).get("readyReplicas", 0)) for r in rss)
        upd = next((r for r in rss if r["metadata"]["name"] == rs_name), None)
        updated = int((upd or {}).get("status", {}).get("replicas", 0))
        st = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": total,
              "readyReplicas": ready, "availableReplicas": ready, "updatedReplicas": updated}
        if total - ready:
            st["unavailableReplicas"] = total - ready
        self._set_status(DEPLOY, d, st)

    def reconcile_rs(self, ns, name):
        rs = self.store.get(RS.key, ns, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        replicas = int(rs.get("spec", {}).get("replicas", 1))
        pods = [p for p in self._owned("pods", rs) if not p["metadata"].get("deletionTimestamp")]
        if len(pods) < replicas:
            for _ in range(replicas - len(pods)):
                try:
                    self.reg.create(PODS, ns, self._pod_from_template(rs, rs["spec"].get("template") or {},
                                                                      generate=f"{name}-"))
                except ApiError:
                    pass
        elif len(pods) > replicas:
            pods.sort(key=lambda p: (pod_ready(p), p["metadata"].get("creationTimestamp", "")))
            for p in pods[:len(pods) - replicas]:
                try:
                    self.reg.delete(PODS, ns, p["metadata"]["name"])
                except ApiError:
                    pass
        pods = [p for p in self._owned("pods", rs) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        self._set_status(RS, rs, {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
                                  "fullyLabeledReplicas": len(pods),
                                  "observedGeneration": rs["metadata"].get("generation", 1)})

    def reconcile_sts(self, ns, name):
        s = self.store.get(STS.key, ns, name)
        if s is None or s["metadata"].get("deletionTimestamp"):
            return
        spec = s.get("spec", {})
        replicas = int(spec.get("replicas", 1))
        parallel = spec.get("podManagementPolicy") == "Parallel"
        tmpl = spec.get("template") or {}
        rev = f"{name}-{_hash(tmpl)}"
        for i in range(replicas):
            pname = f"{name}-{i}"
            p = self.store.get("pods", ns, pname)
            if p is None:
                pod = self._pod_from_template(s, tmpl, name=pname, extra_labels={
                    "statefulset.kubernetes.io/pod-name": pname, "apps.kubernetes.io/pod-index": str(i),
                    "controller-revision-hash": rev})
                pod["spec"]["hostname"] = pname
                if spec.get("serviceName"):
                    pod["spec"]["subdomain"] = spec["serviceName"]
                try:
                    self.reg.create(PODS, ns, pod)
                except ApiError:
                    pass
                if not parallel:
                    break
            elif not parallel and (p["metadata"].get("deletionTimestamp") or not pod_ready(p)):
                break
        owned = self._owned("pods", s)
        extra = sorted((p for p in owned if not p["metadata"].get("deletionTimestamp") and
                        p["metadata"]["name"].rsplit("-", 1)[-1].isdigit() and
                        int(p["metadata"]["name"].rsplit("-", 1)[-1]) >= replicas),
                       key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[-1]))
        for p in extra[:None if parallel else 1]:
            try:
                self.reg.delete(PODS, ns, p["metadata"]["name"])
            except ApiError:
                pass
        owned = [p for p in self._owned("pods", s) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in owned if pod_ready(p))
        self._set_status(STS, s, {"observedGeneration": s["metadata"].get("generation", 1),
                                  "replicas": len(owned), "readyReplicas": ready, "availableReplicas": ready,
                                  "currentReplicas": len(owned), "updatedReplicas": len(owned),
                                  "currentRevision": rev, "updateRevision": rev})

    def expire_events(self):
        """Events live for the API server's --event-ttl (1 h by default)."""
        ttl = self.config.get("event_ttl_seconds")
        if ttl:
            limit = time.time() - float(ttl)
            for e in self.store.items("events"):
                t = parse_iso(e["metadata"].get("creationTimestamp", ""))
                if t is not None and t < limit:
                    try:
                        self.reg.delete(EVENTS, e["metadata"]["namespace"], e["metadata"]["name"])
                    except ApiError:
                        pass
        self.at(min(10.0, float(ttl or 10) / 2), self.expire_events)

    def _fits(self, pod_spec, node):
        labels = node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
            return False
        if not _affinity_ok(pod_spec, labels):
            return False
        pod = {"spec": pod_spec}
        return all(_tolerates(pod, t) for t in node.get("spec", {}).get("taints") or []
                   if t.get("effect") in ("NoSchedule", "NoExecute"))

    def reconcile_ds(self, ns, name):
        """One pod per fitting node, bound directly (the DaemonSet controller sets node affinity;
        here the pod is created with spec.nodeName)."""
        d = self.store.get(DS.key, ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        tmpl = d.get("spec", {}).get("template") or {}
        rev = _hash(tmpl)
        owned = [p for p in self._owned("pods", d) if not p["metadata"].get("deletionTimestamp")]
        by_node = {}
        for p in sorted(owned, key=lambda p: p["metadata"].get("creationTimestamp", "")):
            if p["spec"].get("nodeName") in by_node:  # a duplicate: keep the oldest
                try:
                    self.reg.delete(PODS, ns, p["metadata"]["name"])
                except ApiError:
                    pass
            else:
                by_node[p["spec"].get("nodeName")] = p
        nodes = [n for n in self.store.items("nodes") if self._fits(tmpl.get("spec") or {}, n)]
        for n in nodes:
            nname = n["metadata"]["name"]
            if nname in by_node:
                continue
            pod = self._pod_from_template(d, tmpl, generate=f"{name}-",
                                          extra_labels={"controller-revision-hash": rev,
                                                        "pod-template-generation": str(
                                                            d["metadata"].get("generation", 1))})
            pod["spec"]["nodeName"] = nname
            try:
                self.reg.create(PODS, ns, pod)
            except ApiError:
                pass
        names = {n["metadata"]["name"] for n in nodes}
        for nname, p in by_node.items():
            if nname not in names:
                try:
                    self.reg.delete(PODS, ns, p["metadata"]["name"])
                except ApiError:
                    pass
        owned = [p for p in self._owned("pods", d) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in owned if pod_ready(p))
        self._set_status(DS, d, {"desiredNumberScheduled": len(nodes), "currentNumberScheduled": len(owned),
                                 "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": len(owned),
                                 "numberMisscheduled": 0,
                                 "observedGeneration": d["metadata"].get("generation", 1)})

    # -------------------------------------------------------- namespaces

    def finalize_ns(self, ns):
        nsobj = self.store.get("namespaces", "", ns)
        if nsobj is None or not nsobj["metadata"].get("deletionTimestamp"):
            return
        left = 0
        with self.store.lock:
            todo = [(self._res(key), [o for (n, _), o in objs.items() if n == ns])
                    for key, objs in self.store.objs.items()]
        for res, objs in todo:
            if res is None or not res.namespaced:
                continue
            for o in objs:
                left += 1
                if o["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.reg.delete(res, ns, o["metadata"]["name"])
                except ApiError:
                    pass
        if left:
            self.at(0.2, self.finalize_ns, ns)
            return
        with self.store.lock:
            cur = self.store.get("namespaces", "", ns)
            if cur is not None and cur["metadata"].get("deletionTimestamp"):
                self.store.commit(NAMESPACES, "DELETED", cur, None)


def _vk_ip(name):
    """A virtual node has no ECS instance: its address stands for the virtual-kubelet."""
    return f"127.0.8.{int(hashlib.sha256(name.encode()).hexdigest(), 16) % 250 + 2}"


def node_object(name, info, pod_cidr=None, virtual=False):
    """A Node as the kubelet (or virtual-kubelet) registers it; info from Cloud.add_node."""
    region = info.get("region_id", "cn-hangzhou")
    zone = info.get("zone_id", region + "-k")
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
              "topology.kubernetes.io/region": region, "topology.kubernetes.io/zone": zone,
              "failure-domain.beta.kubernetes.io/region": region, "failure-domain.beta.kubernetes.io/zone": zone,
              "node.kubernetes.io/instance-type": info.get("instance_type", "ecs.g7.large")}
    spec = {"providerID": f"{region}.{info.get('instance_id', name)}"}
    if virtual:
        labels["type"] = "virtual-kubelet"
        spec["taints"] = [{"key": "virtual-kubelet.io/provider", "value": "alibabacloud", "effect": "NoSchedule"}]
    if pod_cidr:
        spec["podCIDR"] = pod_cidr
        spec["podCIDRs"] = [pod_cidr]
    now = now_iso()
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": spec,
            "status": {"addresses": [{"type": "InternalIP", "address": info.get("private_ip") or _vk_ip(name)},
                                     {"type": "Hostname", "address": name}],
                       "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": "1900m", "memory": "7Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       "lastHeartbeatTime": now, "lastTransitionTime": now}],
                       "nodeInfo": {"kubeletVersion": "v1.32.4-sim", "kubeProxyVersion": "v1.32.4-sim",
                                    "osImage": "Alibaba Cloud Linux 3 (sim)", "kernelVersion": "5.10.134-sim",
                                    "containerRuntimeVersion": "containerd://1.6.28", "operatingSystem": "linux",
                                    "architecture": "amd64", "machineID": info.get("instance_id", name),
                                    "systemUUID": info.get("instance_id", name), "bootID": name}}}
