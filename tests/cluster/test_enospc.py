"""Cluster tests: the primary's data file system fills up (issue 13).

The primary's disk is a 24 MiB tmpfs, the secondary's a larger one. An application
on the primary writes 64 KiB records, fsyncing each, until the file system is full.
What an operator expects, checked with either node as the primary:

- the application gets ENOSPC (not EIO, not a hang), and the module keeps serving;
- every record whose fsync returned is on the secondary's disk at that moment;
- the secondary's copy stays consistent: once the writes stop, both disks hold the
  same bytes, and the secondary is still in sync (promotable);
- once space is freed (the application deletes a file), writes succeed and
  replicate again, with no resync needed;
- a power cut of the primary then leaves the other node serving every acknowledged
  record.

And the other way round, the secondary's disk full (smaller than the primary's, or
filled by something else): the secondary must never call a copy up to date that
lacks what it could not write. Before the fix, a resync's writes that failed with
ENOSPC were "only counted" and the copy was called in sync and complete at the
primary's generation, with records missing: a power cut of the primary then would
have elected it. Once the application frees space, the copy is resynced.
"""

import errno
import hashlib
import os
import time

from lab import lab_options
from replicd_lab import ReplicdLab, replicd_of

BOUND_S = 20
RECORD = 64 * 1024
SMALL_MIB = 24
LARGE_MIB = 64


def _other(node):
    return "node2" if node == "node1" else "node1"


def _record(n):
    return (b"record %010d " % n).ljust(RECORD, b"r")


def _tree(root):
    """{relative path: sha256 of contents} of every regular file under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _wait_same(lab, a, b, what):
    deadline = time.monotonic() + BOUND_S
    while True:
        ta, tb = _tree(lab.disk_dir(a)), _tree(lab.disk_dir(b))
        if ta == tb:
            return
        if time.monotonic() > deadline:
            diff = sorted(k for k in set(ta) | set(tb) if ta.get(k) != tb.get(k))
            raise AssertionError(f"{what}: {a} and {b} differ in {diff[:5]}")
        time.sleep(0.2)


def _fill(path, first):
    """Append fsynced records to path until the file system is full. Returns
    (number of records acknowledged, the errno that stopped the writer)."""
    n = first
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            try:
                data = _record(n)
                done = os.write(fd, data)
                if done != len(data):
                    # A short write: the rest does not fit. The application
                    # sees ENOSPC on its next write; nothing here was fsynced.
                    os.write(fd, data[done:])
                os.fsync(fd)
            except OSError as exc:
                return n - first, exc.errno
            n += 1
            if n - first > 10 * LARGE_MIB * (1 << 20) // RECORD:
                raise AssertionError(f"{path}: still no ENOSPC after {n - first} records")
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


def _check_records(path, count, what):
    """The first count records of path are all there and intact."""
    with open(path, "rb") as f:
        for n in range(count):
            got = f.read(RECORD)
            if got != _record(n):
                raise AssertionError(f"{what}: record {n} of {count} acknowledged is "
                                     f"{'missing' if len(got) < RECORD else 'wrong'}")


def _start_with(lab, primary):
    """The cluster up with primary as PRIM (a swap when it is node2) and the other
    node an in-sync SECOND; returns the secondary."""
    secondary = _other(primary)
    lab.start_cluster()
    if primary != "node1":
        lab.wait_in_sync("node2", BOUND_S, at_generation=False)
        res = lab.skyctl("node2", "swap")
        assert res.rc == 0, f"swap to node2: {res.out}"
        lab.wait_roles({primary: "PRIM", secondary: "SECOND"}, BOUND_S)
    lab.wait_in_sync(secondary, BOUND_S, at_generation=False)
    return secondary


def _enospc_on_the_primary(lab, primary):
    secondary = _start_with(lab, primary)

    log = os.path.join(lab.data_dir(primary), "log")
    acked, err = _fill(log, 0)
    assert err == errno.ENOSPC, \
        f"the application got {errno.errorcode.get(err, err)} on a full disk, not ENOSPC"
    assert acked * RECORD > (SMALL_MIB - 8) << 20, \
        f"only {acked} records before ENOSPC on a {SMALL_MIB} MiB disk"
    # Every acknowledged record is on the secondary's disk now.
    _check_records(os.path.join(lab.disk_dir(secondary), "log"), acked,
                   f"{secondary}'s disk right after ENOSPC on {primary}")
    # The module still serves and the secondary is still a promotable copy.
    assert lab.role(primary) == "PRIM", f"{primary} is {lab.role(primary)} after ENOSPC"
    lab.wait_in_sync(secondary, BOUND_S, at_generation=False)
    _wait_same(lab, primary, secondary, "with the primary's disk full")

    # Space freed: the application deletes a file; writes replicate again.
    os.truncate(log, (acked // 2) * RECORD)
    more = os.path.join(lab.data_dir(primary), "after-free")
    with open(more, "wb") as f:
        for n in range(16):
            f.write(_record(n))
        f.flush()
        os.fsync(f.fileno())
    _check_records(os.path.join(lab.disk_dir(secondary), "after-free"), 16,
                   f"{secondary}'s disk after space was freed on {primary}")
    st = lab.status(primary)
    assert replicd_of(st).get("sync") == "insync", \
        f"replication on {primary} is {replicd_of(st)} after space was freed"
    _wait_same(lab, primary, secondary, "after space was freed")

    # The primary loses power: the other node serves every acknowledged record.
    lab.kill_node(primary)
    lab.wait_role(secondary, "ALONE", BOUND_S)
    _check_records(os.path.join(lab.data_dir(secondary), "log"), acked // 2,
                   f"{secondary} serving after {primary}'s power cut")
    _check_records(os.path.join(lab.data_dir(secondary), "after-free"), 16,
                   f"{secondary} serving after {primary}'s power cut")


@lab_options(lab_class=ReplicdLab, networks=1,
             disk_mib={"node1": SMALL_MIB, "node2": LARGE_MIB})
def test_a_full_disk_on_primary_node1_fails_the_write_and_loses_nothing(lab):
    _enospc_on_the_primary(lab, "node1")


@lab_options(lab_class=ReplicdLab, networks=1,
             disk_mib={"node1": LARGE_MIB, "node2": SMALL_MIB})
def test_a_full_disk_on_primary_node2_fails_the_write_and_loses_nothing(lab):
    _enospc_on_the_primary(lab, "node2")


def _enospc_on_the_secondary(lab, primary):
    secondary = _start_with(lab, primary)

    log = os.path.join(lab.data_dir(primary), "log")
    acked, err = _fill(log, 0)
    assert err == errno.ENOSPC, f"{primary} got {errno.errorcode.get(err, err)}"
    assert acked * RECORD > SMALL_MIB << 20, \
        f"{primary} filled its larger disk with only {acked} records"
    # For a while, whenever the secondary calls its copy up to date at the
    # primary's generation, that copy has every acknowledged record (it
    # cannot: they do not fit; so it must not say so).
    end = time.monotonic() + 3
    while time.monotonic() < end:
        sp, ss = lab.status(primary), lab.status(secondary)
        if replicd_of(ss).get("data") == "uptodate" and \
                ss["node"]["generation"] == sp["node"]["generation"]:
            _check_records(os.path.join(lab.disk_dir(secondary), "log"), acked,
                           f"{secondary} calls its copy up to date")
        time.sleep(0.1)
    assert lab.role(primary) == "PRIM", f"{primary} is {lab.role(primary)}"

    # The application frees space: the secondary's copy is resynced.
    keep = (SMALL_MIB // 3 << 20) // RECORD
    os.truncate(log, keep * RECORD)
    lab.wait_in_sync(secondary, BOUND_S)
    _wait_same(lab, primary, secondary, "after space was freed")
    lab.kill_node(primary)
    lab.wait_role(secondary, "ALONE", BOUND_S)
    _check_records(os.path.join(lab.data_dir(secondary), "log"), keep,
                   f"{secondary} serving after {primary}'s power cut")


@lab_options(lab_class=ReplicdLab, networks=1,
             disk_mib={"node1": LARGE_MIB, "node2": SMALL_MIB})
def test_a_full_disk_on_secondary_node2_never_makes_it_promotable(lab):
    _enospc_on_the_secondary(lab, "node1")


@lab_options(lab_class=ReplicdLab, networks=1,
             disk_mib={"node1": SMALL_MIB, "node2": LARGE_MIB})
def test_a_full_disk_on_secondary_node1_never_makes_it_promotable(lab):
    _enospc_on_the_secondary(lab, "node2")
