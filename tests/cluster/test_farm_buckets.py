"""Cluster tests: a farm spreading its clients without a load balancer (vipd.lb: buckets).

Three nodes (tests/lab/farm_buckets_lab.py) hold the VIP 198.18.0.100 at once; vipd
answers ARP for it with the module's virtual MAC, the bridge floods the clients' frames
to every node, and each node accepts only the buckets (jhash of the client's address
and port, mod 256) it owns among heartbeatd's members. What a client sees: every
request answered by exactly one node, the load spread evenly; when a node loses its
power its clients move to the others within a few seconds and nobody else notices;
when it comes back it takes back its share, and live TCP connections stay where they
are through both moves; the weights shift the shares; a node stopped with skyctl, or
whose vipd crashed, keeps no table nor VIP; bad files are refused with
file:line:column and the field.
"""

import collections
import os
import re
import signal
import subprocess
import time

from farm_buckets_lab import VIP4, VIPD, farm_buckets_lab
from lab import run

BOUND_S = 15


def _spread(lab, count, first_port, vip=VIP4):
    seen = lab.udp_spread(count, first_port, vip)
    missing = [p for p, nodes in seen.items() if not nodes]
    twice = {p: nodes for p, nodes in seen.items() if len(nodes) > 1}
    assert not missing, f"{len(missing)} of {count} requests unanswered: {missing[:10]}"
    assert not twice, f"{len(twice)} requests answered more than once: " \
                      f"{list(twice.items())[:10]}"
    return collections.Counter(nodes[0] for nodes in seen.values())


@farm_buckets_lab(size=3)
def test_buckets_every_request_answered_once_and_spread_evenly(lab):
    lab.start_cluster()
    owned = lab.wait_buckets(lab.nodes)
    # TCP first, while no node knows the client's MAC: a node asks for it from the
    # VIP (the source of its answer), and that request must not teach the client the
    # node's own MAC for the VIP.
    lab.start_tcp_sessions("first", 42000, 6)
    time.sleep(0.5)
    vmac = lab.vipd_state("node1")["buckets"]["vmac"]
    assert lab.client_neigh() == vmac, (lab.client_neigh(), vmac)
    share = _spread(lab, 1000, 20000)
    print(f"    buckets owned {owned}; 1000 clients answered by {dict(share)}", flush=True)
    assert set(share) == set(lab.nodes), share
    for node, n in share.items():
        assert 1000 / 3 * 0.8 <= n <= 1000 / 3 * 1.2, (node, share)
    # vipd's share is in heartbeatd's status (actuators.vipd.detail).
    st = lab.status("node1")
    detail = st["actuators"]["vipd"]["detail"]
    assert detail["buckets"]["owned"] == owned["node1"], detail
    res = lab.skyctl("node1", "status")
    assert res.rc == 0 and f"load:      {owned['node1']}/256 buckets on this node (3 " \
        "members" in res.out, res
    # ...and every member's load, computed as vipd computes it.
    for node in lab.nodes:
        assert re.search(rf"{node} +UP +yes +\d+% +{owned[node]}/256 ", res.out), res.out
    # The client knows the VIP at the virtual MAC, which no node sends from.
    assert lab.client_neigh() == detail["buckets"]["vmac"], \
        (lab.client_neigh(), detail["buckets"]["vmac"])


def _rounds(lab):
    """{round: {port: [nodes]}} and {round: sent_at} from the UDP prober."""
    answers, sent = lab.udp_watch()
    per = collections.defaultdict(lambda: collections.defaultdict(list))
    for _t, rnd, port, node in answers:
        per[rnd][port].append(node)
    return per, sent


def _wait_all_answered(lab, ports, after, timeout=BOUND_S, but=None):
    """The first round sent after `after` in which every port got an answer (from
    another node than `but`)."""
    deadline = time.monotonic() + timeout
    while True:
        per, sent = _rounds(lab)
        for rnd in sorted(r for r, t in sent.items() if t >= after):
            if rnd + 2 in sent and all(per[rnd].get(p) and but not in per[rnd][p]
                                       for p in ports):
                return rnd, sent[rnd]
        if time.monotonic() >= deadline:
            raise AssertionError(f"the clients of {len(ports)} ports were not all "
                                 f"answered again within {timeout:g} s")
        time.sleep(0.1)


@farm_buckets_lab(size=3)
def test_buckets_node_killed_and_back_moves_only_its_clients_and_keeps_tcp(lab):
    kill_and_return(lab, VIP4)


def kill_and_return(lab, vip):
    """node2 loses its power and comes back, under UDP clients and TCP sessions
    to `vip` (test_farm_buckets_v6.py runs it over IPv6)."""
    lab.start_cluster()
    lab.wait_buckets(lab.nodes)
    ports = list(range(30000, 30060))
    lab.start_udp_watch(30000, len(ports), vip=vip)
    lab.start_tcp_sessions("early", 40000, 30, vip=vip)
    time.sleep(1.0)
    per, sent = _rounds(lab)
    settled = max(r for r in sent if r + 2 in sent)
    owner = {p: per[settled][p] for p in ports}
    assert all(len(v) == 1 for v in owner.values()), owner
    owner = {p: v[0] for p, v in owner.items()}
    theirs = [p for p in ports if owner[p] == "node2"]
    others = [p for p in ports if owner[p] != "node2"]
    assert theirs and others, owner

    # Power cut of node2: its clients move to node1 and node3.
    t_kill = time.monotonic()
    lab.kill_node("node2")
    lab.wait_members(["node1", "node3"], ["node1", "node3"], BOUND_S)
    lab.wait_buckets(["node1", "node3"])
    rnd, t_back = _wait_all_answered(lab, theirs, t_kill, but="node2")
    moved_s = t_back - t_kill
    # New sessions while node2 is away: some in buckets that go back to it.
    lab.start_tcp_sessions("outage", 41000, 30, vip=vip)
    time.sleep(1.0)

    # node2 returns: it takes back its buckets, and only those.
    t_restart = time.monotonic()
    lab.restart_node("node2")
    lab.wait_members(lab.nodes, lab.nodes, BOUND_S)
    lab.wait_buckets(lab.nodes)
    rnd2, _ = _wait_all_answered(lab, ports, t_restart)
    time.sleep(1.5)
    t_end = time.monotonic()
    per, sent = _rounds(lab)

    # Clients of node1 and node3 saw no error: every round answered once, by the
    # same node, from before the kill to after the return.
    bad = []
    for r, t in sorted(sent.items()):
        if r < settled or t > t_end - 0.5:
            continue
        for p in others:
            if per[r].get(p) != [owner[p]]:
                bad.append((r, round(t - t_kill, 2), p, owner[p], per[r].get(p)))
    assert not bad, f"{len(bad)} answers differ for clients of the survivors: {bad[:10]}"
    # node2's clients were served by the others after the kill, and by node2 again
    # once it was back.
    last = max(r for r in sent if r + 2 in sent)
    later = [p for p in theirs if per[last].get(p) != ["node2"]]
    assert not later, f"node2's clients not back on node2: " \
                      f"{[(p, per[last].get(p)) for p in later]}"
    assert all(per[rnd][p] and "node2" not in per[rnd][p] for p in theirs)

    # TCP: every session on a survivor lived through both moves, on the same node.
    early, outage = lab.tcp_sessions("early"), lab.tcp_sessions("outage")
    broken = []
    for tag, sessions in (("early", early), ("outage", outage)):
        for i, s in sessions.items():
            first = s["nodes"][0] if s["nodes"] else None
            if first == "node2" and tag == "early":
                continue
            if s["errors"] or set(s["nodes"]) != {first} or s["last"] < t_end - 1.0:
                broken.append((tag, i, first, s["errors"], sorted(set(s["nodes"]))))
    assert not broken, f"TCP sessions broken: {broken}"
    # ...and some of them were in buckets node2 took back: node2 saw their segments
    # and left them to their node.
    left_alone, _ = lab.nft_counter("node2", "midflow" if vip == VIP4 else "midflow6")
    # Every node answered its TCP clients from the VIP, asking for their MAC from
    # the VIP too: the client still has the VIP at the virtual MAC.
    vmac = lab.vipd_state("node1")["buckets"]["vmac"]
    assert lab.client_neigh(vip) == vmac, (lab.client_neigh(vip), vmac)
    assert left_alone > 0, "no session of the outage was in a bucket node2 took back"
    on_node2 = [s for s in early.values() if s["nodes"] and s["nodes"][0] == "node2"]
    # Those on node2 were reset by their bucket's new owner, not left to time out.
    hung = [(s["errors"], s["error_at"] and round(s["error_at"] - t_kill, 2))
            for s in on_node2 if s["errors"] != ["ConnectionResetError"]
            or s["error_at"] - t_kill > 4.0]
    assert not hung, f"node2's sessions not reset promptly: {hung}"
    reset_s = max(s["error_at"] - t_kill for s in on_node2) if on_node2 else 0.0
    print(f"    {vip}: node2 killed: its {len(theirs)} of {len(ports)} UDP clients answered "
          f"again {moved_s:.2f} s later (heartbeat timeout {lab.timeout_ms} ms); "
          f"{len(others)} others never missed an answer; node2 left {left_alone} segments "
          f"of the others' sessions alone; {len(on_node2)} TCP sessions on "
          f"node2 reset within {reset_s:.2f} s; {sum(1 for s in early.values() if s['nodes'] and s['nodes'][0] != 'node2')}"
          f" early and {len(outage)} outage TCP sessions on node1/node3 alive after "
          f"node2's return", flush=True)


@farm_buckets_lab(size=3, weights={"node1": 2}, hash_field="address")
def test_buckets_by_address_follow_the_weights(lab):
    lab.start_cluster()
    owned = lab.wait_buckets(lab.nodes)
    # weight 2:1:1: about 128, 64, 64 buckets (within 20 %)
    for node, want in (("node1", 128), ("node2", 64), ("node3", 64)):
        assert want * 0.8 <= owned[node] <= want * 1.2, owned
    addresses = lab.add_client_addresses(101, 250)
    seen = lab.udp_spread_from(addresses)
    missing = [a for a, nodes in seen.items() if not nodes]
    twice = {a: nodes for a, nodes in seen.items() if len(nodes) > 1}
    assert not missing and not twice, (missing[:10], list(twice.items())[:10])
    share = collections.Counter(nodes[0] for nodes in seen.values())
    # Each client address always lands on the same node (a second round agrees).
    again = lab.udp_spread_from(addresses, port=20001)
    assert all(again[a] == seen[a] for a in addresses), \
        [(a, seen[a], again[a]) for a in addresses if again[a] != seen[a]][:10]
    print(f"    weights 2:1:1: buckets {owned}; {len(addresses)} client addresses "
          f"answered by {dict(share)}", flush=True)
    assert share["node1"] > share["node2"] and share["node1"] > share["node3"], share


@farm_buckets_lab(size=2)
def test_buckets_bad_files_name_file_line_and_field(lab):
    good = lab.config_text()
    ok = subprocess.run([VIPD, "-n", "--config", lab.config], capture_output=True,
                        text=True, timeout=10)
    assert ok.returncode == 0 and ok.stdout.strip() == "configuration OK", ok
    cases = [
        # bucket mode in a mirror module
        (good.replace("  type: farm\n", "  type: mirror\n").replace(
            "transitions:\n", "quorum: none\ntransitions:\n"), "  lb: buckets",
         "vipd.lb: buckets needs module.type: farm"),
        # bucket settings without bucket mode
        (good.replace("  lb: buckets\n", ""), "    hash:",
         "vipd.buckets: only with vipd.lb: buckets"),
        # an unknown hash field
        (good.replace("    hash: address_port", "    hash: port"), "    hash: port",
         "vipd.buckets.hash: must be address or address_port"),
    ]
    for i, (text, marker, says) in enumerate(cases):
        path = lab.write_config(os.path.join(lab.dir, f"bad{i}.yaml"), text)
        line = next(n for n, l in enumerate(text.splitlines(), 1) if l.startswith(marker))
        res = subprocess.run([VIPD, "-n", "--config", path], capture_output=True,
                             text=True, timeout=10)
        assert res.returncode == 1, res
        assert f"bad{i}.yaml:{line}:" in res.stderr and says in res.stderr, \
            (marker, res.stderr)


@farm_buckets_lab(size=3)
def test_buckets_stopped_node_leaves_no_tables_and_leftovers_go_at_start(lab):
    lab.start_cluster()
    lab.wait_buckets(lab.nodes)
    res = lab.skyctl("node3", "stop")
    assert res.rc == 0, res
    lab.wait_members(lab.nodes, ["node1", "node2"], BOUND_S)
    lab.wait_buckets(["node1", "node2"])
    lab.wait_vipd_state("node3", "down")
    assert "skyha_app" not in lab.nft_tables("node3"), lab.nft_tables("node3")
    assert VIP4 not in lab.addresses("node3"), lab.addresses("node3")
    share = _spread(lab, 300, 21000)
    assert set(share) == {"node1", "node2"}, share
    # A crash leaves tables and the VIP behind: vipd removes them when it starts
    # on a node that does not serve.
    lab.kill_daemon("node3", "vipd")
    leftover = "".join(
        f"table {family} skyha_app {{\n chain c {{\n  type filter hook {hook} "
        f"priority 0; policy accept;\n }}\n}}\n"
        for family, hook in (("inet", "prerouting"), ("arp", "input"),
                             ("netdev", 'ingress device "eth0"')))
    subprocess.run(["ip", "netns", "exec", lab.ns("node3"), "nft", "-f", "-"],
                   input=leftover, text=True, check=True, timeout=10)
    assert lab.nft_tables("node3").count("skyha_app") == 3, lab.nft_tables("node3")
    run(["ip", "-n", lab.ns("node3"), "addr", "add", f"{VIP4}/24", "dev", "eth0"])
    lab.start_vipd("node3")
    lab.wait_vipd_state("node3", "down", lambda s: s["counters"]["leftovers_removed"] >= 1)
    deadline = time.monotonic() + 5
    while "skyha_app" in lab.nft_tables("node3") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "skyha_app" not in lab.nft_tables("node3"), lab.nft_tables("node3")
    assert VIP4 not in lab.addresses("node3")
    # And back: node3 takes its share again.
    res = lab.skyctl("node3", "start")
    assert res.rc == 0, res
    owned = lab.wait_buckets(lab.nodes)
    share = _spread(lab, 300, 22000)
    assert set(share) == set(lab.nodes), (owned, share)


@farm_buckets_lab(size=3)
def test_buckets_ruleset_put_back_after_a_firewall_reload(lab):
    lab.start_cluster()
    lab.wait_buckets(lab.nodes)
    _spread(lab, 300, 23000)
    t0 = time.monotonic()
    run(["ip", "netns", "exec", lab.ns("node1"), "nft", "flush", "ruleset"])
    st = lab.wait_vipd_state("node1", "up", lambda s: s["buckets"]["restored"] >= 1)
    took = time.monotonic() - t0
    assert lab.nft_tables("node1").count("skyha_app") == 3, lab.nft_tables("node1")
    share = _spread(lab, 300, 24000)
    assert set(share) == set(lab.nodes), share
    print(f"    node1's tables flushed: put back within {took:.2f} s "
          f"(buckets {st['buckets']})", flush=True)


@farm_buckets_lab(size=3)
def test_buckets_vipd_killed_on_a_node_its_clients_keep_their_answers(lab):
    """The data path is the kernel's: vipd dying (kill -9) changes nobody's bucket,
    and vipd started again takes over the tables it finds without a gap."""
    lab.start_cluster()
    before = lab.wait_buckets(lab.nodes)
    ports = list(range(31000, 31060))
    lab.start_udp_watch(31000, len(ports))
    time.sleep(0.6)
    t_kill = time.monotonic()
    lab.kill_daemon("node3", "vipd")
    time.sleep(2.0)
    lab.start_vipd("node3")
    assert lab.wait_buckets(lab.nodes) == before
    time.sleep(1.0)
    t_end = time.monotonic()
    per, sent = _rounds(lab)
    rounds = [r for r, t in sent.items() if t_kill - 0.3 <= t <= t_end - 0.5]
    owner = {p: per[rounds[0]].get(p) for p in ports}
    assert all(v and len(v) == 1 for v in owner.values()), owner
    bad = [(r, p, per[r].get(p)) for r in rounds for p in ports if per[r].get(p) != owner[p]]
    assert not bad, f"{len(bad)} answers missing or moved: {bad[:10]}"
    on3 = sum(1 for v in owner.values() if v == ["node3"])
    print(f"    vipd killed on node3 for 2 s: {len(rounds)} rounds of {len(ports)} "
          f"clients ({on3} on node3) all answered by the same node", flush=True)


@farm_buckets_lab(size=3)
def test_buckets_weight_change_on_reload_moves_the_share_and_breaks_no_tcp(lab):
    """systemctl reload (SIGHUP) of vipd on every node applies a new weight: the
    shares follow it, and the TCP connections open across the change all live on,
    on the node that had them."""
    lab.start_cluster()
    before = lab.wait_buckets(lab.nodes)
    lab.start_tcp_sessions("steady", 43000, 40)
    # A reload of the same file says so, as every daemon's does.
    lab.reload_vipd("node1")
    _wait_log(lab, "node1", "reload: configuration unchanged (")
    time.sleep(1.0)
    # node1 weighs 3 in the file (every node's: one file in the lab), then reload.
    lab.weights = {"node1": 3}
    lab.write_config(lab.config)
    for node in lab.nodes:
        lab.reload_vipd(node)
        lab.signal_daemon(node, "heartbeatd", signal.SIGHUP)
    deadline = time.monotonic() + BOUND_S
    while True:
        states = {n: lab.vipd_state(n) for n in lab.nodes}
        if all(st and st["buckets"]["reloads"] >= 1 for st in states.values()):
            break
        assert time.monotonic() < deadline, {n: (st or {}).get("buckets")
                                              for n, st in states.items()}
        time.sleep(0.05)
    after = lab.wait_buckets(lab.nodes)
    # heartbeatd took the weights too: every node's status gives them (skyctl's shares).
    for node in lab.nodes:
        _wait_log(lab, node, "reload: weights applied live (node1 1 -> 3)", "heartbeatd")
        weights = {e["name"]: e["weight"] for e in lab.status(node)["nodes"]}
        assert weights == {"node1": 3, "node2": 1, "node3": 1}, (node, weights)
    # 3:1:1: node1 about 154 of 256; the others only gave buckets away.
    assert 256 * 3 / 5 * 0.8 <= after["node1"] <= 256 * 3 / 5 * 1.2, (before, after)
    assert after["node2"] <= before["node2"] and after["node3"] <= before["node3"], \
        (before, after)
    share = _spread(lab, 1000, 25000)
    assert 1000 * 3 / 5 * 0.8 <= share["node1"] <= 1000 * 3 / 5 * 1.2, (after, share)
    time.sleep(1.5)
    t_end = time.monotonic()
    sessions = lab.tcp_sessions("steady")
    broken = [(i, s["errors"], sorted(set(s["nodes"]))) for i, s in sessions.items()
              if s["errors"] or len(set(s["nodes"])) != 1 or s["last"] < t_end - 1.0]
    assert len(sessions) == 40 and not broken, f"TCP sessions broken: {broken}"
    # Some of them were in buckets node1 took: it saw their segments and left them
    # to the node that has them (no reset: that node is alive).
    left_alone, _ = lab.nft_counter("node1", "midflow")
    elsewhere = sum(1 for s in sessions.values() if s["nodes"][0] != "node1")
    assert left_alone > 0, "no session elsewhere was in a bucket node1 took"
    # Anything else than weights is not applied live: logged, nothing moves.
    text = lab.config_text().replace("announce: {repeat: 3", "announce: {repeat: 4")
    assert "repeat: 4" in text
    lab.write_config(lab.config, text)
    lab.reload_vipd("node1")
    _wait_log(lab, "node1", "configuration changed: restart skyha-vipd@")
    st = lab.vipd_state("node1")
    assert st["buckets"]["reloads"] == 1 and st["buckets"]["owned"] == after["node1"], st
    # A file that does not validate (no unit's --check in front here): refused with
    # file:line:column and the field, counted, nothing changes.
    bad = text.replace("    weight: 3\n", "    weight: 300\n")
    assert bad != text
    lab.write_config(lab.config, bad)
    line = next(n for n, l in enumerate(bad.splitlines(), 1) if l == "    weight: 300")
    lab.reload_vipd("node2")
    _wait_log(lab, "node2", f"reload: {lab.config}:{line}:")
    with open(lab.vipd_log_path("node2")) as f:
        assert "nodes[0].weight" in f.read().split("reload: ")[-1]
    st = lab.wait_vipd_state("node2", "up", lambda s: s["buckets"]["reload_errors"] == 1)
    assert st["buckets"]["owned"] == after["node2"], st
    print(f"    weight of node1 1 -> 3 by reload: buckets {before} -> {after}; "
          f"1000 clients answered by {dict(share)}; "
          f"{len(sessions)} TCP sessions ({elsewhere} on node2/node3) unbroken, node1 "
          f"left {left_alone} of their segments alone", flush=True)


def _wait_log(lab, node, text, daemon="vipd"):
    path = lab.vipd_log_path(node) if daemon == "vipd" else lab.log_path(node)
    deadline = time.monotonic() + BOUND_S
    while True:
        with open(path) as f:
            if text in f.read():
                return
        assert time.monotonic() < deadline, f"{node}'s {daemon} did not log {text!r}"
        time.sleep(0.05)
