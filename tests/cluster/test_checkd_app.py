"""Cluster tests: checkd runs the application where heartbeatd says, and keeps it running.

The application is examples/app (python3 -m http.server on the node's address, port
8080), started by start_prim once node1 is PRIM (transitions.order: [checkd]) and checked
by a process checker (pidfile, seen at once through a pidfd) and an HTTP checker, both
every 200 ms. Killed once, it is restarted on the same node; killed more often than
restart.max (2) within the window, the module fails over to node2, which starts it.
A start_prim that hangs is killed with its process group at its timeout, and the module
waits with the reason. A client in its own namespace checks what a user would see: the
application answering HTTP on the node that serves, and on no other.
"""

import os
import time

from checkd_lab import checkd_lab, describe_checkd, pid_alive
from lab import describe

BOUND_S = 10


def _settled_with_app(lab):
    """Start the cluster; wait for node1 PRIM with the application answering there."""
    lab.start_cluster()
    st = lab.wait_for("node1", lambda s: s["node"]["serving"] is True,
                      "serving (checkd reported the application up)", BOUND_S)
    assert st["actuators"]["checkd"]["state"] == "up", describe(st)
    pid = lab.wait_app("node1", BOUND_S)
    assert lab.app_http_status("node2") is None, "the application also answers on node2"
    return pid


@checkd_lab()
def test_application_started_on_primary_only(lab):
    _settled_with_app(lab)
    ck1 = lab.wait_checkd("node1", lambda s: all(c["state"] == "ok" for c in s["checkers"]),
                          "every checker ok", BOUND_S)
    assert ck1["state"] == "up" and ck1["app"] == "running", describe_checkd(ck1)
    ck2 = lab.wait_checkd("node2", lambda s: s["state"] == "down", "down", BOUND_S)
    assert ck2["app"] == "stopped", describe_checkd(ck2)
    assert lab.app_pid("node2") is None


@checkd_lab()
def test_killed_application_restarted_on_same_node(lab):
    pid = _settled_with_app(lab)
    lab.kill_app("node1")
    new = lab.wait_app("node1", BOUND_S, other_than=pid)
    assert new != pid
    st = lab.wait_checkd("node1", lambda s: s["restarts_in_window"] == 1 and s["app"] == "running",
                         "one restart counted", BOUND_S)
    assert st["state"] == "up", describe_checkd(st)
    assert "restarting the application (1 of 2" in st["reason"], describe_checkd(st)
    roles = lab.roles()
    assert roles == {"node1": "PRIM", "node2": "SECOND"}, roles
    assert lab.app_http_status("node2") is None


@checkd_lab()
def test_application_killed_more_than_max_fails_over_to_peer(lab):
    pid = _settled_with_app(lab)
    gen_before = lab.status("node1")["node"]["generation"]
    with lab.watch_serving():
        for n in (1, 2):
            lab.kill_app("node1")
            pid = lab.wait_app("node1", BOUND_S, other_than=pid)
            lab.wait_checkd("node1", lambda s, n=n: s["restarts_in_window"] == n,
                            f"{n} restarts counted", BOUND_S)
        lab.kill_app("node1")  # the third within the window: escalate
        st = lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
        lab.wait_app("node2", BOUND_S)
        lab.wait_for("node2", lambda s: s["node"]["serving"] is True, "serving", BOUND_S)
    ck1 = lab.wait_checkd("node1", lambda s: s["state"] == "down" and s["app"] == "stopped",
                          "application stopped after the failover", BOUND_S)
    assert "failover" in ck1["reason"], describe_checkd(ck1)
    assert lab.app_http_status("node1") is None, "the application still answers on node1"
    assert lab.app_pid("node1") is None
    # The new primary took over with the primary's data generation (never older).
    assert st["node2"]["node"]["generation"] >= gen_before, describe(st["node2"])
    assert "checkd" in st["node1"]["transition"]["reason"] or \
        st["node1"]["transition"]["to"] == "SECOND", describe(st["node1"])


@checkd_lab(start_script="app/hang_start", start_timeout_ms=1000)
def test_hung_start_script_killed_and_module_waits_with_reason(lab):
    lab.start_witness()
    for node in lab.nodes:
        lab.start_node(node)
    # Whichever node is elected, its start_prim hangs and is killed at 1 s: WAIT
    # with the reason.
    def timed_out(st):
        return st["transition"]["to"] == "WAIT" and \
            "timed out after 1000 ms" in st["transition"]["reason"]
    deadline = time.monotonic() + 15
    hung = None
    while hung is None:
        for node in lab.nodes:
            st = lab.try_status(node)
            if st and timed_out(st):
                hung = node
                break
        else:
            assert time.monotonic() < deadline, "no node went to WAIT because start_prim " \
                "timed out: " + "; ".join(describe(lab.try_status(n)) for n in lab.nodes)
            time.sleep(0.05)
    reason = st["transition"]["reason"]
    assert "checkd" in reason and "start_prim" in reason, reason
    run = lab.app_run_dir(hung)
    for name in ("hang.script", "hang.child"):
        with open(os.path.join(run, name)) as f:
            pid = int(f.read())
        lab.wait_checkd(hung, lambda s, pid=pid: not pid_alive(pid),
                        f"{name} (pid {pid}) killed", 5)
    # Never half-started, never serving with a hung application.
    ck = lab.wait_checkd(hung, lambda s: s["app"] in ("stopped", "failed"),
                         "application stopped", 5)
    assert ck["state"] in ("failed", "down"), describe_checkd(ck)
    for node in lab.nodes:
        s = lab.status(node)
        assert not s["node"]["serving"], describe(s)
