# SPDX-License-Identifier: MIT
"""daemonset/Dockerfile without a container engine: the build stage's commands run
on this Debian 12 host over the files its COPY lines bring (so the COPY list is
complete), and `ldd` shows that every library the binary needs comes from a
package the runtime stage installs (or one those depend on), and that the
runtime stage installs nothing the binary does not need but the CA certificates.
The stages are Debian 12, the build stage installs only what scripts/deps
installs, and the runtime user is the DaemonSet's."""
import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from pkgtest import REPO, project_version

DOCKERFILE = REPO / "daemonset" / "Dockerfile"


def stages():
    """[{"base", "name", "ops": [(INSTRUCTION, args)]}], continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            m = re.fullmatch(r"(\S+)(?: AS (\S+))?", args.strip(), re.I)
            out.append({"base": m.group(1), "name": m.group(2), "ops": []})
        else:
            out[-1]["ops"].append((op, " ".join(args.split())))
    return out


def apt_installs(stage):
    pkgs = []
    for op, args in stage["ops"]:
        if op == "RUN" and "apt-get install" in args:
            words = args.split("apt-get install", 1)[1].split("&&")[0].split()
            pkgs += [w for w in words if not w.startswith("-")]
    return pkgs


def deps_packages():
    text = (REPO / "scripts" / "deps").read_text()
    m = re.search(r"pkgs=\((.*?)\)", text, re.S)
    return set(m.group(1).split())


def test_stages():
    build, runtime = stages()
    assert build["base"] == "debian:12" and build["name"] == "build"
    assert runtime["base"] == "debian:12-slim" and runtime["name"] is None
    # the build stage installs only what scripts/deps installs (the same build everywhere)
    missing = set(apt_installs(build)) - deps_packages() - {"libc6-dev"}
    assert not missing, f"the build stage installs what scripts/deps does not: {missing}"
    ops = dict(runtime["ops"][::-1])  # the last of each instruction
    # the DaemonSet's user, and the binary the build stage made
    ds = yaml.safe_load((REPO / "daemonset" / "daemonset.yaml").read_text())
    psc = ds["spec"]["template"]["spec"]["securityContext"]
    assert ops["USER"] == f"{psc['runAsUser']}:{psc['runAsGroup']}"
    assert ops["ENTRYPOINT"] == '["/usr/local/bin/eip-agent"]'
    assert ops["COPY"] == "--from=build /src/build/eip-agent /usr/local/bin/eip-agent"
    assert ops["EXPOSE"] == "9469"
    args = yaml.safe_load(ops["CMD"])
    assert args == ds["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"eip-agent:{project_version()}" in DOCKERFILE.read_text()


def _pkg_of(path):
    """The Debian package that installed a file (usrmerge: /lib and /usr/lib alike)."""
    real = subprocess.run(["readlink", "-f", path], capture_output=True, text=True).stdout.strip()
    tries = []
    for p in (path, real):
        tries += [p, re.sub(r"^/usr/", "/", p), "/usr" + p if not p.startswith("/usr/") else p]
    for p in tries:
        r = subprocess.run(["dpkg-query", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:  # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6"
            owners = r.stdout.splitlines()[0].rsplit(": ", 1)[0]
            return {o.split(":")[0] for o in owners.split(", ")}
    raise AssertionError(f"no package owns {path}")


def _closure(pkgs):
    """pkgs and every package they depend on, recursively (as apt installs them)."""
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
                        "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                        "--no-enhances", *pkgs], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return {line.split(":")[0] for line in r.stdout.splitlines()
            if line and not line.startswith((" ", "<"))}


def test_build_stage_on_this_host_and_the_runtime_libraries(tmp_path):
    if not shutil.which("dpkg-query") or not shutil.which("apt-cache"):
        pytest.fail("dpkg-query and apt-cache are needed (a Debian 12 host)")
    build, runtime = stages()
    ops = build["ops"]
    workdir = next(a for op, a in ops if op == "WORKDIR")
    assert workdir == "/src"
    ctx = tmp_path / "src"  # stands for /src in the build stage
    ctx.mkdir()
    # the files the COPY lines bring, and nothing else of the repository
    for op, args in ops:
        if op == "COPY":
            *srcs, dst = shlex.split(args)
            for s in srcs:
                src = REPO / s.rstrip("/")
                target = ctx / dst if dst not in ("./", ".") else ctx / src.name
                if src.is_dir():
                    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(src, target)
    # the RUN lines after WORKDIR, as the stage runs them (the apt-get line is the host's)
    after = ops[[op for op, _ in ops].index("WORKDIR") + 1:]
    runs = [a for op, a in after if op == "RUN"]
    assert runs and not [r for r in runs if "apt-get" in r]
    for cmd in runs:
        p = subprocess.run(["/bin/sh", "-c", cmd], cwd=ctx, capture_output=True, text=True,
                           timeout=900)
        assert p.returncode == 0, f"{cmd}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    binary = ctx / "build" / "eip-agent"  # COPY --from=build /src/build/eip-agent
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"eip-agent {project_version()}", out

    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                        subprocess.run(["readelf", "-d", str(binary)], capture_output=True,
                                       text=True, check=True).stdout)
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    assert "not found" not in ldd, ldd
    assert set(needed) <= set(resolved), (needed, ldd)

    installs = set(apt_installs(runtime))
    base = {"libc6"}  # in debian:12-slim already
    closure = _closure(sorted(installs | base))
    providers = {}
    for soname in needed:
        pk = _pkg_of(resolved[soname])
        assert pk & (installs | base), f"{soname} ({pk}) is not installed by the runtime stage"
        providers.setdefault(next(iter(pk & (installs | base))), []).append(soname)
    for soname, path in resolved.items():
        pk = _pkg_of(path)
        assert pk & closure, f"{soname} comes from {pk}, which the runtime stage does not get"
    # nothing more than the libraries and the CA certificates (TLS to the cloud)
    assert "ca-certificates" in installs
    assert installs - {"ca-certificates"} <= set(providers), \
        f"installed but not needed: {installs - {'ca-certificates'} - set(providers)}"
    print("NEEDED by package:", providers)
