# SPDX-License-Identifier: MIT
"""eip-agent.service on a test host, outside the cluster, without systemd as PID 1:
the files are installed as systemd/README.md says (under a temporary root), and
the agent is started the way the unit starts it: the command of ExecStart=, only
the environment of EnvironmentFile= (filled in for the simulated node: NODE_NAME,
the cluster's id, a kubeconfig, the simulated endpoints), the AccessKey copied
from the LoadCredential= sources into a private $CREDENTIALS_DIRECTORY, and a
NOTIFY_SOCKET the test binds with WATCHDOG_USEC set. Against the simulators it
sends READY=1, binds a pod's EIP with credentials it read from files only, pings
the watchdog at half its period, and on SIGTERM (systemctl stop) sends
STOPPING=1 and exits 0."""
import re
import shlex
import shutil
import signal
import subprocess
import time

from agenttest import SAN_ENV, NotifySocket, assert_no_sanitizer
from pkgtest import REPO
from world import P, HttpJson, wait_for

UNIT = REPO / "systemd" / "eip-agent.service"


def service_directives(text):
    """[Service] Key=value lines, each key's values in order."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def environment_file(text):
    """KEY=VALUE lines as systemd reads an EnvironmentFile= (comments and blanks skipped)."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        k, _, v = line.partition("=")
        env[k.strip()] = v.strip()
    return env


def test_agent_the_way_the_unit_runs_it(make_world, tmp_path, agent_bin):
    w = make_world(nodes=1)
    sim = w.node_env("node-1")
    unit = service_directives(UNIT.read_text())
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["WatchdogSec"] == ["30s"]
    root = tmp_path / "root"  # stands for /

    def host(path):
        return root / path.lstrip("/")

    # installed as systemd/README.md says
    etc = host("/etc/eip-agent")
    (etc / "credentials").mkdir(parents=True)
    (etc / "config.yaml").write_text(
        (REPO / "systemd" / "config.yaml.example").read_text().replace("/etc/eip-agent/",
                                                                          f"{etc}/"))
    shutil.copy(w.dir / "agent.kubeconfig", etc / "kubeconfig")  # the agent's identity
    (etc / "credentials" / "access-key-id").write_text(sim["ALIBABA_CLOUD_ACCESS_KEY_ID"] + "\n")
    (etc / "credentials" / "access-key-secret").write_text(
        sim["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] + "\n")
    for f in (etc / "credentials").iterdir():
        f.chmod(0o600)
    # the example environment file, filled in for the simulated node
    text = (REPO / "systemd" / "eip-agent.env.example").read_text()
    values = {"NODE_NAME": "node-1", "EIP_AGENT_CLUSTER_ID": sim["EIP_AGENT_CLUSTER_ID"],
              "KUBECONFIG": str(etc / "kubeconfig"), "EIP_AGENT_LISTEN": "127.0.0.1:0",
              "EIP_AGENT_REGION_ID": sim["EIP_AGENT_REGION_ID"],
              "EIP_AGENT_VPC_ID": sim["EIP_AGENT_VPC_ID"]}
    for k in ("EIP_AGENT_VPC_ENDPOINT", "EIP_AGENT_ECS_ENDPOINT", "EIP_AGENT_STS_ENDPOINT",
              "EIP_AGENT_METADATA_ENDPOINT", "EIP_AGENT_CLOUD_CA_FILE"):
        values[k] = sim[k]
    for k, v in values.items():
        text, n = re.subn(rf"^(# )?{k}=.*$", f"{k}={v}", text, flags=re.M)
        assert n == 1, f"{k} is not in systemd/eip-agent.env.example"
    (etc / "eip-agent.env").write_text(text)

    # what systemd does when it starts the unit
    (env_file,) = unit["EnvironmentFile"]
    env = environment_file(host(env_file.lstrip("-")).read_text())
    assert not [k for k in env if k.startswith("ALIBABA_CLOUD_")]
    creds = tmp_path / "run-credentials" / "eip-agent.service"  # $CREDENTIALS_DIRECTORY
    creds.mkdir(parents=True)
    creds.chmod(0o700)
    for spec in unit["LoadCredential"]:
        cid, _, src = spec.partition(":")
        shutil.copy(host(src), creds / cid)
        (creds / cid).chmod(0o400)
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    env.update({"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(creds),
                "NOTIFY_SOCKET": notify.address,
                # the unit's WatchdogSec=30s would be 30000000; a second keeps the test short
                "WATCHDOG_USEC": "1000000", **SAN_ENV})
    (cmd,) = unit["ExecStart"]
    argv = shlex.split(cmd)
    assert argv[0] == "/usr/local/bin/eip-agent"
    argv = [str(agent_bin)] + [str(host(a)) if a.startswith("/etc/") else a for a in argv[1:]]
    journal = tmp_path / "journal.log"
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=open(journal, "w"),
                            stderr=subprocess.STDOUT)
    try:
        t_ready, ready = notify.wait(lambda m: m.get("READY") == "1", 20, "READY=1")
        assert "listening on 127.0.0.1:" in ready.get("STATUS", ""), ready
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", ready["STATUS"]).group(1))
        api = HttpJson(f"http://127.0.0.1:{port}")
        wait_for(lambda: api.call("GET", "/readyz", ok=None)[0] == 200, 30, "ready")
        notify.wait(lambda m: m.get("STATUS", "").endswith("; ready"), 10, "STATUS=...; ready")

        # it does its job: a pod's EIP, with the AccessKey from the credential files only
        w.create_pod("on-host", {P + "pod-with-eip": "true"}, node="node-1")
        w.wait_bound("on-host")
        wait_for(lambda: api.call("GET", "/v1/pods/default/on-host", ok=None)[1].get("state")
                 == "Bound", 10, "on-host Bound in /v1/pods")
        assert "cloud credentials loaded from static" in journal.read_text()
        secret = sim["ALIBABA_CLOUD_ACCESS_KEY_SECRET"].encode()
        for f in ("environ", "cmdline"):
            assert secret not in open(f"/proc/{proc.pid}/{f}", "rb").read(), f
        assert secret.decode() not in journal.read_text()

        # the watchdog at half its period (what queued meanwhile is read first, then
        # the datagrams are timed as they come)
        notify.poll(0.05)
        assert notify.count("WATCHDOG", "1") >= 2
        notify.messages.clear()
        wait_for(lambda: notify.poll(0.05) or notify.count("WATCHDOG", "1") >= 4, 10,
                 "4 WATCHDOG=1 pings")
        pings = [t for t, m in notify.messages if m.get("WATCHDOG") == "1"]
        gaps = [b - a for a, b in zip(pings[1:], pings[2:])]
        assert all(0.3 < g < 0.9 for g in gaps), gaps

        # systemctl stop: SIGTERM, STOPPING=1, exit 0 well within TimeoutStopSec
        assert unit["TimeoutStopSec"] == ["30s"]
        t_term = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        t_stop, _ = notify.wait(lambda m: m.get("STOPPING") == "1", 10, "STOPPING=1")
        rc = proc.wait(30)
        assert rc == 0, journal.read_text()[-3000:]
        assert time.monotonic() - t_term < 15
        notify.poll(0.2)
        assert not [t for t, m in notify.messages if m.get("WATCHDOG") == "1" and t > t_stop]
        assert_no_sanitizer(journal.read_text())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
