"""Cluster tests: bucket mode over IPv6 (vipd.lb: buckets with an IPv6 VIP).

The same farm as test_farm_buckets.py with the VIP fd00:198:18::100/64 (a ULA prefix)
or both families (dual stack). What is checked here is what differs from IPv4: the
client learns the VIP at the virtual MAC through neighbour discovery - vipd answers the
solicitations, the kernel's own advertisements never leave, and the solicitations a
node sends from the VIP to reach a client carry the virtual MAC too - and then the same
bucket decision on the IPv6 source address: every request answered once, the load
spread, a node's power cut moving only its clients, its return keeping established TCP
connections where they are.
"""

import collections

from farm_buckets_lab import CLIENT6, VIP4, VIP6, farm_buckets_lab
from lab import run
from test_farm_buckets import _spread, kill_and_return


@farm_buckets_lab(size=3, families=(6,))
def test_buckets_ipv6_every_request_answered_once_and_spread_evenly(lab):
    lab.start_cluster()
    owned = lab.wait_buckets(lab.nodes)
    # TCP first: the client learns the VIP at the virtual MAC from vipd's answers
    # (the kernels' own are dropped).
    lab.start_tcp_sessions("first", 42000, 6, vip=VIP6)
    st = lab.vipd_state("node1")
    vmac = st["buckets"]["vmac"]
    assert lab.client_neigh(VIP6) == vmac, (lab.client_neigh(VIP6), vmac)
    # The nodes learnt the client's MAC from its solicitations; forget it, so that
    # answering the clients below makes each node ask for it from the VIP.
    for node in lab.nodes:
        run(["ip", "-n", lab.ns(node), "neigh", "flush", "dev", "eth0"])
    share = _spread(lab, 1000, 20000, vip=VIP6)
    print(f"    buckets owned {owned}; 1000 IPv6 clients answered by {dict(share)}",
          flush=True)
    assert set(share) == set(lab.nodes), share
    for node, n in share.items():
        assert 1000 / 3 * 0.8 <= n <= 1000 / 3 * 1.2, (node, share)
    # Every node answered the client's solicitations with the virtual MAC, and none
    # of them ever advertised its own for the VIP (their kernels tried: dropped).
    replies = {n: lab.vipd_state(n)["buckets"]["na_replies"] for n in lab.nodes}
    assert all(r >= 1 for r in replies.values()), replies
    neigh = lab.node_arp_sources("node1")
    assert neigh.get(CLIENT6), neigh
    assert lab.client_neigh(VIP6) == vmac, (lab.client_neigh(VIP6), vmac)
    sessions = lab.tcp_sessions("first")
    assert all(s["nodes"] and not s["errors"] for s in sessions.values()), sessions
    # The kernels did try, both ways: the output chain dropped their advertisements
    # and rewrote their solicitations (its two rules count).
    tried = {n: lab.nft_counter(n, "output")[0] for n in lab.nodes}
    assert all(t >= 1 for t in tried.values()), tried
    # With no IPv4 VIP the arp table is there all the same (empty): vipd's check
    # that its three tables are in place finds them, and never puts them back.
    for node in lab.nodes:
        assert lab.nft_tables(node).count("skyha_app") == 3, lab.nft_tables(node)
        assert lab.vipd_state(node)["buckets"]["restored"] == 0, lab.vipd_state(node)


@farm_buckets_lab(size=3, families=(6,))
def test_buckets_ipv6_node_killed_and_back_moves_only_its_clients_and_keeps_tcp(lab):
    kill_and_return(lab, VIP6)


@farm_buckets_lab(size=3, families=(4, 6), hash_field="address")
def test_buckets_dual_stack_many_ipv6_client_addresses_spread_over_the_nodes(lab):
    lab.start_cluster()
    owned = lab.wait_buckets(lab.nodes)
    addresses = lab.add_client_addresses6(900)
    # A first round lets each owner resolve its clients' MACs (900 neighbour
    # solicitations from the VIPs at once; a lost one is sent again after 1 s, past
    # the helper's wait): counted, not asserted. The rounds after must be exact.
    first = lab.udp_spread_from(addresses, port=19999, vip=VIP6)
    late = sum(1 for nodes in first.values() if not nodes)
    seen = lab.udp_spread_from(addresses, vip=VIP6)
    missing = [a for a, nodes in seen.items() if not nodes]
    twice = {a: nodes for a, nodes in seen.items() if len(nodes) > 1}
    assert not missing and not twice, (len(missing), missing[:10], list(twice.items())[:10])
    share = collections.Counter(nodes[0] for nodes in seen.values())
    # Each node's share of the client addresses follows its share of the buckets.
    for node in lab.nodes:
        want = len(addresses) * owned[node] / 256
        assert abs(share[node] - want) <= 0.2 * len(addresses) / 3, (node, share, owned)
    # Each address stays on its node (a second round agrees), whatever its port.
    again = lab.udp_spread_from(addresses, port=20001, vip=VIP6)
    moved = [(a, seen[a], again[a]) for a in addresses if again[a] != seen[a]]
    assert not moved, moved[:10]
    # The IPv4 VIP of the same farm keeps working next to it.
    v4 = lab.udp_spread_from(lab.add_client_addresses(101, 160), vip=VIP4)
    assert all(len(nodes) == 1 for nodes in v4.values()), v4
    print(f"    dual stack, hash address: buckets {owned}; {len(addresses)} IPv6 "
          f"client addresses answered by {dict(share)} ({late} unanswered within 1 s in "
          f"the first round: neighbour resolution); 60 IPv4 addresses by "
          f"{dict(collections.Counter(n[0] for n in v4.values()))}", flush=True)
