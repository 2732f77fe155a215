"""Cluster tests: the epoch in the replication stream (operation 31, replicd/epoch.h).

A real secondary replicd in a lab namespace, told its target and epoch on its bus by a
stand-in for heartbeatd (tests/lab/fake_heartbeatd.py, the desired state of
docs/protocol.md), fed by a primary written from docs/protocol.md
(tests/lab/fake_primary.py) that offers the epoch capability (0x2):

- a primary of the epoch the secondary knows: its operations reach the copy (the
  control: the same frames do get through);
- a primary of an older epoch (one that was replaced and woke up): the secondary ends
  the session at its epoch, applies nothing, counts it (`epoch_refused`) and logs both
  epochs;
- a primary that offered the epoch but sends an operation first: refused, nothing
  applied;
- a session of the current epoch, when the secondary's heartbeatd then moves to a newer
  one: the session ends at once.
"""

import json
import os
import stat
import struct
import subprocess
import sys
import time

import lab as lablib
from lab import lab_options
from fake_heartbeatd import FakeHeartbeatd
from replicd_lab import ReplicdLab

FAKE_PRIMARY = os.path.join(os.path.dirname(lablib.__file__), "fake_primary.py")
CAP_EPOCH = 2
EPOCH = 5


def _path(p):
    return struct.pack(">H", len(p)) + p


def _op_epoch(epoch):
    # 31 epoch: type, seq (0: not sequenced), offset (the epoch); no directory
    return struct.pack(">BQQ", 31, 0, epoch)


def _op_sync_resync():
    # 20 sync: type, seq, offset (total), length (done), flags 2 (resync)
    return struct.pack(">BQQQI", 20, 0, 0, 0, 2)


def _op_create(seq, path):
    # 4 create: type, seq, dir, path, mode, rdev, uid, gid, flags (1 exclusive)
    return struct.pack(">BQB", 4, seq, 0) + _path(path) + struct.pack(
        ">IQIII", stat.S_IFREG | 0o644, 0, 0, 0, 1)


def _primary(lab, ops):
    """fake_primary.py as node1 against node2's replicd, offering the epoch."""
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("node1"), "/usr/bin/python3", FAKE_PRIMARY,
         lab.key().hex(), lablib.CLUSTER, lablib.MODULE, "node1", "node2",
         lablib.address(0, "node2"), "7410", str(CAP_EPOCH)] + [op.hex() for op in ops],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _verdict(proc):
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, f"fake primary failed: {err[-800:]}"
    return json.loads(out.strip().splitlines()[-1])


def _feed(lab, ops):
    return _verdict(_primary(lab, ops))


def _on_copy(lab, name):
    return os.path.exists(os.path.join(lab.disk_dir("node2"), name))


def _log(lab):
    with open(lab.replicd_log("node2"), errors="replace") as f:
        return f.read()


def _secondary(lab):
    """node2's replicd, a secondary in EPOCH as far as its (fake) heartbeatd says."""
    hb = FakeHeartbeatd(lab.node_dir("node2", "run"), lablib.MODULE, "node2")
    hb.start(target="secondary", epoch=EPOCH)
    lab.start_replicd("node2")
    hb.wait_actual("replicd", lambda a: a["state"] == "secondary" and a["epoch"] == EPOCH,
                   f"secondary in epoch {EPOCH}")
    return hb


def _refused(hb, n):
    return hb.wait_actual("replicd", lambda a: a.get("epoch_refused") == n,
                          f"counting {n} session(s) refused for their epoch", 5)


@lab_options(lab_class=ReplicdLab, networks=1)
def test_secondary_refuses_a_primary_of_an_older_epoch_and_applies_nothing(lab):
    hb = _secondary(lab)
    try:
        # The control: a primary of the current epoch gets its create through.
        v = _feed(lab, [_op_epoch(EPOCH), _op_sync_resync(), _op_create(1, b"current")])
        assert v["peer_caps"] & CAP_EPOCH, v  # node2 offered the epoch
        assert not v["closed"], f"node2 ended a session of its own epoch: {v}"
        assert _on_copy(lab, "current"), "a create of the current epoch is not on node2"

        # A primary that was replaced (epoch 4 < 5): nothing of it reaches the copy.
        v = _feed(lab, [_op_epoch(EPOCH - 1), _op_sync_resync(), _op_create(1, b"stale")])
        assert v["closed"], f"node2 kept a session of an older epoch: {v}"
        assert not _on_copy(lab, "stale"), "a create of an older epoch reached node2's copy"
        _refused(hb, 1)
        assert (f"refused primary node1: its epoch {EPOCH - 1} is older than epoch "
                f"{EPOCH}") in _log(lab)

        # It offered the epoch, then sent an operation first: refused too.
        v = _feed(lab, [_op_sync_resync(), _op_create(1, b"early")])
        assert v["closed"], f"node2 took operations before the epoch: {v}"
        assert not _on_copy(lab, "early"), "an operation sent before the epoch was applied"
        assert "an operation before the primary's epoch" in _log(lab)
    finally:
        hb.close()


@lab_options(lab_class=ReplicdLab, networks=1)
def test_session_ends_when_the_secondary_learns_a_newer_epoch(lab):
    hb = _secondary(lab)
    try:
        proc = _primary(lab, [_op_epoch(EPOCH), _op_sync_resync()])
        hb.wait_actual("replicd", lambda a: a["peer_connected"], "connected to node1")
        hb.set(epoch=EPOCH + 1)  # another node was promoted meanwhile
        v = _verdict(proc)
        assert v["closed"], f"node2 kept the session of epoch {EPOCH} in epoch {EPOCH + 1}: {v}"
        a = _refused(hb, 1)
        assert a["epoch"] == EPOCH + 1, a
        assert f"its epoch {EPOCH} is older than epoch {EPOCH + 1}" in _log(lab)
    finally:
        hb.close()
