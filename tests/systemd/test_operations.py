"""What an operator does to a running module under systemd (docs/operations.md):
ask skyctl about a stopped module, swap, upgrade one node at a time, reload.

Each test gets a fresh SystemdLab (tests/lab/nspawn.py), as test_units.py does; its
application unit (skyha-lab-app.service) appends a line to the replicated directory
when it starts (ExecStart=) and when it stops (ExecStop=).
"""

from nspawn import APP_UNIT, DATA_DIR
from test_units import DAEMONS, M, active, start, unit, wait_in_sync, wait_until

STOPPED = f"module {M} is stopped on this node (heartbeatd is not running)"


def stop_module(node):
    """`systemctl stop skyha@app.target` and the daemons (so systemctl waits for them)."""
    node.systemctl("stop", f"skyha@{M}.target", *[unit(d) for d in DAEMONS])


# --- skyctl on a stopped module ------------------------------------------------------


def test_skyctl_status_on_a_stopped_module_says_it_is_stopped(lab):
    start(lab)
    n2 = lab.node("node2")
    stop_module(n2)
    for d in DAEMONS:
        assert not active(n2, unit(d)), f"node2: {unit(d)} still active after stop"
    res = lab.skyctl("node2", "status", timeout=30)
    print(f"    skyctl status on node2 (exit {res.rc}): "
          + " / ".join(res.err.strip().splitlines()))
    assert res.rc == 3, f"skyctl status exited {res.rc}, not 3 (unreachable): {res.err}"
    assert STOPPED in res.err, f"skyctl status does not say the module is stopped: {res.err}"
    assert "within" not in res.err, f"skyctl waited for a reply from nobody: {res.err}"
    assert f"systemctl start skyha@{M}.target" in res.err, res.err
    # Asking did not start the module again (no socket activation of heartbeatd).
    assert not active(n2, unit("heartbeatd")), "skyctl status started heartbeatd"


# --- swap ----------------------------------------------------------------------------


def _replication(lab, node):
    st = lab.status(node)
    return st.get("actuators", {}).get("replicd") or {}


def wait_up_to_date(lab, primary, secondary, timeout=40):
    """Until both sides say the secondary is an up-to-date copy: the primary's replicd
    is connected (wait_in_sync), the primary sees its peer SECOND, uptodate, at its own
    generation (what `skyctl swap` requires), and the secondary's replicd says
    uptodate, insync."""
    wait_in_sync(lab, primary, timeout)
    lab.wait_for(primary, lambda st: st["peer"].get("visible") and
                 st["peer"].get("role") == "SECOND" and
                 st["peer"].get("data") == "uptodate" and
                 st["peer"].get("generation") == st["node"]["generation"],
                 f"{primary} sees {secondary} an up-to-date SECOND", timeout)
    lab.wait_for(secondary, lambda st: st["node"]["role"] == "SECOND" and
                 (st.get("actuators", {}).get("replicd") or {}).get("data") == "uptodate"
                 and (st.get("actuators", {}).get("replicd") or {}).get("sync") == "insync",
                 f"{secondary}'s replicd uptodate and insync", timeout)


def swap(lab, primary, secondary):
    """`skyctl swap` on the primary; both nodes end PRIM/SECOND, in sync, not diverged,
    with the old primary's application stop line on the new primary."""
    n_new = lab.node(secondary)
    wait_up_to_date(lab, primary, secondary)
    res = lab.skyctl(primary, "swap", timeout=60)
    assert res.rc == 0, f"skyctl swap on {primary} exited {res.rc}: {res.err or res.out}"
    lab.wait_roles({secondary: "PRIM", primary: "SECOND"}, timeout=40)
    wait_up_to_date(lab, secondary, primary)
    for node in (primary, secondary):
        r = _replication(lab, node)
        assert r.get("sync") != "diverged", f"{node} after the swap: replicd {r}"
    text = lab.skyctl(secondary, "status").out
    line = next((ln for ln in text.splitlines() if ln.startswith("replication:")), "")
    assert "diverged" not in line and "uptodate" in line, f"{secondary}: {line!r}"
    log = n_new.sh(f"cat {DATA_DIR}/app.log").out
    assert f"stopped on {primary}" in log.splitlines()[-2], \
        f"the line written by {primary}'s ExecStop is not before {secondary}'s start:\n{log}"
    assert log.splitlines()[-1].startswith(f"started on {secondary}"), log
    assert active(n_new, APP_UNIT), f"the application is not running on {secondary}"
    assert not active(lab.node(primary), APP_UNIT), f"the application still runs on {primary}"
    return line


def test_swap_with_an_application_writing_at_stop_ends_in_sync(lab):
    start(lab)
    # The application's ExecStop= appends to the replicated directory while the old
    # primary hands over: that line must reach the new primary, and the swap must not
    # end with the copies diverged.
    line = swap(lab, "node1", "node2")
    print(f"    node1 -> node2: {line}")
    # What the new primary writes reaches the new secondary (replication runs the
    # other way now), and the swap back works as well.
    n1, n2 = lab.node("node1"), lab.node("node2")
    n2.sh(f"echo 'written on node2 after the swap' > {DATA_DIR}/after-swap.txt")
    wait_until("node2's write on node1", lambda: n1.sh(
        f"cat {DATA_DIR}/after-swap.txt 2>/dev/null", check=False).out.strip()
        == "written on node2 after the swap", timeout=20)
    line = swap(lab, "node2", "node1")
    print(f"    node2 -> node1: {line}")
