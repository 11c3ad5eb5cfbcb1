# SPDX-License-Identifier: MIT
"""Helpers for the Kubernetes simulator suite (imported by conftest.py and the tests):
a `simcluster up` process, raw HTTPS requests and watch streams."""
import http.client
import json
import os
import pathlib
import random
import shutil
import signal
import ssl
import subprocess
import time
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[3]
SIMCLUSTER = REPO / "tests" / "sim" / "simcluster"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


_SEED = None


def test_seed():
    """The seed of this run: EIP_TEST_SEED when set (to replay a failure), else a fresh one.
    Every cluster gets it (simcluster --seed: fault draws, generated names) and so do tests
    that draw random values; conftest.py prints it with every failure."""
    global _SEED
    if _SEED is None:
        env = os.environ.get("EIP_TEST_SEED", "")
        _SEED = int(env) if env else random.SystemRandom().randrange(1, 2 ** 31)
    return _SEED


test_seed.__test__ = False  # not a test for pytest


def wait_for(fn, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.raw = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"


class Watch:
    """A raw watch stream: next() returns one decoded event, or None at the end."""

    def __init__(self, conn, resp):
        self.conn, self.resp = conn, resp
        self.status = resp.status
        self.headers = resp.headers

    def next(self, timeout=5.0):
        self.conn.sock.settimeout(timeout)
        line = self.resp.readline()
        if not line:
            return None
        return json.loads(line)

    def collect(self, seconds, stop=None):
        """Events for up to `seconds` (or until stop(events) is true)."""
        out, deadline = [], time.time() + seconds
        while time.time() < deadline:
            try:
                ev = self.next(max(0.05, deadline - time.time()))
            except (TimeoutError, OSError):
                break
            if ev is None:
                break
            out.append(ev)
            if stop and stop(out):
                break
        return out

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass


class Cluster:
    def __init__(self, directory, proc):
        self.dir = pathlib.Path(directory)
        self.proc = proc
        self.reload()
        self.ctx = ssl.create_default_context(cafile=self.info["kube"]["ca_file"])
        self.cloud_ctx = ssl.create_default_context(cafile=self.info["cloud"]["ca_file"]) \
            if self.info.get("cloud") else None

    def reload(self):
        self.info = json.loads((self.dir / "sim.json").read_text())
        u = urllib.parse.urlsplit(self.info["kube"]["server"])
        self.host, self.port = u.hostname, u.port

    @property
    def kubeconfig(self):
        return self.info["kube"]["kubeconfig"]

    def token(self, who="admin"):
        return self.sim("GET", "/__sim/tokens").json[who]["token"]

    # ------------------------------------------------ raw HTTP

    def conn(self, timeout=10):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def req(self, method, path, body=None, token="admin", ctype="application/json", headers=None, timeout=10):
        h = {"Accept": "application/json", "User-Agent": "kubetest/1.0"}
        if token == "admin":
            token = self.token("admin") if not hasattr(self, "_admin") else self._admin
            self._admin = token
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = ctype
        h.update(headers or {})
        c = self.conn(timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def ok(self, method, path, body=None, **kw):
        r = self.req(method, path, body, **kw)
        assert 200 <= r.status < 300, r
        return r.json

    def sim(self, method, path, body=None):
        c = self.conn()
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            c.close()

    def cloud(self, method, path, body=None):
        u = urllib.parse.urlsplit(self.info["cloud"]["endpoint"])
        c = http.client.HTTPSConnection(u.hostname, u.port, context=self.cloud_ctx, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            c.close()

    def watch(self, path, token="admin", timeout=10, headers=None, **query):
        if token == "admin":
            token = self.token("admin")
        q = {"watch": "true", **{k: str(v) for k, v in query.items()}}
        c = self.conn(timeout)
        h = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        h.update(headers or {})
        c.request("GET", path + "?" + urllib.parse.urlencode(q), headers=h)
        r = c.getresponse()
        return Watch(c, r)

    def rv(self):
        return int(self.sim("GET", "/__sim/state?resource=none").json["resourceVersion"])

    # ------------------------------------------------ objects

    def pod(self, name, ns="default", gates=(), grace=0, node=None, labels=None, node_selector=None,
            finalizers=None, annotations=None):
        spec = {"containers": [{"name": "app", "image": "nginx:1.27"}],
                "terminationGracePeriodSeconds": grace}
        if gates:
            spec["readinessGates"] = [{"conditionType": g} for g in gates]
        if node:
            spec["nodeName"] = node
        if node_selector:
            spec["nodeSelector"] = node_selector
        meta = {"name": name, "labels": labels or {"app": "t"}}
        if finalizers:
            meta["finalizers"] = finalizers
        if annotations:
            meta["annotations"] = annotations
        return self.ok("POST", f"/api/v1/namespaces/{ns}/pods",
                       {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})

    def wait_running(self, name, ns="default", timeout=10):
        def f():
            r = self.get(f"/api/v1/namespaces/{ns}/pods/{name}")
            if r.status == 200 and r.json["status"].get("phase") == "Running":
                return r.json
            return None
        return wait_for(f, timeout, what=f"pod {ns}/{name} Running")

    def wait_gone(self, path, timeout=10):
        return wait_for(lambda: self.get(path).status == 404, timeout, what=f"{path} gone")

    # ------------------------------------------------ process control

    def restart_process(self, extra=()):
        stop(self)
        self.proc = start_proc(self.dir, extra)
        self.reload()
        self.__dict__.pop("_admin", None)


def start_proc(directory, args=()):
    if "--seed" not in args:
        args = (*args, "--seed", str(test_seed()))
    proc = subprocess.Popen(["/usr/bin/python3", str(SIMCLUSTER), "up", "--dir", str(directory), *args],
                            stdout=subprocess.PIPE, stderr=open(os.path.join(directory, "simcluster.log"), "ab"),
                            text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        log = open(os.path.join(directory, "simcluster.log")).read()
        raise RuntimeError(f"simcluster did not start: {line!r}\n{log}")
    return proc


def stop(cluster):
    if cluster.proc and cluster.proc.poll() is None:
        cluster.proc.send_signal(signal.SIGTERM)
        try:
            cluster.proc.wait(10)
        except subprocess.TimeoutExpired:
            cluster.proc.kill()
            cluster.proc.wait()


