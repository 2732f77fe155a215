"""Cluster tests: what a user sees when a fresh two-node cluster starts.

Both nodes start together with equal (empty) data: the configured default_primary,
node1, becomes PRIM and node2 SECOND; both see each other on every heartbeat network
and have quorum; skyctl shows it in both its human and its JSON form.
"""

import json

from lab import SERVING_ROLES, describe


def test_nodes_started_together_become_prim_and_second(lab):
    st = lab.start_cluster()  # waits for PRIM/SECOND, seen by both, and the lease
    one, two = st["node1"], st["node2"]
    for s in (one, two):
        assert s["cluster"] == "demo" and s["module"] == "app", describe(s)
        assert s["peer"]["visible"] is True, describe(s)
        assert s["quorum"]["have"] is True, describe(s)
        assert s["node"]["data"] == "uptodate", describe(s)
        nets = s["peer"]["networks"]
        assert [n["index"] for n in nets] == list(range(lab.networks)), nets
        assert all(n["up"] for n in nets), f"a network is shown down: {nets}"
    assert one["node"]["serving"] is True, describe(one)
    assert one["quorum"]["via"] == "peer+witness", describe(one)
    assert two["node"]["serving"] is False, describe(two)
    # And it stays that way.
    lab.assert_roles_stay({"node1": "PRIM", "node2": "SECOND"}, 3 * lab.timeout_ms / 1000)
    assert lab.serving_nodes() == ["node1"], lab.roles()


def test_skyctl_status_shows_roles(lab):
    lab.start_cluster()
    rc, out = res = lab.skyctl("node1", "status")
    assert rc == 0, f"skyctl status exited {rc}: {out}{res.err}"
    assert "PRIM" in out and "node1" in out and "node2" in out, out
    rc, out = res = lab.skyctl("node2", "status", json=True)
    assert rc == 0, f"skyctl --json status exited {rc}: {out}{res.err}"
    try:
        obj = json.loads(out)
    except ValueError as exc:
        raise AssertionError(f"skyctl --json status printed no JSON: {out!r}") from exc
    status = obj.get("status", obj)  # the status object, or the whole reply
    assert status["node"]["name"] == "node2" and status["node"]["role"] == "SECOND", obj
    assert status["node"]["role"] not in SERVING_ROLES
