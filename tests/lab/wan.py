#!/usr/bin/python3
"""wan.py - WAN links for the lab: build/wanem driven from Python, and a two-host pair.

The kernel here has no sch_netem, so cross-cloud latency, jitter and loss come from
tools/wanem (docs/wan.md): a process in a namespace of its own forwarding every frame
between two interfaces, with a one-way delay, jitter, loss, reordering and rate applied
to each direction.

    Wanem(lab, member, if_a, if_b, name, delay_ms=15, ...)
        wanem in the namespace of `member`, registered in lab.procs as (member, name) so
        the lab's cleanup stops it; its log (stderr and the counters it prints on stdout)
        in <lab>/<member>/<name>.log. set(...) changes the link at run time: it writes the
        control file and sends SIGHUP, then waits for wanem's "applied (generation N)"
        line, so the new link is in force when set() returns. counters() asks for the
        counters (SIGUSR1) and parses them.

    WanPairLab(...)   (a Lab: cleanup, namespaces named like every lab's)
        two hosts, x and y, joined twice: through wanem (198.18.200.1 <-> .2, wanem in
        the namespace "wan") and by a direct veth pair (198.18.201.1 <-> .2), so one run
        measures both paths under the same load. y runs a UDP echo server and a counting
        sink; x sends. The test of make check (tests/cluster/test_wan.py) and
        bench/wanem.py use it.

wanem forwards frames as they are: a frame whose checksum is left to the hardware, or a
GSO super-frame, would arrive broken or be dropped. offloads_off() turns checksum and
segmentation offloads off on a veth (ethtool), as every lab with a wanem must do on the
interfaces that send through it (real WAN links carry MTU-sized frames anyway).
"""

import json
import os
import re
import signal
import subprocess
import time

import lab as lablib
from lab import LabError, run

WANEM = os.path.join(lablib.BUILD, "wanem")
ECHO_PORT = 7000
SINK_PORT = 7001
VIA_WANEM = ("198.18.200.1", "198.18.200.2")
DIRECT = ("198.18.201.1", "198.18.201.2")

PARAM_KEYS = ("delay_ms", "jitter_ms", "loss_pct", "reorder_pct", "rate_mbit", "seed")
COUNTERS_RE = re.compile(r"^wanem: counters (\S+) (.*)$")


def offloads_off(ns, dev):
    """Checksum and segmentation offloads off on dev in namespace ns (ethtool)."""
    res = run(["ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off", "tso", "off",
               "gso", "off", "gro", "off"], check=False)
    if res.returncode != 0 and "Cannot change" not in res.stderr + res.stdout:
        raise LabError(f"ethtool -K {dev} in {ns} failed ({res.returncode}): "
                       f"{(res.stderr or res.stdout).strip()} (apt-get install ethtool)")


def veth(ns_a, dev_a, ns_b, dev_b, mtu=1500):
    """A veth pair dev_a (in ns_a) <-> dev_b (in ns_b), both up, offloads off."""
    run(["ip", "-n", ns_a, "link", "add", dev_a, "mtu", str(mtu), "type", "veth",
         "peer", "name", dev_b, "netns", ns_b])
    for ns, dev in ((ns_a, dev_a), (ns_b, dev_b)):
        offloads_off(ns, dev)
        run(["ip", "-n", ns, "link", "set", dev, "up"])


def quiet_namespace(ns):
    """A namespace that forwards frames only (wanem's): no IPv6 of its own, so its
    interfaces send nothing (router solicitations...) into the links."""
    for key in ("all", "default"):
        run(["ip", "netns", "exec", ns, "sysctl", "-qw",
             f"net.ipv6.conf.{key}.disable_ipv6=1"])


def _params_args(params):
    args = []
    for key, value in params.items():
        if key not in PARAM_KEYS:
            raise LabError(f"wanem has no parameter {key!r} ({', '.join(PARAM_KEYS)})")
        args += ["--" + key.replace("_", "-"), f"{value:g}" if isinstance(value, float)
                 else str(value)]
    return args


class Wanem:
    """One wanem process between if_a and if_b in the namespace of lab member `member`."""

    def __init__(self, lab, member, if_a, if_b, name="wanem", limit=None, **params):
        self.lab = lab
        self.member = member
        self.if_a, self.if_b = if_a, if_b
        self.name = name
        self.limit = limit
        self.params = dict(params)
        os.makedirs(lab.node_dir(member), exist_ok=True)
        self.log_path = lab.node_dir(member, f"{name}.log")
        self.control_path = lab.node_dir(member, f"{name}.control")
        self.generation = 0

    def start(self, timeout=10.0):
        if not os.access(WANEM, os.X_OK):
            raise LabError(f"{WANEM} is missing: run `make` first")
        argv = [WANEM, "--control", self.control_path] + _params_args(self.params)
        if self.limit:
            argv += ["--limit", str(self.limit)]
        argv += [self.if_a, self.if_b]
        old = self.lab.procs.get((self.member, self.name))
        if old is not None and old.poll() is None:
            raise LabError(f"{self.name} already runs in {self.member}")
        with open(self.log_path, "a") as log:
            log.write(f"--- lab {time.strftime('%H:%M:%S')}: start {' '.join(argv)} ---\n")
            log.flush()
            proc = subprocess.Popen(["ip", "netns", "exec", self.lab.ns(self.member)] + argv,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.lab.procs[(self.member, self.name)] = proc
        self.proc = proc
        self.generation = 1  # the control file is read once at start
        self._wait_log(r"forwarding ", timeout, "wanem did not start")
        return proc

    def _log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _wait_log(self, pattern, timeout, what, count=1):
        deadline = time.monotonic() + timeout
        while True:
            text = self._log()
            if len(re.findall(pattern, text, re.M)) >= count:
                return text
            if self.proc.poll() is not None:
                raise LabError(f"{self.name} exited with code {self.proc.returncode}: "
                               + text[-600:])
            if time.monotonic() > deadline:
                raise LabError(f"{what} within {timeout:g} s: " + text[-600:])
            time.sleep(0.02)

    def set(self, timeout=10.0, **params):
        """Change the link now (on top of the start options): e.g. set(loss_pct=100) cuts
        it, set() restores the start options. Returns once wanem applied it."""
        lines = [f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                 for k, v in params.items() if k in PARAM_KEYS]
        if len(lines) != len(params):
            raise LabError(f"wanem parameters are {', '.join(PARAM_KEYS)}: got {params}")
        tmp = self.control_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.control_path)
        self.generation += 1
        os.kill(self.proc.pid, signal.SIGHUP)
        self._wait_log(rf"applied \(generation {self.generation}\)", timeout,
                       f"wanem did not apply {params}")

    def counters(self, timeout=10.0):
        """{direction "ifa>ifb": {counter: int}} printed by wanem on SIGUSR1."""
        before = len(re.findall(r"^wanem: counters ", self._log(), re.M))
        os.kill(self.proc.pid, signal.SIGUSR1)
        text = self._wait_log(r"^wanem: counters ", timeout, "no counters from wanem",
                              before + 2)
        return parse_counters(text)

    def stop(self):
        """SIGTERM; returns the last counters (printed at exit)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        return parse_counters(self._log())


def parse_counters(text):
    """The last counters line of each direction in a wanem log."""
    out = {}
    for line in text.splitlines():
        m = COUNTERS_RE.match(line)
        if m:
            out[m.group(1)] = {k: int(v) for k, v in
                               (kv.split("=", 1) for kv in m.group(2).split())}
    return out


# --- two hosts joined through wanem and directly ----------------------------------------

# y: UDP echo on ECHO_PORT (answers each datagram with itself) and a sink on SINK_PORT
# that counts datagrams per run id and writes "id count inorder" lines to argv[1].
SERVER_CODE = r"""
import select, socket, sys
echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
echo.bind(("0.0.0.0", int(sys.argv[2])))
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
sink.bind(("0.0.0.0", int(sys.argv[3])))
out = open(sys.argv[1], "a", buffering=1)
runs = {}
while True:
    r, _, _ = select.select([echo, sink], [], [])
    if echo in r:
        data, peer = echo.recvfrom(2048)
        try:
            echo.sendto(data, peer)
        except OSError:
            pass
    if sink in r:
        data = sink.recv(2048)
        words = data[:40].split()
        if len(words) < 2:
            continue
        run_id, seq = words[0].decode(errors="replace"), int(words[1])
        if seq < 0:  # the end marker: report the run
            count, inorder, _last = runs.pop(run_id, (0, 0, -1))
            out.write(f"{run_id} {count} {inorder}\n")
            continue
        count, inorder, last = runs.get(run_id, (0, 0, -1))
        runs[run_id] = (count + 1, inorder + (seq > last), max(last, seq))
"""

# x: argv = targets(json [[addr, port], ...]) count interval_s timeout_s; alternates the
# targets, one datagram in flight; prints json {addr: [rtt_ms or null, ...]}.
PING_CODE = r"""
import json, socket, sys, time
targets = json.loads(sys.argv[1]); count = int(sys.argv[2])
interval = float(sys.argv[3]); timeout = float(sys.argv[4])
socks = []
for addr, port in targets:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port)); s.settimeout(timeout); socks.append(s)
out = {addr: [] for addr, _ in targets}
for i in range(count):
    for (addr, _), s in zip(targets, socks):
        tag = f"{i} {addr}".encode()
        t0 = time.monotonic_ns()
        s.send(tag)
        rtt = None
        while True:
            try:
                data = s.recv(2048)
            except (socket.timeout, OSError):
                break
            if data == tag:
                rtt = (time.monotonic_ns() - t0) / 1e6
                break
        out[addr].append(rtt)
    if interval:
        time.sleep(interval)
print(json.dumps(out))
"""

# x: argv = addr port run_id count gap_s; numbered datagrams of 100 bytes, then 5 end
# markers (seq -1) a little later.
BURST_CODE = r"""
import socket, sys, time
addr, port, run_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, gap = int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
pad = b"." * 100
for i in range(count):
    s.sendto(f"{run_id} {i} ".encode() + pad, (addr, port))
    if gap:
        time.sleep(gap)
"""

END_CODE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(f"{sys.argv[3]} -1 ".encode(), (sys.argv[1], int(sys.argv[2])))
"""


class WanPairLab(lablib.Lab):
    """x and y joined through wanem (namespace "wan") and directly; see the module doc."""

    def __init__(self, **kw):
        kw.setdefault("networks", 1)
        super().__init__(**kw)
        self.wanem = None

    def _build_network(self):
        x, y, w = self.ns("x"), self.ns("y"), self.ns("wan")
        for ns in (x, y, w):
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        quiet_namespace(w)
        veth(x, "eth0", w, "wan-x")
        veth(y, "eth0", w, "wan-y")
        veth(x, "eth1", y, "eth1")
        for ns, i in ((x, 0), (y, 1)):
            run(["ip", "-n", ns, "addr", "add", f"{VIA_WANEM[i]}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "addr", "add", f"{DIRECT[i]}/24", "dev", "eth1"])
        os.makedirs(self.node_dir("y"), exist_ok=True)
        self.sink_path = self.node_dir("y", "sink.log")
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", y, lablib.PYTHON, "-c", SERVER_CODE, self.sink_path,
             str(ECHO_PORT), str(SINK_PORT)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.node_dir("y", "server.log"), "a"),
            start_new_session=True)
        self.procs[("y", "server")] = self.server

    def start_wanem(self, **params):
        self.wanem = Wanem(self, "wan", "wan-x", "wan-y", **params)
        self.wanem.start()
        return self.wanem

    def in_x(self, code, *args, timeout=60):
        res = run(["ip", "netns", "exec", self.ns("x"), lablib.PYTHON, "-c", code]
                  + [str(a) for a in args], timeout=timeout)
        return res.stdout

    def ping(self, count, interval=0.01, timeout=1.0, via_wanem=True, direct=False):
        """RTTs in ms (None: no answer within timeout) of UDP echoes from x to y;
        {"wanem": [...], "direct": [...]} for the paths asked, sampled alternately."""
        targets = ([[VIA_WANEM[1], ECHO_PORT]] if via_wanem else []) + \
            ([[DIRECT[1], ECHO_PORT]] if direct else [])
        out = json.loads(self.in_x(PING_CODE, json.dumps(targets), count, interval,
                                   timeout, timeout=count * (interval + 2 * timeout) + 30))
        named = {}
        if via_wanem:
            named["wanem"] = out[VIA_WANEM[1]]
        if direct:
            named["direct"] = out[DIRECT[1]]
        return named

    def burst(self, run_id, count, gap_s=0.0, via_wanem=True):
        """Send count numbered datagrams from x to y's sink; (received, in order)."""
        dst = VIA_WANEM[1] if via_wanem else DIRECT[1]
        self.in_x(BURST_CODE, dst, SINK_PORT, run_id, count, gap_s,
                  timeout=count * gap_s + 60)
        # The end marker must arrive: the link may drop it (loss) or hold it (delay).
        deadline = time.monotonic() + 20
        while True:
            self.in_x(END_CODE, dst, SINK_PORT, run_id)
            time.sleep(0.2)
            for line in open(self.sink_path).read().splitlines():
                w = line.split()
                if len(w) == 3 and w[0] == run_id:
                    return int(w[1]), int(w[2])
            if time.monotonic() > deadline:
                raise LabError(f"the sink never reported run {run_id}")

    def log_tail(self, member, lines=25):
        if member in ("node1", "node2", "witness") and self.wanem:
            return []
        return super().log_tail(member, lines)

    def dump_logs(self, lines=25, out=None):
        if self.wanem:
            print(f"    --- wanem: last lines of {self.wanem.log_path} ---", file=out)
            for line in self.wanem._log().splitlines()[-lines:]:
                print("    " + line, file=out)
