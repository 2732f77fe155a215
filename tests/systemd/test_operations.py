"""What an operator does to a running module under systemd (docs/operations.md):
ask skyctl about a stopped module, swap, upgrade one node at a time, reload.

Each test gets a fresh SystemdLab (tests/lab/nspawn.py), as test_units.py does; its
application unit (skyha-lab-app.service) appends a line to the replicated directory
when it starts (ExecStart=) and when it stops (ExecStop=).
"""

import os
import re
import shutil
import time

import nspawn
from lab import lab_options, run
from nspawn import APP_UNIT, DATA_DIR
from test_units import (DAEMONS, M, active, start, unit, wait_in_sync, wait_until,
                        wait_up_to_date)

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


def swap(lab, primary, secondary):
    """`skyctl swap` on the primary; both nodes end PRIM/SECOND, in sync, not diverged,
    with the old primary's application stop line on the new primary."""
    n_new = lab.node(secondary)
    wait_up_to_date(lab, primary, secondary)
    res = lab.skyctl(primary, "swap", timeout=60)
    if res.rc != 0:
        from lab import describe
        raise AssertionError(
            f"skyctl swap on {primary} exited {res.rc}: {(res.err or res.out).strip()}; "
            f"{primary}: {describe(lab.try_status(primary) or {})}; {secondary}: "
            f"{describe(lab.try_status(secondary) or {})}; {secondary}'s replicd: "
            f"{_replication(lab, secondary)}")
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


# --- upgrade, one node at a time -----------------------------------------------------


def repack_deb(lab, suffix="+lab1"):
    """build/deb/skyha_<v>_amd64.deb again, as version <v><suffix>: the same files
    (dpkg-deb -R, then -b with the higher Version:), so that apt-get sees an upgrade and
    dpkg replaces every installed file. Returns (path on the host, new version)."""
    src = nspawn.deb_path()
    tree = os.path.join(lab.dir, "deb-upgrade")
    run(["dpkg-deb", "-R", src, tree])
    control = os.path.join(tree, "DEBIAN", "control")
    with open(control) as f:
        text = f.read()
    old = re.search(r"^Version: (\S+)$", text, re.M).group(1)
    new = old + suffix
    with open(control, "w") as f:
        f.write(text.replace(f"Version: {old}\n", f"Version: {new}\n"))
    out = os.path.join(lab.dir, f"skyha_{new}_amd64.deb")
    run(["dpkg-deb", "--root-owner-group", "-b", tree, out], timeout=120)
    return out, old, new


def installed_version(node):
    return node.run("dpkg-query", "-W", "-f", "${Version}", "skyha").out.strip()


def stale_daemons(node):
    """The skyha daemons of the node still running a binary dpkg replaced."""
    units = [unit(d) for d in DAEMONS] + ["skyha-healthd.service"]
    out = []
    for u in units:
        pid = node.show(u, "MainPID")["MainPID"]
        if pid == "0":
            continue
        exe = node.sh(f"readlink /proc/{pid}/exe", check=False).out.strip()
        if exe.endswith(" (deleted)"):
            out.append(f"{u}: {exe}")
    return out


def data_sums(node):
    return node.sh(f"cd {DATA_DIR} && sha256sum $(ls | sort)").out


def upgrade_node(lab, name, deb, new):
    """What docs/operations.md says to do on the secondary: install the package, restart
    the module's target (and healthd), see the new binaries run."""
    node = lab.node(name)
    node.run("apt-get", "install", "-y", "-q", f"./{os.path.basename(deb)}", timeout=300,
             unit_args=("-E", "DEBIAN_FRONTEND=noninteractive", "--working-directory=/root"))
    assert installed_version(node) == new
    # dpkg replaced the files; the daemons still run the old binaries until restarted.
    assert stale_daemons(node), f"{name}: no daemon runs a replaced binary before restart"
    node.systemctl("restart", f"skyha@{M}.target", "skyha-healthd.service")
    wait_until(f"{name}: every daemon running the new binary", lambda: not any(
        not active(node, unit(d)) for d in DAEMONS) and not stale_daemons(node), timeout=30)


@lab_options(install="deb")
def test_upgrade_one_node_at_a_time_keeps_the_data_and_the_service(lab):
    start(lab)  # the .deb installed by apt-get in every container, module started
    n1, n2 = lab.node("node1"), lab.node("node2")
    deb, old, new = repack_deb(lab)
    for member in ("node1", "node2", "witness"):
        assert installed_version(lab.node(member)) == old
        shutil.copy(deb, lab.node(member).path("/root/"))
    wait_up_to_date(lab, "node1", "node2")
    n1.sh(f"echo 'written before the upgrade' > {DATA_DIR}/before.txt")
    # 1. The secondary: install, restart its module; it comes back SECOND, in sync.
    upgrade_node(lab, "node2", deb, new)
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, timeout=40)
    wait_up_to_date(lab, "node1", "node2")
    assert data_sums(n2) == data_sums(n1), "node2's copy differs after its upgrade"
    n1.sh(f"echo 'written with node2 upgraded' > {DATA_DIR}/during.txt")
    # 2. Swap: the upgraded node serves.
    swap(lab, "node1", "node2")
    # 3. The other node, now the secondary.
    upgrade_node(lab, "node1", deb, new)
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, timeout=40)
    wait_up_to_date(lab, "node2", "node1")
    # 4. The witness (both nodes see each other meanwhile: nothing changes).
    w = lab.node("witness")
    w.run("apt-get", "install", "-y", "-q", f"./{os.path.basename(deb)}", timeout=300,
          unit_args=("-E", "DEBIAN_FRONTEND=noninteractive", "--working-directory=/root"))
    w.systemctl("restart", f"skyha-witness@{M}.service")
    assert installed_version(w) == new
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, timeout=10)
    # The application's data: everything written before and during the upgrade, the
    # same on both nodes; and writes still replicate.
    n2.sh(f"echo 'written after the upgrade' > {DATA_DIR}/after.txt")
    wait_until("node2's write after the upgrade on node1", lambda: n1.sh(
        f"cat {DATA_DIR}/after.txt 2>/dev/null", check=False).out.strip()
        == "written after the upgrade", timeout=20)
    for f, text in (("before.txt", "written before the upgrade"),
                    ("during.txt", "written with node2 upgraded")):
        for node in (n1, n2):
            assert node.sh(f"cat {DATA_DIR}/{f}").out.strip() == text, (node.member, f)
    assert data_sums(n1) == data_sums(n2), "the copies differ after the upgrade"
    assert active(n2, APP_UNIT)
    print(f"    {old} -> {new} on node2, swap, node1, witness: "
          + lab.skyctl("node2", "status").out.splitlines()[0])


# --- reload --------------------------------------------------------------------------

CONFIG = f"/etc/skyha/{M}.yaml"


def _journal_since(node, u, cursor):
    return [e.get("MESSAGE", "") for e in node.journal("-u", u, since_cursor=cursor)
            if isinstance(e.get("MESSAGE"), str)]


def _reload_each(node, expect_ok):
    """`systemctl reload` of every daemon of the module: {unit: (rc, journal lines since)}.
    Each daemon is still the same process, active, afterwards."""
    out = {}
    for d in DAEMONS:
        u = unit(d)
        before = node.show(u, "MainPID")["MainPID"]
        cur = node.journal("-n", "1")[-1]["__CURSOR"]
        res = node.systemctl("reload", u, check=False)
        assert (res.rc == 0) == expect_ok, \
            f"{node.member}: systemctl reload {u} exited {res.rc}: {res.err.strip()}"
        # The journal (and the daemon, from its loop) may lag a little behind.
        seen = "configuration" if expect_ok else f"{CONFIG}:"
        lines = wait_until(f"{u}: the reload in its journal", lambda: (
            lambda ls: ls if any(seen in m for m in ls) else None)(
                _journal_since(node, u, cur)), timeout=10)
        after = node.show(u, "MainPID", "ActiveState")
        assert after["MainPID"] == before and after["ActiveState"] == "active", \
            f"{node.member}: {u} after reload: {after} (was pid {before})"
        out[u] = (res.rc, lines)
    return out


def test_reload_validates_refuses_a_bad_file_and_says_a_change_needs_a_restart(lab):
    start(lab)
    n1 = lab.node("node1")
    wait_in_sync(lab, "node1")
    # Unchanged file: every daemon says so and keeps running (SIGHUP no longer ends it).
    for u, (_rc, lines) in _reload_each(n1, True).items():
        assert any("reload: configuration unchanged" in m for m in lines), (u, lines)
    # A broken file: the reload fails with the file, line and error in the unit's
    # journal; the daemon keeps running with the configuration it has.
    n1.sh(f"cp {CONFIG} /root/good.yaml && sed -i 's/^  mode: sync$/  mode: [sync/' {CONFIG}")
    bad_line = n1.sh(f"grep -n '^  mode: \\[sync$' {CONFIG} | cut -d: -f1").out.strip()
    assert bad_line, "the test did not break the file"
    for u, (_rc, lines) in _reload_each(n1, False).items():
        assert any(m.startswith(f"{CONFIG}:") and "YAML syntax" in m for m in lines), \
            (u, lines)
        assert not any("configuration changed" in m for m in lines), (u, lines)
        print(f"    bad file: systemctl reload {u} failed: "
              + next(m for m in lines if m.startswith(CONFIG)))
    status = n1.systemctl("status", unit("replicd"), check=False).out
    assert "YAML syntax" in status, status[-800:]
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, timeout=10)
    # A good change: accepted, and each daemon says what applying it takes.
    n1.sh(f"cp /root/good.yaml {CONFIG} && sed -i 's/^  timeout_ms: 3000$/  timeout_ms: 4000/'"
          f" {CONFIG} && grep -q '^  timeout_ms: 4000$' {CONFIG}")
    for u, (_rc, lines) in _reload_each(n1, True).items():
        want = f"configuration changed: restart {u.removesuffix('.service')} to apply"
        assert any(want in m for m in lines), (u, lines)
    print(f"    good change: {want} ...")
    # The witness has the same reload (its file unchanged here).
    w, wu = lab.node("witness"), f"skyha-witness@{M}.service"
    cur = w.journal("-n", "1")[-1]["__CURSOR"]
    w.systemctl("reload", wu)
    wait_until("the witness's reload in its journal", lambda: any(
        "reload: configuration unchanged" in m for m in _journal_since(w, wu, cur)),
        timeout=10)
    assert active(w, wu)
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, timeout=10)


# --- a wrong configuration on one node ---------------------------------------------

EXTRA_DIR = "/srv/app/extra"


def test_directories_listed_in_another_order_on_one_node_are_refused_not_mixed(lab):
    """An operator lists the module's two directories in another order on node2 than on
    node1. replicd must refuse to pair with a peer whose replicd.directories differ (and
    say so), never replicate node1's /srv/app/extra into node2's /srv/app/data: before
    the fix it did, node2 reported "uptodate, insync", and after node1's power cut node2
    served node1's extra files as its data (and its data as extra)."""
    lab.boot_all()
    lab.node("witness").systemctl("start", f"skyha-witness@{M}.service")
    orders = {"node1": f"[{DATA_DIR}, {EXTRA_DIR}]", "node2": f"[{EXTRA_DIR}, {DATA_DIR}]"}
    for name, dirs in orders.items():
        node = lab.node(name)
        node.sh(f"mkdir -p {EXTRA_DIR} && sed -i 's|^  directories: \\[{DATA_DIR}\\]$|"
                f"  directories: {dirs}|' {CONFIG} && grep -qxF '  directories: {dirs}' "
                f"{CONFIG}")
        node.systemctl("enable", *[unit(d) for d in DAEMONS])
    n1, n2 = lab.node("node1"), lab.node("node2")
    n2.sh(f"echo 'node2 own data' > {DATA_DIR}/own.txt")
    for name in ("node1", "node2"):
        lab.node(name).systemctl("start", f"skyha@{M}.target")
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, timeout=45)
    n1.sh(f"echo 'extra on node1' > {EXTRA_DIR}/only-extra.txt && sync {EXTRA_DIR}/only-extra.txt")
    # Both replicds say why they do not pair, in the journal and in skyctl status.
    want = "replicd.directories differ"
    for name in ("node1", "node2"):
        wait_until(f"{name}'s replicd: {want!r} in its journal", lambda: any(
            want in m for m in _journal_since(lab.node(name), unit("replicd"), None)),
            timeout=20)
    st1 = wait_until("node1's status names the mismatch", lambda: (
        lambda st: st if want in ((st.get("actuators", {}).get("replicd") or {})
                                  .get("reason", "")) else None)(lab.try_status("node1") or {}),
        timeout=20)
    print("    node1's replicd: " + st1["actuators"]["replicd"]["reason"])
    st2 = lab.status("node2")
    assert st2["node"]["data"] != "uptodate", f"node2 calls itself uptodate: {st2['node']}"
    for path in (f"{DATA_DIR}/only-extra.txt", f"{EXTRA_DIR}/app.log"):
        assert n2.sh(f"test -e {path}", check=False).rc != 0, \
            f"node2 got {path}: node1's other directory replicated into it"
    assert n2.sh(f"cat {DATA_DIR}/own.txt").out.strip() == "node2 own data"
    # node1 is lost: node2 (never in sync) does not serve what it has.
    n1.poweroff(timeout=30)
    lab.wait_for("node2", lambda st: st["node"]["role"] == "WAIT", "node2 WAIT", timeout=20)
    assert not (lab.status("node2")["node"].get("serving")), "node2 serves a copy it never had"


# --- swapping back at once -------------------------------------------------------------


def _transitions(node):
    """heartbeatd's role changes on node, as journal lines ("A -> B: why")."""
    return [m for m in _journal_since(node, unit("heartbeatd"), None)
            if re.match(r"^[A-Z]+ -> [A-Z]+: ", m)]


def test_a_swap_asked_right_after_a_swap_hands_over_without_passing_through_wait(lab):
    """`skyctl swap` as soon as the previous swap put the roles in place (an operator
    who swaps back at once, or a script). Before the fix the primary accepted it on the
    new secondary's word "uptodate", which was its replicd's of the epoch before: it
    handed over to a copy whose replicd had not yet resynced with it, the peer would
    not take over ("SECOND -> WAIT: node2 is no longer primary"), the old primary gave
    up ("swap: node1 did not take the primary role over"), both stopped the application
    and an election gave the role to the default primary: each swap back from node2
    was an outage and an election, not a swap. Now the primary hands over only once its
    replicd says the peer's copy is in sync in this epoch; the swap waits for that."""
    start(lab)
    wait_up_to_date(lab, "node1", "node2")
    prim, sec = "node1", "node2"
    for i in range(4):
        t0 = time.monotonic()
        while True:  # what a script does: ask again while refused
            res = lab.skyctl(prim, "swap", timeout=60)
            if res.rc == 0 or time.monotonic() - t0 > 15:
                break
            time.sleep(0.1)
        assert res.rc == 0, f"swap {i} on {prim}: {res.rc}: {(res.err or res.out).strip()}"
        lab.wait_roles({sec: "PRIM", prim: "SECOND"}, timeout=30)
        print(f"    swap {i}: {prim} -> {sec} in {time.monotonic() - t0:.1f} s")
        prim, sec = sec, prim
    for name in ("node1", "node2"):
        lines = _transitions(lab.node(name))
        bad = [m for m in lines if m.split(":")[0].endswith("-> WAIT")]
        assert not bad, f"{name} went through WAIT during the swaps:\n" + "\n".join(lines)
        swaps = [m for m in lines if ": swap: " in m]
        assert len(swaps) == 4, f"{name}: {len(swaps)} swap transitions:\n" + "\n".join(lines)
    wait_up_to_date(lab, prim, sec)
