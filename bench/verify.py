#!/usr/bin/python3
"""verify.py - `skyctl verify` on a data set: how long, and what it costs a writer.

A pair under heartbeatd (the lab: two network namespaces, one disk, two shared
cores), node2 in sync with DATA MiB written on node1 in 16 MiB files. Rows:

- a verify without a cap: its duration (replicd's own `duration_ms`), bytes compared,
  MiB/s (both copies are read: the secondary hashes its copy, then the primary
  compares);
- the same while a writer does 4 KiB write + fsync through node1's mount: the
  writer's median and p95 latency during the verify against the same writer with no
  verify running (the verify holds the order lock during each comparison step);
- with `replicd.verify_max_bytes_per_s` (a second pair, --cap MiB/s): the duration
  against the bound the cap implies (both copies read under it: 2 x bytes / cap).

Every verify must report 0 differences. Needs root and `make`. Results also go to
build/bench/verify.json.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lab"))
sys.path.insert(0, HERE)

import _common  # noqa: E402
import lab as lablib  # noqa: E402
from replicd_lab import ReplicdLab, replicd_of  # noqa: E402

MiB = 1 << 20


class VerifyLab(ReplicdLab):
    cap = 0

    def replicd_config_text(self, node):
        return super().replicd_config_text(node) + \
            f"  verify_max_bytes_per_s: {self.cap}\n"


def write_data(root, mib):
    block = os.urandom(MiB)
    for i in range(0, mib, 16):
        with open(os.path.join(root, f"data{i // 16}"), "wb") as f:
            for _ in range(min(16, mib - i)):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())


def verify(lab, limit_s):
    rc, out = lab.skyctl("node1", "verify", json=True)
    if rc != 0:
        raise RuntimeError(f"skyctl verify: {rc} {out}")
    request = json.loads(out)["request"]

    def done():
        last = (replicd_of(lab.try_status("node1")).get("verify") or {}).get("last")
        return last if last and last.get("id") == request else None

    _, last = _common.wait("the verify's result", done, limit_s, 0.2)
    if last.get("result") != "done" or last.get("differences") != 0:
        raise RuntimeError(f"verify: {last}")
    return last


class Writer:
    """4 KiB write + fsync in a loop; latencies in ms."""

    def __init__(self, root):
        self.path = os.path.join(root, "writer")
        self.lat = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        buf = os.urandom(4096)
        off = 0
        try:
            while not self.stop.is_set():
                t = time.monotonic()
                os.pwrite(fd, buf, off)
                os.fsync(fd)
                self.lat.append((time.monotonic() - t) * 1000)
                off = (off + 4096) % (4 * MiB)
        finally:
            os.close(fd)

    def sample(self, seconds):
        self.lat = []
        time.sleep(seconds)
        return list(self.lat)


def start_pair(cap, mib):
    lab = VerifyLab(networks=1)
    lab.cap = cap
    lab.setup()
    lab.start_cluster()
    lab.wait_replicd("node1", "primary", connected=True)
    lab.wait_in_sync("node2", 60)
    write_data(lab.data_dir("node1"), mib)
    lab.wait_in_sync("node2", 60)
    return lab


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-mib", type=int, default=256)
    parser.add_argument("--cap", type=int, default=32, help="MiB/s for the capped row")
    args = parser.parse_args()
    lablib.cleanup_stale()
    results = {"data_mib": args.data_mib}
    limit = 600
    lab = start_pair(0, args.data_mib)
    try:
        _common.say(f"verify of {args.data_mib} MiB, no cap")
        last = verify(lab, limit)
        secs = last["duration_ms"] / 1000
        results["uncapped"] = {"seconds": secs, "bytes": last["bytes_compared"],
                               "MiBps": last["bytes_compared"] / MiB / secs}
        _common.say(f"  {secs:.2f} s, {last['bytes_compared']} bytes, "
                    f"{results['uncapped']['MiBps']:.0f} MiB/s of each copy")
        w = Writer(lab.data_dir("node1"))
        w.thread.start()
        idle = w.sample(max(2.0, secs))
        w.lat = []
        last = verify(lab, limit)
        during = list(w.lat)
        w.stop.set()
        w.thread.join(10)
        results["writer"] = {
            "idle": _common.summary(idle), "during_verify": _common.summary(during),
            "verify_seconds": last["duration_ms"] / 1000,
            "changed_during_verify": last["changed_during_verify"]}
        _common.say(f"  writer 4 KiB+fsync: median {statistics.median(idle):.2f} ms idle, "
                    f"{statistics.median(during):.2f} ms during the verify "
                    f"(p95 {_common.percentile(idle, 95):.2f} / "
                    f"{_common.percentile(during, 95):.2f}); verify "
                    f"{last['duration_ms'] / 1000:.2f} s, "
                    f"{last['changed_during_verify']} path(s) changed during it")
    finally:
        lab.close()
    cap_mib = max(1, args.cap)
    mib = max(16, args.data_mib // 4)
    lab = start_pair(cap_mib * MiB, mib)
    try:
        _common.say(f"verify of {mib} MiB, cap {cap_mib} MiB/s")
        last = verify(lab, limit)
        secs = last["duration_ms"] / 1000
        bound = 2 * last["bytes_compared"] / (cap_mib * MiB)
        results["capped"] = {"seconds": secs, "bytes": last["bytes_compared"],
                             "bound_s": bound, "ratio": secs / bound,
                             "throttled_ms": last["throttled_ms"]}
        _common.say(f"  {secs:.2f} s for a bound of {bound:.2f} s ({secs / bound:.2f} x)")
    finally:
        lab.close()
    os.makedirs(os.path.join(lablib.BUILD, "bench"), exist_ok=True)
    with open(os.path.join(lablib.BUILD, "bench", "verify.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
