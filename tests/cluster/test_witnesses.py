"""Cluster tests: several witnesses (witness.hosts), a majority of them needed (issue 17).

One witness host is a single point of failure for failover: with three, any one may be
down and a dead primary is still replaced, while two nodes cut off from each other can
never both gather a majority (any two majorities share a witness, and a witness grants
its lease to one node at a time). The safety argument is also checked by a randomized
simulation against the real witness policy: tests/unit/witnesses_test.c.
"""

import time

from lab import SERVING_ROLES, describe, lab_options


@lab_options(witnesses=3)
def test_three_witnesses_one_down_a_dead_primary_is_still_replaced(lab):
    sts = lab.start_cluster()
    st = sts["node1"]["witness"]
    assert st["needed"] == 2 and len(st["hosts"]) == 3, st
    lab.wait_for("node1", lambda s: all(h["lease"] == "held" for h in s["witness"]["hosts"]),
                 "node1 holding all three witnesses' leases", 10)
    lab.kill_daemon("witness2")
    lab.kill_node("node1")
    st = lab.wait_role("node2", "ALONE", 15)
    assert st["witness"]["lease"] == "held", describe(st)
    held = [h["addresses"][0] for h in st["witness"]["hosts"] if h["lease"] == "held"]
    assert len(held) == 2, st["witness"]


@lab_options(witnesses=3)
def test_three_witnesses_two_down_nobody_new_serves_and_the_peer_keeps_serving(lab):
    lab.start_cluster()
    lab.kill_daemon("witness")
    lab.kill_daemon("witness3")
    # The primary still sees its peer: quorum through the peer, it keeps serving.
    time.sleep(3 * lab.lease_ms / 1000)
    roles = lab.roles()
    assert roles == {"node1": "PRIM", "node2": "SECOND"}, roles
    # The primary dies: one witness of three is no majority, node2 must not serve.
    lab.kill_node("node1")
    deadline = time.monotonic() + 4 * (lab.timeout_ms + lab.lease_ms) / 1000
    while time.monotonic() < deadline:
        st = lab.status("node2")
        assert st["node"]["role"] not in SERVING_ROLES, describe(st)
        time.sleep(0.05)
    st = lab.status("node2")
    assert st["witness"]["lease"] != "held", st["witness"]
    # A second witness back: a majority again, node2 takes over.
    lab.start_witness("witness3")
    lab.wait_role("node2", "ALONE", 15)


@lab_options(witnesses=3)
def test_three_witnesses_split_between_partitioned_nodes_one_serves(lab):
    """node1 and node2 lose each other; node1 reaches witnesses 1 and 2, node2 reaches
    witnesses 2 and 3. Both can reach a majority's worth of hosts, but witness 2 grants
    one of them only: exactly one serves."""
    lab.start_cluster()
    lab.blackhole("node1", "witness3")
    lab.blackhole("node2", "witness")
    lab.partition("node1", "node2")
    deadline = time.monotonic() + 4 * (lab.timeout_ms + lab.lease_ms) / 1000
    served = set()
    while time.monotonic() < deadline:
        serving = lab.serving_nodes()
        assert len(serving) <= 1, f"two nodes serve: {serving}"
        served.update(serving)
        time.sleep(0.02)
    assert lab.serving_nodes() == ["node1"], lab.roles()
    assert served == {"node1"}, served
