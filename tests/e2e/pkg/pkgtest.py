# SPDX-License-Identifier: MIT
"""Helpers for tests/e2e/pkg: render a kustomization with the real kubectl, find
objects in the result, run commands with a deadline."""
import pathlib
import re
import shutil
import subprocess

import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def render(path):
    """kubectl kustomize PATH (relative to the repository, or absolute) -> objects."""
    p = subprocess.run([KUBECTL, "kustomize", str(REPO / path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, f"kubectl kustomize {path}:\n{p.stderr}"
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def find(objs, kind, name=None):
    """The one object of kind (and name; a generated name matches its prefix)."""
    hits = [o for o in objs if o["kind"] == kind and
            (name is None or o["metadata"]["name"] == name or
             re.fullmatch(re.escape(name) + r"-[a-z0-9]{10}", o["metadata"]["name"]))]
    assert len(hits) == 1, f"{kind} {name or ''}: {len(hits)} found"
    return hits[0]


def project_version():
    m = re.search(r"project\(eip-agent VERSION (\S+)", (REPO / "CMakeLists.txt").read_text())
    assert m, "no project VERSION in CMakeLists.txt"
    return m.group(1)


def container(obj, name=None):
    cs = obj["spec"]["template"]["spec"]["containers"]
    return cs[0] if name is None else next(c for c in cs if c["name"] == name)


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def node_cidr(rng):
    """A /24 of 127.0.0.0/8 for a cluster's nodes (simcluster --node-cidr), away from
    the default 127.0.9.0/24 and the pods' 127.0.10.0/24, so that agents listening on
    their node's address and port 9469 do not meet those of another run."""
    return f"127.{rng.randrange(64, 128)}.{rng.randrange(0, 256)}.0/24"
