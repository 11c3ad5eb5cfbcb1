# SPDX-License-Identifier: MIT
"""Fixtures for the agent on the simulated cluster and cloud (world.py):
make_world(nodes=..., ...) starts a simcluster; every world is torn down at the
end of the test, and every agent still running must stop cleanly (exit 0, no
sanitizer report)."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from world import World  # noqa: E402


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


@pytest.fixture
def world(make_world):
    """One node, its agent running and ready."""
    w = make_world(nodes=1)
    w.agent = w.start_agent("node-1")
    return w
