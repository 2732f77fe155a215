#!/usr/bin/python3
"""demo.py - `make demo`: a two-node skyha cluster and a failover, in one minute.

For a newcomer: builds a lab of network namespaces on this machine (two nodes, a
witness, two heartbeat networks; see lab.py), starts the real heartbeatd on each, shows
`skyctl status`, then cuts the power of the primary (every process killed with -9,
links down) and measures how long node2 takes to serve alone. Then node1 comes back and
rejoins as the secondary. Everything is cleaned up at the end, even on failure or
Ctrl-C. Exit 0 on success; on failure, a one-line reason, the logs, and exit 1.

It builds nothing (make does) and uses the documented default timings: heartbeat every
200 ms, peer lost after 1000 ms, witness lease 1000 ms.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab as lablib  # noqa: E402

INTERVAL_MS, TIMEOUT_MS = 200, 1000


def say(text):
    print(f"==> {text}", flush=True)


def show(text, indent="    "):
    for line in text.rstrip("\n").splitlines():
        print(indent + line)
    sys.stdout.flush()


def skyctl_status(lab, node):
    rc, out = res = lab.skyctl(node, "status")
    if rc != 0:
        raise lablib.LabError(f"skyctl status on {node} exited {rc}: {out}{res.err}")
    say(f"skyctl status, asked on {node}:")
    show(out)


def show_logs(lab, lines=8):
    for node in lab.nodes:
        print(f"    --- last lines of {node}'s heartbeatd log ---")
        for line in lab.log_tail(node, lines):
            print("    " + line.rstrip("\n"))
    sys.stdout.flush()


def demo(lab):
    say(f"Built a lab in network namespaces {lab.prefix}*: node1, node2, a witness and "
        f"a client on {lab.networks} heartbeat networks (198.18.0.0/24, 198.18.1.0/24)")
    say(f"Configuration {lab.config}: cluster demo, module app, default_primary node1")
    say("Starting the witness (the tie-breaker that grants a lease to one node at a time)")
    lab.start_witness()
    say("Starting heartbeatd on node1 and node2 together")
    for node in lab.nodes:
        lab.start_node(node)
    lab.wait_settled(20)
    say("node1 is PRIM (it serves, holding the witness lease), node2 is SECOND "
        "(ready to take over)")
    skyctl_status(lab, "node1")

    banner = "POWER CUT: every process on node1 is killed with -9, its links go down"
    print("\n" + "*" * (len(banner) + 6))
    print(f"*  {banner}  *")
    print("*" * (len(banner) + 6), flush=True)
    killed = time.monotonic()
    lab.kill_node("node1")
    say("Polling node2's status every 20 ms until it serves alone...")
    while True:
        st = lab.try_status("node2")
        if st and st["node"]["role"] == "ALONE":
            break
        if time.monotonic() - killed > 20:
            raise lablib.LabError("node2 did not become ALONE within 20 s: "
                                  + lablib.describe(st))
        time.sleep(0.02)
    took = time.monotonic() - killed
    say(f"node2 is ALONE {took:.2f} s after the power cut (peer lost after "
        f"{TIMEOUT_MS} ms of silence, then the witness lease)")
    say("What the logs said at the takeover:")
    show_logs(lab)
    skyctl_status(lab, "node2")

    print()
    say("Powering node1 back on: links up, heartbeatd started with its state kept")
    lab.restart_node("node1")
    lab.wait_settled(20, primary="node2", secondary="node1")
    say("node1 rejoined as SECOND; node2 stays the primary (PRIM, its peer is back)")
    skyctl_status(lab, "node1")
    return took


def main():
    if os.geteuid() != 0:
        print("demo: the lab builds network namespaces and needs root (sudo make demo)",
              file=sys.stderr)
        return 1
    for prog in (lablib.HEARTBEATD, lablib.SKYCTL):
        if not os.access(prog, os.X_OK):
            print(f"demo: {prog} not found: run `make` first", file=sys.stderr)
            return 1
    lablib.cleanup_stale()
    with lablib.Lab(interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS) as lab:
        try:
            took = demo(lab)
        except (lablib.LabError, AssertionError) as exc:
            print(f"\ndemo FAILED: {exc}", file=sys.stderr)
            lab.dump_logs(out=sys.stderr)
            return 1
        say("Cleaning up the namespaces")
    print(f"\ndemo OK: failover took {took:.2f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ndemo interrupted: lab cleaned up", file=sys.stderr)
        sys.exit(130)
