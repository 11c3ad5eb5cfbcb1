# SPDX-License-Identifier: MIT
"""Fixtures for the k8s/ suite: a simcluster (simulated API server, no cloud) in a
temporary directory, a small admin client for it, and the k8s_reflect driver
(tests/e2e/drivers/k8s_reflect.c) run as a subprocess whose JSON lines are
collected by a thread and waited for with deadlines (never fixed sleeps)."""
import json
import os
import pathlib
import queue
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]

SIMCLUSTER = REPO / "tests" / "sim" / "simcluster"
PY = "/usr/bin/python3"


class Sim:
    def __init__(self, d, proc):
        self.dir = str(d)
        self.proc = proc
        self.reload()

    def reload(self):
        with open(os.path.join(self.dir, "sim.json")) as f:
            self.info = json.load(f)
        self.server = self.info["kube"]["server"]
        self.ca = self.info["kube"]["ca_file"]
        self.admin_token = self.info["kube"]["tokens"]["admin"]
        self.ctx = ssl.create_default_context(cafile=self.ca)

    @property
    def agent_kubeconfig(self):
        return self.info["kube"]["agent_kubeconfig"]

    def api(self, method, path, body=None, ctype="application/json", token=None, ok=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, method=method, data=data)
        req.add_header("Authorization", "Bearer " + (token or self.admin_token))
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        out = json.loads(text) if text else {}
        if ok and status not in ok:
            raise AssertionError(f"{method} {path} -> {status}: {out}")
        return out

    def admin(self, path, body=None, method="POST"):
        return self.api(method, "/__sim" + path, body if method != "GET" else None, ok=None)

    def faults(self, **kw):
        return self.admin("/faults", kw)

    def clear_faults(self):
        return self.admin("/faults", method="DELETE")

    def calls(self, since=0):
        return self.admin(f"/calls?since={since}", method="GET")

    def calls_mark(self):
        return self.calls()["next"]

    def calls_since(self, mark, **match):
        out = []
        for c in self.calls(mark)["calls"]:
            if all(c.get(k) == v for k, v in match.items()):
                out.append(c)
        return out

    def create_pod(self, name, node="node-1", ns="default", annotations=None, labels=None):
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "t"},
                             "annotations": annotations or {}},
                "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "c", "image": "busybox"}]}}
        return self.api("POST", f"/api/v1/namespaces/{ns}/pods", body)

    def delete_pod(self, name, ns="default"):
        return self.api("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}?gracePeriodSeconds=0",
                        ok=(200, 202, 404))

    def get_pod(self, name, ns="default"):
        return self.api("GET", f"/api/v1/namespaces/{ns}/pods/{name}", ok=(200, 404))

    def wait_pod_gone(self, name, ns="default", timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get_pod(name, ns).get("kind") != "Pod":
                return
            time.sleep(0.05)
        raise AssertionError(f"pod {ns}/{name} still exists")

    def restart_apiserver(self, down_seconds=0.0):
        subprocess.run([PY, str(SIMCLUSTER), "restart-apiserver", "--dir", self.dir,
                        "--down-seconds", str(down_seconds)], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)

    def rv(self):
        return int(self.admin("/state?resource=none", method="GET")["resourceVersion"])


@pytest.fixture
def sim(tmp_path):
    d = tmp_path / "sim"
    d.mkdir()
    log = open(tmp_path / "simcluster.log", "w")
    proc = subprocess.Popen([PY, str(SIMCLUSTER), "up", "--dir", str(d), "--nodes", "2", "--no-cloud",
                             "--pod-start-delay", "0.1", "--pod-stop-delay", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"simcluster did not start: {line!r}; see {tmp_path / 'simcluster.log'}")
    s = Sim(d, proc)
    yield s
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


class Driver:
    """One k8s_reflect process; .lines holds every JSON line it printed."""

    def __init__(self, path, args, env=None, stderr_path=None):
        self.args = [str(path)] + [str(a) for a in args]
        self.stderr = open(stderr_path, "w") if stderr_path else subprocess.DEVNULL
        e = dict(os.environ)
        e.update(env or {})
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     env=e)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            raw = raw.strip()
            if not raw:
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = {"type": "UNPARSED", "raw": raw}
            obj["_t"] = time.monotonic()
            with self.cond:
                self.lines.append(obj)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pred, timeout=15, what="line", start=0):
        """The first line at index >= start matching pred; fails at the deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if pred(self.lines[i]):
                        return self.lines[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if self.proc.poll() is not None and not self.reader.is_alive():
                    break
                self.cond.wait(min(left, 0.2))
        raise AssertionError(f"no {what} within {timeout}s; rc={self.proc.poll()}; lines={self.lines[-30:]}")

    def wait_type(self, typ, timeout=15, start=0, **match):
        return self.wait_for(lambda l: l.get("type") == typ and all(l.get(k) == v for k, v in match.items()),
                             timeout, f"{typ} {match}", start)

    def index(self):
        with self.cond:
            return len(self.lines)

    def of_type(self, typ, start=0):
        with self.cond:
            return [l for l in self.lines[start:] if l.get("type") == typ]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        """SIGTERM, wait for exit, return the exit code (must be 0 for a clean run)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(timeout=5)
        if self.stderr is not subprocess.DEVNULL:
            self.stderr.close()
        return rc

    def wait_exit(self, timeout=15):
        """Waits for the process to end by itself; returns the exit code."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("driver did not exit")
        self.reader.join(timeout=5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=5)


@pytest.fixture
def k8s_driver(driver, tmp_path):
    """k8s_driver(*args, env=None) -> a started Driver; all are stopped at the end."""
    path = driver("k8s_reflect")
    started = []

    def start(*args, env=None):
        n = len(started)
        d = Driver(path, args, env=env, stderr_path=tmp_path / f"driver{n}.stderr")
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.kill()


@pytest.fixture
def run_driver(driver):
    """run_driver(*args, env=None, timeout=30) -> (rc, [json lines], stderr)."""
    path = driver("k8s_reflect")

    def run(*args, env=None, timeout=30):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run([str(path)] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=timeout, env=e)
        lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        return p.returncode, lines, p.stderr

    return run
