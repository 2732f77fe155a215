#!/usr/bin/python3
"""farm_buckets.py - `make bench`: a farm spreading its clients without a load balancer
(vipd.lb: buckets), in the namespace lab (tests/lab/farm_buckets_lab.py).

Each run is a fresh three-node farm with heartbeatd's documented default timings
(interval 200 ms, timeout 1000 ms), `hash: address_port` and the VIP 198.18.0.100/24 on
the client's segment. Measured, all on CLOCK_MONOTONIC:

- spread: 1000 UDP clients (one source port each), one request each: every request must
  be answered by exactly one node; the share of each node, and max/min.
- failover: 60 UDP clients ask every CLIENT_PERIOD_S; node2 loses power (links down,
  kill -9 of every process). t_moved = the first round, after the kill, in which every
  one of node2's former clients is answered again (by node1 or node3), as ms after the
  kill and as a ratio to heartbeat.timeout_ms; the answers node1's and node3's clients
  missed meanwhile (must be 0).
- rebalance: 30 TCP connections opened while node2 is away, kept busy; node2 comes back
  and takes back its buckets; the connections broken by its return (must be 0).

Then the same again over IPv6 (--ipv6-runs, default 3: the VIP fd00:198:18::100/64,
neighbour discovery instead of ARP): the IPv6 row.

Printed per run and as median / p95 / max over the runs; JSON in
build/bench/farm_buckets.json. Exit 1 on any error or on a broken promise (an
unanswered or doubly answered request in the spread, a missed answer of a surviving
node's client, a TCP connection broken by the return).

    sudo python3 bench/farm_buckets.py [-n RUNS] [--ipv6-runs RUNS]
"""

import argparse
import collections
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
import farm_buckets_lab  # noqa: E402
import lab as lablib  # noqa: E402
from _common import percentile as pct, say  # noqa: E402
from farm_buckets_lab import VIP4, VIP6, FarmBucketsLab  # noqa: E402

INTERVAL_MS, TIMEOUT_MS = 200, 1000      # heartbeatd defaults
CLIENT_PERIOD_S = 0.02
LIMIT_S = 20.0
PORTS = list(range(30000, 30060))
JSON_OUT = os.path.join(ROOT, "build", "bench", "farm_buckets.json")


def rounds(lab):
    answers, sent = lab.udp_watch()
    per = collections.defaultdict(lambda: collections.defaultdict(list))
    for _t, rnd, port, node in answers:
        per[rnd][port].append(node)
    return per, sent


def first_round_all_answered(lab, ports, after):
    deadline = time.monotonic() + LIMIT_S
    while True:
        per, sent = rounds(lab)
        for rnd in sorted(r for r, t in sent.items() if t >= after):
            # answered, and not by node2 (the kill takes a few ms: a round sent
            # just before its links went down may still be node2's)
            if rnd + 2 in sent and all(per[rnd].get(p) and "node2" not in per[rnd][p]
                                       for p in ports):
                return sent[rnd]
        if time.monotonic() >= deadline:
            raise lablib.LabError("node2's clients were not answered again")
        time.sleep(0.05)


def one_run(family=4):
    vip = VIP4 if family == 4 else VIP6
    with FarmBucketsLab(size=3, interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS,
                        families=(family,)) as lab:
        lab.start_cluster(timeout=LIMIT_S)
        lab.wait_buckets(lab.nodes, LIMIT_S)
        seen = lab.udp_spread(1000, 20000, vip=vip)
        bad = [p for p, nodes in seen.items() if len(nodes) != 1]
        if bad:
            raise AssertionError(f"{len(bad)} of 1000 requests not answered exactly once")
        share = collections.Counter(nodes[0] for nodes in seen.values())

        lab.start_udp_watch(PORTS[0], len(PORTS), vip=vip)
        time.sleep(1.0)
        per, sent = rounds(lab)
        settled = max(r for r in sent if r + 2 in sent)
        owner = {p: per[settled][p][0] for p in PORTS if len(per[settled][p]) == 1}
        if len(owner) != len(PORTS):
            raise AssertionError("the probing clients were not answered once each")
        theirs = [p for p in PORTS if owner[p] == "node2"]
        others = [p for p in PORTS if owner[p] != "node2"]
        t_kill = time.monotonic()
        lab.kill_node("node2")
        t_moved = first_round_all_answered(lab, theirs, t_kill)
        lab.wait_buckets(["node1", "node3"], LIMIT_S)
        lab.start_tcp_sessions("outage", 41000, 30, vip=vip)
        time.sleep(0.5)
        lab.restart_node("node2")
        lab.wait_buckets(lab.nodes, LIMIT_S)
        time.sleep(1.5)
        t_end = time.monotonic()
        per, sent = rounds(lab)
        misses = [(r, round(t - t_kill, 3), p, per[r].get(p))
                  for r, t in sorted(sent.items()) if t_kill - 0.5 <= t <= t_end - 0.5
                  for p in others if per[r].get(p) != [owner[p]]]
        missed = len(misses)
        if misses:
            print(f"    missed (round, s after the kill, port, answers): {misses[:8]}",
                  flush=True)
        sessions = lab.tcp_sessions("outage")
        broken = sum(1 for s in sessions.values()
                     if s["errors"] or len(set(s["nodes"])) != 1 or s["last"] < t_end - 1.0)
        return {"share": dict(share), "max_over_min": max(share.values()) / min(share.values()),
                "moved_ms": (t_moved - t_kill) * 1000, "others_missed": missed,
                "tcp_opened": len(sessions), "tcp_broken_by_return": broken,
                "clients_moved": len(theirs)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--ipv6-runs", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("farm_buckets.py needs root (network namespaces)", file=sys.stderr)
        return 1
    if args.runs < 1 or args.ipv6_runs < 0:
        print("farm_buckets.py: --runs must be at least 1", file=sys.stderr)
        return 1
    farm_buckets_lab.UDP_PERIOD_S = CLIENT_PERIOD_S
    lablib.cleanup_stale()
    say(f"{args.runs} runs: 3-node farm, lb: buckets (address_port), heartbeat "
        f"{INTERVAL_MS}/{TIMEOUT_MS} ms; clients probing every "
        f"{CLIENT_PERIOD_S * 1000:.0f} ms")
    runs = []
    for i in range(args.runs):
        r = one_run()
        runs.append(r)
        print(f"    run {i + 1}: spread {r['share']} (max/min {r['max_over_min']:.2f}); "
              f"node2's {r['clients_moved']} clients answered again {r['moved_ms']:.0f} ms "
              f"after the kill; others missed {r['others_missed']}; "
              f"{r['tcp_broken_by_return']} of {r['tcp_opened']} TCP connections broken "
              f"by node2's return", flush=True)
    moved = [r["moved_ms"] for r in runs]
    ratios = [m / TIMEOUT_MS for m in moved]
    result = {"heartbeat": {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS},
              "client_period_ms": CLIENT_PERIOD_S * 1000,
              "kill_to_moved": _common.summary(moved),
              "moved_over_timeout_ratio": {"median": statistics.median(ratios),
                                           "p95": pct(ratios, 95), "max": max(ratios)},
              "spread_max_over_min": max(r["max_over_min"] for r in runs),
              "others_missed": sum(r["others_missed"] for r in runs),
              "tcp_broken_by_return": sum(r["tcp_broken_by_return"] for r in runs),
              "runs": runs}
    runs6 = []
    for i in range(args.ipv6_runs):
        r = one_run(6)
        runs6.append(r)
        print(f"    IPv6 run {i + 1}: spread {r['share']} (max/min "
              f"{r['max_over_min']:.2f}); node2's {r['clients_moved']} clients answered "
              f"again {r['moved_ms']:.0f} ms after the kill; others missed "
              f"{r['others_missed']}; {r['tcp_broken_by_return']} of {r['tcp_opened']} "
              f"TCP connections broken by node2's return", flush=True)
    if runs6:
        moved6 = [r["moved_ms"] for r in runs6]
        result["ipv6"] = {
            "kill_to_moved": _common.summary(moved6),
            "moved_over_timeout_ratio": {"median": statistics.median(moved6) / TIMEOUT_MS,
                                         "p95": pct(moved6, 95) / TIMEOUT_MS},
            "spread_max_over_min": max(r["max_over_min"] for r in runs6),
            "others_missed": sum(r["others_missed"] for r in runs6),
            "tcp_broken_by_return": sum(r["tcp_broken_by_return"] for r in runs6),
            "runs": runs6}
    say("results")
    s = result["kill_to_moved"]
    print(f"    kill -> node2's clients answered by the others: median "
          f"{s['median_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, max {s['max_ms']:.0f} ms "
          f"(ratio to the {TIMEOUT_MS} ms timeout: median "
          f"{result['moved_over_timeout_ratio']['median']:.2f}, p95 "
          f"{result['moved_over_timeout_ratio']['p95']:.2f})")
    print(f"    spread of 1000 clients over 3 nodes: worst max/min "
          f"{result['spread_max_over_min']:.2f}; answers missed by the survivors' "
          f"clients: {result['others_missed']}; TCP connections broken by a return: "
          f"{result['tcp_broken_by_return']}")
    if runs6:
        r6 = result["ipv6"]
        s6 = r6["kill_to_moved"]
        print(f"    IPv6 ({len(runs6)} runs): kill -> moved median {s6['median_ms']:.0f} ms, "
              f"p95 {s6['p95_ms']:.0f} ms (ratio {r6['moved_over_timeout_ratio']['median']:.2f}"
              f"); spread worst max/min {r6['spread_max_over_min']:.2f}; missed "
              f"{r6['others_missed']}; TCP broken by a return {r6['tcp_broken_by_return']}")
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump(result, f, indent=2)
    say(f"written {JSON_OUT}")
    if (result["others_missed"] or result["tcp_broken_by_return"]
            or result.get("ipv6", {}).get("others_missed")
            or result.get("ipv6", {}).get("tcp_broken_by_return")):
        print("bench failed: a promise was broken (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (lablib.LabError, AssertionError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(1)
