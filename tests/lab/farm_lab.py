#!/usr/bin/python3
"""farm_lab.py - the namespace lab with a farm module: N nodes, the application on each.

FarmLab is a CheckdLab (checkd_lab.py) whose module file says `type: farm` (its
scripts named start_both and stop_both), lists
node1..nodeN (N = `size`, 2 to 4 here; node3 is 198.18.i.3, node4 198.18.i.4) with
their `weight`s, has no witness and no default primary (a farm has neither), and
`transitions: order: [checkd]` (plus `rejoin_after_ms` when asked). Each node runs
heartbeatd and checkd; checkd starts the sample application (examples/app: an HTTP
server on the node's address, port 8080) on every UP node. `size=1, light=True` gives a
light module (one node).

members(node) is the node's membership view from `skyctl status --json`;
wait_members() waits until every given node sees exactly the given members.
"""

import time

import lab as lablib
from checkd_lab import CheckdLab
from healthd_lab import HealthdLab
from vipd_lab import (AWS_PORT, AWS_REGION, AWS_TARGET_GROUP, AZURE_NODE_IPS, AZURE_PORT,
                      AZURE_RG, AZURE_SUB, VipdLab)
from lab import lab_options


def farm_lab(**options):
    """Decorator for a cluster test that wants a FarmLab (with these options)."""
    return lab_options(lab_class=FarmLab, **options)


def farm_cloud_lab(**options):
    """Decorator for a cluster test that wants a FarmCloudLab (with these options)."""
    return lab_options(lab_class=FarmCloudLab, **options)


def farm_healthd_lab(**options):
    """Decorator for a cluster test that wants a FarmHealthdLab (with these options)."""
    return lab_options(lab_class=FarmHealthdLab, **options)


class FarmConfig:
    """What makes a lab's module a farm (mixed into a Lab class before it)."""

    def __init__(self, size=3, weights=None, rejoin_after_ms=None, light=False, **kw):
        kw.setdefault("quorum", "none")
        kw.setdefault("default_primary", None)
        kw.setdefault("networks", 1)
        super().__init__(**kw)
        self.nodes = [f"node{i}" for i in range(1, size + 1)]
        self.weights = weights or {}
        self.rejoin_after_ms = rejoin_after_ms
        self.light = light

    def checkd_section(self):
        """A farm's scripts are start_both and stop_both (SafeKit's names)."""
        return (super().checkd_section().replace("    start_prim:", "    start_both:")
                .replace("    stop_prim:", "    stop_both:"))

    def config_text(self, *args, **kwargs):
        text = super().config_text(*args, **kwargs)
        text = text.replace("  type: mirror\n",
                            f"  type: {'light' if self.light else 'farm'}\n")
        text = text.replace("quorum: none\n", "")
        for node, weight in self.weights.items():
            text = text.replace(f"  - name: {node}\n",
                                f"  - name: {node}\n    weight: {weight}\n")
        if self.rejoin_after_ms:
            text = text.replace("transitions:\n",
                                f"transitions:\n  rejoin_after_ms: {self.rejoin_after_ms}\n")
        return text


class FarmMembers:
    """Waiting on a farm's membership, through each node's status."""

    def start_cluster(self, timeout=20.0):
        for node in self.nodes:
            self.start_node(node)
        return self.wait_members(self.nodes, self.nodes, timeout)

    def members(self, node):
        st = self.try_status(node)
        if not st:
            return None
        return st.get("membership", {}).get("members")

    def wait_members(self, nodes, members, timeout=15.0):
        """Every node in `nodes` sees exactly `members` (sorted); return {node: status}."""
        want = sorted(members)
        deadline = time.monotonic() + timeout
        seen = {}
        while True:
            seen = {n: self.try_status(n) for n in nodes}
            if all(st and st.get("membership", {}).get("members") == want
                   for st in seen.values()):
                return seen
            if time.monotonic() >= deadline:
                got = {n: (st or {}).get("membership", {}).get("members")
                       for n, st in seen.items()}
                dead = [f"{d} on {n} exited {self.exit_code(n, d)}"
                        for n in nodes for d in ("heartbeatd", "checkd", "healthd")
                        if (n, d) in self.procs and not self.running(n, d)]
                raise AssertionError(f"members {want} not seen within {timeout:g} s: {got}"
                                     + (f" ({', '.join(dead)})" if dead else ""))
            time.sleep(0.05)


class FarmLab(FarmConfig, FarmMembers, CheckdLab):
    """A farm whose nodes run checkd and the sample application."""


class FarmHealthdLab(FarmConfig, FarmMembers, HealthdLab):
    """A farm whose nodes run healthd and the stand-in application (no checkd: a node is
    ready as soon as it is UP), for HAProxy in front (lb: external)."""


class FarmCloudLab(FarmConfig, FarmMembers, VipdLab):
    """A farm behind the clouds' load balancers: vipd on each node, with no address of
    its own, registers the node's instance in an AWS target group and its NIC in an
    Azure load balancer's backend pool while it serves (the stand-ins of vipd_lab.py,
    one per node, sharing the Azure state)."""

    def __init__(self, **kw):
        kw.setdefault("aws", True)
        kw.setdefault("azure", True)
        super().__init__(**kw)

    def vipd_section(self):
        aws = f"http://127.0.0.1:{AWS_PORT}"
        az = f"http://127.0.0.1:{AZURE_PORT}"
        lines = ["vipd:",
                 "  aws:",
                 f"    region: {AWS_REGION}",
                 f"    imds_endpoint: {aws}",
                 f"    ec2_endpoint: {aws}/ec2",
                 f"    elb_endpoint: {aws}/elb",
                 "    timeout_ms: 2000",
                 "    backoff_ms: 20",
                 "    nodes:"]
        lines += [f"      {n}: {{instance: i-0{n}}}" for n in self.nodes]
        lines += [f"    target_groups: [{{arn: \"{AWS_TARGET_GROUP}\", port: 80}}]",
                  "  azure:",
                  f"    subscription: {AZURE_SUB}",
                  f"    resource_group: {AZURE_RG}",
                  f"    imds_endpoint: {az}",
                  f"    arm_endpoint: {az}",
                  "    timeout_ms: 2000",
                  "    backoff_ms: 20",
                  "    operation_timeout_ms: 5000",
                  "    nodes:"]
        lines += [f"      {n}: {{nic: nic-{n}, address: {AZURE_NODE_IPS[n]}}}"
                  for n in self.nodes]
        lines += ["    backend_pools: [{load_balancer: lb-web, pool: web-pool}]"]
        return "\n".join(lines) + "\n"

    def azure_pool_members(self):
        """The NICs whose primary ipConfiguration is in lb-web/web-pool."""
        out = []
        for name, nic in self.azure_cloud()["nics"].items():
            for ic in nic["properties"]["ipConfigurations"]:
                ids = [p["id"].lower() for p in
                       ic["properties"].get("loadBalancerBackendAddressPools", [])]
                if any(i.endswith("/loadbalancers/lb-web/backendaddresspools/web-pool")
                       for i in ids):
                    out.append(name)
        return sorted(out)

    def aws_registered(self, node):
        """Whether the node's last successful ELB call registered it (True), deregistered
        it (False), or there was none (None)."""
        last = None
        for e in self.aws_requests(node, part="elb"):
            if e.get("status") == 200 and e.get("action") in ("RegisterTargets",
                                                               "DeregisterTargets"):
                last = e["action"] == "RegisterTargets"
        return last
