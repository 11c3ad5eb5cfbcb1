# SPDX-License-Identifier: MIT
"""eip-agent as a process: flags, configuration errors, the health endpoints
(with the real curl), metrics, and abuse of the local HTTP server."""
import json
import re
import signal
import socket
import subprocess
import time

import pytest

from agenttest import wait_for


def curl(agent, path, *extra):
    """Runs curl; returns (status, headers dict, body)."""
    p = subprocess.run(["curl", "-sS", "-i", "--max-time", "5", *extra, agent.url(path)],
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p.stderr.decode()
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def raw_exchange(port, data, timeout=5.0):
    """Sends raw bytes, reads until the server closes (or timeout): (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return got, False
            except ConnectionResetError:
                return got, True
            if not chunk:
                return got, True
            got += chunk
        return got, False
    finally:
        s.close()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+]+|[+-]Inf|NaN)$')


def parse_metrics(text):
    """Checks the exposition format; returns {sample name+labels: value}."""
    samples = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            typed.add(name)
            if kind == "histogram":
                typed.update({name + "_bucket", name + "_sum", name + "_count"})
            continue
        m = SAMPLE.match(line)
        assert m, f"bad sample line: {line!r}"
        assert m.group(1) in typed, f"sample before its TYPE: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def test_healthz(agent):
    status, headers, body = curl(agent, "/healthz")
    assert status == 200
    assert body == b"ok"
    assert headers["content-type"].startswith("text/plain")


def test_readyz_not_ready_with_reasons(agent):
    status, headers, body = curl(agent, "/readyz")
    assert status == 503
    assert headers["content-type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["ready"] is False
    assert any(r.startswith("pods-synced") for r in doc["reasons"]), doc
    assert any(r.startswith("credentials-loaded") for r in doc["reasons"]), doc


def test_metrics_format_and_request_counter(agent):
    status, headers, body = curl(agent, "/metrics")
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    s = parse_metrics(text)
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                 "process_start_time_seconds", "process_open_fds"):
        assert name in s, name
        assert f"# HELP {name} " in text and f"# TYPE {name} " in text
    assert s["process_resident_memory_bytes"] > 1 << 20
    assert abs(s["process_start_time_seconds"] - time.time()) < 600
    assert s["eip_agent_build_info{version=\"0.1.0\"}"] == 1
    assert "# TYPE eip_agent_http_requests_total counter" in text

    key = 'eip_agent_http_requests_total{path="/healthz",code="200"}'
    before = s.get(key, 0)
    for _ in range(3):
        assert curl(agent, "/healthz")[0] == 200
    assert curl(agent, "/no/such/thing/123")[0] == 404
    assert curl(agent, "/v1/pods/ns/name/really/long")[0] == 404
    s = parse_metrics(curl(agent, "/metrics")[2].decode())
    assert s[key] == before + 3
    # Unmatched paths share one series: bounded cardinality, no raw paths.
    assert s['eip_agent_http_requests_total{path="other",code="404"}'] == 2
    assert not any("no/such" in k for k in s)
    assert s['eip_agent_http_requests_total{path="/metrics",code="200"}'] >= 1


def test_404_and_405_are_json(agent):
    status, headers, body = curl(agent, "/nope")
    assert status == 404
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["status"] == 404
    status, headers, body = curl(agent, "/healthz", "-X", "POST")
    assert status == 405
    assert json.loads(body)["status"] == 405
    assert "GET" in headers.get("allow", "")


def test_garbage_gets_400_and_close(agent):
    got, closed = raw_exchange(agent.port, b"\x00\x01\x02 garbage \xff\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400"), got
    assert closed
    assert agent.healthy()


def test_oversized_headers_get_431(agent):
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    got, closed = raw_exchange(agent.port, req)
    assert got.startswith(b"HTTP/1.1 431"), got[:100]
    assert closed
    assert agent.healthy()


def test_long_url_gets_414(agent):
    req = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    got, closed = raw_exchange(agent.port, req)
    assert got.startswith(b"HTTP/1.1 414"), got[:100]
    assert closed
    assert agent.healthy()


def test_slow_client_closed_after_header_timeout(agent):
    # headerTimeoutMs is 600 in the minimal configuration.
    t0 = time.monotonic()
    got, closed = raw_exchange(agent.port, b"GET /heal", timeout=10)
    elapsed = time.monotonic() - t0
    assert closed, "a stalled client was not disconnected"
    assert 0.5 <= elapsed < 5, elapsed
    assert got == b"" or got.startswith(b"HTTP/1.1 408"), got
    assert agent.healthy()


def test_many_concurrent_connections(agent):
    socks = [socket.create_connection(("127.0.0.1", agent.port), timeout=10) for _ in range(200)]
    try:
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for s in socks:
            got = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            assert got.startswith(b"HTTP/1.1 200"), got
            assert got.endswith(b"\r\n\r\nok")
    finally:
        for s in socks:
            s.close()
    assert agent.healthy()


def test_keepalive_pipelined(agent):
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + \
        b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got, closed = raw_exchange(agent.port, req)
    assert closed
    assert got.count(b"HTTP/1.1 200") == 3
    assert got.count(b"HTTP/1.1 503") == 1


def test_unknown_flag_exits_2_with_usage(run_agent):
    p = run_agent("--no-such-flag")
    assert p.returncode == 2
    assert "Usage:" in p.stderr
    assert "--no-such-flag" in p.stderr
    assert p.stdout == ""


def test_version_and_help(run_agent):
    p = run_agent("--version")
    assert p.returncode == 0
    assert re.fullmatch(r"eip-agent \d+\.\d+\.\d+\n", p.stdout), p.stdout
    p = run_agent("--help")
    assert p.returncode == 0
    assert p.stdout.startswith("Usage:")
    for flag in ("--config", "--check-config", "--listen", "--node-name", "--cluster-id",
                 "--log-level", "--log-format", "--kubeconfig", "--version"):
        assert flag in p.stdout, flag
    assert p.stderr == ""


def test_malformed_yaml_exits_2_with_file_line(run_agent, tmp_path):
    p = run_agent(config="clusterID: a\nnodeName: [b\nlisten: x\n")
    assert p.returncode == 2
    path = tmp_path / "run-config.yaml"
    assert re.search(rf"{re.escape(str(path))}:\d+: malformed YAML", p.stderr), p.stderr


def test_bad_values_exit_2_naming_the_key(run_agent, tmp_path):
    path = tmp_path / "run-config.yaml"
    p = run_agent(config="clusterID: a\nnodeName: b\naliyun:\n  qps: fast\n")
    assert p.returncode == 2
    assert f"{path}:4: aliyun.qps: 'fast' is not an integer" in p.stderr
    p = run_agent(config="clusterID: a\nnodeName: b\nlogLevel: [x]\n")
    assert p.returncode == 2
    assert f"{path}:3: logLevel: expected a string" in p.stderr
    p = run_agent("--listen", "nowhere", config="clusterID: a\nnodeName: b\n")
    assert p.returncode == 2
    assert "listen: 'nowhere' is not a valid address" in p.stderr
    p = run_agent(config="clusterID: a\n")
    assert p.returncode == 2
    assert "nodeName is required" in p.stderr


def test_listen_address_in_use_exits_1(run_agent):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        p = run_agent("--listen", f"127.0.0.1:{port}", "--node-name", "n", "--cluster-id", "c")
    finally:
        holder.close()
    assert p.returncode == 1
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    assert "address already in use" in lines[0]


def test_check_config_valid(run_agent):
    # No cluster or cloud here (test_check_sim.py has them): their checks fail,
    # the configuration itself is valid (not 2) and its dump is redacted.
    p = run_agent("--check-config", "--listen", "127.0.0.1:0",
                  config="clusterID: c1\nnodeName: n1\ncredential:\n  accessKey: AKIDXYZ\n"
                         "  accessSecret: SHOULDNOTAPPEAR\n")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "SHOULDNOTAPPEAR" not in p.stdout + p.stderr
    assert "AKIDXYZ" not in p.stdout + p.stderr
    assert "credential.accessSecret: (set, redacted)" in p.stdout
    assert "clusterID: c1" in p.stdout
    assert re.search(r"^ok   listen: 127\.0\.0\.1:0 can be bound$", p.stdout, re.M), p.stdout
    failed = re.findall(r"^FAIL (\w+): ", p.stdout, re.M)
    assert sorted(failed) == ["aliyun", "kubernetes"], p.stdout


def test_check_config_failing_check_exits_1(run_agent):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        p = run_agent("--check-config", "--listen", f"127.0.0.1:{port}",
                      config="clusterID: c1\nnodeName: n1\n")
    finally:
        holder.close()
    assert p.returncode == 1
    assert re.search(rf"^FAIL listen: 127\.0\.0\.1:{port}: address already in use$", p.stdout,
                     re.M), p.stdout


def test_check_config_invalid_exits_2(run_agent):
    p = run_agent("--check-config", config="clusterID: c1\nnodeName: n1\nlogFormat: xml\n")
    assert p.returncode == 2
    assert "logFormat: 'xml' is not a log format" in p.stderr


def test_flags_override_env_override_file(start_agent):
    # file says debug, env says warn, flag says error: the flag wins, so the
    # info-level "listening" line is absent; the port is found through /healthz.
    a = start_agent(config="clusterID: c\nnodeName: n\nlisten: 127.0.0.1:1\nlogLevel: debug\n",
                    env={"EIP_AGENT_LOG_LEVEL": "warn", "EIP_AGENT_LISTEN": "127.0.0.1:2"},
                    args=("--listen", "127.0.0.1:0", "--log-level", "info"), wait=True)
    assert a.port not in (1, 2)
    assert "debug" not in a.stderr()
    assert a.healthy()


def test_sighup_reloads_log_level(start_agent):
    a = start_agent()
    a.config_path.write_text(a.config_path.read_text() + "logLevel: debug\nlogFormat: json\n")
    a.signal(signal.SIGHUP)
    wait_for(lambda: "log level changed from info to debug" in a.stderr(), 10, "the reload log")
    wait_for(lambda: "log format changed from text to json" in a.stderr(), 10, "the format log")
    # Broken file: the old settings stay, the agent keeps running.
    a.config_path.write_text("logLevel: [\n")
    a.signal(signal.SIGHUP)
    wait_for(lambda: "configuration not reloaded" in a.stderr(), 10, "the reload error")
    assert a.healthy()


def test_sigterm_drains_with_open_connections(start_agent):
    a = start_agent()
    idle = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    half = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    try:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        err = a.stop()
        assert "received SIGTERM" in err and "stopping: draining" in err and "stopped" in err
    finally:
        idle.close()
        half.close()


@pytest.mark.parametrize("round", range(5))
def test_double_sigterm_exits_0(start_agent, round):
    # The second signal lands during the drain or after it; either way the
    # agent exits 0 promptly and is never killed by it.
    a = start_agent()
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        a.signal(signal.SIGTERM)
        if round % 2:
            wait_for(lambda: "stopping" in a.stderr(), 10, "the drain to start")
        a.signal(signal.SIGTERM)
        a.stop()
        assert time.monotonic() - t0 < 10
    finally:
        s.close()


def test_sigint_exits_0(start_agent):
    a = start_agent()
    a.signal(signal.SIGINT)
    assert a.wait_exit() == 0
    assert "received SIGINT" in a.stderr()


def test_unknown_keys_warned_not_fatal(run_agent, tmp_path):
    p = run_agent("--check-config", "--listen", "127.0.0.1:0",
                  config="clusterID: c1\nnodeName: n1\nimage:\n  repository: x\n"
                         "networkController:\n  eipController:\n    somethingNew: 1\n")
    assert p.returncode == 1, p.stdout + p.stderr  # valid; only the dependency checks fail
    path = tmp_path / "run-config.yaml"
    assert f"{path}:3: unknown key 'image' ignored" in p.stderr
    assert f"{path}:7: unknown key 'networkController.eipController.somethingNew' ignored" \
        in p.stderr


def test_shipped_examples_are_valid(run_agent, repo):
    example = repo / "systemd" / "config.yaml.example"
    p = run_agent("--config", example, "--check-config", "--node-name", "n1",
                  "--listen", "127.0.0.1:0")
    # 0 or 1 depending on which dependency checks are registered, never a
    # configuration error (2).
    assert p.returncode in (0, 1), p.stdout + p.stderr
    assert f"configuration (file {example})" in p.stdout
    assert "maxConcurrentReconciles: 4" in p.stdout
    assert "unknown key" not in p.stderr
