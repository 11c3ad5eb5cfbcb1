# SPDX-License-Identifier: MIT
"""Benchmarks of the agent on the simulated cluster and cloud (scripts/bench).
Prints figures and checks the speed targets that are not test assertions:
  - a held /ready long-poll is answered within 100 ms of the condition patch;
  - bind latency (pod IP seen -> condition True) percentiles;
  - DescribeEipAddresses per pod in a burst.
Run: /usr/bin/python3 tests/bench/bench_agent.py [--pods N] [--out FILE]"""
import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e" / "eip"))

from world import P, World, wait_for  # noqa: E402


def iso_to_epoch(s):
    from datetime import datetime
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def bench_longpoll(w, agent, n):
    """n pods, each awaited by a long-poll from before it exists; the answer's
    arrival against the API server's record of the condition patch."""
    results = {}

    def ask(name):
        st, v = w.agent_get(agent, f"/v1/pods/default/{name}/ready?wait=120", timeout=130)
        results[name] = (st, time.time())
    threads = []
    for i in range(n):
        name = f"lp-{i}"
        t = threading.Thread(target=ask, args=(name,))
        t.start()
        threads.append(t)
    time.sleep(0.3)
    for i in range(n):
        w.create_pod(f"lp-{i}", {P + "pod-with-eip": "true"})
    for t in threads:
        t.join(150)
    patches = {}
    for c in w.kube_calls()["calls"]:
        if c.get("verb") == "patch" and c.get("subresource") == "status" and c.get("status") == 200 \
                and c.get("name", "").startswith("lp-"):
            # the patch's end: its start plus its duration
            patches.setdefault(c["name"], c["time"] + c.get("duration_ms", 0) / 1000.0
                               if isinstance(c["time"], (int, float)) else
                               iso_to_epoch(c["time"]) + c.get("duration_ms", 0) / 1000.0)
    lat = []
    for name, (st, t) in results.items():
        if st == 200 and name in patches:
            lat.append((t - patches[name]) * 1000)
    return lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="eip-bench-") as tmp:
        w = World(tmp, nodes=1, eip_quota=args.pods * 2 + 10)
        try:
            agent = w.start_agent("node-1", config="logLevel: info\nkubeClientQPS: 500\n"
                                                   "kubeClientBurst: 1000\n")
            t0 = time.monotonic()
            lat = bench_longpoll(w, agent, args.pods)
            took = time.monotonic() - t0
            st, view = w.agent_get(agent, "/v1/pods")
            binds = sorted(p["bindSeconds"] for p in view["pods"] if p.get("bindSeconds"))
            describes = len(w.cloud_calls("DescribeEipAddresses"))
            out = {
                "pods": args.pods,
                "burst_seconds": round(took, 2),
                "longpoll_after_patch_ms": {
                    "p50": round(statistics.median(lat), 1) if lat else None,
                    "max": round(max(lat), 1) if lat else None, "n": len(lat)},
                "bind_seconds": {"p50": binds[len(binds) // 2] if binds else None,
                                 "p90": binds[int(len(binds) * 0.9) - 1] if binds else None,
                                 "max": binds[-1] if binds else None},
                "describes_per_pod": round(describes / args.pods, 3),
            }
            print(json.dumps(out, indent=2))
            if args.out:
                pathlib.Path(args.out).write_text(json.dumps(out) + "\n")
            ok = lat and max(lat) < 100 and len(lat) == args.pods
            print(f"long-poll answered within 100 ms of the condition patch: "
                  f"{'yes' if ok else 'NO'} (max {max(lat) if lat else float('nan'):.1f} ms)")
            return 0 if ok else 1
        finally:
            w.close()


if __name__ == "__main__":
    sys.exit(main())
