# SPDX-License-Identifier: MIT
"""The agent's page for people (GET /), loaded in headless Chromium (Debian's
`chromium`) against a running agent with bound pods: what the browser renders
(the DOM after loading, no script involved) shows the node, the agent's
readiness and one row per EIP pod with its state, EIP, ENI, strategy and time
to bind, matching /v1/pods; the page refreshes itself and loads nothing else
(its Content-Security-Policy would refuse it, and Chromium would log that); it has
no script (the policy would block one too)."""
import html.parser
import shutil
import subprocess

from world import P, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def dump_dom(url, tmp_path):
    """The DOM Chromium builds for url, and what it logged."""
    log = tmp_path / "chromium.log"
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--log-level=0",
                        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", url],
                       stdout=subprocess.PIPE, stderr=open(log, "w"), text=True, timeout=120)
    assert p.returncode == 0, log.read_text()[-3000:]
    return p.stdout, log.read_text()


class Page(html.parser.HTMLParser):
    """The parts of the page a person reads: texts by id, the table's rows, meta tags."""

    def __init__(self, text):
        super().__init__()
        self.by_id, self.rows, self.meta, self.tags = {}, {}, [], []
        self._id_stack, self._row, self._cell = [], None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "meta":
            self.meta.append(a)
        if "id" in a:
            self._id_stack.append([a["id"], tag, ""])
        if tag == "tr" and "data-pod" in a:
            self._row = {"pod": a["data-pod"], "state": a.get("data-state"), "cells": []}
        if tag == "td" and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if self._id_stack and self._id_stack[-1][1] == tag:
            i, _, text = self._id_stack.pop()
            self.by_id[i] = " ".join(text.split())
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join(self._cell.split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows[self._row["pod"]] = self._row
            self._row = None

    def handle_data(self, data):
        for entry in self._id_stack:
            entry[2] += data
        if self._cell is not None:
            self._cell += data


COLUMNS = ["pod", "ip", "state", "eip", "eni", "strategy", "bind", "message"]


def test_page_in_headless_chromium(make_world, tmp_path):
    w = make_world(nodes=1)
    a = w.start_agent("node-1")
    w.create_pod("web-1", {P + "pod-with-eip": "true"})
    w.create_pod("db-0", {P + "pod-with-eip": "true", P + "pod-eip-release-strategy": "10m"})
    static = w.create_eip()["AllocationId"]
    w.create_pod("pinned", {P + "pod-eip-instanceid": static})
    for n in ("web-1", "db-0", "pinned"):
        w.wait_bound(n)
    # and one the cloud keeps refusing
    w.cloud_faults({"action": "AllocateEipAddress", "preset": "QuotaExceeded.Eip"})
    w.create_pod("no-quota", {P + "pod-with-eip": "true"})
    w.wait_view(a, "no-quota", lambda v: v["state"] == "Failed")

    dom, log = dump_dom(f"http://127.0.0.1:{a.port}/", tmp_path)
    page = Page(dom)
    _, api = w.agent_get(a, "/v1/pods")
    views = {f"{v['namespace']}/{v['name']}": v for v in api["pods"]}

    assert page.by_id["node"] == "node-1"
    assert page.by_id["readiness"] == "Ready"
    assert page.by_id["summary"].startswith("4 EIP pods:"), page.by_id["summary"]
    assert {"http-equiv": "refresh", "content": "5"} in page.meta
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    # nothing the page's Content-Security-Policy had to block, no console message at all
    # (Chromium logs them as INFO:CONSOLE lines: "Loading the image ... violates ...")
    assert ":CONSOLE" not in log and "Content Security Policy" not in log, log

    assert set(page.rows) == set(views), (sorted(page.rows), sorted(views))
    for pod, row in page.rows.items():
        v = views[pod]
        cells = dict(zip(COLUMNS, row["cells"]))
        assert row["state"] == v["state"]
        assert cells["pod"] == pod
        assert cells["ip"] == v["podIP"]
        assert cells["state"].startswith(v["state"] + " for "), cells
        if v["state"] == "Bound":
            assert cells["eip"] == v["eipAddress"] and cells["eip"]
            assert cells["eni"] == v["networkInterfaceId"] and cells["eni"].startswith("eni-")
            assert cells["bind"] == f"{v['bindSeconds']:.2f} s", (cells, v)
    rows = {p.split("/")[1]: dict(zip(COLUMNS, r["cells"])) for p, r in page.rows.items()}
    assert rows["web-1"]["strategy"] == "Auto, Follow"
    assert rows["db-0"]["strategy"] == "Auto, TTL 10m"
    assert rows["pinned"]["strategy"].startswith("Static")
    assert rows["pinned"]["eip"] == w.eip(static)["IpAddress"]
    assert page.rows["default/no-quota"]["state"] == "Failed"
    assert "QuotaExceeded.Eip" in rows["no-quota"]["message"]
    assert rows["no-quota"]["bind"] == "–"


def test_page_of_an_agent_not_ready(make_world, tmp_path):
    """An agent that cannot reach the API server: the page says so, and why."""
    w = make_world(nodes=1)
    a = w.start_agent("node-1", env={"KUBECONFIG": str(tmp_path / "missing.kubeconfig")},
                      wait_ready=False)
    wait_for(lambda: "pods-synced" in str(w.agent_get(a, "/readyz")[1]), 20, "the reason")
    dom, log = dump_dom(f"http://127.0.0.1:{a.port}/", tmp_path)
    page = Page(dom)
    assert page.by_id["node"] == "node-1"
    assert page.by_id["readiness"] == "Not ready"
    assert "pods-synced:" in page.by_id["reasons"] and "missing.kubeconfig" in page.by_id["reasons"]
    assert page.by_id["summary"] == "0 EIP pods"
    assert "No EIP pods on this node." in dom
