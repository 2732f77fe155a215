"""Cluster tests: replicd's data safety under heartbeatd (issue 3, phase 2).

- No acknowledged write is lost: a writer on the primary writes numbered records and
  fsyncs each, logging every acknowledgement in the lab directory (outside the
  cluster); the whole primary node is killed at a random moment, 20 times in a row
  (the survivor serves, the killed node returns and is resynced, the next round kills
  the new primary); the new primary always has every acknowledged record.
- After an outage, the node that returns is resynced and the two copies end
  byte-identical (contents, sizes, modes, owners, xattrs, symlinks, hard links).
- The resync after an outage sends little more than what changed during it (replicd's
  own counters), on a data set much larger than the change.
- Malformed, truncated, oversized and replayed frames, and a peer without the cluster
  key, are rejected: counters go up, replicd keeps running, the copy is unchanged.
"""

import hashlib
import hmac
import os
import random
import shutil
import stat
import struct
import threading
import time

from lab import CLUSTER, PYTHON, address, lab_options, run, sized
from replicd_lab import ReplicdLab, replicd_of, walk

BOUND_S = 20
RECORD = 64
ROUNDS = sized(8, 20)  # primary nodes killed: 8 in make check, 20 in make soak
PORT = 7410


def _start(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)


def _other(node):
    return "node2" if node == "node1" else "node1"


class Writer(threading.Thread):
    """Numbered 64-byte records at offset n*64 of one file, each fsynced; every
    acknowledged number is appended to a log outside the replicated directory."""

    def __init__(self, path, ack_log, first):
        super().__init__(daemon=True)
        self.path, self.ack_log, self.next = path, ack_log, first
        self.stop = False

    @staticmethod
    def record(n):
        return (b"record %010d " % n).ljust(RECORD - 1, b"x") + b"\n"

    def run(self):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            with open(self.ack_log, "ab", buffering=0) as log:
                while not self.stop:
                    n = self.next
                    os.pwrite(fd, self.record(n), n * RECORD)
                    os.fsync(fd)
                    log.write(b"%d\n" % n)  # acknowledged: the application saw it
                    self.next = n + 1
        except OSError:
            pass  # the node died under us: what was not acknowledged may be lost
        finally:
            try:
                os.close(fd)
            except OSError:
                pass


def _acked(ack_log):
    with open(ack_log, "rb") as f:
        return [int(x) for x in f.read().split()]


@lab_options(lab_class=ReplicdLab, networks=1)
def test_no_acknowledged_write_lost_when_the_primary_node_is_killed_again_and_again(lab):
    _start(lab)
    ack_log = os.path.join(lab.dir, "acks.log")  # outside every replicated directory
    rng = random.Random(3)
    primary, first = "node1", 0
    for round_no in range(ROUNDS):
        secondary = _other(primary)
        writer = Writer(os.path.join(lab.data_dir(primary), "records"), ack_log, first)
        writer.start()
        time.sleep(rng.uniform(0.05, 0.4))
        lab.kill_node(primary)
        writer.stop = True
        writer.join(10)
        assert not writer.is_alive(), "the writer hangs on the dead node's mount"
        lab.wait_role(secondary, "ALONE", BOUND_S)
        lab.wait_replicd(secondary, "primary", timeout=BOUND_S)
        acked = _acked(ack_log)
        with open(os.path.join(lab.data_dir(secondary), "records"), "rb") as f:
            data = f.read()
        lost = [n for n in acked
                if data[n * RECORD:(n + 1) * RECORD] != Writer.record(n)]
        assert not lost, (f"round {round_no}: {len(lost)} acknowledged records missing "
                          f"on {secondary} (first {lost[:5]})")
        first = writer.next
        # The killed node returns, is resynced, and is the next victim's successor.
        lab.restart_node(primary)
        lab.wait_in_sync(primary, BOUND_S, at_generation=False)
        primary = secondary
    acked = _acked(ack_log)
    print(f"    {ROUNDS} primary nodes killed; {len(acked)} acknowledged records, every "
          f"one found on the node that took over", flush=True)
    assert len(acked) > ROUNDS, "the writer hardly wrote anything"


def _populate(root, rng):
    os.makedirs(os.path.join(root, "dir/sub"))
    for i in range(12):
        with open(os.path.join(root, f"dir/f{i}"), "wb") as f:
            f.write(rng.randbytes(rng.randrange(1, 300_000)))
            f.flush()
            os.fsync(f.fileno())
    os.chmod(os.path.join(root, "dir/f1"), 0o600)
    os.chown(os.path.join(root, "dir/f2"), 1234, 5678)
    os.setxattr(os.path.join(root, "dir/f3"), "user.colour", b"blue")
    os.symlink("f4", os.path.join(root, "dir/link-to-f4"))
    os.link(os.path.join(root, "dir/f5"), os.path.join(root, "dir/sub/hard-f5"))
    os.mkdir(os.path.join(root, "gone-dir"))
    with open(os.path.join(root, "gone-dir/x"), "wb") as f:
        f.write(b"x" * 1000)


def _change_during_outage(root, rng):
    with open(os.path.join(root, "dir/f0"), "r+b") as f:  # zones in place
        f.seek(70_000)
        f.write(rng.randbytes(5000))
        f.truncate(150_000)
    with open(os.path.join(root, "dir/f6"), "ab") as f:  # appended
        f.write(rng.randbytes(100_000))
    with open(os.path.join(root, "new-file"), "wb") as f:
        f.write(rng.randbytes(123_456))
    os.unlink(os.path.join(root, "dir/f7"))
    os.rename(os.path.join(root, "dir/f8"), os.path.join(root, "dir/sub/f8-moved"))
    os.rename(os.path.join(root, "dir/sub"), os.path.join(root, "moved-sub"))
    os.rename(os.path.join(root, "gone-dir/x"), os.path.join(root, "x-rescued"))
    os.rmdir(os.path.join(root, "gone-dir"))
    os.chmod(os.path.join(root, "dir/f9"), 0o751)
    os.chown(os.path.join(root, "dir/f10"), 42, 43)
    os.setxattr(os.path.join(root, "dir/f11"), "user.new", b"value")
    os.removexattr(os.path.join(root, "dir/f3"), "user.colour")
    os.symlink("../new-file", os.path.join(root, "dir/link-new"))
    os.link(os.path.join(root, "new-file"), os.path.join(root, "dir/new-file-link"))
    os.link(os.path.join(root, "dir/f4"), os.path.join(root, "dir/f4-second-name"))
    os.mkfifo(os.path.join(root, "fifo"), 0o640)


def snapshot(root):
    """Everything a user can see, and which names share an inode."""
    out, inodes = {}, {}
    for rel, p, st in walk(root):
        desc = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                st.st_gid]
        if stat.S_ISREG(st.st_mode):
            desc += [st.st_size, st.st_nlink]
            with open(p, "rb") as f:
                desc.append(hashlib.sha256(f.read()).hexdigest())
            inodes.setdefault(st.st_ino, []).append(rel)
        if stat.S_ISLNK(st.st_mode):
            desc.append(os.readlink(p))
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            desc.append(sorted((k, os.getxattr(p, k)) for k in os.listxattr(p)))
        out[rel] = desc
    links = sorted(sorted(v) for v in inodes.values() if len(v) > 1)
    return out, links


def _same(a_root, b_root, what):
    a, b = snapshot(a_root), snapshot(b_root)
    if a == b:
        return
    keys = sorted(set(a[0]) | set(b[0]))
    diff = [(k, a[0].get(k), b[0].get(k)) for k in keys if a[0].get(k) != b[0].get(k)]
    raise AssertionError(f"{what}: copies differ: {diff[:4]} links {a[1]} vs {b[1]}")


@lab_options(lab_class=ReplicdLab, networks=1)
def test_copies_identical_after_failover_failback_and_resync(lab):
    _start(lab)
    rng = random.Random(7)
    _populate(lab.data_dir("node1"), rng)
    _same(lab.disk_dir("node1"), lab.disk_dir("node2"), "before the outage")
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    _change_during_outage(lab.data_dir("node2"), rng)
    lab.restart_node("node1")
    lab.wait_in_sync("node1", BOUND_S, at_generation=False)
    _same(lab.disk_dir("node2"), lab.disk_dir("node1"), "after the resync")
    # Failback: node1 primary again; a change there reaches node2.
    lab.skyctl("node1", "swap")
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, BOUND_S)
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    with open(os.path.join(lab.data_dir("node1"), "after-failback"), "wb") as f:
        f.write(b"back home")
        f.flush()
        os.fsync(f.fileno())
    # fsync returned: node2's disk has it now, not later. (An earlier version of
    # this test called fsync before Python's buffer reached the file, so the
    # write went out at close, after the fsync, and node2 showed the file
    # empty 1 run in 5: a test bug, not a broken fsync promise.)
    _same(lab.disk_dir("node1"), lab.disk_dir("node2"), "after the failback")


MiB = 1 << 20


@lab_options(lab_class=ReplicdLab, networks=1)
def test_resync_after_outage_sends_at_most_1_1x_what_changed(lab):
    _start(lab)
    rng = random.Random(11)
    root = lab.data_dir("node1")
    files = [os.path.join(root, f"data{i}") for i in range(20)]
    for path in files:  # 40 MiB: 20 x the change below
        with open(path, "wb") as f:
            f.write(rng.randbytes(2 * MiB))
            f.flush()
            os.fsync(f.fileno())
    # node1's record of what was in flight empties once node2 made it durable
    # (bytes_sent: a report from after the data set was written).
    def record_emptied(st):
        c = replicd_of(st).get("counters", {})
        return c.get("bytes_sent", 0) >= 40 * MiB and c.get("record_entries") == 0
    lab.wait_for("node1", record_emptied, "node1's change record emptied", BOUND_S)
    lab.kill_node("node2")
    lab.wait_role("node1", "ALONE", BOUND_S)
    changed = 0
    for _ in range(32):  # 2 MiB in 64 KiB pieces, spread over the data set
        path = rng.choice(files)
        with open(path, "r+b") as f:
            f.seek(rng.randrange(0, 32) * 64 * 1024)
            f.write(rng.randbytes(64 * 1024))
            f.flush()
            os.fsync(f.fileno())
        changed += 64 * 1024
    lab.restart_node("node2")
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    resync = replicd_of(lab.status("node1")).get("resync") or {}
    wire, data = resync.get("wire_bytes"), resync.get("data_bytes_sent")
    print(f"    changed {changed} bytes during the outage; the resync sent {data} "
          f"file bytes, {wire} bytes on the wire ({wire / changed:.3f} x)", flush=True)
    assert resync.get("mode") == "record", resync
    assert wire is not None and 0 < wire <= 1.1 * changed, resync
    for path in files:
        rel = os.path.relpath(path, root)
        with open(os.path.join(lab.disk_dir("node1"), rel), "rb") as a, \
                open(os.path.join(lab.disk_dir("node2"), rel), "rb") as b:
            assert a.read() == b.read(), f"{rel} differs after the resync"


@lab_options(lab_class=ReplicdLab, networks=1)
def test_resync_without_a_record_compares_hashes_and_sends_what_differs(lab):
    _start(lab)
    rng = random.Random(13)
    root = lab.data_dir("node1")
    files = [os.path.join(root, f"data{i}") for i in range(20)]
    for path in files:  # 40 MiB
        with open(path, "wb") as f:
            f.write(rng.randbytes(2 * MiB))
            f.flush()
            os.fsync(f.fileno())
    lab.kill_node("node2")
    lab.wait_role("node1", "ALONE", BOUND_S)
    changed = 0
    for path in files[:16]:  # 2 MiB, 128 KiB in each of 16 files
        with open(path, "r+b") as f:
            f.seek(rng.randrange(0, 16) * 128 * 1024)
            f.write(rng.randbytes(128 * 1024))
            f.flush()
            os.fsync(f.fileno())
        changed += 128 * 1024
    os.unlink(files[19])
    # node2 comes back without its change record (a wiped state directory):
    # nothing says what it lacks, so the copies are compared zone by zone.
    shutil.rmtree(lab.node_dir("node2", "state"))
    lab.restart_node("node2")
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    resync = replicd_of(lab.status("node1")).get("resync") or {}
    wire, data = resync.get("wire_bytes"), resync.get("data_bytes_sent")
    print(f"    changed {changed} bytes; the hash resync sent {data} file bytes, {wire} "
          f"bytes on the wire ({wire / changed:.3f} x)", flush=True)
    assert resync.get("mode") == "hash", resync
    assert data == changed and wire <= 1.1 * changed, resync
    _same(lab.disk_dir("node1"), lab.disk_dir("node2"), "after the hash resync")


# A client that speaks replicd's handshake (docs/protocol.md), run inside a namespace.
_EVIL_CODE = r"""
import hashlib, hmac, os, socket, struct, sys, time
host, port, key_hex, cluster, module, node = sys.argv[1:7]
key = bytes.fromhex(key_hex)

def name(s):
    b = s.encode()
    return bytes([len(b)]) + b

def frame(p):
    return struct.pack(">I", len(p)) + p

def conn():
    s = socket.create_connection((host, int(port)), timeout=5)
    return s

def recv_frame(s):
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None
        hdr += c
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            return None
        body += c
    return body

def closed(s):
    s.settimeout(5)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()

VERSION = 3  # REPLICD_HS_VERSION (replicd/chan.h)

def hello():
    return b"SKR1" + bytes([VERSION, 1]) + name(cluster) + name(module) + name(node) + os.urandom(32)

def auth(k, hello_c, hello_s):
    kh = hashlib.blake2b(b"skyha replicd v1 handshake", digest_size=32, key=k).digest()
    return b"SKR1" + bytes([VERSION, 3]) + hmac.new(kh, b"C" + hello_c + hello_s, "sha256").digest()

# 1. garbage instead of a HELLO
s = conn(); s.sendall(frame(os.urandom(40))); closed(s)
# 2. truncated: a length that promises more than ever comes, then EOF
s = conn(); s.sendall(struct.pack(">I", 200) + b"SKR1"); s.shutdown(socket.SHUT_WR); closed(s)
# 3. oversized: a frame of 2 GiB announced
s = conn(); s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"SKR1" * 8); closed(s)
# 4. a peer without the cluster key
s = conn(); hc = hello(); s.sendall(frame(hc)); hs = recv_frame(s)
s.sendall(frame(auth(os.urandom(32), hc, hs or b""))); closed(s)
# 5. replayed: a client HELLO and the AUTH valid for its session, sent again in a
#    new session (the server's nonce differs: the AUTH no longer verifies)
s = conn(); hc = hello(); s.sendall(frame(hc)); hs = recv_frame(s)
a = auth(key, hc, hs or b""); s.close()
s = conn(); s.sendall(frame(hc)); recv_frame(s); s.sendall(frame(a)); closed(s)
# 6. with the key (the peer itself, as far as anyone can tell): a forged stream
#    header and sealed frame, a truncated sealed frame; each ends that connection
#    (the real primary then reconnects)
for forged in (os.urandom(100), os.urandom(10)):
    s = conn(); hc = hello(); s.sendall(frame(hc)); hs = recv_frame(s)
    s.sendall(frame(auth(key, hc, hs or b"")))
    s.sendall(frame(os.urandom(12)) + frame(forged)); closed(s)  # IV, then a frame
    time.sleep(1.5)
print("sent")
"""


@lab_options(lab_class=ReplicdLab, networks=1)
def test_bad_frames_are_rejected_without_harm(lab):
    _start(lab)
    root = lab.data_dir("node1")
    with open(os.path.join(root, "precious"), "wb") as f:
        f.write(b"p" * 100_000)
        f.flush()
        os.fsync(f.fileno())
    before = snapshot(lab.disk_dir("node2"))
    counters = replicd_of(lab.status("node2")).get("counters", {})
    rejected_before = counters.get("rejected_frames", 0) + \
        counters.get("rejected_handshakes", 0)
    res = run(["ip", "netns", "exec", lab.ns("witness"), PYTHON, "-c", _EVIL_CODE,
               address(0, "node2"), str(PORT), lab.key().hex(), CLUSTER,
               "app", "node1"], timeout=60)
    assert "sent" in res.stdout, res
    assert lab.running("node2", "replicd"), "replicd on node2 died"

    def rejected(st):
        c = replicd_of(st).get("counters", {})
        return c.get("rejected_frames", 0) + c.get("rejected_handshakes", 0) >= \
            rejected_before + 7
    lab.wait_for("node2", rejected, "replicd counting the rejected connections", 10)
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)  # the real primary reconnected
    assert snapshot(lab.disk_dir("node2")) == before, "the copy changed"
    # Replication goes on: a new write arrives.
    with open(os.path.join(root, "after"), "wb") as f:
        f.write(b"still replicating")
        f.flush()
        os.fsync(f.fileno())
    with open(os.path.join(lab.disk_dir("node2"), "after"), "rb") as f:
        assert f.read() == b"still replicating"
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)


def _write(root, rel, data):
    with open(os.path.join(root, rel), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@lab_options(lab_class=ReplicdLab, networks=1)
def test_divergence_is_detected_and_the_operator_picks_the_side(lab):
    _start(lab)
    _write(lab.data_dir("node1"), "base", b"both have this")
    # node1 serves alone and acknowledges a change node2 never gets...
    lab.kill_node("node2")
    lab.wait_role("node1", "ALONE", BOUND_S)
    lab.wait_replicd("node1", "primary", timeout=BOUND_S)
    _write(lab.data_dir("node1"), "from-node1", b"acked by node1 alone")
    # ... then dies; node2 comes back outdated and is forced primary: it
    # acknowledges a change of its own.
    lab.kill_node("node1")
    lab.restart_node("node2")
    lab.wait_role("node2", "WAIT", BOUND_S)
    lab.skyctl("node2", "prim", "--force")
    lab.wait_role("node2", "ALONE", BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    _write(lab.data_dir("node2"), "from-node2", b"acked by node2 alone")
    # node1 returns: heartbeatd makes it secondary of the forced node, and
    # replicd refuses to overwrite what node1 acknowledged.
    lab.restart_node("node1")
    lab.wait_for("node1", lambda st: replicd_of(st).get("sync") == "diverged",
                 "node1's replicd reporting the divergence", BOUND_S)
    lab.wait_for("node2", lambda st: replicd_of(st).get("sync") == "diverged",
                 "node2's replicd reporting the divergence", BOUND_S)
    assert os.path.exists(os.path.join(lab.disk_dir("node1"), "from-node1"))
    assert not os.path.exists(os.path.join(lab.disk_dir("node1"), "from-node2"))
    assert replicd_of(lab.status("node1")).get("data") != "uptodate"
    # Both statuses say which node made what without the other, and the hints
    # name the node whose changes `--discard-local` drops.
    for node, other in (("node1", "node2"), ("node2", "node1")):
        act = lab.wait_for(node, lambda st: (replicd_of(st).get("peer_alone_changes") or {})
                           .get("count", 0) >= 1, f"{node} showing {other}'s changes",
                           BOUND_S)["actuators"]["replicd"]
        own, peer = act.get("alone_changes") or {}, act["peer_alone_changes"]
        assert own.get("count", 0) >= 1 and own.get("first") and own.get("last"), act
        assert peer.get("first") and peer.get("last"), act
    reason1 = replicd_of(lab.status("node1")).get("reason", "")
    assert "--discard-local` here drops this node's" in reason1, reason1
    reason2 = replicd_of(lab.status("node2")).get("reason", "")
    assert "--discard-local` on node1 keeps this node's" in reason2, reason2
    # The serving node's changes cannot be the ones dropped.
    res = lab.skyctl("node2", "resync", "--discard-local")
    assert res.rc != 0 and "serves" in res.out + res.err, res
    # The operator drops node1's: it receives node2's copy, in full.
    res = lab.skyctl("node1", "resync", "--discard-local")
    assert res.rc == 0, res
    lab.wait_in_sync("node1", BOUND_S, at_generation=False)
    assert not os.path.exists(os.path.join(lab.disk_dir("node1"), "from-node1"))
    _same(lab.disk_dir("node2"), lab.disk_dir("node1"), "after --discard-local")
