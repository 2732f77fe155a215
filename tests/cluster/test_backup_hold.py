"""Cluster tests: the secondary's copy held still for a backup (issue 16,
docs/replication.md "Backups").

A stand-in for backupd publishes its actual state (`app.backupd.actual`, with "hold"
and "completed") on node2's backup endpoint (ipc://RUN/app/backup) with pyzmq, as
backupd does; replicd's answer is read from heartbeatd's status (the "backup" of
replicd's actual state).

- Held: writes on the primary keep being acknowledged (they return, in sync mode),
  the secondary's underlying copy does not change at all, its journal grows; once the
  hold ends (completed) the copies are byte-identical, the backup's record is gone.
- backupd silent (killed): the hold is released as failed after
  backup_hold_lost_after_ms, the copies match, the backup's changes are merged back
  into backup.rec for the next backup.
- A power cut of the held secondary: replicd, started again alone (no heartbeatd, no
  resync), applies the journal before anything else: its copy equals the primary's.
- Failover while held: the promoted node serves the latest acknowledged writes.
- A journal that would pass backup_hold_max_bytes: released as failed at that
  operation, which is acknowledged all the same; the copies match.
- The replication link lost and back while held: the hold ends (failed) before the
  new session's resync, which then finds the copy as it is; the copies match.
"""

import hashlib
import json
import os
import threading
import time

import zmq

from lab import MODULE, lab_options
from replicd_lab import ReplicdLab

BOUND_S = 15
LOST_AFTER_MS = 1500
MAX_BYTES = 16 << 20


class HoldLab(ReplicdLab):
    """ReplicdLab with a short backup_hold_lost_after_ms."""

    def replicd_config_text(self, node):
        return super().replicd_config_text(node) + \
            f"  backup_hold_lost_after_ms: {LOST_AFTER_MS}\n" + \
            f"  backup_hold_max_bytes: {MAX_BYTES}\n"


class Backupd(threading.Thread):
    """backupd's actual state, published every 200 ms while running."""

    def __init__(self, lab, node):
        super().__init__(daemon=True)
        self.node = node
        self.state = {"hold": None, "completed": None}
        self.running = True
        self.sock = lab._ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(f"ipc://{lab.node_dir(node, 'run')}/{MODULE}/backup")

    def run(self):
        try:
            while self.running:
                msg = dict(module=MODULE, daemon="backupd", node=self.node, epoch=0,
                           state="idle", reason="", **self.state)
                self.sock.send_multipart([f"{MODULE}.backupd.actual".encode(),
                                          json.dumps(msg).encode()])
                time.sleep(0.2)
        except zmq.ZMQError:
            return  # the lab's context ended (teardown)
        self.sock.close()

    def stop(self):
        self.running = False
        self.join()


def backup_state(lab, node):
    """The "backup" of replicd's actual state (heartbeatd's status keeps only the
    fields it decides with; replicd writes the whole object to <run>/app/replicd.json)."""
    try:
        with open(os.path.join(lab.node_dir(node, "run"), MODULE, "replicd.json")) as f:
            return json.load(f).get("backup") or {}
    except (OSError, ValueError):
        return {}


def wait_backup(lab, node, ok, what):
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        st = backup_state(lab, node)
        if st and ok(st):
            return st
        time.sleep(0.1)
    raise AssertionError(f"{node}: {what} within {BOUND_S} s; backup: {st}")


def tree(root):
    """{relative path: sha256 of the content (or 'dir')}."""
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
    deadline = time.monotonic() + BOUND_S
    while True:
        a, b = tree(lab.disk_dir("node1")), tree(lab.disk_dir("node2"))
        if a == b:
            return a
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: copies differ in "
                                 f"{sorted(set(a.items()) ^ set(b.items()))[:6]}")
        time.sleep(0.2)


def write(path, data, offset=0, sync=True):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, offset)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def state_dir(lab, node):
    return lab.node_dir(node, f"state/{MODULE}/replicd")


def assert_replayed(lab, node, when):
    """The held operations were applied whole (never a resync hiding a failure)."""
    log = "".join(lab.replicd_log_tail(node, 60))
    assert f"{when}: applied the" in log, log
    assert "cannot apply" not in log and "damaged" not in log, log


def start_held(lab):
    """A settled pair with a first data set on both, node2 held for b1."""
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    primary = lab.data_dir("node1")
    os.makedirs(os.path.join(primary, "db"))
    write(os.path.join(primary, "db", "table"), os.urandom(1 << 20))
    write(os.path.join(primary, "old-name"), b"moved during the backup\n")
    write(os.path.join(primary, "doomed"), b"removed during the backup\n")
    before = wait_same(lab, "before the hold")
    backupd = Backupd(lab, "node2")
    backupd.state["hold"] = "b1"
    backupd.start()
    st = wait_backup(lab, "node2", lambda b: b.get("held") is True, "held for b1")
    assert st["hold"] == "b1" and st["record"].endswith("/backup-b1.rec"), st
    assert os.path.exists(st["record"]), st
    return backupd, before


def change_during_hold(lab):
    """Writes, a rename, an unlink, a new file: each returns (acknowledged)."""
    primary = lab.data_dir("node1")
    table = os.path.join(primary, "db", "table")
    for i in range(8):
        write(table, os.urandom(4096), offset=(i * 97 + 3) * 4096, sync=(i % 3 == 0))
    os.rename(os.path.join(primary, "old-name"), os.path.join(primary, "new-name"))
    os.unlink(os.path.join(primary, "doomed"))
    write(os.path.join(primary, "db", "new-file"), os.urandom(300000))
    write(os.path.join(primary, "old-name"), b"a new file under the old name\n")


@lab_options(lab_class=HoldLab, networks=1)
def test_backup_hold_keeps_the_copy_still_until_released(lab):
    backupd, before = start_held(lab)
    change_during_hold(lab)
    st = wait_backup(lab, "node2", lambda b: b.get("journal_bytes", 0) > 300000,
                     "the journal holding the writes")
    assert st["held"], st
    assert tree(lab.disk_dir("node2")) == before, "the held copy changed"
    # The primary's copy did change: the writes were acknowledged and returned.
    assert tree(lab.disk_dir("node1")) != before
    # The primary refuses a hold (backupd uses its hooks there).
    backupd1 = Backupd(lab, "node1")
    backupd1.state["hold"] = "b1"
    backupd1.start()
    try:
        st1 = wait_backup(lab, "node1", lambda b: b.get("refused"), "hold refused")
        assert "primary" in st1["refused"] and not st1["held"], st1
    finally:
        backupd1.stop()
    backupd.state.update(hold=None, completed="b1")
    st = wait_backup(lab, "node2", lambda b: b.get("held") is False, "released")
    assert st["failed"] is None and st["released"] == "b1", st
    wait_same(lab, "after the hold")
    assert_replayed(lab, "node2", "hold released")
    assert not os.path.exists(os.path.join(state_dir(lab, "node2"), "backup-b1.rec"))
    assert not os.path.exists(os.path.join(state_dir(lab, "node2"), "hold.journal"))
    backupd.stop()


@lab_options(lab_class=HoldLab, networks=1)
def test_backup_hold_released_as_failed_when_backupd_is_silent(lab):
    backupd, _before = start_held(lab)
    change_during_hold(lab)
    backupd.stop()  # as if killed: no more publications
    st = wait_backup(lab, "node2", lambda b: b.get("held") is False, "released")
    assert "nothing from backupd" in (st["failed"] or ""), st
    wait_same(lab, "after a lost backupd")
    assert_replayed(lab, "node2", "hold released")
    # The failed backup's record went back into backup.rec (the next one reads it).
    sd = state_dir(lab, "node2")
    assert not os.path.exists(os.path.join(sd, "backup-b1.rec"))
    with open(os.path.join(sd, "backup.rec"), "rb") as f:
        rec = f.read()
    assert b"db/table" in rec and b"old-name" in rec, "changes not merged back"


@lab_options(lab_class=HoldLab, networks=1)
def test_backup_hold_journal_applied_at_start_after_a_power_cut(lab):
    backupd, before = start_held(lab)
    change_during_hold(lab)
    latest = tree(lab.disk_dir("node1"))
    backupd.stop()
    lab.kill_node("node2")
    assert tree(lab.disk_dir("node2")) == before, "the held copy changed"
    assert os.path.exists(os.path.join(state_dir(lab, "node2"), "hold.journal"))
    # replicd alone: no heartbeatd, so no session and no resync can hide a lost
    # journal; what it has is what it applied at start.
    lab.start_replicd("node2")
    deadline = time.monotonic() + BOUND_S
    while tree(lab.disk_dir("node2")) != latest:
        assert time.monotonic() < deadline, "the journal was not applied at start"
        time.sleep(0.2)
    assert not os.path.exists(os.path.join(state_dir(lab, "node2"), "hold.journal"))
    assert_replayed(lab, "node2", "start")


@lab_options(lab_class=HoldLab, networks=1)
def test_backup_hold_failover_serves_the_latest_acknowledged_writes(lab):
    backupd, _before = start_held(lab)
    change_during_hold(lab)
    latest = tree(lab.disk_dir("node1"))
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", BOUND_S)
    # The role is heartbeatd's; the application is served once replicd reports
    # primary (transitions.order): from then on the copy has every write.
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    # Served through replicd's mount on the promoted node, and on its disk.
    assert tree(lab.data_dir("node2")) == latest
    assert tree(lab.disk_dir("node2")) == latest
    st = wait_backup(lab, "node2", lambda b: b.get("held") is False, "released")
    assert "primary" in (st["failed"] or ""), st
    assert_replayed(lab, "node2", "hold released")
    backupd.stop()


@lab_options(lab_class=HoldLab, networks=2)
def test_backup_hold_released_when_a_new_replication_session_begins(lab):
    backupd, _before = start_held(lab)
    change_during_hold(lab)
    # The replication link (network 0) cut, heartbeats go on over network 1: the
    # session ends, the primary goes on without node2, the hold stays.
    lab.cut_network("node2", 0)
    write(os.path.join(lab.data_dir("node1"), "db", "while-apart"), os.urandom(70000))
    st = backup_state(lab, "node2")
    assert st.get("held") is True, st
    # Back: before the new session's resync, the hold ends as failed and what it
    # journaled is applied; the resync then brings what node2 missed.
    lab.heal_network("node2", 0)
    st = wait_backup(lab, "node2", lambda b: b.get("held") is False, "released")
    assert "new session" in (st["failed"] or ""), st
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    wait_same(lab, "after the new session")
    assert_replayed(lab, "node2", "hold released")
    backupd.stop()


@lab_options(lab_class=HoldLab, networks=1)
def test_backup_hold_released_as_failed_when_the_journal_is_full(lab):
    backupd, _before = start_held(lab)
    # 24 MiB more than the journal may hold (16 MiB): every write returns.
    big = os.path.join(lab.data_dir("node1"), "db", "big")
    fd = os.open(big, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for i in range(24):
            os.pwrite(fd, os.urandom(1 << 20), i << 20)
        os.fsync(fd)
    finally:
        os.close(fd)
    st = wait_backup(lab, "node2", lambda b: b.get("held") is False, "released")
    assert "backup_hold_max_bytes" in (st["failed"] or ""), st
    wait_same(lab, "after a full journal")
    assert_replayed(lab, "node2", "hold released")
    backupd.stop()
