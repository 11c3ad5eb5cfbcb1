# SPDX-License-Identifier: MIT
"""scripts/demo --once says why when it fails. (Its success, from a fresh build, is
what scripts/test runs at its end.) Here the simulated cloud's EIP quota is too
small for the examples: the demo exits non-zero naming the pods that are not
bound and what their agents say, and stops everything it started. It runs the
sanitizer build of the agent (EIP_DEMO_AGENT) instead of building its own, and
finds the default nodes' port taken (as by another run): its agents listen on
other addresses."""
import os
import re
import socket
import subprocess

from agenttest import SAN_ENV
from pkgtest import REPO


def test_demo_once_fails_with_the_reason(agent_bin, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EIP_AGENT_", "ALIBABA_CLOUD_", "KUBECONFIG"))}
    env.update(SAN_ENV)
    env.update({"EIP_DEMO_AGENT": str(agent_bin), "EIP_DEMO_SIM_ARGS": "--eip-quota 6",
                "EIP_DEMO_BIND_TIMEOUT": "25", "TMPDIR": str(tmp_path)})
    # another run has the default nodes' port: the demo takes other addresses
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.9.2", 9469))
    busy.listen()
    try:
        p = subprocess.run([str(REPO / "scripts" / "demo"), "--once"], cwd=tmp_path, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    finally:
        busy.close()
    m = re.search(r"== starting the agent of node-1 on (127\.\d+\.\d+)\.2:9469", p.stdout)
    assert m and m.group(1) != "127.0.9", p.stdout[-3000:]
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    err = p.stderr
    assert "demo: FAILED: example pods not bound within 25s" in err, err[-3000:]
    # the pods that are not bound, each with what its agent says
    stuck = re.findall(r"^  eip-examples/(\S+): Failed: QuotaExceeded", err, re.M)
    assert len(stuck) == 4, err[-3000:]
    assert "Elastic IP address quota exceeded" in err
    # the run directory is kept for a look, and nothing is left running
    m = re.search(r"demo: kept (\S+)", err)
    assert m and os.path.isdir(m.group(1)), err[-2000:]
    run = m.group(1)
    for log in ("agent-node-1.log", "agent-node-2.log"):
        assert os.path.exists(os.path.join(run, log))
    pid = int(open(os.path.join(run, "sim", "sim.json")).read().split('"pid": ')[1].split(",")[0])
    assert not os.path.exists(f"/proc/{pid}") or \
        open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert "the agent of node-" not in err  # both agents stopped cleanly (exit 0)
