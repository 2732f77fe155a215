"""Cluster tests: a farm spreading its clients without a load balancer (vipd.lb: buckets).

Three nodes (tests/lab/farm_buckets_lab.py) hold the VIP 198.18.0.100 at once; vipd
answers ARP for it with the module's virtual MAC, the bridge floods the clients' frames
to every node, and each node accepts only the buckets (jhash of the client's address
and port, mod 256) it owns among heartbeatd's members. What a client sees: every
request answered by exactly one node, the load spread evenly; when a node loses its
power its clients move to the others within a few seconds and nobody else notices;
when it comes back it takes back its share, and live TCP connections stay where they
are through both moves.
"""

import collections
import time

from farm_buckets_lab import farm_buckets_lab

BOUND_S = 15


def _spread(lab, count, first_port):
    seen = lab.udp_spread(count, first_port)
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
    share = _spread(lab, 1000, 20000)
    print(f"    buckets owned {owned}; 1000 clients answered by {dict(share)}", flush=True)
    assert set(share) == set(lab.nodes), share
    for node, n in share.items():
        assert 1000 / 3 * 0.8 <= n <= 1000 / 3 * 1.2, (node, share)
    # vipd's share is in heartbeatd's status (actuators.vipd.detail).
    st = lab.status("node1")
    detail = st["actuators"]["vipd"]["detail"]
    assert detail["buckets"]["owned"] == owned["node1"], detail
