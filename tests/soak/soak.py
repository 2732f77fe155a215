#!/usr/bin/python3
"""soak.py - the fault campaign (issue 13, `make soak`): the whole mirror module under
random faults, with an application writing and clients reading all along.

The cluster is tests/lab/stack_lab.py's (replicd, heartbeatd, healthd, vipd, checkd and
the sample application on both nodes, a witness, the VIP 198.18.0.100), each node's disk
a small tmpfs so that it can fill up. Faults are drawn at random from FAULT_KINDS with a
seed printed at the start (`--seed N` replays the same sequence of kinds, targets and
durations; what the daemons do in between depends on timing, as in life). The first
len(FAULT_KINDS) faults are a shuffle of every kind, so even a short run tries each.

While it runs:
- a writer (a separate process: a write stuck in FUSE must not stop the driver) appends
  numbered records to <data>/ledger on the serving node through its replicated mount,
  fsyncing each, and logs each one acknowledged (fsync returned 0) with its time. When
  another node serves, the old writer is killed, the ledger is read on the new serving
  node (every record acknowledged so far must be there), and a new writer starts there;
- a client in the client namespace asks, through the VIP, every 100 ms: which node
  answers (the lab's UDP echo on every node) and whether the application answers
  HTTP 200 (the availability);
- a sampler reads both nodes' status (control socket) and whether each holds the VIP.

After each fault is undone the driver waits (bounded) for PRIM + SECOND in sync, then
stops the writer, reads the ledger on the primary, hashes both nodes' backing copies
(until equal, bounded) and notes any dead daemon. It only records: tests/soak/checker.py
judges the whole history at the end (history.json is kept, and can be judged again with
`checker.py history.json`). The report is a table of faults by kind, the violations with
the seed and fault index, the availability, and a last line `N passed, N failed`: one per
fault found clean or not, one per check over the whole run, one for the checker's own
self-test.

    sudo /usr/bin/python3 tests/soak/soak.py [--seed N] [--faults N] [--minutes M]
    sudo /usr/bin/python3 tests/soak/soak.py --short      (make check: 20 faults, seed 1)

Standard library plus pyzmq, like the lab; needs root and `make`.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)

import checker  # noqa: E402
import lab as lablib  # noqa: E402
from lab import SERVING_ROLES, LabError, run  # noqa: E402
from replicd_lab import replicd_of  # noqa: E402
from healthd_lab import LB_PORT  # noqa: E402
from stack_lab import APP_PORT, VIP4, StackLab  # noqa: E402
from vipd_lab import ECHO_PORT  # noqa: E402

SHORT_SEED = 1
SHORT_FAULTS = 20
SHORT_MINUTES = 4.5
SETTLE_BOUND_S = 60        # check 4: back to PRIM + SECOND in sync within this
SETTLE_GIVE_UP_S = 120     # the driver stops the campaign when a heal never settles
HASH_WAIT_S = 20           # resynced copies must compare equal within this
DISK_MIB = 64              # each node's disk (tmpfs): the "disk full" fault fills it
REPLICATION_PORT = 7410    # docs/config.md replicd.port
LEDGER = "ledger"
DAEMONS = ("replicd", "heartbeatd", "healthd", "vipd", "checkd")

# argv: path first_seq out. Appends "record NNNNNNNNNN\n", fsyncs it, then logs
# "monotonic ack seq" (acknowledged) or "monotonic err seq errno|short" (a short
# write is not an acknowledgement: the file then ends with part of a record).
WRITER_CODE = r"""
import os, sys, time
path, seq, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = open(out, "a", buffering=1)
fd = None
while True:
    try:
        if fd is None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        record = b"record %010d\n" % seq
        if os.write(fd, record) != len(record):
            # A short write (the disk filled up): the record is not whole.
            log.write(f"{time.monotonic():.6f} err {seq} short\n")
            seq += 1
            continue
        os.fsync(fd)
        log.write(f"{time.monotonic():.6f} ack {seq}\n")
        time.sleep(0.01)
    except OSError as e:
        log.write(f"{time.monotonic():.6f} err {seq} {e.errno}\n")
        time.sleep(0.1)
    seq += 1
"""

# argv: vip echo_port app_port out [lb_url]. Every 100 ms: who answers the UDP echo at
# the VIP (send and answer times), whether GET / at the VIP answers 200, and the same
# through HAProxy when lb_url is given. Lines: "t0 t1 who|- http(0|1) lb(0|1|-)".
CLIENT_CODE = r"""
import socket, sys, time, urllib.request
vip, echo, app, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lb = sys.argv[5] if len(sys.argv) > 5 else ""

def get(url):
    try:
        r = urllib.request.urlopen(url, timeout=1.0)
        r.read()
        return 1 if r.status == 200 else 0
    except Exception:
        return 0

f = open(out, "a", buffering=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
seq = 0
while True:
    start = time.monotonic()
    seq += 1
    who, t1 = "-", start
    tag = str(seq).encode()
    try:
        s.sendto(tag, (vip, echo))
        s.settimeout(0.3)
        while True:
            data = s.recv(512).split()
            if len(data) == 2 and data[0] == tag:
                who, t1 = data[1].decode(), time.monotonic()
                break
    except OSError:
        pass
    ok = get(f"http://{vip}:{app}/")
    via_lb = get(lb) if lb else "-"
    f.write(f"{start:.6f} {t1:.6f} {who} {ok} {via_lb}\n")
    time.sleep(max(0.0, 0.1 - (time.monotonic() - start)))
"""

# argv: path. Prints the record numbers found in a ledger, as "a-b" ranges. A whole
# record may follow part of one (a short write before it): found by pattern, not line.
READ_LEDGER_CODE = r"""
import re, sys
ranges = []
try:
    data = open(sys.argv[1], "rb").read()
except FileNotFoundError:
    sys.exit(0)
seqs = {int(n) for n in re.findall(rb"record (\d{10})\n", data)}
for n in sorted(seqs):
    if ranges and ranges[-1][1] == n - 1:
        ranges[-1][1] = n
    else:
        ranges.append([n, n])
print(" ".join(f"{a}-{b}" for a, b in ranges))
"""


class History:
    """The campaign's events (see checker.py), appended from several threads."""

    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def add(self, kind, **fields):
        fields.setdefault("t", time.monotonic())
        with self.lock:
            self.events.append(dict(kind=kind, **fields))
        return fields["t"]

    def snapshot(self):
        with self.lock:
            return list(self.events)


class Sampler(threading.Thread):
    """Reads both nodes' status and VIP in turn, about every 100 ms each; records them."""

    def __init__(self, lab, history):
        super().__init__(name="sampler", daemon=True)
        self.lab, self.history = lab, history
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for node in self.lab.nodes:
                try:
                    self.sample(node)
                except Exception as exc:  # keep sampling; a gap only weakens check 1
                    self.history.add("sampler_error", node=node, what=repr(exc))
            self.stopping.wait(0.05)

    def sample(self, node):
        st = self.lab.try_status(node, timeout=0.5)
        t = time.monotonic()
        act = replicd_of(st)
        n = (st or {}).get("node", {})
        self.history.add("role", t=t, node=node, role=n.get("role"), data=act.get("data"),
                         sync=act.get("sync"), gen=n.get("generation"),
                         peer_gen=(st or {}).get("peer", {}).get("generation"),
                         serving=n.get("serving"))
        holds = self.lab.holds(node)
        self.history.add("vip", node=node, vip=holds)

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)


class Writer(threading.Thread):
    """Keeps one application writer on the serving node (see the module docstring)."""

    def __init__(self, lab, history, out_dir, index):
        super().__init__(name="writer", daemon=True)
        self.lab, self.history, self.out_dir = lab, history, out_dir
        self.index = index  # () -> the current fault's index, for driver errors
        self.proc = None
        self.node = None
        self.session = 0
        self.next_seq = 0
        self.logs = []
        self.paused = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def serving_node(self):
        serving = []
        for node in self.lab.nodes:
            st = self.lab.try_status(node, timeout=0.5)
            if st and st["node"]["role"] in SERVING_ROLES and st["node"]["serving"]:
                serving.append(node)
        return serving[0] if len(serving) == 1 else None

    def run(self):
        while not self.stopping.is_set():
            if not self.paused.is_set():
                try:
                    self.keep_on_serving_node()
                except Exception as exc:
                    self.history.add("writer_error", what=repr(exc))
            self.stopping.wait(0.2)

    def keep_on_serving_node(self):
        serving = self.serving_node()
        with self.lock:
            if self.paused.is_set() or serving is None:
                return
            alive = self.proc is not None and self.proc.poll() is None
            if alive and self.node == serving:
                return
            self._stop_locked()
            if self.read_ledger(serving, quiet=True):
                self._start_locked(serving)

    def _start_locked(self, node):
        self.session += 1
        log = os.path.join(self.out_dir, f"writer-{self.session:04d}-{node}.log")
        self.logs.append(log)
        self.proc = subprocess.Popen(
            [lablib.PYTHON, "-c", WRITER_CODE, os.path.join(self.lab.data_dir(node), LEDGER),
             str(self.next_seq), log], stdin=subprocess.DEVNULL, start_new_session=True)
        self.node = node
        self.history.add("writer_start", node=node, seq=self.next_seq)

    def _stop_locked(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.history.add("driver_error", index=self.index(),
                                 what=f"the writer on {self.node} survived SIGKILL 20 s "
                                      "(stuck in the kernel)")
        last = self.next_seq - 1
        for _t, _what, seq in self.entries(self.logs[-1]):
            last = max(last, seq)
        self.next_seq = last + 2  # one more: a record written but not yet logged
        self.history.add("writer_stop", node=self.node)
        self.proc = None

    def read_ledger(self, node, quiet=False):
        """Record the record numbers found in the ledger on node (through its mount);
        True if it could be read. quiet: an unreadable ledger is only noted (the node
        said it serves, but e.g. its replicd has just been killed: the keeper tries
        again), not a driver error."""
        res = run([lablib.PYTHON, "-c", READ_LEDGER_CODE,
                   os.path.join(self.lab.data_dir(node), LEDGER)], check=False, timeout=30)
        t = time.monotonic()
        if res.returncode != 0:
            why = res.stderr.strip().splitlines()[-1:] or [f"exit {res.returncode}"]
            self.history.add("ledger_unreadable" if quiet else "driver_error", t=t,
                             index=self.index(), what=f"reading the ledger on {node} "
                             f"failed: {why[0]}")
            return False
        ranges = [[int(a), int(b)] for a, b in
                  (r.split("-") for r in res.stdout.split())]
        self.history.add("ledger", t=t, node=node, ranges=ranges)
        return True

    @staticmethod
    def entries(path):
        """[(t, 'ack'|'err', seq)] of one writer log."""
        out = []
        try:
            with open(path) as f:
                for line in f:
                    w = line.split()
                    if len(w) >= 3 and w[1] in ("ack", "err") and w[2].isdigit():
                        out.append((float(w[0]), w[1], int(w[2])))
        except (FileNotFoundError, ValueError):
            pass
        return out

    def pause(self):
        with self.lock:
            self.paused.set()
            self._stop_locked()

    def resume(self):
        self.paused.clear()

    def errors_since(self, t):
        """errnos the current writer got after t."""
        with self.lock:
            if not self.logs:
                return []
            return [seq for tt, what, seq in self.entries(self.logs[-1])
                    if what == "err" and tt > t]

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)
        with self.lock:
            self._stop_locked()

    def record_acks(self):
        for log in self.logs:
            for t, what, seq in self.entries(log):
                if what == "ack":
                    self.history.add("ack", t=t, seq=seq)


def tree_digest(root):
    """SHA-256 of a directory tree: every path, type, size and content, in order."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(os.path.relpath(path, root).encode() + b"\0")
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
            except OSError as exc:
                h.update(f"unreadable {exc.errno}".encode())
            h.update(b"\0")
        for name in dirnames:
            h.update(os.path.relpath(os.path.join(dirpath, name), root).encode() + b"/\0")
    return h.hexdigest()


class Campaign:
    """The faults, their undoing, and the waits and observations between them."""

    def __init__(self, lab, args, out_dir):
        self.lab, self.args, self.out_dir = lab, args, out_dir
        self.rng = random.Random(args.seed)
        self.history = History()
        self.sampler = Sampler(lab, self.history)
        self.writer = Writer(lab, self.history, out_dir, lambda: self.index)
        self.index = None
        self.client = None
        self.stopped_early = None
        self.nft_cut = set()

    # -- observations --------------------------------------------------------------

    def statuses(self):
        return {node: self.lab.try_status(node, timeout=1.0) for node in self.lab.nodes}

    @staticmethod
    def settled(sts):
        roles = {(st or {}).get("node", {}).get("role"): st for st in sts.values()}
        if set(roles) != {"PRIM", "SECOND"}:
            return None
        prim, second = roles["PRIM"], roles["SECOND"]
        act = replicd_of(second)
        # heartbeatd's view too (what `skyctl swap` asks): the secondary advertises
        # up-to-date data and the primary has heard it.
        if not (act.get("data") == "uptodate" and act.get("sync") == "insync"
                and second["node"]["generation"] == second["peer"]["generation"]
                and second["node"]["data"] == "uptodate"
                and prim["peer"].get("data") == "uptodate" and prim["node"]["serving"]):
            return None
        return prim["node"]["name"]

    def wait_settled(self, timeout):
        """The primary's name once PRIM + SECOND in sync and the primary serves, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            primary = self.settled(self.statuses())
            if primary:
                return primary
            time.sleep(0.1)
        return None

    def dead_daemons(self):
        dead = [f"{node}/{d}" for node in self.lab.nodes for d in DAEMONS
                if not self.lab.running(node, d)]
        if not self.lab.running("witness"):
            dead.append("witness/heartbeatd")
        return dead

    def hash_copies(self):
        """Hash both nodes' backing copies until equal (the secondary may still apply
        the last operations), at most HASH_WAIT_S; record the last hashes."""
        deadline = time.monotonic() + HASH_WAIT_S
        while True:
            digests = {n: tree_digest(self.lab.disk_dir(n)) for n in self.lab.nodes}
            if len(set(digests.values())) == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.history.add("hashes", index=self.index, digests=digests)

    def check_point(self, primary):
        """After a fault settled: ledger on the primary, copies hashed, daemons alive."""
        self.writer.pause()
        try:
            self.writer.read_ledger(primary)
            self.hash_copies()
            self.history.add("daemons", index=self.index, dead=self.dead_daemons())
        finally:
            self.writer.resume()

    # -- the faults ----------------------------------------------------------------

    def hold(self, low, high):
        time.sleep(self.rng.uniform(low, high))

    def f_kill(self, daemon):
        def fault(primary):
            node = self.rng.choice(self.lab.nodes)
            self.inject(f"kill -9 {daemon}", node)
            self.lab.kill_daemon(node, daemon)
            self.hold(0.5, 3.0)
            self.lab.restart_daemon(node, daemon)
        return fault

    def f_power_cut(self, primary):
        node = self.rng.choice(self.lab.nodes)
        self.inject("power cut", node)
        self.lab.kill_node(node)
        self.hold(1.0, 5.0)
        self.lab.restart_node(node)

    def f_cut_one_network(self, primary):
        node = self.rng.choice(self.lab.nodes)
        i = self.rng.randrange(self.lab.networks)
        self.inject("cut one heartbeat network", f"{node} eth{i}")
        self.lab.cut_network(node, i)
        self.hold(1.0, 4.0)
        self.lab.heal_network(node, i)

    def f_cut_all_links(self, primary):
        node = self.rng.choice(self.lab.nodes)
        self.inject("cut all links of a node", node)
        self.lab.cut_all_links(node)
        self.hold(2.0, 6.0)
        self.lab.heal_all_links(node)

    def f_partition_both(self, primary):
        self.inject("partition, witness seen by both", "node1|node2")
        self.lab.partition("node1", "node2")
        self.hold(2.0, 6.0)
        self.lab.heal_partition()

    def f_partition_one(self, primary):
        blind = self.rng.choice(self.lab.nodes)
        self.inject("partition, witness seen by one", f"{blind} without witness")
        self.lab.partition("node1", "node2")
        self.lab.blackhole(blind, "witness")
        self.hold(2.0, 6.0)
        self.lab.heal_partition()

    def f_witness(self, primary):
        self.inject("witness killed", "witness")
        self.lab.kill_daemon("witness")
        self.hold(1.0, 5.0)
        self.lab.start_witness()

    def f_pause(self, daemon):
        def fault(primary):
            self.inject(f"SIGSTOP {daemon}", primary)
            self.lab.signal_daemon(primary, daemon, signal.SIGSTOP)
            try:
                # Longer than heartbeat.timeout_ms and replicd.timeout_ms (3 s).
                self.hold(4.0, 8.0)
            finally:
                self.lab.signal_daemon(primary, daemon, signal.SIGCONT)
        return fault

    def nft(self, node, script):
        subprocess.run(["ip", "netns", "exec", self.lab.ns(node), "nft", "-f", "-"],
                       input=script.encode(), check=True, timeout=10, capture_output=True)

    def f_replication_cut(self, primary):
        self.inject("replication link cut", primary)
        p = REPLICATION_PORT
        self.nft(primary, f"""
table inet skyha_soak_cut {{
    chain out {{ type filter hook output priority 0; tcp dport {p} drop; tcp sport {p} drop; }}
    chain inp {{ type filter hook input priority 0; tcp dport {p} drop; tcp sport {p} drop; }}
}}
""")
        self.nft_cut.add(primary)
        self.hold(2.0, 6.0)
        self.heal_replication()

    def heal_replication(self):
        for node in sorted(self.nft_cut):
            self.nft(node, "delete table inet skyha_soak_cut\n")
        self.nft_cut.clear()

    def f_swap(self, primary):
        self.inject("skyctl swap", primary)
        res = self.lab.skyctl(primary, "swap", timeout=60)
        if res.rc != 0:
            self.history.add("swap_refused", index=self.index, rc=res.rc,
                             out=(res.out + res.err)[-300:])

    def f_disk_full(self, primary):
        self.inject("disk full", primary)
        filler = os.path.join(self.lab.disk_dir(primary), ".soak-filler")
        t = time.monotonic()
        try:
            with open(filler, "wb") as f:
                block = b"\0" * (1 << 20)
                while True:
                    f.write(block)
                    f.flush()
        except OSError:
            pass
        # Until the application was refused a write (bounded), then free the space.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not self.writer.errors_since(t):
            time.sleep(0.1)
        self.hold(0.5, 2.0)
        refused = len(self.writer.errors_since(t))
        os.unlink(filler)
        self.history.add("disk_full_refused", index=self.index, writes=refused)

    def kinds(self):
        """(name, fault function) of every fault kind, in the brief's priority order."""
        return ([(f"kill -9 {d}", self.f_kill(d)) for d in DAEMONS] + [
            ("power cut", self.f_power_cut),
            ("cut one heartbeat network", self.f_cut_one_network),
            ("cut all links of a node", self.f_cut_all_links),
            ("partition, witness seen by both", self.f_partition_both),
            ("partition, witness seen by one", self.f_partition_one),
            ("witness killed", self.f_witness),
            ("SIGSTOP heartbeatd", self.f_pause("heartbeatd")),
            ("SIGSTOP replicd", self.f_pause("replicd")),
            ("replication link cut", self.f_replication_cut),
            ("skyctl swap", self.f_swap),
            ("disk full", self.f_disk_full),
        ])

    def inject(self, kind, target):
        self.history.add("fault", index=self.index, fault=kind, target=target)
        print(f"  fault {self.index:3d}: {kind} ({target})", flush=True)

    def heal_everything(self):
        """Whatever a failed fault function left: network, nft, stopped processes."""
        try:
            self.lab.heal_all()
        except LabError:
            pass
        try:
            self.heal_replication()
        except (subprocess.SubprocessError, OSError):
            pass
        for (member, _daemon), proc in list(self.lab.procs.items()):
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    # -- the campaign --------------------------------------------------------------

    def start(self):
        self.lab.start_cluster(60)
        primary = self.wait_settled(90)
        if not primary:
            raise LabError("the cluster did not settle before the first fault")
        lb_url = []
        try:
            # HAProxy in the client namespace, checking healthd (docs/health.md).
            self.lab.start_haproxy(advised=True)
            lb_url = [f"http://127.0.0.1:{LB_PORT}/"]
        except LabError as exc:
            print(f"  (no HAProxy client: {exc})", flush=True)
        self.client = self.lab._spawn_in(
            "client", "soak-client",
            [lablib.PYTHON, "-c", CLIENT_CODE, VIP4, str(ECHO_PORT), str(APP_PORT),
             os.path.join(self.out_dir, "client.log")] + lb_url,
            os.path.join(self.out_dir, "client.err"))
        self.sampler.start()
        self.writer.start()
        deadline = time.monotonic() + 30
        while not self.writer.entries(self.writer.logs[-1] if self.writer.logs else ""):
            if time.monotonic() > deadline:
                raise LabError("the writer got no acknowledgement in 30 s")
            time.sleep(0.1)

    def run(self):
        kinds = self.kinds()
        if self.args.kinds:
            wanted = [w.strip() for w in self.args.kinds.split(",") if w.strip()]
            kinds = [k for k in kinds if any(w in k[0] for w in wanted)]
            if not kinds:
                raise LabError(f"no fault kind matches {self.args.kinds!r}")
        order = list(range(len(kinds)))
        self.rng.shuffle(order)
        end = time.monotonic() + self.args.minutes * 60
        for self.index in range(self.args.faults):
            if time.monotonic() > end:
                self.stopped_early = f"time is up ({self.args.minutes:g} min)"
                break
            k = order[self.index] if self.index < len(order) else \
                self.rng.randrange(len(kinds))
            name, fault = kinds[k]
            primary = self.wait_settled(5) or "node1"
            try:
                fault(primary)
            except Exception as exc:
                self.history.add("driver_error", index=self.index,
                                 what=f"{name}: {type(exc).__name__}: {exc}")
                print(f"    driver error: {exc}", flush=True)
                self.heal_everything()
            healed = self.history.add("heal", index=self.index)
            primary = self.wait_settled(SETTLE_GIVE_UP_S)
            took = time.monotonic() - healed
            if not primary:
                self.stopped_early = (f"fault {self.index} ({name}): the cluster was not "
                                      f"back to PRIM + SECOND in sync {SETTLE_GIVE_UP_S} s "
                                      "after the heal")
                print(f"    {self.stopped_early}", flush=True)
                self.history.add("driver_error", index=self.index,
                                 what="campaign stopped: " + self.stopped_early)
                self.history.add("daemons", index=self.index, dead=self.dead_daemons())
                break
            print(f"    settled in {took:.1f} s, {primary} primary", flush=True)
            self.check_point(primary)

    def finish(self):
        """Stop the writer and the client, take the final observations."""
        self.index = "end"
        primary = self.wait_settled(30)
        self.writer.stop()
        if primary:
            self.writer.read_ledger(primary)
            self.hash_copies()
        self.sampler.stop()
        self.writer.record_acks()
        dead = self.dead_daemons()
        if self.client is not None:
            self.client.kill()
            self.client.wait(timeout=10)
        self.record_client()
        return dead

    def record_client(self):
        try:
            with open(os.path.join(self.out_dir, "client.log")) as f:
                for line in f:
                    w = line.split()
                    if len(w) == 5:
                        self.history.add("client", t=float(w[0]), t0=float(w[0]),
                                         t1=float(w[1]), who=None if w[2] == "-" else w[2],
                                         http=w[3] == "1",
                                         lb=None if w[4] == "-" else w[4] == "1")
        except FileNotFoundError:
            pass


def leaks(lab_dir, prefix):
    """Namespaces, mounts and processes of the lab still there after it closed."""
    out = []
    out += [f"namespace {ns}" for ns in lablib.netns_list() if ns.startswith(prefix)]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if lab_dir and point.startswith(lab_dir):
                out.append(f"mount {point}")
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if lab_dir and lab_dir in cmd:
            out.append(f"process {pid}: {cmd[:100]}")
    return out


def report(events, seed, args, started, stopped_early, self_test_failures):
    """Print the table and the verdict; return the exit code."""
    found = checker.check(events)
    faults = [e for e in events if e["kind"] == "fault"]
    kind_of = {f["index"]: f["fault"] for f in faults}
    heals = {e["index"]: e["t"] for e in events if e["kind"] == "heal"}
    settle = {}
    roles = [e for e in events if e["kind"] == "role"]
    rows = {}
    for f in faults:
        row = rows.setdefault(f["fault"], {"count": 0, "violations": 0, "settle": []})
        row["count"] += 1
    bad_faults = set()
    for v in found:
        k = kind_of.get(v["index"], "(setup / end)")
        rows.setdefault(k, {"count": 0, "violations": 0, "settle": []})["violations"] += 1
        if v["index"] in kind_of:
            bad_faults.add(v["index"])
    checked = {e["index"] for e in events if e["kind"] == "hashes"}
    for index, t in heals.items():
        latest = {}
        for s in roles:
            if s["t"] < t:
                continue
            latest[s["node"]] = s
            if checker._settled(latest):
                settle[index] = s["t"] - t
                break
        if index in settle and index in kind_of:
            rows[kind_of[index]]["settle"].append(settle[index])
    client = [e for e in events if e["kind"] == "client"]
    served = sum(1 for c in client if c["http"])

    print()
    print(f"fault campaign, seed {seed}: {len(faults)} faults in "
          f"{(time.monotonic() - started) / 60:.1f} min")
    print(f"  {'fault kind':34s} {'count':>5s} {'violations':>10s} {'settle max s':>12s}")
    for k in sorted(rows):
        r = rows[k]
        worst = f"{max(r['settle']):.1f}" if r["settle"] else "-"
        print(f"  {k:34s} {r['count']:5d} {r['violations']:10d} {worst:>12s}")
    print(f"  {'total':34s} {len(faults):5d} {len(found):10d}")
    if client:
        print(f"availability: {served}/{len(client)} client requests through the VIP "
              f"served ({100.0 * served / len(client):.1f} %)")
    via_lb = [c for c in client if c.get("lb") is not None]
    if via_lb:
        ok = sum(1 for c in via_lb if c["lb"])
        print(f"availability: {ok}/{len(via_lb)} client requests through HAProxy "
              f"served ({100.0 * ok / len(via_lb):.1f} %)")
    refused = [e["writes"] for e in events if e["kind"] == "disk_full_refused"]
    if refused:
        print(f"disk full: writes the application was refused, per fault: {refused}")
    swaps = [e for e in events if e["kind"] == "swap_refused"]
    if swaps:
        print(f"skyctl swap refused {len(swaps)} time(s), first: "
              f"{swaps[0]['out'].strip()}")
    if stopped_early:
        print(f"campaign stopped early: {stopped_early}")
    alike = {}  # (check, fault index) -> violations: the first is shown, then a count
    for v in found:
        alike.setdefault((v["check"], str(v["index"])), []).append(v)
    for group in alike.values():
        more = f" (and {len(group) - 1} more like it)" if len(group) > 1 else ""
        print(f"VIOLATION seed {seed} {group[0]}{more}")
    print(f"total violations: {len(found)} (replay: soak.py --seed {seed} "
          f"--faults {args.faults})")

    passed = failed = 0
    for f in faults:
        i = f["index"]
        if i in bad_faults or i not in checked:
            failed += 1
        else:
            passed += 1
    for number in (1, 2, 3, 4, 5, 0):
        if any(v["check"] == number for v in found):
            failed += 1
        else:
            passed += 1
    if self_test_failures:
        failed += 1
    else:
        passed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def main():
    parser = argparse.ArgumentParser(description="skyha fault campaign (make soak)")
    parser.add_argument("--seed", type=int, default=None, help="replay this seed")
    parser.add_argument("--faults", type=int, default=200, help="faults to inject")
    parser.add_argument("--minutes", type=float, default=35.0,
                        help="inject no new fault after this long")
    parser.add_argument("--short", action="store_true",
                        help=f"make check's run: {SHORT_FAULTS} faults, seed {SHORT_SEED}")
    parser.add_argument("--kinds", default="",
                        help="only the fault kinds whose names contain one of these "
                             "comma-separated words (e.g. 'SIGSTOP,swap')")
    parser.add_argument("--out", default=None,
                        help="directory for history.json, writer/client logs and "
                             "daemon logs (default: a new one under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the lab's directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="daemons with -v")
    args = parser.parse_args()
    if args.short:
        args.seed = SHORT_SEED if args.seed is None else args.seed
        args.faults = SHORT_FAULTS if "--faults" not in sys.argv else args.faults
        args.minutes = SHORT_MINUTES if "--minutes" not in sys.argv else args.minutes
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    if os.geteuid() != 0:
        print("soak.py: the lab builds network namespaces and needs root", file=sys.stderr)
        return 1

    started = time.monotonic()
    print(f"fault campaign: seed {args.seed}, up to {args.faults} faults, "
          f"{args.minutes:g} min (replay: --seed {args.seed})", flush=True)
    self_test_failures = checker.self_test()
    for f in self_test_failures:
        print(f"FAIL checker self-test: {f}")
    if not self_test_failures:
        print("PASS checker self-test (it reports a double primary, a lost record, "
              "differing copies, no settling, a dead daemon, a leak)", flush=True)
    lablib.cleanup_stale()
    out_dir = args.out or tempfile.mkdtemp(prefix=f"skyha-soak-{args.seed}-")
    os.makedirs(out_dir, exist_ok=True)
    lab = StackLab(disk_mib=DISK_MIB, keep=args.keep, verbose=args.verbose)
    campaign = Campaign(lab, args, out_dir)
    h = campaign.history
    h.add("campaign", seed=args.seed, settle_bound_s=SETTLE_BOUND_S)
    dead = []
    try:
        lab.setup()
        campaign.start()
        campaign.run()
    except Exception as exc:
        h.add("driver_error", index=campaign.index, what=f"{type(exc).__name__}: {exc}")
        campaign.stopped_early = campaign.stopped_early or f"driver error: {exc}"
        print(f"driver error: {exc}", flush=True)
    finally:
        try:
            dead = campaign.finish()
        except Exception as exc:
            h.add("driver_error", index="end", what=f"final checks: {exc}")
        for name in os.listdir(lab.dir or "/nonexistent"):
            for sub in ([name] + [os.path.join(name, x) for x in os.listdir(
                    os.path.join(lab.dir, name))] if os.path.isdir(
                    os.path.join(lab.dir, name)) else [name]):
                if sub.endswith(".log"):
                    dst = os.path.join(out_dir, "lab", sub)
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy(os.path.join(lab.dir, sub), dst)
        lab_dir, prefix = lab.dir, lab.prefix
        lab.close()
    h.add("final", index="end", dead=dead, leaks=leaks(lab_dir, prefix))
    events = h.snapshot()
    with open(os.path.join(out_dir, "history.json"), "w") as f:
        json.dump(events, f)
    print(f"history, writer, client and daemon logs: {out_dir}")
    return report(events, args.seed, args, started, campaign.stopped_early,
                  self_test_failures)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: lab cleaned up", file=sys.stderr)
        sys.exit(130)
