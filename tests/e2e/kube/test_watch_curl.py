# SPDX-License-Identifier: MIT
"""Watch semantics seen through the real curl command (an HTTP client that is
neither ours nor Python's): 410 as an ERROR event, bookmarks, and objects
entering and leaving a field selector."""
import json
import queue
import subprocess
import threading
import urllib.parse

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"


class CurlWatch:
    """curl -sN on a watch URL; one JSON event per line, then curl's own
    'HTTP <code> EXIT' trailer line once the server ends the stream."""

    def __init__(self, c, path, **query):
        q = urllib.parse.urlencode({"watch": "true", **{k: str(v) for k, v in query.items()}})
        url = f"{c.info['kube']['server']}{path}?{q}"
        self.proc = subprocess.Popen(
            ["curl", "-sSN", "--cacert", c.info["kube"]["ca_file"],
             "-H", f"Authorization: Bearer {c.token('admin')}",
             "-H", "Accept: application/json",
             "--write-out", "\nHTTP %{http_code} %{content_type}\n", url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.lines.put(line.strip())
        self.lines.put(None)

    def next(self, timeout=10):
        """The next event (dict), or ('HTTP', code, content_type) at the end."""
        line = self.lines.get(timeout=timeout)
        if line is None:
            return None
        if line.startswith("HTTP "):
            _, code, ctype = line.split(" ", 2)
            return ("HTTP", int(code), ctype)
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


def test_curl_sees_410_as_an_error_event_then_a_clean_end(cluster):
    c = cluster
    c.ok("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    rv = c.rv()
    c.ok("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}})
    assert c.sim("POST", "/__sim/faults", {"compact": True}).status == 200
    w = CurlWatch(c, CMS, resourceVersion=rv)
    try:
        ev = w.next()
        assert ev["type"] == "ERROR", ev
        assert ev["object"]["kind"] == "Status"
        assert (ev["object"]["reason"], ev["object"]["code"]) == ("Expired", 410)
        # HTTP 200 (the error is in the stream, not the status) and the stream ends
        assert w.next() == ("HTTP", 200, "application/json")
        assert w.proc.wait(timeout=10) == 0  # curl saw a clean end of the chunked body
    finally:
        w.close()


def test_curl_sees_bookmarks_only_when_asked(cluster):
    c = cluster  # bookmark interval 0.5 s (kube/conftest.py)
    rv = c.rv()
    with_bm = CurlWatch(c, CMS, resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds=2)
    without = CurlWatch(c, CMS, resourceVersion=rv, timeoutSeconds=2)
    try:
        got = []
        while (ev := with_bm.next()) is not None and not isinstance(ev, tuple):
            got.append(ev)
        assert got and all(e["type"] == "BOOKMARK" for e in got), got
        assert all(set(e["object"]["metadata"]) == {"resourceVersion"} for e in got)
        assert without.next() == ("HTTP", 200, "application/json")  # no event at all
    finally:
        with_bm.close()
        without.close()


def test_curl_sees_pods_enter_and_leave_a_field_selector(cluster):
    c = cluster
    rv = c.rv()
    node2 = CurlWatch(c, PODS, resourceVersion=rv, fieldSelector="spec.nodeName=node-2")
    running = CurlWatch(c, PODS, resourceVersion=rv, fieldSelector="status.phase=Running")
    try:
        # Unscheduled at creation: the pod enters spec.nodeName=node-2 when bound.
        c.pod("p", node_selector={"kubernetes.io/hostname": "node-2"})
        ev = node2.next()
        assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "p")
        assert ev["object"]["spec"]["nodeName"] == "node-2"
        ev = running.next()
        assert (ev["type"], ev["object"]["status"]["phase"]) == ("ADDED", "Running")
        c.ok("POST", "/__sim/kubelet", {"name": "p", "phase": "Succeeded"})
        ev = running.next()  # leaving the selector
        assert ev["type"] == "DELETED"
        assert int(ev["object"]["metadata"]["resourceVersion"]) > rv
    finally:
        node2.close()
        running.close()
