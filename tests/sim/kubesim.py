# SPDX-License-Identifier: MIT
"""A faithful simulated Kubernetes API server (HTTPS, bearer tokens, RBAC,
list/watch with resourceVersions, bookmarks and 410 Expired, patches, status
subresources) that also plays scheduler, CNI and kubelet. Standard library
only; see docs/simulators.md for the /__sim admin API.

    sim = KubeSim(state_dir, cloud=cloud)      # cloud: cloudsim.Cloud or None
    port = sim.start()                         # https://127.0.0.1:port
    sim.add_node("node-1", cloud.add_node("node-1"))
    ...
    sim.stop()
"""
import collections
import gzip
import ipaddress
import json
import os
import random
import re
import secrets
import select
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubesim_crd  # noqa: E402
import kubesim_openapi  # noqa: E402
import kubesim_proto  # noqa: E402
import kubesim_schema  # noqa: E402
import kubesim_types  # noqa: E402
import simtls  # noqa: E402
from kubesim_controllers import Controllers, node_object  # noqa: E402
from kubesim_core import (ApiError, bad_request, deepcopy, dumps, invalid_kind, json_patch,  # noqa: E402
                          JsonPatchError, merge_patch, now_iso, parse_field_selector, parse_label_selector,
                          strategic_merge_patch)
from kubesim_resources import (BY_KEY, SCALABLE, Catalog, event_from_v1, event_to_v1, table,  # noqa: E402
                               wants_table)
from kubesim_store import Authorizer, Registry, Store, Watcher  # noqa: E402

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.4-sim", "gitCommit": "0000000000000000000000000000000000000000",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.6",
           "compiler": "gc", "platform": "linux/amd64", "emulationMajor": "1", "emulationMinor": "32",
           "minCompatibilityMajor": "1", "minCompatibilityMinor": "31"}
GZIP_THRESHOLD = 128 * 1024
PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}
# Registries with ReturnDeletedObject: a delete answers with the object, others with a Status
# (custom resources always answer with the object).
RETURN_DELETED_OBJECT = {"pods", "serviceaccounts", "namespaces", "services"}
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
# metav1.MicroTime fields: decoded with RFC3339Micro exactly (6 fractional digits)
MICRO_TIME_FIELDS = {"leases.coordination.k8s.io": (("spec", "acquireTime"), ("spec", "renewTime")),
                     "events": (("eventTime",), ("series", "lastObservedTime"))}
MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")
AGENT_USER = "system:serviceaccount:kube-system:eip-agent"
DEFAULT_CONFIG = {"bookmark_interval": 60.0, "pod_start_delay": 0.5, "pod_stop_delay": None,
                  "pod_gc_delay": 2.0,
                  "history_size": 1000, "watch_max_seconds": 1800.0, "event_ttl_seconds": 3600.0,
                  "rv_wait_seconds": 3.0}


class FallbackCloud:
    """Pod IPs from a CIDR when no cloud simulator is given."""

    def __init__(self, pod_cidr="127.0.10.0/24"):
        self.lock = threading.RLock()
        self.free = [str(ip) for ip in ipaddress.ip_network(pod_cidr).hosts()]
        self.used = set()
        self.n = 0

    def add_node(self, name):
        with self.lock:
            self.n += 1
            n = self.n
        return {"instance_id": f"i-sim{n:012d}", "eni_id": f"eni-sim{n:012d}", "mac": f"00:16:3e:00:00:{n:02x}",
                "private_ip": f"127.0.1.{n}", "zone_id": "cn-hangzhou-k", "vswitch_id": "vsw-sim0001",
                "ram_role": "eip-agent-role"}

    add_virtual_node = add_node

    def allocate_pod_ip(self, node):
        with self.lock:
            for ip in self.free:
                if ip not in self.used:
                    self.used.add(ip)
                    return ip, "eni-fallback"
        raise RuntimeError("no free pod IP")

    def release_pod_ip(self, ip):
        with self.lock:
            self.used.discard(ip)

    def reserve(self, ip):
        with self.lock:
            self.used.add(ip)


def _first(q):
    return {k: v[-1] for k, v in q.items()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, sim):
        self.sim = sim
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = super().get_request()
        # headers and body go out in separate writes: without TCP_NODELAY, Nagle and the
        # peer's delayed ACK add ~40 ms per response (Go servers set it too)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.sim.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass

    def close_all(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                socket.socket.shutdown(c, socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    sys_version = ""

    def setup(self):
        self.request.settimeout(10)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            self.close_connection = True
            raise
        self.request.settimeout(None)
        with self.server.conns_lock:
            self.server.conns.add(self.request)
        super().setup()

    def finish(self):
        with self.server.conns_lock:
            self.server.conns.discard(self.request)
        try:
            super().finish()
        except OSError:
            pass

    def handle(self):
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            pass

    def log_message(self, *args):
        pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = lambda self: self.sim.handle(self)

    @property
    def sim(self):
        return self.server.sim

    # -------------------------------------------------------- I/O helpers

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(3)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, obj, headers=None, ctype="application/json"):
        data = (obj if isinstance(obj, bytes) else dumps(obj).encode()) if obj is not None else b""
        self.call["status"] = code
        self.sim.log_call(self.call)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if len(data) >= GZIP_THRESHOLD and "gzip" in self.headers.get("Accept-Encoding", ""):
            # the API server compresses large non-streaming responses (APIResponseCompression)
            data = gzip.compress(data, 1)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        if "Cache-Control" not in (headers or {}):
            self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", self.call["audit_id"])
        for w in getattr(self, "warnings", ()):
            # the apiserver's warning header: 299 - "text" (quotes and backslashes escaped)
            self.send_header("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_status(self, err):
        self.send_json(err.code, err.status(), err.headers)

    def start_chunked(self):
        self.streaming = True
        self.call["status"] = 200
        self.sim.log_call(self.call)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Audit-Id", self.call["audit_id"])
        self.end_headers()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")


class KubeSim:
    def __init__(self, state_dir, cloud=None, tls_dir=None, config=None, pod_cidr="127.0.10.0/24", seed=None):
        self.dir = os.path.abspath(state_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.tls_dir = tls_dir or os.path.join(self.dir, "tls")
        self.ssl_ctx = simtls.server_context(self.tls_dir, "kube-apiserver")
        self.ca_file = os.path.join(self.tls_dir, "ca.crt")
        self.config = dict(DEFAULT_CONFIG)
        self.config.update(config or {})
        self.store = Store(os.path.join(self.dir, "kube-state.json"), int(self.config["history_size"]))
        self.catalog = Catalog()
        self.store.listeners.append(self._on_event)
        # every random draw (fault injection, generateName) comes from here: --seed replays a run
        self.rng = random.Random(seed)
        self.reg = Registry(self.store, self.rng)
        self.authz = Authorizer(self.store)
        self.cloud = cloud if cloud is not None else FallbackCloud(pod_cidr)
        self.ctrl = Controllers(self.store, self.reg, self.cloud, self.config)
        self.ctrl.catalog = self.catalog
        self.faults = {}
        self.faults_lock = threading.Lock()
        self.unhang = threading.Event()
        self.calls = collections.deque(maxlen=200000)
        self.calls_base = 0
        self.calls_lock = threading.Lock()
        self.server = None
        self.thread = None
        self.host, self.port = "127.0.0.1", 0
        self.stopping = threading.Event()
        self.token_files = {}
        self._load_tokens()
        for crd in self.store.items(kubesim_crd.CRD_KEY):
            self._serve_crd(crd)
        self._bootstrap()
        if hasattr(self.cloud, "reserve"):
            for p in self.store.items("pods"):
                if p.get("status", {}).get("podIP") and not p.get("spec", {}).get("hostNetwork"):
                    self.cloud.reserve(p["status"]["podIP"])

    # -------------------------------------------------------- setup

    def _load_tokens(self):
        path = os.path.join(self.dir, "kube-tokens.json")
        self.tokens_path = path
        if os.path.exists(path):
            with open(path) as f:
                d = json.load(f)
        else:
            d = {"principals": {
                "admin": {"user": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"],
                          "token": "admin-" + secrets.token_hex(16)},
                "agent": {"user": AGENT_USER, "groups": ["system:serviceaccounts",
                                                         "system:serviceaccounts:kube-system",
                                                         "system:authenticated"],
                          "token": "agent-" + secrets.token_hex(16)},
                "viewer": {"user": "viewer", "groups": ["system:authenticated"],
                           "token": "viewer-" + secrets.token_hex(16)}}}
        self.principals = d["principals"]
        self.grace_tokens = {}  # token -> (principal, until)
        self._save_tokens()

    def _save_tokens(self):
        tmp = self.tokens_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"principals": self.principals}, f, indent=1)
        os.replace(tmp, self.tokens_path)

    def token(self, principal="admin"):
        return self.principals[principal]["token"]

    def set_token_file(self, principal, path):
        """rotate-token also rewrites this file (a projected service account token)."""
        self.token_files[principal] = path
        with open(path, "w") as f:
            f.write(self.principals[principal]["token"])

    def rotate_token(self, principal="agent", token=None, grace=0.0):
        p = self.principals[principal]
        old = p["token"]
        p["token"] = token or f"{principal}-" + secrets.token_hex(16)
        if grace > 0:
            self.grace_tokens[old] = (principal, time.time() + grace)
        self._save_tokens()
        if principal in self.token_files:
            tmp = self.token_files[principal] + ".tmp"
            with open(tmp, "w") as f:
                f.write(p["token"])
            os.replace(tmp, self.token_files[principal])
        return p["token"], old

    def authenticate(self, token):
        for name, p in self.principals.items():
            if secrets.compare_digest(p["token"], token):
                return p["user"], p["groups"]
        g = self.grace_tokens.get(token)
        if g and g[1] > time.time():
            p = self.principals[g[0]]
            return p["user"], p["groups"]
        return None

    def _bootstrap(self):
        ns_res = BY_KEY["namespaces"]
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if self.store.get("namespaces", "", ns) is None:
                self.reg.create(ns_res, "", {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}})

    # -------------------------------------------------------- custom resource definitions

    def _on_event(self, ev):
        """Store listener (under the store lock): a CRD change changes what is served."""
        if ev.key != kubesim_crd.CRD_KEY:
            return
        if ev.type == "DELETED":
            gone = self.catalog.drop_crd(ev.old["metadata"]["name"])
            keys = {r.key for r in gone}
            for w in list(self.store.watchers):
                if w.res.key in keys:
                    w.close()  # the CRD's handler is gone: its watches end
        else:
            self._serve_crd(ev.new)

    def _serve_crd(self, crd):
        if kubesim_crd.is_established(crd):
            self.catalog.set_crd(crd["metadata"]["name"], kubesim_crd.resources_for(crd))
        else:
            self.catalog.drop_crd(crd["metadata"]["name"])

    def establish_crd(self, name):
        """The naming and establishing controllers, at once: names accepted, Established."""
        crd_res = BY_KEY[kubesim_crd.CRD_KEY]
        with self.store.lock:
            cur = self.store.get(crd_res.key, "", name)
            if cur is None or kubesim_crd.is_terminating(cur):
                return cur
            new = deepcopy(cur)
            new["status"] = kubesim_crd.established_status(cur)
            if new == cur:
                return cur
            return self.store.commit(crd_res, "MODIFIED", cur, new)

    def install_crd(self, crd):
        """Creates the CRD (or updates its spec, as kubectl apply would) and establishes it."""
        crd_res = BY_KEY[kubesim_crd.CRD_KEY]
        name = crd["metadata"]["name"]
        with self.store.lock:
            cur = self.store.get(crd_res.key, "", name)
            if cur is None:
                self.reg.create(crd_res, "", crd)
            else:
                body = deepcopy(cur)
                body["spec"] = deepcopy(crd["spec"])
                kubesim_crd.apply_defaults(body)
                self.reg.update(crd_res, "", name, body)
            return self.establish_crd(name)

    def delete_crd(self, name):
        """The CRD finalizer: Terminating, every instance deleted (instances with finalizers
        of their own wait for them), then the CRD itself."""
        crd_res = BY_KEY[kubesim_crd.CRD_KEY]
        with self.store.lock:
            cur = self.store.get(crd_res.key, "", name)
            if cur is None:
                return
            res = self.catalog.by_key.get(f'{cur["spec"]["names"]["plural"]}.{cur["spec"]["group"]}')
            left = []
            if res is not None and res.custom:
                for o in self.store.items(res.key):
                    try:
                        _, gone = self.reg.delete(res, o["metadata"].get("namespace", ""), o["metadata"]["name"])
                    except ApiError:
                        gone = False
                    if not gone:
                        left.append(o)
            if left:
                new = deepcopy(cur)
                new["status"] = kubesim_crd.terminating_status(cur, "InstanceDeletionInProgress",
                                                               "CustomResource deletion is in progress")
                if new != cur:
                    self.store.commit(crd_res, "MODIFIED", cur, new)
                self.ctrl.at(0.2, self.delete_crd, name)
                return
            new = deepcopy(cur)
            new["metadata"]["finalizers"] = [f for f in cur["metadata"].get("finalizers") or []
                                             if f != kubesim_crd.CLEANUP_FINALIZER]
            new["status"] = kubesim_crd.terminating_status(cur, "InstanceDeletionCompleted", "removed all instances")
            if new["metadata"]["finalizers"]:
                if new != cur:
                    self.store.commit(crd_res, "MODIFIED", cur, new)
            else:
                self.store.commit(crd_res, "DELETED", cur, None)

    def load_objects(self, objs):
        """Creates (or replaces) objects such as RBAC rules given to --rbac."""
        for o in objs:
            if o.get("kind", "").endswith("List") and isinstance(o.get("items"), list):
                self.load_objects(o["items"])
                continue
            av = o.get("apiVersion", "v1")
            g, _, v = av.rpartition("/")
            res = self.catalog.find_kind(g, v, o.get("kind"))
            if res is None:
                raise ValueError(f"unknown kind {av} {o.get('kind')}")
            ns = o.get("metadata", {}).get("namespace") or ("default" if res.namespaced else "")
            if res.namespaced and self.store.get("namespaces", "", ns) is None:
                self.reg.create(BY_KEY["namespaces"], "", {"metadata": {"name": ns}})
            if self.store.get(res.key, ns, o["metadata"]["name"]) is None:
                self.reg.create(res, ns, o)
            else:
                body = deepcopy(o)
                body["metadata"].pop("resourceVersion", None)
                self.reg.update(res, ns, o["metadata"]["name"], body)

    def add_node(self, name, info=None, virtual=False, labels=None):
        if info is None:
            info = self.cloud.add_virtual_node(name) if virtual else self.cloud.add_node(name)
        node = node_object(name, info, virtual=virtual)
        if labels:
            node["metadata"]["labels"].update(labels)
        if self.store.get("nodes", "", name) is None:
            self.reg.create(BY_KEY["nodes"], "", node)
        return info

    # -------------------------------------------------------- lifecycle

    def start(self, host="127.0.0.1", port=0):
        self.host = host
        self.server = _Server((host, port), Handler, self)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="kubesim-http", daemon=True)
        self.thread.start()
        if not self.ctrl.thread:
            self.ctrl.start()
            self._saver = threading.Thread(target=self._save_loop, name="kubesim-save", daemon=True)
            self._saver.start()
            self._dropper = threading.Thread(target=self._drop_loop, name="kubesim-drop", daemon=True)
            self._dropper.start()
        return self.port

    def _stop_http(self):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        with self.store.lock:
            watchers = list(self.store.watchers)
        for w in watchers:
            w.close(abrupt=True)
        self.unhang.set()
        self.server.close_all()
        self.server = None

    def stop(self):
        self.stopping.set()
        self._stop_http()
        self.ctrl.stop()
        self.store.save(clean=True)
        if hasattr(self.cloud, "save"):
            try:
                self.cloud.save()
            except Exception:
                pass

    def restart(self, down_seconds=0.0):
        """An API server restart: connections and watches drop, the watch cache starts
        again at the current resourceVersion, state and resourceVersions are kept."""
        self._stop_http()
        self.store.save(clean=True)
        self.store.reset_history()
        time.sleep(down_seconds)
        self.unhang.clear()
        for _ in range(50):
            try:
                self.start(self.host, self.port)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("could not rebind the API server port")

    def _save_loop(self):
        while not self.stopping.wait(0.25):
            if self.store.dirty:
                try:
                    self.store.save()
                except Exception:
                    traceback.print_exc()

    def _drop_loop(self):
        last = time.monotonic()
        while not self.stopping.wait(0.05):
            every = self.faults.get("drop_watches_every")
            if not every:
                last = time.monotonic()
                continue
            if time.monotonic() - last >= float(every):
                last = time.monotonic()
                self.drop_watches()

    def drop_watches(self, clean=False):
        with self.store.lock:
            watchers = list(self.store.watchers)
        for w in watchers:
            w.close(abrupt=not clean)
        return len(watchers)

    # -------------------------------------------------------- calls log

    def log_call(self, call):
        if call.get("_logged"):
            return
        call["_logged"] = True
        call["duration_ms"] = round((time.time() - call["time"]) * 1000, 1)
        with self.calls_lock:
            self.calls.append(call)

    def get_calls(self, since=0):
        with self.calls_lock:
            out = []
            for i, c in enumerate(self.calls):
                idx = self.calls_base + i
                if idx >= since:
                    d = {k: v for k, v in c.items() if not k.startswith("_")}
                    d["index"] = idx
                    out.append(d)
            return out, self.calls_base + len(self.calls)

    def clear_calls(self):
        with self.calls_lock:
            self.calls_base += len(self.calls)
            self.calls.clear()

    # -------------------------------------------------------- request handling

    def handle(self, h):
        url = urlsplit(h.path)
        path = unquote(url.path).rstrip("/") or "/"
        q = _first(parse_qs(url.query, keep_blank_values=True))
        h.streaming = False
        h.warnings = []
        h.dups = []
        h.call = {"time": time.time(), "method": h.command, "path": path, "query": url.query, "verb": "",
                  "content_type": h.headers.get("Content-Type", ""), "accept": h.headers.get("Accept", ""),
                  "user_agent": h.headers.get("User-Agent", ""), "status": 0, "user": "",
                  "audit_id": secrets.token_hex(8), "remote": h.client_address[0]}
        try:
            raw = h.read_body()
        except (OSError, ValueError):
            h.close_connection = True
            return
        try:
            if path.startswith("/__sim"):
                return self.admin(h, path, q, raw)
            auth = h.headers.get("Authorization", "")
            ident = None
            if auth.lower().startswith("bearer "):
                ident = self.authenticate(auth[7:].strip())
                if ident is None:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
            elif path not in PUBLIC_PATHS:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            user, groups = ident or ("system:anonymous", ["system:unauthenticated"])
            user, groups = self.impersonate(h, user, groups)
            h.call["user"] = user
            h.groups = groups
            route = self.route(h.command, path, q)
            if route is not None:
                res, ns, name, sub, verb = route
                h.call.update({"verb": verb, "resource": res.plural, "group": res.group, "namespace": ns or "",
                               "name": name or "", "subresource": sub or ""})
                if raw and verb in ("create", "update", "patch") and len(raw) <= 65536:
                    try:
                        h.call["body"] = json.loads(raw)
                    except ValueError:
                        pass
            else:
                h.call["verb"] = h.command.lower()
            self.inject_faults(h, path, url.query)
            if route is None:
                return self.serve_nonresource(h, path)
            res, ns, name, sub, verb = route
            authz_ns = ns if res.namespaced else ""
            if not self.authz.allowed(user, groups, verb, res, authz_ns, name, sub):
                raise Authorizer.forbidden(user, verb, res, authz_ns, name, sub)
            self.serve_resource(h, res, ns, name, sub, verb, q, raw)
        except ApiError as e:
            if getattr(h, "streaming", False):
                h.close_connection = True
                return
            try:
                h.send_error_status(e)
            except OSError:
                h.close_connection = True
        except _Abort:
            h.close_connection = True
        except (OSError, ssl.SSLError):
            h.close_connection = True
        except Exception as e:
            traceback.print_exc()
            if getattr(h, "streaming", False):
                h.close_connection = True
                return
            try:
                h.send_error_status(ApiError(500, "InternalError", f"Internal error occurred: {e}"))
            except OSError:
                h.close_connection = True

    def impersonate(self, h, user, groups):
        """Impersonate-User/-Group headers (kubectl --as/--as-group). Only system:masters (or
        anyone while no RBAC binding exists) may impersonate."""
        as_user = h.headers.get("Impersonate-User")
        if not as_user:
            return user, groups
        if "system:masters" not in groups and self.authz.enforcing():
            raise ApiError(403, "Forbidden", f'users "{as_user}" is forbidden: User "{user}" cannot impersonate '
                                             f'resource "users" in API group "" at the cluster scope',
                           {"name": as_user, "kind": "users"})
        as_groups = h.headers.get_all("Impersonate-Group") or []
        if as_user.startswith("system:serviceaccount:") and as_user.count(":") == 3:
            ns = as_user.split(":")[2]
            as_groups += ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
        if as_user != "system:anonymous" and "system:authenticated" not in as_groups:
            as_groups.append("system:authenticated")
        h.call["impersonated_by"] = user
        return as_user, as_groups

    def access_review(self, body, user, groups, self_review):
        """SelfSubjectAccessReview / SubjectAccessReview evaluated against the same RBAC."""
        spec = dict(body.get("spec") or {})
        if not self_review:
            user, groups = spec.get("user", ""), list(spec.get("groups") or [])
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if ra:
            group, plural = ra.get("group", ""), ra.get("resource", "")
            res = next((r for r in self.catalog.by_path.values() if r.group == group and r.plural == plural), None) or \
                type("R", (), {"group": group, "plural": plural})()
            ok = self.authz.allowed(user, groups, ra.get("verb", ""), res, ra.get("namespace", ""),
                                    ra.get("name", ""), ra.get("subresource", ""))
        else:
            ok = bool(nra) and ("system:authenticated" in groups or "system:masters" in groups)
        out = {"apiVersion": "authorization.k8s.io/v1", "kind": body.get("kind") or
               ("SelfSubjectAccessReview" if self_review else "SubjectAccessReview"),
               "metadata": {"creationTimestamp": None}, "spec": spec,
               "status": {"allowed": ok}}
        if ok:
            out["status"]["reason"] = "RBAC: allowed" if self.authz.enforcing() else "no RBAC rules loaded"
        return out

    def inject_faults(self, h, path, query):
        f = self.faults
        if not f:
            return
        target = path + ("?" + query if query else "")
        pat = f.get("paths")
        if pat and not re.search(pat, target):
            return
        verbs = f.get("verbs")
        if verbs and h.call.get("verb") not in verbs:
            return
        if f.get("latency_ms"):
            time.sleep(float(f["latency_ms"]) / 1000.0)
        if f.get("hang"):
            h.call["fault"] = "hang"
            self.unhang.wait(float(f.get("hang_seconds", 3600)))
            if self.faults.get("hang"):
                raise _Abort()
        rate = float(f.get("error_rate") or 0)
        if rate > 0 and self.rng.random() < rate:
            with self.faults_lock:
                if "count" in f:
                    if f["count"] <= 0:
                        return
                    f["count"] -= 1
            code = int(f.get("status", 429))
            h.call["fault"] = f"error {code}"
            headers = {}
            retry_after = f.get("retry_after")
            if retry_after is None and code == 429:
                retry_after = 1  # the API server's max-in-flight and APF rejections always carry one
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                      504: "Timeout"}.get(code, "InternalError")
            msg = {429: "Too many requests, please try again later.", 503: "the server is currently unable to "
                   "handle the request", 500: "Internal error occurred: injected fault",
                   504: "the server was unable to return a response in the time allotted, but may still be "
                   "processing the request"}.get(code, "injected fault")
            det = {}
            if retry_after is not None:
                det["retryAfterSeconds"] = int(retry_after)
            err = ApiError(code, reason, msg, det or None, headers)
            raise err

    def route(self, method, path, q):
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        watch = False
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        ns = None
        by_path = self.catalog.by_path
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in by_path and \
                by_path[(group, version, rest[2])].namespaced:
            ns, rest = rest[1], rest[2:]
        if not rest:
            raise _not_found_path()
        res = by_path.get((group, version, rest[0]))
        if res is None or len(rest) > 3:
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and not ((sub == "status" and res.status) or (sub == "scale" and res.key in SCALABLE) or
                        (sub == "eviction" and res.key == "pods" and method == "POST")):
            raise _not_found_path()
        if res.namespaced and name and ns is None:
            raise _not_found_path()
        if q.get("watch") in ("1", "true", "True"):
            watch = True
        if method in ("GET", "HEAD"):
            verb = "watch" if watch else ("get" if name else "list")
        elif method == "POST":
            if name and sub == "eviction":
                return res, ns, name, sub, "create"
            if name:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                        "resource")
            verb = "create"
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if verb in ("update", "patch") and not name:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if verb == "create" and res.namespaced and ns is None:
            raise _not_found_path()
        return res, ns, name, sub, verb

    def serve_nonresource(self, h, path):
        if path == "/version":
            return h.send_json(200, VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return h.send_json(200, b"ok", ctype="text/plain; charset=utf-8")
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            doc, headers = kubesim_openapi.serve_v3(self.catalog, path, h.path)
            if doc is None:
                raise _not_found_path()
            return h.send_json(200, doc, headers)
        doc = self.catalog.discovery(path)
        if doc is None:
            raise _not_found_path()
        h.send_json(200, doc)

    # -------------------------------------------------------- resources

    def _view_out(self, res, obj):
        if res.group == "events.k8s.io":
            return event_to_v1(obj)
        if res.custom:
            out = kubesim_crd.default_on_read(res, obj)
            if out.get("apiVersion") != res.api_version:
                out = dict(out, apiVersion=res.api_version)  # conversion strategy None
            return out
        return obj

    # -------------------------------------------------------- decoding (fieldValidation)

    @staticmethod
    def _field_validation(q):
        fv = q.get("fieldValidation", "") or "Warn"  # Warn is the default (1.27+)
        return fv if fv in FIELD_VALIDATION else "Warn"

    def _decode(self, res, obj, strict_errs=()):
        """Decoding into the kind's type: unknown fields are dropped (custom resources:
        pruned against the structural schema, then defaulted). Returns the strict errors:
        duplicate fields seen while parsing, then the unknown fields."""
        errs = list(strict_errs)
        if not isinstance(obj, dict):
            return errs
        if res.custom:
            unknown = kubesim_crd.decode(res, obj, kubesim_types.OBJECT_META)
        else:
            sch = kubesim_types.schema_for(res)
            unknown = kubesim_schema.prune(obj, sch) if sch is not None else []
            self._check_micro_times(res, obj)
        errs.extend(f'unknown field "{p}"' for p in unknown)
        return errs

    @staticmethod
    def _check_micro_times(res, obj):
        for path in MICRO_TIME_FIELDS.get(res.key, ()):
            v = obj
            for k in path:
                v = v.get(k) if isinstance(v, dict) else None
            if v is None:
                continue
            if not isinstance(v, str) or not MICRO_TIME.match(v):
                raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                                  f'parsing time {json.dumps(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot '
                                  f'parse {json.dumps(_micro_rest(v))} as {_micro_elem(v)}')

    def _strict(self, h, res, fv, errs, patched=None):
        """Applies the fieldValidation directive to the strict decoding errors."""
        if not errs or fv == "Ignore":
            return
        if fv == "Warn":
            h.warnings.extend(errs)
            return
        text = "strict decoding error: " + ", ".join(errs)
        if patched is not None:
            # the patch handler: 422 Invalid on the field "patch" (handlers/patch.go)
            raise invalid_kind("", "", "", [("patch", "FieldValueInvalid",
                                              f"Invalid value: {kubesim_schema.go_quote(patched)}: {text}")])
        raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {text}')

    def serve_resource(self, h, res, ns, name, sub, verb, q, raw):
        accept = h.headers.get("Accept", "")
        dry = q.get("dryRun") == "All"
        body = None
        if accept and not any(t in accept for t in ("json", "*/*", "yaml")):
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json, "
                                                 "application/yaml, application/vnd.kubernetes.protobuf")
        ctype = h.headers.get("Content-Type", "")
        if raw and ctype.startswith("application/vnd.kubernetes.protobuf"):
            try:
                body = kubesim_proto.decode(raw)
            except LookupError:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                            "accepted media types include: application/json, "
                                                            "application/yaml")
            except ValueError as e:
                raise bad_request(f"couldn't get version/kind; protobuf parse error: {e}")
        elif raw:
            try:
                body = json.loads(raw)
                h.dups = _duplicate_fields(raw)
            except ValueError as e:
                if verb == "delete" or verb == "deletecollection":
                    body = None
                else:
                    raise bad_request(f"couldn't get version/kind; json parse error: {e}")
        fv = self._field_validation(q)
        if verb == "watch":
            return self.serve_watch(h, res, ns, name, q, accept)
        if sub == "scale":
            return self.serve_scale(h, res, ns, name, verb, body, dry)
        if sub == "eviction":
            return self.serve_eviction(h, ns, name, body or {}, dry)
        if verb == "get":
            obj = self._view_out(res, self.reg.get(res, ns, name))
            if wants_table(accept):
                return h.send_json(200, table(res, [obj], obj["metadata"].get("resourceVersion", ""),
                                              q.get("includeObject", "Metadata")))
            return h.send_json(200, obj)
        if verb == "list":
            items, rv, cont, remaining = self.reg.list(res, ns, q)
            items = [self._view_out(res, o) for o in items]
            if not res.custom and not wants_table(accept):
                # typed lists carry TypeMeta on the list only (custom resources keep it per item)
                items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
            if wants_table(accept):
                t = table(res, items, rv, q.get("includeObject", "Metadata"))
                if cont:
                    t["metadata"]["continue"] = cont
                return h.send_json(200, t)
            meta = {"resourceVersion": rv}
            if cont:
                meta["continue"] = cont
                if remaining is not None and not q.get("labelSelector") and not q.get("fieldSelector"):
                    meta["remainingItemCount"] = remaining
            return h.send_json(200, {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta,
                                     "items": items})
        if res.group == "authorization.k8s.io" and verb == "create":
            return h.send_json(201, self.access_review(body or {}, h.call["user"], h.groups,
                                                       res.plural == "selfsubjectaccessreviews"))
        if verb in ("create", "update") and isinstance(body, dict) and res.group != "authorization.k8s.io":
            self._strict(h, res, fv, self._decode(res, body, getattr(h, "dups", ())))
        if res.group == "events.k8s.io" and verb in ("create", "update"):
            body = event_from_v1(body or {})
            body["apiVersion"] = "events.k8s.io/v1"
        if verb == "create":
            if res.custom and res.terminating:
                raise ApiError(405, "MethodNotAllowed", "create not allowed while custom resource definition is "
                                                        "terminating")
            obj = self.reg.create(res, ns, body if body is not None else {}, dry)
            if res.key == kubesim_crd.CRD_KEY and not dry:
                self.establish_crd(obj["metadata"]["name"])
            return h.send_json(201, self._view_out(res, obj))
        if verb == "update":
            obj = self.reg.update(res, ns, name, body if body is not None else {}, sub, dry)
            if res.key == kubesim_crd.CRD_KEY and not dry:
                self.establish_crd(name)
            return h.send_json(200, self._view_out(res, obj))
        if verb == "patch":
            ctype = h.headers.get("Content-Type", "")
            dups = list(getattr(h, "dups", ()))

            def decode(new, patch_map):
                errs = self._decode(res, new, dups)
                if ctype.startswith("application/strategic-merge-patch+json"):
                    shown = kubesim_schema.go_repr(patch_map)
                else:
                    shown = json.dumps(new, sort_keys=True, separators=(",", ":"))
                self._strict(h, res, fv, errs, patched=shown)
            if res.group == "events.k8s.io":
                obj = self._patch_event_v1(res, ns, name, ctype, body, dry)
            else:
                obj = self.reg.patch(res, ns, name, ctype, body, sub, dry, create_ok=True, decode=decode)
            if res.key == kubesim_crd.CRD_KEY and not dry:
                self.establish_crd(name)
            return h.send_json(200, self._view_out(res, obj))
        if verb == "delete" and res.key == kubesim_crd.CRD_KEY:
            return self._delete_crd(h, res, name, body, q, dry)
        if verb == "delete":
            opts = dict(body or {})
            if "gracePeriodSeconds" in q:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            if "propagationPolicy" in q:
                opts["propagationPolicy"] = q["propagationPolicy"]
            obj, gone = self.reg.delete(res, ns, name, opts, dry)
            if gone and res.key not in RETURN_DELETED_OBJECT and not res.custom:
                # the generic registry answers a finished delete with a Status (ReturnDeletedObject unset)
                det = {"name": name, "kind": res.plural, "uid": obj["metadata"].get("uid", "")}
                if res.group:
                    det["group"] = res.group
                return h.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                         "status": "Success", "details": det})
            return h.send_json(200, self._view_out(res, obj))
        if verb == "deletecollection":
            items, _, _, _ = self.reg.list(res, ns, {k: v for k, v in q.items()
                                                     if k in ("labelSelector", "fieldSelector")})
            opts = dict(body or {})
            if "gracePeriodSeconds" in q:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            for o in items:
                try:
                    self.reg.delete(res, o["metadata"].get("namespace"), o["metadata"]["name"], opts, dry)
                except ApiError:
                    pass
            return h.send_json(200, {"kind": res.list_kind, "apiVersion": res.api_version,
                                     "metadata": {"resourceVersion": str(self.store.rv)},
                                     "items": [self._view_out(res, o) for o in items]})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _delete_crd(self, h, res, name, body, q, dry):
        """customResourceDefinitionStorage.Delete: the first delete adds the cleanup
        finalizer and the Terminating condition; the finalizer controller deletes every
        instance and then the CRD (here a moment later, on the controllers' thread)."""
        opts = dict(body or {})
        with self.store.lock:
            cur = self.reg.get(res, "", name)
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != cur["metadata"].get("uid"):
                from kubesim_core import conflict
                raise conflict(res, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object "
                                          f"meta: {cur['metadata'].get('uid')}")
            if kubesim_crd.is_terminating(cur) or dry:
                return h.send_json(200, cur)
            new = deepcopy(cur)
            m = new["metadata"]
            m["deletionTimestamp"] = now_iso()
            m["deletionGracePeriodSeconds"] = 0
            if kubesim_crd.CLEANUP_FINALIZER not in (m.get("finalizers") or []):
                m["finalizers"] = list(m.get("finalizers") or []) + [kubesim_crd.CLEANUP_FINALIZER]
            new["status"] = kubesim_crd.terminating_status(cur, "InstanceDeletionPending",
                                                           "CustomResourceDefinition marked for deletion; "
                                                           "CustomResource deletion will begin soon")
            out = self.store.commit(res, "MODIFIED", cur, new)
        self.ctrl.at(0.05, self.delete_crd, name)
        return h.send_json(200, out)

    @staticmethod
    def _scale(obj):
        m = obj["metadata"]
        sel = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in m},
                "spec": {"replicas": int(obj.get("spec", {}).get("replicas", 1))},
                "status": {"replicas": int(obj.get("status", {}).get("replicas", 0)),
                           "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items()))}}

    def serve_scale(self, h, res, ns, name, verb, body, dry):
        """The autoscaling/v1 Scale subresource of deployments, replicasets and statefulsets."""
        with self.store.lock:
            obj = self.reg.get(res, ns, name)
            cur = self._scale(obj)
            if verb == "get":
                return h.send_json(200, cur)
            if verb == "update":
                new = body or {}
            elif verb == "patch":
                ctype = h.headers.get("Content-Type", "").split(";")[0].strip()
                try:
                    if ctype == "application/json-patch+json":
                        new = json_patch(cur, body)
                    elif ctype == "application/strategic-merge-patch+json":
                        new = strategic_merge_patch(cur, body)
                    else:
                        new = merge_patch(cur, body)
                except JsonPatchError as e:
                    raise ApiError(422, "Invalid", str(e))
            else:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                        "requested resource")
            want = (new.get("metadata") or {}).get("resourceVersion")
            if want and want != obj["metadata"]["resourceVersion"]:
                from kubesim_core import conflict
                raise conflict(res, name)
            replicas = (new.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid '
                                               f'value: {replicas}: must be greater than or equal to 0')
            upd = deepcopy(obj)
            upd["spec"]["replicas"] = replicas
            out = self.reg.update(res, ns, name, upd, None, dry)
        return h.send_json(200, self._scale(out))

    def serve_eviction(self, h, ns, name, body, dry):
        """policy/v1 Eviction: no PodDisruptionBudget is ever violated here, so the pod is
        deleted with the eviction's DeleteOptions; 201 with a Success Status like the real one."""
        pods = BY_KEY["pods"]
        if body.get("kind") not in (None, "Eviction") or (body.get("metadata") or {}).get("name") not in (None, name):
            raise bad_request("name in URL does not match name in Eviction object")
        self.reg.delete(pods, ns, name, body.get("deleteOptions") or {}, dry)
        return h.send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                 "code": 201})

    def _patch_event_v1(self, res, ns, name, ctype, patch, dry):
        ctype = ctype.split(";")[0].strip()
        with self.store.lock:
            old = self.reg.get(res, ns, name)
            view = event_to_v1(old)
            try:
                if ctype == "application/json-patch+json":
                    new = json_patch(view, patch)
                elif ctype == "application/strategic-merge-patch+json":
                    new = strategic_merge_patch(view, patch)
                else:
                    new = merge_patch(view, patch)
            except JsonPatchError as e:
                raise ApiError(422, "Invalid", str(e))
            core = event_from_v1(new)
            core["apiVersion"] = "events.k8s.io/v1"
            return self.reg.update(res, ns, name, core, None, dry)

    def serve_watch(self, h, res, ns, name, q, accept):
        if q.get("sendInitialEvents") in ("true", "1"):
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: '
                                           'sendInitialEvents is forbidden for watch unless the WatchList feature '
                                           'gate is enabled',
                           {"group": "meta.k8s.io", "kind": "ListOptions",
                            "causes": [{"reason": "FieldValueForbidden", "field": "sendInitialEvents",
                                        "message": "Forbidden: sendInitialEvents is forbidden for watch unless "
                                                   "the WatchList feature gate is enabled"}]})
        fs = q.get("fieldSelector", "")
        if name:
            fs = f"metadata.name={name}" + ("," + fs if fs else "")
        lsel = parse_label_selector(q.get("labelSelector", ""))
        fsel = parse_field_selector(fs, res)
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        w = Watcher(res, ns if res.namespaced else None, lsel, fsel, bookmarks)
        rv = q.get("resourceVersion", "")
        st = self.store
        too_old = None
        if rv not in ("", "0"):
            try:
                n = int(rv)
            except ValueError:
                raise bad_request(f"invalid resource version: {rv!r}")
            if not st.wait_rv(n):
                raise ApiError(504, "Timeout", f"Too large resource version: {n}, current: {st.rv}",
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}], "retryAfterSeconds": 1})
        with st.lock:
            if rv not in ("", "0"):
                if n < st.compacted_rv:
                    too_old = f"too old resource version: {n} ({st.compacted_rv + 1})"
                else:
                    for ev in st.history:
                        if ev.rv > n:
                            w.offer(ev)
            else:
                for k in sorted(st.objs[res.key]):
                    o = st.objs[res.key][k]
                    if w.match(o):
                        w.q.put(("ADDED", o))
            if too_old is None:
                st.watchers.add(w)
        as_table = wants_table(accept)
        try:
            h.start_chunked()
            if too_old is not None:
                err = ApiError(410, "Expired", too_old).status()
                h.chunk(dumps({"type": "ERROR", "object": err}).encode() + b"\n")
                h.end_chunked()
                return
            try:
                limit = float(q.get("timeoutSeconds") or self.config.get("watch_max_seconds", 1800))
            except ValueError:
                limit = float(self.config.get("watch_max_seconds", 1800))
            deadline = time.monotonic() + limit
            interval = float(self.config.get("bookmark_interval", 60))
            next_bm = time.monotonic() + interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                wait = deadline - now
                if bookmarks:
                    wait = min(wait, max(0.0, next_bm - now))
                try:
                    item = w.q.get(timeout=min(wait, 1.0))
                except Exception:
                    item = ()
                if item is None or w.closed.is_set():
                    break
                if item == () and _client_gone(h):
                    h.close_connection = True
                    return
                if item != ():
                    typ, obj = item
                    obj = self._view_out(res, obj)
                    if as_table:
                        obj = table(res, [obj], obj["metadata"].get("resourceVersion", ""),
                                    q.get("includeObject", "Metadata"))
                    h.chunk(dumps({"type": typ, "object": obj}).encode() + b"\n")
                if bookmarks and time.monotonic() >= next_bm:
                    # a bookmark promises every event up to its resourceVersion was sent:
                    # only when this watcher's queue is drained (checked under the store lock)
                    with st.lock:
                        bm_rv = st.rv if w.q.empty() else None
                    if bm_rv is not None:
                        bm = {"kind": res.kind, "apiVersion": res.api_version,
                              "metadata": {"resourceVersion": str(bm_rv)}}
                        h.chunk(dumps({"type": "BOOKMARK", "object": bm}).encode() + b"\n")
                        next_bm = time.monotonic() + float(self.config.get("bookmark_interval", 60))
            if w.abrupt:
                h.close_connection = True
                try:
                    socket.socket.shutdown(h.request, socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            h.end_chunked()
        finally:
            with st.lock:
                st.watchers.discard(w)

    # -------------------------------------------------------- /__sim

    def admin(self, h, path, q, raw):
        h.call["verb"] = "admin"
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return h.send_json(400, {"error": "body must be JSON"})
        m = h.command
        if path == "/__sim/faults":
            if m == "GET":
                return h.send_json(200, self.faults)
            if m == "DELETE":
                self.faults = {}
                self.unhang.set()
                return h.send_json(200, {})
            if m == "POST":
                f = dict(self.faults)
                dropped = None
                if body.pop("drop_watches", False):
                    dropped = self.drop_watches(clean=bool(body.pop("clean", False)))
                if body.pop("compact", False):
                    self.store.compact()
                f.update(body)
                f = {k: v for k, v in f.items() if v not in (None, False, 0)}
                if f.get("hang"):
                    self.unhang.clear()
                self.faults = f
                out = dict(f)
                if dropped is not None:
                    out["dropped_watches"] = dropped
                return h.send_json(200, out)
        if path == "/__sim/config":
            if m == "POST":
                for k, v in body.items():
                    if k not in DEFAULT_CONFIG:
                        return h.send_json(400, {"error": f"unknown config key {k}"})
                    self.config[k] = v
                    if k == "history_size":
                        with self.store.lock:
                            self.store.history_size = int(v)
                    if k == "rv_wait_seconds":
                        self.store.rv_wait = float(v)
            return h.send_json(200, self.config)
        if path == "/__sim/rotate-token" and m == "POST":
            principal = body.get("user", "agent")
            if principal not in self.principals:
                return h.send_json(400, {"error": f"unknown user {principal}; one of {list(self.principals)}"})
            new, old = self.rotate_token(principal, body.get("token"), float(body.get("grace_seconds", 0)))
            return h.send_json(200, {"user": principal, "token": new, "old_token": old})
        if path == "/__sim/tokens" and m == "GET":
            return h.send_json(200, {k: dict(v) for k, v in self.principals.items()})
        if path == "/__sim/tokens" and m == "POST":
            name, user = body.get("principal"), body.get("user")
            if not name or not user:
                return h.send_json(400, {"error": "principal and user are required"})
            groups = list(body.get("groups") or [])
            if user.startswith("system:serviceaccount:") and not groups:
                ns = user.split(":")[2]
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
            if "system:authenticated" not in groups:
                groups.append("system:authenticated")
            self.principals[name] = {"user": user, "groups": groups,
                                     "token": body.get("token") or f"{name}-" + secrets.token_hex(16)}
            self._save_tokens()
            return h.send_json(200, dict(self.principals[name]))
        if path == "/__sim/calls":
            if m == "DELETE":
                self.clear_calls()
                return h.send_json(200, {})
            calls, nxt = self.get_calls(int(q.get("since", 0) or 0))
            return h.send_json(200, {"calls": calls, "next": nxt})
        if path == "/__sim/state" and m == "GET":
            with self.store.lock:
                objs = {k: list(v.values()) for k, v in self.store.objs.items() if v}
                out = {"resourceVersion": str(self.store.rv), "compactedResourceVersion": str(self.store.compacted_rv),
                       "watches": len(self.store.watchers), "objects": objs}
            if q.get("resource"):
                out["objects"] = {q["resource"]: objs.get(q["resource"], [])}
            return h.send_json(200, out)
        if path == "/__sim/restart" and m == "POST":
            down = float(body.get("down_seconds", 0))
            h.send_json(200, {"restarting": True, "down_seconds": down})
            h.close_connection = True
            threading.Thread(target=self.restart, args=(down,), daemon=True).start()
            return
        if path == "/__sim/kubelet" and m == "POST":
            out = self.ctrl.set_pod_state(body.get("namespace", "default"), body["name"], body.get("phase"),
                                          body.get("containers_ready"))
            if out is None:
                return h.send_json(404, {"error": "no such pod"})
            return h.send_json(200, out)
        if path == "/__sim/nodes" and m == "POST":
            try:
                info = (self.on_add_node or self.add_node)(body["name"], virtual=bool(body.get("virtual")),
                                                           labels=body.get("labels"))
            except Exception as e:
                return h.send_json(400, {"error": str(e)})
            return h.send_json(200, info)
        if path == "/__sim/healthz":
            return h.send_json(200, {"ok": True, "port": self.port})
        return h.send_json(404, {"error": f"unknown admin endpoint {m} {path}"})

    on_add_node = None


class _Abort(Exception):
    pass


def _client_gone(h):
    """An idle watch notices a client that hung up (a real server sees its request context end)."""
    sock = h.request
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r and not sock.pending():
            return False
        sock.setblocking(False)
        try:
            data = sock.recv(64)
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except ssl.SSLZeroReturnError:
            return True
        finally:
            sock.setblocking(True)
        if not data:
            return True
        h.close_connection = True  # bytes after a watch request: no keep-alive for this one
        return False
    except (OSError, ValueError):
        return True


def _not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _duplicate_fields(raw):
    """Paths of the duplicate keys in a JSON body ("metadata.name"), as the strict decoder
    reports them; [] when there are none."""
    found = []

    class Obj(dict):
        pass

    def pairs(items):
        d = Obj()
        for k, v in items:
            if k in d:
                d.setdefault_dups = getattr(d, "setdefault_dups", []) + [k]
            d[k] = v
        return d
    doc = json.loads(raw, object_pairs_hook=pairs)

    def walk(v, path):
        if isinstance(v, dict):
            for k in getattr(v, "setdefault_dups", []):
                found.append(f'duplicate field "{path + "." + k if path else k}"')
            for k, x in v.items():
                walk(x, path + "." + k if path else k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
    walk(doc, "")
    return found


def _micro_rest(v):
    """What Go's time.Parse reports it could not parse in a MicroTime (approximation)."""
    if not isinstance(v, str):
        return str(v)
    m = re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", v)
    return v[m.end():] if m else v


def _micro_elem(v):
    if isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", v):
        return '".000000"'
    return '"2006"'
