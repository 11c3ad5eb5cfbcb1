# SPDX-License-Identifier: MIT
"""Fixtures for the agent on the simulated cluster and cloud (world.py):
make_world(nodes=..., ...) starts a simcluster; every world is torn down at the
end of the test, and every agent still running must stop cleanly (exit 0, no
sanitizer report)."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from world import worlds  # noqa: E402


@pytest.fixture
def make_world(tmp_path):
    yield from worlds(tmp_path)


@pytest.fixture
def world(make_world):
    """One node, its agent running and ready."""
    w = make_world(nodes=1)
    w.agent = w.start_agent("node-1")
    return w
