# SPDX-License-Identifier: MIT
"""Fixtures for tests/e2e/agent (helpers in agenttest.py): start_agent, agent,
run_agent."""
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from agenttest import MINIMAL_CONFIG, Agent, assert_no_sanitizer, clean_env  # noqa: E402


@pytest.fixture
def start_agent(agent_bin, tmp_path):
    """start_agent(config=..., args=..., env=...) -> a listening Agent; every
    agent still running at teardown is stopped (and must exit 0)."""
    started = []

    def start(config=MINIMAL_CONFIG, args=(), env=None, wait=True):
        d = tmp_path / f"agent{len(started)}"
        d.mkdir()
        a = Agent(agent_bin, d, config, args, env)
        started.append(a)
        return a.wait_listening() if wait else a

    yield start
    for a in started:
        if a.returncode is None:
            a.stop()


@pytest.fixture
def agent(start_agent):
    """A running agent with the minimal configuration."""
    return start_agent()


@pytest.fixture
def run_agent(agent_bin, tmp_path):
    """run_agent(*args, config=None, env=None) -> CompletedProcess of a short run
    (flags, --check-config, startup errors); no sanitizer report allowed."""

    def run(*args, config=None, env=None, timeout=30):
        cmd = [str(agent_bin)]
        if config is not None:
            path = tmp_path / "run-config.yaml"
            path.write_text(config)
            cmd += ["--config", str(path)]
        cmd += [str(a) for a in args]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=clean_env(env), timeout=timeout)
        assert_no_sanitizer(p.stderr)
        return p

    return run
