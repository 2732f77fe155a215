#!/usr/bin/python3
"""vipd.py - `make bench`: how fast clients reach the new primary through the virtual IP
after a failover, in the namespace lab (tests/lab/vipd_lab.py).

Each run is a fresh two-node cluster with heartbeatd's documented default timings
(interval 200 ms, timeout 1000 ms), transitions.order [vipd] and the VIP 198.18.0.100/24
on network 0, shared with the client. The client sends a UDP datagram to the VIP every
CLIENT_PERIOD_S; every node runs an echo server that answers with its name. Then node1
(the primary) loses power (kill -9 of every process, links down). Timestamps, all on
CLOCK_MONOTONIC (shared by every namespace):

    t_kill      node1 killed
    t_decision  node2's heartbeatd decides to serve (ALONE): from its status, read as
                soon as node2 reports the new role, minus the transition's `ago_ms`
    t_garp      the first gratuitous ARP from node2 for the VIP seen by the client
    t_reply     the first answer from node2 through the VIP seen by the client

Printed per run and as median / p95 / max over the runs: kill->decision (the heartbeat
failover time: the baseline of the same run), decision->garp and decision->reply (what
vipd adds, with the probe window and the client's reaction), and the ratio
decision->reply / kill->decision. No absolute thresholds (the machine is shared and
noisy). JSON in build/bench/vipd.json. Exit 1 on any error.

    sudo python3 bench/vipd.py [-n RUNS] [--on-conflict report|fail]
"""

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import lab as lablib  # noqa: E402
from _common import percentile as pct, say  # noqa: E402
import vipd_lab  # noqa: E402
from vipd_lab import VIP4, VipdLab  # noqa: E402

INTERVAL_MS, TIMEOUT_MS = 200, 1000      # heartbeatd defaults
CLIENT_PERIOD_S = 0.005
POLL_S = 0.005
LIMIT_S = 20.0
JSON_OUT = os.path.join(ROOT, "build", "bench", "vipd.json")


def summary(values):
    return _common.summary(values)


def wait(what, predicate, limit=LIMIT_S):
    return _common.wait(what, predicate, limit, POLL_S, lablib.LabError)


def decision_time(lab):
    """t_decision of node2's move to ALONE/PRIM, from its status."""
    while True:
        t0 = time.monotonic()
        st = lab.try_status("node2", timeout=1.0)
        t1 = time.monotonic()
        if st and st["node"]["role"] in lablib.SERVING_ROLES and \
                st["transition"]["to"] in lablib.SERVING_ROLES:
            return (t0 + t1) / 2 - st["transition"]["ago_ms"] / 1000.0
        if t1 - t0 > LIMIT_S:
            raise lablib.LabError("node2 never served")
        time.sleep(POLL_S)


def one_run(on_conflict):
    with VipdLab(interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS,
                 on_conflict=on_conflict, announce_repeat=5, announce_interval_ms=0,
                 announce_delay_ms=5000) as lab:
        lab.start_cluster()
        wait("node1 holding the VIP", lambda: (s := lab.vipd_state("node1"))
             and s["state"] == "up")
        lab.start_client()
        lab.wait_reply_from("node1", LIMIT_S)
        lab.start_arp_watch()
        node2_mac = lab.mac("node2")
        time.sleep(0.3)  # the watcher is listening; the client's entry is fresh
        t_kill = time.monotonic()
        lab.kill_node("node1")
        t_decision = decision_time(lab)
        t_reply = lab.wait_reply_from("node2", LIMIT_S, after=t_kill)
        _, t_garp = wait("node2's gratuitous ARP at the client", lambda: next(
            (a[0] for a in lab.arp_seen()
             if a[0] >= t_kill and a[2] == node2_mac and a[3] == VIP4 and a[4] == VIP4),
            None))
        return ((t_decision - t_kill) * 1000, (t_garp - t_decision) * 1000,
                (t_reply - t_decision) * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=10)
    parser.add_argument("--on-conflict", choices=("report", "fail"), default="report",
                        help="vipd's probe.on_conflict (fail waits out the probe window)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("vipd.py needs root (network namespaces)", file=sys.stderr)
        return 1
    if args.runs < 1:
        print("vipd.py: --runs must be at least 1", file=sys.stderr)
        return 1
    vipd_lab.CLIENT_PERIOD_S = CLIENT_PERIOD_S
    lablib.cleanup_stale()
    say(f"{args.runs} power cuts of the primary; client probing {VIP4} every "
        f"{CLIENT_PERIOD_S * 1000:.0f} ms; heartbeat {INTERVAL_MS}/{TIMEOUT_MS} ms; "
        f"probe.on_conflict {args.on_conflict}")
    kd, dg, dr = [], [], []
    for i in range(args.runs):
        a, b, c = one_run(args.on_conflict)
        kd.append(a)
        dg.append(b)
        dr.append(c)
        print(f"    run {i + 1}: kill->decision {a:.0f} ms, decision->garp {b:.0f} ms, "
              f"decision->reply {c:.0f} ms", flush=True)
    ratios = [r / k for r, k in zip(dr, kd)]
    result = {"heartbeat": {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS},
              "client_period_ms": CLIENT_PERIOD_S * 1000,
              "on_conflict": args.on_conflict,
              "kill_to_decision": summary(kd),
              "decision_to_garp": summary(dg),
              "decision_to_reply": summary(dr),
              "reply_over_heartbeat_ratio": {"median": statistics.median(ratios),
                                             "p95": pct(ratios, 95),
                                             "max": max(ratios)}}
    say("results")
    print(f"    {'measure':22} {'runs':>4} {'median':>9} {'p95':>9} {'max':>9} {'min':>9}")
    for key in ("kill_to_decision", "decision_to_garp", "decision_to_reply"):
        s = result[key]
        print(f"    {key:22} {s['runs']:>4} {s['median_ms']:>7.1f}ms {s['p95_ms']:>7.1f}ms "
              f"{s['max_ms']:>7.1f}ms {s['min_ms']:>7.1f}ms")
    r = result["reply_over_heartbeat_ratio"]
    print(f"    decision->reply / kill->decision (baseline: heartbeat failover in the "
          f"same run): median {r['median']:.3f}, p95 {r['p95']:.3f}, max {r['max']:.3f}")
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump(result, f, indent=2)
    say(f"written {JSON_OUT}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (lablib.LabError, AssertionError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(1)
