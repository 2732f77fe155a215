"""Cluster tests: vipd holds the virtual IP where the module serves, and only there.

The nodes and the client share network 0 (one L2 segment). The VIPs are 198.18.0.100/24
and 2001:2::100/64 on eth0 (tests/lab/vipd_lab.py), with transitions.order [vipd]. A UDP
echo server on every node answers with the node's name, so the client sees which node
the VIP reaches. What is checked is what a user would see: which node answers through
the VIP, the client's neighbour table, the ARP packets on the wire, the addresses on the
interfaces, and the reason heartbeatd and vipd give.
"""

import os
import subprocess
import time

from lab import describe
from vipd_lab import VIP4, VIP6, VIPD, describe_vipd, vipd_lab

BOUND_S = 10


def _primary_holds(lab, node="node1", other="node2"):
    lab.wait_for(node, lambda s: s["node"]["serving"] is True,
                 "serving (vipd reported the addresses up)", BOUND_S)
    st = lab.wait_vipd(node, lambda s: s["state"] == "up", "up", BOUND_S)
    assert all(a["present"] for a in st["addresses"]), describe_vipd(st)
    lab.wait_vipd(other, lambda s: s["state"] == "down", "down", BOUND_S)
    for addr in (VIP4, VIP6):
        assert lab.holds(node, addr), f"{node} does not hold {addr}: {lab.addresses(node)}"
        assert not lab.holds(other, addr), f"{other} also holds {addr}"


@vipd_lab()
def test_vip_held_by_primary_only(lab):
    lab.start_cluster()
    _primary_holds(lab)
    lab.start_client()
    lab.wait_reply_from("node1", BOUND_S)
    st = lab.status("node1")
    assert st["actuators"]["vipd"]["state"] == "up", describe(st)
    mac, state = lab.client_neigh()
    assert mac == lab.mac("node1"), (mac, state, lab.mac("node1"))
    assert not any(who == "node2" for _t, _s, who in lab.replies())


@vipd_lab()
def test_primary_killed_client_follows_vip_to_new_primary(lab):
    lab.start_cluster()
    _primary_holds(lab)
    lab.start_client()
    lab.wait_reply_from("node1", BOUND_S)
    node1_mac, node2_mac = lab.mac("node1"), lab.mac("node2")
    assert lab.client_neigh()[0] == node1_mac
    lab.start_arp_watch()
    with lab.watch_serving():
        lab.kill_node("node1")
        lab.wait_for("node2", lambda s: s["node"]["serving"] is True,
                     "serving after node1 died", BOUND_S)
    t = lab.wait_reply_from("node2", BOUND_S)
    assert lab.holds("node2", VIP4) and lab.holds("node2", VIP6)
    mac, state = lab.client_neigh()
    assert mac == node2_mac, f"client's entry for {VIP4}: {mac} {state}, node2 is {node2_mac}"
    # node2 told the segment: gratuitous ARP (sender = target = VIP) from its MAC.
    garps = [a for a in lab.arp_seen()
             if a[2] == node2_mac and a[3] == VIP4 and a[4] == VIP4 and a[1] == 1]
    assert garps, f"no gratuitous ARP from node2 seen by the client: {lab.arp_seen()}"
    # Every answer after the first from node2 is node2's (node1 is gone).
    assert all(who == "node2" for ts, _s, who in lab.replies() if ts >= t)


@vipd_lab()
def test_swap_moves_vip_and_releases_it_on_the_old_primary(lab):
    lab.start_cluster()
    _primary_holds(lab)
    lab.start_client()
    lab.wait_reply_from("node1", BOUND_S)
    rc, out = lab.skyctl("node1", "swap")
    assert rc == 0, out
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
    _primary_holds(lab, "node2", "node1")
    t = lab.wait_reply_from("node2", BOUND_S)
    assert lab.client_neigh()[0] == lab.mac("node2")
    assert all(who == "node2" for ts, _s, who in lab.replies() if ts > t)


@vipd_lab()
def test_leftover_vip_removed_at_start(lab):
    # node2 crashed while it held the VIPs: they are still on its interface.
    lab.add_address("node2", f"{VIP4}/24")
    lab.add_address("node2", f"{VIP6}/64")
    lab.start_cluster()
    st = lab.wait_vipd("node2", lambda s: s["state"] == "down"
                       and s["counters"]["leftovers_removed"] == 2,
                       "leftovers removed", BOUND_S)
    assert not lab.holds("node2", VIP4) and not lab.holds("node2", VIP6), describe_vipd(st)
    _primary_holds(lab)


@vipd_lab()
def test_vip_used_by_another_host_is_reported(lab):
    lab.add_address("client", f"{VIP4}/24")
    client_mac = lab.mac("client")
    lab.start_cluster()
    st = lab.wait_vipd("node1", lambda s: s["counters"]["probe_conflicts"] >= 1,
                       "conflict counted", BOUND_S)
    assert client_mac in st["reason"] and "conflict" in st["reason"], describe_vipd(st)
    assert [a["conflict_mac"] for a in st["addresses"] if a["address"].startswith(VIP4)] \
        == [client_mac], describe_vipd(st)
    # on_conflict: report - taken anyway, and heartbeatd sees the reason.
    _primary_holds(lab)
    hb = lab.status("node1")
    assert client_mac in hb["actuators"]["vipd"]["reason"], describe(hb)


@vipd_lab(on_conflict="fail")
def test_vip_conflict_fails_the_promotion_when_configured(lab):
    lab.add_address("client", f"{VIP4}/24")
    lab.start_witness()
    for node in lab.nodes:
        lab.start_node(node)
    _node, st = lab.wait_failed_transition("already used by", BOUND_S)
    assert "vipd" in st["transition"]["reason"], describe(st)
    assert lab.mac("client") in st["transition"]["reason"], describe(st)
    assert not lab.holds("node1", VIP4) and not lab.holds("node2", VIP4)


@vipd_lab()
def test_invalid_vipd_config_names_file_line_and_field(lab):
    bad = lab.config_text().replace(f"address: {VIP4}/24", f"address: {VIP4}/33")
    path = lab.write_config(os.path.join(lab.dir, "bad.yaml"), bad)
    line = next(i for i, l in enumerate(bad.splitlines(), 1) if "/33" in l)
    res = subprocess.run([VIPD, "-n", "--config", path], capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == 1, res
    assert f"bad.yaml:{line}:" in res.stderr, res.stderr
    assert "vipd.addresses[0].address" in res.stderr and "prefix" in res.stderr, res.stderr
    ok = subprocess.run([VIPD, "-n", "--config", lab.config], capture_output=True,
                        text=True, timeout=10)
    assert ok.returncode == 0 and ok.stdout.strip() == "configuration OK", ok


@vipd_lab()
def test_primary_killed_ipv6_neighbour_follows_unsolicited_na(lab):
    # The client knows VIP6 at node1's MAC (it sent to it); after node1 dies it sends
    # nothing more to VIP6, so only node2's unsolicited neighbour advertisement (with
    # the Override flag, and a checksum the kernel accepts) can change its entry.
    lab.add_address("client", "2001:2::20/64")
    lab.start_cluster()
    _primary_holds(lab)
    # One datagram from the client makes its kernel resolve VIP6 (NS, solicited NA).
    send = subprocess.run(["ip", "netns", "exec", lab.ns("client"), "/usr/bin/python3", "-c",
                           "import socket, sys; socket.socket(socket.AF_INET6, "
                           "socket.SOCK_DGRAM).sendto(b'x', (sys.argv[1], 7000))", VIP6],
                          capture_output=True, text=True, timeout=15)
    assert send.returncode == 0, send.stderr
    deadline = time.monotonic() + BOUND_S
    while lab.client_neigh(VIP6)[0] is None:
        assert time.monotonic() < deadline, f"the client never resolved {VIP6}"
        time.sleep(0.05)
    node1_mac, node2_mac = lab.mac("node1"), lab.mac("node2")
    assert lab.client_neigh(VIP6)[0] == node1_mac, lab.client_neigh(VIP6)
    lab.kill_node("node1")
    lab.wait_for("node2", lambda s: s["node"]["serving"] is True,
                 "serving after node1 died", BOUND_S)
    deadline = time.monotonic() + BOUND_S
    while lab.client_neigh(VIP6)[0] != node2_mac:
        assert time.monotonic() < deadline, \
            f"client's entry for {VIP6}: {lab.client_neigh(VIP6)}, node2 is {node2_mac}"
        time.sleep(0.05)
