#!/usr/bin/python3
"""demo_farm.py - `make demo-farm`: a three-node farm losing and regaining a node.

For a newcomer: builds a lab of network namespaces (three nodes on one network and a
client; see lab.py and farm_lab.py), starts on each node heartbeatd for a farm module
(`module.type: farm`: the application on every node, no primary, no witness), healthd
and a stand-in application (an HTTP server answering its node's name), and HAProxy in
the client namespace as the load balancer, health-checking each node's
`/health/app`. It shows `skyctl status`, then sends requests through HAProxy and shows
how they spread; cuts the power of node2 (every process killed with -9, links down)
while requests go on, and shows how long node2 took to leave every other node's view,
how many requests failed, and how the load spread over the two left; then brings node2
back and shows the load spread over three again, with the daemons' logs of both
changes. Everything is cleaned up at the end, even on failure or Ctrl-C. Exit 0 on
success; on failure, a one-line reason, the logs, and exit 1.

It builds nothing (make does) and uses the documented default timings: heartbeat every
200 ms, a node lost after 1000 ms.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab as lablib  # noqa: E402
from farm_lab import FarmHealthdLab  # noqa: E402
from healthd_lab import HAPROXY, HEALTHD  # noqa: E402

INTERVAL_MS, TIMEOUT_MS = 200, 1000


def say(text):
    print(f"==> {text}", flush=True)


def show(text, indent="    "):
    for line in text.rstrip("\n").splitlines():
        print(indent + line)
    sys.stdout.flush()


def spread(results):
    """{node: answers} of the requests that got a 200."""
    by = {}
    for r in results:
        if r[1] == 200:
            by[r[2]] = by.get(r[2], 0) + 1
    return dict(sorted(by.items()))


def show_logs(lab, since):
    """heartbeatd's log lines of every node since `since` (HH:MM:SS.mmm), merged."""
    lines = []
    for node in lab.nodes:
        try:
            with open(lab.log_path(node), errors="replace") as f:
                for line in f:
                    recent = line[:2].isdigit() and line[:12] >= since
                    if recent and (" NOTICE " in line or " WARN " in line):
                        lines.append(line.rstrip("\n"))
        except FileNotFoundError:
            continue
    for line in sorted(lines)[:20]:
        print("    " + line)
    sys.stdout.flush()


def demo(lab):
    say(f"Starting a farm of {len(lab.nodes)} nodes (heartbeat every {INTERVAL_MS} ms, "
        f"a node lost after {TIMEOUT_MS} ms), healthd and the application on each")
    lab.start_cluster()
    for node in lab.nodes:
        lab.wait_health(node, 200)
    rc, out = res = lab.skyctl("node1", "status")
    if rc != 0:
        raise lablib.LabError(f"skyctl status exited {rc}: {out}{res.err}")
    say("skyctl status, asked on node1:")
    show(out)
    say("HAProxy in front, health-checking /health/app on each node")
    lab.start_haproxy()
    lab.wait_haproxy({n: "UP" for n in lab.nodes})
    results = lab.start_load(2.0, period=0.02).results()
    say(f"{len(results)} requests through HAProxy, answered by {spread(results)}")

    say("Cutting the power of node2 while requests go on")
    load = lab.start_load(5.0, period=0.02)
    time.sleep(1.0)
    since = time.strftime("%H:%M:%S")
    killed = time.monotonic()
    lab.kill_node("node2")
    lab.wait_members(["node1", "node3"], ["node1", "node3"], 10)
    left = time.monotonic() - killed
    results = load.results()
    after = [r for r in results if r[0] >= killed + 1.0]
    failed = [r for r in results if r[0] >= killed and r[1] != 200]
    say(f"node2 left node1's and node3's view {left:.2f} s after the power cut; "
        f"{len(failed)} of {len(results)} requests failed; afterwards the load went to "
        f"{spread(after)}")
    show_logs(lab, since)
    if any(r[2] == "node2" for r in after):
        raise AssertionError("requests still reached node2 a second after it died")

    say("Powering node2 back on")
    since = time.strftime("%H:%M:%S")
    back = time.monotonic()
    lab.restart_node("node2")
    lab.wait_members(lab.nodes, lab.nodes, 15)
    took = time.monotonic() - back
    lab.wait_haproxy({n: "UP" for n in lab.nodes}, 15)
    results = lab.start_load(2.0, period=0.02).results()
    say(f"node2 is a member again {took:.2f} s after its restart; "
        f"{len(results)} requests answered by {spread(results)}")
    show_logs(lab, since)
    if set(spread(results)) != set(lab.nodes):
        raise AssertionError(f"the load did not spread over every node: {spread(results)}")
    return left, len(failed)


def main():
    if os.geteuid() != 0:
        print("demo-farm: the lab builds network namespaces and needs root",
              file=sys.stderr)
        return 1
    for prog in (lablib.HEARTBEATD, lablib.SKYCTL, HEALTHD, HAPROXY):
        if not os.access(prog, os.X_OK):
            print(f"demo-farm: {prog} not found: run `make deps all` first",
                  file=sys.stderr)
            return 1
    lablib.cleanup_stale()
    with FarmHealthdLab(size=3, interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS) as lab:
        try:
            left, failed = demo(lab)
        except (lablib.LabError, AssertionError) as exc:
            print(f"\ndemo-farm FAILED: {exc}", file=sys.stderr)
            lab.dump_logs(out=sys.stderr)
            return 1
        say("Cleaning up the namespaces")
    print(f"\ndemo-farm OK: node2 left the farm {left:.2f} s after the power cut "
          f"({failed} requests failed), and came back")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ndemo-farm interrupted: lab cleaned up", file=sys.stderr)
        sys.exit(130)
