"""Cluster tests: the farm and light modules (issue 14), with real heartbeatd and checkd.

A farm of three nodes (tests/lab/farm_lab.py): every node runs the sample application,
every node computes the same members; a node killed with SIGKILL drops out of every
other node's view within heartbeat.timeout_ms and comes back when restarted; an
application that fails past its restarts takes its node out of the farm until
`skyctl start` (or rejoin_after_ms); heartbeats forged or replayed from the client
namespace change no membership, also across a restart of the receiver; a light module
(one node) runs and restarts its application; bad farm files are refused with
file:line:column and the field.
"""

import os
import re
import subprocess
import time

import wire
from farm_lab import farm_cloud_lab, farm_healthd_lab, farm_lab
from lab import HEARTBEAT_PORT, HEARTBEATD, address

BOUND_S = 15


def _timed_members(lab, nodes, members, timeout=BOUND_S):
    t0 = time.monotonic()
    lab.wait_members(nodes, members, timeout)
    return time.monotonic() - t0


@farm_lab(size=3)
def test_a_farm_of_three_runs_the_application_on_every_node(lab):
    st = lab.start_cluster()
    for node in lab.nodes:
        lab.wait_app(node)
        assert st[node]["node"]["role"] == "UP", st[node]["node"]
        assert st[node]["type"] == "farm", st[node]["type"]
    res = lab.skyctl("node2", "status")
    assert res.rc == 0, res
    for node in lab.nodes:
        assert re.search(rf"{node} +UP +yes +33%", res.out), res.out
    assert "* node2" in res.out, res.out
    print("    skyctl status on node2:\n" + "\n".join(
        "      " + line for line in res.out.splitlines()[:5]), flush=True)
    for cmd in ("swap", "prim", "second"):
        res = lab.skyctl("node1", cmd)
        assert res.rc != 0 and "a farm has no primary" in res.out + res.err, (cmd, res)


@farm_lab(size=3)
def test_a_killed_node_drops_out_and_rejoins_when_restarted(lab):
    lab.start_cluster()
    lab.kill_node("node2")
    gone = _timed_members(lab, ["node1", "node3"], ["node1", "node3"])
    for node in ("node1", "node3"):
        assert lab.app_http_status(node) == 200, f"the application stopped on {node}"
    lab.restart_node("node2")
    back = _timed_members(lab, lab.nodes, lab.nodes)
    lab.wait_app("node2")
    print(f"    node2 out of both views {gone:.2f} s after kill -9 (timeout "
          f"{lab.timeout_ms} ms); back in {back:.2f} s after its restart", flush=True)


@farm_lab(size=3, restart_max=1, escalation="failover")
def test_a_failing_application_leaves_the_farm_until_skyctl_start(lab):
    lab.start_cluster()
    lab.wait_app("node3")
    first = lab.kill_app("node3")  # restarted in place (restart.max 1)
    pid = lab.wait_app("node3", other_than=first)
    lab.kill_app("node3")  # past its restarts: checkd gives up here
    _timed_members(lab, lab.nodes, ["node1", "node2"])
    st = lab.wait_for("node3", lambda s: s["node"]["role"] == "WAIT", "WAIT")
    assert "skyctl start" in st["node"]["waiting_for"], st["node"]
    time.sleep(2 * lab.timeout_ms / 1000)
    assert lab.members("node1") == ["node1", "node2"], "node3 came back by itself"
    res = lab.skyctl("node3", "start")
    assert res.rc == 0 and "rejoining" in res.out, res
    _timed_members(lab, lab.nodes, lab.nodes)
    assert lab.wait_app("node3") != pid


@farm_lab(size=2, restart_max=0, escalation="failover", rejoin_after_ms=3000)
def test_a_failed_node_rejoins_by_itself_after_rejoin_after_ms(lab):
    lab.start_cluster()
    lab.wait_app("node2")
    lab.kill_app("node2")
    _timed_members(lab, lab.nodes, ["node1"])
    _timed_members(lab, lab.nodes, lab.nodes, 20)
    # heartbeatd's own account, not this machine's timing: when it rejoined.
    reason = lab.status("node2")["transition"]["reason"]
    m = re.search(r"rejoining (\d+) ms after the application failed", reason)
    assert m and int(m.group(1)) >= 3000, f"node2 rejoined too soon: {reason!r}"
    lab.wait_app("node2")
    print(f"    node2: {reason} (rejoin_after_ms 3000)", flush=True)


@farm_lab(size=3)
def test_forged_and_replayed_heartbeats_change_no_membership(lab):
    lab.start_cluster()
    key = lab.key()
    real = lab.capture_udp("node1", address(0, "node2"), HEARTBEAT_PORT)
    hb = wire.decode(real, key)
    assert hb["node"] == "node2" and hb["role"] == "UP", hb
    lab.kill_node("node2")
    lab.wait_members(["node1", "node3"], ["node1", "node3"], BOUND_S)

    def replay_and_check(what, packets, counter):
        before = lab.status("node1")["counters"]
        for _ in range(10):
            lab.send_udp("client", address(0, "node1"), HEARTBEAT_PORT, packets,
                         src_addr=address(0, "node2"))
            time.sleep(0.05)
        after = lab.status("node1")["counters"]
        assert after[counter] - before[counter] >= 10, (what, counter, before, after)
        assert lab.members("node1") == ["node1", "node3"], (what, lab.members("node1"))

    replay_and_check("replayed", [real], "replay")
    lure = dict(node="node2", incarnation=hb["incarnation"], sequence=hb["sequence"] + 10**6,
                network=0, role="UP", epoch=hb["epoch"] + 1, generation=0)
    replay_and_check("signed with another key", [wire.heartbeat(os.urandom(32), **lure)],
                     "bad_mac")
    # Across a restart of the receiver: node2's newer incarnation was seen and saved.
    lab.restart_node("node2")
    lab.wait_members(lab.nodes, lab.nodes, BOUND_S)
    lab.kill_node("node2")
    lab.kill_daemon("node1")
    lab.kill_daemon("node1", "checkd")
    lab.start_node("node1")
    lab.wait_members(["node1", "node3"], ["node1", "node3"], BOUND_S)
    replay_and_check("replayed after node1's restart", [real], "replay")


@farm_lab(size=1, light=True, restart_max=3)
def test_a_light_module_runs_and_restarts_its_application(lab):
    st = lab.start_cluster()
    assert st["node1"]["type"] == "light", st["node1"]
    pid = lab.wait_app("node1")
    lab.kill_app("node1")
    lab.wait_app("node1", other_than=pid)
    assert lab.role("node1") == "UP"
    res = lab.skyctl("node1", "stop")
    assert res.rc == 0, res
    lab.wait_for("node1", lambda s: s["node"]["role"] == "STOP", "STOP")
    deadline = time.monotonic() + BOUND_S
    while lab.app_pid("node1") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not lab.app_pid("node1"), "the application still runs after skyctl stop"
    assert lab.skyctl("node1", "start").rc == 0
    lab.wait_members(["node1"], ["node1"], BOUND_S)
    lab.wait_app("node1")


@farm_lab(size=3)
def test_bad_farm_files_name_file_line_and_field(lab):
    good = lab.config_text()
    cases = [
        (good.replace("  - name: node2\n", "  - name: node2\n    weight: 0\n"),
         "nodes[1].weight"),
        (good.replace("  type: farm\n", "  type: farm\n  default_primary: node1\n"),
         "module.default_primary: a farm module has no primary"),
        (good + "witness:\n  addresses: [198.18.0.10]\n", "witness: a farm module has no witness"),
        (good.replace("  type: farm\n", "  type: light\n"),
         "nodes: a light module runs on exactly 1 node, got 3"),
        (good.replace("order: [checkd]", "order: [replicd, checkd]"),
         "transitions.order: a farm module replicates nothing"),
    ]
    for i, (text, says) in enumerate(cases):
        path = os.path.join(lab.dir, f"bad{i}.yaml")
        lab.write_config(path, text)
        res = subprocess.run([HEARTBEATD, "--check", "--config", path, "--node", "node1"],
                             capture_output=True, text=True, timeout=10)
        out = res.stdout + res.stderr
        assert res.returncode != 0, (says, out)
        assert says in out and re.search(rf"bad{i}\.yaml:\d+:\d+: ", out), (says, out)


def _spread(results):
    by = {}
    for r in results:
        if r[1] == 200:
            by[r[2]] = by.get(r[2], 0) + 1
    return by


@farm_healthd_lab(size=3)
def test_haproxy_in_front_drops_a_killed_node_and_takes_it_back(lab):
    """lb: external: HAProxy health-checks /health/app on each node's healthd; a node
    killed with SIGKILL leaves the pool, its clients go to the others; it comes back."""
    lab.start_cluster()
    for node in lab.nodes:
        lab.wait_health(node, 200)
    lab.start_haproxy()
    lab.wait_haproxy({n: "UP" for n in lab.nodes})
    load = lab.start_load(6.0, period=0.02)
    time.sleep(2.0)
    cut_at = time.monotonic()
    lab.kill_node("node2")
    killed_at = time.monotonic()  # requests sent while the kill ran may reach node2
    results = load.results()
    before = [r for r in results if r[0] < cut_at]
    after = [r for r in results if r[0] >= killed_at]
    assert all(r[1] == 200 for r in before), [r for r in before if r[1] != 200][:5]
    assert set(_spread(before)) == set(lab.nodes), _spread(before)
    failed = [r for r in after if r[1] != 200]
    last_failed = max((r[0] for r in failed), default=killed_at)
    settled = [r for r in after if r[0] > last_failed]
    assert len(settled) >= 50 and all(r[2] != "node2" for r in settled), settled[:5]
    assert set(_spread(settled)) == {"node1", "node3"}, _spread(settled)
    lab.restart_node("node2")
    lab.wait_haproxy({n: "UP" for n in lab.nodes}, 15)
    again = lab.start_load(2.0, period=0.02).results()
    assert all(r[1] == 200 for r in again), [r for r in again if r[1] != 200][:5]
    print(f"    haproxy + farm: {len(results)} requests, {len(failed)} failed after the kill "
          f"of node2 (last failure {last_failed - killed_at:.2f} s after it); "
          f"spread before {_spread(before)}, after {_spread(settled)}; "
          f"back: {_spread(again)}", flush=True)


@farm_healthd_lab(size=3)
def test_skyctl_stop_takes_a_node_out_of_the_pool_before_it_stops(lab):
    """A planned stop: healthd says NOK, HAProxy drops the node, nothing fails."""
    lab.start_cluster()
    lab.start_haproxy()
    lab.wait_haproxy({n: "UP" for n in lab.nodes})
    res = lab.skyctl("node3", "stop")
    assert res.rc == 0, res
    lab.wait_health("node3", 503)
    lab.wait_haproxy({"node1": "UP", "node2": "UP", "node3": "DOWN"})
    lab.wait_members(["node1", "node2"], ["node1", "node2"])
    results = lab.start_load(1.5, period=0.02).results()
    assert all(r[1] == 200 and r[2] in ("node1", "node2") for r in results), \
        [r for r in results if r[1] != 200 or r[2] == "node3"][:5]


FLAPPING = {"name": "flappy", "kind": "custom", "command": "checks/pattern",
            "interval_ms": 400, "timeout_ms": 400, "fail_after": 1, "ok_after": 1,
            "action": "restart"}


# The documented timings (not the lab's fast ones): a loaded machine's stall must not
# pass for a membership change here.
@farm_lab(size=3, checkers=[FLAPPING], restart_max=100, rejoin_after_ms=5000,
          interval_ms=200, timeout_ms=1000)
def test_a_flapping_checker_causes_no_rebalance_storm(lab):
    """node3's checker fails every third run: checkd restarts the application each
    time. The other nodes' members must not follow every restart."""
    lab.set_file("node3", "pattern", "ok ok fail\n")
    lab.start_cluster()
    before = lab.status("node1")["membership"]["changes"]
    restarts = lab.checkd_state("node3")["restarts_in_window"]
    time.sleep(6.0)
    after = lab.status("node1")["membership"]["changes"]
    restarted = lab.checkd_state("node3")["restarts_in_window"] - restarts
    assert restarted >= 3, f"the checker did not flap: {restarted} restarts"
    print(f"    {restarted} restarts of node3's application in 6 s; node1's members "
          f"changed {after - before} times", flush=True)
    assert after - before <= 2, (f"{after - before} membership changes on node1 for "
                                 f"{restarted} restarts on node3")


@farm_lab(size=3)
def test_a_partitioned_farm_serves_on_both_sides_and_converges_when_healed(lab):
    """No quorum, on purpose: node3 cut off from node1 and node2 keeps serving alone,
    they keep serving together; healed, all three see the same members again."""
    lab.start_cluster()
    before = lab.status("node1")["membership"]["changes"]
    lab.partition("node1", "node3")
    lab.partition("node2", "node3")
    lab.wait_members(["node1", "node2"], ["node1", "node2"], BOUND_S)
    lab.wait_members(["node3"], ["node3"], BOUND_S)
    for node in lab.nodes:
        assert lab.role(node) == "UP", (node, lab.role(node))
        assert lab.app_http_status(node) == 200, f"the application stopped on {node}"
    lab.heal_partition()
    healed = _timed_members(lab, lab.nodes, lab.nodes)
    changes = lab.status("node1")["membership"]["changes"] - before
    assert changes >= 2, f"node1's members changed {changes} times: not out and back"
    print(f"    the three views agree {healed:.2f} s after the partition healed",
          flush=True)


def test_the_farm_example_passes_every_daemons_check(lab=None):
    """examples/web.yaml as shipped (with the key file next to a copy of it): heartbeatd
    and checkd accept it."""
    import shutil
    import tempfile
    from lab import BUILD, ROOT
    d = tempfile.mkdtemp(prefix="skyha-example-")
    try:
        with open(os.path.join(ROOT, "examples", "web.yaml")) as f:
            text = f.read().replace("/etc/skyha/cluster.key", "cluster.key")
        path = os.path.join(d, "web.yaml")
        with open(path, "w") as f:
            f.write(text)
        fd = os.open(os.path.join(d, "cluster.key"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
        shutil.copytree(os.path.join(ROOT, "examples", "app"), os.path.join(d, "app"))
        for daemon in ("heartbeatd", "checkd"):
            res = subprocess.run([os.path.join(BUILD, daemon), "--check", "--config", path,
                                  "--node", "server1"], capture_output=True, text=True,
                                 timeout=10)
            assert res.returncode == 0 and "configuration OK" in res.stdout, \
                (daemon, res.stdout + res.stderr)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _wait(what, predicate, timeout=BOUND_S):
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.1)


@farm_cloud_lab(size=3)
def test_each_serving_node_joins_the_clouds_load_balancers_and_leaves_on_stop(lab):
    """Behind an Azure load balancer and an AWS target group (the stand-ins): every UP
    node's NIC joins the backend pool and its instance the target group; `skyctl stop`
    takes the node out of both, `skyctl start` puts it back."""
    lab.start_cluster()
    everyone = [f"nic-{n}" for n in lab.nodes]
    _wait("every NIC in the pool", lambda: lab.azure_pool_members() == everyone)
    _wait("every instance registered", lambda: all(lab.aws_registered(n) for n in lab.nodes))
    assert lab.skyctl("node2", "stop").rc == 0
    _wait("node2's NIC out of the pool",
          lambda: lab.azure_pool_members() == ["nic-node1", "nic-node3"])
    _wait("node2 deregistered", lambda: lab.aws_registered("node2") is False)
    assert lab.aws_registered("node1") and lab.aws_registered("node3")
    assert lab.skyctl("node2", "start").rc == 0
    _wait("node2's NIC back in the pool", lambda: lab.azure_pool_members() == everyone)
    _wait("node2 registered again", lambda: lab.aws_registered("node2") is True)
    # The other ipConfigurations and pools of the NICs are left as they were.
    nic = lab.azure_cloud()["nics"]["nic-node2"]
    assert [ic["name"] for ic in nic["properties"]["ipConfigurations"]] == ["ipconfig1"], nic
