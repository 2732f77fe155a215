#!/usr/bin/python3
"""backup.py - `make bench`: backupd against restic (the Debian package) doing the same
job on the same machine, same data, same storage (a local directory: restic's best
backend here, and backupd's dir target).

The data set: a large file (a database, DB_MIB MiB, random: incompressible) and a tree
of small text files (SMALL_MIB MiB in all). Measured, for each tool:
(1) full backup: wall time, MiB/s of data;
(2) incremental after changing 1 % of the large file's 64 KiB zones in place: wall time,
    bytes read (backupd: its own counter, with the change list replicd would give;
    restic: it rereads every changed file whole: the file's size) and bytes added to the
    repository (the growth of its folder);
(3) restore of the latest snapshot into an empty folder: wall time, MiB/s.
Each timing is the median of RUNS runs (the machine is shared: no thresholds, only
ratios). Printed as a table; JSON in build/bench/backup.json. Exit 1 on any error.

Targets from issue 16: full backup at least restic's speed; incremental of a large file
at least 10x faster than restic's.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402

BACKUPD = os.environ.get("SKYHA_BACKUPD", os.path.join(ROOT, "build", "backupd"))
ZONE = 64 << 10


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(root, f)).st_size
    return total


def timed(cmd, env=None):
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.monotonic() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {res.returncode}: {res.stderr[-500:]}")
    return dt, res.stdout


def make_data(src, db_mib, small_mib):
    os.makedirs(os.path.join(src, "files"))
    rnd = random.Random(16)
    with open(os.path.join(src, "db"), "wb") as f:
        for _ in range(db_mib):
            f.write(rnd.randbytes(1 << 20))
    words = [bytes(rnd.choice(b"abcdefghij") for _ in range(6)) for _ in range(2000)]
    left, i = small_mib << 20, 0
    while left > 0:
        n = min(left, rnd.randint(2 << 10, 64 << 10))
        text = b" ".join(rnd.choice(words) for _ in range(n // 7 + 1))[:n]
        with open(os.path.join(src, "files", f"f{i:05d}.txt"), "wb") as f:
            f.write(text)
        left -= n
        i += 1


def change_zones(src, db_mib, seed):
    zones = (db_mib << 20) // ZONE
    picked = sorted(random.Random(seed).sample(range(zones), max(1, zones // 100)))
    with open(os.path.join(src, "db"), "r+b") as f:
        for z in picked:
            f.seek(z * ZONE)
            f.write(os.urandom(ZONE))
    return picked


class Skyha:
    name = "skyha"

    def __init__(self, work, src):
        self.work, self.src = work, src
        self.repo = os.path.join(work, "skyha-repo")
        with open(os.path.join(work, "cluster.key"), "w") as f:
            f.write(os.urandom(32).hex())
        os.chmod(os.path.join(work, "cluster.key"), 0o600)
        subprocess.run([BACKUPD, "keygen", os.path.join(work, "bk.key")], check=True,
                       capture_output=True)
        self.config = os.path.join(work, "app.yaml")
        with open(self.config, "w") as f:
            f.write(f"""cluster: {{name: b, key_file: cluster.key}}
module: {{name: app, type: mirror}}
nodes:
  - {{name: node1, addresses: [198.18.0.1]}}
  - {{name: node2, addresses: [198.18.0.2]}}
quorum: none
backup:
  key_file: bk.key
  paths: [{src}]
  targets: [{{name: b, kind: dir, path: {self.repo}}}]
""")
        self.base = [BACKUPD, "--config", self.config, "--node", "node1",
                     "--state-dir", os.path.join(work, "state")]

    def init(self):
        shutil.rmtree(self.repo, ignore_errors=True)
        timed(self.base + ["init", "b"])

    def backup(self, changes=None):
        extra = ["--changes", changes] if changes else []
        dt, out = timed(self.base + ["backup", "b", "--json"] + extra)
        return dt, json.loads(out.strip().splitlines()[-1])["bytes_read"]

    def restore(self, dest):
        dt, _ = timed(self.base + ["restore", "b", "latest", dest])
        return dt


class Restic:
    name = "restic"

    def __init__(self, work, src):
        self.work, self.src = work, src
        self.repo = os.path.join(work, "restic-repo")
        self.env = dict(os.environ, RESTIC_PASSWORD="bench", RESTIC_REPOSITORY=self.repo,
                        RESTIC_CACHE_DIR=os.path.join(work, "restic-cache"))

    def init(self):
        shutil.rmtree(self.repo, ignore_errors=True)
        timed(["restic", "init", "-q"], env=self.env)

    def backup(self, changes=None):
        dt, out = timed(["restic", "backup", "--json", "-q", self.src], env=self.env)
        return dt, None

    def restore(self, dest):
        dt, _ = timed(["restic", "restore", "latest", "--target", dest, "-q"], env=self.env)
        return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db-mib", type=int, default=256)
    ap.add_argument("--small-mib", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which("restic"):
        print("bench/backup: restic is not installed (tools/deps.sh bench)")
        return 1
    work = tempfile.mkdtemp(prefix="skyha-bench-backup-")
    try:
        src = os.path.join(work, "src")
        _common.say(f"data: {args.db_mib} MiB database file, {args.small_mib} MiB of small files")
        make_data(src, args.db_mib, args.small_mib)
        total = du(src)
        results = {}
        tools = [Skyha(work, src), Restic(work, src)]
        for run in range(args.runs):
            # each tool starts from a new repository and changes the same
            # number of zones (1 %) of the same file in place
            for tool in tools:
                r = results.setdefault(tool.name, {"full_s": [], "inc_s": [], "restore_s": [],
                                                   "inc_read": [], "inc_added": []})
                tool.init()
                dt, _ = tool.backup()
                r["full_s"].append(dt)
                before = du(tool.repo)
                picked = change_zones(src, args.db_mib, 100 + run)
                changes = os.path.join(work, "changes")
                with open(changes, "w") as f:
                    f.write("complete\n0 zones " + ",".join(f"{z}+1" for z in picked) + " db\n")
                dt, read = tool.backup(changes)
                r["inc_s"].append(dt)
                r["inc_read"].append(read if read is not None else args.db_mib << 20)
                r["inc_added"].append(du(tool.repo) - before)
                changed = len(picked) * ZONE
                dest = os.path.join(work, "restore")
                shutil.rmtree(dest, ignore_errors=True)
                os.makedirs(dest)
                r["restore_s"].append(tool.restore(dest))
                shutil.rmtree(dest, ignore_errors=True)
                _common.say(f"run {run + 1}: {tool.name} full {r['full_s'][-1]:.2f} s, "
                            f"incremental {r['inc_s'][-1]:.2f} s, restore {r['restore_s'][-1]:.2f} s")
        out = {"bytes": total, "changed_bytes": changed}
        mib = total / (1 << 20)
        print(f"\n{'':8} {'full MiB/s':>11} {'inc s':>8} {'inc read MiB':>13} "
              f"{'inc added MiB':>14} {'restore MiB/s':>14}")
        for name, r in results.items():
            m = {k: statistics.median(v) for k, v in r.items()}
            out[name] = m
            print(f"{name:8} {mib / m['full_s']:11.1f} {m['inc_s']:8.2f} "
                  f"{m['inc_read'] / (1 << 20):13.1f} {m['inc_added'] / (1 << 20):14.2f} "
                  f"{mib / m['restore_s']:14.1f}")
        s, r = out["skyha"], out["restic"]
        out["ratios"] = {"full_speed_vs_restic": r["full_s"] / s["full_s"],
                         "incremental_speed_vs_restic": r["inc_s"] / s["inc_s"],
                         "restore_speed_vs_restic": r["restore_s"] / s["restore_s"],
                         "inc_read_over_changed": s["inc_read"] / changed}
        print(f"\nskyha vs restic: full backup x{out['ratios']['full_speed_vs_restic']:.2f}, "
              f"incremental x{out['ratios']['incremental_speed_vs_restic']:.1f}, "
              f"restore x{out['ratios']['restore_speed_vs_restic']:.2f} "
              f"(changed {changed >> 10} KiB; skyha read "
              f"{out['ratios']['inc_read_over_changed']:.2f} x that)")
        os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
        with open(os.path.join(ROOT, "build", "bench", "backup.json"), "w") as f:
            json.dump(out, f, indent=1)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
