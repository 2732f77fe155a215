#!/usr/bin/python3
"""failover.py - `make bench`: how fast skyha fails over, against keepalived, and whether
it fails over when it should not.

What it measures, and why. A high-availability suite is judged on two numbers that pull
against each other: how quickly the secondary takes over when the primary really dies,
and how rarely it takes over when the primary is merely slow. This script measures both
on one machine, in one lab of network namespaces (tests/lab/lab.py: two nodes, a witness,
198.18.0.0/15 only), with the real build/heartbeatd at its documented default timings
(heartbeat every 200 ms, peer lost after 1000 ms, witness lease 1000 ms):
(1) failover time: the primary node is killed with -9 (every process, links down), and
the clock runs until the survivor's control socket says ALONE (polled every 10 ms; the
round trip of one poll is printed so it can be seen to be small); repeated N times, the
roles alternating. A status request also wakes heartbeatd's event loop, so a few more
failovers are left unobserved (read once, 1.5 s later, timed by the daemon's own
role_for_ms) to show whether the polling flatters the figure. (2) a baseline measured in
the same namespaces and the same run: keepalived (VRRPv3, unicast, advert_int equal to
our heartbeat interval), whose master keepalived processes are killed with -9 while the
clock runs until the virtual IP shows up on the other node. Times on shared, noisy
machines mean little alone, so the figures are given as ratios: skyha's median against
its configured timeout, and against keepalived's median. VRRP declares the master down
after 3 x advert_int plus a skew (0.72 s of silence here) while skyha waits for its
timeout, 5 x the interval, and then for the witness: the ratio is read with that in
mind. (3) false failovers: a healthy cluster is watched for a few idle seconds (the
baseline), then while stress-ng loads CPU, disk and memory of the whole machine; both
nodes' roles are polled every 100 ms and any change is a false failover. That count must
be 0: the script exits non-zero otherwise (and on any error). Results are printed as a table and
written as JSON to build/bench/failover.json. Everything is cleaned up on every exit
path. Standard library plus pyzmq; run as root with /usr/bin/python3.
"""

import argparse
import ctypes
import json
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import textwrap
import threading
import time
import traceback

import zmq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab as lablib  # noqa: E402
from _common import percentile, say  # noqa: E402

INTERVAL_MS, TIMEOUT_MS, LEASE_MS = 200, 1000, 1000   # the documented defaults
POLL_FAILOVER_S = 0.010       # status / VIP poll period while a failover runs
POLL_STRESS_S = 0.100         # role poll period under load
UNOBSERVED_S = 1.5           # an unobserved failover is read once, this long after
FAILOVER_LIMIT_S = 15.0       # a failover slower than this is an error, not a figure
SETTLE_LIMIT_S = 30.0         # how long a restarted node may take to rejoin
VIP = "198.18.0.100"
VIP_PREFIX = 24
VRID = 51
KEEPALIVED = "/usr/sbin/keepalived"
STRESS_NG = "/usr/bin/stress-ng"
JSON_OUT = os.path.join(ROOT, "build", "bench", "failover.json")

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class BenchError(Exception):
    """A measurement could not be taken (cluster did not settle, a tool failed...)."""


def note(text):
    print(f"    {text}", flush=True)


# --- statistics -----------------------------------------------------------------------

def summarise(values):
    if not values:
        return None
    return {"runs": len(values), "median": statistics.median(values),
            "p95": percentile(values, 95), "min": min(values), "max": max(values)}


# --- status over the control socket (one persistent REQ socket per node) ---------------

class Ctl:
    """Status polls of one node's heartbeatd, on a REQ socket kept open between polls.

    A new socket per poll (as lab.status does) would add a connect to every poll; here a
    poll is one request and one reply over ipc://. A poll that times out recreates the
    socket (a REQ socket waiting for a reply cannot send again).
    """

    def __init__(self, ctx, lab, node):
        self.ctx, self.lab, self.node = ctx, lab, node
        self.sock = None
        self.rtts = []

    def _open(self):
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect("ipc://" + self.lab.ctl_path(self.node))

    def close(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def status(self, timeout=1.0):
        """(status dict or None, monotonic time the reply arrived)."""
        if self.sock is None:
            self._open()
        t = time.monotonic()
        try:
            self.sock.send_string('{"command":"status"}', zmq.NOBLOCK)
        except zmq.ZMQError:
            self.close()
            return None, time.monotonic()
        if not self.sock.poll(int(timeout * 1000)):
            self.close()
            return None, time.monotonic()
        text = self.sock.recv_string()
        t_reply = time.monotonic()
        self.rtts.append(t_reply - t)
        try:
            reply = json.loads(text)
        except ValueError:
            return None, t_reply
        st = reply.get("status") if isinstance(reply, dict) else None
        return (st if isinstance(st, dict) else None), t_reply

    def role(self, timeout=1.0):
        st, t = self.status(timeout)
        return (st["node"]["role"] if st else None), st, t


# --- addresses in a namespace, read over rtnetlink ---------------------------------------

class NetnsAddrs:
    """An rtnetlink socket opened inside a network namespace; lists its IPv4 addresses.

    The socket is created by a thread that joins the namespace (setns) and then returns
    to its own, so the rest of the process stays in the root namespace. One poll is a
    single RTM_GETADDR dump: far cheaper than running `ip -n NS addr show`.
    """

    RTM_NEWADDR, RTM_GETADDR = 20, 22
    NLMSG_ERROR, NLMSG_DONE = 2, 3
    NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
    IFA_ADDRESS, IFA_LOCAL = 1, 2

    def __init__(self, ns):
        self.ns = ns
        self.seq = 0
        self.rtts = []
        box = {}

        def join_and_open():
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            target = os.open(os.path.join("/run/netns", ns), os.O_RDONLY)
            try:
                if _libc.setns(target, CLONE_NEWNET) != 0:
                    box["error"] = OSError(ctypes.get_errno(), f"setns {ns}")
                    return
                try:
                    box["sock"] = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                                socket.NETLINK_ROUTE)
                finally:
                    if _libc.setns(own, CLONE_NEWNET) != 0:
                        box["error"] = OSError(ctypes.get_errno(), "setns back")
            finally:
                os.close(own)
                os.close(target)

        t = threading.Thread(target=join_and_open)
        t.start()
        t.join()
        if "error" in box:
            box.get("sock") and box["sock"].close()
            raise BenchError(f"cannot open rtnetlink in {ns}: {box['error']}")
        self.sock = box["sock"]
        self.sock.bind((0, 0))
        self.sock.settimeout(2.0)

    def close(self):
        self.sock.close()

    def addresses(self):
        """The set of IPv4 addresses (dotted strings) on any interface of the namespace."""
        t = time.monotonic()
        self.seq += 1
        body = struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)
        hdr = struct.pack("=IHHII", 16 + len(body), self.RTM_GETADDR,
                          self.NLM_F_REQUEST | self.NLM_F_DUMP, self.seq, 0)
        self.sock.send(hdr + body)
        found = set()
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, kind, _flags, seq, _pid = struct.unpack_from("=IHHII", data, off)
                if length < 16:
                    raise BenchError("malformed rtnetlink reply")
                if seq == self.seq:
                    if kind == self.NLMSG_DONE:
                        self.rtts.append(time.monotonic() - t)
                        return found
                    if kind == self.NLMSG_ERROR:
                        err = struct.unpack_from("=i", data, off + 16)[0]
                        raise BenchError(f"rtnetlink error {err} in {self.ns}")
                    if kind == self.RTM_NEWADDR:
                        a = off + 16 + 8          # after nlmsghdr and ifaddrmsg
                        end = off + length
                        while a + 4 <= end:
                            alen, atype = struct.unpack_from("=HH", data, a)
                            if alen < 4:
                                break
                            if atype in (self.IFA_ADDRESS, self.IFA_LOCAL) and alen == 8:
                                found.add(socket.inet_ntoa(data[a + 4:a + 8]))
                            a += (alen + 3) & ~3
                off += (length + 3) & ~3

    def has(self, ip):
        return ip in self.addresses()


# --- processes --------------------------------------------------------------------------

def ns_pids(ns):
    res = lablib.run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in res.stdout.split() if p.isdigit()]


def comm(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None, None
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    state = stat[stat.rindex(")") + 2:].split()[0]
    return name, state


def reap(pids):
    """Collect exit statuses of orphans re-parented to us (we are a child subreaper)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def stop_group(proc, timeout=5.0):
    """SIGKILL a process started with start_new_session, and its whole group."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    # Its workers were re-parented to us (child subreaper) when it died: collect them.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-proc.pid, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)


# --- 1. skyha failover --------------------------------------------------------------------

def steady(lab, ctls, prim, sec):
    """Wait until prim is PRIM holding the witness lease, sec its in-sync SECOND."""
    deadline = time.monotonic() + SETTLE_LIMIT_S
    last = {}
    while True:
        for node in (prim, sec):
            if not lab.running(node):
                raise BenchError(f"heartbeatd on {node} exited with code "
                                 f"{lab.exit_code(node)}")
            last[node], _t = ctls[node].status()
        p, s = last[prim], last[sec]
        if (p and s and p["node"]["role"] == "PRIM" and p["peer"]["role"] == "SECOND"
                and p["witness"]["lease"] == "held"
                and s["node"]["role"] == "SECOND" and s["peer"]["role"] == "PRIM"
                and s["peer"]["visible"] and s["node"]["data"] == "uptodate"):
            return last
        if time.monotonic() > deadline:
            raise BenchError(f"no steady state ({prim} PRIM, {sec} SECOND) within "
                             f"{SETTLE_LIMIT_S:g} s: {prim}: {lablib.describe(p)}; "
                             f"{sec}: {lablib.describe(s)}")
        time.sleep(0.05)


def one_skyha_failover(lab, ctls, prim, sec, observe=True):
    """Kill prim's node with -9; return the measured run (a dict).

    observe: poll sec's status every POLL_FAILOVER_S from the kill on, and time the
    first poll that says ALONE. Without it, sec is left alone for UNOBSERVED_S (a status
    request wakes heartbeatd's loop, which would otherwise wake only every
    interval/4), then read once; the time comes from its role_for_ms alone.
    """
    # A random phase, so the kill lands anywhere in the heartbeat period.
    time.sleep(random.uniform(0, INTERVAL_MS / 1000.0))
    pids = ns_pids(lab.ns(prim))
    if not pids:
        raise BenchError(f"no process in {prim}'s namespace to kill")
    t0 = time.monotonic()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # lab.kill_node: finds nothing left to kill, reaps, takes the links down, logs.
    errors = []

    def finish_kill():
        try:
            lab.kill_node(prim)
        except Exception as exc:  # reported after the measurement
            errors.append(exc)

    killer = threading.Thread(target=finish_kill)
    killer.start()
    roles_seen = []
    polls = unanswered = 0
    deadline = t0 + FAILOVER_LIMIT_S
    period = POLL_FAILOVER_S if observe else 0.1
    tick = t0 if observe else t0 + UNOBSERVED_S
    if not observe:
        time.sleep(max(0.0, tick - time.monotonic()))
    st = None
    while True:
        st, t_reply = ctls[sec].status(timeout=0.5)
        polls += 1
        if st is None:
            unanswered += 1
        else:
            role = st["node"]["role"]
            if not roles_seen or roles_seen[-1] != role:
                roles_seen.append(role)
            if role == "ALONE":
                break
        if t_reply > deadline or not lab.running(sec):
            killer.join()
            raise BenchError(f"{sec} not ALONE {FAILOVER_LIMIT_S:g} s after {prim} was "
                             f"killed: {lablib.describe(st)}")
        tick += period
        pause = tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            tick = time.monotonic()
    killer.join()
    if errors:
        raise BenchError(f"kill_node({prim}): {errors[0]}")
    polled = t_reply - t0
    # The daemon's own account: ALONE for role_for_ms when it answered.
    by_status = polled - st["node"].get("role_for_ms", 0) / 1000.0
    return {"killed": prim, "survivor": sec, "observed": observe,
            "seconds": polled if observe else by_status,
            "alone_by_role_for_ms": by_status, "roles_seen": roles_seen,
            "polls": polls, "unanswered": unanswered,
            "reason": st.get("transition", {}).get("reason", ""),
            "generation": st["node"].get("generation")}


def bench_skyha(lab, ctx, runs, unobserved_runs):
    say(f"1. skyha failover: {runs} runs polled every {POLL_FAILOVER_S * 1000:g} ms, then "
        f"{unobserved_runs} unobserved; heartbeat {INTERVAL_MS} ms, timeout {TIMEOUT_MS} ms, "
        f"witness lease {LEASE_MS} ms")
    ctls = {n: Ctl(ctx, lab, n) for n in lab.nodes}
    try:
        lab.start_cluster(timeout=SETTLE_LIMIT_S)
        prim, sec = "node1", "node2"
        observed, unobserved = [], []
        total = runs + unobserved_runs
        for i in range(total):
            observe = i < runs
            steady(lab, ctls, prim, sec)
            for c in ctls.values():
                c.rtts.clear()
            r = one_skyha_failover(lab, ctls, prim, sec, observe)
            r["poll_rtt_median_ms"] = statistics.median(ctls[sec].rtts) * 1000
            (observed if observe else unobserved).append(r)
            odd = "" if r["roles_seen"] == ["SECOND", "ALONE"] or not observe else \
                f"  roles seen: {' -> '.join(r['roles_seen'])}"
            if observe:
                note(f"run {i + 1:2d}/{runs}: kill -9 {prim} -> {sec} ALONE in "
                     f"{r['seconds'] * 1000:7.1f} ms (status role_for_ms says "
                     f"{r['alone_by_role_for_ms'] * 1000:7.1f} ms; poll "
                     f"{r['poll_rtt_median_ms']:.2f} ms){odd}")
            else:
                note(f"unobserved {i - runs + 1:2d}/{unobserved_runs}: kill -9 {prim} -> "
                     f"{sec} ALONE after {r['seconds'] * 1000:7.1f} ms (role_for_ms, read "
                     f"{UNOBSERVED_S:g} s after the kill)")
            lab.restart_node(prim)
            prim, sec = sec, prim
        steady(lab, ctls, prim, sec)
        return observed, unobserved
    finally:
        for c in ctls.values():
            c.close()


def stop_skyha(lab):
    """SIGKILL every heartbeatd (secondary first), so keepalived runs on its own."""
    for member in ("node2", "node1", "witness"):
        if lab.running(member):
            lab.kill_daemon(member)
    lab.heal_all()


# --- 2. keepalived baseline ----------------------------------------------------------------

class Keepalived:
    """keepalived (VRRP only) in each node namespace, VRRPv3 unicast on network 0."""

    PRIORITY = {"node1": 150, "node2": 100}

    def __init__(self, lab):
        self.lab = lab
        self.dir = os.path.join(lab.dir, "keepalived")
        os.makedirs(self.dir, exist_ok=True)
        self.procs = {}
        self.orphans = set()

    def conf_path(self, node):
        return os.path.join(self.dir, f"{node}.conf")

    def write_conf(self, node):
        peer = "node2" if node == "node1" else "node1"
        text = f"""# skyha bench: VRRPv3, unicast on network 0, advert_int = heartbeat interval
global_defs {{
    router_id skyha_bench_{node}
    vrrp_version 3
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 1
}}
vrrp_instance bench {{
    state BACKUP
    interface eth0
    virtual_router_id {VRID}
    priority {self.PRIORITY[node]}
    advert_int {INTERVAL_MS / 1000.0:g}
    unicast_src_ip {lablib.address(0, node)}
    unicast_peer {{
        {lablib.address(0, peer)}
    }}
    virtual_ipaddress {{
        {VIP}/{VIP_PREFIX} dev eth0
    }}
}}
"""
        with open(self.conf_path(node), "w") as f:
            f.write(text)

    def start(self, node):
        old = self.procs.get(node)
        if old is not None and old.poll() is None:
            raise BenchError(f"keepalived already runs on {node}")
        # A keepalived killed with -9 leaves its VIP behind: a restarted node starts clean.
        lablib.run(["ip", "-n", self.lab.ns(node), "addr", "del", f"{VIP}/{VIP_PREFIX}",
                    "dev", "eth0"], check=False)
        for stale in ("pid", "vrrp.pid"):
            try:
                os.unlink(os.path.join(self.dir, f"{node}.{stale}"))
            except FileNotFoundError:
                pass
        log = open(os.path.join(self.dir, f"{node}.log"), "a")
        try:
            self.procs[node] = subprocess.Popen(
                ["ip", "netns", "exec", self.lab.ns(node), KEEPALIVED, "-n", "-l", "-D",
                 "--vrrp", "-f", self.conf_path(node),
                 "-p", os.path.join(self.dir, f"{node}.pid"),
                 "-r", os.path.join(self.dir, f"{node}.vrrp.pid")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()

    def pids(self, node):
        """Every live keepalived process in the node's namespace."""
        out = []
        for pid in ns_pids(self.lab.ns(node)):
            name, state = comm(pid)
            if name == "keepalived" and state != "Z":
                out.append(pid)
        return out

    def kill(self, node):
        """kill -9 every keepalived of the node; return the time of the first kill.

        The parent is stopped first so it cannot respawn its VRRP child, then the child
        is killed before the parent so it never sees its parent die (it would shut down
        cleanly and send a priority-0 advert, which is not what a crash looks like).
        """
        parent = self.procs[node].pid
        pids = self.pids(node)
        children = [p for p in pids if p != parent]
        if parent not in pids or not children:
            raise BenchError(f"keepalived on {node}: expected a parent and a VRRP child, "
                             f"found {pids}")
        t0 = time.monotonic()
        os.kill(parent, signal.SIGSTOP)
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        os.kill(parent, signal.SIGKILL)
        self.orphans.update(children)
        return t0

    def wait_dead(self, node, timeout=5.0):
        self.procs[node].wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while self.pids(node):
            reap(self.orphans)
            if time.monotonic() > deadline:
                raise BenchError(f"keepalived on {node} survived SIGKILL")
            time.sleep(0.01)
        reap(self.orphans)

    def stop_all(self):
        for node, proc in self.procs.items():
            for pid in self.pids(node):
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.orphans.add(pid)
                except ProcessLookupError:
                    pass
            stop_group(proc)
        reap(self.orphans)
        for node in self.procs:
            lablib.run(["ip", "-n", self.lab.ns(node), "addr", "del",
                        f"{VIP}/{VIP_PREFIX}", "dev", "eth0"], check=False)

    def log_tail(self, node, lines=15):
        try:
            with open(os.path.join(self.dir, f"{node}.log"), errors="replace") as f:
                return f.readlines()[-lines:]
        except FileNotFoundError:
            return []


def wait_vip_on(addrs, ka, owner, timeout=SETTLE_LIMIT_S):
    """Wait until only `owner` holds the VIP, then hold it 1 s more (adverts flowing)."""
    other = "node2" if owner == "node1" else "node1"
    deadline = time.monotonic() + timeout
    good_since = None
    while True:
        for node in ("node1", "node2"):
            proc = ka.procs.get(node)
            if proc is not None and proc.poll() is not None:
                raise BenchError(f"keepalived on {node} exited with code {proc.poll()}: "
                                 + "".join(ka.log_tail(node, 5)))
        ok = addrs[owner].has(VIP) and not addrs[other].has(VIP)
        now = time.monotonic()
        if ok:
            good_since = good_since or now
            if now - good_since >= 1.0:
                return
        else:
            good_since = None
        if now > deadline:
            raise BenchError(f"the VIP did not settle on {owner} within {timeout:g} s")
        time.sleep(0.05)


def bench_keepalived(lab, runs):
    say(f"2. keepalived baseline: {runs} runs, VRRPv3 unicast on network 0, advert_int "
        f"{INTERVAL_MS / 1000.0:g} s, VIP {VIP}/{VIP_PREFIX}, priorities node1 150 / "
        "node2 100")
    ka = Keepalived(lab)
    addrs = {}
    try:
        for node in lab.nodes:
            addrs[node] = NetnsAddrs(lab.ns(node))
            ka.write_conf(node)
        for node in lab.nodes:
            ka.start(node)
        wait_vip_on(addrs, ka, "node1")
        results = []
        for i in range(runs):
            time.sleep(random.uniform(0, INTERVAL_MS / 1000.0))
            if addrs["node2"].has(VIP):
                raise BenchError("node2 holds the VIP before the kill")
            addrs["node2"].rtts.clear()
            t0 = ka.kill("node1")
            deadline = t0 + FAILOVER_LIMIT_S
            tick = t0
            polls = 0
            while True:
                present = addrs["node2"].has(VIP)
                t_seen = time.monotonic()
                polls += 1
                if present:
                    break
                if t_seen > deadline:
                    raise BenchError(f"the VIP did not move to node2 within "
                                     f"{FAILOVER_LIMIT_S:g} s of killing node1's keepalived")
                tick += POLL_FAILOVER_S
                pause = tick - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    tick = time.monotonic()
            r = {"killed": "node1", "survivor": "node2", "seconds": t_seen - t0,
                 "polls": polls,
                 "poll_rtt_median_ms": statistics.median(addrs["node2"].rtts) * 1000}
            results.append(r)
            note(f"run {i + 1:2d}/{runs}: kill -9 keepalived on node1 -> VIP on node2 in "
                 f"{r['seconds'] * 1000:7.1f} ms (poll {r['poll_rtt_median_ms']:.2f} ms)")
            ka.wait_dead("node1")
            ka.start("node1")          # node1 has the higher priority: it preempts
            wait_vip_on(addrs, ka, "node1")
        return results
    except BaseException:
        for node in lab.nodes:
            tail = ka.log_tail(node, 10)
            if tail:
                print(f"    --- {node}: last lines of keepalived's log ---")
                for line in tail:
                    print("    " + line.rstrip("\n"))
        raise
    finally:
        ka.stop_all()
        for a in addrs.values():
            a.close()


# --- 3. false failovers under load -----------------------------------------------------------

def watch_roles(lab, ctls, expected, seconds, stress=None):
    """Poll both nodes every POLL_STRESS_S for `seconds` (and until stress-ng exits).

    Returns the role changes seen, unanswered polls, the longest peer silence each node
    reported (peer.last_seen_ms) and the slowest status round trip.
    """
    t_start = time.monotonic()
    end = t_start + seconds
    changes, unanswered, samples = [], {n: 0 for n in lab.nodes}, 0
    last_role = dict(expected)
    max_silence = {n: 0 for n in lab.nodes}
    max_rtt = 0.0
    tick = t_start
    while time.monotonic() < end or (stress is not None and stress.poll() is None):
        if time.monotonic() > end + 30:
            raise BenchError("stress-ng did not stop 30 s after its timeout")
        for node in lab.nodes:
            if not lab.running(node):
                raise BenchError(f"heartbeatd on {node} exited with code "
                                 f"{lab.exit_code(node)}")
            t = time.monotonic()
            st, t_reply = ctls[node].status(timeout=1.0)
            max_rtt = max(max_rtt, t_reply - t)
            if st is None:
                unanswered[node] += 1
                continue
            role = st["node"]["role"]
            silent = st["peer"].get("last_seen_ms")
            if isinstance(silent, (int, float)):
                max_silence[node] = max(max_silence[node], silent)
            if role != last_role[node]:
                changes.append({"t": round(t_reply - t_start, 3), "node": node,
                                "from": last_role[node], "to": role,
                                "reason": st.get("transition", {}).get("reason", "")})
                note(f"ROLE CHANGE at t+{t_reply - t_start:.1f} s: {node} "
                     f"{last_role[node]} -> {role} ({lablib.describe(st)})")
                last_role[node] = role
        samples += 1
        tick += POLL_STRESS_S
        pause = tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            tick = time.monotonic()
    return {"seconds": round(time.monotonic() - t_start, 1), "samples": samples,
            "changes": changes, "unanswered_polls": unanswered,
            "max_peer_silence_ms": max_silence, "max_poll_rtt_ms": max_rtt * 1000}


def bench_stress(lab, ctx, seconds, idle_seconds):
    say(f"3. false failovers: healthy cluster at default timings, {idle_seconds:g} s idle "
        f"(baseline), then stress-ng --cpu 2 --io 1 --vm 1 --vm-bytes 256M for "
        f"{seconds:g} s; roles polled every {POLL_STRESS_S * 1000:.0f} ms")
    ctls = {n: Ctl(ctx, lab, n) for n in lab.nodes}
    stress = None
    log_path = os.path.join(lab.dir, "stress-ng.log")
    try:
        # The same namespaces and state as part 1: both nodes were killed while in sync.
        lab.start_witness()
        for node in lab.nodes:
            lab.start_node(node)
        deadline = time.monotonic() + SETTLE_LIMIT_S
        while True:
            sts = {n: ctls[n].status()[0] for n in lab.nodes}
            roles = {n: (st["node"]["role"] if st else None) for n, st in sts.items()}
            if sorted(roles.values(), key=str) == ["PRIM", "SECOND"] and all(
                    st["peer"]["visible"] for st in sts.values()):
                prim = [n for n, r in roles.items() if r == "PRIM"][0]
                if sts[prim]["witness"]["lease"] == "held":
                    break
            if time.monotonic() > deadline:
                raise BenchError("the restarted cluster did not elect PRIM/SECOND within "
                                 f"{SETTLE_LIMIT_S:g} s: " + "; ".join(
                                     f"{n}: {lablib.describe(st)}" for n, st in sts.items()))
            time.sleep(0.05)
        expected = dict(roles)
        first = {n: dict(sts[n].get("transition", {})) for n in lab.nodes}
        note("cluster up (restarted with its state from part 1): "
             + ", ".join(f"{n} {r}" for n, r in sorted(expected.items())))
        idle = watch_roles(lab, ctls, expected, idle_seconds)
        note(f"idle {idle['seconds']:g} s: {len(idle['changes'])} role changes, longest "
             f"peer silence {max(idle['max_peer_silence_ms'].values())} ms")
        with open(log_path, "w") as log:
            stress = subprocess.Popen(
                [STRESS_NG, "--cpu", "2", "--io", "1", "--vm", "1", "--vm-bytes", "256M",
                 "--timeout", f"{seconds:g}s"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        loaded = watch_roles(lab, ctls, expected, seconds, stress)
        note(f"stress {loaded['seconds']:g} s: {len(loaded['changes'])} role changes, "
             f"longest peer silence {max(loaded['max_peer_silence_ms'].values())} ms")
        stress_rc = stress.returncode
        if stress_rc != 0:
            with open(log_path, errors="replace") as f:
                tail = "".join(f.readlines()[-5:])
            raise BenchError(f"stress-ng exited {stress_rc}, so the load was not what was "
                             f"asked for: {tail.strip()}")
        # A change shorter than the poll period shows up as a new last transition.
        missed = []
        seen = {c["node"] for c in idle["changes"] + loaded["changes"]}
        for node in lab.nodes:
            st, _t = ctls[node].status(timeout=2.0)
            trans = dict(st.get("transition", {})) if st else {}
            if st and node not in seen and (
                    trans.get("at"), trans.get("from"), trans.get("to")) != (
                    first[node].get("at"), first[node].get("from"), first[node].get("to")):
                missed.append({"node": node, "transition": trans})
                note(f"ROLE CHANGE between polls on {node}: {trans}")
        count = len(idle["changes"]) + len(loaded["changes"]) + len(missed)
        return {"seconds": seconds, "idle": idle, "stress": loaded,
                "samples": loaded["samples"], "role_changes": count,
                "changes_between_polls": missed, "expected_roles": expected,
                "stress_ng_exit": stress_rc}
    finally:
        stop_group(stress)
        for c in ctls.values():
            c.close()


# --- report ---------------------------------------------------------------------------------

def ms(x):
    return f"{x * 1000:8.1f}"


def report(results):
    sky = results.get("skyha")
    unobs = results.get("skyha_unobserved")
    ka = results.get("keepalived")
    st = results.get("stress")
    timeout_s = TIMEOUT_MS / 1000.0
    poll_ms = POLL_FAILOVER_S * 1000
    print()
    say("Results (times in ms; ratios against figures measured in this same run)")
    head = (f"    {'measurement':40s} {'runs':>4s} {'median':>8s} {'p95':>8s} {'min':>8s} "
            f"{'max':>8s}  ratio")
    print(head)
    print("    " + "-" * 110)

    def row(label, stats, ratio):
        print(f"    {label:40s} {stats['runs']:4d} {ms(stats['median'])} {ms(stats['p95'])} "
              f"{ms(stats['min'])} {ms(stats['max'])}  {ratio}")

    if sky:
        row(f"skyha: kill -9 node -> ALONE (poll {poll_ms:g})", sky["stats"],
            f"{sky['stats']['median'] / timeout_s:.2f} x timeout ({TIMEOUT_MS} ms)")
    if unobs:
        ratio = f"{unobs['stats']['median'] / timeout_s:.2f} x timeout"
        if sky:
            ratio += f"; {results['ratio_unobserved_observed']:.2f} x polled"
        row("skyha: same, unobserved (role_for_ms)", unobs["stats"], ratio)
    if ka:
        ratio = ""
        if sky:
            ratio = f"skyha median = {results['ratio_skyha_keepalived']:.2f} x this"
        row(f"keepalived: kill -9 -> VIP (poll {poll_ms:g})", ka["stats"], ratio)
    if st:
        idle_sil = max(st["idle"]["max_peer_silence_ms"].values())
        load_sil = max(st["stress"]["max_peer_silence_ms"].values())
        print(f"    {'longest peer silence, idle':40s} {'':4s} {idle_sil:8d} "
              f"{'':26s}  {idle_sil / TIMEOUT_MS:.2f} x timeout")
        ratio = f"{load_sil / idle_sil:.2f} x idle" if idle_sil else ""
        print(f"    {'longest peer silence, under stress-ng':40s} {'':4s} {load_sil:8d} "
              f"{'':26s}  {load_sil / TIMEOUT_MS:.2f} x timeout; {ratio}")
        print(f"    {'false failovers (role changes)':40s} {'':4s} {st['role_changes']:8d} "
              f"{'':26s}  in {st['idle']['seconds']:g} s idle + {st['seconds']:g} s stress "
              f"({st['idle']['samples'] + st['samples']} polls of both nodes)")
    print()
    say("How to read it")
    adv = INTERVAL_MS
    down = 3 * adv + (256 - 100) * adv / 256
    text = f"""\
skyha declares the peer lost after heartbeat.timeout_ms = {TIMEOUT_MS} ms = 5 x the interval
({INTERVAL_MS} ms) of silence; then the witness must grant the survivor a new data generation,
which it can once the dead primary's lease ({LEASE_MS} ms, renewed every interval) has lapsed.
The last heartbeat left 0..{INTERVAL_MS} ms before the kill, so the ratio to the timeout is
expected a little under 1. VRRP declares the master down after 3 x advert_int + skew =
{3 * adv} + (256 - 100)/256 x {adv} = {down:.0f} ms of silence ({down - adv:.0f}..{down:.0f} ms after
the kill), with no quorum check. skyha's timeout is 5 x the interval, VRRP's 3 x: at equal
intervals keepalived should be about {TIMEOUT_MS}/{down:.0f} = {TIMEOUT_MS / down:.2f} x faster by
design alone, so a skyha/keepalived ratio near {TIMEOUT_MS / down:.2f} means skyha adds little
beyond its longer timeout. skyha is timed until the survivor's status says ALONE (no VIP
daemon yet); keepalived until the VIP is on the survivor's eth0. Both are polled every
{poll_ms:g} ms, so a figure is late by up to that. A status request also wakes heartbeatd's
loop, which otherwise wakes every interval/4 = {INTERVAL_MS // 4} ms, so polling can make skyha look
slightly faster: the unobserved row reads the survivor once, {UNOBSERVED_S:g} s after the kill,
and takes the time from its role_for_ms. Each kill comes a random 0..{INTERVAL_MS} ms after
the cluster is steady. False failovers: any role change of either node while idle or under
load; the longest peer silence (peer.last_seen_ms) shows how close the timeout came."""
    for line in textwrap.wrap(" ".join(text.split()), width=96):
        print("    " + line)
    print()
    say("Summary")
    if sky:
        s = sky["stats"]
        print(f"    skyha failover: median {s['median'] * 1000:.0f} ms over {s['runs']} runs "
              f"= {s['median'] / timeout_s:.2f} x the configured timeout "
              f"(p95 {s['p95'] * 1000:.0f} ms; status poll round trip "
              f"{sky['poll_rtt_median_ms']:.2f} ms)")
    if unobs:
        u = unobs["stats"]
        line = (f"    skyha failover, unobserved: median {u['median'] * 1000:.0f} ms over "
                f"{u['runs']} runs = {u['median'] / timeout_s:.2f} x the timeout")
        if sky:
            line += f" = {results['ratio_unobserved_observed']:.2f} x the polled median"
        print(line)
    if ka:
        k = ka["stats"]
        line = (f"    keepalived failover: median {k['median'] * 1000:.0f} ms over "
                f"{k['runs']} runs")
        if sky:
            line += (f"; skyha median / keepalived median = "
                     f"{results['ratio_skyha_keepalived']:.2f} (design alone: "
                     f"{TIMEOUT_MS / down:.2f})")
        print(line + f" (VIP poll round trip {ka['poll_rtt_median_ms']:.2f} ms)")
    if st:
        verdict = "OK" if st["role_changes"] == 0 else "FAIL"
        load_sil = max(st["stress"]["max_peer_silence_ms"].values())
        unanswered = sum(st["idle"]["unanswered_polls"].values()) + sum(
            st["stress"]["unanswered_polls"].values())
        print(f"    false failovers under load: {st['role_changes']} ({verdict}) in "
              f"{st['seconds']:g} s of stress-ng; longest peer silence {load_sil} ms = "
              f"{load_sil / TIMEOUT_MS:.2f} x timeout; unanswered status polls {unanswered}")
    for part, err in results.get("errors", {}).items():
        print(f"    {part}: NOT MEASURED: {err}")


def pack(runs):
    """Statistics of a list of runs, and the runs themselves."""
    return {"stats": summarise([r["seconds"] for r in runs]),
            "poll_rtt_median_ms": statistics.median(r["poll_rtt_median_ms"] for r in runs),
            "runs": runs}


def main():
    global POLL_FAILOVER_S
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--runs", type=int, default=20, help="failovers per system (20)")
    ap.add_argument("--stress-seconds", type=float, default=60.0,
                    help="how long stress-ng runs (60)")
    ap.add_argument("--unobserved-runs", type=int, default=10,
                    help="extra skyha failovers read once, 1.5 s after the kill (10)")
    ap.add_argument("--idle-seconds", type=float, default=5.0,
                    help="idle watch before stress-ng starts, the baseline (5)")
    ap.add_argument("--json", default=JSON_OUT, help=f"result file ({JSON_OUT})")
    ap.add_argument("--only", default="skyha,keepalived,stress",
                    help="comma-separated parts to run (skyha,keepalived,stress)")
    ap.add_argument("--keep", action="store_true", help="keep the lab temp dir (logs)")
    ap.add_argument("--poll-ms", type=float, default=POLL_FAILOVER_S * 1000,
                    help="poll period while a failover runs (10); larger values show how "
                         "much the status polls themselves speed heartbeatd up")
    args = ap.parse_args()
    POLL_FAILOVER_S = args.poll_ms / 1000.0
    parts = set(p.strip() for p in args.only.split(",") if p.strip())
    if args.runs < 1 or args.stress_seconds <= 0 or args.idle_seconds <= 0 \
            or args.unobserved_runs < 0:
        ap.error("--runs, --stress-seconds, --idle-seconds must be positive")
    if os.geteuid() != 0:
        sys.exit("failover.py: must run as root (network namespaces)")
    for tool in (lablib.HEARTBEATD, KEEPALIVED, STRESS_NG):
        if not os.access(tool, os.X_OK):
            sys.exit(f"failover.py: {tool} is missing: run `make all deps-bench`")
    # keepalived's VRRP child outlives its killed parent: have it re-parented to us.
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    lablib.cleanup_stale()

    started = time.monotonic()
    results = {"timing": {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS,
                          "lease_ms": LEASE_MS, "poll_ms": POLL_FAILOVER_S * 1000},
               "runs": args.runs, "errors": {}}
    failed = False
    ctx = zmq.Context()
    try:
        with lablib.Lab(networks=2, interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS,
                        lease_ms=LEASE_MS, keep=args.keep) as lab:
            say(f"Lab {lab.prefix}*: node1, node2, witness; networks 198.18.0.0/24 and "
                f"198.18.1.0/24; temp dir {lab.dir}")
            steps = [("skyha", lambda: bench_skyha(lab, ctx, args.runs,
                                                   args.unobserved_runs)),
                     ("keepalived", lambda: bench_keepalived(lab, args.runs)),
                     ("stress", lambda: bench_stress(lab, ctx, args.stress_seconds,
                                                     args.idle_seconds))]
            for name, fn in steps:
                if name not in parts:
                    continue
                t = time.monotonic()
                try:
                    out = fn()
                except (BenchError, lablib.LabError, AssertionError, OSError,
                        subprocess.SubprocessError) as exc:
                    failed = True
                    results["errors"][name] = str(exc)
                    say(f"{name}: FAILED: {exc}")
                    traceback.print_exc()
                    lab.dump_logs(15)
                    out = None
                finally:
                    if name == "skyha":
                        stop_skyha(lab)
                if out is None:
                    continue
                if name == "stress":
                    results["stress"] = out
                elif name == "skyha":
                    results["skyha"] = pack(out[0])
                    if out[1]:
                        results["skyha_unobserved"] = pack(out[1])
                else:
                    results[name] = pack(out)
                note(f"({name}: {time.monotonic() - t:.0f} s)")
            if args.keep:
                note(f"lab temp dir kept: {lab.dir}")
    finally:
        ctx.destroy(linger=0)
    sky, ka = results.get("skyha"), results.get("keepalived")
    if sky and ka:
        results["ratio_skyha_keepalived"] = sky["stats"]["median"] / ka["stats"]["median"]
    unobs = results.get("skyha_unobserved")
    if sky and unobs:
        results["ratio_unobserved_observed"] = (unobs["stats"]["median"]
                                                / sky["stats"]["median"])
    if sky:
        results["ratio_skyha_timeout"] = sky["stats"]["median"] / (TIMEOUT_MS / 1000.0)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    report(results)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"    results written to {args.json} (elapsed {results['elapsed_s']:.0f} s)")
    false_failovers = results.get("stress", {}).get("role_changes", 0)
    if false_failovers:
        print(f"failover.py: {false_failovers} false failover(s) under load", file=sys.stderr)
    sys.exit(1 if failed or false_failovers else 0)


if __name__ == "__main__":
    main()
