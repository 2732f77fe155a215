#!/usr/bin/python3
"""checkd.py - `make bench`: how fast checkd restarts a failed application, and how fast
it hands the module to the peer, in the namespace lab (tests/lab/checkd_lab.py).

The application is examples/app (python3 -m http.server), watched by a process checker
(pidfile, pidfd) and an HTTP checker, both every CHECK_INTERVAL_MS, on a two-node
cluster with heartbeatd's documented default timings and transitions.order [checkd].

(1) restart: the application on the primary is killed with -9, N times. Timestamps:
    t_kill; t_detect, the first moment checkd's published state (<run>/app/checkd.json,
    written with every publication, polled every 5 ms) shows the restart under way;
    t_up, when it shows the application running again with a new pid (start_prim
    returns only once the port answers).
(2) failover: with restart.max 0, every kill escalates at once. t_detect as above (the
    failover is asked); t_up when the peer's checkd shows the application running
    and up. Each run waits out heartbeatd's 10 s hold-down before the next kill, so
    the roles alternate.

Printed: kill-to-detection, detection-to-restart and detection-to-failover, as medians,
p95 and max, in ms and as ratios to the check interval (no absolute thresholds: the
machine is shared and noisy). JSON in build/bench/checkd.json. Exit 1 on any error.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import lab as lablib  # noqa: E402
from _common import say  # noqa: E402
from checkd_lab import CheckdLab, default_checkers  # noqa: E402

INTERVAL_MS, TIMEOUT_MS = 200, 1000      # heartbeatd defaults
CHECK_INTERVAL_MS = 500                  # each checker's interval
POLL_S = 0.005
LIMIT_S = 20.0
JSON_OUT = os.path.join(ROOT, "build", "bench", "checkd.json")


def summary(values):
    return _common.summary(values, CHECK_INTERVAL_MS)


def wait(what, predicate, limit=LIMIT_S):
    return _common.wait(what, predicate, limit, POLL_S, lablib.LabError)


def running(lab, node, other_than=None):
    st = lab.checkd_state(node)
    return (st and st["app"] == "running" and st["state"] == "up" and st["app_pid"]
            and st["app_pid"] != other_than and st)


def bench_restarts(runs):
    kill_detect, detect_up = [], []
    with CheckdLab(interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS,
                   checkers=default_checkers(CHECK_INTERVAL_MS),
                   restart_max=runs + 5, restart_window_ms=3600000) as lab:
        lab.start_cluster()
        _, st = wait("node1 application up", lambda: running(lab, "node1"))
        for i in range(runs):
            old = st["app_pid"]
            t_kill = time.monotonic()
            lab.kill_app("node1")
            t_det, _ = wait("restart detected", lambda: (
                (s := lab.checkd_state("node1")) and
                (s["app"] != "running" or s["app_pid"] != old)))
            t_up, st = wait("restarted", lambda: running(lab, "node1", old))
            kill_detect.append((t_det - t_kill) * 1000)
            detect_up.append((t_up - t_det) * 1000)
            print(f"    restart {i + 1}: kill->detect {kill_detect[-1]:.0f} ms, "
                  f"detect->running {detect_up[-1]:.0f} ms", flush=True)
            time.sleep(0.3)
        if lab.roles() != {"node1": "PRIM", "node2": "SECOND"}:
            raise lablib.LabError(f"roles moved during restarts: {lab.roles()}")
    return kill_detect, detect_up


def bench_failovers(runs):
    kill_detect, detect_up = [], []
    with CheckdLab(interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS,
                   checkers=default_checkers(CHECK_INTERVAL_MS),
                   restart_max=0) as lab:
        lab.start_cluster()
        prim, second = "node1", "node2"
        wait("node1 application up", lambda: running(lab, prim))
        last = 0.0
        for i in range(runs):
            # heartbeatd holds a node that failed over down for 10 s.
            time.sleep(max(0.0, 10.5 - (time.monotonic() - last)))
            wait(f"{prim} PRIM and {second} SECOND",
                 lambda: lab.roles() == {prim: "PRIM", second: "SECOND"})
            _, st = wait(f"{prim} application up", lambda: running(lab, prim))
            t_kill = time.monotonic()
            lab.kill_app(prim)
            t_det, _ = wait("failover asked", lambda: (
                (s := lab.checkd_state(prim)) and
                (s["failover_pending"] or s["app"] != "running" or s["state"] != "up")))
            t_up, _ = wait(f"application up on {second}", lambda: running(lab, second))
            last = t_up
            kill_detect.append((t_det - t_kill) * 1000)
            detect_up.append((t_up - t_det) * 1000)
            print(f"    failover {i + 1} ({prim} -> {second}): kill->detect "
                  f"{kill_detect[-1]:.0f} ms, detect->running on {second} "
                  f"{detect_up[-1]:.0f} ms", flush=True)
            prim, second = second, prim
    return kill_detect, detect_up


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("checkd.py needs root (network namespaces)", file=sys.stderr)
        return 1
    lablib.cleanup_stale()
    say(f"restarts: {args.runs} kills of the application on the primary "
        f"(checkers every {CHECK_INTERVAL_MS} ms)")
    r_kd, r_du = bench_restarts(args.runs)
    say(f"failovers: {args.runs} kills with restart.max 0 (escalation: failover)")
    f_kd, f_du = bench_failovers(args.runs)
    result = {"check_interval_ms": CHECK_INTERVAL_MS,
              "heartbeat": {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS},
              "restart_kill_to_detection": summary(r_kd),
              "detection_to_restart": summary(r_du),
              "failover_kill_to_detection": summary(f_kd),
              "detection_to_failover": summary(f_du)}
    say(f"results (ratios to the check interval, {CHECK_INTERVAL_MS} ms)")
    print(f"    {'measure':30} {'runs':>4} {'median':>9} {'p95':>9} {'max':>9} "
          f"{'median/int':>10} {'p95/int':>8}")
    for key in ("restart_kill_to_detection", "detection_to_restart",
                "failover_kill_to_detection", "detection_to_failover"):
        s = result[key]
        print(f"    {key:30} {s['runs']:>4} {s['median_ms']:>7.0f}ms {s['p95_ms']:>7.0f}ms "
              f"{s['max_ms']:>7.0f}ms {s['median_ratio']:>10.2f} {s['p95_ratio']:>8.2f}")
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
