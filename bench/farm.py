#!/usr/bin/python3
"""farm.py - `make bench`: how fast a farm drops a dead node, against the physical bound
(the configured timeout) and against HAProxy's own health checks measured in the same
run, and what the clients behind HAProxy see.

What and why. A farm node that loses power must leave the other nodes' members (so
vipd's buckets and any load balancer that follows healthd stop sending it clients) no
sooner than heartbeat.timeout_ms can tell a dead node from a late packet, and not much
later. Three nodes run a farm module at heartbeatd's documented defaults (heartbeat
every 200 ms, a node lost after 1000 ms), each with healthd and a stand-in application;
HAProxy in the client namespace health-checks /health/app on each (check every 200 ms,
the same as our interval: `inter 200ms fall 2`, docs/health.md) and a client sends GET /
through it every 20 ms with a 0.5 s timeout. Each run kills one node (every process
SIGKILLed, links down: a power cut), polls every 20 ms, and records
  - drop-out: from the kill until both other nodes' `skyctl status` leave it out of the
    members (what vipd's buckets follow), as a ratio to the timeout (the bound);
  - HAProxy's mark-down: from the kill until HAProxy's stats socket says DOWN (the
    baseline: a load balancer's own checks, in the same run);
  - failed requests through HAProxy;
  - rejoin: from the node's restart until every node counts it a member again.
The killed node rotates. Timings on a shared, noisy machine mean little alone: they are
given as ratios. Everything runs in the lab's network namespaces (tests/lab/, root), is
cleaned up on every exit path, prints a table and writes build/bench/farm.json.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import say, summary  # noqa: E402
from farm_lab import FarmHealthdLab  # noqa: E402

INTERVAL_MS, TIMEOUT_MS = 200, 1000  # heartbeatd's documented defaults
LOAD_S, KILL_AFTER_S = 4.0, 1.0
JSON_OUT = os.path.join(ROOT, "build", "bench", "farm.json")


class BenchError(Exception):
    pass


def poll(what, predicate, limit=15.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.02)
    raise BenchError(f"{what} not seen within {limit:g} s")


def one_run(lab, victim):
    others = [n for n in lab.nodes if n != victim]
    lab.wait_members(lab.nodes, lab.nodes, 15)
    lab.wait_haproxy({n: "UP" for n in lab.nodes}, 15)
    load = lab.start_load(LOAD_S, period=0.02, timeout=0.5)
    time.sleep(KILL_AFTER_S)
    killed = time.monotonic()
    lab.kill_node(victim)
    # Both watched in one loop: each time is when its own condition first held.
    dropped = marked = None
    deadline = killed + 15
    while (dropped is None or marked is None) and time.monotonic() < deadline:
        if marked is None and lab.haproxy_servers().get(victim) == "DOWN":
            marked = time.monotonic()
        if dropped is None and all(lab.members(n) == others for n in others):
            dropped = time.monotonic()
        time.sleep(0.01)
    if dropped is None or marked is None:
        raise BenchError(f"{victim}: out of the members {dropped is not None}, "
                         f"HAProxy DOWN {marked is not None}, 15 s after the kill")
    results = load.results()
    failed = [r for r in results if r[0] >= killed - 0.5 and r[1] != 200]
    restarted = time.monotonic()
    lab.restart_node(victim)
    rejoined = poll(f"{victim} a member again",
                    lambda: all(lab.members(n) == lab.nodes for n in lab.nodes))
    return {"killed": victim, "drop_out_ms": (dropped - killed) * 1000,
            "haproxy_down_ms": (marked - killed) * 1000,
            "requests": len(results), "failed": len(failed),
            "rejoin_ms": (rejoined - restarted) * 1000}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=6, help="power cuts")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise BenchError("needs root (network namespaces)")
    runs = []
    with FarmHealthdLab(size=3, interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS) as lab:
        lab.start_cluster(30)
        lab.start_haproxy()
        for i in range(args.runs):
            r = one_run(lab, lab.nodes[i % len(lab.nodes)])
            say(f"#{i + 1}: {r['killed']} killed: out of the members after "
                f"{r['drop_out_ms']:.0f} ms, HAProxy DOWN after {r['haproxy_down_ms']:.0f} "
                f"ms, {r['failed']} of {r['requests']} requests failed, rejoined "
                f"{r['rejoin_ms']:.0f} ms after its restart")
            runs.append(r)
    drop = summary([r["drop_out_ms"] for r in runs], TIMEOUT_MS)
    down = summary([r["haproxy_down_ms"] for r in runs])
    rejoin = summary([r["rejoin_ms"] for r in runs], INTERVAL_MS)
    ratio_lb = drop["median_ms"] / down["median_ms"]
    out = {"timings": {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS},
           "runs": runs, "drop_out": drop, "haproxy_down": down, "rejoin": rejoin,
           "drop_out_vs_haproxy_down": ratio_lb,
           "failed_requests": {"min": min(r["failed"] for r in runs),
                               "max": max(r["failed"] for r in runs)}}
    say(f"{'':34} {'median ms':>10} {'p95 ms':>8} {'ratio':>22}")
    say(f"{'drop-out (kill -> out of members)':34} {drop['median_ms']:10.0f} "
        f"{drop['p95_ms']:8.0f} {drop['median_ratio']:8.2f} x timeout "
        f"(p95 {drop['p95_ratio']:.2f})")
    say(f"{'HAProxy mark-down (baseline)':34} {down['median_ms']:10.0f} "
        f"{down['p95_ms']:8.0f} {ratio_lb:8.2f} = drop-out / mark-down")
    say(f"{'rejoin (restart -> member)':34} {rejoin['median_ms']:10.0f} "
        f"{rejoin['p95_ms']:8.0f} {rejoin['median_ratio']:8.2f} x interval")
    say(f"failed requests through HAProxy per power cut: {out['failed_requests']['min']}"
        f"-{out['failed_requests']['max']}")
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump(out, f, indent=2)
    say(f"written {os.path.relpath(JSON_OUT, ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/farm.py: {exc}", file=sys.stderr)
        sys.exit(1)
