"""Cluster tests: replicd.exclude, skyctl verify and skyctl resync --full.

Excluded paths (here `tmp/`, `*.swp`) are written on the primary and never reach the
secondary, whose own files there are left alone by replication, verify and resync. A
verify under a live writer finds nothing on identical copies; a byte changed behind
replicd's back on the secondary's disk is named (path and 64 KiB zone) and left as it
is; `resync --full` repairs it, and the next verify finds nothing
(docs/replication.md, "Exclusions" and "Verify and repair").
"""

import errno
import json
import os
import threading
import time

from lab import lab_options
from replicd_lab import ReplicdLab, replicd_of

BOUND_S = 20


class ExcludeLab(ReplicdLab):
    def replicd_config_text(self, node):
        return super().replicd_config_text(node) + "\n".join([
            "  exclude: [tmp/, \"*.swp\"]",
            # About a second per verify here: the live writer's changes
            # land while the comparison runs.
            "  verify_max_bytes_per_s: 2097152",
        ]) + "\n"


def _write(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _read(root, rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def _start(lab):
    lab.start_cluster()
    lab.wait_replicd("node1", "primary", connected=True)
    lab.wait_replicd("node2", "secondary", connected=True)
    lab.wait_in_sync("node2", BOUND_S)


def _verify(lab):
    """skyctl verify on node1; the last result once that request is done."""
    rc, out = lab.skyctl("node1", "verify", json=True)
    assert rc == 0, (rc, out)
    request = json.loads(out)["request"]

    def done(st):
        last = (replicd_of(st).get("verify") or {}).get("last") or {}
        return last.get("id") == request

    st = lab.wait_for("node1", done, f"verify {request} done", BOUND_S)
    last = replicd_of(st)["verify"]["last"]
    assert last["result"] == "done", last
    return last


class Writer:
    """Appends through the primary's mount until stopped: live changes."""

    def __init__(self, root):
        self.path = os.path.join(root, "live", "log")
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.stop = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with open(self.path, "ab") as f:
            while not self.stop.is_set():
                f.write(os.urandom(512))
                f.flush()
                self.written += 512
                self.stop.wait(0.01)

    def close(self):
        self.stop.set()
        self.thread.join(10)


@lab_options(lab_class=ExcludeLab, networks=1)
def test_verify_names_a_corrupted_zone_and_resync_full_repairs_it(lab):
    _start(lab)
    p1, d2 = lab.data_dir("node1"), lab.disk_dir("node2")
    big = os.urandom(1 << 20)
    _write(p1, "a/file1", big)
    _write(p1, "b/small", b"small file")
    _write(p1, "tmp/scratch", b"excluded on node1")
    _write(p1, "a/edit.swp", b"excluded too")
    # The secondary's own file in an excluded directory.
    _write(d2, "tmp/mine", b"node2's own")
    writer = Writer(p1)
    try:
        assert _read(d2, "a/file1") == big
        assert not os.path.exists(os.path.join(d2, "tmp", "scratch"))
        assert not os.path.exists(os.path.join(d2, "a", "edit.swp"))

        last = _verify(lab)
        assert last["differences"] == 0, last
        assert last["bytes_compared"] >= len(big), last
        assert last["duration_ms"] > 0, last
        # Only the primary compares; the secondary says where to ask.
        res = lab.skyctl("node2", "verify")
        assert res.rc == 1 and "on the primary" in res.err, (res.rc, res.err)

        # One byte changed on node2's disk, behind replicd's back: zone 3.
        with open(os.path.join(d2, "a", "file1"), "r+b") as f:
            f.seek(3 * 65536 + 5)
            f.write(bytes([big[3 * 65536 + 5] ^ 0xFF]))
        last = _verify(lab)
        assert last["differences"] == 1, last
        listed = last["differences_listed"]
        assert [e["path"] for e in listed] == ["a/file1"], listed
        assert listed[0]["what"] == "content" and listed[0]["zones"] == [[3, 1]], listed
        # verify changed nothing.
        assert _read(d2, "a/file1") != big
        rc, out = lab.skyctl("node1", "status")
        assert "differs: " in out and "a/file1: content (64 KiB zone 3)" in out, out

        rc, out = lab.skyctl("node1", "resync", "--full")
        assert rc == 0, (rc, out)
        # The repair may be over before any status shows it running: wait for
        # its effect, then for the secondary in sync again.
        deadline = time.monotonic() + BOUND_S
        while _read(d2, "a/file1") != big:
            assert time.monotonic() < deadline, "resync --full did not repair a/file1"
            time.sleep(0.05)
        lab.wait_in_sync("node2", BOUND_S)
        resync = replicd_of(lab.status("node1")).get("resync") or {}
        assert resync.get("mode") == "hash", resync
        last = _verify(lab)
        assert last["differences"] == 0, last
    finally:
        writer.close()
    assert writer.written > 0
    # Exclusions survived the verify and the full resync on both sides.
    assert _read(d2, "tmp/mine") == b"node2's own"
    assert not os.path.exists(os.path.join(d2, "tmp", "scratch"))
    assert _read(lab.disk_dir("node1"), "tmp/scratch") == b"excluded on node1"


@lab_options(lab_class=ExcludeLab, networks=1)
def test_renames_across_the_exclusion_boundary_and_failover_leave_excluded_paths_alone(lab):
    _start(lab)
    p1, d1, d2 = lab.data_dir("node1"), lab.disk_dir("node1"), lab.disk_dir("node2")
    _write(p1, "tmp/x", b"excluded")
    _write(p1, "keep", b"replicated")
    _write(d2, "tmp/mine", b"node2's own")
    # Into the replicated paths: refused as across file systems (tools copy).
    try:
        os.rename(os.path.join(p1, "tmp", "x"), os.path.join(p1, "x"))
    except OSError as e:
        assert e.errno == errno.EXDEV, e
    else:
        raise AssertionError("a rename out of an excluded path was allowed")
    # Out of them: the secondary's copy goes.
    _write(p1, "going", b"to tmp")
    assert _read(d2, "going") == b"to tmp"
    os.rename(os.path.join(p1, "going"), os.path.join(p1, "tmp", "going"))
    fd = os.open(p1, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    assert not os.path.exists(os.path.join(d2, "going"))
    assert _read(d1, "tmp/going") == b"to tmp"
    # A replicated directory whose copy on node2 holds node2's own excluded entries:
    # removing it on node1 removes them too (the directory is gone).
    os.makedirs(os.path.join(p1, "gone"))
    _write(d2, "gone/tmp/own", b"node2's")
    os.rmdir(os.path.join(p1, "gone"))
    _write(p1, "sync-point", b"after the rmdir")
    assert not os.path.exists(os.path.join(d2, "gone"))
    assert replicd_of(lab.status("node1")).get("sync") == "insync"
    # Failover: node2 serves, writes its own excluded file; node1 returns and resyncs.
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    _write(lab.data_dir("node2"), "tmp/while-alone", b"node2 tmp")
    _write(lab.data_dir("node2"), "after", b"replicated after failover")
    lab.restart_node("node1")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
    lab.wait_in_sync("node1", BOUND_S)
    assert _read(d1, "after") == b"replicated after failover"
    assert _read(d1, "tmp/x") == b"excluded"  # node1's own, left alone
    assert not os.path.exists(os.path.join(d1, "tmp", "while-alone"))
    assert _read(d2, "tmp/mine") == b"node2's own"
