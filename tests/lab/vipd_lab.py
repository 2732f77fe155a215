#!/usr/bin/python3
"""vipd_lab.py - the namespace lab with vipd moving a virtual IP between the nodes.

VipdLab is a Lab (lab.py) whose module file also has a `vipd:` section and
`transitions: order: [vipd]`, so heartbeatd counts a node as serving only once vipd holds
the addresses there. The two nodes and the client share network 0's bridge (one L2
segment), so gratuitous ARP from a node reaches the client. The virtual addresses:

    VIP4  198.18.0.100/24 on eth0   (network 0, the client's segment)
    VIP6  2001:2::100/64 on eth0    (2001:2::/48: the IPv6 benchmarking range, RFC 5180)

start_node() starts build/vipd next to heartbeatd in the node's namespace (processes keyed
(node, "vipd"), log in <node>/vipd.log), and a small UDP echo server (port 7000, bound to
0.0.0.0, answers each datagram with the node's name), so kill_node() takes them down with
the rest. start_client() runs a prober in the client namespace that sends a datagram to
the VIP every CLIENT_PERIOD_S and records each answer (monotonic time, sequence, node);
start_arp_watch() records the ARP packets the client sees that carry the VIP.

Tests get one through the decorator vipd_lab(...) (tests/cluster/run.py builds the class
named by lab_options' lab_class). vipd's own view is read from <run>/app/vipd.json, the
object it publishes on the bus.
"""

import json
import os
import re
import subprocess
import time

import lab as lablib
from lab import LabError, lab_options, run

VIPD = os.path.join(lablib.BUILD, "vipd")
AWS_STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "aws_standin.py")
AZURE_STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "azure_standin.py")
AZURE_PORT = 8001
AZURE_SUB = "00000000-0000-0000-0000-00000000abcd"
AZURE_RG = "skyha-rg"
AZURE_SUBNET = (f"/subscriptions/{AZURE_SUB}/resourceGroups/{AZURE_RG}/providers/"
                "Microsoft.Network/virtualNetworks/vnet/subnets/default")
AZURE_NODE_IPS = {"node1": "10.1.0.4", "node2": "10.1.0.5", "node3": "10.1.0.6"}
# The stand-in's load balancers and their backend pools (a farm joins them).
AZURE_LOAD_BALANCERS = {"lb-web": ["web-pool"]}
AWS_PORT = 8000
AWS_REGION = "eu-west-3"
AWS_TARGET_GROUP = ("arn:aws:elasticloadbalancing:eu-west-3:123456789012:"
                    "targetgroup/skyha/0123456789abcdef")
VIP4 = "198.18.0.100"
VIP6 = "2001:2::100"
ECHO_PORT = 7000
CLIENT_PERIOD_S = 0.02

ECHO_CODE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
name = sys.argv[1].encode()
while True:
    data, peer = s.recvfrom(512)
    try:
        s.sendto(data[:32] + b" " + name, peer)
    except OSError:
        pass  # no route: this node's links are down (a paused VM wakes before them)
"""

# argv: vip port period out; lines "monotonic seq node" for every answer.
PROBER_CODE = r"""
import select, socket, sys, time
vip, port, period, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
f = open(out, "a", buffering=1)
seq = 0
next_send = time.monotonic()
while True:
    now = time.monotonic()
    if now >= next_send:
        try:
            s.sendto(str(seq).encode(), (vip, port))
        except OSError:
            pass
        seq += 1
        next_send = now + period
    r, _, _ = select.select([s], [], [], max(0.0, next_send - time.monotonic()))
    while r:
        try:
            data = s.recv(512)
        except OSError:
            break
        words = data.split()
        if len(words) == 2:
            f.write(f"{time.monotonic():.6f} {words[0].decode()} {words[1].decode()}\n")
"""

# argv: vip out; lines "monotonic op sender_mac sender_ip target_ip" for ARP with the VIP.
ARP_WATCH_CODE = r"""
import socket, sys, time
vip, out = socket.inet_aton(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0806))
f = open(out, "a", buffering=1)
while True:
    pkt = s.recv(256)
    if len(pkt) < 28 or (pkt[14:18] != vip and pkt[24:28] != vip):
        continue
    op = int.from_bytes(pkt[6:8], "big")
    mac = ":".join(f"{b:02x}" for b in pkt[8:14])
    f.write(f"{time.monotonic():.6f} {op} {mac} {socket.inet_ntoa(pkt[14:18])} "
            f"{socket.inet_ntoa(pkt[24:28])}\n")
"""


def vipd_lab(**options):
    """Decorator for a cluster test that wants a VipdLab (with these options)."""
    return lab_options(lab_class=VipdLab, **options)


class VipdLab(lablib.Lab):
    """A Lab whose nodes also run vipd, with a VIP on the client's segment."""

    def __init__(self, on_conflict="report", probe_wait_ms=200, announce_repeat=3,
                 announce_interval_ms=20, announce_delay_ms=1000, step_timeout_ms=10000,
                 aws=False, aws_attempts=5, azure=False, **kw):
        super().__init__(**kw)
        self.azure = azure
        self.aws = aws
        self.aws_attempts = aws_attempts
        self.on_conflict = on_conflict
        self.probe_wait_ms = probe_wait_ms
        self.announce_repeat = announce_repeat
        self.announce_interval_ms = announce_interval_ms
        self.announce_delay_ms = announce_delay_ms
        self.step_timeout_ms = step_timeout_ms

    # -- configuration -----------------------------------------------------------------

    def vipd_section(self):
        return "\n".join([
            "vipd:",
            "  addresses:",
            f"    - {{address: {VIP4}/24, interface: eth0}}",
            f"    - {{address: \"{VIP6}/64\", interface: eth0}}",
            "  announce:",
            f"    repeat: {self.announce_repeat}",
            f"    interval_ms: {self.announce_interval_ms}",
            f"    delay_ms: {self.announce_delay_ms}",
            "  probe:",
            f"    wait_ms: {self.probe_wait_ms}",
            f"    on_conflict: {self.on_conflict}",
        ] + (self.aws_lines() if self.aws else [])
            + (self.azure_lines() if self.azure else [])) + "\n"

    def azure_lines(self):
        """vipd.azure, pointing at the stand-in in each node's namespace."""
        base = f"http://127.0.0.1:{AZURE_PORT}"
        return [
            "  azure:",
            f"    subscription: {AZURE_SUB}",
            f"    resource_group: {AZURE_RG}",
            f"    imds_endpoint: {base}",
            f"    arm_endpoint: {base}",
            "    timeout_ms: 2000",
            "    attempts: 5",
            "    backoff_ms: 20",
            "    operation_timeout_ms: 5000",
            "    nodes:",
            f"      node1: {{nic: nic-node1, address: {AZURE_NODE_IPS['node1']}}}",
            f"      node2: {{nic: nic-node2, address: {AZURE_NODE_IPS['node2']}}}",
            "    ip_configurations: [{name: skyha-vip, address: 10.1.0.10}]",
            "    routes: [{table: rt-skyha, route: to-app, prefix: 10.2.0.10/32}]",
        ]

    def aws_lines(self):
        """vipd.aws, pointing at the stand-in in each node's namespace (each has its
        own 127.0.0.1, so one URL serves both nodes)."""
        base = f"http://127.0.0.1:{AWS_PORT}"
        return [
            "  aws:",
            f"    region: {AWS_REGION}",
            f"    imds_endpoint: {base}",
            f"    ec2_endpoint: {base}/ec2",
            f"    elb_endpoint: {base}/elb",
            "    timeout_ms: 2000",
            f"    attempts: {self.aws_attempts}",
            "    backoff_ms: 20",
            "    nodes:",
            "      node1: {eni: eni-0node1, instance: i-0node1}",
            "      node2: {eni: eni-0node2, instance: i-0node2}",
            "    private_ips: [10.0.0.10]",
            "    routes: [{table: rtb-0skyha, destination: 10.1.0.10/32}]",
            f"    target_groups: [{{arn: \"{AWS_TARGET_GROUP}\", port: 80}}]",
        ]

    def config_text(self, *args, **kwargs):
        text = super().config_text(*args, **kwargs)
        # vipd after whatever a parent lab class put first (replicd).
        m = re.search(r"transitions:\n  order: \[([^\]]*)\]\n  step_timeout_ms: \d+\n", text)
        if not m:
            raise LabError("lab.py's transitions section changed: update vipd_lab.py")
        order = [x.strip() for x in m.group(1).split(",") if x.strip()] + ["vipd"]
        text = (text[:m.start()] + f"transitions:\n  order: [{', '.join(order)}]\n"
                f"  step_timeout_ms: {self.step_timeout_ms}\n" + text[m.end():])
        return text + self.vipd_section()

    # -- processes ---------------------------------------------------------------------

    def vipd_log_path(self, node):
        return os.path.join(self.dir, node, "vipd.log")

    def _spawn_in(self, member, key, argv, log_path):
        old = self.procs.get((member, key))
        if old is not None and old.poll() is None:
            raise LabError(f"{key} already runs on {member}")
        with open(log_path, "a") as log:
            log.write(f"--- lab {time.strftime('%H:%M:%S')}: start {key} ---\n")
            log.flush()
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(member)] + argv,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[(member, key)] = proc
        return proc

    def start_node(self, node):
        if self.aws:
            self.start_aws_standin(node)
        if self.azure:
            self.start_azure_standin(node)
        proc = super().start_node(node)
        self.start_vipd(node)
        self._spawn_in(node, "echo", [lablib.PYTHON, "-c", ECHO_CODE, node, str(ECHO_PORT)],
                       os.path.join(self.dir, node, "echo.log"))
        return proc

    def kill_node(self, node):
        """Power cut: as Lab.kill_node, and the node's virtual IPs are gone with its
        power (a machine boots without them), though its namespace lives on."""
        super().kill_node(node)
        for cidr in (f"{VIP4}/24", f"{VIP6}/64"):
            run(["ip", "-n", self.ns(node), "addr", "del", cidr, "dev", "eth0"], check=False)

    def start_vipd(self, node):
        if not os.access(VIPD, os.X_OK):
            raise LabError(f"{VIPD} is missing: run `make` first")
        argv = [VIPD, "--config", self.config, "--node", node,
                "--run-dir", self.node_dir(node, "run")] + (["-v"] if self.verbose else [])
        return self._spawn_in(node, "vipd", argv, self.vipd_log_path(node))

    def aws_file(self, node, name):
        return os.path.join(self.dir, node, f"aws-{name}")

    def start_aws_standin(self, node):
        if (node, "aws") in self.procs and self.procs[(node, "aws")].poll() is None:
            return
        out = self.aws_file(node, "standin.log")
        self._spawn_in(node, "aws", [lablib.PYTHON, AWS_STANDIN, str(AWS_PORT), AWS_REGION,
                                     self.aws_file(node, "control.json"),
                                     self.aws_file(node, "requests.log")], out)
        deadline = time.monotonic() + 10
        while True:
            with open(out) as f:
                if "aws stand-in on" in f.read():
                    return
            if self.procs[(node, "aws")].poll() is not None or time.monotonic() > deadline:
                with open(out) as f:
                    raise LabError(f"the AWS stand-in did not start on {node}: {f.read()}")
            time.sleep(0.05)

    def azure_state_path(self):
        return os.path.join(self.dir, "azure-cloud.json")

    def azure_cloud(self):
        """The stand-in cloud's state: {nics: {name: doc}, routes: {...}}."""
        with open(self.azure_state_path()) as f:
            return json.load(f)

    def start_azure_standin(self, node):
        if (node, "azure") in self.procs and self.procs[(node, "azure")].poll() is None:
            return
        state = self.azure_state_path()
        if not os.path.exists(state):
            nics = {}
            for n, ip in AZURE_NODE_IPS.items():
                nics[f"nic-{n}"] = {
                    "name": f"nic-{n}", "etag": "W/\"1\"",
                    "id": f"/subscriptions/{AZURE_SUB}/resourceGroups/{AZURE_RG}/providers/"
                          f"Microsoft.Network/networkInterfaces/nic-{n}",
                    "properties": {"provisioningState": "Succeeded", "ipConfigurations": [
                        {"name": "ipconfig1", "properties": {
                            "privateIPAddress": ip, "privateIPAllocationMethod": "Static",
                            "primary": True, "subnet": {"id": AZURE_SUBNET}}}]}}
            with open(state, "w") as f:
                json.dump({"nics": nics, "routes": {}, "tokens": {},
                           "load_balancers": AZURE_LOAD_BALANCERS}, f)
        out = os.path.join(self.dir, node, "azure-standin.log")
        self._spawn_in(node, "azure", [lablib.PYTHON, AZURE_STANDIN, str(AZURE_PORT), state,
                                       self.aws_file(node, "azure-control.json"),
                                       self.aws_file(node, "azure-requests.log")], out)
        deadline = time.monotonic() + 10
        while True:
            with open(out) as f:
                if "azure stand-in on" in f.read():
                    return
            if self.procs[(node, "azure")].poll() is not None or time.monotonic() > deadline:
                with open(out) as f:
                    raise LabError(f"the Azure stand-in did not start on {node}: {f.read()}")
            time.sleep(0.05)

    def azure_control(self, node, **settings):
        os.makedirs(os.path.join(self.dir, node), exist_ok=True)
        tmp = self.aws_file(node, "azure-control.json.tmp")
        with open(tmp, "w") as f:
            json.dump(settings, f)
        os.replace(tmp, self.aws_file(node, "azure-control.json"))

    def azure_requests(self, node):
        out = []
        try:
            with open(self.aws_file(node, "azure-requests.log")) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        except FileNotFoundError:
            pass
        return out

    def aws_control(self, node, **settings):
        """Steer the node's stand-in (see aws_standin.py)."""
        os.makedirs(os.path.join(self.dir, node), exist_ok=True)
        tmp = self.aws_file(node, "control.json.tmp")
        with open(tmp, "w") as f:
            json.dump(settings, f)
        os.replace(tmp, self.aws_file(node, "control.json"))

    def aws_requests(self, node, part=None, action=None):
        """The requests the node's stand-in saw, as dicts, oldest first."""
        out = []
        try:
            with open(self.aws_file(node, "requests.log")) as f:
                for line in f:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    if (part is None or e.get("part") == part) and \
                            (action is None or e.get("action") == action):
                        out.append(e)
        except FileNotFoundError:
            pass
        return out

    def client_file(self, name):
        return os.path.join(self.dir, f"client-{name}.log")

    def start_client(self):
        """The prober: a datagram to VIP4:ECHO_PORT every CLIENT_PERIOD_S."""
        os.makedirs(self.dir, exist_ok=True)
        self._spawn_in("client", "prober",
                       [lablib.PYTHON, "-c", PROBER_CODE, VIP4, str(ECHO_PORT),
                        str(CLIENT_PERIOD_S), self.client_file("replies")],
                       self.client_file("prober"))

    def start_arp_watch(self):
        self._spawn_in("client", "arpwatch",
                       [lablib.PYTHON, "-c", ARP_WATCH_CODE, VIP4, self.client_file("arp")],
                       self.client_file("arpwatch"))

    # -- what the client and the nodes see ---------------------------------------------

    def replies(self):
        """[(monotonic, seq, node)] of every answer the prober got."""
        out = []
        try:
            with open(self.client_file("replies")) as f:
                for line in f:
                    w = line.split()
                    if len(w) == 3:
                        out.append((float(w[0]), int(w[1]), w[2]))
        except FileNotFoundError:
            pass
        return out

    def arp_seen(self):
        """[(monotonic, op, sender_mac, sender_ip, target_ip)] seen by the client."""
        out = []
        try:
            with open(self.client_file("arp")) as f:
                for line in f:
                    w = line.split()
                    if len(w) == 5:
                        out.append((float(w[0]), int(w[1]), w[2], w[3], w[4]))
        except FileNotFoundError:
            pass
        return out

    def wait_reply_from(self, node, timeout=10.0, after=0.0):
        """Wait until the prober got an answer from node (sent after `after`)."""
        deadline = time.monotonic() + timeout
        while True:
            for t, _seq, who in self.replies():
                if who == node and t >= after:
                    return t
            if time.monotonic() >= deadline:
                last = self.replies()[-3:]
                raise AssertionError(f"no answer from {node} through {VIP4} within "
                                     f"{timeout:g} s; last answers {last}; client "
                                     f"neighbour: {self.client_neigh()}; eth0 of "
                                     f"{self.macs()}")
            time.sleep(0.02)

    def wait_failed_transition(self, text, timeout=15.0):
        """Wait until a node went to WAIT because a promotion failed with text in the
        reason; return (node, status). Both nodes try in turn and each reason lasts
        only until that node's next transition, so both are polled."""
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                st = self.try_status(node)
                if st and st["transition"]["to"] == "WAIT" and \
                        text in st["transition"]["reason"]:
                    return node, st
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no promotion failed with {text!r} within {timeout:g} s: " +
                    "; ".join(lablib.describe(self.try_status(n)) for n in self.nodes))
            time.sleep(0.02)

    def mac(self, member, dev="eth0"):
        res = run(["ip", "-n", self.ns(member), "-j", "link", "show", "dev", dev])
        return json.loads(res.stdout)[0]["address"]

    def client_neigh(self, addr=VIP4):
        """(MAC or None, state) of the client's neighbour entry for addr."""
        res = run(["ip", "-n", self.ns("client"), "-j", "neigh", "show", addr], check=False)
        try:
            entries = json.loads(res.stdout or "[]")
        except ValueError:
            return (None, "unparsable")
        if not entries:
            return (None, "none")
        e = entries[0]
        return (e.get("lladdr"), ",".join(e.get("state", [])))

    def macs(self, dev="eth0"):
        """{node: MAC of its dev}, to read a client's neighbour entry by."""
        out = {}
        for node in self.nodes:
            res = run(["ip", "-n", self.ns(node), "-j", "link", "show", "dev", dev],
                      check=False)
            try:
                out[node] = json.loads(res.stdout or "[]")[0].get("address")
            except (ValueError, IndexError):
                out[node] = None
        return out

    def addresses(self, member, dev="eth0"):
        """The addresses on a member's interface, as text."""
        res = run(["ip", "-n", self.ns(member), "-j", "addr", "show", "dev", dev])
        info = json.loads(res.stdout)
        return [a["local"] for a in info[0].get("addr_info", [])] if info else []

    def holds(self, member, addr=VIP4):
        return addr in self.addresses(member)

    def add_address(self, member, cidr, dev="eth0"):
        args = ["ip", "-n", self.ns(member), "addr", "add", cidr, "dev", dev]
        if ":" in cidr:
            args.append("nodad")
        run(args)

    def app_run_dir(self, node):
        return os.path.join(self.node_dir(node, "run"), lablib.MODULE)

    def vipd_state(self, node):
        """vipd's published object (from <run>/app/vipd.json), or None."""
        try:
            with open(os.path.join(self.app_run_dir(node), "vipd.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def wait_vipd(self, node, predicate, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.vipd_state(node)
            if st is not None and predicate(st):
                return st
            if not self.running(node, "vipd"):
                raise LabError(f"vipd on {node} exited with code "
                               f"{self.exit_code(node, 'vipd')}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"{node}: vipd {what} not reached within "
                                     f"{timeout:g} s; vipd: {describe_vipd(st)}")
            time.sleep(0.05)

    # -- logs --------------------------------------------------------------------------

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for node in self.nodes:
            try:
                with open(self.vipd_log_path(node), errors="replace") as f:
                    tail = f.readlines()[-lines:]
            except FileNotFoundError:
                continue
            print(f"    --- {node}: last {len(tail)} lines of "
                  f"{self.vipd_log_path(node)} ---", file=out)
            for line in tail:
                print("    " + line.rstrip("\n"), file=out)


def describe_vipd(st):
    if not st:
        return "no state (vipd not running, or nothing published yet)"
    addrs = ", ".join(f"{a['address']}@{a['interface']}:{'held' if a['present'] else 'absent'}"
                      for a in st.get("addresses", []))
    return (f"state {st.get('state')} epoch {st.get('epoch')} target {st.get('target')} "
            f"role {st.get('role')}; [{addrs}]; reason: {st.get('reason')}; "
            f"counters {st.get('counters')}")
