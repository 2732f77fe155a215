"""Cluster tests: changing a farm node's address (vipd.lb: buckets).

heartbeatd reads the nodes' addresses at start only (a reload applies weights alone),
so the nodes of a farm learn a node's new address one restart at a time. These tests
show the limit and the procedure of docs/operations.md ("Change a node's address in a
farm"):

- The limit: node2 moves to another address and restarts with the new file while
  node1 and node3 still run with the old one. They hear node2 (from its new address)
  and keep it a member; node2 hears nobody (they send to its old address), takes
  itself for the only member and accepts all 256 buckets: every client of node1's and
  node3's buckets is answered twice until both have restarted with the new file.
- The procedure: `skyctl stop` on node2 first, then the new address and file, the
  other nodes' heartbeatd restarted one at a time, and `skyctl start` on node2 last:
  no client is answered twice but during each member change, until every vipd has
  settled on the new members (as whenever the members change), never by the stopped
  node2, and each is answered once it settles.
"""

import collections
import signal
import time

import lab as lablib
from farm_buckets_lab import UDP_PERIOD_S, farm_buckets_lab
from lab import run

BOUND_S = 15
PORTS = list(range(30000, 30060))
OLD, NEW = "198.18.0.2", "198.18.0.12"


def _answers(lab):
    """[(round, sent at, nodes)] answered twice, and the last settled round's
    unanswered ports."""
    answers, sent = lab.udp_watch()
    per = collections.defaultdict(lambda: collections.defaultdict(list))
    for _t, rnd, port, node in answers:
        per[rnd][port].append(node)
    twice = sorted({(r, sent[r], tuple(sorted(v)))
                    for r in per for v in per[r].values() if len(v) > 1})
    last = max(r for r in sent if r + 2 in sent)
    return twice, [p for p in PORTS if not per[last].get(p)]


def _move_node2(lab):
    """The new address in the file (every node's: one file in the lab) and on node2's
    interface; node2's daemons restarted with it (a power cycle of node2)."""
    text = lab.config_text().replace(f"addresses: [{OLD}]", f"addresses: [{NEW}]")
    assert NEW in text
    lab.write_config(lab.config, text)
    lab.kill_node("node2")
    run(["ip", "-n", lab.ns("node2"), "addr", "del", f"{OLD}/24", "dev", "eth0"])
    run(["ip", "-n", lab.ns("node2"), "addr", "add", f"{NEW}/24", "dev", "eth0"])
    lab.restart_node("node2")


def _restart_heartbeatd(lab, node):
    """systemctl restart skyha-heartbeatd@app: it reads the file again."""
    lab.signal_daemon(node, "heartbeatd", signal.SIGTERM)
    lab.procs[(node, "heartbeatd")].wait(timeout=10)
    lablib.Lab.start_node(lab, node)  # heartbeatd alone; vipd and checkd run on


@farm_buckets_lab(size=3)
def test_buckets_node_moved_before_the_others_know_it_is_answered_twice_limit(lab):
    """Shows a documented limit (docs/operations.md): not a behaviour to keep."""
    lab.start_cluster()
    lab.wait_buckets(lab.nodes)
    lab.start_udp_watch(PORTS[0], len(PORTS))
    time.sleep(1.0)
    _move_node2(lab)
    deadline = time.monotonic() + BOUND_S
    while lab.members("node2") != ["node2"] or \
            (lab.vipd_state("node2") or {}).get("buckets", {}).get("owned") != 256:
        assert time.monotonic() < deadline, (lab.members("node2"), lab.vipd_state("node2"))
        time.sleep(0.1)
    lab.wait_members(["node1", "node3"], lab.nodes, BOUND_S)
    time.sleep(1.0)
    twice, _ = _answers(lab)
    assert twice, "node2 alone with all 256 buckets, yet no client answered twice"
    for node in ("node1", "node3"):
        _restart_heartbeatd(lab, node)
    lab.wait_members(lab.nodes, lab.nodes, BOUND_S)
    lab.wait_buckets(lab.nodes)
    t_settled = time.monotonic()
    time.sleep(1.5)
    twice, unanswered = _answers(lab)
    assert not [t for _r, t, _n in twice if t > t_settled] and not unanswered, (twice, unanswered)
    print(f"    answered twice in {len(twice)} rounds until node1 and node3 read the "
          f"new file", flush=True)


@farm_buckets_lab(size=3)
def test_buckets_node_address_changed_after_skyctl_stop_no_client_answered_twice(lab):
    lab.start_cluster()
    lab.wait_buckets(lab.nodes)
    lab.start_udp_watch(PORTS[0], len(PORTS))
    time.sleep(1.0)
    res = lab.skyctl("node2", "stop")
    assert res.rc == 0, res
    lab.wait_members(lab.nodes, ["node1", "node3"], BOUND_S)
    lab.wait_buckets(["node1", "node3"])
    _move_node2(lab)
    time.sleep(2.0)
    # Still stopped after its restart (the state file keeps it): no buckets.
    assert lab.status("node2")["node"]["role"] == "STOP", lab.status("node2")["node"]
    moved = time.monotonic()
    # Each member change (a heartbeatd restart, node2's start) is a window from
    # the change until every node's vipd has settled on the new members: only
    # there may two views of the members differ and a bucket have two owners
    # (docs/config.md, vipd.lb: buckets). Windows end on events, not on a
    # duration: these machines are shared and noisy.
    windows = []
    for node in ("node1", "node3"):
        begin = time.monotonic()
        _restart_heartbeatd(lab, node)
        lab.wait_members(["node1", "node3"], ["node1", "node3"], BOUND_S)
        lab.wait_buckets(["node1", "node3"])
        windows.append((begin, time.monotonic()))
    begin = time.monotonic()
    res = lab.skyctl("node2", "start")
    assert res.rc == 0, res
    lab.wait_members(lab.nodes, lab.nodes, BOUND_S)
    owned = lab.wait_buckets(lab.nodes)
    windows.append((begin, time.monotonic()))
    time.sleep(1.5)
    twice, unanswered = _answers(lab)
    # A stopped node2 at its new address never answered (the limit's symptom).
    from_node2 = [(r, round(t - moved, 2), n) for r, t, n in twice
                  if "node2" in n and t < windows[-1][0]]
    assert not from_node2, f"node2 answered while stopped: {from_node2[:5]}"
    late = [(r, round(t - moved, 2), n) for r, t, n in twice
            if not any(b - UDP_PERIOD_S <= t <= e for b, e in windows)]
    assert not late, f"clients answered twice outside a member change: {late[:5]}"
    assert not unanswered, f"clients unanswered at the end: {unanswered}"
    print(f"    node2 moved {OLD} -> {NEW}: buckets {owned}, {len(twice)} rounds "
          "answered twice, each during a member change",
          flush=True)
