# SPDX-License-Identifier: MIT
"""The simulated world for the agent's end-to-end tests: one simcluster (the
Kubernetes API server simulator and the Alibaba Cloud simulator) in a temporary
directory, real build/eip-agent processes started with the environment
simcluster wrote for their node, and small clients for both simulators'
/__sim endpoints, so tests assert on what really happened in the cloud and in
the cluster. Every wait polls observable state with a deadline."""
import ipaddress
import json
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e" / "agent"))

from agenttest import Agent, assert_no_sanitizer  # noqa: E402

SIMCLUSTER = REPO / "tests" / "sim" / "simcluster"
PY = "/usr/bin/python3"
GATE = "k8s.aliyun.com/eip"
P = "network.alibabacloud.com/"
L = "k8s.aliyun.com/"


def wait_for(pred, timeout=30, what="condition", interval=0.05):
    """Polls pred() until it returns a true value; fails at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
        except AssertionError as e:  # a check inside pred that is not true yet
            v, last = None, e
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}" +
                                 (f" (last: {last})" if last else ""))
        time.sleep(interval)


class HttpJson:
    def __init__(self, base, ctx=None, token=None):
        self.base = base
        self.ctx = ctx
        self.token = token

    def call(self, method, path, body=None, ok=(200, 201), ctype="application/json", timeout=20):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, method=method, data=data)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            out = json.loads(text) if text else {}
        except ValueError:
            out = {"raw": text.decode(errors="replace")}
        if ok and status not in ok:
            raise AssertionError(f"{method} {path} -> {status}: {out}")
        return status, out


class World:
    def __init__(self, tmp, nodes=1, virtual_nodes=0, eip_quota=300, args=()):
        self.tmp = pathlib.Path(tmp)
        self.dir = self.tmp / "sim"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.tmp / "simcluster.log", "w")
        cmd = [PY, str(SIMCLUSTER), "up", "--dir", str(self.dir), "--nodes", str(nodes),
               "--virtual-nodes", str(virtual_nodes), "--pod-start-delay", "0.2",
               "--eip-quota", str(eip_quota), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise AssertionError(f"simcluster did not start: {line!r}; see {self.tmp}/simcluster.log")
        self.info = json.loads((self.dir / "sim.json").read_text())
        ctx = ssl.create_default_context(cafile=self.info["kube"]["ca_file"])
        self.kube = HttpJson(self.info["kube"]["server"], ctx, self.info["kube"]["tokens"]["admin"])
        self.kube_sim = HttpJson(self.info["kube"]["server"] + "/__sim", ctx)
        self.cloud = HttpJson(self.info["cloud"]["sim"], ctx)
        self.agents = []
        self.cluster_id = self.info["cluster_id"]

    # ---- lifecycle ----
    def close(self):
        errors = []
        for a in self.agents:
            if a.returncode is None and a.proc.poll() is None:
                try:
                    a.stop()
                except AssertionError as e:
                    errors.append(str(e))
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if errors:
            raise AssertionError("an agent did not stop cleanly:\n" + "\n".join(errors))

    def node_env(self, node):
        return dict(self.info["nodes"][node]["env"]) if node in self.info["nodes"] else \
            self._reload_node(node)

    def _reload_node(self, node):
        self.info = json.loads((self.dir / "sim.json").read_text())
        return dict(self.info["nodes"][node]["env"])

    def start_agent(self, node="node-1", config="", env=None, wait_ready=True):
        e = self.node_env(node)
        e.update(env or {})
        d = self.tmp / f"agent-{node}-{len(self.agents)}"
        d.mkdir()
        cfg = "logLevel: debug\n" + config
        a = Agent(pathlib.Path(os.environ.get("EIP_BUILD_DIR", REPO / "build")) / "eip-agent",
                  d, cfg, (), e)
        a.node = node
        self.agents.append(a)
        a.wait_listening()
        if wait_ready:
            wait_for(lambda: self.agent_get(a, "/readyz")[0] == 200, 30, f"agent of {node} ready")
        return a

    def kill_agent(self, a):
        """kill -9: no chance to clean up."""
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        a.returncode = -9
        a.stderr_file.close()
        assert_no_sanitizer(a.stderr())

    def agent_get(self, a, path, timeout=20, source=None):
        """(status, json) of GET path on the agent; source: a local address to send from."""
        if source:
            s = socket.create_connection(("127.0.0.1", a.port), timeout=timeout,
                                         source_address=(source, 0))
            try:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            finally:
                s.close()
            head, _, body = data.partition(b"\r\n\r\n")
            status = int(head.split()[1])
            try:
                return status, json.loads(body)
            except ValueError:
                return status, {"raw": body.decode(errors="replace")}
        return HttpJson(f"http://127.0.0.1:{a.port}").call("GET", path, ok=None, timeout=timeout)

    def view(self, a, name, ns="default"):
        st, v = self.agent_get(a, f"/v1/pods/{ns}/{name}")
        return v if st == 200 else None

    def wait_view(self, a, name, pred, timeout=30, ns="default", what=None):
        return wait_for(lambda: (lambda v: v if v and pred(v) else None)(self.view(a, name, ns)),
                        timeout, what or f"agent view of {ns}/{name}")

    # ---- Kubernetes ----
    def pod_body(self, name, annotations=None, ns="default", node=None, gate=True, owner=None,
                 labels=None):
        spec = {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox"}]}
        if node:
            spec["nodeSelector"] = {"kubernetes.io/hostname": node}
        if gate:
            spec["readinessGates"] = [{"conditionType": GATE}]
        md = {"name": name, "namespace": ns, "annotations": annotations or {},
              "labels": labels or {"app": "eip-test"}}
        if owner:
            md["ownerReferences"] = [owner]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}

    def create_pod(self, name, annotations=None, **kw):
        body = self.pod_body(name, annotations, **kw)
        return self.kube.call("POST", f"/api/v1/namespaces/{body['metadata']['namespace']}/pods",
                              body)[1]

    def delete_pod(self, name, ns="default", grace=None):
        q = f"?gracePeriodSeconds={grace}" if grace is not None else ""
        return self.kube.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}{q}",
                              ok=(200, 202, 404))[1]

    def pod(self, name, ns="default"):
        status, out = self.kube.call("GET", f"/api/v1/namespaces/{ns}/pods/{name}", ok=(200, 404))
        return out if status == 200 else None

    def patch_pod(self, name, patch, ns="default"):
        return self.kube.call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}", patch,
                              ctype="application/merge-patch+json")[1]

    def podeip(self, name, ns="default"):
        status, out = self.kube.call(
            "GET", f"/apis/alibabacloud.com/v1beta1/namespaces/{ns}/podeips/{name}", ok=(200, 404))
        return out if status == 200 else None

    def events(self, name, ns="default", reason=None):
        _, out = self.kube.call("GET", f"/api/v1/namespaces/{ns}/events")
        evs = [e for e in out.get("items", [])
               if e.get("involvedObject", {}).get("name") == name]
        if reason:
            evs = [e for e in evs if e.get("reason") == reason]
        return evs

    def kube_calls(self, since=0):
        return self.kube_sim.call("GET", f"/calls?since={since}")[1]

    def kube_faults(self, **kw):
        return self.kube_sim.call("POST", "/faults", kw)[1]

    def kube_clear_faults(self):
        return self.kube_sim.call("DELETE", "/faults")[1]

    @staticmethod
    def condition(pod, typ=GATE):
        for c in (pod or {}).get("status", {}).get("conditions", []) or []:
            if c.get("type") == typ:
                return c
        return None

    def wait_bound(self, name, ns="default", timeout=30):
        def bound():
            p = self.pod(name, ns)
            c = self.condition(p)
            return p if c and c.get("status") == "True" else None
        return wait_for(bound, timeout, f"pod {ns}/{name} bound")

    def wait_pod_gone(self, name, ns="default", timeout=30):
        wait_for(lambda: self.pod(name, ns) is None, timeout, f"pod {ns}/{name} gone")

    def kubectl(self, *args, check=True, input=None):
        cmd = ["kubectl", "--kubeconfig", str(self.dir / "kubeconfig"),
               "--cache-dir", str(self.tmp / "kube-cache"), *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: {p.stderr}")
        return p

    # ---- cloud ----
    def eips(self):
        return self.cloud.call("GET", "/eips")[1]["eips"]

    def eip(self, allocation_id):
        for e in self.eips():
            if e["AllocationId"] == allocation_id:
                return e
        return None

    def cloud_calls(self, action=None, since=0):
        q = f"?since={since}" + (f"&action={action}" if action else "")
        return self.cloud.call("GET", "/calls" + q)[1]["calls"]

    def cloud_faults(self, *faults):
        return self.cloud.call("POST", "/faults", list(faults))[1]

    def cloud_clear_faults(self):
        return self.cloud.call("DELETE", "/faults")[1]

    def cloud_config(self, **kw):
        return self.cloud.call("POST", "/config", kw)[1]

    def cloud_api(self, action, **params):
        """A signed RPC call to the cloud as a user would make it (console, CLI), with
        the simulator's own access key; returns the JSON answer."""
        sys.path.insert(0, str(REPO / "tests" / "sim"))
        import cloudsim_sign as cs
        import uuid
        akid, secret = next(iter(self.info["cloud"]["access_keys"].items()))
        q = {"Action": action, "Version": "2016-04-28", "Format": "JSON",
             "RegionId": self.info["region"], "AccessKeyId": akid,
             "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
             "SignatureNonce": uuid.uuid4().hex,
             "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             **{k: str(v) for k, v in params.items()}}
        q["Signature"] = cs.rpc_sign(secret, cs.rpc_string_to_sign("POST", q))
        body = "&".join(cs.pct(k) + "=" + cs.pct(v) for k, v in q.items()).encode()
        ctx = ssl.create_default_context(cafile=self.info["cloud"]["ca_file"])
        req = urllib.request.Request(self.info["cloud"]["endpoint"] + "/", data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{action}: {e.code} {e.read()!r}")

    def create_eip(self, **params):
        """An EIP made out of band (as a user would in the console)."""
        p = {"Bandwidth": 5, "InternetChargeType": "PayByTraffic", **params}
        return self.cloud_api("AllocateEipAddress", **p)

    @staticmethod
    def tags(e):
        return {t["Key"]: t["Value"] for t in e.get("Tags", {}).get("Tag", [])}

    def eips_of_uid(self, uid):
        return [e for e in self.eips() if self.tags(e).get("eip-agent/pod-uid") == uid]

    def live_pod_ips(self):
        _, out = self.kube.call("GET", "/api/v1/pods")
        ips = set()
        for p in out.get("items", []):
            if p["metadata"].get("deletionTimestamp"):
                continue
            if p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                continue
            ip = p.get("status", {}).get("podIP")
            if ip:
                ips.add(ip)
        return ips

    def leaks(self, kept=()):
        """What is wrong in the cloud now: an Auto EIP of this cluster whose pod
        is gone (unless its AllocationId is in kept), or an EIP bound to an IP
        where no live pod lives, or where a live pod lives that is not the one the
        EIP was bound for (a freed IP handed to a new pod)."""
        _, out = self.kube.call("GET", "/api/v1/pods")
        pods = out.get("items", [])
        uids = {p["metadata"]["uid"] for p in pods}
        by_ip = {}
        for p in pods:
            st = p.get("status", {})
            if p["metadata"].get("deletionTimestamp") or st.get("phase") in ("Succeeded", "Failed"):
                continue
            if st.get("podIP"):
                by_ip[st["podIP"]] = p
        bad = []
        for e in self.eips():
            t = self.tags(e)
            aid = e["AllocationId"]
            ours = t.get("ack.aliyun.com") == self.cluster_id
            if ours and t.get("eip-agent/type") != "Static" and aid not in kept and \
                    t.get("eip-agent/pod-uid") not in uids:
                bad.append(f"{aid} of gone pod {t.get('eip-agent/pod-name')} still allocated")
            if e.get("Status") in ("InUse", "Associating") and e.get("PrivateIpAddress"):
                holder = by_ip.get(e["PrivateIpAddress"])
                if holder is None:
                    bad.append(f"{aid} bound to {e['PrivateIpAddress']}, where no live pod is")
                elif ours and t.get("eip-agent/pod-uid") != holder["metadata"]["uid"]:
                    bad.append(f"{aid} bound to {e['PrivateIpAddress']}, now pod "
                               f"{holder['metadata']['name']}'s, not its own pod's")
        return bad

    def assert_no_leaks(self, kept=()):
        bad = self.leaks(kept)
        assert not bad, bad

    def wait_no_leaks(self, timeout=30, kept=()):
        wait_for(lambda: not self.leaks(kept), timeout, "no leaked EIPs")
        self.assert_no_leaks(kept)


def is_loopback(ip):
    return ipaddress.ip_address(ip).is_loopback


def worlds(tmp_path):
    """The body of a make_world fixture: yields make(**kw) -> a new World under
    tmp_path; at teardown closes every world made and fails with what their
    close() found (leaks, sanitizer reports)."""
    made = []

    def make(**kw):
        w = World(tmp_path / f"world{len(made)}", **kw)
        made.append(w)
        return w

    yield make
    errors = []
    for w in made:
        try:
            w.close()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        raise AssertionError("\n".join(errors))
