#!/usr/bin/python3
"""farm_buckets_lab.py - a farm that spreads its clients without a load balancer.

FarmBucketsLab is a FarmLab (farm_lab.py: node1..nodeN on one bridge, the client
198.18.0.20 on the same segment) whose module file also has a `vipd:` section with
`lb: buckets` and the VIP 198.18.0.100/24 on eth0, and `transitions: order: [vipd,
checkd]`. With families=(6,) the VIP is fd00:198:18::100/64 instead (a ULA prefix:
nothing routed outside), with (4, 6) both (dual stack); the client then also has
fd00:198:18::20/64. The servers answer on both families. start_node() starts build/vipd next to heartbeatd and checkd, and two tiny
servers bound to 0.0.0.0 that answer with the node's name: UDP port 7000 (one datagram,
one answer) and TCP port 7001 (one line, one answer, for as long as the connection
lives). kill_node() is a power cut: the VIP and the nftables tables go with the power.

Client side (all from the client namespace, source ports chosen so that every request
is a distinct client of `hash: address_port`):
- udp_spread(count): one request from each of `count` source ports, every answer
  gathered: {port: [nodes that answered]}; with `hash: address`, add_client_addresses()
  and udp_spread_from(addresses) do the same from many client addresses.
- start_udp_watch(ports): a prober that asks from each of those ports every round
  (UDP_PERIOD_S) and records every answer: udp_watch() reads them back.
- start_tcp_sessions(tag, count): `count` TCP connections to the VIP kept open, each
  asking the node's name every TCP_PERIOD_S; tcp_sessions(tag) reads back, per
  connection, the nodes that answered and the errors (a reset, a timeout).
"""

import json
import os
import signal
import subprocess
import time

import lab as lablib
from farm_lab import FarmLab
from lab import LabError, lab_options, run
from vipd_lab import ECHO_CODE, VIPD, VipdLab

VIP4 = "198.18.0.100"
VIP6 = "fd00:198:18::100"
CLIENT6 = "fd00:198:18::20"
UDP_PORT = 7000
TCP_PORT = 7001
UDP_PERIOD_S = 0.1
TCP_PERIOD_S = 0.1

# argv: name port family (4 or 6: an IPv6-only socket next to the IPv4 one)
TCP_SERVER_CODE = r"""
import socket, socketserver, sys
name = sys.argv[1].encode()
v6 = len(sys.argv) > 3 and sys.argv[3] == "6"
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(name + b"\n")
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    address_family = socket.AF_INET6 if v6 else socket.AF_INET
    def server_bind(self):
        if v6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()
Server(("::" if v6 else "0.0.0.0", int(sys.argv[2])), Handler).serve_forever()
"""

# The vipd lab's UDP echo, on an IPv6-only socket.
ECHO6_CODE = ECHO_CODE.replace("socket.AF_INET,", "socket.AF_INET6,").replace(
    's.bind(("0.0.0.0",',
    's.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\ns.bind(("::",')

# argv: vip port pairs (JSON [[address, port], ...]); prints
# [[address, port, [node, ...]], ...]: who answered each client.
SPREAD_CODE = r"""
import json, select, socket, sys, time
vip, port, pairs = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
seen = []
for start in range(0, len(pairs), 200):
    socks = {}
    for addr, p in pairs[start:start + 200]:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, p))
        s.setblocking(False)
        socks[s] = [addr, p, []]
    for s in socks:
        s.sendto(b"q", (vip, port))
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        r, _, _ = select.select(list(socks), [], [], max(0.0, end - time.monotonic()))
        for s in r:
            try:
                data = s.recv(512)
            except OSError:
                continue
            words = data.split()
            if len(words) == 2:
                socks[s][2].append(words[1].decode())
    seen += list(socks.values())
    for s in socks:
        s.close()
print(json.dumps(seen))
"""

# argv: vip port first_port count period out; lines "monotonic round port node".
UDP_WATCH_CODE = r"""
import select, socket, sys, time
vip, port, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
period, out = float(sys.argv[5]), sys.argv[6]
fam, anyaddr = (socket.AF_INET6, "::") if ":" in vip else (socket.AF_INET, "0.0.0.0")
socks = {}
for p in range(first, first + count):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((anyaddr, p))
    s.setblocking(False)
    socks[s] = p
f = open(out, "a", buffering=1)
rnd = 0
while True:
    f.write(f"{time.monotonic():.6f} {rnd} sent -\n")
    for s in socks:
        try:
            s.sendto(str(rnd).encode(), (vip, port))
        except OSError:
            pass
    end = time.monotonic() + period
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select(list(socks), [], [], left)
        for s in r:
            try:
                data = s.recv(512)
            except OSError:
                continue
            words = data.split()
            if len(words) == 2:
                f.write(f"{time.monotonic():.6f} {words[0].decode()} {socks[s]} "
                        f"{words[1].decode()}\n")
    rnd += 1
"""

# argv: vip port first_port count period out; lines "monotonic index node" or
# "monotonic index ERR why"; a connection that failed is not used again.
TCP_SESSIONS_CODE = r"""
import select, socket, sys, time
vip, port, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
period, out = float(sys.argv[5]), sys.argv[6]
f = open(out, "a", buffering=1)
fam, anyaddr = (socket.AF_INET6, "::") if ":" in vip else (socket.AF_INET, "0.0.0.0")
conns = {}
for i in range(count):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((anyaddr, first + i))
    s.settimeout(5)
    try:
        s.connect((vip, port))
        conns[i] = (s, s.makefile("rb"))
    except OSError as e:
        f.write(f"{time.monotonic():.6f} {i} ERR connect:{type(e).__name__}\n")
f.write(f"{time.monotonic():.6f} - ready {len(conns)}\n")
while True:
    for i, (s, r) in list(conns.items()):
        try:
            s.sendall(b"who\n")
            line = r.readline()
            if not line:
                raise ConnectionResetError("closed")
            f.write(f"{time.monotonic():.6f} {i} {line.decode().strip()}\n")
        except (OSError, ConnectionError) as e:
            f.write(f"{time.monotonic():.6f} {i} ERR {type(e).__name__}\n")
            del conns[i]
    time.sleep(period)
"""


def farm_buckets_lab(**options):
    """Decorator for a cluster test that wants a FarmBucketsLab (with these options)."""
    return lab_options(lab_class=FarmBucketsLab, **options)


class FarmBucketsLab(FarmLab):
    def __init__(self, hash_field="address_port", families=(4,), **kw):
        super().__init__(**kw)
        self.hash_field = hash_field
        self.families = tuple(families)
        self.client_procs = {}

    def vips(self):
        """The VIPs with their prefix lengths, as in the file."""
        return ([f"{VIP4}/24"] if 4 in self.families else []) + \
            ([f"{VIP6}/64"] if 6 in self.families else [])

    def _build_network(self):
        super()._build_network()
        if 6 in self.families:
            run(["ip", "-n", self.ns("client"), "addr", "add", f"{CLIENT6}/64", "dev",
                 "eth0", "nodad"])

    def config_text(self, *args, **kwargs):
        text = super().config_text(*args, **kwargs)
        if "  order: [checkd]\n" not in text:
            raise LabError("farm_lab.py's transitions changed: update farm_buckets_lab.py")
        text = text.replace("  order: [checkd]\n", "  order: [vipd, checkd]\n")
        return text + "\n".join([
            "vipd:",
            "  addresses:",
        ] + [f'    - {{address: {vip if ":" not in vip else repr(vip)}, interface: eth0}}'
             for vip in self.vips()] + [
            "  lb: buckets",
            "  buckets:",
            f"    hash: {self.hash_field}",
            "  announce: {repeat: 3, interval_ms: 20, delay_ms: 1000}",
        ]) + "\n"

    # -- processes ---------------------------------------------------------------------

    # The same as the vipd lab's (not a VipdLab: its start_node is the mirror's).
    _spawn_in = VipdLab._spawn_in
    vipd_log_path = VipdLab.vipd_log_path

    def start_node(self, node):
        if not os.access(VIPD, os.X_OK):
            raise LabError(f"{VIPD} is missing: run `make` first")
        proc = super().start_node(node)
        self.start_vipd(node)
        self._spawn_in(node, "echo", [lablib.PYTHON, "-c", ECHO_CODE, node, str(UDP_PORT)],
                       os.path.join(self.dir, node, "echo.log"))
        self._spawn_in(node, "tcpecho", [lablib.PYTHON, "-c", TCP_SERVER_CODE, node,
                                         str(TCP_PORT)],
                       os.path.join(self.dir, node, "tcpecho.log"))
        if 6 in self.families:
            self._spawn_in(node, "echo6", [lablib.PYTHON, "-c", ECHO6_CODE, node,
                                           str(UDP_PORT)],
                           os.path.join(self.dir, node, "echo6.log"))
            self._spawn_in(node, "tcpecho6", [lablib.PYTHON, "-c", TCP_SERVER_CODE, node,
                                              str(TCP_PORT), "6"],
                           os.path.join(self.dir, node, "tcpecho6.log"))
        return proc

    def start_vipd(self, node):
        return self._spawn_in(node, "vipd", [VIPD, "--config", self.config, "--node", node,
                                             "--run-dir", self.node_dir(node, "run")]
                              + (["-v"] if self.verbose else []), self.vipd_log_path(node))

    def kill_node(self, node):
        """Power cut: as Lab.kill_node, but the links go first (a machine without power
        sends no FIN nor reset for its connections); the VIP and the tables go with
        the power."""
        self.cut_all_links(node)
        super().kill_node(node)
        for vip in self.vips():
            run(["ip", "-n", self.ns(node), "addr", "del", vip, "dev", "eth0"],
                check=False)
        run(["ip", "netns", "exec", self.ns(node), "nft", "flush", "ruleset"], check=False)

    # -- vipd's view -------------------------------------------------------------------

    def vipd_state(self, node):
        try:
            with open(os.path.join(self.node_dir(node, "run"), lablib.MODULE,
                                   "vipd.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def wait_vipd_state(self, node, state, predicate=None, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.vipd_state(node)
            if st and st.get("state") == state and (predicate is None or predicate(st)):
                return st
            if time.monotonic() >= deadline:
                raise AssertionError(f"{node}: vipd not {state} within {timeout:g} s: {st}")
            time.sleep(0.05)

    def nft_tables(self, node):
        """The names of the nftables tables in a node's namespace."""
        res = run(["ip", "netns", "exec", self.ns(node), "nft", "list", "tables"])
        return [line.split()[-1] for line in res.stdout.splitlines() if line.strip()]

    def addresses(self, member, dev="eth0"):
        res = run(["ip", "-n", self.ns(member), "-j", "addr", "show", "dev", dev])
        info = json.loads(res.stdout)
        return [a["local"] for a in info[0].get("addr_info", [])] if info else []

    def wait_buckets(self, nodes, timeout=15.0):
        """Every node in `nodes` is up with buckets over exactly len(nodes) members
        and their shares add up to 256; return {node: owned}."""
        deadline = time.monotonic() + timeout
        while True:
            owned = {}
            for node in nodes:
                st = self.vipd_state(node)
                b = (st or {}).get("buckets") or {}
                if st and st.get("state") == "up" and b.get("members") == len(nodes):
                    owned[node] = b.get("owned")
            if len(owned) == len(nodes) and sum(owned.values()) == 256:
                return owned
            if time.monotonic() >= deadline:
                seen = {n: ((self.vipd_state(n) or {}).get("state"),
                            (self.vipd_state(n) or {}).get("buckets"),
                            (self.vipd_state(n) or {}).get("reason")) for n in nodes}
                raise AssertionError(f"buckets not settled over {nodes} within "
                                     f"{timeout:g} s: {seen}")
            time.sleep(0.05)

    def reload_vipd(self, node):
        """systemctl reload: SIGHUP to the node's vipd."""
        self.signal_daemon(node, "vipd", signal.SIGHUP)

    def nft_counter(self, node, chain):
        """(packets, bytes) of the counters of a chain of vipd's inet table, summed."""
        res = run(["ip", "netns", "exec", self.ns(node), "nft", "-j", "list", "chain",
                   "inet", f"skyha_{lablib.MODULE}", chain])
        packets = nbytes = 0
        for item in json.loads(res.stdout)["nftables"]:
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    packets += expr["counter"]["packets"]
                    nbytes += expr["counter"]["bytes"]
        return packets, nbytes

    def client_neigh(self, vip=VIP4):
        """The MAC of the client's neighbour entry for the VIP, or None."""
        res = run(["ip", "-n", self.ns("client"), "-j", "neigh", "show", vip], check=False)
        try:
            entries = json.loads(res.stdout or "[]")
        except ValueError:
            return None
        return entries[0].get("lladdr") if entries else None

    def node_arp_sources(self, node):
        """Which MAC the node's ARP table says each address is at: {ip: mac}."""
        res = run(["ip", "-n", self.ns(node), "-j", "neigh", "show", "dev", "eth0"],
                  check=False)
        return {e["dst"]: e.get("lladdr") for e in json.loads(res.stdout or "[]")}

    # -- clients -----------------------------------------------------------------------

    def _client_out(self, name):
        return os.path.join(self.dir, "client", name)

    def udp_spread(self, count, first_port=20000, vip=VIP4):
        """One request from each of `count` source ports of the client's address:
        {port: [nodes that answered]}."""
        pairs = [["::" if ":" in vip else "0.0.0.0", first_port + i] for i in range(count)]
        res = run(["ip", "netns", "exec", self.ns("client"), lablib.PYTHON, "-c",
                   SPREAD_CODE, vip, str(UDP_PORT), json.dumps(pairs)], timeout=60)
        return {p: nodes for _a, p, nodes in json.loads(res.stdout)}

    def add_client_addresses(self, first=101, last=250):
        """Secondary addresses 198.18.0.<first..last>/32 on the client's eth0: as many
        distinct clients for `hash: address`."""
        lines = "".join(f"addr add 198.18.0.{i}/32 dev eth0\n" for i in range(first, last + 1))
        subprocess.run(["ip", "-n", self.ns("client"), "-batch", "-"], input=lines,
                       text=True, check=True)
        return [f"198.18.0.{i}" for i in range(first, last + 1)]

    def add_client_addresses6(self, count):
        """`count` secondary addresses fd00:198:18::1:<n>/128 (no duplicate address
        detection) on the client's eth0."""
        addresses = [f"fd00:198:18::1:{i:x}" for i in range(1, count + 1)]
        lines = "".join(f"addr add {a}/128 dev eth0 nodad\n" for a in addresses)
        subprocess.run(["ip", "-n", self.ns("client"), "-batch", "-"], input=lines,
                       text=True, check=True)
        return addresses

    def udp_spread_from(self, addresses, port=20000, vip=VIP4):
        """One request from each client address: {address: [nodes that answered]}."""
        pairs = [[a, port] for a in addresses]
        res = run(["ip", "netns", "exec", self.ns("client"), lablib.PYTHON, "-c",
                   SPREAD_CODE, vip, str(UDP_PORT), json.dumps(pairs)], timeout=60)
        return {a: nodes for a, _p, nodes in json.loads(res.stdout)}

    def _start_client(self, key, code, first_port, count, period, vip=VIP4):
        os.makedirs(os.path.join(self.dir, "client"), exist_ok=True)
        out = self._client_out(key)
        self._spawn_in("client", key, [lablib.PYTHON, "-c", code, vip,
                                       str(TCP_PORT if "tcp" in key else UDP_PORT),
                                       str(first_port), str(count), str(period), out],
                       out + ".log")
        return out

    def start_udp_watch(self, first_port=30000, count=60, vip=VIP4):
        return self._start_client("udpwatch", UDP_WATCH_CODE, first_port, count,
                                  UDP_PERIOD_S, vip)

    def udp_watch(self):
        """[(monotonic, round, port, node)] of every answer, and {round: sent_at}."""
        answers, sent = [], {}
        try:
            with open(self._client_out("udpwatch")) as f:
                for line in f:
                    w = line.split()
                    if len(w) != 4:
                        continue
                    if w[2] == "sent":
                        sent[int(w[1])] = float(w[0])
                    else:
                        answers.append((float(w[0]), int(w[1]), int(w[2]), w[3]))
        except FileNotFoundError:
            pass
        return answers, sent

    def start_tcp_sessions(self, tag, first_port, count=20, timeout=10.0, vip=VIP4):
        key = f"tcp-{tag}"
        out = self._start_client(key, TCP_SESSIONS_CODE, first_port, count, TCP_PERIOD_S,
                                 vip)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(out) as f:
                    if " - ready " in f.read():
                        return out
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline:
                raise LabError(f"the TCP sessions {tag} did not open within {timeout:g} s")
            time.sleep(0.05)

    def tcp_sessions(self, tag):
        """{index: {"nodes": [...], "errors": [...], "last": monotonic of the last
        answer, "error_at": monotonic of the first error or None}}; a connection reset
        or closed by the server reads ConnectionResetError, one that hung
        TimeoutError."""
        out = {}
        with open(self._client_out(f"tcp-{tag}")) as f:
            for line in f:
                w = line.split()
                if len(w) < 3 or w[1] == "-":
                    continue
                s = out.setdefault(int(w[1]), {"nodes": [], "errors": [], "last": 0.0,
                                               "error_at": None})
                if w[2] == "ERR":
                    s["errors"].append(" ".join(w[3:]))
                    s["error_at"] = s["error_at"] or float(w[0])
                else:
                    s["nodes"].append(w[2])
                    s["last"] = float(w[0])
        return out

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
