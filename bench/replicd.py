#!/usr/bin/python3
"""replicd.py - what replication costs, with fio, on one file system (part of `make bench`).

Four set-ups, the same fio jobs in each, all on the file system of the lab directory:
(a) a plain directory (the baseline), (b) replicd's FUSE mount with no peer (what the
mount and the change record cost), (c) replicated in sync mode to a peer replicd in
another network namespace of the lab (tests/lab, 198.18.0.0/15 only), (d) the same in
async mode. Jobs: sequential 1 MiB writes then one fsync (throughput), and 4 KiB random
writes each followed by fsync (latency of write + fsync: what a database commit costs).
Printed: throughput, p50/p99 latency, and the ratios c/a and c/b; the CPU time per MiB
written (every process of both nodes: they share this machine's cores and disk) and how
many cores were busy; the lab's round trip between the nodes (ICMP echo, the smallest
round trip there is); and each target of issue 3, met or not, beside what the FUSE mount
alone (b) reaches, since no replication through it can do better. Then a resync: a data
set is written with the peer up, the peer's replicd is stopped, a known number of bytes
is changed in 64 KiB pieces, the peer is started again and the resync's own figures (from
the primary's log) give bytes sent / bytes changed and seconds per GiB changed.

Then the jobs of issue 15, in each replication mode (--modes: sync, async, commit), on
the lab's LAN and across a WAN at each round trip of --rtt (10, 30, 60 ms: the sky lab,
tests/lab/sky_lab.py, node1 and node2 in two sites joined through two wanem links):
sequential 1 MiB writes by one and by four writers (fsync at the end of each file),
4 KiB random writes with an fsync after every write and after every 32 (one writer),
and after every write by four writers. Printed: throughput, commits per second, commit
latency p50/p99 (a commit: the group's writes and the fsync that ends it), and ratios
to the physical bounds measured in the same run: for throughput, the smaller of the
plain directory's and the link's (iperf3, one TCP stream, between the two nodes); for a
commit, a plain directory's commit plus one round trip (ICMP) between the nodes.

replicd runs with --standalone (no heartbeatd): this measures replication, not
failover. The machine may be shared and noisy: figures are indicative; compare ratios
within one run. Needs root, fio (tools/deps.sh bench) and `make`; run as
`python3 bench/replicd.py` (or /usr/bin/python3). Results also go to
build/bench/replicd.json.
"""

import argparse
import json
import os
import re
import random
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))

import lab as lablib  # noqa: E402
from replicd_lab import ReplicdLab  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
TIMEOUT_MS = 1000


def fio(directory, name, args):
    """Run one fio job in directory; return its parsed JSON job."""
    cmd = ["fio", "--name=" + name, "--directory=" + directory, "--ioengine=psync",
           "--output-format=json", "--group_reporting"] + args
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"fio {name} in {directory} failed: {res.stderr.strip()[:400]}")
    text = res.stdout[res.stdout.index("{"):]
    return json.loads(text)["jobs"][0]


def pct(lat, p):
    return lat.get("percentile", {}).get(p, 0) / 1e6  # ns -> ms


def cpu_jiffies():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


def lab_rtt_ms(lab):
    """Round trip between the two nodes' namespaces: ICMP echo, the kernel's
    own (the smallest there is: no process wakes up to answer)."""
    res = subprocess.run(["ip", "netns", "exec", lab.ns("node1"), "ping", "-q", "-c", "200",
                          "-i", "0.005", lab.addr(0, "node2")],
                         capture_output=True, text=True, timeout=60)
    m = re.search(r"= ([0-9.]+)/([0-9.]+)/([0-9.]+)/", res.stdout)
    if not m:
        raise RuntimeError(f"ping between the nodes failed: {res.stdout} {res.stderr}")
    return {"rtt_min_ms": float(m[1]), "rtt_avg_ms": float(m[2])}


def run_jobs(directory, seq_mib, rand_seconds):
    busy0, total0 = cpu_jiffies()
    seq = fio(directory, "seq", ["--rw=write", "--bs=1M", f"--size={seq_mib}M",
                                 "--end_fsync=1"])
    busy1, total1 = cpu_jiffies()
    hz = os.sysconf("SC_CLK_TCK")
    ncpu = os.cpu_count() or 1
    rnd = fio(directory, "rand", ["--rw=randwrite", "--bs=4k", "--size=64M", "--fsync=1",
                                  "--time_based", f"--runtime={rand_seconds}"])
    w, s = rnd["write"], rnd.get("sync", {})
    # One commit = the write, then its fsync.
    return {
        "seq_MiBps": seq["write"]["bw_bytes"] / MiB,
        # Every process of both nodes, fio's and the kernel's work included.
        "seq_cpu_ms_per_MiB": (busy1 - busy0) * 1000 / hz / seq_mib,
        "seq_busy_cores": ncpu * (busy1 - busy0) / max(1, total1 - total0),
        "seq_p50_ms": pct(seq["write"]["clat_ns"], "50.000000"),
        "seq_p99_ms": pct(seq["write"]["clat_ns"], "99.000000"),
        "rand_iops": w["iops"],
        "rand_write_p50_ms": pct(w["clat_ns"], "50.000000"),
        "rand_write_p99_ms": pct(w["clat_ns"], "99.000000"),
        "rand_fsync_p50_ms": pct(s.get("lat_ns", {}), "50.000000"),
        "rand_fsync_p99_ms": pct(s.get("lat_ns", {}), "99.000000"),
    }


def run_latency_jobs(directory, seq_mib, rand_seconds):
    """The jobs of issue 15 (one set-up): sequential 1 MiB writes by one and by four
    writers (fsync at the end of each file), and 4 KiB random writes with an fsync
    after every write and after every 32, by one writer and (every write) by four.
    A commit is the fsync that ends a group of writes: its latency is the time from
    the group's first write to the fsync's return, taken as (writes per group) x the
    write latency + the fsync latency, at p50 and p99 of each."""
    out = {}
    for name, jobs in (("seq1", 1), ("seq4", 4)):
        j = fio(directory, name, ["--rw=write", "--bs=1M", f"--size={max(1, seq_mib // jobs)}M",
                                  "--end_fsync=1", f"--numjobs={jobs}"])
        out[name] = {"MiBps": j["write"]["bw_bytes"] / MiB,
                     "write_p50_ms": pct(j["write"]["clat_ns"], "50.000000"),
                     "write_p99_ms": pct(j["write"]["clat_ns"], "99.000000")}
        clear(directory)
    for name, every, jobs in (("rand_fsync1", 1, 1), ("rand_fsync32", 32, 1),
                              ("rand_fsync1_x4", 1, 4)):
        j = fio(directory, name, ["--rw=randwrite", "--bs=4k", "--size=32M",
                                  f"--fsync={every}", "--time_based",
                                  f"--runtime={rand_seconds}", f"--numjobs={jobs}"])
        w, s = j["write"], j.get("sync", {})
        fs = s.get("lat_ns", {})
        commits = w["iops"] / every
        out[name] = {
            "write_iops": w["iops"], "commits_per_s": commits,
            "MiBps": w["bw_bytes"] / MiB,
            "commit_p50_ms": every * pct(w["clat_ns"], "50.000000") + pct(fs, "50.000000"),
            "commit_p99_ms": every * pct(w["clat_ns"], "99.000000") + pct(fs, "99.000000"),
            "fsync_p50_ms": pct(fs, "50.000000"), "fsync_p99_ms": pct(fs, "99.000000"),
            "write_p50_ms": pct(w["clat_ns"], "50.000000"),
        }
        clear(directory)
    return out


def link_MiBps(lab, seconds=3):
    """TCP throughput between the two nodes' namespaces (iperf3, one stream, after a
    first 2 s left out: TCP's slow start over a long round trip): the link's own bound
    on what replication can send."""
    srv = subprocess.Popen(["ip", "netns", "exec", lab.ns("node2"), "iperf3", "-s"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            res = subprocess.run(["ip", "netns", "exec", lab.ns("node1"), "iperf3", "-J",
                                  "-O", "2", "-t", str(seconds), "-c",
                                  lab.addr(0, "node2")],
                                 capture_output=True, text=True, timeout=60)
            # A client that came before the server listened reports an error.
            if res.returncode == 0:
                got = json.loads(res.stdout).get("end", {}).get("sum_received")
                if got:
                    return got["bits_per_second"] / 8 / MiB
            time.sleep(0.2)
        raise RuntimeError(f"iperf3 between the nodes failed: {res.stdout[-300:]}")
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait()


def run_wan(args, modes, rtts, results):
    """The issue 15 jobs across the sky lab's WAN (tests/lab/sky_lab.py: node1 and
    node2 in two sites joined through two wanem links), at each round trip."""
    from sky_lab import SkyLab
    lab = SkyLab(rtt_ms=rtts[0])
    try:
        lab.setup()
        for rtt in rtts:
            lab.set_wan(rtt_ms=rtt)
            label = f"wan_{rtt:g}ms"
            r = results[label] = {"lab": lab_rtt_ms(lab), "link_MiBps": link_MiBps(lab, 5),
                                  "lat_plain": results["lat_plain"]}
            for mode in modes:
                print(f"issue 15 jobs at {rtt:g} ms: replicated, {mode} ...", flush=True)
                start_pair(lab, mode)
                r[f"lat_{mode}"] = run_latency_jobs(lab.data_dir("node1"), args.seq_mib,
                                                    args.rand_seconds)
                stop_replicd(lab, "node1")
                stop_replicd(lab, "node2")
                for node in lab.nodes:
                    clear(lab.disk_dir(node))
    finally:
        lab.close()


def print_latency_table(results, modes, rtt_ms, title="LAN"):
    """Throughput and commit latency of each mode, and their ratio to the physical
    bound of the same run: the bandwidth bound is min(plain disk, link) for writes
    that must cross the link (every mode's, once the file is fsynced), the commit bound
    is a plain directory's commit plus one round trip (the remote fsync runs while the
    local one does)."""
    a = results["lat_plain"]
    link = results["link_MiBps"]
    seq_bound = min(a["seq1"]["MiBps"], link)
    seq4_bound = min(a["seq4"]["MiBps"], link)
    print()
    print(f"issue 15 jobs, {title}; bounds: link {link:.0f} MiB/s, plain disk "
          f"{a['seq1']['MiBps']:.0f} "
          f"MiB/s (1 writer) {a['seq4']['MiBps']:.0f} (4), round trip {rtt_ms:.3f} ms")
    print(f"{'':14} {'seq1 MiB/s':>11} {'x bound':>7} {'seq4 MiB/s':>11} {'x bound':>7} "
          f"{'c/s f1':>7} {'p50':>6} {'p99':>6} {'x bnd':>5} {'c/s f32':>7} {'p50':>6} "
          f"{'p99':>6} {'c/s f1x4':>8} {'p50':>6}")
    for label in ["lat_plain", "lat_alone"] + [f"lat_{m}" for m in modes]:
        r = results.get(label)
        if not r:
            continue
        f1, f32, f4 = r["rand_fsync1"], r["rand_fsync32"], r["rand_fsync1_x4"]
        bound1 = a["rand_fsync1"]["commit_p50_ms"] + (rtt_ms if label not in
                                                       ("lat_plain", "lat_alone") else 0)
        r["ratios"] = {"seq1_over_bound": r["seq1"]["MiBps"] / seq_bound,
                       "seq4_over_bound": r["seq4"]["MiBps"] / seq4_bound,
                       "commit_p50_over_bound": f1["commit_p50_ms"] / bound1}
        print(f"{label[4:]:14} {r['seq1']['MiBps']:11.1f} {r['ratios']['seq1_over_bound']:7.2f} "
              f"{r['seq4']['MiBps']:11.1f} {r['ratios']['seq4_over_bound']:7.2f} "
              f"{f1['commits_per_s']:7.0f} {f1['commit_p50_ms']:6.2f} {f1['commit_p99_ms']:6.2f} "
              f"{r['ratios']['commit_p50_over_bound']:5.2f} {f32['commits_per_s']:7.0f} "
              f"{f32['commit_p50_ms']:6.2f} {f32['commit_p99_ms']:6.2f} "
              f"{f4['commits_per_s']:8.0f} {f4['commit_p50_ms']:6.2f}")
    print("(c/s: commits per second; f1: fsync after every 4 KiB write, f32: after every "
          "32, f1x4: four writers; latencies in ms)")


def clear(directory):
    for name in os.listdir(directory):
        p = os.path.join(directory, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


def stop_replicd(lab, node):
    proc = lab.procs.get((node, "replicd"))
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=15)
    for _ in range(8):
        types = lablib_mounted(lab.data_dir(node))
        if not types or types[-1] != "fuse.skyha-replicd":
            break
        lablib.run(["umount", "-l", lab.data_dir(node)], check=False)


def lablib_mounted(path):
    from replicd_lab import mounted
    return mounted(path)


def wait_log(lab, node, pattern, after_lines, timeout=60.0):
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        with open(lab.replicd_log(node), errors="replace") as f:
            lines = f.readlines()[after_lines:]
        for line in lines:
            m = rx.search(line)
            if m:
                return m
        time.sleep(0.05)
    raise RuntimeError(f"{node}: /{pattern}/ not logged within {timeout:g} s")


def log_lines(lab, node):
    try:
        with open(lab.replicd_log(node), errors="replace") as f:
            return len(f.readlines())
    except FileNotFoundError:
        return 0


def start_pair(lab, mode):
    """node2 secondary, node1 primary, connected and in sync, in mode."""
    lab.mode = mode
    for node in lab.nodes:
        lab.write_config(lab.replicd_config(node), lab.replicd_config_text(node))
    n = log_lines(lab, "node1")
    lab.start_replicd("node2", standalone="secondary")
    lab.start_replicd("node1", standalone="primary")
    wait_log(lab, "node1", r"resync to node2 done|is in sync: nothing changed", n)


def resync_figure(lab, data_mib, change_mib, seed=5):
    """Bytes the resync sent per byte changed while the peer was away."""
    rng = random.Random(seed)
    root = lab.data_dir("node1")
    files = []
    for i in range(data_mib // 8):
        path = os.path.join(root, f"set{i}")
        with open(path, "wb") as f:
            for _ in range(8):
                f.write(rng.randbytes(MiB))
            f.flush()
            os.fsync(f.fileno())
        files.append(path)
    # The primary empties its record of what was in flight once writes paused
    # (docs/replication.md); an outage before that also resyncs those extents.
    record = os.path.join(lab.node_dir("node1", "state"), "app", "replicd", "track.rec")
    deadline = time.monotonic() + 60
    while os.path.getsize(record) > 16:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{record} was not emptied within 60 s")
        time.sleep(0.2)
    stop_replicd(lab, "node2")
    time.sleep(3 * TIMEOUT_MS / 1000 + 0.5)  # writes are acknowledged alone from then on
    changed, pieces = 0, set()
    while changed < change_mib * MiB:
        path = rng.choice(files)
        zone = rng.randrange(0, 8 * MiB // (64 << 10))
        if (path, zone) in pieces:
            continue
        pieces.add((path, zone))
        with open(path, "r+b") as f:
            f.seek(zone * (64 << 10))
            f.write(rng.randbytes(64 << 10))
            f.flush()
            os.fsync(f.fileno())
        changed += 64 << 10
    n = log_lines(lab, "node1")
    lab.start_replicd("node2", standalone="secondary")
    m = wait_log(lab, "node1", r"resync to node2 done: (\d+) file bytes in (\d+) zones, "
                 r"(\d+) bytes on the wire, ([0-9.]+) s", n, timeout=300)
    data, _zones, wire, secs = int(m[1]), int(m[2]), int(m[3]), float(m[4])
    return {"data_set_bytes": data_mib * MiB, "changed_bytes": changed,
            "resync_file_bytes": data, "resync_wire_bytes": wire,
            "wire_per_changed": wire / changed, "resync_seconds": secs,
            "seconds_per_GiB_changed": secs / (changed / GiB)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq-mib", type=int, default=256, help="sequential job size")
    ap.add_argument("--rand-seconds", type=int, default=5, help="random job length")
    ap.add_argument("--data-mib", type=int, default=320, help="resync data set")
    ap.add_argument("--change-mib", type=int, default=16, help="changed during the outage")
    ap.add_argument("--modes", default="sync,async,commit",
                    help="replication modes of the issue 15 table (comma-separated)")
    ap.add_argument("--latency-only", action="store_true",
                    help="only the issue 15 table (no issue 3 table, no resync)")
    ap.add_argument("--rtt", default="10,30,60",
                    help="round trips (ms) of the WAN rows, through wanem (empty: none)")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    rtts = [float(x) for x in args.rtt.split(",") if x]
    if os.geteuid() != 0:
        print("replicd.py: needs root (network namespaces, FUSE)", file=sys.stderr)
        return 1
    if not shutil.which("fio"):
        print("replicd.py: fio is missing: tools/deps.sh bench", file=sys.stderr)
        return 1
    if not os.access(os.path.join(lablib.BUILD, "replicd"), os.X_OK):
        print("replicd.py: build/replicd is missing: run `make`", file=sys.stderr)
        return 1
    lablib.cleanup_stale()
    results = {}
    lab = ReplicdLab(networks=1, replicd_timeout_ms=TIMEOUT_MS)
    try:
        lab.setup()
        plain = lab.node_dir("node1", "plain")
        os.makedirs(plain)
        # This VM's memory is slow the first time it is touched: whoever runs
        # first would pay for it. Touch as much as (c) uses (two copies) and
        # more, outside the figures.
        fio(plain, "warm-up", ["--rw=write", "--bs=1M", f"--size={3 * args.seq_mib}M"])
        clear(plain)
        if not args.latency_only:
            run_issue3(lab, args, results)
        results["lab"] = lab_rtt_ms(lab)
        results["link_MiBps"] = link_MiBps(lab)
        print("issue 15 jobs: plain directory ...", flush=True)
        results["lat_plain"] = run_latency_jobs(plain, args.seq_mib, args.rand_seconds)
        print("issue 15 jobs: FUSE mount, no peer ...", flush=True)
        lab.start_replicd("node1", standalone="primary")
        time.sleep(3 * TIMEOUT_MS / 1000 + 0.5)  # alone: acknowledged without a peer
        results["lat_alone"] = run_latency_jobs(lab.data_dir("node1"), args.seq_mib,
                                                args.rand_seconds)
        stop_replicd(lab, "node1")
        for mode in modes:
            print(f"issue 15 jobs: replicated, {mode} ...", flush=True)
            start_pair(lab, mode)
            results[f"lat_{mode}"] = run_latency_jobs(lab.data_dir("node1"), args.seq_mib,
                                                      args.rand_seconds)
            stop_replicd(lab, "node1")
            stop_replicd(lab, "node2")
        if not args.latency_only:
            print("resync after an outage ...", flush=True)
            start_pair(lab, "sync")
            results["resync"] = resync_figure(lab, args.data_mib, args.change_mib)
    finally:
        lab.close()

    print_latency_table(results, modes, results["lab"]["rtt_avg_ms"])
    if rtts:
        run_wan(args, modes, rtts, results)
    for rtt in rtts:
        r = results[f"wan_{rtt:g}ms"]
        print_latency_table(r, modes, r["lab"]["rtt_avg_ms"], f"WAN {rtt:g} ms (wanem)")
    out = os.path.join(lablib.BUILD, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "replicd.json"), "w") as f:
        json.dump(results, f, indent=2)
    if not args.latency_only:
        print_issue3(results)
    return 0


def run_issue3(lab, args, results):
    """The set-ups (a)-(d) of issue 3's table."""
    plain = lab.node_dir("node1", "plain")
    print("(a) plain directory ...", flush=True)
    results["a_plain"] = run_jobs(plain, args.seq_mib, args.rand_seconds)
    clear(plain)

    print("(b) FUSE mount, no peer ...", flush=True)
    lab.start_replicd("node1", standalone="primary")
    time.sleep(3 * TIMEOUT_MS / 1000 + 0.5)  # alone: acknowledged without a peer
    results["b_fuse_alone"] = run_jobs(lab.data_dir("node1"), args.seq_mib,
                                       args.rand_seconds)
    clear(lab.data_dir("node1"))
    stop_replicd(lab, "node1")

    for label, mode in (("c_sync", "sync"), ("d_async", "async")):
        print(f"({label[0]}) replicated, {mode} ...", flush=True)
        start_pair(lab, mode)
        results[label] = run_jobs(lab.data_dir("node1"), args.seq_mib,
                                  args.rand_seconds)
        clear(lab.data_dir("node1"))
        stop_replicd(lab, "node1")
        stop_replicd(lab, "node2")


def print_issue3(results):
    a, b, c, d = (results[k] for k in ("a_plain", "b_fuse_alone", "c_sync", "d_async"))
    print()
    print(f"{'':22} {'seq MiB/s':>10} {'seq p50':>8} {'seq p99':>8} {'4k IOPS':>8} "
          f"{'wr p50':>7} {'wr p99':>7} {'fsync p50':>9} {'fsync p99':>9}   (ms)")
    for label, r in (("(a) plain", a), ("(b) FUSE, no peer", b), ("(c) sync to peer", c),
                     ("(d) async to peer", d)):
        print(f"{label:22} {r['seq_MiBps']:10.1f} {r['seq_p50_ms']:8.2f} "
              f"{r['seq_p99_ms']:8.2f} {r['rand_iops']:8.0f} {r['rand_write_p50_ms']:7.3f} "
              f"{r['rand_write_p99_ms']:7.3f} {r['rand_fsync_p50_ms']:9.3f} "
              f"{r['rand_fsync_p99_ms']:9.3f}")

    def commit_ms(r, p):
        return r[f"rand_write_{p}_ms"] + r[f"rand_fsync_{p}_ms"]
    ratios = {
        "seq_throughput_c_over_a": c["seq_MiBps"] / a["seq_MiBps"],
        "seq_throughput_c_over_b": c["seq_MiBps"] / b["seq_MiBps"],
        "rand_iops_c_over_a": c["rand_iops"] / a["rand_iops"],
        "rand_iops_c_over_b": c["rand_iops"] / b["rand_iops"],
        "commit_p50_ms_c_minus_a": commit_ms(c, "p50") - commit_ms(a, "p50"),
        "commit_p99_ms_c_minus_a": commit_ms(c, "p99") - commit_ms(a, "p99"),
    }
    results["ratios"] = ratios
    print()
    print(f"sequential throughput  c/a {ratios['seq_throughput_c_over_a']:.2f}   "
          f"c/b {ratios['seq_throughput_c_over_b']:.2f}")
    print(f"4 KiB write+fsync IOPS c/a {ratios['rand_iops_c_over_a']:.2f}   "
          f"c/b {ratios['rand_iops_c_over_b']:.2f}   "
          f"(commit latency +{ratios['commit_p50_ms_c_minus_a']:.3f} ms p50, "
          f"+{ratios['commit_p99_ms_c_minus_a']:.3f} ms p99 over (a))")
    rtt = results["lab"]["rtt_avg_ms"]
    ratios["commit_p50_round_trips_over_a"] = ratios["commit_p50_ms_c_minus_a"] / rtt
    ratios["seq_throughput_b_over_a"] = b["seq_MiBps"] / a["seq_MiBps"]
    ratios["commit_p50_ms_b_minus_a"] = commit_ms(b, "p50") - commit_ms(a, "p50")
    print(f"CPU per MiB written sequentially (all processes of both nodes): "
          f"(a) {a['seq_cpu_ms_per_MiB']:.2f} ms, (b) {b['seq_cpu_ms_per_MiB']:.2f} ms, "
          f"(c) {c['seq_cpu_ms_per_MiB']:.2f} ms, (d) {d['seq_cpu_ms_per_MiB']:.2f} ms; "
          f"(c) kept {c['seq_busy_cores']:.2f} of {os.cpu_count()} cores busy")
    print(f"lab round trip between the nodes (ICMP): {rtt:.3f} ms average, "
          f"{results['lab']['rtt_min_ms']:.3f} ms min")

    def verdict(ok):
        return "met" if ok else "NOT met"
    seq_ok = ratios["seq_throughput_c_over_a"] >= 0.8
    commit_ok = ratios["commit_p50_ms_c_minus_a"] <= 2 * rtt
    print("targets of issue 3 (one noisy run; compare within it):")
    print(f"  sequential c/a >= 0.8: {ratios['seq_throughput_c_over_a']:.2f}, "
          f"{verdict(seq_ok)}; the FUSE mount alone, with no peer, reaches "
          f"b/a = {ratios['seq_throughput_b_over_a']:.2f} on this machine")
    print(f"  4 KiB write+fsync p50 <= (a) + 2 round trips ({2 * rtt:.3f} ms): "
          f"+{ratios['commit_p50_ms_c_minus_a']:.3f} ms = "
          f"{ratios['commit_p50_round_trips_over_a']:.1f} round trips, {verdict(commit_ok)}; "
          f"the mount alone adds +{ratios['commit_p50_ms_b_minus_a']:.3f} ms")
    r = results["resync"]
    print(f"resync: {r['changed_bytes']} bytes changed in a {r['data_set_bytes']}-byte "
          f"data set; sent {r['resync_file_bytes']} file bytes, {r['resync_wire_bytes']} on "
          f"the wire = {r['wire_per_changed']:.3f} x; {r['resync_seconds']:.3f} s = "
          f"{r['seconds_per_GiB_changed']:.1f} s per GiB changed")


if __name__ == "__main__":
    sys.exit(main())
