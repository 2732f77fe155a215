"""Cluster tests: network partitions never make two nodes serve.

A background watch polls both nodes every 50 ms for the whole test and fails if it can
prove two nodes served at the same moment (lab.ServingWatch explains the proof).

- The nodes lose each other on every network but both still reach the witness: the old
  primary, which holds the witness lease, keeps serving (ALONE); the other waits (WAIT),
  told by the witness that the lease is held. Healed, they are PRIM and SECOND again.
- The primary loses every link (peer and witness): it must stop serving (WAIT) first,
  and only then may the secondary get the lease and serve ALONE. Healed, the old
  primary comes back as SECOND.
"""

import time

from lab import SERVING_ROLES, describe

BOUND_S = 10


def test_partition_keeps_old_primary_serving_and_peer_waiting(lab):
    lab.start_cluster()
    with lab.watch_serving():
        lab.partition("node1", "node2")
        lab.wait_roles({"node1": "ALONE", "node2": "WAIT"}, BOUND_S)
        lab.assert_roles_stay({"node1": "ALONE", "node2": "WAIT"},
                              3 * lab.lease_ms / 1000)
        st = lab.status("node2")
        assert st["peer"]["visible"] is False, f"node2 still sees node1: {describe(st)}"
        assert st["node"]["serving"] is False, f"node2 serves: {describe(st)}"
        assert st["witness"]["lease"] != "held", f"node2 holds the lease: {describe(st)}"
        st = lab.status("node1")
        assert st["witness"]["lease"] == "held", f"node1 lacks the lease: {describe(st)}"
        lab.heal_partition()
        lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, BOUND_S)


def test_isolated_primary_stops_serving_before_peer_takes_over(lab):
    lab.start_cluster()
    with lab.watch_serving() as watch:
        cut_at = time.monotonic()
        lab.cut_all_links("node1")
        lab.wait_roles({"node1": "WAIT", "node2": "ALONE"}, BOUND_S)
        st = lab.status("node1")
        assert st["node"]["serving"] is False and st["quorum"]["have"] is False, \
            f"isolated node1 should have no quorum and not serve: {describe(st)}"
        lab.assert_roles_stay({"node1": "WAIT", "node2": "ALONE"}, 3 * lab.lease_ms / 1000)

        lab.heal_all_links("node1")
        lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
        lab.assert_roles_stay({"node1": "SECOND", "node2": "PRIM"},
                              3 * lab.timeout_ms / 1000)

    serving = lambda role: role in SERVING_ROLES  # noqa: E731
    took_over = watch.first("node2", serving, after=cut_at)
    assert took_over is not None, "the watch never saw node2 serve"
    last_served = max((t for t, n, role, _ in watch.samples
                       if n == "node1" and t >= cut_at and serving(role)),
                      default=cut_at)
    assert last_served < took_over, (
        f"node1 was still seen serving {last_served - took_over:.3f} s after node2 "
        "started to serve")
