# SPDX-License-Identifier: MIT
"""Fixtures for the packaging suite (tests/e2e/pkg): the DaemonSet package as
`kubectl kustomize` renders it, and the simulated world of tests/e2e/eip
(world.py: a simcluster that enforces the package's RBAC, real agents)."""
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "eip"))

from pkgtest import render  # noqa: E402
from world import worlds  # noqa: E402


@pytest.fixture(scope="session")
def base():
    """The rendered daemonset/ base: a list of objects."""
    return render("daemonset")


@pytest.fixture
def make_world(tmp_path):
    yield from worlds(tmp_path)
