"""Cluster tests: backups end to end (issue 16; docs/backup.md "Point in time").

Two nodes run replicd and heartbeatd; the real backupd runs on the secondary
(node2) against a `dir` target in the lab directory, which both nodes reach. backupd
asks replicd to hold its copy still (app.backupd.actual on the bus), reads replicd's
record of what changed, and releases the hold. What is checked is what a user sees:
restored snapshots, backupd's own counters, `verify`, and the copies afterwards.

- consistency: an application on the primary appends records to a log (fsync) then
  to an index (fsync) during a backup on the secondary; in the restored snapshot
  every index entry points to a complete log record (the files are named so the walk
  reads the log first: without the hold, the index would be read later, ahead of it).
- incremental: a 32 MiB file, a full backup, then 1 % of its zones changed on the
  primary: the next backup on the secondary reads and uploads at most 1.2 x the
  changed bytes, because replicd's record says which zones changed; no hook runs on
  the held secondary, and a backup on the primary (nothing held) runs them.
- failover during a backup: the primary node killed while the secondary's backup is
  between its walk and its snapshot; the hold ends as failed, the backup is taken
  again at once on node2 (now primary, hooks mode), the repository verifies, and
  the next backup from node2 succeeds.
- kill -9 of backupd during the backup: replicd releases the hold after
  backup_hold_lost_after_ms, the copies end identical, the next backup succeeds and
  reads what the killed one would have (its record was merged back).
- a secondary whose copy is not up to date (the replication link cut, the primary
  wrote): replicd refuses the hold, nothing is backed up, no hook runs, and the
  target's status says why.
"""

import hashlib
import json
import os
import random
import struct
import subprocess
import threading
import time

from lab import BUILD, MODULE, lab_options
from replicd_lab import ReplicdLab

BACKUPD = os.path.join(BUILD, "backupd")
BOUND_S = 20
LOST_AFTER_MS = 3000
ZONE = 64 << 10


class BackupLab(ReplicdLab):
    """ReplicdLab with a short hold timeout and a `backup:` section on a dir target
    in the lab directory."""

    def replicd_config_text(self, node):
        return super().replicd_config_text(node) + "\n".join([
            f"  backup_hold_lost_after_ms: {LOST_AFTER_MS}",
            "backup:",
            f"  key_file: {os.path.join(self.dir, 'backup.key')}",
            f"  pre_backup: {os.path.join(self.dir, 'hook')}",
            f"  post_backup: {os.path.join(self.dir, 'hook')}",
            "  targets:",
            "    - name: shared",
            "      kind: dir",
            f"      path: {os.path.join(self.dir, 'repo')}",
        ]) + "\n"

    def setup(self):
        super().setup()
        hook = os.path.join(self.dir, "hook")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\n"
                    f"echo \"$SKYHA_BACKUP_TARGET ${{SKYHA_BACKUP_RESULT:-pre}}\" "
                    f">> {self.hooks_log()}\n")
        os.chmod(hook, 0o755)
        key = os.path.join(self.dir, "backup.key")
        subprocess.run([BACKUPD, "keygen", key], check=True, capture_output=True)
        res = self.backupd("node2", "init", "shared")
        assert res.returncode == 0, res.stderr

    def hooks_log(self):
        return os.path.join(self.dir, "hooks.log")

    def hooks(self):
        try:
            with open(self.hooks_log()) as f:
                return f.read().split("\n")[:-1]
        except FileNotFoundError:
            return []

    def backupd_argv(self, node, *args):
        return [BACKUPD, "--config", self.replicd_config(node), "--node", node,
                "--run-dir", self.node_dir(node, "run"),
                "--state-dir", self.node_dir(node, "bkstate")] + list(args)

    def backupd(self, node, *args, env=None):
        with open(self.node_dir(node, "backupd.log"), "a") as log:
            log.write(f"--- backupd {' '.join(args)}\n")
            log.flush()
            res = subprocess.run(self.backupd_argv(node, *args), stdout=subprocess.PIPE,
                                 stderr=log, text=True, timeout=120,
                                 env=dict(os.environ, **(env or {})))
        return res

    def backup(self, node):
        res = self.backupd(node, "backup", "--json")
        assert res.returncode == 0, (f"backup on {node} exited {res.returncode}: "
                                     + self.backupd_log(node))
        return json.loads(res.stdout.strip().splitlines()[-1])

    def backupd_log(self, node):
        try:
            with open(self.node_dir(node, "backupd.log")) as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return ""

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for node in self.nodes:
            print(f"    --- {node}: backupd.log ---\n{self.backupd_log(node)}", file=out)


def replicd_backup(lab, node):
    try:
        with open(os.path.join(lab.node_dir(node, "run"), MODULE, "replicd.json")) as f:
            return json.load(f).get("backup") or {}
    except (OSError, ValueError):
        return {}


def wait(what, ok, bound=BOUND_S):
    deadline = time.monotonic() + bound
    while not ok():
        assert time.monotonic() < deadline, f"{what} within {bound} s"
        time.sleep(0.1)


def tree(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(d, name), root)] = "dir"
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                out[os.path.relpath(os.path.join(d, name), root)] = \
                    hashlib.sha256(f.read()).hexdigest()
    return out


def wait_same(lab, what):
    wait(f"{what}: copies identical",
         lambda: tree(lab.disk_dir("node1")) == tree(lab.disk_dir("node2")))


def write(path, data, offset=0):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def started(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)


def restored(lab, node, snapshot):
    dest = os.path.join(lab.dir, f"restore-{snapshot[:8]}")
    res = lab.backupd(node, "restore", "shared", snapshot, dest)
    assert res.returncode == 0, lab.backupd_log(node)
    return os.path.join(dest, lab.data_dir(node).lstrip("/"))


# -- the application: a log and an index that must agree -----------------------------

RECORD = 256  # bytes: seq u64 | sha256 of the payload | payload


class LogIndexApp(threading.Thread):
    """Appends a record to a-log (fsync), then its offset to c-index (fsync)."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.count = 0
        self.running = True
        self.error = None

    def run(self):
        try:
            log = os.open(os.path.join(self.root, "a-log"), os.O_WRONLY | os.O_CREAT, 0o644)
            idx = os.open(os.path.join(self.root, "c-index"), os.O_WRONLY | os.O_CREAT, 0o644)
            while self.running:
                payload = os.urandom(RECORD - 40)
                rec = struct.pack(">Q", self.count) + hashlib.sha256(payload).digest() + payload
                os.pwrite(log, rec, self.count * RECORD)
                os.fsync(log)
                os.pwrite(idx, struct.pack(">QQ", self.count, self.count * RECORD), self.count * 16)
                os.fsync(idx)
                self.count += 1
            os.close(log)
            os.close(idx)
        except OSError as e:
            self.error = e

    def stop(self):
        self.running = False
        self.join()
        assert self.error is None, self.error


def check_log_index(root):
    """Every index entry names a complete record of the log: the number of entries."""
    with open(os.path.join(root, "a-log"), "rb") as f:
        log = f.read()
    with open(os.path.join(root, "c-index"), "rb") as f:
        idx = f.read()
    entries = len(idx) // 16
    for i in range(entries):
        seq, off = struct.unpack(">QQ", idx[i * 16:i * 16 + 16])
        assert seq == i and off == i * RECORD, f"index entry {i}: {seq} at {off}"
        rec = log[off:off + RECORD]
        assert len(rec) == RECORD, f"index entry {i}: log record cut ({len(rec)} bytes)"
        assert struct.unpack(">Q", rec[:8])[0] == seq, f"index entry {i}: wrong record"
        assert hashlib.sha256(rec[40:]).digest() == rec[8:40], f"record {i} torn"
    return entries


@lab_options(lab_class=BackupLab, networks=1)
def test_backup_cluster_snapshot_of_the_secondary_is_one_instant(lab):
    started(lab)
    primary = lab.data_dir("node1")
    # read between the log and the index: the walk takes a while there
    write(os.path.join(primary, "b-bulk"), os.urandom(16 << 20))
    app = LogIndexApp(primary)
    app.start()
    try:
        wait("the application writing", lambda: app.count > 20)
        holds = replicd_backup(lab, "node2").get("holds", 0)
        before = app.count
        run = lab.backup("node2")
        during = app.count - before
    finally:
        app.stop()
    assert run["hold"], run
    assert during > 0, "the application was not writing during the backup"
    entries = check_log_index(restored(lab, "node2", run["snapshot"]))
    assert entries > 0, "an empty index in the snapshot"
    st = replicd_backup(lab, "node2")
    # held (no hooks), released as completed
    assert st["holds"] == holds + 1 and st["failed"] is None, st
    assert not st["held"], st
    # backupd's state reached heartbeatd's socket too, which ignores it
    assert lab.status("node2")["counters"]["bus_bad_messages"] == 0
    wait_same(lab, "after the backup")
    print(f"    {during} records written during the backup ({run['duration_ms']} ms), "
          f"{entries} in the snapshot, all complete")


@lab_options(lab_class=BackupLab, networks=1)
def test_backup_cluster_incremental_reads_what_replicd_recorded(lab):
    started(lab)
    big = os.path.join(lab.data_dir("node1"), "db.dat")
    write(big, os.urandom(32 << 20))
    wait_same(lab, "the large file copied")
    full = lab.backup("node2")
    assert full["bytes_read"] >= 32 << 20, full
    rnd = random.Random(16)
    zones = rnd.sample(range((32 << 20) // ZONE), (32 << 20) // ZONE // 100)  # 1 %
    for z in zones:
        write(big, os.urandom(ZONE), z * ZONE)
    changed = len(zones) * ZONE
    wait_same(lab, "the changed zones copied")
    inc = lab.backup("node2")
    assert inc["hold"] and inc["hold"] != full["hold"], inc
    print(f"    {len(zones)} zones changed ({changed} bytes): read {inc['bytes_read']}, "
          f"uploaded {inc['bytes_uploaded']} ({inc['bytes_uploaded'] / changed:.2f} x)")
    assert inc["bytes_read"] <= 1.2 * changed, inc
    assert inc["bytes_uploaded"] <= 1.2 * changed, inc
    assert inc["files_unlisted_changed"] == 0, inc
    dest = restored(lab, "node2", inc["snapshot"])
    with open(dest + "/db.dat", "rb") as a, open(lab.disk_dir("node1") + "/db.dat", "rb") as b:
        assert a.read() == b.read(), "the restored file differs"
    assert lab.hooks() == [], "hooks ran on the held secondary"
    # On the primary nothing is held: the hooks give the point in time.
    prim = lab.backup("node1")
    assert prim["hold"] is None, prim
    assert lab.hooks() == ["shared pre", "shared ok"], lab.hooks()
    assert "not held" in lab.backupd_log("node1")


def backup_in_background(lab, node, gate):
    """backupd backup, stopped by the gate between its walk and its snapshot."""
    open(gate, "w").close()
    log = open(lab.node_dir(node, "backupd.log"), "a")
    proc = subprocess.Popen(lab.backupd_argv(node, "backup", "--json"),
                            stdout=subprocess.PIPE, stderr=log, text=True,
                            env=dict(os.environ, SKYHA_BACKUP_TEST_GATE=gate))
    log.close()
    wait("backupd at its gate", lambda: "waiting while" in lab.backupd_log(node))
    return proc


def snapshots(lab, node):
    res = lab.backupd(node, "list", "shared", "--json")
    assert res.returncode == 0, lab.backupd_log(node)
    return json.loads(res.stdout)


def verify(lab, node):
    res = lab.backupd(node, "verify", "shared")
    assert res.returncode == 0, res.stdout + lab.backupd_log(node)
    assert " 0 bad objects" in res.stdout, res.stdout


@lab_options(lab_class=BackupLab, networks=1)
def test_backup_cluster_failover_during_a_backup(lab):
    started(lab)
    write(os.path.join(lab.data_dir("node1"), "data"), os.urandom(1 << 20))
    wait_same(lab, "the data copied")
    gate = os.path.join(lab.dir, "gate")
    proc = backup_in_background(lab, "node2", gate)
    assert replicd_backup(lab, "node2").get("held") is True
    lab.kill_node("node1")
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    os.unlink(gate)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, lab.backupd_log("node2")
    assert json.loads(out.strip().splitlines()[-1])["hold"] is None, out  # hooks
    assert lab.hooks() == ["shared pre", "shared ok"], lab.hooks()
    log = lab.backupd_log("node2")
    assert "became primary during the backup" in log, log
    st = replicd_backup(lab, "node2")
    assert "primary" in (st.get("failed") or ""), st
    snaps = snapshots(lab, "node2")
    assert len(snaps) == 1, snaps  # the held walk wrote none
    verify(lab, "node2")
    # the next one, from the node that serves now
    write(os.path.join(lab.data_dir("node2"), "after"), b"written on node2\n")
    run = lab.backup("node2")
    assert run["hold"] is None, run  # node2 is primary: hooks
    assert len(snapshots(lab, "node2")) == 2
    dest = restored(lab, "node2", run["snapshot"])
    assert tree(dest) == tree(lab.disk_dir("node2"))
    verify(lab, "node2")


@lab_options(lab_class=BackupLab, networks=1)
def test_backup_cluster_backupd_killed_releases_the_hold(lab):
    started(lab)
    path = os.path.join(lab.data_dir("node1"), "data")
    write(path, os.urandom(2 << 20))
    wait_same(lab, "the data copied")
    lab.backup("node2")
    write(path, os.urandom(ZONE), 3 * ZONE)  # for the next backup's record
    wait_same(lab, "the change copied")
    gate = os.path.join(lab.dir, "gate")
    proc = backup_in_background(lab, "node2", gate)
    assert replicd_backup(lab, "node2").get("held") is True
    write(path, os.urandom(ZONE), 7 * ZONE)  # journaled while held
    proc.kill()
    proc.wait()
    os.unlink(gate)
    wait("the hold released", lambda: replicd_backup(lab, "node2").get("held") is False)
    st = replicd_backup(lab, "node2")
    assert "nothing from backupd" in (st.get("failed") or ""), st
    wait_same(lab, "after backupd was killed")
    verify(lab, "node2")
    run = lab.backup("node2")
    # both changed zones: the killed backup's record was merged back
    assert 2 * ZONE <= run["bytes_read"] <= 1.2 * 2 * ZONE, run
    dest = restored(lab, "node2", run["snapshot"])
    assert tree(dest) == tree(lab.disk_dir("node1"))


def replicd_data(lab, node):
    try:
        with open(os.path.join(lab.node_dir(node, "run"), MODULE, "replicd.json")) as f:
            return json.load(f).get("data")
    except (OSError, ValueError):
        return None


@lab_options(lab_class=BackupLab, networks=2)
def test_backup_cluster_secondary_not_up_to_date_is_not_backed_up(lab):
    started(lab)
    # The replication link cut (heartbeats go on over network 1), a write on the
    # primary: node2's copy is no longer up to date.
    lab.cut_network("node2", 0)
    write(os.path.join(lab.data_dir("node1"), "while-apart"), os.urandom(70000))
    wait("node2's copy outdated", lambda: replicd_data(lab, "node2") != "uptodate")
    res = lab.backupd("node2", "backup", "--json")
    assert res.returncode == 1, (res.returncode, lab.backupd_log("node2"))
    run = json.loads(res.stdout.strip().splitlines()[-1])
    assert not run["ok"] and "not held" in run["reason"], run
    with open(os.path.join(lab.node_dir("node2", "bkstate"), "backup", "shared.json")) as f:
        status = json.load(f)
    assert "not held" in status["last_failure"]["reason"], status
    assert snapshots(lab, "node2") == []
    assert lab.hooks() == [], "hooks ran on a secondary"
