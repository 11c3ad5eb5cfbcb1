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
from world import World  # noqa: E402


@pytest.fixture(scope="session")
def base():
    """The rendered daemonset/ base: a list of objects."""
    return render("daemonset")


@pytest.fixture
def make_world(tmp_path):
    made = []

    def make(**kw):
        w = World(tmp_path / f"world{len(made)}", **kw)
        made.append(w)
        return w

    yield make
    errors = []
    for w in made:
        try:
            w.close()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))
