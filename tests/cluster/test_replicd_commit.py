"""Cluster tests: replicd.mode: commit (DRBD's protocol C at the file level, issue 15)
and how operations share round trips (docs/replication.md, docs/protocol.md "pipeline").

- A power cut of the primary loses no fsynced record: a writer appends numbered
  records in groups, fsyncing each group, and logs every record of a group once its
  fsync returned; the primary node is killed at a random moment, 6 times in a row. On
  the node that takes over every logged record is there, and what the writer wrote
  without an fsync yet is either there or not, but the copy is one point of the
  primary's history: the records of the round that are there are exactly the first k
  written, with no record damaged and none after a gap.
- write() in commit mode returns without the peer (its replicd is stopped, SIGSTOP):
  no writer slept for an acknowledgement. An fsync does wait: four writers that each
  write then fsync are all waiting at once (replicd's `pipeline.ack_waiters_max` is 4:
  their round trips overlap instead of queueing), none returns while the peer is
  stopped, and once it runs again they all return, the secondary acknowledging the
  burst with far fewer acks than operations (`acks_sent` against `frames_acked`).
- A swap in commit mode while the peer has not acknowledged what returned (its replicd
  stopped): the old primary waits for the acknowledgements before it steps down, and
  the new primary serves every byte.
- The same four writers in sync mode: all four in flight at once too (each waits for
  its write's acknowledgement, then for its fsync's).
"""

import os
import random
import signal
import threading
import time

from lab import lab_options
from replicd_lab import ReplicdLab, replicd_of

BOUND_S = 20
RECORD = 64
GROUP = 8  # records per fsync
ROUNDS = 6


def _other(node):
    return "node2" if node == "node1" else "node1"


def record(n):
    return (b"record %010d " % n).ljust(RECORD - 1, b"x") + b"\n"


class GroupWriter(threading.Thread):
    """Records n*64 of one file, GROUP at a time then fsync; a group's numbers are
    logged (outside the cluster) once the fsync returned."""

    def __init__(self, path, ack_log, first):
        super().__init__(daemon=True)
        self.path, self.ack_log, self.first = path, ack_log, first
        self.next = first  # the next record to write
        self.stop = False

    def run(self):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            with open(self.ack_log, "ab", buffering=0) as log:
                while not self.stop:
                    start = self.next
                    for n in range(start, start + GROUP):
                        os.pwrite(fd, record(n), n * RECORD)
                        self.next = n + 1
                    os.fsync(fd)
                    log.write(b"".join(b"%d\n" % n for n in range(start, start + GROUP)))
        except OSError:
            pass  # the node died under us
        finally:
            try:
                os.close(fd)
            except OSError:
                pass


def _acked(ack_log):
    with open(ack_log, "rb") as f:
        return [int(x) for x in f.read().split()]


@lab_options(lab_class=ReplicdLab, networks=1, mode="commit")
def test_commit_mode_power_cut_keeps_every_fsynced_record_and_a_consistent_copy(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    with open(lab.replicd_log("node1"), errors="replace") as f:
        assert "(replication commit)" in f.read(), "replicd is not in commit mode"
    ack_log = os.path.join(lab.dir, "acks.log")
    rng = random.Random(15)
    primary, first = "node1", 0
    unsynced_kept = unsynced_lost = 0
    for round_no in range(ROUNDS):
        secondary = _other(primary)
        writer = GroupWriter(os.path.join(lab.data_dir(primary), "records"), ack_log, first)
        writer.start()
        time.sleep(rng.uniform(0.1, 0.5))
        lab.kill_node(primary)
        writer.stop = True
        writer.join(10)
        assert not writer.is_alive(), "the writer hangs on the dead node's mount"
        lab.wait_role(secondary, "ALONE", BOUND_S)
        lab.wait_replicd(secondary, "primary", timeout=BOUND_S)
        acked = set(_acked(ack_log))
        with open(os.path.join(lab.data_dir(secondary), "records"), "rb") as f:
            data = f.read()
        lost = sorted(n for n in acked if data[n * RECORD:(n + 1) * RECORD] != record(n))
        assert not lost, (f"round {round_no}: {len(lost)} fsynced records missing on "
                          f"{secondary} (first {lost[:5]})")
        # This round's records on the survivor: a prefix of what was written, each
        # whole; after it, nothing of this round (zeros or the end of the file).
        present = 0
        while (first + present < writer.next and
               data[(first + present) * RECORD:(first + present + 1) * RECORD]
               == record(first + present)):
            present += 1
        rest = data[(first + present) * RECORD:writer.next * RECORD]
        assert rest.strip(b"\0") == b"", (
            f"round {round_no}: after record {first + present - 1} the copy on "
            f"{secondary} holds {rest[:RECORD]!r}...: not one point of the primary's "
            f"history")
        in_round = set(range(first, writer.next))
        unsynced = in_round - acked
        kept = sum(1 for n in unsynced if n < first + present)
        unsynced_kept += kept
        unsynced_lost += len(unsynced) - kept
        first = writer.next
        lab.restart_node(primary)
        lab.wait_in_sync(primary, BOUND_S, at_generation=False)
        primary = secondary
    acked = _acked(ack_log)
    print(f"    {ROUNDS} primary nodes killed; {len(acked)} fsynced records, every one "
          f"found on the node that took over; records not fsynced yet: {unsynced_kept} "
          f"kept, {unsynced_lost} lost", flush=True)
    assert len(acked) > ROUNDS * GROUP, "the writer hardly wrote anything"


def _pipeline(lab, node):
    return replicd_of(lab.status(node)).get("pipeline") or {}


class CommitWriter(threading.Thread):
    """One 4 KiB write, then fsync, on its own (existing) file."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.done = False
        self.error = None

    def run(self):
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.write(fd, b"c" * 4096)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.done = True
        except OSError as exc:
            self.error = exc


def _concurrent_commits(lab, mode):
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    root = lab.data_dir("node1")
    # Created first: the kernel serialises creations in one directory (its lock is
    # held while the sync-mode create waits for the peer), not writes to files.
    for i in range(4):
        with open(os.path.join(root, f"w{i}"), "wb"):
            pass
    before1, before2 = _pipeline(lab, "node1"), _pipeline(lab, "node2")
    assert "ack_waiters_max" in before1 and "acks_sent" in before2, (
        f"no pipeline figures in the status: {before1} {before2}")
    lab.signal_daemon("node2", "replicd", signal.SIGSTOP)
    try:
        if mode == "commit":
            # Plain writes return without the (stopped) peer: nobody sleeps.
            fd = os.open(os.path.join(root, "plain"), os.O_WRONLY | os.O_CREAT, 0o644)
            for i in range(64):
                os.pwrite(fd, b"w" * 4096, i * 4096)
            os.close(fd)
            lab.wait_for("node1", lambda st: replicd_of(st).get("pipeline", {})
                         .get("ops_sent", 0) >= before1["ops_sent"] + 64,
                         "64 writes sent", BOUND_S)
            assert _pipeline(lab, "node1")["ack_waits"] == before1["ack_waits"], (
                "a write() waited for the peer in commit mode")
        writers = [CommitWriter(os.path.join(root, f"w{i}")) for i in range(4)]
        for w in writers:
            w.start()
        lab.wait_for("node1", lambda st: replicd_of(st).get("pipeline", {})
                     .get("ack_waiters_max", 0) >= 4,
                     "four writers waiting for acknowledgements at once", BOUND_S)
        assert not any(w.done for w in writers), (
            "an fsync returned while the peer's replicd was stopped")
    finally:
        lab.signal_daemon("node2", "replicd", signal.SIGCONT)
    for w in writers:
        w.join(BOUND_S)
        assert w.done, f"a writer did not finish: {w.error}"
    # The status is published every second: wait for the figures of the burst.
    burst = 72 if mode == "commit" else 8
    after2 = lab.wait_for("node2", lambda st: replicd_of(st).get("pipeline", {})
                          .get("frames_acked", 0) >= before2["frames_acked"] + burst,
                          "the burst acknowledged", BOUND_S)
    after2 = replicd_of(after2)["pipeline"]
    after1 = _pipeline(lab, "node1")
    frames = after2["frames_acked"] - before2["frames_acked"]
    acks = after2["acks_sent"] - before2["acks_sent"]
    print(f"    {mode}: 4 writers in flight at once (ack_waiters_max "
          f"{after1['ack_waiters_max']}, in_flight_max {after1['in_flight_max']}); "
          f"the secondary acked {frames} operations with {acks} acks", flush=True)
    assert after1["in_flight_max"] >= 4
    if mode == "commit":
        # 64 + 4 writes and 4 fsyncs waited in the stopped peer's socket.
        assert frames >= 72 and 4 * acks <= frames, (
            f"{acks} acks for {frames} operations: not batched")


@lab_options(lab_class=ReplicdLab, networks=1, mode="commit", replicd_timeout_ms=30000)
def test_commit_mode_writes_return_at_once_and_concurrent_fsyncs_share_round_trips(lab):
    _concurrent_commits(lab, "commit")


@lab_options(lab_class=ReplicdLab, networks=1, mode="sync", replicd_timeout_ms=30000)
def test_sync_mode_concurrent_writers_are_in_flight_together(lab):
    _concurrent_commits(lab, "sync")


@lab_options(lab_class=ReplicdLab, networks=1, mode="commit", replicd_timeout_ms=30000)
def test_commit_mode_swap_hands_over_writes_not_yet_acknowledged(lab):
    """write() returned, the peer has not acknowledged it (its replicd is stopped), and
    the primary is asked to step down (a swap): it refuses new writes and waits for the
    peer's acknowledgements before the session ends, so the new primary serves them
    (without that wait, the next resync would overwrite them with its older copy)."""
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    data = os.urandom(4 << 20)
    lab.signal_daemon("node2", "replicd", signal.SIGSTOP)
    swap = {}
    try:
        fd = os.open(os.path.join(lab.data_dir("node1"), "handover"),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for off in range(0, len(data), 1 << 20):
            assert os.write(fd, data[off:off + (1 << 20)]) == 1 << 20
        os.close(fd)
        t = threading.Thread(target=lambda: swap.update(res=lab.skyctl("node2", "swap")),
                             daemon=True)
        t.start()
        # node1's replicd leaves the primary role, with the writes still unacked.
        deadline = time.monotonic() + BOUND_S
        while not any("role: primary -> " in line
                      for line in lab.replicd_log_tail("node1", 50)):
            assert time.monotonic() < deadline, "node1's replicd never stepped down"
            time.sleep(0.05)
    finally:
        lab.signal_daemon("node2", "replicd", signal.SIGCONT)
    t.join(BOUND_S)
    assert swap.get("res") and swap["res"].rc == 0, f"swap: {swap}"
    lab.wait_roles({"node2": "PRIM", "node1": "SECOND"}, BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    with open(os.path.join(lab.data_dir("node2"), "handover"), "rb") as f:
        got = f.read()
    assert got == data, (f"node2 serves {len(got)} bytes, not the {len(data)} written "
                         f"before the swap")
