"""Cluster tests: a node with outdated data never serves on its own (the DRBD rules).

Scenario for both tests: node1 (PRIM) loses power, node2 takes over ALONE and so holds
newer data; then node2 loses power too, and node1 is powered on alone. The witness
knows node2's newer generation and answers "outdated": node1 must wait (WAIT), not
serve stale data. An operator may decide otherwise with `skyctl prim --force`: node1
then serves ALONE (its data becomes the newest), and node2, back, is its SECOND.
"""

from lab import SERVING_ROLES, describe

BOUND_S = 10


def _old_primary_restarted_while_survivor_down(lab):
    lab.start_cluster()
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", BOUND_S)
    lab.kill_node("node2")
    lab.restart_node("node1")
    return lab.wait_for("node1", lambda st: st["witness"]["last_answer"] == "outdated",
                        "witness answer 'outdated'", BOUND_S)


def test_old_primary_restarted_alone_with_outdated_data_waits(lab):
    with lab.watch_serving() as watch:
        st = _old_primary_restarted_while_survivor_down(lab)
        restarted_at = lab.started_at["node1"]
        assert st["node"]["role"] == "WAIT", f"node1 should WAIT: {describe(st)}"
        lab.assert_roles_stay({"node1": "WAIT"}, 3 * lab.lease_ms / 1000)
        st = lab.status("node1")
        assert st["node"]["serving"] is False, f"node1 serves: {describe(st)}"
        assert st["node"]["data"] == "outdated", \
            f"the witness said outdated, status should say data outdated: {describe(st)}"
    served = watch.first("node1", lambda role: role in SERVING_ROLES, after=restarted_at)
    assert served is None, "the restarted node1 served with outdated data"


def test_prim_force_makes_outdated_node_serve(lab):
    _old_primary_restarted_while_survivor_down(lab)
    # A plain `prim` keeps the data rule: still no serving with outdated data.
    lab.skyctl("node1", "prim")
    lab.assert_roles_stay({"node1": "WAIT"}, 3 * lab.timeout_ms / 1000)

    rc, out = res = lab.skyctl("node1", "prim", "--force")
    assert rc == 0, f"skyctl prim --force exited {rc}: {out}{res.err}"
    st = lab.wait_role("node1", "ALONE", BOUND_S)
    assert st["node"]["serving"] is True and st["node"]["data"] == "uptodate", \
        f"forced node1 should serve with data uptodate: {describe(st)}"

    # node2 returns with the older data: it follows the forced node.
    lab.restart_node("node2")
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, BOUND_S)
    lab.assert_roles_stay({"node1": "PRIM", "node2": "SECOND"}, 3 * lab.timeout_ms / 1000)
