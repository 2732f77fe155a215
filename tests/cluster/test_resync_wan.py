"""Cluster tests: the resync over a WAN (issue 15): a bandwidth cap and zstd.

node2 is down while node1 (primary, ALONE) changes data; node2 comes back and is
resynced from node1's change record. Then:

- with `replicd.resync_max_bytes_per_s`, the resync takes at least the time the cap
  implies for the bytes it sent (a lower bound: safe on a noisy machine), the rate and
  ETA it publishes never promise more than the cap allows, a live write made during it
  is replicated while the capped resync still runs (live replication never waits behind
  the cap), and the copies end identical;
- with `replicd.resync_compress: zstd` on both nodes, compressible data goes as
  compressed frames and random data raw, the bytes on the wire are well below the bytes
  changed, the secondary refused no frame, and the copies end identical;
- with zstd on node1 only (node2 does not offer it in its handshake, as an older
  replicd would not), the resync sends everything raw and the copies end identical;
- a secondary fed by a primary written from docs/protocol.md (tests/lab/fake_primary.py)
  applies a good compressed write, and ends the connection on a bad one (a size that is
  not the frame's, a "bomb", or any compressed write when it did not offer zstd).
"""

import hashlib
import json
import os
import random
import shutil
import stat
import struct
import subprocess
import tempfile
import time

import lab as lablib
from lab import lab_options
from replicd_lab import ReplicdLab, replicd_of

BOUND_S = 60
MiB = 1 << 20


class WanLab(ReplicdLab):
    """ReplicdLab with extra `replicd:` lines per node (extra = {node: [lines]})."""

    def __init__(self, extra=None, **options):
        super().__init__(**options)
        self.extra = extra or {}

    def replicd_config_text(self, node):
        lines = "".join(f"  {line}\n" for line in self.extra.get(node, []))
        return super().replicd_config_text(node) + lines


def _write(path, data, offset=0, mode="r+b"):
    with open(path, mode) as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _text(n, seed):
    """n bytes of log-like text: compresses several times over with zstd."""
    rng = random.Random(seed)
    words = [b"replicated", b"resync", b"primary", b"secondary", b"zone", b"write",
             b"azure", b"aws", b"latency", b"bytes", b"node1", b"node2"]
    out = bytearray()
    line = 0
    while len(out) < n:
        line += 1
        out += b"%08d %s %s %s\n" % (line, rng.choice(words), rng.choice(words),
                                     rng.choice(words))
    return bytes(out[:n])


def _snapshot(root):
    out = {}
    rootb = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(rootb):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            desc = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)]
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    desc += [st.st_size, hashlib.sha256(f.read()).hexdigest()]
            out[os.path.relpath(p, rootb)] = desc
    return out


def _same(lab, what):
    a, b = _snapshot(lab.disk_dir("node1")), _snapshot(lab.disk_dir("node2"))
    diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    assert not diff, f"{what}: copies differ at {diff[:5]}"


def _outage(lab, change):
    """Start, bring node2 in sync, kill it, change(root) on node1 -> bytes changed."""
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    lab.kill_node("node2")
    lab.wait_role("node1", "ALONE", BOUND_S)
    return change(lab.data_dir("node1"))


def _resync(lab):
    """Restart node2; wait until it is in sync; (seconds, node1's resync, node2's)."""
    started = time.monotonic()
    lab.restart_node("node2")
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    seconds = time.monotonic() - started
    mine = replicd_of(lab.status("node1")).get("resync") or {}
    theirs = replicd_of(lab.status("node2")).get("resync") or {}
    return seconds, mine, theirs


CAP = 1 * MiB


@lab_options(lab_class=WanLab, networks=1,
             extra={n: [f"resync_max_bytes_per_s: {CAP}"] for n in ("node1", "node2")})
def test_capped_resync_takes_the_time_the_cap_implies_and_live_writes_pass(lab):
    def change(root):
        _write(os.path.join(root, "big"), os.urandom(6 * MiB), mode="wb")
        return 6 * MiB
    changed = _outage(lab, change)

    started = time.monotonic()
    lab.restart_node("node2")

    def resyncing(st):
        rs = replicd_of(st).get("resync") or {}
        return rs.get("active") and rs.get("bytes_done", 0) > 0
    st = lab.wait_for("node1", resyncing, "node1 resyncing node2", BOUND_S)
    # What node1 publishes mid-way never promises more than the cap allows.
    rs = replicd_of(st)["resync"]
    assert rs.get("max_bytes_per_s") == CAP, rs
    assert 0 < rs["rate_bps"] <= CAP, rs
    assert rs["eta_s"] >= rs["bytes_left"] // CAP - 1, rs

    # A live write during the capped resync reaches node2 while the resync still runs.
    # (sync mode: the write returns once node2 has it.)
    _write(os.path.join(lab.data_dir("node1"), "live"), os.urandom(4096), mode="wb")
    rs_after = replicd_of(lab.status("node1")).get("resync") or {}
    assert rs_after.get("active"), \
        f"the live write waited until the capped resync ended: {rs_after}"

    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    seconds = time.monotonic() - started
    mine = replicd_of(lab.status("node1")).get("resync") or {}
    print(f"    {changed} bytes changed; capped at {CAP} B/s: {seconds:.1f} s, "
          f"{mine.get('op_bytes')} resync bytes, {mine.get('wire_bytes')} on the wire, "
          f"waited {mine.get('throttled_ms')} ms for the cap", flush=True)
    # The bucket starts full (a tenth of a second, at least 64 KiB) and the last step
    # may overdraw it by a step (at most 1 MiB): what is left takes op_bytes / cap.
    op_bytes = mine.get("op_bytes", 0)
    assert op_bytes >= changed, mine
    floor = (op_bytes - max(CAP // 10, 64 << 10) - MiB) / CAP
    assert seconds >= floor, f"resync of {op_bytes} bytes at {CAP} B/s took {seconds:.1f} s"
    assert mine.get("throttled_ms", 0) > 0, mine
    _same(lab, "after the capped resync")


ZSTD = ["resync_compress: zstd"]


@lab_options(lab_class=WanLab, networks=1, extra={"node1": ZSTD, "node2": ZSTD})
def test_zstd_resync_sends_far_fewer_bytes_than_changed(lab):
    def change(root):
        _write(os.path.join(root, "log.txt"), _text(12 * MiB, 1), mode="wb")
        _write(os.path.join(root, "random.bin"), os.urandom(2 * MiB), mode="wb")
        return 14 * MiB
    changed = _outage(lab, change)
    seconds, mine, theirs = _resync(lab)
    wire = mine.get("wire_bytes", 0)
    print(f"    {changed} bytes changed; zstd: {wire} bytes on the wire "
          f"({wire / changed:.3f} of the change), {mine.get('compressed_frames')} "
          f"compressed frames, {mine.get('raw_frames')} raw, {seconds:.1f} s", flush=True)
    assert mine.get("compress") == "zstd", mine
    assert mine.get("compressed_frames", 0) > 0, mine
    assert mine.get("raw_frames", 0) > 0, mine  # the random file went raw
    assert mine.get("compressed_bytes", 0) < mine.get("compressed_file_bytes", 0) / 3, mine
    # The random 2 MiB cannot shrink; the 12 MiB of text must, several times over.
    assert 2 * MiB <= wire < 6 * MiB, mine
    assert theirs.get("compressed_frames") == mine.get("compressed_frames"), theirs
    assert theirs.get("compressed_rejected") == 0, theirs
    assert replicd_of(lab.status("node2")).get("counters", {}).get("rejected_frames") == 0
    _same(lab, "after the zstd resync")


@lab_options(lab_class=WanLab, networks=1, extra={"node1": ZSTD})
def test_peer_that_does_not_offer_zstd_is_resynced_raw(lab):
    def change(root):
        _write(os.path.join(root, "log.txt"), _text(4 * MiB, 2), mode="wb")
        return 4 * MiB
    changed = _outage(lab, change)
    seconds, mine, theirs = _resync(lab)
    print(f"    {changed} bytes changed; node2 without zstd: {mine.get('wire_bytes')} "
          f"bytes on the wire, {seconds:.1f} s", flush=True)
    assert mine.get("compress") == "none", mine
    assert mine.get("compressed_frames", 0) == 0, mine
    assert mine.get("wire_bytes", 0) >= changed, mine
    assert theirs.get("compressed_frames", 0) == 0, theirs
    _same(lab, "after the raw resync")



@lab_options(lab_class=WanLab, networks=1,
             extra={n: ZSTD + [f"resync_max_bytes_per_s: {CAP}"] for n in ("node1", "node2")})
def test_capped_zstd_hash_resync_sends_only_what_differs(lab):
    """No record on node2 (wiped state): the copies are compared zone by zone under the
    cap; only the changed zones go, compressed, and the copies end identical."""
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    root = lab.data_dir("node1")
    files = [os.path.join(root, f"log{i}") for i in range(6)]
    for i, path in enumerate(files):  # 24 MiB that stays the same
        _write(path, _text(4 * MiB, 10 + i), mode="wb")
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    lab.kill_node("node2")
    lab.wait_role("node1", "ALONE", BOUND_S)
    changed = 0
    for i, path in enumerate(files):  # 128 KiB in each: 768 KiB
        _write(path, _text(128 << 10, 20 + i), offset=MiB * (i % 4))
        changed += 128 << 10
    shutil.rmtree(lab.node_dir("node2", "state"))
    seconds, mine, theirs = _resync(lab)
    print(f"    {changed} bytes changed in 24 MiB; capped zstd hash resync: "
          f"{mine.get('data_bytes_sent')} file bytes, {mine.get('wire_bytes')} on the "
          f"wire, {seconds:.1f} s", flush=True)
    assert mine.get("mode") == "hash", mine
    assert mine.get("compress") == "zstd" and mine.get("max_bytes_per_s") == CAP, mine
    assert mine.get("data_bytes_sent") == changed, mine
    assert mine.get("compressed_frames", 0) > 0, mine
    assert mine.get("wire_bytes", 0) < changed, mine
    _same(lab, "after the capped zstd hash resync")

# --- a secondary fed hostile compressed frames ------------------------------------------

FAKE_PRIMARY = os.path.join(os.path.dirname(lablib.__file__), "fake_primary.py")


def _path(p):
    return struct.pack(">H", len(p)) + p


def _op_sync_resync():
    # 20 sync: type, seq, offset (total), length (done), flags 2 (resync)
    return struct.pack(">BQQQI", 20, 0, 0, 0, 2)


def _op_create(seq, path):
    # 4 create: type, seq, dir, path, mode, rdev, uid, gid, flags (1 exclusive)
    return struct.pack(">BQB", 4, seq, 0) + _path(path) + struct.pack(
        ">IQIII", stat.S_IFREG | 0o644, 0, 0, 0, 1)


def _op_write_z(seq, path, offset, length, frame):
    # 30 write-z: type, seq, dir, handle, path, offset, length, data
    return (struct.pack(">BQBQ", 30, seq, 0, 0) + _path(path) +
            struct.pack(">QQI", offset, length, len(frame)) + frame)


def _zstd(data):
    """One zstd frame with its content size (the zstd tool, not replicd's code)."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return subprocess.run(["zstd", "-q", "-c", "-3", f.name], check=True,
                              capture_output=True).stdout


def _feed(lab, ops):
    """Run fake_primary.py as node1 against node2's replicd; its JSON verdict."""
    res = subprocess.run(
        ["ip", "netns", "exec", lab.ns("node1"), "/usr/bin/python3", FAKE_PRIMARY,
         lab.key().hex(), lablib.CLUSTER, lablib.MODULE, "node1", "node2",
         lablib.address(0, "node2"), "7410", "1"] + [op.hex() for op in ops],
        capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, f"fake primary failed: {res.stderr[-800:]}"
    return json.loads(res.stdout.strip().splitlines()[-1])


def _logged(lab, node, text):
    with open(lab.replicd_log(node), errors="replace") as f:
        return text in f.read()


@lab_options(lab_class=WanLab, networks=1, extra={"node2": ZSTD})
def test_secondary_applies_good_compressed_writes_and_drops_bad_ones(lab):
    lab.start_replicd("node2", standalone="secondary")
    data = _text(256 << 10, 3)
    good = _zstd(data)
    assert len(good) < len(data) // 2
    bomb = _zstd(bytes(64 << 20))  # 64 MiB of zeros: a few KiB
    for bad, what in ((good, "a size that is not the frame's"),
                      (bomb, "a bomb said to be 1 MiB")):
        length = len(data) + 1 if bad is good else 1 << 20
        verdict = _feed(lab, [_op_sync_resync(), _op_create(1, b"f"),
                              _op_write_z(2, b"f", 0, len(data), good),
                              _op_write_z(3, b"f", len(data), length, bad)])
        assert verdict["peer_caps"] & 1, verdict  # node2 offered zstd (and 2: the epoch)
        assert verdict["closed"], f"{what}: node2 kept the connection: {verdict}"
        with open(os.path.join(lab.disk_dir("node2"), "f"), "rb") as f:
            assert f.read() == data, f"{what}: the good compressed write is not on node2"
        os.unlink(os.path.join(lab.disk_dir("node2"), "f"))
    assert _logged(lab, "node2", "bad compressed resync data")


@lab_options(lab_class=WanLab, networks=1)
def test_secondary_that_did_not_offer_zstd_refuses_compressed_writes(lab):
    lab.start_replicd("node2", standalone="secondary")
    data = _text(64 << 10, 4)
    verdict = _feed(lab, [_op_sync_resync(), _op_create(1, b"g"),
                          _op_write_z(2, b"g", 0, len(data), _zstd(data))])
    assert not verdict["peer_caps"] & 1, verdict
    assert verdict["closed"], verdict
    with open(os.path.join(lab.disk_dir("node2"), "g"), "rb") as f:
        assert f.read() == b"", "node2 applied a compressed write it never offered to take"
    assert _logged(lab, "node2", "bad compressed resync data")
