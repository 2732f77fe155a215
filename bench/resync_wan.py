#!/usr/bin/python3
"""resync_wan.py - the resync over a WAN: the bandwidth cap and zstd (part of `make bench`).

A data set is written on node1 with node2 in sync; node2's replicd is stopped; a known
number of bytes is changed in 64 KiB zones of that data set; node2 is started again and
resynced from node1's change record. The resync's own figures (node1's log line "resync
to node2 done: ... bytes on the wire, ... s") give, per row:

- seconds per GiB changed, and bytes on the wire / bytes changed;
- the CPU time both replicds used for it, per MiB changed (not inflated by other load
  on a shared machine, unlike the seconds);
- for rows under `replicd.resync_max_bytes_per_s`, the time the cap implies for the bytes
  the resync sent (the bound: no resync under that cap can be faster) and the measured
  time over it.

Rows: compressible data (log-like text) without and with `resync_compress: zstd`,
incompressible data (random) with zstd (each frame tried, then sent raw: what trying
costs), a capped resync without and with zstd, and text without and with zstd over a
link limited to 100 Mbit/s (the kernel's tbf on node1's side during the resync: a WAN's
bandwidth, not its delay).

Then the same resync across a WAN (--wan-rtt, default 30 ms; 0: skip): the sky lab
(tests/lab/sky_lab.py: node1 and node2 in two sites joined through two wanem links, its
WAN replicd timeout), text raw, with zstd, and raw under the cap. The data set is
written in `commit` mode there (the mode docs/clouds.md advises across clouds: in `sync`
each 64 KiB write would wait a round trip); the resync itself is the same in every mode.

replicd runs with --standalone (no heartbeatd), as in bench/replicd.py. The LAN rows'
round trip is the lab's own (no delay). Needs root and `make`. Results also go to
build/bench/resync_wan.json.
"""

import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lab"))
sys.path.insert(0, HERE)

import lab as lablib  # noqa: E402
from replicd_lab import ReplicdLab  # noqa: E402
import replicd as replicd_bench  # noqa: E402  (bench/replicd.py's lab helpers)
from sky_lab import SkyLab  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
ZONE = 64 << 10
TIMEOUT_MS = 1000
WORDS = [b"replicated", b"resync", b"primary", b"secondary", b"zone", b"write", b"azure",
         b"aws", b"latency", b"bytes", b"node1", b"node2", b"GET", b"/api/v1/orders", b"200"]


class WanBenchLab(ReplicdLab):
    """ReplicdLab whose `replicd:` section gets `extra` lines (set per row)."""

    extra = []

    def replicd_config_text(self, node):
        return super().replicd_config_text(node) + "".join(f"  {x}\n" for x in self.extra)


class SkyBenchLab(SkyLab):
    """The sky lab (two sites across wanem links) with `extra` replicd lines, as above."""

    extra = []

    def replicd_config_text(self, node):
        return super().replicd_config_text(node) + "".join(f"  {x}\n" for x in self.extra)


def text_zone(rng, n=ZONE):
    """n bytes of log-like text (zstd level 3 makes about a fifth of it)."""
    out = bytearray()
    while len(out) < n:
        out += b"2026-12-07T%02d:%02d:%02d.%03dZ %s %s %s %d\n" % (
            rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randrange(1000),
            rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS), rng.randrange(100000))
    return bytes(out[:n])


def cpu_ms(lab, node):
    """CPU time (user + system) node's replicd used so far, in ms: unlike wall time,
    not inflated by other load on a shared machine."""
    pid = lab.procs[(node, "replicd")].pid  # nsenter execs replicd: same pid
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def tbf(lab, rate):
    """Limit node1's sending on the replication link to rate (None: remove)."""
    cmd = ["ip", "netns", "exec", lab.ns("node1"), "tc", "qdisc"]
    if rate:
        lablib.run(cmd + ["add", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "64kb",
                          "latency", "100ms"])
    else:
        lablib.run(cmd + ["del", "dev", "eth0", "root"], check=False)


def one_row(lab, extra, data_mib, change_mib, compressible, seed, link=None, mode="sync"):
    """One resync after an outage of node2, with `extra` replicd lines on both nodes
    and node1's sending limited to `link` (tbf) during the resync."""
    lab.extra = extra
    replicd_bench.start_pair(lab, mode)
    rng = random.Random(seed)
    root = lab.data_dir("node1")
    files = []
    for i in range(data_mib // 8):
        path = os.path.join(root, f"set{i}")
        with open(path, "wb") as f:
            for _ in range(8 * MiB // ZONE):
                f.write(text_zone(rng) if compressible else rng.randbytes(ZONE))
            f.flush()
            os.fsync(f.fileno())
        files.append(path)
    # As bench/replicd.py: wait until the record of what was in flight is emptied.
    record = os.path.join(lab.node_dir("node1", "state"), "app", "replicd", "track.rec")
    deadline = time.monotonic() + 120
    while os.path.getsize(record) > 16:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{record} was not emptied within 120 s")
        time.sleep(0.2)
    replicd_bench.stop_replicd(lab, "node2")
    time.sleep(3 * lab.replicd_timeout_ms / 1000 + 0.5)  # acknowledged alone from then on
    changed, pieces = 0, set()
    while changed < change_mib * MiB:
        path = rng.choice(files)
        zone = rng.randrange(0, 8 * MiB // ZONE)
        if (path, zone) in pieces:
            continue
        pieces.add((path, zone))
        with open(path, "r+b") as f:
            f.seek(zone * ZONE)
            f.write(text_zone(rng) if compressible else rng.randbytes(ZONE))
            f.flush()
            os.fsync(f.fileno())
        changed += ZONE
    n = replicd_bench.log_lines(lab, "node1")
    if link:
        tbf(lab, link)
    cpu_before = cpu_ms(lab, "node1")
    lab.start_replicd("node2", standalone="secondary")
    try:
        m = replicd_bench.wait_log(
            lab, "node1", r"resync to node2 done: (\d+) file bytes in (\d+) zones, "
            r"(\d+) bytes on the wire, ([0-9.]+) s", n, timeout=600)
        # Both replicds' CPU for the resync (node2's from its start).
        cpu = cpu_ms(lab, "node1") - cpu_before + cpu_ms(lab, "node2")
    finally:
        if link:
            tbf(lab, None)
    data, wire, secs = int(m[1]), int(m[3]), float(m[4])
    replicd_bench.stop_replicd(lab, "node1")
    replicd_bench.stop_replicd(lab, "node2")
    for node in lab.nodes:
        replicd_bench.clear(lab.disk_dir(node))
        state = os.path.join(lab.node_dir(node, "state"), "app", "replicd")
        if os.path.isdir(state):
            replicd_bench.clear(state)
    return {"changed_bytes": changed, "resync_file_bytes": data, "wire_bytes": wire,
            "wire_per_changed": wire / changed, "seconds": secs,
            "cpu_ms_per_MiB_changed": cpu / (changed / MiB),
            "seconds_per_GiB_changed": secs / (changed / GiB)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-mib", type=int, default=64, help="data set per row")
    ap.add_argument("--change-mib", type=int, default=32, help="changed during the outage")
    ap.add_argument("--cap-mib", type=int, default=8, help="resync_max_bytes_per_s, MiB/s")
    ap.add_argument("--link", default="100mbit",
                    help="tbf rate of node1's link for the last two LAN rows")
    ap.add_argument("--wan-rtt", type=float, default=30,
                    help="ms between the nodes of the WAN rows (sky lab; 0: none)")
    ap.add_argument("--wan-only", action="store_true", help="only the WAN rows")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("resync_wan.py: needs root (network namespaces, FUSE)", file=sys.stderr)
        return 1
    if not os.access(os.path.join(lablib.BUILD, "replicd"), os.X_OK):
        print("resync_wan.py: build/replicd is missing: run `make`", file=sys.stderr)
        return 1
    cap = args.cap_mib * MiB
    rows = [
        ("text, raw", [], True),
        ("text, zstd", ["resync_compress: zstd"], True),
        ("random, zstd (raw)", ["resync_compress: zstd"], False),
        (f"text, raw, cap {args.cap_mib} MiB/s", [f"resync_max_bytes_per_s: {cap}"], True),
        (f"text, zstd, cap {args.cap_mib} MiB/s",
         ["resync_compress: zstd", f"resync_max_bytes_per_s: {cap}"], True),
        (f"text, raw, link {args.link}", [], True),
        (f"text, zstd, link {args.link}", ["resync_compress: zstd"], True),
    ]
    lablib.cleanup_stale()
    results = {"rows": {}}
    lab = WanBenchLab(networks=1, replicd_timeout_ms=TIMEOUT_MS)
    try:
        lab.setup()
        results["lab"] = replicd_bench.lab_rtt_ms(lab)
        for i, (label, extra, compressible) in enumerate([] if args.wan_only else rows):
            print(f"resync: {label} ...", flush=True)
            link = args.link if "link" in label else None
            r = one_row(lab, extra, args.data_mib, args.change_mib, compressible, 11 + i,
                        link)
            if any(x.startswith("resync_max_bytes_per_s") for x in extra):
                # The cap counts the resync's operations as encoded; the wire
                # bytes are those plus the framing and the live traffic.
                r["cap_bytes_per_s"] = cap
                r["cap_bound_s"] = r["wire_bytes"] / cap
                r["seconds_over_bound"] = r["seconds"] / r["cap_bound_s"]
            results["rows"][label] = r
    finally:
        lab.close()
    if args.wan_rtt:
        wan = f"WAN {args.wan_rtt:g} ms"
        wan_rows = [
            (f"{wan}, text, raw", [], True),
            (f"{wan}, text, zstd", ["resync_compress: zstd"], True),
            (f"{wan}, text, raw, cap {args.cap_mib} MiB/s",
             [f"resync_max_bytes_per_s: {cap}"], True),
        ]
        sky = SkyBenchLab(rtt_ms=args.wan_rtt)
        try:
            sky.setup()
            results["wan"] = replicd_bench.lab_rtt_ms(sky)
            for i, (label, extra, compressible) in enumerate(wan_rows):
                print(f"resync: {label} ...", flush=True)
                r = one_row(sky, extra, args.data_mib, args.change_mib, compressible,
                            31 + i, mode="commit")
                if any(x.startswith("resync_max_bytes_per_s") for x in extra):
                    r["cap_bytes_per_s"] = cap
                    r["cap_bound_s"] = r["wire_bytes"] / cap
                    r["seconds_over_bound"] = r["seconds"] / r["cap_bound_s"]
                results["rows"][label] = r
        finally:
            sky.close()

    print()
    print(f"{'resync of ' + str(args.change_mib) + ' MiB changed':34} {'s/GiB':>7} "
          f"{'wire/changed':>12} {'seconds':>8} {'cap bound s':>11} {'x bound':>8} "
          f"{'CPU ms/MiB':>10}")
    for label, r in results["rows"].items():
        bound = f"{r['cap_bound_s']:11.2f} {r['seconds_over_bound']:8.2f}" \
            if "cap_bound_s" in r else f"{'-':>11} {'-':>8}"
        print(f"{label:34} {r['seconds_per_GiB_changed']:7.1f} "
              f"{r['wire_per_changed']:12.3f} {r['seconds']:8.2f} {bound} "
              f"{r['cpu_ms_per_MiB_changed']:10.1f}")
    print(f"lab round trip between the nodes (ICMP): {results['lab']['rtt_avg_ms']:.3f} ms "
          f"average (no delay)" + (f"; the WAN rows' {results['wan']['rtt_avg_ms']:.1f} ms "
                                   "(sky lab, wanem)" if "wan" in results else ""))
    out = os.path.join(lablib.BUILD, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "resync_wan.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
