"""The sky pair (issue 14): two nodes, both active, data on both, as an operator runs it.

Three modules on the same two booted containers (tests/lab/skypair_lab.py): db1 and db2
are mirror modules, primary on node1 and node2 (each its own replicated directory and
virtual IP), web is a farm on both; each under its own skyha@<module>.target, one
healthd for all three. A power cut of either node moves its mirror module to the other
node, with the data its application wrote, while the farm keeps serving there; the
node comes back as secondary of the moved module and a member of the farm again.
"""

import re
import time

from lab import lab_options
from skypair_lab import MODULES, SkyPairLab, app_unit, data_dir
from test_units import lab_http, wait_until

BOUND_S = 45


def roles(lab, node):
    return {m: ((lab.try_status(node, m) or {}).get("node") or {}).get("role")
            for m in MODULES}


def wait_roles(lab, want, timeout=BOUND_S):
    """want: {node: {module: role}}; the farm's members are checked apart."""
    return wait_until(f"roles {want}", lambda: all(
        roles(lab, n) == r for n, r in want.items()) and want, timeout)


def members(lab, node):
    st = lab.try_status(node, "web") or {}
    return st.get("membership", {}).get("members")


def power_cut_moves_the_mirror_and_the_farm_serves_on(lab, victim, survivor):
    moved = "db1" if victim == "node1" else "db2"
    kept = "db2" if moved == "db1" else "db1"
    before = lab.node(survivor).sh(f"cat {data_dir(moved)}/app.log", check=False).out
    cut = time.monotonic()
    lab.power_cut(victim)
    wait_until(f"{moved} ALONE on {survivor}",
               lambda: roles(lab, survivor)[moved] == "ALONE", BOUND_S)
    took = time.monotonic() - cut
    assert roles(lab, survivor)[kept] in ("PRIM", "ALONE"), roles(lab, survivor)
    wait_until(f"web members [{survivor}]", lambda: members(lab, survivor) == [survivor])
    wait_until(f"{app_unit(moved)} active on {survivor}", lambda: lab.node(survivor).show(
        app_unit(moved), "ActiveState")["ActiveState"] == "active")
    log = lab.node(survivor).sh(f"cat {data_dir(moved)}/app.log").out
    assert log.startswith(before), f"{moved}'s data on {survivor} lost lines:\n{log}"
    assert f"started on {survivor}" in log.splitlines()[-1], log
    for module, code in ((moved, 200), (kept, 200), ("web", 200)):
        got, body = lab_http(lab, survivor, f"/health/{module}")
        assert got == code, (survivor, module, got, body)
    return took


@lab_options(lab_class=SkyPairLab)
def test_sky_pair_two_mirrors_and_a_farm_survive_a_power_cut_of_each_node(lab):
    lab.start()
    wait_roles(lab, {"node1": {"db1": "PRIM", "db2": "SECOND", "web": "UP"},
                     "node2": {"db1": "SECOND", "db2": "PRIM", "web": "UP"}})
    for node in ("node1", "node2"):
        wait_until(f"web members on {node}", lambda: members(lab, node) == ["node1", "node2"])
    # One healthd per node answers for every module: OK where the module serves.
    for node, ok in (("node1", {"db1", "web"}), ("node2", {"db2", "web"})):
        for module in MODULES:
            want = 200 if module in ok else 503
            wait_until(f"/health/{module} {want} on {node}",
                       lambda: lab_http(lab, node, f"/health/{module}")[0] == want, 20)
    res = lab.node("node1").run("skyctl", "-m", "web", "status")
    assert re.search(r"node1 +UP +yes", res.out) and re.search(r"node2 +UP +yes", res.out), \
        res.out

    took1 = power_cut_moves_the_mirror_and_the_farm_serves_on(lab, "node1", "node2")
    lab.power_on("node1")
    wait_roles(lab, {"node1": {"db1": "SECOND", "db2": "SECOND", "web": "UP"}})
    wait_until("web members after node1's return",
               lambda: members(lab, "node2") == ["node1", "node2"])
    # db1 goes home (an operator's swap), then node2 loses power in turn.
    wait_until("db1 swappable", lambda: lab.node("node1").run(
        "skyctl", "-m", "db1", "swap", check=False).rc == 0, BOUND_S, 1.0)
    wait_roles(lab, {"node1": {"db1": "PRIM", "db2": "SECOND", "web": "UP"}})
    wait_until("db2 in sync on node1", lambda: (lab.try_status("node2", "db2") or {}).get(
        "peer", {}).get("data") == "uptodate", BOUND_S)
    took2 = power_cut_moves_the_mirror_and_the_farm_serves_on(lab, "node2", "node1")
    print(f"    power cut of node1: db1 served alone by node2 after {took1:.1f} s; "
          f"of node2: db2 by node1 after {took2:.1f} s; the farm served on throughout",
          flush=True)
