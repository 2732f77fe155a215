"""Cluster tests: failover when the primary dies, and no failover when it does not.

Killing heartbeatd on the primary (kill -9) or the whole primary node (every process
killed, links down: a power cut) makes the secondary serve ALONE, holding the witness
lease; the bound is generous (10 s) because these tests check behaviour, not timings.
A killed primary that comes back becomes SECOND. Losing one of two heartbeat networks
is not a failure of the peer: roles stay, and status shows which network is down.
"""

from lab import describe

TAKEOVER_BOUND_S = 10


def _assert_serving_alone(st):
    """ALONE as a user reads it: serving, peer gone, quorum through the witness lease."""
    why = f"expected serving alone on the witness lease: {describe(st)}"
    assert st["node"]["serving"] is True, why
    assert st["peer"]["visible"] is False, why
    assert st["witness"]["lease"] == "held", why
    assert st["quorum"]["have"] is True and st["quorum"]["via"] == "witness", why


def test_secondary_takes_over_when_primary_heartbeatd_killed(lab):
    lab.start_cluster()
    lab.kill_daemon("node1", "heartbeatd")
    st = lab.wait_role("node2", "ALONE", TAKEOVER_BOUND_S)
    _assert_serving_alone(st)
    assert lab.serving_nodes() == ["node2"]


def test_secondary_takes_over_when_primary_node_killed(lab):
    lab.start_cluster()
    lab.kill_node("node1")
    st = lab.wait_role("node2", "ALONE", TAKEOVER_BOUND_S)
    _assert_serving_alone(st)
    lab.assert_roles_stay({"node2": "ALONE"}, 3 * lab.timeout_ms / 1000)


def test_killed_primary_returns_as_second(lab):
    lab.start_cluster()
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", TAKEOVER_BOUND_S)
    lab.restart_node("node1")
    st = lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, TAKEOVER_BOUND_S)
    assert st["node1"]["peer"]["visible"] is True, describe(st["node1"])
    lab.assert_roles_stay({"node1": "SECOND", "node2": "PRIM"}, 3 * lab.timeout_ms / 1000)


def _network(st, i):
    for net in st["peer"]["networks"]:
        if net["index"] == i:
            return net
    raise AssertionError(f"status lists no network {i}: {st['peer']['networks']}")


def test_one_heartbeat_network_cut_causes_no_failover(lab):
    lab.start_cluster()
    roles = {"node1": "PRIM", "node2": "SECOND"}
    for i in range(lab.networks):
        lab.cut_network("node1", i)
        for node in lab.nodes:
            lab.wait_for(node, lambda st, i=i: _network(st, i)["up"] is False,
                         f"network {i} shown down", 10)
        lab.assert_roles_stay(roles, 3 * lab.timeout_ms / 1000)
        for node in lab.nodes:
            st = lab.status(node)
            assert st["peer"]["visible"] is True, describe(st)
            others = [n for n in st["peer"]["networks"] if n["index"] != i]
            assert all(n["up"] for n in others), f"{node}: {st['peer']['networks']}"
        lab.heal_network("node1", i)
        for node in lab.nodes:
            lab.wait_for(node, lambda st, i=i: _network(st, i)["up"] is True,
                         f"network {i} shown up again", 10)
    lab.assert_roles_stay(roles, lab.timeout_ms / 1000)
