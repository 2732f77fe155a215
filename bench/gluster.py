#!/usr/bin/python3
"""gluster.py - replicd's sync mode against GlusterFS replica 2, in one run (part of `make bench`).

Both stacks do the same job with the same interception: a FUSE mount on node1 whose
writes reach a copy on node2. They run on the same two lab nodes (network namespaces
on one bridge, 198.18.0.0/15 only: tests/lab/gluster_lab.py) and store on the same kind
of backing store: a plain directory of the lab's file system on each node (replicd's
disk/, GlusterFS's brick/, side by side under one lab directory).

- skyha: replicd `mode: sync` on both nodes (--standalone: node1 primary, node2
  secondary; no heartbeatd, this measures replication), fio on node1's mount.
- GlusterFS: glusterd on each node in the node's network namespace and a mount
  namespace of its own (private /var/lib/glusterd, /var/log/glusterfs and /run), a
  `replica 2` volume with one brick per node and no option set (the defaults of
  `gluster volume create`, printed below), the FUSE client mounted on node1 with no
  mount option, fio on it from inside node1's mount namespace.

Both stacks stay up for the whole run; each fio job runs on one, then the other, in
turn (the order alternates from job to job and round to round), so a slow moment of
this shared machine does not land on one stack only; --runs N repeats the round N
times and prints each figure's median (ratios of the medians). Jobs (fio, psync, files
removed after each job): sequential 1 MiB writes with one fsync at the end, by one
writer and by four (MiB/s); 4 KiB random writes each followed by fsync (commits per
second, and commit latency p50/p99 taken as write p50/p99 + fsync p50/p99, as
bench/replicd.py does); 4 KiB random writes with an fsync every 32.

CPU: the utime + stime of every process of the stack on both nodes (replicd x 2;
glusterd, glusterfsd, the self-heal daemons and the FUSE client), from /proc/<pid>/stat
before and after each job, per MiB written (each MiB is replicated once) and per
commit. fio and the kernel's work in fio's context are in neither; the whole
machine is shared, so its busy time would count other work: fio's own CPU (getrusage
of the children, the kernel's FUSE work in fio's calls included) is printed beside it
for reference.

Printed: both, the ratios skyha/GlusterFS, and issue 15's goals (at least 1.5 x
GlusterFS on sequential writes, 2 x on commits, at most 2.5 ms of CPU per replicated
MiB), met or not: a bench reports, it does not assert. The machine may be shared and
noisy: compare within one run, run it several times. Needs root, fio and
glusterfs-server (tools/deps.sh bench) and `make`. Results also go to
build/bench/gluster.json. Everything (mounts, volume, glusterd, namespaces) is removed
on exit, on Ctrl-C and on SIGTERM.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.dont_write_bytecode = True  # importing replicd.py beside us: no __pycache__

import lab as lablib  # noqa: E402
from gluster_lab import GLUSTER_COMMS, GlusterLab, cpu_delta_s, gluster_missing  # noqa: E402
import replicd as replicd_bench  # noqa: E402  (bench/replicd.py: start_pair, lab_rtt_ms)

MiB = 1 << 20
TIMEOUT_MS = 1000
REPLICD_COMMS = ("replicd",)
GOAL_SEQ = 1.5       # skyha / GlusterFS, sequential MiB/s
GOAL_COMMIT = 2.0    # skyha / GlusterFS, commits per second
GOAL_CPU_MS = 2.5    # skyha, ms of CPU per replicated MiB


def jobs(seq_mib, rand_seconds):
    """(key, label, fio arguments, MiB written or None when time-based)."""
    rand = ["--rw=randwrite", "--bs=4k", "--size=32M", "--time_based",
            f"--runtime={rand_seconds}"]
    return [
        ("seq1", "sequential 1 MiB, 1 writer", ["--rw=write", "--bs=1M",
                                               f"--size={seq_mib}M", "--end_fsync=1"],
         seq_mib),
        ("seq4", "sequential 1 MiB, 4 writers",
         ["--rw=write", "--bs=1M", f"--size={seq_mib // 4}M", "--numjobs=4",
          "--end_fsync=1"], seq_mib // 4 * 4),
        ("commit1", "4 KiB write + fsync", rand + ["--fsync=1"], None),
        ("commit32", "4 KiB, fsync every 32", rand + ["--fsync=32"], None),
    ]


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def fio(prefix, directory, name, args, unlink=True):
    """One fio job in directory, run as prefix + fio: (its parsed JSON job, the CPU
    seconds fio and its job processes used). Its files are removed at its end
    unless unlink is false."""
    cmd = prefix + ["fio", "--name=" + name, "--directory=" + directory,
                    "--ioengine=psync", "--output-format=json", "--group_reporting",
                    f"--unlink={int(unlink)}"] + args
    cpu0 = children_cpu_s()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    cpu_s = children_cpu_s() - cpu0
    if res.returncode != 0:
        raise RuntimeError(f"fio {name} in {directory} failed: "
                           f"{(res.stderr or res.stdout).strip()[:400]}")
    return json.loads(res.stdout[res.stdout.index("{"):])["jobs"][0], cpu_s


def pct_ms(lat, p):
    return lat.get("percentile", {}).get(p, 0) / 1e6  # ns -> ms


def run_job(lab, stack, job):
    key, _label, args, mib = job
    if stack == "skyha":
        prefix, directory, comms = [], lab.data_dir("node1"), REPLICD_COMMS
    else:
        prefix, directory = lab.in_gluster_ns("node1", []), lab.gluster_mount()
        comms = GLUSTER_COMMS
    if not mib:
        # fio first lays out the whole file a random job writes in: do that before
        # the CPU is counted, so that CPU per write is the random writes' own.
        fio(prefix, directory, key, args + ["--create_only=1"], unlink=False)
    cpu0 = lab.stack_cpu(comms)
    j, fio_s = fio(prefix, directory, key, args)
    cpu_s = cpu_delta_s(cpu0, lab.stack_cpu(comms))
    w, s = j["write"], j.get("sync", {})
    r = {"stack_cpu_s": cpu_s, "fio_cpu_s": fio_s}
    if mib:
        r["MiBps"] = w["bw_bytes"] / MiB
        r["cpu_ms_per_MiB"] = cpu_s * 1000 / mib
        r["fio_cpu_ms_per_MiB"] = fio_s * 1000 / mib
    else:
        r["iops"] = w["iops"]
        writes = max(1, w["total_ios"])
        r["cpu_us_per_write"] = cpu_s * 1e6 / writes
        for p, name in (("50.000000", "p50"), ("99.000000", "p99")):
            r[f"write_{name}_ms"] = pct_ms(w["clat_ns"], p)
            r[f"fsync_{name}_ms"] = pct_ms(s.get("lat_ns", {}), p)
            r[f"commit_{name}_ms"] = r[f"write_{name}_ms"] + r[f"fsync_{name}_ms"]
    return r


def verdict(ok):
    return "met" if ok else "NOT met"


def report(results, job_list):
    sk, gl = results["skyha"], results["gluster"]
    print()
    print(f"{'':34} {'skyha sync':>11} {'GlusterFS':>11} {'skyha/Gluster':>14}")

    def row(label, a, b, fmt, ratio=True, inverse=False):
        q = (b / a if inverse else a / b) if a and b else float("nan")
        print(f"{label:34} {a:{fmt}} {b:{fmt}} " + (f"{q:14.2f}" if ratio else ""))
    for key, label, _args, mib in job_list:
        if mib:
            row(f"{label} (MiB/s)", sk[key]["MiBps"], gl[key]["MiBps"], "11.1f")
        else:
            row(f"{label} (IOPS)", sk[key]["iops"], gl[key]["iops"], "11.0f")
        if key == "commit1":
            for p in ("p50", "p99"):
                row(f"  commit {p} (ms; Gluster/skyha)", sk[key][f"commit_{p}_ms"],
                    gl[key][f"commit_{p}_ms"], "11.3f", inverse=True)
    print("CPU of the stack's processes, both nodes:")
    for key, label, _args, mib in job_list:
        if mib:
            row(f"  {label} (ms/MiB)", sk[key]["cpu_ms_per_MiB"],
                gl[key]["cpu_ms_per_MiB"], "11.2f")
        else:
            row(f"  {label} (us/write)", sk[key]["cpu_us_per_write"],
                gl[key]["cpu_us_per_write"], "11.0f")
    print("CPU of fio (the kernel's FUSE and page-cache work in its calls), for reference:")
    for key, label, _args, mib in job_list:
        if mib:
            row(f"  {label} (ms/MiB)", sk[key]["fio_cpu_ms_per_MiB"],
                gl[key]["fio_cpu_ms_per_MiB"], "11.2f")

    goals = {}
    print("goals of issue 15 (a shared, noisy machine: compare within a run, repeat it):")
    for key in ("seq1", "seq4"):
        q = sk[key]["MiBps"] / gl[key]["MiBps"]
        goals[f"{key}_ratio"] = q
        print(f"  {key}: skyha/GlusterFS >= {GOAL_SEQ}: {q:.2f}, {verdict(q >= GOAL_SEQ)}")
    q = sk["commit1"]["iops"] / gl["commit1"]["iops"]
    goals["commit1_ratio"] = q
    print(f"  commits (4 KiB write+fsync per second): skyha/GlusterFS >= {GOAL_COMMIT}: "
          f"{q:.2f}, {verdict(q >= GOAL_COMMIT)}")
    for key in ("seq1", "seq4"):
        c = sk[key]["cpu_ms_per_MiB"]
        print(f"  {key}: skyha CPU per replicated MiB <= {GOAL_CPU_MS} ms: {c:.2f} ms, "
              f"{verdict(c <= GOAL_CPU_MS)}")
    results["goals"] = goals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq-mib", type=int, default=256, help="sequential job size")
    ap.add_argument("--rand-seconds", type=int, default=5, help="random job length")
    ap.add_argument("--runs", type=int, default=3,
                    help="rounds of every job on both stacks; the medians are printed")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("gluster.py: needs root (network and mount namespaces, FUSE)",
              file=sys.stderr)
        return 1
    why = gluster_missing() or (None if shutil.which("fio")
                                else "fio is missing: tools/deps.sh bench")
    if why:
        print(f"gluster.py: {why}", file=sys.stderr)
        return 1
    if not os.access(os.path.join(lablib.BUILD, "replicd"), os.X_OK):
        print("gluster.py: build/replicd is missing: run `make`", file=sys.stderr)
        return 1
    lablib.cleanup_stale()
    job_list = jobs(args.seq_mib, args.rand_seconds)
    results = {"runs": [], "fio_jobs": {k: a for k, _l, a, _m in job_list},
               "backing_store": "a plain directory of the lab's file system per node"}
    lab = GlusterLab(replicd_timeout_ms=TIMEOUT_MS)
    try:
        lab.setup()
        plain = lab.node_dir("node1", "plain")
        os.makedirs(plain)
        # This VM's memory is slow the first time it is touched: touch it outside
        # the figures (both stacks keep two copies, plus the page cache of each).
        fio([], plain, "warm-up", ["--rw=write", "--bs=1M", f"--size={4 * args.seq_mib}M"])
        # GlusterFS first: its mount namespaces, copies of the host's, then hold
        # no copy of replicd's FUSE mounts.
        print("GlusterFS: glusterd on both nodes, replica 2 volume, client on node1 ...",
              flush=True)
        lab.start_gluster()
        print("skyha: replicd sync, node1 primary, node2 secondary ...", flush=True)
        replicd_bench.start_pair(lab, "sync")
        info = lab.gluster_volume_info()
        results["gluster_volume_info"] = info
        results["gluster_version"] = subprocess.run(
            ["glusterfs", "--version"], capture_output=True,
            text=True).stdout.splitlines()[0]
        print(f"{results['gluster_version']}; volume options after create "
              "(none set by this bench):")
        opts = info.split("Options Reconfigured:")[-1].strip().splitlines()
        print("  " + ", ".join(o.strip() for o in opts))
        for n in range(args.runs):
            one = {"skyha": {}, "gluster": {}}
            for i, job in enumerate(job_list):
                order = ("skyha", "gluster") if (i + n) % 2 == 0 else ("gluster", "skyha")
                for stack in order:
                    print(f"{f'round {n + 1}: ' if args.runs > 1 else ''}{job[1]}: "
                          f"{stack} ...", flush=True)
                    one[stack][job[0]] = run_job(lab, stack, job)
            results["runs"].append(one)
        results["lab"] = replicd_bench.lab_rtt_ms(lab)
    finally:
        lab.close()
    for stack in ("skyha", "gluster"):
        results[stack] = {key: {m: statistics.median(r[stack][key][m] for r in results["runs"])
                                for m in results["runs"][0][stack][key]}
                          for key, _l, _a, _m in job_list}
    if args.runs > 1:
        print(f"\nper round, skyha/GlusterFS: {'seq1':>6} {'seq4':>6} {'commit1':>8} "
              f"{'commit32':>9}")
        for n, r in enumerate(results["runs"]):
            q = [r["skyha"][k].get("MiBps", r["skyha"][k].get("iops"))
                 / r["gluster"][k].get("MiBps", r["gluster"][k].get("iops"))
                 for k in ("seq1", "seq4", "commit1", "commit32")]
            print(f"  round {n + 1:<19} " + " ".join(f"{x:{w}.2f}" for x, w in
                                                       zip(q, (6, 6, 8, 9))))
        print(f"medians of {args.runs} rounds (each figure's own median):")
    report(results, job_list)
    print(f"lab round trip between the nodes (ICMP): {results['lab']['rtt_avg_ms']:.3f} ms "
          "average")
    out = os.path.join(lablib.BUILD, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gluster.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the lab is already removed (main's finally)
        print("gluster.py: interrupted", file=sys.stderr)
        sys.exit(130)
