"""Cluster tests: the failback across the WAN of the sky pair (issue 15).

node1 ("aws") serves a 32 MiB file; a power cut moves the module to node2 ("azure")
across the 30 ms WAN; node2 rewrites 1 MiB of the file and creates a small file. node1
comes back: node2 resyncs it with the changed zones only (replicd's own resync figures:
the bytes sent are a small fraction of the file), under `replicd.resync_max_bytes_per_s`
(the resync takes at least the time the cap implies for the bytes it sent: a lower
bound, safe on a shared machine), then `skyctl swap` hands the module back to node1
(the failback) and both backing copies hash the same, with node2's changes in them.
"""

import hashlib
import os
import time

from lab import lab_options
from replicd_lab import replicd_of
from sky_lab import WAN_TIMEOUT_MS, SkyLab

MiB = 1 << 20
KiB = 1 << 10
BIG = "big.bin"
SMALL = "azure-note.txt"
CAP = 256 * KiB  # resync_max_bytes_per_s: 1 MiB changed takes about 4 s
REWRITE_AT = 8 * MiB  # a whole number of 64 KiB zones: 16 zones change
ZONE = 64 * KiB


class CappedSkyLab(SkyLab):
    """The sky pair with the resync capped on both nodes."""

    def replicd_config_text(self, node):
        return super().replicd_config_text(node) + f"  resync_max_bytes_per_s: {CAP}\n"


def _write(path, data, offset=0, mode="r+b"):
    with open(path, mode) as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _digests(root):
    """{relative path: sha256} of every regular file under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _wait_record_empty(lab, node, timeout):
    """Wait until node's record of operations in flight is emptied (writes paused and
    acknowledged, docs/replication.md): the resync then holds the outage's zones only."""
    record = os.path.join(lab.node_dir(node, "state"), "app", "replicd", "track.rec")
    deadline = time.monotonic() + timeout
    while os.path.exists(record) and os.path.getsize(record) > 16:
        assert time.monotonic() < deadline, f"{record} not emptied within {timeout} s"
        time.sleep(0.2)


def _swap_ready(st):
    peer = st["peer"]
    return peer["role"] == "SECOND" and peer.get("data") == "uptodate" and \
        peer.get("epoch") == st["node"].get("epoch")


@lab_options(lab_class=CappedSkyLab, rtt_ms=30)
def test_failback_to_aws_resyncs_only_the_changed_zones_under_the_cap(lab):
    lab.start_cluster(60)
    lab.wait_in_sync("node2", timeout=30)
    lab.wait_for("node1", lambda st: st["node"]["serving"], "serving", 30)
    big = os.urandom(32 * MiB)
    _write(os.path.join(lab.data_dir("node1"), BIG), big, mode="wb")
    lab.wait_in_sync("node2", timeout=60)
    _wait_record_empty(lab, "node1", 30)

    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", WAN_TIMEOUT_MS / 1000 + 30)
    lab.wait_for("node2", lambda st: st["node"]["serving"], "serving", 60)
    # The outage's changes, made on the Azure side: 1 MiB rewritten, one new file.
    rewrite = os.urandom(MiB)
    small = b"written on node2 while node1 was down\n" * 100
    root2 = lab.data_dir("node2")
    _write(os.path.join(root2, BIG), rewrite, offset=REWRITE_AT)
    _write(os.path.join(root2, SMALL), small, mode="wb")
    changed = len(rewrite) + len(small)
    expected = _digests(lab.disk_dir("node2"))
    want_big = big[:REWRITE_AT] + rewrite + big[REWRITE_AT + MiB:]
    assert expected[BIG] == hashlib.sha256(want_big).hexdigest(), "node2 lost its write"

    # Power back on: node1 follows as SECOND and node2 resyncs it over the WAN.
    started = time.monotonic()
    lab.restart_node("node1")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 60)
    lab.wait_in_sync("node1", timeout=60)
    seconds = time.monotonic() - started
    rs = replicd_of(lab.status("node2")).get("resync") or {}
    op_bytes, wire = rs.get("op_bytes", 0), rs.get("wire_bytes", 0)
    print(f"    failback resync: {changed} bytes changed, {op_bytes} resync bytes, {wire} "
          f"on the wire (file {len(big)}), {seconds:.1f} s from power on, waited "
          f"{rs.get('throttled_ms')} ms for the cap of {CAP} B/s", flush=True)
    assert rs.get("max_bytes_per_s") == CAP, rs
    # The changed zones only: the whole change, and far from the 32 MiB file.
    assert op_bytes >= changed, rs
    assert wire < len(big) // 8, f"the resync sent {wire} bytes for {changed} changed: {rs}"
    # Under the cap: a bucket of a tenth of a second's worth (at least 64 KiB) sent at
    # once, then at most one step (whole zones of about a 50 ms tick's worth; two
    # zones here, with room) over the cap.
    floor = (op_bytes - max(CAP // 10, ZONE) - 2 * ZONE) / CAP
    assert floor > 2, floor  # the bound means something
    assert seconds >= floor, f"{op_bytes} resync bytes at {CAP} B/s took {seconds:.1f} s"
    assert rs.get("throttled_ms", 0) > 0, rs
    assert _digests(lab.disk_dir("node1")) == expected, "node1 differs after its resync"

    # The failback: the module goes back to AWS, the data as node2 left it (once node2
    # sees node1 SECOND uptodate at its epoch: docs/operations.md, "Swap and upgrade").
    lab.wait_for("node2", _swap_ready, "node1 SECOND uptodate as seen by node2", 30)
    res = lab.skyctl("node2", "--timeout", "60", "swap", timeout=70)
    assert res.rc == 0, f"skyctl swap: rc {res.rc}: {res.out} {res.err}"
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, 60)
    lab.wait_for("node1", lambda st: st["node"]["serving"], "serving", 60)
    lab.wait_app("node1", 30)
    assert lab.fetch("node1", SMALL, timeout=5.0) == small, "node1 serves other bytes"
    lab.wait_in_sync("node2", timeout=60)
    one, two = _digests(lab.disk_dir("node1")), _digests(lab.disk_dir("node2"))
    assert one == two == expected, \
        f"copies differ after the failback: {sorted(k for k in one if one[k] != two.get(k))}"
    # node1's vipd pointed the AWS route back at node1.
    routes = [e for e in lab.aws_requests("node1", action="ReplaceRoute")
              if e.get("status") == 200 and e.get("signature_ok")]
    assert routes and routes[-1]["params"]["NetworkInterfaceId"] == "eni-0node1", routes
