#!/usr/bin/python3
"""sky_lab.py - the sky pair across a WAN: node1 in "aws", node2 in "azure", the witness
in a third place, every site reached over emulated WAN links (tools/wanem).

SkyLab is the StackLab (stack_lab.py: replicd, heartbeatd, healthd, vipd, checkd and the
sample application on each node) laid out as a cross-cloud pair instead of one LAN:

    site      subnet            members                       link to the core
    aws       198.18.16.0/24    node1 .1                      wanem-aws   (WAN)
    azure     198.18.32.0/24    node2 .2                      wanem-azure (WAN)
    witness   198.18.48.0/24    witness .10                   direct
    client    198.18.64.0/24    client .20                    direct

The core ("wan" namespace) routes between the sites; each site's router address is .254
of its subnet, every member's default route. The aws and azure subnets are bridges (in
the "br" namespace, br-aws and br-azure) joined to the core by a wanem each, running in
the "wanem" namespace between <site>-site and <site>-core: so node1 <-> node2 crosses
both WAN links, node1 or node2 <-> the witness (or the client) crosses its own. The
round trip between the nodes is rtt_ms: each link delays each direction by rtt_ms / 4;
jitter_ms and loss_pct are split over the two links (each link: jitter_ms / 2, so the
nodes see +-jitter_ms one way; loss_pct / 2 each way of each link).

Cloud mode: node1 runs the AWS stand-in (aws_standin.py, on its own 127.0.0.1) and is
the only node under vipd.aws.nodes; node2 runs the Azure stand-in and is the only node
under vipd.azure.nodes (docs/clouds.md, "A pair with one node in AWS and one in Azure").
When node1 serves, its vipd points the AWS route (and private IP, target group) at it;
when node2 takes over, its vipd moves the Azure ipConfiguration and route to itself.

Timings: the WAN recommendations of docs/clouds.md (WAN_* below) unless a test says
otherwise. Faults: kill_node (power cut), and on the WAN set_wan(...) to degrade it and
cut_wan(site) / heal_wan() to cut one site off (its node loses the peer and the
witness) and back. Every veth has checksum and segmentation offloads off (wan.py).
"""

import os

import lab as lablib
from lab import LabError, run
from stack_lab import APP_PORT, VIP4, StackLab
from wan import Wanem, quiet_namespace, veth

__all__ = ["SkyLab", "APP_PORT", "VIP4", "WAN_INTERVAL_MS", "WAN_TIMEOUT_MS",
           "WAN_REPLICD_TIMEOUT_MS", "WAN_STEP_TIMEOUT_MS"]

# The WAN timings docs/clouds.md recommends (tested by tests/cluster/test_wan.py).
WAN_INTERVAL_MS = 200
WAN_TIMEOUT_MS = 2000
WAN_REPLICD_TIMEOUT_MS = 6000
WAN_STEP_TIMEOUT_MS = 30000

SUBNETS = {"aws": "198.18.16", "azure": "198.18.32", "witness": "198.18.48",
           "client": "198.18.64"}
SITE_OF = {"node1": "aws", "node2": "azure", "witness": "witness", "client": "client"}
WAN_SITES = ("aws", "azure")
ROUTER = 254


class SkyLab(StackLab):
    """The mirror stack on node1 (aws) and node2 (azure) across two wanem links."""

    def __init__(self, rtt_ms=30, jitter_ms=0, loss_pct=0, **kw):
        kw.setdefault("networks", 1)
        kw.setdefault("interval_ms", WAN_INTERVAL_MS)
        kw.setdefault("timeout_ms", WAN_TIMEOUT_MS)
        kw.setdefault("replicd_timeout_ms", WAN_REPLICD_TIMEOUT_MS)
        kw.setdefault("step_timeout_ms", WAN_STEP_TIMEOUT_MS)
        kw.setdefault("aws", True)
        kw.setdefault("azure", True)
        if kw["networks"] != 1:
            raise LabError("the sky lab has one network: the WAN between the sites")
        super().__init__(**kw)
        self.rtt_ms = rtt_ms
        self.jitter_ms = jitter_ms
        self.loss_pct = loss_pct
        self.wan = {}  # site -> Wanem

    # -- layout ------------------------------------------------------------------------

    def addr(self, network, member):
        return f"{SUBNETS[SITE_OF[member]]}.{lablib.HOSTS[member]}"

    def router(self, member):
        return f"{SUBNETS[SITE_OF[member]]}.{ROUTER}"

    def link_params(self, rtt_ms=None, jitter_ms=None, loss_pct=None):
        """One WAN link's wanem parameters for a node-to-node rtt, jitter and loss."""
        rtt_ms = self.rtt_ms if rtt_ms is None else rtt_ms
        jitter_ms = self.jitter_ms if jitter_ms is None else jitter_ms
        loss_pct = self.loss_pct if loss_pct is None else loss_pct
        return {"delay_ms": round(rtt_ms / 4.0, 6), "jitter_ms": round(jitter_ms / 2.0, 6),
                "loss_pct": round(loss_pct / 2.0, 4)}

    def _build_network(self):
        names = ["br", "wan", "wanem"] + self.nodes + ["witness", "client"]
        for name in names:
            run(["ip", "netns", "add", self.ns(name)])
            run(["ip", "-n", self.ns(name), "link", "set", "lo", "up"])
        br, core, em = self.ns("br"), self.ns("wan"), self.ns("wanem")
        quiet_namespace(em)
        run(["ip", "netns", "exec", core, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for site in WAN_SITES:
            run(["ip", "-n", br, "link", "add", f"br-{site}", "type", "bridge"])
            run(["ip", "-n", br, "link", "set", f"br-{site}", "up"])
            veth(em, f"{site}-site", br, f"wanem-{site}")
            run(["ip", "-n", br, "link", "set", f"wanem-{site}", "master", f"br-{site}"])
            veth(core, f"{site}0", em, f"{site}-core")
            run(["ip", "-n", core, "addr", "add", f"{SUBNETS[site]}.{ROUTER}/24",
                 "dev", f"{site}0"])
        for member in self.nodes + ["witness", "client"]:
            site = SITE_OF[member]
            ns = self.ns(member)
            if site in WAN_SITES:
                veth(ns, "eth0", br, f"{member}-0")
                run(["ip", "-n", br, "link", "set", f"{member}-0", "master", f"br-{site}"])
            else:
                veth(ns, "eth0", core, f"{site}0")
                run(["ip", "-n", core, "addr", "add", f"{SUBNETS[site]}.{ROUTER}/24",
                     "dev", f"{site}0"])
            run(["ip", "-n", ns, "addr", "add", f"{self.addr(0, member)}/24", "dev", "eth0"])
            self._default_route(member)
        for site in WAN_SITES:
            w = Wanem(self, "wanem", f"{site}-site", f"{site}-core", name=f"wanem-{site}",
                      **self.link_params())
            w.start()
            self.wan[site] = w

    def _default_route(self, member):
        run(["ip", "-n", self.ns(member), "route", "replace", "default", "via",
             self.router(member), "dev", "eth0"])

    def heal_network(self, member, i):
        """Cable back in: the link up, and its default route again (a link taken
        down loses the routes through it)."""
        super().heal_network(member, i)
        self._default_route(member)

    # -- the WAN -----------------------------------------------------------------------

    def set_wan(self, rtt_ms=None, jitter_ms=None, loss_pct=None, sites=WAN_SITES):
        """Degrade (or improve) the WAN now, as seen between the nodes."""
        for site in sites:
            self.wan[site].set(**self.link_params(rtt_ms, jitter_ms, loss_pct))

    def cut_wan(self, site):
        """The site loses its WAN link (both ways): its node no longer reaches the peer,
        the witness or the client, though it keeps running."""
        self.wan[site].set(loss_pct=100)

    def heal_wan(self, sites=WAN_SITES):
        """Every WAN link back to the lab's own rtt, jitter and loss."""
        for site in sites:
            self.wan[site].set()

    def rtt(self, src, dst, count=20, interval=0.05):
        """Round trips in ms of ICMP echoes from member src to member dst (ping)."""
        res = run(["ip", "netns", "exec", self.ns(src), "ping", "-n", "-q", "-c", str(count),
                   "-i", str(interval), "-W", "2", self.addr(0, dst)], check=False,
                  timeout=count * interval + 30)
        for line in res.stdout.splitlines():
            if "min/avg/max" in line:
                lo, avg, hi = (float(x) for x in line.split("=")[1].split()[0].split("/")[:3])
                return {"min": lo, "avg": avg, "max": hi}
        raise LabError(f"no echo from {dst} to {src}: {res.stdout.strip()} {res.stderr}")

    # -- one cloud per node -------------------------------------------------------------

    def start_aws_standin(self, node):
        if SITE_OF[node] == "aws":
            super().start_aws_standin(node)

    def start_azure_standin(self, node):
        if SITE_OF[node] == "azure":
            super().start_azure_standin(node)

    def _own_cloud_only(self, lines, cloud):
        """Drop the `nodes:` entries of nodes outside that cloud."""
        others = [n for n in self.nodes if SITE_OF[n] != cloud]
        return [line for line in lines
                if not any(line.strip().startswith(f"{n}:") for n in others)]

    def aws_lines(self):
        return self._own_cloud_only(super().aws_lines(), "aws")

    def azure_lines(self):
        return self._own_cloud_only(super().azure_lines(), "azure")

    # -- logs --------------------------------------------------------------------------

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for site, w in self.wan.items():
            print(f"    --- {site} WAN link: last lines of {w.log_path} ---", file=out)
            for line in w._log().splitlines()[-lines:]:
                print("    " + line, file=out)


if __name__ == "__main__":
    # `python3 tests/lab/sky_lab.py`: build the sky lab, start the pair, show it, keep it
    # until Enter (for a look around: ip netns list, the logs in the printed directory).
    import sys
    with SkyLab(keep="--keep" in sys.argv) as sky:
        print(f"sky lab in {sky.dir}; namespaces {sky.prefix}*")
        print("node1 <-> node2:", sky.rtt("node1", "node2", 10))
        sky.start_cluster(60)
        print("node1:", lablib.describe(sky.status("node1")))
        print("node2:", lablib.describe(sky.status("node2")))
        input("Enter to tear the lab down... ")
