# SPDX-License-Identifier: MIT
"""Shared fixtures for the end-to-end suites (tests/e2e/<area>/test_*.py).

EIP_BUILD_DIR names the build tree (scripts/test sets it); the default is
<repo>/build. Area folders add their own conftest.py for their fixtures.

Randomness is replayable: EIP_TEST_SEED (decimal or 0x hex) seeds the `random`
module for the session and the `rng`/`test_seed` fixtures (one stream per test,
derived from the seed and the test's id, so one test replays alone). Without it a
seed is drawn; it is printed in the header and with every failure."""
import os
import pathlib
import random
import sys
import zlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("EIP_BUILD_DIR", REPO / "build")).resolve()

# The simulators are importable as plain modules (tests/sim/*.py).
sys.path.insert(0, str(REPO / "tests" / "sim"))


def _session_seed():
    text = os.environ.get("EIP_TEST_SEED", "").strip()
    if text:
        try:
            return int(text, 0)
        except ValueError:
            raise pytest.UsageError(f"EIP_TEST_SEED={text!r} is not an integer")
    return int.from_bytes(os.urandom(4), "big")


SEED = _session_seed()
random.seed(SEED)


def seed_for(nodeid):
    """The seed of one test: stable for a given EIP_TEST_SEED and test id."""
    return (SEED * 1000003 + zlib.crc32(nodeid.encode())) & 0xFFFFFFFF


def pytest_report_header(config):
    return f"EIP_TEST_SEED={SEED} (replay with: EIP_TEST_SEED={SEED})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        rep.sections.append(("EIP_TEST_SEED", f"EIP_TEST_SEED={SEED} (this test's seed "
                                              f"{seed_for(item.nodeid)}); replay with "
                                              f"EIP_TEST_SEED={SEED} pytest '{item.nodeid}'"))


@pytest.fixture
def test_seed(request):
    """This test's seed (for simulators and anything else that takes one)."""
    return seed_for(request.node.nodeid)


@pytest.fixture
def rng(test_seed):
    """A random.Random of this test, replayable with EIP_TEST_SEED."""
    return random.Random(test_seed)


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


@pytest.fixture(scope="session")
def agent_bin():
    path = BUILD / "eip-agent"
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (scripts/test)")
    return path


@pytest.fixture(scope="session")
def driver():
    """driver("name") -> path of build/drivers/<name>, a C program of tests/e2e/drivers."""

    def find(name):
        path = BUILD / "drivers" / name
        if not path.exists():
            pytest.fail(f"{path} is missing: build first (scripts/test)")
        return path

    return find
