# SPDX-License-Identifier: MIT
"""systemd integration without systemd as PID 1: the test binds the
NOTIFY_SOCKET itself, as systemd would, and checks what the agent sends; the
unit file is checked with systemd-analyze verify."""
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from agenttest import NotifySocket, wait_for


def healthz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_watchdog_stopping(start_agent, tmp_path, abstract):
    if abstract:
        address = f"@eip-agent-test-{os.getpid()}-{time.monotonic_ns()}"
    else:
        address = str(tmp_path / "notify.sock")
    ns = NotifySocket(address)
    try:
        a = start_agent(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"}, wait=False)
        t_ready, ready = ns.wait(lambda m: m.get("READY") == "1", 20, "READY=1")
        assert "waiting for" in ready.get("STATUS", ""), ready
        # READY=1 is sent after the socket listens: /healthz answers at once.
        a.wait_listening()
        assert healthz(a.port)

        # Watchdog every WATCHDOG_USEC/2 = 100 ms: at least 5 pings in ~1 s.
        wait_for(lambda: ns.poll(0.05) or ns.count("WATCHDOG", "1") >= 6, 5,
                 "6 WATCHDOG=1 pings")
        pings = [t for t, m in ns.messages if m.get("WATCHDOG") == "1"]
        gaps = [b - a_ for a_, b in zip(pings[1:], pings[2:])]
        assert all(0.03 < g < 0.5 for g in gaps), gaps

        a.signal(signal.SIGTERM)
        t_stop, stopping = ns.wait(lambda m: m.get("STOPPING") == "1", 10, "STOPPING=1")
        assert t_stop > t_ready
        a.stop()
        # No ping after STOPPING=1.
        ns.poll(0.3)
        after = [t for t, m in ns.messages if m.get("WATCHDOG") == "1" and t > t_stop]
        assert after == [], after
    finally:
        ns.close()


def test_no_watchdog_without_watchdog_usec(start_agent, tmp_path):
    address = str(tmp_path / "notify.sock")
    ns = NotifySocket(address)
    try:
        a = start_agent(env={"NOTIFY_SOCKET": address}, wait=False)
        ns.wait(lambda m: m.get("READY") == "1", 20, "READY=1")
        a.wait_listening()
        ns.poll(0.5)
        assert ns.count("WATCHDOG", "1") == 0
        a.stop()
        ns.wait(lambda m: m.get("STOPPING") == "1", 5, "STOPPING=1")
    finally:
        ns.close()


def test_watchdog_for_another_pid_is_ignored(start_agent, tmp_path):
    # WATCHDOG_PID names another process: the pings are not ours to send.
    address = str(tmp_path / "notify.sock")
    ns = NotifySocket(address)
    try:
        a = start_agent(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000",
                             "WATCHDOG_PID": "1"}, wait=False)
        ns.wait(lambda m: m.get("READY") == "1", 20, "READY=1")
        a.wait_listening()
        ns.poll(0.4)
        assert ns.count("WATCHDOG", "1") == 0
    finally:
        ns.close()


def test_unit_verifies_clean(repo, agent_bin, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = (repo / "systemd" / "eip-agent.service").read_text()
    assert "ExecStart=/usr/local/bin/eip-agent --config /etc/eip-agent/config.yaml" in unit
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "Restart=on-failure",
                 "EnvironmentFile=-/etc/eip-agent/eip-agent.env", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "LoadCredential=access-key-id:/etc/eip-agent/credentials/access-key-id",
                 "LoadCredential=access-key-secret:/etc/eip-agent/credentials/access-key-secret"):
        assert line in unit, line
    # verify insists that the binary exists: point ExecStart at the build.
    copy = unit.replace("ExecStart=/usr/local/bin/eip-agent", f"ExecStart={agent_bin}")
    assert copy != unit
    path = tmp_path / "eip-agent.service"
    path.write_text(copy)
    p = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                       timeout=60)
    out = (p.stdout + p.stderr).strip()
    assert p.returncode == 0, out
    assert out == "", out

    # And verify really complains about a broken unit (the check can fail).
    path.write_text(copy.replace("Type=notify", "Type=notifyy"))
    p = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert "notifyy" in p.stdout + p.stderr
