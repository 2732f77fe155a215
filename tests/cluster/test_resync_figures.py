"""Cluster tests: the resync figures replicd publishes say what the resync sends.

`resync.bytes_total` (docs/protocol.md, in `skyctl status` and on the bus) is the size
of what the resync sends. The testers saw it twice the size being resynced: a file
created and written while the secondary was down is in the change record both as an
entry (sent whole) and as written zones, and both were counted. Here a known number of
bytes changes while node2 is down (whole 64 KiB zones of an existing file, and a new
file of an odd size); once node2 is back in sync, the primary's bytes_total and
bytes_done are that number, within the zone rounding (a zone of each file), and so is
the secondary's own bytes_total.
"""

import os

from lab import lab_options
from replicd_lab import ReplicdLab, replicd_of

BOUND_S = 20
ZONE = 64 * 1024
MiB = 1 << 20


def _write(path, data, offset=0, mode="r+b"):
    with open(path, mode) as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@lab_options(lab_class=ReplicdLab, networks=1)
def test_resync_bytes_total_is_the_size_changed_during_the_outage(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    root = lab.data_dir("node1")
    old = os.path.join(root, "old")
    _write(old, os.urandom(2 * MiB), mode="wb")

    def record_emptied(st):  # node2 made the 2 MiB durable: nothing left in flight
        c = replicd_of(st).get("counters", {})
        return c.get("bytes_sent", 0) >= 2 * MiB and c.get("record_entries") == 0
    lab.wait_for("node1", record_emptied, "node1's change record emptied", BOUND_S)

    lab.kill_node("node2")
    lab.wait_role("node1", "ALONE", BOUND_S)
    changed = 0
    for zone in (1, 2, 7, 30):  # four whole zones of the old file
        _write(old, os.urandom(ZONE), zone * ZONE)
        changed += ZONE
    new_size = MiB + 1000  # a new file, not a whole number of zones
    _write(os.path.join(root, "new"), os.urandom(new_size), mode="wb")
    changed += new_size

    lab.restart_node("node2")
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    resync = replicd_of(lab.status("node1")).get("resync") or {}
    theirs = replicd_of(lab.status("node2")).get("resync") or {}
    print(f"    {changed} bytes changed during the outage; node1's resync: bytes_total "
          f"{resync.get('bytes_total')}, bytes_done {resync.get('bytes_done')}; "
          f"node2's: bytes_total {theirs.get('bytes_total')}", flush=True)
    assert resync.get("mode") == "record", resync
    slack = 2 * ZONE  # the zone rounding: at most a zone of each file
    for what, value in (("node1's bytes_total", resync.get("bytes_total")),
                        ("node1's bytes_done", resync.get("bytes_done")),
                        ("node2's bytes_total", theirs.get("bytes_total"))):
        assert value is not None and changed <= value <= changed + slack, \
            f"{what} is {value}, {changed} bytes changed: {resync} / {theirs}"
    assert resync.get("bytes_left") == 0, resync
