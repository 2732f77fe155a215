#!/usr/bin/python3
"""wanem.py - `make bench`: what the lab's WAN emulator (tools/wanem) costs and how true
its delay is, against a direct veth pair in the same run (tests/lab/wan.py, WanPairLab).

Two hosts, x and y, are joined twice: through wanem (in a namespace of its own) and by a
direct veth pair; checksum and segmentation offloads are off on both paths (frames of at
most 1514 bytes, as a WAN carries). Measured, in this order:

  1. the delay wanem adds of its own, configured at 0 ms: UDP echo round trips from x to
     y, one in flight, the two paths sampled alternately (so both see the same load):
     median and p99 of each, their ratio, and the median added per crossing (a round
     trip crosses wanem twice). Goal of issue 15: < 0.1 ms.
  2. throughput with 1500-byte frames (iperf3, 5 s each): UDP offered at 1 Gbit/s
     (1472-byte datagrams) and one TCP stream, through wanem and direct; received
     Mbit/s, their ratio, wanem's drops and its CPU time (share of one core). Goal:
     keep up with 1 Gbit/s.
  3. accuracy of a configured one-way delay of 15 ms (RTT 30 ms): median, p99 and min of
     the RTT and the median's error; then 5 ms of jitter: the RTT's standard deviation
     against the expected one (two uniform draws of +-5 ms: 4.08 ms); then the rate
     limit at 100 Mbit/s (TCP).

No absolute threshold fails the run (the machine is shared and noisy): the figures and
the ratios are printed, and written to build/bench/wanem.json. Exit 1 on an error.

    sudo /usr/bin/python3 bench/wanem.py [--samples N] [--seconds S]
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import percentile as pct, say  # noqa: E402
import lab as lablib  # noqa: E402
from wan import DIRECT, VIA_WANEM, WanPairLab  # noqa: E402

JSON_OUT = os.path.join(ROOT, "build", "bench", "wanem.json")
IPERF_PORT = 5201


def rtt_stats(values):
    got = [v for v in values if v is not None]
    if not got:
        raise lablib.LabError("no echo came back")
    return {"samples": len(values), "answered": len(got),
            "median_ms": statistics.median(got), "p99_ms": pct(got, 99),
            "min_ms": min(got), "max_ms": max(got),
            "stdev_ms": statistics.pstdev(got)}


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def iperf(lab, dst, udp, seconds, wanem_pid=None):
    """Mbit/s received by y's iperf3 server (and lost %, for UDP); wanem's CPU share."""
    server = subprocess.Popen(["ip", "netns", "exec", lab.ns("y"), "iperf3", "-s", "-1",
                               "-p", str(IPERF_PORT)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    lab.procs[("y", "iperf3")] = server
    try:
        time.sleep(0.3)
        args = ["iperf3", "-c", dst, "-p", str(IPERF_PORT), "-t", str(seconds), "-J"]
        if udp:
            args += ["-u", "-b", "1G", "-l", "1472", "-w", "4M"]
        cpu0 = cpu_seconds(wanem_pid) if wanem_pid else 0.0
        t0 = time.monotonic()
        res = lablib.run(["ip", "netns", "exec", lab.ns("x")] + args, check=False,
                         timeout=seconds + 30)
        took = time.monotonic() - t0
        cpu = (cpu_seconds(wanem_pid) - cpu0) / took if wanem_pid else None
    finally:
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
    try:
        end = json.loads(res.stdout)["end"]
    except (ValueError, KeyError) as exc:
        raise lablib.LabError(f"iperf3 to {dst}: {res.stdout[-300:]} {res.stderr[-300:]}") \
            from exc
    if udp:
        s = end["sum"]
        # the client's "sum" is what was sent; the server's report is what arrived
        received = s["bits_per_second"] * (1 - s.get("lost_percent", 0) / 100.0)
        out = {"sent_mbit": s["bits_per_second"] / 1e6, "received_mbit": received / 1e6,
               "lost_pct": s.get("lost_percent", 0)}
    else:
        out = {"received_mbit": end["sum_received"]["bits_per_second"] / 1e6,
               "retransmits": end["sum_sent"].get("retransmits", 0)}
    out["wanem_cpu_core"] = cpu
    out["seconds"] = took
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000,
                        help="round trips per path at 0 ms (default 3000)")
    parser.add_argument("--seconds", type=int, default=5,
                        help="length of each throughput run (default 5)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("wanem.py: needs root (network namespaces)", file=sys.stderr)
        return 1
    for tool in ("iperf3", "ethtool"):
        if not shutil.which(tool):
            print(f"wanem.py: {tool} is missing (make deps-bench)", file=sys.stderr)
            return 1
    lablib.cleanup_stale()
    result = {}
    with WanPairLab() as lab:
        wanem = lab.start_wanem(limit=20000)
        pid = wanem.proc.pid

        say(f"1. delay of its own: {args.samples} UDP round trips per path, alternated")
        lab.ping(50, interval=0.001, direct=True)  # ARP, caches
        r = lab.ping(args.samples, interval=0.0005, direct=True)
        w, d = rtt_stats(r["wanem"]), rtt_stats(r["direct"])
        own = {"wanem": w, "direct": d,
               "median_ratio": w["median_ms"] / d["median_ms"],
               "p99_ratio": w["p99_ms"] / d["p99_ms"],
               "added_median_ms_per_crossing": (w["median_ms"] - d["median_ms"]) / 2,
               "added_p99_ms_per_crossing": (w["p99_ms"] - d["p99_ms"]) / 2}
        result["own_delay"] = own
        print(f"    RTT through wanem: median {w['median_ms']:.3f} ms, p99 "
              f"{w['p99_ms']:.3f} ms; direct: median {d['median_ms']:.3f} ms, p99 "
              f"{d['p99_ms']:.3f} ms")
        print(f"    ratio wanem/direct: median {own['median_ratio']:.2f}, p99 "
              f"{own['p99_ratio']:.2f}; added per crossing: median "
              f"{own['added_median_ms_per_crossing']:.3f} ms (goal < 0.1 ms), p99 "
              f"{own['added_p99_ms_per_crossing']:.3f} ms")

        say(f"2. throughput at 1500-byte frames, {args.seconds} s per run (iperf3)")
        tput = {}
        for proto, udp in (("udp_1g", True), ("tcp", False)):
            before = wanem.counters()["wan-x>wan-y"]
            via = iperf(lab, VIA_WANEM[1], udp, args.seconds, pid)
            after = wanem.counters()["wan-x>wan-y"]
            via["wanem_drops"] = sum(after[k] - before[k] for k in
                                     ("queue_full", "send_errors", "ring_drops",
                                      "oversize"))
            via["wanem_frames"] = after["tx_frames"] - before["tx_frames"]
            # what one core of wanem forwards, from its CPU time (the generator on this
            # 2-core machine, not wanem, is what caps the offered load)
            cpu_s = via["wanem_cpu_core"] * via["seconds"]
            via["capacity_gbit_per_core"] = (via["wanem_frames"] / cpu_s * 1514 * 8 / 1e9
                                             if cpu_s > 0 else None)
            direct = iperf(lab, DIRECT[1], udp, args.seconds)
            tput[proto] = {"wanem": via, "direct": direct,
                           "ratio": via["received_mbit"] / max(direct["received_mbit"],
                                                               1e-9)}
            extra = (f", sent {via['sent_mbit']:.0f} / {direct['sent_mbit']:.0f}" if udp
                     else "")
            print(f"    {proto:6s}: received through wanem {via['received_mbit']:.0f} "
                  f"Mbit/s, direct {direct['received_mbit']:.0f} Mbit/s (ratio "
                  f"{tput[proto]['ratio']:.2f}{extra}); wanem forwarded "
                  f"{via['wanem_frames']} frames, dropped {via['wanem_drops']}, used "
                  f"{100 * via['wanem_cpu_core']:.0f} % of a core: one core would "
                  f"forward ~{via['capacity_gbit_per_core'] or 0:.1f} Gbit/s of "
                  "1514-byte frames")
        result["throughput"] = tput

        say("3. accuracy: 15 ms one way (RTT 30 ms), then +-5 ms jitter, then 100 Mbit/s")
        wanem.set(delay_ms=15)
        r = rtt_stats(lab.ping(300, interval=0.01)["wanem"])
        r["median_error_ms"] = r["median_ms"] - 30.0
        result["delay_15ms"] = r
        print(f"    RTT median {r['median_ms']:.3f} ms (error {r['median_error_ms']:+.3f} "
              f"ms, ratio {r['median_ms'] / 30:.3f}), p99 {r['p99_ms']:.3f} ms, min "
              f"{r['min_ms']:.3f} ms")
        wanem.set(delay_ms=15, jitter_ms=5)
        r = rtt_stats(lab.ping(600, interval=0.012)["wanem"])
        expected = math.sqrt(2 * (10.0 ** 2) / 12)
        r["expected_stdev_ms"] = expected
        r["stdev_ratio"] = r["stdev_ms"] / expected
        result["jitter_5ms"] = r
        print(f"    jitter 5 ms: RTT median {r['median_ms']:.3f} ms, stdev "
              f"{r['stdev_ms']:.3f} ms (expected {expected:.2f}, ratio "
              f"{r['stdev_ratio']:.2f}), range {r['min_ms']:.2f}..{r['max_ms']:.2f} ms "
              f"(expected 20..40 plus the machine's own)")
        wanem.set(rate_mbit=100)
        via = iperf(lab, VIA_WANEM[1], False, max(3, args.seconds // 2))
        result["rate_100mbit"] = {"received_mbit": via["received_mbit"],
                                  "ratio": via["received_mbit"] / 100.0}
        print(f"    rate 100 Mbit/s: TCP received {via['received_mbit']:.1f} Mbit/s (ratio "
              f"{via['received_mbit'] / 100:.3f}; TCP/IP headers and the frame's Ethernet "
              f"header take ~5 %)")
        result["counters_at_exit"] = wanem.stop()
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump(result, f, indent=2)
    say(f"figures in {os.path.relpath(JSON_OUT, ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (lablib.LabError, AssertionError) as exc:
        print(f"wanem.py: {exc}", file=sys.stderr)
        sys.exit(1)
