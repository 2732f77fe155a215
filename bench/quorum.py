#!/usr/bin/python3
"""quorum.py - `make bench`: failover time with etcd as quorum against the witness, at
equal timings, in one run (issue 18).

Two labs in turn, the same machine and the same timings (heartbeat every 200 ms, peer
lost after 1000 ms, lease 1000 ms): tests/lab/lab.py with `heartbeatd --witness`, and
tests/lab/etcd_lab.py with a real 3-member etcd (Debian's etcd-server 3.4, Raft heartbeat
100 ms, election 500 ms, so its smallest lease TTL is 1 s). In each, the primary node is
killed with -9 (every process, links down) N times, the roles alternating, and the clock
runs until the survivor's control socket says ALONE (polled every 10 ms). Medians and p95
are printed side by side, with Patroni's documented default detection (ttl 30 s,
loop_wait 10 s: 20-30 s) as a reference, and written as JSON to build/bench/quorum.json.

With etcd the survivor must wait for the dead primary's leader key to expire with its
lease (TTL from its last keepalive) as well as for its heartbeats to stop; with the
witness, for the witness lease: at equal lease lengths the figures should be close, and
the difference is the price of the third party. Run as root with /usr/bin/python3.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab as lablib  # noqa: E402
from _common import say, summary  # noqa: E402
from etcd_lab import EtcdLab  # noqa: E402

INTERVAL_MS, TIMEOUT_MS, LEASE_MS = 200, 1000, 1000
POLL_S = 0.010
LIMIT_S = 20.0
PATRONI_DEFAULT_S = (20, 30)
JSON_OUT = os.path.join(ROOT, "build", "bench", "quorum.json")


def failovers(lab, runs):
    """Kill the primary `runs` times; the failover times in ms."""
    times = []
    primary, secondary = "node1", "node2"
    lab.start_cluster(timeout=30)
    for i in range(runs):
        lab.wait_settled(30, primary, secondary)
        t0 = time.monotonic()
        lab.kill_node(primary)
        while True:
            st = lab.try_status(secondary, timeout=0.5)
            if st and st["node"]["role"] == "ALONE":
                break
            if time.monotonic() - t0 > LIMIT_S:
                raise RuntimeError(f"run {i}: {secondary} not ALONE after {LIMIT_S} s")
            time.sleep(POLL_S)
        ms = (time.monotonic() - t0) * 1000
        times.append(ms)
        say(f"{lab.quorum}: run {i + 1}/{runs}: {ms:.0f} ms")
        lab.restart_node(primary)
        primary, secondary = secondary, primary
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    timings = dict(interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS, lease_ms=LEASE_MS)
    results = {}
    lablib.cleanup_stale()
    for name, cls in (("witness", lablib.Lab), ("etcd", EtcdLab)):
        say(f"{name}: {args.runs} power cuts of the primary")
        with cls(quorum=name, **timings) as lab:
            results[name] = summary(failovers(lab, args.runs))
    print()
    print(f"{'quorum':10} {'runs':>5} {'median ms':>10} {'p95 ms':>8} {'min':>6} {'max':>6}")
    for name, s in results.items():
        print(f"{name:10} {s['runs']:5} {s['median_ms']:10.0f} {s['p95_ms']:8.0f} "
              f"{s['min_ms']:6.0f} {s['max_ms']:6.0f}")
    print(f"{'patroni':10} {'':5} {'20000-30000 (documented default: ttl 30 s, loop_wait 10 s)'}")
    ratio = results["etcd"]["median_ms"] / results["witness"]["median_ms"]
    print(f"etcd median / witness median: {ratio:.2f}")
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump({"timings": timings, "results": results,
                   "etcd_over_witness_median": ratio,
                   "patroni_default_detection_s": PATRONI_DEFAULT_S}, f, indent=2)
    print(f"written {JSON_OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
