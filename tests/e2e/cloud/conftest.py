# SPDX-License-Identifier: MIT
"""Fixtures for the cloud simulator suite: an in-process cloudsim.Cloud on a
temporary directory with short delays. The TLS CA is made once per session.
cloudclient.py (this folder) is the suite's own signing client."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "sim"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import cloudsim  # noqa: E402


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cloudsim-tls"))


@pytest.fixture
def cloud(tmp_path, tls_dir, test_seed):
    """A started Cloud with two ECS nodes (metadata served) and one virtual node,
    seeded with the test's seed. For speed the asynchronous tasks are shortened
    (associate/unassociate 0.2 s, release and bandwidth-package binding at once);
    tests of the real timings set them back with cloud.configure()."""
    c = cloudsim.Cloud(str(tmp_path / "cloud"), seed=test_seed)
    c.configure(associate_delay=0.2, unassociate_delay=0.2, release_delay=0, cbwp_delay=0)
    c.add_node("node-1")
    c.add_node("node-2")
    c.add_virtual_node("virtual-1")
    c.start(tls_dir=tls_dir)
    c.start_metadata("node-1")
    c.start_metadata("node-2")
    yield c
    c.stop()
