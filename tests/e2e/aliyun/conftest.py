# SPDX-License-Identifier: MIT
"""Fixtures for the aliyun/ client suite: an in-process simulated cloud
(tests/sim/cloudsim.py) and a runner for the C driver build/drivers/aliyun_cli."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "sim"))
import cloudsim  # noqa: E402

ACCESS_KEY_ID = "LTAIsimAccessKey0001"
ACCESS_KEY_SECRET = "simSecret0001"


@pytest.fixture(scope="session")
def ali_tls_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("aliyun-tls"))


@pytest.fixture
def sim(tmp_path, ali_tls_dir, test_seed):
    """A started Cloud with one ECS node (metadata served) and one virtual node,
    seeded with the test's seed; asynchronous tasks shortened for speed
    (associate/unassociate 0.2 s, release and bandwidth-package binding at once)."""
    c = cloudsim.Cloud(str(tmp_path / "cloud"), seed=test_seed)
    c.configure(associate_delay=0.2, unassociate_delay=0.2, release_delay=0, cbwp_delay=0)
    c.add_node("node-1")
    c.add_virtual_node("virtual-1")
    c.start(tls_dir=ali_tls_dir)
    c.start_metadata("node-1")
    yield c
    c.stop()


class Cli:
    """Runs aliyun_cli against the simulator; returns (rc, result dict, stderr)."""

    def __init__(self, path, sim):
        self.path = path
        self.sim = sim
        self.base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ALIYUN_CLI_ENDPOINT": f"https://127.0.0.1:{sim.port}",
            "EIP_AGENT_CLOUD_CA_FILE": sim.ca_file,
            "EIP_AGENT_METADATA_ENDPOINT": f"http://127.0.0.1:{sim.metadata_ports['node-1']}",
            "ALIYUN_CLI_BACKOFF_BASE_MS": "20",
            "ALIYUN_CLI_BACKOFF_CAP_MS": "400",
            "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:exitcode=86",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=86",
        }

    def static_env(self, **extra):
        env = dict(self.base_env, ALIYUN_CLI_ACCESS_KEY_ID=ACCESS_KEY_ID,
                   ALIYUN_CLI_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run(self, *args, env=None, timeout=60, input_cb=None):
        env = env if env is not None else self.static_env()
        p = subprocess.Popen([str(self.path), *args], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        lines = []
        if input_cb is not None:
            # the driver prints {"waiting":true} when it pauses for us
            line = p.stdout.readline()
            lines.append(line)
            input_cb()
        out, err = p.communicate(timeout=timeout)
        lines += out.splitlines()
        assert p.returncode != 86, f"sanitizer report:\n{err}"
        result = json.loads([ln for ln in lines if ln.strip()][-1]) if lines else {}
        return p.returncode, result, err


@pytest.fixture
def cli(driver, sim):
    return Cli(driver("aliyun_cli"), sim)
