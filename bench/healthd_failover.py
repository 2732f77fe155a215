#!/usr/bin/python3
"""healthd_failover.py - `make bench`: how long clients behind HAProxy go without an
answer when the primary loses power, at skyha's default timings, and how much of that
HAProxy adds to skyha's own takeover.

What and why. docs/health.md tells operators what a failover costs behind a load balancer
that follows healthd's /health/<module>. That figure depends on the heartbeat timings, on
the load balancer's check settings and on the client's timeout, so it is measured here
with all three as documented: heartbeatd at its defaults (heartbeat every 200 ms, peer
lost after 1000 ms, witness lease 1000 ms), HAProxy with the configuration of
docs/health.md (check every 200 ms, fastinter 100 ms, downinter 200 ms, rise 1, fall 2,
check timeout 500 ms, connect timeout 300 ms, retries 2, option redispatch), and a client
that sends GET / through HAProxy every 20 ms, one request at a time, with a 0.5 s
timeout (what the testers used) or a 2 s one. Each run kills the
primary node (every process SIGKILLed, links down: a power cut) and records
  - the gap: from the old primary's last answer to the new primary's first;
  - skyha's own takeover, the baseline measured in the same run: from the kill until the
    survivor's control socket says it serves (polled every 20 ms);
  - failed requests, and how many of them hung until the client's timeout.
Timings on a shared, noisy machine mean little alone: the gap is given as a ratio to the
takeover of the same run (what the load balancer adds) and to the configured peer
timeout (the floor no load balancer can beat). Three variants run one after the other:
HAProxy as documented with the 0.5 s client; HAProxy with the advice of docs/health.md
added (`on-marked-down shutdown-sessions`, `retries 4` with the 300 ms connect timeout
and `option redispatch`) with the 0.5 s client, then with the 2 s client. The roles
alternate (the killed node comes back as the secondary). Everything runs in the lab's network namespaces (tests/lab/, root), is
cleaned up on every exit path, prints a table and writes build/bench/healthd_failover.json.
"""

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import percentile, say  # noqa: E402
from healthd_lab import HealthdLab  # noqa: E402

INTERVAL_MS, TIMEOUT_MS, LEASE_MS = 200, 1000, 1000   # heartbeatd's documented defaults
CLIENT_PERIOD_S = 0.02
# (name, HAProxy with the advice of docs/health.md, client timeout in s)
VARIANTS = (("documented, 0.5 s", False, 0.5), ("advised, 0.5 s", True, 0.5),
            ("advised, 2 s", True, 2.0))
KILL_AFTER_S, LOAD_S = 1.5, 5.0
JSON_OUT = os.path.join(ROOT, "build", "bench", "healthd_failover.json")


class BenchError(Exception):
    pass


def takeover(lab, node, limit=10.0):
    """Poll node's status every 20 ms until it serves; the monotonic time it did."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        st = lab.try_status(node, timeout=0.5)
        if st and st["node"]["serving"]:
            return time.monotonic()
        time.sleep(0.02)
    raise BenchError(f"{node} does not serve {limit:g} s after the kill")


def one_failover(lab, prim, sec, client_timeout):
    lab.wait_haproxy({prim: "UP", sec: "DOWN"}, 15)
    load = lab.start_load(LOAD_S, period=CLIENT_PERIOD_S, timeout=client_timeout)
    time.sleep(KILL_AFTER_S)
    killed = time.monotonic()
    lab.kill_node(prim)
    served = takeover(lab, sec)
    results = load.results()
    last_old = max((r[3] for r in results if r[1] == 200 and r[2] == prim), default=None)
    first_new = min((r[3] for r in results if r[1] == 200 and r[2] == sec
                     and r[0] >= killed), default=None)
    if last_old is None or first_new is None:
        raise BenchError(f"no answer from {prim} before or from {sec} after the kill: "
                         f"{results[-5:]}")
    after = [r for r in results if r[0] >= killed - client_timeout]
    failed = [r for r in after if r[1] != 200]
    hung = [r for r in failed if r[3] - r[0] >= 0.9 * client_timeout]
    slowest = max(r[3] - r[0] for r in after)
    # How they failed: HAProxy's status (503: no server UP; 504: the server did not
    # answer in `timeout server`), or 0 (no HTTP answer: the client's timeout).
    failed_by = {}
    for r in failed:
        key = str(r[1]) if r[1] else "no answer"
        failed_by[key] = failed_by.get(key, 0) + 1
    # Requests sent after the new primary's first answer that still failed (HAProxy
    # still routing some to the old one): counted among the failed, and apart.
    late = [r for r in results if r[0] >= first_new and r[1] != 200]
    wrong = [r for r in results if r[1] == 200 and r[2] not in (prim, sec)]
    if wrong:
        raise BenchError(f"answers from neither node: {wrong[:3]}")
    run = {"killed": prim, "gap_ms": (first_new - last_old) * 1000,
           "takeover_ms": (served - killed) * 1000,
           "first_answer_after_kill_ms": (first_new - killed) * 1000,
           "requests": len(results), "failed": len(failed), "hung": len(hung),
           "slowest_ms": slowest * 1000, "failed_by": failed_by,
           "failed_after_first_answer": len(late),
           "failed_at_ms": [round((r[0] - killed) * 1000) for r in failed]}
    # Power back on: the killed node returns as the secondary.
    lab.restart_node(prim)
    lab.wait_settled(30, primary=sec, secondary=prim)
    return run


def summarise(runs):
    gaps = [r["gap_ms"] for r in runs]
    ratios = [r["gap_ms"] / r["takeover_ms"] for r in runs]
    return {"runs": len(runs),
            "gap_ms": {"median": statistics.median(gaps), "min": min(gaps),
                       "max": max(gaps), "p95": percentile(gaps, 95)},
            "gap_vs_takeover": {"median": statistics.median(ratios), "min": min(ratios),
                                "max": max(ratios)},
            "gap_vs_peer_timeout": statistics.median(gaps) / TIMEOUT_MS,
            "takeover_ms_median": statistics.median(r["takeover_ms"] for r in runs),
            "failed": {"min": min(r["failed"] for r in runs),
                       "max": max(r["failed"] for r in runs)},
            "hung": {"min": min(r["hung"] for r in runs),
                     "max": max(r["hung"] for r in runs)},
            "slowest_ms_max": max(r["slowest_ms"] for r in runs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4, help="failovers per variant")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise BenchError("needs root (network namespaces)")
    out = {"timings": {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS,
                       "lease_ms": LEASE_MS},
           "client": {"period_s": CLIENT_PERIOD_S},
           "variants": {}}
    with HealthdLab(networks=2, interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS,
                    lease_ms=LEASE_MS) as lab:
        lab.start_cluster(30)
        prim, sec = "node1", "node2"
        for variant, advised, client_timeout in VARIANTS:
            lab.start_haproxy(advised=advised)
            runs = []
            for i in range(args.runs):
                r = one_failover(lab, prim, sec, client_timeout)
                say(f"{variant} #{i + 1}: {prim} killed: gap {r['gap_ms']:.0f} ms, "
                    f"takeover {r['takeover_ms']:.0f} ms, {r['failed']} of "
                    f"{r['requests']} requests failed ({r['hung']} hung until the "
                    f"client's timeout; {r['failed_by']})")
                runs.append(r)
                prim, sec = sec, prim
            lab.stop_haproxy()
            out["variants"][variant] = {"haproxy_advised": advised,
                                        "client_timeout_s": client_timeout,
                                        "runs": runs, "summary": summarise(runs)}
    say(f"{'HAProxy, client timeout':28} {'gap ms: median (range)':>23} "
        f"{'gap/takeover':>13} {'gap/timeout':>12} {'failed':>7} {'hung':>5} "
        f"{'slowest ms':>10}")
    for variant, v in out["variants"].items():
        s = v["summary"]
        gap = f"{s['gap_ms']['median']:.0f} ({s['gap_ms']['min']:.0f}-{s['gap_ms']['max']:.0f})"
        say(f"{variant:28} {gap:>23} {s['gap_vs_takeover']['median']:11.2f} x "
            f"{s['gap_vs_peer_timeout']:10.2f} x {s['failed']['min']:3}-"
            f"{s['failed']['max']:<3} {s['hung']['min']:2}-{s['hung']['max']:<2} "
            f"{s['slowest_ms_max']:10.0f}")
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump(out, f, indent=2)
    say(f"written {os.path.relpath(JSON_OUT, ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/healthd_failover.py: {exc}", file=sys.stderr)
        sys.exit(1)
