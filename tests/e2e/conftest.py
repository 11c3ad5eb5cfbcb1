# SPDX-License-Identifier: MIT
"""Shared fixtures for the end-to-end suites (tests/e2e/<area>/test_*.py).

EIP_BUILD_DIR names the build tree (scripts/test sets it); the default is
<repo>/build. Area folders add their own conftest.py for their fixtures."""
import os
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("EIP_BUILD_DIR", REPO / "build")).resolve()

# The simulators are importable as plain modules (tests/sim/*.py).
sys.path.insert(0, str(REPO / "tests" / "sim"))


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
