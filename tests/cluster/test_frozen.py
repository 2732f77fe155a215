"""Cluster tests: a frozen heartbeatd never leaves its actuators serving (issue 11, 5).

heartbeatd on the primary is stopped with SIGSTOP (a hung process, a watchdog that is
late or absent) while the whole mirror module runs (tests/lab/stack_lab.py), a writer
appends and fsyncs records through the primary's replicated mount, and a client in the
client namespace polls a TCP service at the virtual IP. The peer declares the silent
node lost and takes over, as it should. Meanwhile the frozen node's vipd, checkd and
replicd stop acting as primary on their own once heartbeatd's word (valid_ms) expired:

- never do both nodes hold the VIP at once (`ip addr` sampled on both, in turn);
- the frozen node's application is stopped while it is frozen;
- the frozen node's writer gets no acknowledgement after the peer took over, and every
  record it got acknowledged is on the new primary;
- the client reaches the new primary through the VIP, and never the frozen node again;
- after SIGCONT the old primary rejoins as SECOND.

And a whole node paused at once (every process, its links cut: a VM its hypervisor
stopped), which wakes believing it is primary: the same promises hold. Before the fix,
vipd read a desired state that had waited in its socket through the pause as fresh,
took the VIP back and answered clients at it after the peer had (desired.h, sent_ms).
"""

import json
import os
import signal
import subprocess
import threading
import time

import lab as lablib
from lab import SERVING_ROLES, lab_options, run
from stack_lab import VIP4, StackLab

WHOAMI_PORT = 7001

# A TCP service on every address of a node: answers each connection with its name.
WHOAMI_CODE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen(64)
name = sys.argv[1].encode() + b"\n"
while True:
    c, _ = s.accept()
    try:
        c.sendall(name)
    except OSError:
        pass
    c.close()
"""

# argv: host port out; lines "monotonic node" for every answer, every 20 ms.
TCP_CLIENT_CODE = r"""
import socket, sys, time
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
f = open(out, "a", buffering=1)
while True:
    t = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=0.3) as c:
            c.settimeout(0.3)
            word = c.recv(64).split()
            if word:
                f.write(f"{time.monotonic():.6f} {word[0].decode()}\n")
    except OSError:
        pass
    time.sleep(max(0.0, 0.02 - (time.monotonic() - t)))
"""

# argv: path out; appends a record, fsyncs it, and logs "monotonic ack|err seq [errno]".
WRITER_CODE = r"""
import os, sys, time
path, out = sys.argv[1], sys.argv[2]
log = open(out, "a", buffering=1)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
seq = 0
while True:
    try:
        os.write(fd, f"record {seq:06d}\n".encode())
        os.fsync(fd)
        log.write(f"{time.monotonic():.6f} ack {seq}\n")
    except OSError as e:
        log.write(f"{time.monotonic():.6f} err {seq} {e.errno}\n")
        time.sleep(0.05)
    seq += 1
    time.sleep(0.005)
"""


class VipWatch:
    """Samples `ip addr` on both nodes in turn; proves no two ever hold the VIP at once
    (X held at t0 and at its next sample t2, Y held at t1 in between: both at t1), and
    keeps the peer's role samples for the takeover time."""

    def __init__(self, lab):
        self.lab = lab
        self.samples = []  # (monotonic, node, holds)
        self.violations = []
        # A node cut off from every network (a paused VM) answers nobody: its
        # samples count as not holding while it is in here.
        self.unreachable = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _holds(self, node):
        res = run(["ip", "-n", self.lab.ns(node), "-j", "addr", "show", "dev", "eth0"],
                  check=False)
        try:
            info = json.loads(res.stdout or "[]")
        except ValueError:
            return None
        return any(a.get("local") == VIP4 for i in info for a in i.get("addr_info", []))

    def _loop(self):
        k = 0
        while not self._stop.is_set():
            node = self.lab.nodes[k % 2]
            held = self._holds(node)
            t = time.monotonic()
            if node in self.unreachable:
                held = False
            if held is not None:
                self.samples.append((t, node, held))
                self._prove_overlap()
            k += 1
            time.sleep(0.005)

    def _prove_overlap(self):
        t2, x, held = self.samples[-1]
        if not held:
            return
        for j in range(len(self.samples) - 2, -1, -1):
            if self.samples[j][1] != x:
                continue
            if not self.samples[j][2]:
                return
            for t1, y, y_held in self.samples[j + 1:-1]:
                if y != x and y_held:
                    self.violations.append(f"{x} held {VIP4} at {self.samples[j][0]:.3f} "
                                           f"and {t2:.3f}, {y} at {t1:.3f}")
            return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join(timeout=10)
        return False


def start_services(lab):
    for node in lab.nodes:
        lab._spawn_in(node, "whoami",
                      [lablib.PYTHON, "-c", WHOAMI_CODE, node, str(WHOAMI_PORT)],
                      os.path.join(lab.dir, node, "whoami.log"))
    lab._spawn_in("client", "tcpclient",
                  [lablib.PYTHON, "-c", TCP_CLIENT_CODE, VIP4, str(WHOAMI_PORT),
                   lab.client_file("tcp")], lab.client_file("tcpclient"))


def tcp_answers(lab):
    out = []
    try:
        with open(lab.client_file("tcp")) as f:
            for line in f:
                w = line.split()
                if len(w) == 2:
                    out.append((float(w[0]), w[1]))
    except FileNotFoundError:
        pass
    return out


def writer_log(path):
    acks, errors = [], []
    if not os.path.exists(path):
        return acks, errors
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 3 and w[1] == "ack":
                acks.append((float(w[0]), int(w[2])))
            elif len(w) >= 3 and w[1] == "err":
                errors.append((float(w[0]), int(w[2]), w[3] if len(w) > 3 else ""))
    return acks, errors


def settled(lab, primary, secondary, timeout=40):
    lab.wait_roles({primary: "PRIM", secondary: "SECOND"}, timeout)
    lab.wait_replicd(secondary, "secondary", timeout=timeout)
    lab.wait_replicd(primary, "primary", connected=True, timeout=timeout)
    lab.wait_app(primary, timeout)
    lab.wait_for(primary, lambda st: st["node"]["serving"], "serving", timeout)
    assert lab.holds(primary) and not lab.holds(secondary)


def freeze_primary(lab, primary, secondary, seconds, tag, whole_node=False):
    """Freeze heartbeatd on primary for `seconds` under a writer and client traffic;
    check every promise of the module docstring. With whole_node, every process of
    the node freezes at once, the writer too (a VM paused by its hypervisor): the
    node wakes believing it is still primary, and must not serve a write nor hold
    the VIP once the peer took over."""
    settled(lab, primary, secondary)
    ledger = f"ledger-{tag}.txt"
    wlog = os.path.join(lab.dir, f"writer-{tag}.log")
    writer = subprocess.Popen([lablib.PYTHON, "-c", WRITER_CODE,
                               os.path.join(lab.data_dir(primary), ledger), wlog],
                              stdin=subprocess.DEVNULL, start_new_session=True)
    hb = lab.procs[(primary, "heartbeatd")]
    problems = []  # every broken promise, so a failure tells the whole story
    try:
        with VipWatch(lab) as watch:
            deadline = time.monotonic() + 10
            while len(writer_log(wlog)[0]) < 20:
                assert writer.poll() is None, "the writer died"
                assert time.monotonic() < deadline, "the writer gets no acknowledgement"
                time.sleep(0.05)
            frozen = [hb.pid]
            if whole_node:
                frozen = [p.pid for (n, _d), p in lab.procs.items()
                          if n == primary and p.poll() is None] + [writer.pid]
                app = lab.app_pid(primary)
                if app:
                    frozen.append(app)
            what = "every process" if whole_node else "heartbeatd"
            lab._note(primary, f"{what} frozen (SIGSTOP) for {seconds} s")
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            if whole_node:
                # A paused VM neither sends nor answers: its kernel sleeps too.
                watch.unreachable.add(primary)
                lab.cut_all_links(primary)
            frozen_at = time.monotonic()
            try:
                takeover = None
                while time.monotonic() < frozen_at + seconds:
                    if takeover is None and lab.role(secondary) in SERVING_ROLES:
                        takeover = time.monotonic()
                    time.sleep(0.02)
                assert takeover is not None, \
                    f"{secondary} did not take over within {seconds} s: " + \
                    lablib.describe(lab.try_status(secondary))
                if seconds >= 10 and not whole_node:
                    # Stopped by the frozen node's own checkd and vipd, who say why.
                    if lab.app_http_status(primary) is not None:
                        problems.append(f"the application still answers on {primary}")
                    st = lab.checkd_state(primary) or {}
                    if "heartbeatd" not in st.get("reason", ""):
                        problems.append(f"checkd on {primary}: {st.get('state')} "
                                        f"({st.get('reason')})")
                    vst = lab.vipd_state(primary) or {}
                    if vst.get("state") != "down" or \
                            "heartbeatd" not in vst.get("reason", ""):
                        problems.append(f"vipd on {primary}: {vst.get('state')} "
                                        f"({vst.get('reason')})")
            finally:
                for pid in frozen:
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
                if whole_node:
                    lab.heal_all_links(primary)
                    watch.unreachable.discard(primary)
                woke_at = time.monotonic()
                lab._note(primary, f"{what} continued (SIGCONT)")
            try:
                lab.wait_roles({primary: "SECOND", secondary: "PRIM"}, 30)
                # Its copy catches up (nothing it acknowledged alone: no divergence).
                lab.wait_for(primary, lambda st: (st.get("actuators", {}).get("replicd")
                                                  or {}).get("sync") == "insync",
                             "replicd in sync", 30)
                lab.wait_reply_from(secondary, timeout=10, after=takeover)
            except AssertionError as exc:
                problems.append(f"after SIGCONT: {exc}")
            time.sleep(1.0)  # keep watching once settled
        assert watch.samples, "the VIP watch took no sample"
    finally:
        writer.kill()
        writer.wait(timeout=10)

    if watch.violations:
        problems.append(f"both nodes held the VIP ({len(watch.violations)} proofs): " +
                        "; ".join(watch.violations[:3]))
    acks, errors = writer_log(wlog)
    late = [(t, s) for t, s in acks if t > takeover]
    if late:
        problems.append(f"{primary} acknowledged {len(late)} record(s) after {secondary} "
                        f"took over at {takeover:.3f}: first {late[0]}")
    with open(os.path.join(lab.data_dir(secondary), ledger)) as f:
        kept = set(f.read().splitlines())
    lost = [s for _t, s in acks if f"record {s:06d}" not in kept]
    if lost:
        problems.append(f"{len(lost)} acknowledged record(s) missing on {secondary}: "
                        f"{lost[:5]}")
    # The client saw the new primary at the VIP, and never the frozen node after that.
    answers = tcp_answers(lab)
    first = next((t for t, n in answers if n == secondary and t >= takeover), None)
    if first is None:
        problems.append(f"no TCP answer from {secondary} at {VIP4}: {answers[-3:]}")
    stale = [(t, n) for t, n in answers if first and t > first and n == primary]
    if stale:
        problems.append(f"{primary} answered at {VIP4} after {secondary} did: {stale[:3]}")
    last = max((t for t, _s in acks), default=frozen_at)
    if whole_node:
        held = [t for t, n, h in watch.samples if n == primary and h and t >= woke_at]
        print(f"  {primary} woke and kept {VIP4} configured for "
              f"{(max(held) - woke_at) * 1000 if held else 0:.0f} ms")
    print(f"  {seconds} s freeze of {primary}: {secondary} took over after "
          f"{takeover - frozen_at:.2f} s; {len(acks)} records acknowledged, the last "
          f"{last - frozen_at:+.2f} s from the freeze; {len(errors)} refused "
          f"({sorted(set(e for _t, _s, e in errors))})")
    assert not problems, f"{seconds} s freeze of {primary}: " + " | ".join(problems)
    return len(acks), len(errors)


@lab_options(lab_class=StackLab)
def test_frozen_heartbeatd_for_2_then_10_s_never_leaves_two_primaries(lab):
    lab.start_cluster(30)
    start_services(lab)
    lab.start_client()
    freeze_primary(lab, "node1", "node2", 2, "2s")
    freeze_primary(lab, "node2", "node1", 10, "10s")


@lablib.long_only
@lab_options(lab_class=StackLab)
def test_frozen_heartbeatd_for_60_s_never_leaves_two_primaries(lab):
    # 120 times heartbeat.timeout_ms and 20 times replicd.timeout_ms: every lease and
    # word long gone. make soak only (run.py --long); make check freezes 2 then 10 s.
    lab.start_cluster(30)
    start_services(lab)
    lab.start_client()
    freeze_primary(lab, "node1", "node2", 60, "60s")


@lab_options(lab_class=StackLab)
def test_a_whole_primary_node_paused_wakes_without_serving(lab):
    """A VM pause: heartbeatd, replicd, vipd, checkd, healthd, the application and
    its writer all stop at once for 3 s, then all continue together."""
    lab.start_cluster(30)
    start_services(lab)
    lab.start_client()
    freeze_primary(lab, "node1", "node2", 3, "vm1", whole_node=True)
    freeze_primary(lab, "node2", "node1", 3, "vm2", whole_node=True)


@lab_options(lab_class=StackLab)
def test_pause_shorter_than_the_timeout_lets_go_then_serves_again(lab):
    """A 0.35 s pause outlives valid_ms (0.25 s) but not heartbeat.timeout_ms (0.5 s,
    heartbeats every 0.1 s): vipd and checkd let go on their own (their loops turn every
    20 ms), and once heartbeatd speaks again as PRIM everything serves again, writes
    included (republishing with every heartbeat must not flap either)."""
    lab.start_cluster(30)
    settled(lab, "node1", "node2")
    pid = lab.app_pid("node1")
    wlog = os.path.join(lab.dir, "writer-pause.log")
    writer = subprocess.Popen([lablib.PYTHON, "-c", WRITER_CODE,
                               os.path.join(lab.data_dir("node1"), "ledger-pause.txt"), wlog],
                              stdin=subprocess.DEVNULL, start_new_session=True)
    hb = lab.procs[("node1", "heartbeatd")]
    try:
        with VipWatch(lab) as watch:
            time.sleep(1.0)
            os.kill(hb.pid, signal.SIGSTOP)
            time.sleep(0.35)
            os.kill(hb.pid, signal.SIGCONT)
            resumed = time.monotonic()
            time.sleep(2.0)
            roles = lab.roles()
            if roles == {"node1": "PRIM", "node2": "SECOND"}:
                # It was silent: each actuator let go, and then served again.
                for name in ("vipd", "checkd"):
                    with open(os.path.join(lab.dir, "node1", f"{name}.log")) as f:
                        assert "heartbeatd silent for" in f.read(), \
                            f"{name} on node1 did not notice the silence"
                lab.wait_vipd("node1", lambda st: st["state"] == "up", "up again", 10)
                assert lab.wait_app("node1", 10) != pid, "the application was not stopped"
                lab.wait_for("node1", lambda st: st["node"]["serving"], "serving", 10)
                deadline = time.monotonic() + 10
                while not any(t > resumed for t, _s in writer_log(wlog)[0]):
                    assert time.monotonic() < deadline, "writes did not resume on node1"
                    time.sleep(0.05)
            else:
                # A machine slow enough for the peer to take over: still one primary.
                print(f"  the pause let the peer take over ({roles}): not checking the "
                      "resumption")
            time.sleep(1.0)
        assert not watch.violations, \
            "both nodes held the VIP: " + "; ".join(watch.violations[:3])
    finally:
        writer.kill()
        writer.wait(timeout=10)

