"""Cluster tests: a farm with quorum: etcd (issue 18), real heartbeatd, real etcd.

A farm needs no quorum to serve (each side of a partition serves), but an operator may
want each node to serve only while the majority of an etcd cluster sees it: `quorum:
etcd` in a farm. Each node keeps a lease of its own (no leader key); a node whose lease
can no longer be renewed leaves UP before etcd could expire it, and comes back by itself
once etcd answers again (tests/lab/etcd_lab.py: three etcd members in namespaces).

- A node cut off from every etcd member leaves the farm; the others keep serving and
  their members drop it; healed, it rejoins.
- etcd losing its majority: no node can renew its lease, so every node stops serving
  (documented: that is what quorum means); etcd back, every node serves again.
"""

from etcd_lab import EtcdLab
from farm_lab import FarmConfig, FarmMembers
from lab import describe, lab_options

BOUND_S = 20
NODES = ["node1", "node2", "node3"]


class FarmEtcdLab(FarmConfig, FarmMembers, EtcdLab):
    """Three farm nodes (heartbeatd alone) with quorum: etcd."""

    def __init__(self, **kw):
        kw["quorum"] = "etcd"
        super().__init__(**kw)

    def start_cluster(self, timeout=30.0):
        self.start_etcd()
        return FarmMembers.start_cluster(self, timeout)


def farm_etcd_lab(**options):
    return lab_options(lab_class=FarmEtcdLab, **options)


@farm_etcd_lab(size=3)
def test_farm_node_cut_from_etcd_leaves_and_rejoins_when_healed(lab):
    st = lab.start_cluster()
    for node in NODES:
        assert st[node]["quorum"]["mode"] == "etcd", st[node]["quorum"]
        assert st[node]["quorum"]["have"] is True, st[node]["quorum"]
        assert st[node]["etcd"]["lease_id"] not in ("", "0"), st[node]["etcd"]
    lab.cut_from_etcd("node2")
    st2 = lab.wait_for("node2", lambda s: s["node"]["role"] == "WAIT",
                       "out of the farm without etcd", BOUND_S)
    assert "no quorum" in st2["transition"]["reason"], describe(st2)
    lab.wait_members(NODES, ["node1", "node3"], BOUND_S)
    lab.heal_partition()
    lab.wait_members(NODES, NODES, BOUND_S)
    assert lab.status("node2")["node"]["role"] == "UP"


@farm_etcd_lab(size=3)
def test_farm_stops_everywhere_when_etcd_loses_its_majority_and_comes_back(lab):
    lab.start_cluster()
    lab.kill_etcd(1)
    lab.kill_etcd(2)
    for node in NODES:
        st = lab.wait_for(node, lambda s: s["node"]["role"] == "WAIT",
                          "not serving without etcd's majority", BOUND_S)
        assert "no quorum" in st["transition"]["reason"], describe(st)
    lab.wait_members(NODES, [], BOUND_S)
    lab.restart_etcd(1)
    lab.restart_etcd(2)
    lab.wait_members(NODES, NODES, 40)
