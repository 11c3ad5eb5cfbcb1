# SPDX-License-Identifier: MIT
"""Helpers for tests/e2e/agent: run build/eip-agent on 127.0.0.1 with a
minimal configuration, wait until /healthz answers, and stop it with SIGTERM
asserting exit 0 and no sanitizer report."""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
    "LSAN_OPTIONS": "exitcode=87",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=88",
}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")

# Variables that would change the agent's configuration behind a test's back.
AGENT_ENV_PREFIXES = ("EIP_AGENT_", "ALIBABA_CLOUD_")
AGENT_ENV_NAMES = ("NODE_NAME", "HOST_IP", "KUBECONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC",
                   "WATCHDOG_PID", "CREDENTIALS_DIRECTORY", "KUBERNETES_SERVICE_HOST",
                   "KUBERNETES_SERVICE_PORT")
# Tests may only reach loopback: without these the agent's defaults would ask
# 100.100.100.200 (instance metadata) and resolve *.aliyuncs.com. Port 9
# (discard) is closed here, so a check that gets that far fails fast.
LOOPBACK_ENDPOINTS = {
    "EIP_AGENT_METADATA_ENDPOINT": "http://127.0.0.1:9",
    "EIP_AGENT_VPC_ENDPOINT": "https://127.0.0.1:9",
    "EIP_AGENT_ECS_ENDPOINT": "https://127.0.0.1:9",
    "EIP_AGENT_STS_ENDPOINT": "https://127.0.0.1:9",
}

MINIMAL_CONFIG = """\
clusterID: c-e2e
nodeName: node-e2e
listen: 127.0.0.1:0
http:
  headerTimeoutMs: 600
"""


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(AGENT_ENV_PREFIXES) and k not in AGENT_ENV_NAMES}
    env.update(SAN_ENV)
    env.update(LOOPBACK_ENDPOINTS)
    if extra:
        env.update(extra)
    return env


def assert_no_sanitizer(text):
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"sanitizer report:\n{text}"


def wait_for(pred, timeout, what):
    """Polls pred() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Agent:
    def __init__(self, binary, workdir, config=MINIMAL_CONFIG, args=(), env=None):
        self.workdir = workdir
        self.config_path = workdir / "config.yaml"
        self.config_path.write_text(config)
        self.stderr_path = workdir / "agent.stderr"
        self.stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "--config", str(self.config_path), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr_file,
            env=clean_env(env))
        self.host = "127.0.0.1"
        self.port = None
        self.returncode = None

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def wait_listening(self, timeout=20):
        def port():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"agent exited with {self.proc.returncode}:\n{self.stderr()}")
            m = re.search(r"listening on http://(127\.\d+\.\d+\.\d+):(\d+);", self.stderr())
            if m:
                self.host = m.group(1)
            return int(m.group(2)) if m else None

        self.port = wait_for(port, timeout, "the 'listening on' log line")
        wait_for(self.healthy, timeout, "/healthz")
        return self

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url("/healthz"), timeout=2) as r:
                return r.status == 200 and r.read() == b"ok"
        except OSError:
            return False

    def url(self, path):
        return f"http://{self.host}:{self.port}{path}"

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=20):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"agent did not exit within {timeout}s:\n{self.stderr()}")
        finally:
            self.stderr_file.close()
        return self.returncode

    def stop(self):
        """SIGTERM; asserts exit 0 and a clean sanitizer run."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        rc = self.wait_exit()
        err = self.stderr()
        assert_no_sanitizer(err)
        assert rc == 0, f"agent exited with {rc}:\n{err}"
        return err


class NotifySocket:
    """A Unix datagram socket standing in for systemd's notification socket."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if address.startswith("@"):
            self.sock.bind("\0" + address[1:])
        else:
            self.sock.bind(address)
        self.address = address
        self.messages = []  # (monotonic time, {key: value})

    def poll(self, timeout):
        """Collects the datagrams that arrive within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            for t, m in self.messages:
                if pred(m):
                    return t, m
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout}s; got {self.messages}")
            self.poll(min(0.1, max(0.0, deadline - time.monotonic())))

    def count(self, key, value):
        return sum(1 for _, m in self.messages if m.get(key) == value)

    def close(self):
        self.sock.close()
