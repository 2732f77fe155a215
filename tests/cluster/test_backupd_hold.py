"""Cluster tests: backupd and replicd together (issue 16, docs/backup.md "The hold on
the secondary"): the real backupd asks the real replicd of the secondary to hold its
copy still, backs the held copy up to a dir target with replicd's record as its change
list, and completes the hold.

- The snapshot is the copy as it was when the hold began: writes acknowledged on the
  primary during the backup are not in it, and they reach the secondary once the hold
  is released (the copies end identical).
- The next backup reads what replicd's record says changed, no more (1.2 x the changed
  zones at most, by backupd's own counter).
"""

import json
import os
import subprocess
import threading
import time

from lab import BUILD, MODULE, lab_options
from replicd_lab import ReplicdLab

BACKUPD = os.path.join(BUILD, "backupd")
BOUND_S = 20
ZONE = 64 << 10


def write(path, data, offset=0):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def backup_config(lab):
    """node2's module file with a backup: section and a dir target."""
    path = os.path.join(lab.dir, "backup-node2.yaml")
    with open(lab.replicd_config("node2")) as f:
        text = f.read()
    text += "\n".join([
        "backup:",
        "  key_file: backup.key",
        "  targets:",
        "    - name: local",
        "      kind: dir",
        f"      path: {os.path.join(lab.dir, 'repo')}",
        "      nodes: [node2]",
    ]) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return path


def backupd(lab, cfg, *args, check=True):
    cmd = [BACKUPD, "--config", cfg, "--node", "node2",
           "--run-dir", lab.node_dir("node2", "run"),
           "--state-dir", lab.node_dir("node2", "backup-state")] + list(args)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check:
        assert res.returncode == 0, f"backupd {' '.join(args)}: {res.returncode}\n" \
            f"{res.stdout}{res.stderr}"
    return res


def replicd_backup(lab, node):
    try:
        with open(os.path.join(lab.node_dir(node, "run"), MODULE, "replicd.json")) as f:
            return json.load(f).get("backup") or {}
    except (OSError, ValueError):
        return {}


def wait_same(lab, rel):
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        a = read(os.path.join(lab.disk_dir("node1"), rel))
        b = read(os.path.join(lab.disk_dir("node2"), rel))
        if a == b:
            return a
        time.sleep(0.2)
    raise AssertionError(f"{rel} differs between the copies after {BOUND_S} s")


@lab_options(lab_class=ReplicdLab, networks=1)
def test_backupd_backs_up_the_held_secondary_and_reads_the_record(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    primary = lab.data_dir("node1")
    db = os.path.join(primary, "db")
    write(db, os.urandom(16 << 20))  # 256 zones; the writer touches 64
    before = wait_same(lab, "db")
    cfg = backup_config(lab)
    subprocess.run([BACKUPD, "keygen", os.path.join(lab.dir, "backup.key")], check=True,
                   capture_output=True)
    backupd(lab, cfg, "init", "local")

    # A writer on the primary during the backup: acknowledged writes that the held
    # copy must not show.
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set():
            write(db, b"W" * 4096, offset=(i % 64) * ZONE)
            written.append(i)
            i += 1
            time.sleep(0.01)

    first = backupd(lab, cfg, "backup", "--hold", "--json")
    snap = json.loads(first.stdout.strip().splitlines()[-1])
    assert "replicd holds the copy still" in first.stderr, first.stderr
    st = replicd_backup(lab, "node2")
    assert st.get("held") is False and st.get("released"), st

    # Second run, with writes going on while it holds.
    t = threading.Thread(target=writer, daemon=True)
    time.sleep(0.3)
    t.start()
    time.sleep(0.5)  # some writes before the hold: in the snapshot (replicated)
    second = backupd(lab, cfg, "backup", "--hold", "--json")
    stop.set()
    t.join()
    inc = json.loads(second.stdout.strip().splitlines()[-1])
    assert "replicd holds the copy still" in second.stderr, second.stderr
    assert written, "the writer never wrote"
    print(f"    held backup: {len(written)} writes on the primary meanwhile; read "
          f"{inc['bytes_read']} bytes of a 16 MiB file, {inc['bytes_new']} new")
    # replicd's record said which zones changed: those are read, not the 16 MiB
    assert inc["bytes_read"] <= 1.2 * 64 * ZONE, inc
    # the copies end identical once the hold is released
    final = wait_same(lab, "db")
    # the snapshot is one instant of the primary's history: a restore of it is
    # the file with whole 4 KiB writes of "W" or the original bytes, and verify
    # finds nothing wrong
    out = backupd(lab, cfg, "verify", "local").stdout
    assert "0 bad objects" in out, out
    dest = os.path.join(lab.dir, "restored")
    os.makedirs(dest)
    backupd(lab, cfg, "restore", "local", inc["snapshot"], dest)
    got = read(dest + os.path.join(lab.data_dir("node2"), "db"))
    assert len(got) == len(before) == len(final)
    for z in range(64):
        block = got[z * ZONE:z * ZONE + 4096]
        assert block in (b"W" * 4096, before[z * ZONE:z * ZONE + 4096]), f"zone {z} torn"
    assert got[64 * ZONE:] == before[64 * ZONE:]
    first_restore = os.path.join(lab.dir, "restored-first")
    os.makedirs(first_restore)
    backupd(lab, cfg, "restore", "local", snap["snapshot"], first_restore)
    assert read(first_restore + os.path.join(lab.data_dir("node2"), "db")) == before
