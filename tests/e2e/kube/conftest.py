# SPDX-License-Identifier: MIT
"""Fixtures for the Kubernetes simulator suite: a `simcluster up` process on a
temporary directory, raw HTTPS helpers (requests and watch streams, see
kubetest.py) and a real kubectl with a per-test --cache-dir and --kubeconfig."""
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from kubetest import KUBECTL, Cluster, start_proc, stop, test_seed  # noqa: E402

DEFAULT_ARGS = ("--nodes", "2", "--pod-start-delay", "0.2", "--bookmark-interval", "0.5")


@pytest.fixture
def make_cluster(tmp_path):
    """make_cluster(*args) -> Cluster from `simcluster up --dir <tmp> args`."""
    made = []

    def make(*args, name="cluster"):
        d = tmp_path / name
        d.mkdir()
        (d / "simcluster.log").touch()
        c = Cluster.__new__(Cluster)
        proc = start_proc(d, args or DEFAULT_ARGS)
        Cluster.__init__(c, d, proc)
        made.append(c)
        return c
    yield make
    for c in made:
        stop(c)


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for a module's tests that isolate themselves by namespace."""
    d = tmp_path_factory.mktemp("shared")
    (d / "simcluster.log").touch()
    c = Cluster.__new__(Cluster)
    Cluster.__init__(c, d, start_proc(d, DEFAULT_ARGS))
    yield c
    stop(c)


@pytest.fixture
def kubectl(tmp_path):
    """kubectl(cluster, *args, input=None, kubeconfig=None, check=True) -> CompletedProcess."""
    cache = tmp_path / "kube-cache"

    def run(cluster, *args, input=None, kubeconfig=None, check=True, timeout=30):
        cmd = [KUBECTL, "--cache-dir", str(cache), "--kubeconfig", kubeconfig or cluster.kubeconfig, *args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p
    run.cache = cache
    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Every failure says which seed the run used, and how to replay it."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        rep.sections.append(("seed", f"EIP_TEST_SEED={test_seed()} replays this run's random draws "
                                     f"(simulator faults, generated names, randomized tests)"))
