#!/usr/bin/python3
"""lab.py - a whole skyha cluster on one machine, in network namespaces.

The cluster tests and the demo need real nodes that can fail the way real servers do:
a daemon killed with -9, a node losing power, one heartbeat network cut, the two nodes
partitioned while both still see the witness. Lab builds that in network namespaces:

    bridge namespace  <prefix>br       one Linux bridge per heartbeat network (br0, br1..)
    node namespaces   <prefix>node1/2  eth<i> = 198.18.<i>.1 / .2 on network i
    witness           <prefix>witness  eth0 = 198.18.0.10 (network 0 only)
    client            <prefix>client   eth<i> = 198.18.<i>.20 (every network): forged packets

Every namespace is joined to each bridge it uses by a veth pair, created with
`ip -n NS link add eth<i> type veth peer name <member>-<i> netns <bridge ns>`, so
interface names only need to be unique inside one namespace. Addresses come only from
198.18.0.0/15 (benchmarking range): nothing leaves the machine.

Each node has its own run directory (ipc:// sockets, reachable from the root namespace
because they are filesystem paths), state directory and log file under one lab temp
directory, which also holds the cluster key and the module configuration written exactly
as docs/config.md describes. The daemons are the real build/heartbeatd; status is read
over the control socket (docs/protocol.md) with pyzmq, and skyctl is run as a user would.

Cleanup always runs: on leaving the `with Lab() as lab:` block, at interpreter exit
(atexit), and on SIGTERM/SIGHUP (turned into SystemExit so `with` blocks unwind) and
Ctrl-C. cleanup_stale() removes namespaces a crashed earlier run left behind.
Standard library plus pyzmq; run as root with Debian's /usr/bin/python3.
"""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import zmq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SKYHA_BUILD_DIR", os.path.join(ROOT, "build"))
HEARTBEATD = os.path.join(BUILD, "heartbeatd")
SKYCTL = os.path.join(BUILD, "skyctl")
PYTHON = "/usr/bin/python3"

SERVING_ROLES = ("PRIM", "ALONE")
MODULE = "app"
CLUSTER = "demo"
HEARTBEAT_PORT = 7400
WITNESS_PORT = 7401
HOSTS = {"node1": 1, "node2": 2, "node3": 3, "node4": 4, "witness": 10, "witness2": 11,
         "witness3": 12, "witness4": 13, "witness5": 14, "client": 20}
NS_PATTERN = re.compile(r"^sky(\d+)-(\d+)-")


class LabError(Exception):
    """The lab could not do what was asked (a command failed, a daemon died...)."""


class LabUnsupported(LabError):
    """This kernel or machine lacks something a lab feature needs (e.g. tc netem)."""


def address(network, member):
    """The lab address of a member (node1, node2, witness, client) on network i."""
    return f"198.18.{network}.{HOSTS[member]}"


def shown(cmd):
    """A command line for messages, with long arguments (inline code) abbreviated."""
    return " ".join(a if len(a) <= 60 else a[:20].strip() + "..." for a in cmd)


def run(cmd, check=True, timeout=30):
    """Run a command, return CompletedProcess; raise LabError with its stderr if it fails."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{shown(cmd)}` did not finish within {timeout} s") from exc
    except OSError as exc:
        raise LabError(f"`{shown(cmd)}` could not run: {exc}") from exc
    if check and res.returncode != 0:
        why = (res.stderr or res.stdout).strip()
        raise LabError(f"`{shown(cmd)}` exited {res.returncode}: {why}")
    return res


# `run.py --long` (make soak): tests run at their full size (more rounds, more
# files, longer pauses) and the tests marked @long_only run too. make check
# runs the short sizes to stay within its time budget; the behaviour checked
# is the same.
LONG = os.environ.get("SKYHA_LONG_TESTS") == "1"


def sized(short, long):
    """A test's size: `short` in make check, `long` under run.py --long."""
    return long if LONG else short


def long_only(fn):
    """Decorator: a test run only by run.py --long (make soak)."""
    fn.long_only = True
    return fn


def lab_options(**options):
    """Decorator for a cluster test: the Lab(...) arguments it wants (timings, networks)."""
    def mark(fn):
        fn.lab_options = options
        return fn
    return mark


class CmdResult(tuple):
    """(rc, stdout) of a command, with .err holding its stderr."""

    def __new__(cls, rc, out, err):
        self = super().__new__(cls, (rc, out))
        self.err = err
        return self

    @property
    def rc(self):
        return self[0]

    @property
    def out(self):
        return self[1]


# --- cleanup on every exit path ------------------------------------------------------

_live_labs = set()
_handlers_installed = False


def _signal_exit(signum, _frame):
    raise SystemExit(128 + signum)


def _cleanup_all():
    for lab in list(_live_labs):
        lab.close()


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _signal_exit)
    _handlers_installed = True


def netns_list():
    res = run(["ip", "netns", "list"])
    return [line.split()[0] for line in res.stdout.splitlines() if line.strip()]


def _kill_netns_processes(ns):
    res = run(["ip", "netns", "pids", ns], check=False)
    for pid in res.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale():
    """Remove namespaces and temp dirs left by lab runs whose process is gone.

    Returns the namespaces removed. Labs of live processes (another run going on
    at the same time) are left alone.
    """
    removed = []
    for ns in netns_list():
        m = NS_PATTERN.match(ns)
        if not m or _pid_alive(int(m.group(1))):
            continue
        _kill_netns_processes(ns)
        run(["ip", "netns", "del", ns], check=False)
        removed.append(ns)
    tmp = tempfile.gettempdir()
    for entry in os.listdir(tmp):
        m = re.match(r"^skyha-lab-(\d+)-", entry)
        if m and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(tmp, entry), ignore_errors=True)
    return removed


# --- the lab ---------------------------------------------------------------------------

class Lab:
    """A two-node skyha cluster with a witness and a client, in network namespaces.

    Use as a context manager: `with Lab(interval_ms=100) as lab: lab.start_cluster()`.
    """

    _serial = 0

    def __init__(self, networks=2, interval_ms=100, timeout_ms=500, lease_ms=None,
                 quorum="witness", default_primary="node1", verbose=False, keep=False,
                 witnesses=1):
        if not 1 <= networks <= 4:
            raise LabError("a module has 1..4 heartbeat networks")
        Lab._serial += 1
        self.prefix = f"sky{os.getpid()}-{Lab._serial}-"
        self.networks = networks
        self.interval_ms = interval_ms
        self.timeout_ms = timeout_ms
        self.lease_ms = lease_ms if lease_ms is not None else timeout_ms
        self.quorum = quorum
        self.default_primary = default_primary
        self.verbose = verbose
        self.keep = keep
        self.nodes = ["node1", "node2"]
        # One witness ("witness"), or several (witness.hosts): witness, witness2...
        if not 1 <= witnesses <= 5:
            raise LabError("1..5 witnesses")
        self.witnesses = ["witness"] + [f"witness{i}" for i in range(2, witnesses + 1)]
        self.dir = None
        self.config = None
        self.key_path = None
        self.procs = {}           # (member, daemon) -> Popen
        self.started_at = {}      # member -> monotonic time of the last start
        self.blackholes = set()   # (node ns member, address)
        self.netem_devs = set()   # (member, network)
        self._ctx = None
        self._closed = True

    # -- building and tearing down -----------------------------------------------------

    def __enter__(self):
        self.setup()
        return self

    def __exit__(self, *_exc):
        self.close()
        return False

    def ns(self, member):
        """Namespace name of a member: node1, node2, witness, client or br."""
        return self.prefix + member

    def addr(self, network, member):
        """The address of a member on network i in this lab (address() here; a lab
        with another layout, e.g. sky_lab.py's routed sites, says its own)."""
        return address(network, member)

    def member_networks(self, member):
        return [0] if member.startswith("witness") else list(range(self.networks))

    def setup(self):
        _install_handlers()
        self._closed = False
        _live_labs.add(self)
        try:
            self.dir = tempfile.mkdtemp(prefix=f"skyha-lab-{os.getpid()}-")
            os.chmod(self.dir, 0o755)
            self._ctx = zmq.Context()
            for member in self.nodes + self.witnesses:
                for sub in ("run", "state"):
                    os.makedirs(os.path.join(self.dir, member, sub), mode=0o755)
            self.key_path = os.path.join(self.dir, "cluster.key")
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
            self.config = os.path.join(self.dir, f"{MODULE}.yaml")
            self.write_config(self.config)
            self._build_network()
        except BaseException:
            self.close()
            raise

    def _build_network(self):
        br = self.ns("br")
        run(["ip", "netns", "add", br])
        run(["ip", "-n", br, "link", "set", "lo", "up"])
        for i in range(self.networks):
            run(["ip", "-n", br, "link", "add", f"br{i}", "type", "bridge"])
            run(["ip", "-n", br, "link", "set", f"br{i}", "up"])
        for member in self.nodes + self.witnesses + ["client"]:
            ns = self.ns(member)
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            for i in self.member_networks(member):
                port = f"{member}-{i}"
                run(["ip", "-n", ns, "link", "add", f"eth{i}", "type", "veth",
                     "peer", "name", port, "netns", br])
                run(["ip", "-n", br, "link", "set", port, "master", f"br{i}"])
                run(["ip", "-n", br, "link", "set", port, "up"])
                run(["ip", "-n", ns, "addr", "add", f"{address(i, member)}/24",
                     "dev", f"eth{i}"])
                run(["ip", "-n", ns, "link", "set", f"eth{i}", "up"])

    def close(self):
        """Stop every process, delete every namespace and the temp dir. Idempotent."""
        if self._closed:
            return
        self._closed = True
        blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            for proc in self.procs.values():
                if proc.poll() is None:
                    try:
                        proc.kill()
                    except ProcessLookupError:
                        pass
            try:
                names = [ns for ns in netns_list() if ns.startswith(self.prefix)]
            except LabError:
                names = [self.ns(m) for m in self.nodes + self.witnesses + ["client", "br"]]
            for ns in names:
                _kill_netns_processes(ns)
            for proc in self.procs.values():
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            for ns in names:
                run(["ip", "netns", "del", ns], check=False)
            if self._ctx is not None:
                self._ctx.destroy(linger=0)
                self._ctx = None
            if self.dir and not self.keep:
                shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            _live_labs.discard(self)
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    # -- configuration -----------------------------------------------------------------

    def config_text(self, interval_ms=None, timeout_ms=None, lease_ms=None):
        """The module configuration, in the layout of docs/config.md."""
        interval_ms = interval_ms or self.interval_ms
        timeout_ms = timeout_ms or self.timeout_ms
        lease_ms = lease_ms or self.lease_ms
        lines = [
            "cluster:",
            f"  name: {CLUSTER}",
            "  key_file: cluster.key",
            "module:",
            f"  name: {MODULE}",
            "  type: mirror",
        ]
        if self.default_primary:
            lines.append(f"  default_primary: {self.default_primary}")
        lines.append("nodes:")
        for node in self.nodes:
            addrs = ", ".join(self.addr(i, node) for i in range(self.networks))
            lines += [f"  - name: {node}", f"    addresses: [{addrs}]"]
        lines += [
            "heartbeat:",
            f"  port: {HEARTBEAT_PORT}",
            f"  interval_ms: {interval_ms}",
            f"  timeout_ms: {timeout_ms}",
            f"quorum: {self.quorum}",
        ]
        if self.quorum == "witness":
            lines += [
                "witness:",
                (f"  addresses: [{self.addr(0, 'witness')}]" if len(self.witnesses) == 1 else
                 f"  hosts: [{', '.join(self.addr(0, w) for w in self.witnesses)}]"),
                f"  port: {WITNESS_PORT}",
                f"  lease_ms: {lease_ms}",
            ]
        lines += ["transitions:", "  order: []", "  step_timeout_ms: 30000"]
        return "\n".join(lines) + "\n"

    def write_config(self, path, text=None):
        """Write a configuration file (the lab's own by default) next to the key."""
        with open(path, "w") as f:
            f.write(text if text is not None else self.config_text())
        return path

    def key(self):
        """The cluster key as 32 bytes."""
        with open(self.key_path) as f:
            return bytes.fromhex(f.read().strip())

    def node_dir(self, member, sub=""):
        return os.path.join(self.dir, member, sub) if sub else os.path.join(self.dir, member)

    def log_path(self, member):
        return os.path.join(self.dir, member, "heartbeatd.log")

    def ctl_path(self, node):
        return os.path.join(self.node_dir(node, "run"), MODULE, "ctl")

    # -- processes ---------------------------------------------------------------------

    def _note(self, member, text):
        """Write a lab marker line into a member's log, so logs tell the whole story."""
        with open(self.log_path(member), "a") as f:
            f.write(f"--- lab {time.strftime('%H:%M:%S')}: {text} ---\n")

    def _spawn(self, member, argv):
        if not os.access(HEARTBEATD, os.X_OK):
            raise LabError(f"{HEARTBEATD} is missing: run `make` first")
        old = self.procs.get((member, "heartbeatd"))
        if old is not None and old.poll() is None:
            raise LabError(f"heartbeatd already runs on {member}")
        self._note(member, "start " + " ".join(argv))
        log = open(self.log_path(member), "a")
        try:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(member)] + argv,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self.procs[(member, "heartbeatd")] = proc
        self.started_at[member] = time.monotonic()
        return proc

    def start_witness(self, name="witness"):
        argv = [HEARTBEATD, "--witness", "--config", self.config,
                "--state-dir", self.node_dir(name, "state")]
        return self._spawn(name, argv + (["-v"] if self.verbose else []))

    def start_node(self, node):
        argv = [HEARTBEATD, "--config", self.config, "--node", node,
                "--run-dir", self.node_dir(node, "run"),
                "--state-dir", self.node_dir(node, "state")]
        return self._spawn(node, argv + (["-v"] if self.verbose else []))

    def running(self, member, daemon="heartbeatd"):
        proc = self.procs.get((member, daemon))
        return proc is not None and proc.poll() is None

    def exit_code(self, member, daemon="heartbeatd"):
        proc = self.procs.get((member, daemon))
        return None if proc is None else proc.poll()

    def kill_daemon(self, member, daemon="heartbeatd"):
        """SIGKILL one daemon of a member (kill -9), and reap it."""
        proc = self.procs.get((member, daemon))
        if proc is None or proc.poll() is not None:
            raise LabError(f"{daemon} is not running on {member}")
        proc.kill()
        proc.wait(timeout=5)
        self._note(member, f"{daemon} killed with SIGKILL")

    def signal_daemon(self, member, daemon, sig):
        """Send a signal (SIGSTOP, SIGCONT...) to one daemon of a member, noted in its log."""
        proc = self.procs.get((member, daemon))
        if proc is None or proc.poll() is not None:
            raise LabError(f"{daemon} is not running on {member}")
        os.kill(proc.pid, sig)
        self._note(member, f"{daemon} sent {signal.Signals(sig).name}")

    def kill_node(self, node):
        """Power cut: SIGKILL every process in the node's namespace, links down."""
        _kill_netns_processes(self.ns(node))
        for (member, _daemon), proc in self.procs.items():
            if member == node:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired as exc:
                    raise LabError(f"a process of {node} survived SIGKILL") from exc
        self.cut_all_links(node)
        self._note(node, "node killed (every process SIGKILLed, all links down)")

    def restart_node(self, node):
        """Power back on: links up, heartbeatd started again with its state kept."""
        for i in self.member_networks(node):
            self.heal_network(node, i)
        return self.start_node(node)

    # -- faults on the network ---------------------------------------------------------

    def _link(self, member, i, state):
        if i not in self.member_networks(member):
            raise LabError(f"{member} has no link on network {i}")
        run(["ip", "-n", self.ns(member), "link", "set", f"eth{i}", state])

    def cut_network(self, member, i):
        """Unplug a member's cable on network i."""
        self._link(member, i, "down")

    def heal_network(self, member, i):
        self._link(member, i, "up")

    def cut_all_links(self, member):
        for i in self.member_networks(member):
            self.cut_network(member, i)

    def heal_all_links(self, member):
        for i in self.member_networks(member):
            self.heal_network(member, i)

    def partition(self, a, b):
        """a and b lose each other on every network; both still reach the witness."""
        for me, peer in ((a, b), (b, a)):
            for i in range(self.networks):
                dst = self.addr(i, peer)
                run(["ip", "-n", self.ns(me), "route", "add", "blackhole", f"{dst}/32"])
                self.blackholes.add((me, dst))

    def blackhole(self, member, unreachable):
        """member loses every address of `unreachable` (routes to it blackholed), the
        other direction untouched: e.g. a node that no longer reaches the witness.
        heal_partition removes these routes too."""
        for i in self.member_networks(unreachable):
            dst = self.addr(i, unreachable)
            if (member, dst) in self.blackholes or i not in self.member_networks(member):
                continue
            run(["ip", "-n", self.ns(member), "route", "add", "blackhole", f"{dst}/32"])
            self.blackholes.add((member, dst))

    def heal_partition(self):
        for me, dst in sorted(self.blackholes):
            run(["ip", "-n", self.ns(me), "route", "del", "blackhole", f"{dst}/32"])
        self.blackholes.clear()

    def netem(self, member, i, delay_ms=None, loss_pct=None):
        """Delay and/or drop packets leaving a member on network i (tc netem)."""
        args = []
        if delay_ms:
            args += ["delay", f"{delay_ms}ms"]
        if loss_pct:
            args += ["loss", f"{loss_pct}%"]
        if not args:
            raise LabError("netem needs delay_ms and/or loss_pct")
        res = run(["tc", "-n", self.ns(member), "qdisc", "replace", "dev", f"eth{i}",
                   "root", "netem"] + args, check=False)
        if res.returncode != 0:
            if "unknown" in res.stderr.lower():
                raise LabUnsupported("tc netem is not available in this kernel "
                                     f"(sch_netem): {res.stderr.strip()}")
            raise LabError(f"tc netem on {member} eth{i} failed: {res.stderr.strip()}")
        self.netem_devs.add((member, i))

    def clear_netem(self):
        for member, i in sorted(self.netem_devs):
            run(["tc", "-n", self.ns(member), "qdisc", "del", "dev", f"eth{i}", "root"])
        self.netem_devs.clear()

    def heal_all(self):
        """Undo every network fault: links up, partitions and netem removed."""
        self.heal_partition()
        self.clear_netem()
        for member in self.nodes + self.witnesses + ["client"]:
            self.heal_all_links(member)

    # -- talking to the nodes ----------------------------------------------------------

    def ctl(self, node, request, timeout=5.0):
        """Send one control request (docs/protocol.md) and return the reply dict."""
        return self.ctl_text(node, json.dumps(request), timeout)

    def ctl_text(self, node, request, timeout=5.0):
        """Send one raw frame (possibly not even JSON) to the control socket."""
        if self._ctx is None:
            raise LabError("the lab is closed")
        sock = self._ctx.socket(zmq.REQ)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
            sock.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
            sock.connect("ipc://" + self.ctl_path(node))
            sock.send_string(request)
            text = sock.recv_string()
        except zmq.Again as exc:
            raise LabError(f"{node}: no answer to {request} within {timeout} s") from exc
        finally:
            sock.close()
        try:
            reply = json.loads(text)
        except ValueError as exc:
            raise LabError(f"{node}: reply is not JSON: {text[:200]!r}") from exc
        if not isinstance(reply, dict):
            raise LabError(f"{node}: reply is not a JSON object: {text[:200]!r}")
        return reply

    def status(self, node, timeout=2.0):
        """The node's status object (docs/protocol.md); LabError if it cannot be had."""
        if not self.running(node):
            code = self.exit_code(node)
            raise LabError(f"heartbeatd is not running on {node}"
                           + (f" (exit code {code})" if code is not None else ""))
        reply = self.ctl(node, {"command": "status"}, timeout)
        if reply.get("ok") is not True or not isinstance(reply.get("status"), dict):
            raise LabError(f"{node}: bad status reply: {reply}")
        return reply["status"]

    def try_status(self, node, timeout=1.0):
        """Status, or None when the node's heartbeatd is down or does not answer."""
        if not self.running(node) or not os.path.exists(self.ctl_path(node)):
            return None
        try:
            return self.status(node, timeout)
        except LabError:
            return None

    def role(self, node, timeout=1.0):
        st = self.try_status(node, timeout)
        return st["node"]["role"] if st else None

    def roles(self):
        """{node: role} with None for a node whose heartbeatd is down or silent."""
        return {node: self.role(node) for node in self.nodes}

    def serving_nodes(self):
        """Nodes whose role is PRIM or ALONE right now."""
        return [n for n, r in self.roles().items() if r in SERVING_ROLES]

    def skyctl(self, node, *args, json=False, timeout=15):
        """Run build/skyctl against a node (from the root namespace); (rc, stdout)."""
        if not os.access(SKYCTL, os.X_OK):
            raise LabError(f"{SKYCTL} is missing: run `make` first")
        cmd = [SKYCTL, "--run-dir", self.node_dir(node, "run"), "-m", MODULE]
        cmd += (["--json"] if json else []) + list(args)
        res = run(cmd, check=False, timeout=timeout)
        return CmdResult(res.returncode, res.stdout, res.stderr)

    # -- waiting -----------------------------------------------------------------------

    def _check_alive(self, node):
        if node in self.started_at and not self.running(node):
            raise LabError(f"heartbeatd on {node} exited with code {self.exit_code(node)}")

    def wait_role(self, node, role, timeout=10.0):
        """Poll status every 50 ms until the node has the role; return that status."""
        return self.wait_roles({node: role}, timeout)[node]

    def wait_roles(self, wanted, timeout=10.0):
        """Poll every 50 ms until every node in {node: role} has its role at once."""
        deadline = time.monotonic() + timeout
        last = {}
        while True:
            for node in wanted:
                self._check_alive(node)
                last[node] = self.try_status(node)
            if all(st and st["node"]["role"] == wanted[n] for n, st in last.items()):
                return last
            if time.monotonic() >= deadline:
                seen = "; ".join(f"{n}: {describe(st)}" for n, st in last.items())
                want = ", ".join(f"{n} {r}" for n, r in wanted.items())
                raise AssertionError(f"expected {want} within {timeout:g} s, got {seen}")
            time.sleep(0.05)

    def wait_for(self, node, predicate, what, timeout=10.0):
        """Poll a node's status every 50 ms until predicate(status) is true."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(node)
            st = self.try_status(node)
            if st is not None and predicate(st):
                return st
            if time.monotonic() >= deadline:
                raise AssertionError(f"{node}: {what} not reached within {timeout:g} s; "
                                     f"status: {describe(st)}")
            time.sleep(0.05)

    def assert_roles_stay(self, wanted, seconds):
        """Poll every 50 ms for `seconds` and fail as soon as a role differs."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for node, role in wanted.items():
                self._check_alive(node)
                st = self.status(node)
                if st["node"]["role"] != role:
                    raise AssertionError(f"{node} left {role}: {describe(st)}")
            time.sleep(0.05)

    def start_cluster(self, timeout=20.0):
        """Witness, then both nodes together; return {node: status} once settled."""
        if self.quorum == "witness":
            for w in self.witnesses:
                self.start_witness(w)
        for node in self.nodes:
            self.start_node(node)
        return self.wait_settled(timeout)

    def wait_settled(self, timeout=20.0, primary="node1", secondary="node2"):
        """Wait for the steady state of a healthy cluster; return {node: status}.

        Steady: primary PRIM and secondary SECOND, each showing the other's role, and
        the primary holding the witness lease (the witness grants nothing in its first
        lease period): a fault test must start from there.
        """
        self.wait_roles({primary: "PRIM", secondary: "SECOND"}, timeout)
        settled = {
            primary: lambda st: st["node"]["role"] == "PRIM"
            and st["peer"]["role"] == "SECOND"
            and (self.quorum != "witness" or st["witness"]["lease"] == "held"),
            secondary: lambda st: st["node"]["role"] == "SECOND"
            and st["peer"]["role"] == "PRIM",
        }
        return {node: self.wait_for(node, ok, "steady state (roles seen by both, "
                                    "lease held by the primary)", timeout)
                for node, ok in settled.items()}

    def watch_serving(self, period=0.05):
        """A ServingWatch over both nodes (use as a context manager)."""
        return ServingWatch(self, period)

    # -- forged traffic ----------------------------------------------------------------

    def send_udp(self, from_member, dst_addr, port, payloads, src_addr=None):
        """Send UDP datagram(s) from inside a namespace.

        With src_addr the packets carry that (spoofed) source address, built by hand
        on a raw socket, so a receiver cannot tell them from its peer's by address.
        """
        if isinstance(payloads, (bytes, bytearray)):
            payloads = [payloads]
        args = [PYTHON, "-c", _SEND_CODE, dst_addr, str(port), src_addr or ""]
        args += [bytes(p).hex() for p in payloads]
        run(["ip", "netns", "exec", self.ns(from_member)] + args, timeout=15)

    def capture_udp(self, member, src_addr, dst_port, timeout=5.0):
        """The payload of the next UDP datagram from src_addr to dst_port seen by member."""
        res = run(["ip", "netns", "exec", self.ns(member), PYTHON, "-c", _SNIFF_CODE,
                   src_addr, str(dst_port), str(timeout)], check=False,
                  timeout=timeout + 10)
        if res.returncode != 0 or not res.stdout.strip():
            raise LabError(f"no UDP datagram from {src_addr} to port {dst_port} seen on "
                           f"{member} within {timeout} s {res.stderr.strip()}")
        return bytes.fromhex(res.stdout.strip())

    # -- logs --------------------------------------------------------------------------

    def log_tail(self, member, lines=25):
        try:
            with open(self.log_path(member), errors="replace") as f:
                return f.readlines()[-lines:]
        except FileNotFoundError:
            return []

    def dump_logs(self, lines=25, out=None):
        """Print the last lines of every member's heartbeatd log."""
        out = out or sys.stdout
        for member in self.nodes + self.witnesses:
            tail = self.log_tail(member, lines)
            print(f"    --- {member}: last {len(tail)} lines of "
                  f"{self.log_path(member)} ---", file=out)
            for line in tail:
                print("    " + line.rstrip("\n"), file=out)


def describe(st):
    """One line summarising a status object, for failure messages."""
    if not st:
        return "no status (heartbeatd down or silent)"
    node, peer = st.get("node", {}), st.get("peer", {})
    quorum, witness = st.get("quorum", {}), st.get("witness", {})
    trans = st.get("transition", {})
    nets = ",".join(f"{n.get('index')}:{'up' if n.get('up') else 'down'}"
                    for n in peer.get("networks", []))
    return (f"role {node.get('role')} data {node.get('data')} gen {node.get('generation')} "
            f"serving {node.get('serving')}; peer {peer.get('role')} "
            f"visible {peer.get('visible')} nets [{nets}]; quorum {quorum.get('via')}; "
            f"witness lease {witness.get('lease')} answer {witness.get('last_answer')}; "
            f"last transition {trans.get('from')}->{trans.get('to')} "
            f"({trans.get('reason')})")


class ServingWatch:
    """Polls both nodes' roles in the background and proves no two ever serve at once.

    Samples alternate between the nodes (each node every `period`). Two status reads are
    never simultaneous, so a single pair of samples cannot prove an overlap across a
    legitimate handover. The proof used is: node X serving at t0 and again at its next
    sample t2, with node Y serving at t1 in between, means both served at t1. A node whose
    heartbeatd process is dead counts as not serving. A live node that does not answer
    for more than 2 s after its start is reported too: during that time the property
    could not be checked.
    """

    def __init__(self, lab, period=0.05):
        self.lab = lab
        self.period = period
        self.samples = []     # (monotonic time, node, role or None, serving or None)
        self.violations = []
        self.silent = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, _exc, _tb):
        self.stop()
        if exc_type is None:
            self.check()
        return False

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="serving-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _sample(self, node):
        lab = self.lab
        alive = lab.running(node)
        role = lab.role(node, timeout=1.0) if alive else "DOWN"
        t = time.monotonic()
        if role is None and not lab.running(node):
            role = "DOWN"
        if role is None:
            serving = None
            since = lab.started_at.get(node, 0)
            if t - since > 2.0:
                self.silent.append((t, node))
        else:
            serving = role in SERVING_ROLES
        self.samples.append((t, node, role, serving))
        self._prove_overlap()

    def _prove_overlap(self):
        t2, x, _r, serving = self.samples[-1]
        if not serving:
            return
        for j in range(len(self.samples) - 2, -1, -1):
            if self.samples[j][1] != x:
                continue
            if not self.samples[j][3]:
                return
            for t1, y, role, y_serving in self.samples[j + 1:-1]:
                if y != x and y_serving:
                    self.violations.append(
                        f"{x} served at {self._rel(self.samples[j][0])} and "
                        f"{self._rel(t2)}, {y} was {role} at {self._rel(t1)}")
            return

    def _rel(self, t):
        return f"t+{t - self.samples[0][0]:.3f}s"

    def _loop(self):
        nodes = self.lab.nodes
        k = 0
        while not self._stop.is_set():
            try:
                self._sample(nodes[k % len(nodes)])
            except Exception as exc:  # keep watching; report at the end
                self.violations.append(f"watch error: {exc!r}")
            k += 1
            self._stop.wait(self.period / len(nodes))

    def first(self, node, predicate, after=0.0):
        """Time of the first sample of node (after `after`) whose role matches."""
        for t, n, role, _s in self.samples:
            if n == node and t >= after and predicate(role):
                return t
        return None

    def check(self):
        if not self.samples:
            raise AssertionError("serving watch took no sample")
        if self.violations:
            raise AssertionError("two nodes served at once: " + "; ".join(self.violations[:5]))
        if self.silent:
            t, node = self.silent[0]
            raise AssertionError(f"{node}'s heartbeatd was alive but did not answer status "
                                 f"({len(self.silent)} times, first at {self._rel(t)}): "
                                 "'never two serving' could not be verified")


# Code run inside a namespace by send_udp: argv = dst port src hex...
_SEND_CODE = r"""
import socket, struct, sys
dst, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
payloads = [bytes.fromhex(h) for h in sys.argv[4:]]
if not src:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for p in payloads:
        s.sendto(p, (dst, port))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    for n, p in enumerate(payloads):
        udp = struct.pack(">HHHH", 40000, port, 8 + len(p), 0) + p
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x5000 + n, 0, 64,
                         socket.IPPROTO_UDP, 0, socket.inet_aton(src),
                         socket.inet_aton(dst))
        s.sendto(ip + udp, (dst, 0))
"""

# Code run inside a namespace by capture_udp: argv = src port timeout.
_SNIFF_CODE = r"""
import socket, sys, time
src, port, timeout = socket.inet_aton(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        pkt = s.recv(65535)
    except socket.timeout:
        break
    ihl = (pkt[0] & 0x0F) * 4
    if len(pkt) < ihl + 8 or pkt[9] != 17 or pkt[12:16] != src:
        continue
    if int.from_bytes(pkt[ihl + 2:ihl + 4], "big") != port:
        continue
    print(pkt[ihl + 8:].hex())
    sys.exit(0)
sys.exit(1)
"""
