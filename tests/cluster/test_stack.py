"""Cluster tests: the whole mirror module on each node (tests/lab/stack_lab.py): replicd,
heartbeatd, healthd, vipd, checkd and the sample application serving the replicated
directory.

What `make demo` shows, as tests that can fail: records written and fsynced on the
primary are served, byte for byte, by the application the secondary starts after a
power cut of the primary; the application runs on one node at a time, after replicd
made the directory writable there; /health and the virtual IP follow; the old primary
returns as SECOND with the application stopped. And when the application keeps failing on the primary,
checkd hands the module to the peer, which serves the same bytes.
"""

import hashlib

from lab import lab_options
from stack_lab import VIP4, StackLab

LEDGER = "ledger.txt"


def app_stopped(lab, node):
    st = lab.checkd_state(node) or {}
    return st.get("app") == "stopped" and st.get("state") == "down"


@lab_options(lab_class=StackLab)
def test_power_cut_keeps_acknowledged_records_and_moves_the_application(lab):
    lab.start_cluster(30)
    lab.wait_app("node1", 15)
    lab.wait_health("node1", 200, 10)  # once heartbeatd heard checkd say "up"
    # Writes count as replicated once node1's replicd is connected to node2's.
    lab.wait_replicd("node2", "secondary", timeout=15)
    lab.wait_replicd("node1", "primary", connected=True, timeout=15)
    digest = lab.write_ledger("node1", LEDGER, 200)
    assert hashlib.sha256(lab.fetch("node1", LEDGER) or b"").hexdigest() == digest
    assert hashlib.sha256(lab.fetch("node1", LEDGER, host=VIP4) or b"").hexdigest() == digest
    assert lab.holds("node1") and not lab.holds("node2")
    assert lab.app_http_status("node2") is None, "the application also answers on the secondary"
    health = (lab.health("node1"), lab.health("node2"))
    assert health[0][0] == 200 and health[1][0] == 503, health

    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", 15)
    # Serving once replicd made the directory writable and checkd started the app.
    lab.wait_for("node2", lambda st: st["node"]["serving"], "serving", 30)
    lab.wait_app("node2", 20)
    served = lab.fetch("node2", LEDGER)
    assert served is not None, "node2's application does not serve the ledger"
    assert hashlib.sha256(served).hexdigest() == digest, \
        f"the ledger on node2 differs: {len(served)} bytes, last line {served[-60:]!r}"
    lab.wait_health("node2", 200, 10)
    # Clients of the virtual IP reach node2 now (gratuitous ARP), with the same bytes.
    assert lab.holds("node2")
    served = lab.fetch("node2", LEDGER, host=VIP4)
    assert served is not None and hashlib.sha256(served).hexdigest() == digest
    assert lab.client_neigh()[0] == lab.mac("node2"), (lab.client_neigh(), lab.mac("node2"))

    lab.restart_node("node1")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 30)
    assert lab.app_http_status("node1") is None, "the application answers on the returning SECOND"
    assert lab.holds("node2") and not lab.holds("node1")
    lab.wait_checkd("node1", lambda st: app_stopped(lab, "node1"), "application stopped")
    health = (lab.health("node1"), lab.health("node2"))
    assert health[0][0] == 503 and health[1][0] == 200, health


@lab_options(lab_class=StackLab, restart_max=1)
def test_application_failing_repeatedly_moves_to_the_peer_with_its_data(lab):
    lab.start_cluster(30)
    pid = lab.wait_app("node1", 15)
    lab.wait_health("node1", 200, 10)
    lab.wait_replicd("node2", "secondary", timeout=15)
    lab.wait_replicd("node1", "primary", connected=True, timeout=15)
    digest = lab.write_ledger("node1", LEDGER, 300)

    lab.kill_app("node1")  # restarted in place (restart.max 1)...
    lab.wait_app("node1", 15, other_than=pid)
    lab.kill_app("node1")  # ...then the second failure in the window: failover
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 30)
    lab.wait_for("node2", lambda st: st["node"]["serving"], "serving", 30)
    lab.wait_app("node2", 20)
    served = lab.fetch("node2", LEDGER)
    assert served is not None and hashlib.sha256(served).hexdigest() == digest, \
        f"the ledger on node2 differs: {None if served is None else len(served)} bytes"
    # node1 stays a secondary with the application stopped, and node2 now takes writes.
    lab.wait_checkd("node1", lambda st: app_stopped(lab, "node1"), "application stopped")
    assert lab.app_http_status("node1") is None
    with open(lab.data_dir("node2") + "/after.txt", "w") as f:
        f.write("written on the new primary\n")
    try:
        open(lab.data_dir("node1") + "/refused.txt", "w").close()
        raise AssertionError("the secondary's replicated directory accepted a write")
    except OSError as exc:
        assert exc.errno == 30, exc  # EROFS
