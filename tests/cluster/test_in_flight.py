"""Cluster tests: a write in flight when the replication session ends is not
acknowledged on the strength of that same session (found by the fault campaign,
tests/soak, seed 1, fault 19: "partition, witness seen by one").

The primary was in sync; a writer appends records through its replicated mount, each
fsynced. The nodes are partitioned and the primary also loses the witness: the write
in flight then never reaches the secondary. The primary loses quorum and steps down,
which ends the replication session; the secondary gets the witness lease and serves.
replicd must not acknowledge the write in flight: "the session was in sync" says
nothing about an operation that session never delivered. Every record the writer was
told is durable must be on the node that serves next.

The same wait decides a write whose acknowledgement times out (replication link cut):
it must wait for a new data generation (or a later in-sync session), not be
acknowledged when the timed-out session is dropped.

Each test runs with node1 (the default primary) and with node2 as the primary.
"""

import os
import re
import subprocess
import threading
import time

from lab import lab_options
from replicd_lab import ReplicdLab

BOUND_S = 20
PORT = 7410  # replicd.port


class Writer(threading.Thread):
    """Appends numbered records, each fsynced; keeps the numbers acknowledged and when."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.acked = []
        self.acked_at = []
        self.error = None

    def run(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            n = 0
            while True:
                os.write(fd, b"record %010d\n" % n)
                os.fsync(fd)
                self.acked.append(n)
                self.acked_at.append(time.monotonic())
                n += 1
        except OSError as exc:
            self.error = exc  # EROFS/EIO once the primary stepped down
        finally:
            os.close(fd)


def _nft(lab, node, script):
    subprocess.run(["ip", "netns", "exec", lab.ns(node), "nft", "-f", "-"],
                   input=script.encode(), check=True, timeout=10)


def _other(node):
    return "node2" if node == "node1" else "node1"


def _start_writing(lab, primary):
    """The cluster with primary as PRIM (node2 by a swap) and the other in sync, and
    a writer on primary that got 50 acknowledgements."""
    secondary = _other(primary)
    lab.start_cluster(BOUND_S)
    lab.wait_in_sync("node2", timeout=BOUND_S)
    if primary == "node2":
        res = lab.skyctl("node2", "swap")  # asked where its own sync is known
        assert res.rc == 0, f"swap to node2: {res.out} {res.err}"
        lab.wait_roles({"node2": "PRIM", "node1": "SECOND"}, BOUND_S)
    lab.wait_replicd(primary, "primary", connected=True, timeout=BOUND_S)
    lab.wait_in_sync(secondary, timeout=BOUND_S)
    writer = Writer(os.path.join(lab.data_dir(primary), "ledger"))
    writer.start()
    deadline = time.monotonic() + BOUND_S
    while len(writer.acked) < 50:
        assert writer.is_alive(), f"the writer stopped early: {writer.error}"
        assert time.monotonic() < deadline, "the writer gets no acknowledgement"
        time.sleep(0.05)
    return writer


def _records(path):
    with open(path, "rb") as f:
        return {int(n) for n in re.findall(rb"record (\d{10})\n", f.read())}


def _in_flight_at_partition(lab, primary):
    secondary = _other(primary)
    writer = _start_writing(lab, primary)
    lab.partition(primary, secondary)
    lab.blackhole(primary, "witness")
    lab.wait_roles({primary: "WAIT", secondary: "ALONE"}, BOUND_S)
    writer.join(BOUND_S)
    assert not writer.is_alive(), "a write on the demoted primary never returned"

    served = _records(os.path.join(lab.data_dir(secondary), "ledger"))
    lost = [n for n in writer.acked if n not in served]
    assert not lost, (f"{len(lost)} of {len(writer.acked)} acknowledged records are not "
                      f"on the new primary {secondary}: {lost[:5]} (the writer then got "
                      f"{writer.error!r})")


@lab_options(lab_class=ReplicdLab)
def test_write_in_flight_when_the_primary_loses_peer_and_witness_is_not_acknowledged(lab):
    _in_flight_at_partition(lab, "node1")


@lab_options(lab_class=ReplicdLab)
def test_write_in_flight_when_primary_node2_loses_peer_and_witness_is_not_acknowledged(lab):
    _in_flight_at_partition(lab, "node2")


def _ack_timeout_at_link_cut(lab, primary):
    """Replication link cut and the witness out of the primary's reach: no new data
    generation can be had, so no write may be acknowledged until the link is back.
    The write in flight at the cut used to be acknowledged once its session timed out
    (replicd.timeout_ms), though the secondary never got it and was still electable."""
    secondary = _other(primary)
    writer = _start_writing(lab, primary)
    # Whether a write is in flight at the cut is a matter of timing: three rounds.
    for round_no in range(3):
        lab.blackhole(primary, "witness")
        _nft(lab, primary, f"""
table inet skyha_test_cut {{
    chain out {{ type filter hook output priority 0; tcp dport {PORT} drop; tcp sport {PORT} drop; }}
    chain inp {{ type filter hook input priority 0; tcp dport {PORT} drop; tcp sport {PORT} drop; }}
}}
""")
        cut_at = time.monotonic()
        # An acknowledgement already on its way at the cut may still arrive; then none.
        time.sleep(3 * lab.replicd_timeout_ms / 1000)
        late = [(n, round(t - cut_at, 3)) for n, t in zip(writer.acked, writer.acked_at)
                if t > cut_at + 0.2]
        st = lab.status(primary)
        assert not late, (f"round {round_no}: records acknowledged with the replication "
                          f"link cut and no new data generation ({primary} generation "
                          f"{st['node']['generation']}, {secondary} "
                          f"{st['peer']['generation']}): "
                          f"(record, s after the cut) {late[:5]}")

        _nft(lab, primary, "delete table inet skyha_test_cut\n")
        lab.heal_partition()
        lab.wait_in_sync(secondary, timeout=BOUND_S)
        count = len(writer.acked)
        deadline = time.monotonic() + BOUND_S
        while len(writer.acked) < count + 20:
            assert writer.is_alive(), f"the writer stopped: {writer.error!r}"
            assert time.monotonic() < deadline, "no acknowledgement after the heal"
            time.sleep(0.05)


@lab_options(lab_class=ReplicdLab)
def test_write_whose_acknowledgement_times_out_waits_for_a_new_generation(lab):
    _ack_timeout_at_link_cut(lab, "node1")


@lab_options(lab_class=ReplicdLab)
def test_write_whose_acknowledgement_times_out_on_primary_node2_waits_too(lab):
    _ack_timeout_at_link_cut(lab, "node2")
