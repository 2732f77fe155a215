"""Cluster tests: replicd under heartbeatd, two nodes in namespaces.

What the application writes (and fsyncs) through the primary's mount is on the
secondary's disk, byte for byte; when the primary node dies (every process killed, links
down), the secondary is promoted and serves those bytes through its own mount, and takes
new writes. The killed node comes back with a stale FUSE mount, which its new replicd
detaches.
"""

import os

from lab import describe, lab_options
from replicd_lab import ReplicdLab

TAKEOVER_BOUND_S = 15


def _payloads():
    files = {f"file{i}": os.urandom(1000 * i + 17) for i in range(10)}
    files["nested/deeper/big"] = os.urandom(3 << 20)
    return files


def _write_all(root, files):
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            for off in range(0, len(data), 1 << 17):
                os.write(fd, data[off:off + (1 << 17)])
            os.fsync(fd)
        finally:
            os.close(fd)


def _read(root, rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def _start(lab):
    lab.start_cluster()
    lab.wait_replicd("node1", "primary", connected=True)
    lab.wait_replicd("node2", "secondary", connected=True)


@lab_options(lab_class=ReplicdLab, networks=1)
def test_fsynced_writes_on_primary_are_on_secondary_disk(lab):
    _start(lab)
    files = _payloads()
    _write_all(lab.data_dir("node1"), files)
    for rel, data in files.items():
        assert _read(lab.disk_dir("node2"), rel) == data, f"{rel} differs on node2's disk"
        assert _read(lab.disk_dir("node1"), rel) == data, f"{rel} differs on node1's disk"
    act = lab.replicd_actual("node1")
    assert act["state"] == "primary" and act["reason"] == "", act


@lab_options(lab_class=ReplicdLab, networks=1)
def test_secondary_mount_refuses_writes_under_heartbeatd(lab):
    _start(lab)
    try:
        os.open(os.path.join(lab.data_dir("node2"), "x"), os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as e:
        assert e.errno == 30, repr(e)  # EROFS
    else:
        raise AssertionError("the secondary's mount accepted a write")


# A promise of sync mode only (commit and async modes may lose unsynced writes):
# pinned, so that SKYHA_REPLICD_MODE=commit runs the rest of this file.
@lab_options(lab_class=ReplicdLab, networks=1, mode="sync")
def test_writes_acknowledged_without_fsync_survive_a_power_cut_of_the_primary(lab):
    # Sync mode: a write() that returned is on the secondary even with no
    # fsync (its replicd acked it on receipt, and its write thread wrote it
    # later, in order): the new primary serves every byte of the 48 MiB
    # (docs/replication.md, "How a write travels").
    _start(lab)
    data = os.urandom(48 << 20)
    fd = os.open(os.path.join(lab.data_dir("node1"), "unsynced"),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        for off in range(0, len(data), 1 << 20):
            assert os.write(fd, data[off:off + (1 << 20)]) == 1 << 20
        lab.kill_node("node1")  # right after the last write() returned
    finally:
        try:
            os.close(fd)
        except OSError:
            pass  # ENOTCONN: the mount's replicd is gone with its node
    st = lab.wait_role("node2", "ALONE", TAKEOVER_BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=TAKEOVER_BOUND_S)
    got = _read(lab.data_dir("node2"), "unsynced")
    assert len(got) == len(data), \
        f"node2 serves {len(got)} of {len(data)} acknowledged bytes ({describe(st)})"
    assert got == data, f"node2 serves other bytes than were acknowledged ({describe(st)})"


@lab_options(lab_class=ReplicdLab, networks=1)
def test_new_primary_serves_acknowledged_bytes_after_primary_node_killed(lab):
    _start(lab)
    files = _payloads()
    _write_all(lab.data_dir("node1"), files)
    lab.kill_node("node1")
    st = lab.wait_role("node2", "ALONE", TAKEOVER_BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=TAKEOVER_BOUND_S)
    for rel, data in files.items():
        assert _read(lab.data_dir("node2"), rel) == data, \
            f"{rel}: node2 does not serve the acknowledged bytes ({describe(st)})"
    _write_all(lab.data_dir("node2"), {"after-takeover": b"new primary writes"})
    assert _read(lab.disk_dir("node2"), "after-takeover") == b"new primary writes"
    # node1 missed that write: replicd records it for the resync and says so.
    lab.wait_for("node2", lambda st:
                 (st.get("actuators", {}).get("replicd") or {}).get("sync") == "degraded",
                 "replicd reporting the peer degraded", 5)
    # node1 returns: its replicd finds the stale mount of the killed one and detaches it.
    lab.restart_node("node1")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, TAKEOVER_BOUND_S)
    lab.wait_replicd("node1", "secondary", timeout=TAKEOVER_BOUND_S)
    assert _read(lab.data_dir("node1"), "file3") == files["file3"]
    # The resync brings node1 the write it missed, and only then is it in sync.
    lab.wait_for("node1", lambda st:
                 (st.get("actuators", {}).get("replicd") or {}).get("data") == "uptodate",
                 "node1's copy up to date after the resync", TAKEOVER_BOUND_S)
    assert _read(lab.disk_dir("node1"), "after-takeover") == b"new primary writes"
    assert any("detached the stale mount" in line
               for line in lab.replicd_log_tail("node1", 100))
