#!/usr/bin/python3
"""nspawn.py - lab nodes that are booted Debian 12 containers with systemd as PID 1.

The namespace lab (lab.py) runs the daemons by hand; operators run them through
systemctl, journalctl and the units as installed. SystemdLab keeps lab.py's network
(one namespace per member, joined by bridges, 198.18.0.0/15 only) and boots, in the
namespaces of node1, node2 and the witness, a Debian 12 container each:

    tree     /var/cache/skyha-lab/<recipe hash>/root: debootstrap --variant=minbase
             of bookworm plus systemd, dbus, iproute2, fuse3 and the libraries skyha
             links against, from the mirror apt already uses (read from the machine's
             apt sources). Made once per machine (about 40 s), under a lock, keyed by
             the recipe below: change the recipe and a new tree is made.
    layer    <lab>/layer: skyha installed by `make install DESTDIR=... PREFIX=/usr`,
             or nothing when the test installs the .deb (install="deb"); then the
             module file /etc/skyha/app.yaml, the cluster key, the lab's application
             unit. Shared by the nodes, read-only.
    upper    <lab>/<member>/upper: the node's own writes (overlayfs over tree+layer),
             with its /etc/hostname and a unique /etc/machine-id.

Each container is `systemd-nspawn -b --register=no --keep-unit` with
`--network-namespace-path=/run/netns/<ns>`, `--capability=CAP_NET_ADMIN` (vipd),
`--bind=/dev/fuse` (replicd); the launcher first moves itself into a cgroup of its own
(/sys/fs/cgroup/{unified,systemd}/skyha-lab/<ns>), so with no systemd on the host each
container's systemd owns a subtree nobody else writes into.

Commands inside (node.run) are `nsenter -t <container PID 1> -a systemd-run --wait -P
-q -- CMD`: the container's own systemd starts them as transient units, in its cgroup
and with its capabilities, as an operator's shell would; plain nsenter would run them
outside. The control socket is reached from the host through /proc/<pid>/root.
"""

import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

from lab import Lab, LabError, address, run
import lab as lablib

CACHE = os.environ.get("SKYHA_LAB_CACHE", "/var/cache/skyha-lab")
SUITE = "bookworm"
# What the tree is made of; its hash names the cache directory. Runtime libraries of
# skyha are in it so `apt-get install ./skyha_*.deb` needs no network in a node.
RECIPE_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "iproute2", "fuse3",
    "libzmq5", "libsodium23", "libyaml-0-2", "libjansson4", "libmicrohttpd12",
    "libfuse3-3", "libmnl0", "libcurl4", "libssl3", "man-db",
    # the .deb recommends it (vipd's bucket mode), and apt installs what is recommended
    "nftables",
]
# Bumped when tree_setup() changes what it does to the tree.
TREE_SETUP_VERSION = 1
BOOT_TIMEOUT_S = 60
UNIT_DIR = "/usr/lib/systemd/system"
DATA_DIR = "/srv/app/data"
VIP = "198.18.0.100"
APP_UNIT = "skyha-lab-app.service"
CGROUP_ROOTS = ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup")

# The application of the lab module: a systemd unit started and stopped by checkd
# (checkd.unit, StartUnit/StopUnit over D-Bus). It appends one line per start to the
# replicated directory, so the peer's copy tells whether the mount replicated it.
APP_UNIT_TEXT = f"""[Unit]
Description=skyha lab application (started by checkd on the primary)

[Service]
Type=exec
ExecStart=/bin/sh -c 'echo "started on $(hostname) at $(date +%%s.%%N)" >>{DATA_DIR}/app.log; exec sleep infinity'
ExecStop=/bin/sh -c 'echo "stopped on $(hostname) at $(date +%%s.%%N)" >>{DATA_DIR}/app.log'
"""


def apt_mirror():
    """The Debian mirror of this machine's apt sources that carries bookworm."""
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*")):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
                if SUITE in fields.get("Suites", "").split() and \
                        "deb" in fields.get("Types", "").split():
                    return fields.get("URIs", "").split()[0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    raise LabError("no apt source for Debian bookworm in /etc/apt/sources.list(.d): "
                   "the systemd lab makes its tree from that mirror")


def recipe():
    return {"suite": SUITE, "variant": "minbase", "include": RECIPE_PACKAGES,
            "mirror": apt_mirror(), "setup": TREE_SETUP_VERSION}


def tree_setup(root):
    """What every node's tree needs beyond debootstrap: no identity of its own (each
    node gets a machine-id and host name), no console getty (nspawn --console=passive),
    no downloaded packages kept."""
    for name in ("etc/hostname", "etc/machine-id", "var/lib/dbus/machine-id"):
        p = os.path.join(root, name)
        if os.path.lexists(p):
            os.unlink(p)
    open(os.path.join(root, "etc/machine-id"), "w").close()
    masks = os.path.join(root, "etc/systemd/system")
    for unit in ("console-getty.service", "getty@.service", "systemd-update-utmp.service",
                 "systemd-update-utmp-runlevel.service", "apt-daily.timer",
                 "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
                 "fstrim.timer"):
        link = os.path.join(masks, unit)
        if not os.path.lexists(link):
            os.symlink("/dev/null", link)
    for deb in glob.glob(os.path.join(root, "var/cache/apt/archives/*.deb")):
        os.unlink(deb)
    # Persistent journal: a node's story survives its reboot.
    os.makedirs(os.path.join(root, "var/log/journal"), exist_ok=True)


def ensure_tree(log=print):
    """The cached Debian tree for the current recipe: made once per machine."""
    r = recipe()
    key = hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest()[:16]
    base = os.path.join(CACHE, key)
    root = os.path.join(base, "root")
    if os.path.isfile(os.path.join(base, "ready")):
        return root
    os.makedirs(CACHE, mode=0o755, exist_ok=True)
    with open(os.path.join(CACHE, key + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be making it right now
        if os.path.isfile(os.path.join(base, "ready")):
            return root
        if not shutil.which("debootstrap") or not shutil.which("systemd-nspawn"):
            raise LabError("the systemd lab needs debootstrap and systemd-nspawn "
                           "(systemd-container): run `make deps`")
        tmp = base + f".tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(tmp)
        log(f"systemd lab: making the Debian {SUITE} tree from {r['mirror']} "
            f"(once per machine) in {base}")
        started = time.monotonic()
        res = run(["debootstrap", "--variant=minbase", "--include=" + ",".join(r["include"]),
                   SUITE, os.path.join(tmp, "root"), r["mirror"]], check=False, timeout=900)
        if res.returncode != 0:
            tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-15:])
            shutil.rmtree(tmp, ignore_errors=True)
            raise LabError(f"debootstrap failed ({res.returncode}):\n{tail}")
        tree_setup(os.path.join(tmp, "root"))
        with open(os.path.join(tmp, "recipe.json"), "w") as f:
            json.dump(r, f, indent=1, sort_keys=True)
        with open(os.path.join(tmp, "ready"), "w") as f:
            f.write(f"made in {time.monotonic() - started:.0f} s\n")
        os.rename(tmp, base)
        return root


def _cgroup_enter(name):
    """preexec for a container launcher: a cgroup of its own in every hierarchy
    systemd-nspawn writes to (the unified one and name=systemd on this hybrid host)."""
    for top in CGROUP_ROOTS:
        if not os.path.exists(os.path.join(top, "cgroup.procs")):
            continue
        d = os.path.join(top, "skyha-lab", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write("0\n")


def cleanup_stale_cgroups():
    """Remove the launchers' cgroups of labs whose process is gone (sky<pid>-...)."""
    for top in CGROUP_ROOTS:
        base = os.path.join(top, "skyha-lab")
        if not os.path.isdir(base):
            continue
        for name in os.listdir(base):
            m = lablib.NS_PATTERN.match(name)
            if m and os.path.isdir(os.path.join(base, name)) and \
                    not lablib._pid_alive(int(m.group(1))):
                _cgroup_remove(name)


def _cgroup_remove(name):
    for top in CGROUP_ROOTS:
        d = os.path.join(top, "skyha-lab", name)
        if not os.path.isdir(d):
            continue
        # Deepest first; a cgroup still holding a process stays (and says so later).
        for dirpath, _dirs, _files in sorted(os.walk(d), key=lambda x: -len(x[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


class Node:
    """One booted container: a member of the lab (node1, node2, witness)."""

    def __init__(self, lab, member):
        self.lab = lab
        self.member = member
        self.dir = lab.node_dir(member)
        self.upper = os.path.join(self.dir, "upper")
        self.proc = None
        self.init_pid = None
        self.boots = 0
        self.boot_s = None

    def prepare(self):
        os.makedirs(os.path.join(self.upper, "etc"), exist_ok=True)
        with open(os.path.join(self.upper, "etc/hostname"), "w") as f:
            f.write(self.member + "\n")
        with open(os.path.join(self.upper, "etc/machine-id"), "w") as f:
            f.write(os.urandom(16).hex() + "\n")

    def boot(self):
        """Start the container and wait until its systemd says running (or degraded)."""
        lowers = ":".join([self.lab.tree, self.lab.layer])
        argv = ["systemd-nspawn", "-q", "-D", self.lab.tree, "-b", "-M", self.member,
                "--register=no", "--keep-unit", "--console=passive",
                f"--network-namespace-path=/run/netns/{self.lab.ns(self.member)}",
                "--capability=CAP_NET_ADMIN", "--bind=/dev/fuse",
                f"--overlay={lowers}:{self.upper}:/"]
        log = open(os.path.join(self.dir, "nspawn.log"), "a")
        log.write(f"--- lab {time.strftime('%H:%M:%S')}: boot {' '.join(argv)}\n")
        log.flush()
        started = time.monotonic()
        cg = self.lab.ns(self.member)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=lambda: _cgroup_enter(cg))
        log.close()
        self.lab.procs[(self.member, "nspawn")] = self.proc
        self.init_pid = None
        deadline = started + BOOT_TIMEOUT_S
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"{self.member}: systemd-nspawn exited {self.proc.returncode}; "
                               f"see {self.dir}/nspawn.log")
            self.init_pid = self.init_pid or self._find_init()
            if self.init_pid:
                res = run(["nsenter", "-t", str(self.init_pid), "-a",
                           "systemctl", "is-system-running"], check=False, timeout=15)
                state = res.stdout.strip()
                if state in ("running", "degraded"):
                    break
            time.sleep(0.1)
        else:
            raise LabError(f"{self.member} did not boot within {BOOT_TIMEOUT_S} s "
                           f"(systemd says {state or 'nothing'})")
        self.boots += 1
        self.boot_s = time.monotonic() - started
        return self.boot_s

    def _find_init(self):
        """PID (on the host) of the container's PID 1: the process in the node's
        network namespace whose innermost PID is 1."""
        res = run(["ip", "netns", "pids", self.lab.ns(self.member)], check=False)
        for pid in res.stdout.split():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:") and line.split()[-1] == "1" \
                                and len(line.split()) > 2:
                            return int(pid)
            except OSError:
                continue
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def run(self, *cmd, check=True, timeout=60, unit_args=()):
        """Run a command in the node as a transient unit of its own systemd
        (systemd-run --wait -P): CmdResult (rc, stdout) with .err."""
        if not self.alive() or not self.init_pid:
            raise LabError(f"{self.member} is not running")
        # systemd expands $VAR and ${VAR} in a unit's command line (systemd-run of
        # systemd 252 has no --expand-environment=no): $$ passes a literal $.
        argv = ["nsenter", "-t", str(self.init_pid), "-a", "systemd-run", "--wait", "-P",
                "-q", "--service-type=exec", *unit_args, "--",
                *[a.replace("$", "$$") for a in cmd]]
        res = run(argv, check=False, timeout=timeout)
        if check and res.returncode != 0:
            raise LabError(f"{self.member}: `{lablib.shown(list(cmd))}` exited "
                           f"{res.returncode}: {(res.stderr or res.stdout).strip()}")
        return lablib.CmdResult(res.returncode, res.stdout, res.stderr)

    def sh(self, script, check=True, timeout=60):
        return self.run("/bin/sh", "-c", script, check=check, timeout=timeout)

    def systemctl(self, *args, check=True, timeout=120):
        return self.run("systemctl", "--no-pager", *args, check=check, timeout=timeout)

    def show(self, unit, *props):
        """{property: value} of `systemctl show` for a unit."""
        res = self.systemctl("show", unit, "-p", ",".join(props))
        return dict(line.split("=", 1) for line in res.out.splitlines() if "=" in line)

    def journal(self, *match, since_cursor=None):
        """Journal entries (dicts) in the node matching journalctl arguments."""
        args = ["journalctl", "--no-pager", "-o", "json", *match]
        if since_cursor:
            args += ["--after-cursor", since_cursor]
        res = self.run(*args, check=False, timeout=60)
        return [json.loads(line) for line in res.out.splitlines() if line.startswith("{")]

    def path(self, inside):
        """A path inside the container as seen from the host (its mount namespace)."""
        return f"/proc/{self.init_pid}/root{inside}"

    def poweroff(self, timeout=30):
        """SIGTERM to systemd-nspawn: the container halts as on `systemctl poweroff`."""
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def wait_exit(self, timeout=60):
        self.proc.wait(timeout=timeout)


class SystemdLab(Lab):
    """Two nodes and a witness, each a booted container, the module "app" with
    replicd (DATA_DIR), vipd (VIP on eth0), checkd (APP_UNIT) and healthd.

    install="make": skyha comes from `make install` in the shared layer;
    install="deb": each node gets build/deb/skyha_*.deb by `apt-get install ./...`.
    """

    def __init__(self, install="make", networks=1, interval_ms=200, timeout_ms=1000,
                 **kw):
        kw.setdefault("lease_ms", 2000)
        super().__init__(networks=networks, interval_ms=interval_ms,
                         timeout_ms=timeout_ms, **kw)
        self.install = install
        self.tree = None
        self.layer = None
        self.members = {}

    # -- building and tearing down -----------------------------------------------------

    def setup(self):
        super().setup()
        try:
            self.tree = ensure_tree()
            self.layer = os.path.join(self.dir, "layer")
            self._make_layer()
            for member in self.nodes + ["witness"]:
                self.members[member] = Node(self, member)
                self.members[member].prepare()
            if self.install == "deb":
                deb = deb_path()
                for member in self.nodes + ["witness"]:
                    os.makedirs(os.path.join(self.members[member].upper, "root"),
                                mode=0o700, exist_ok=True)
                    shutil.copy(deb, os.path.join(self.members[member].upper, "root"))
        except BaseException:
            self.close()
            raise

    def _make_layer(self):
        os.makedirs(self.layer)
        if self.install == "make":
            run(["make", "-s", "-C", lablib.ROOT, "install", f"DESTDIR={self.layer}",
                 "PREFIX=/usr", f"UNITDIR={UNIT_DIR}", f"BUILD={lablib.BUILD}"],
                timeout=600)
        etc = os.path.join(self.layer, "etc/skyha")
        os.makedirs(etc, mode=0o755)
        shutil.copy(self.key_path, os.path.join(etc, "cluster.key"))
        os.chmod(os.path.join(etc, "cluster.key"), 0o600)
        with open(os.path.join(etc, f"{lablib.MODULE}.yaml"), "w") as f:
            f.write(self.module_text())
        sysd = os.path.join(self.layer, "etc/systemd/system")
        os.makedirs(sysd)
        with open(os.path.join(sysd, APP_UNIT), "w") as f:
            f.write(APP_UNIT_TEXT)
        os.makedirs(os.path.join(self.layer, DATA_DIR.lstrip("/")), mode=0o755)

    def module_text(self):
        """/etc/skyha/app.yaml as an operator writes it (docs/config.md)."""
        text = self.config_text().replace("key_file: cluster.key",
                                          "key_file: /etc/skyha/cluster.key")
        text = text.replace("  order: []", "  order: [replicd, vipd, checkd]")
        return text + "\n".join([
            "replicd:",
            f"  directories: [{DATA_DIR}]",
            "  mode: sync",
            "  timeout_ms: 3000",
            "vipd:",
            "  addresses:",
            f"    - {{address: {VIP}/24, interface: eth0}}",
            "checkd:",
            f"  unit: {APP_UNIT}",
            "  unit_timeout_ms: 20000",
        ]) + "\n"

    def boot_all(self):
        """Boot every container (one after the other: 2 cores); {member: seconds}.
        With install="deb", then `apt-get install ./skyha_*.deb` in each, as an operator
        does (its dependencies are in the tree: no network needed)."""
        took = {m: self.members[m].boot() for m in self.nodes + ["witness"]}
        if self.install == "deb":
            for m in self.nodes + ["witness"]:
                self.install_deb(m)
        return took

    def install_deb(self, member):
        name = os.path.basename(deb_path())
        self.members[member].run(
            "apt-get", "install", "-y", "-q", f"./{name}", timeout=300,
            unit_args=("-E", "DEBIAN_FRONTEND=noninteractive", "--working-directory=/root"))

    def close(self):
        if self._closed:
            return
        for node in self.members.values():
            try:
                node.poweroff(timeout=20)
            except (OSError, subprocess.SubprocessError):
                pass
        super().close()
        for member in self.members:
            _cgroup_remove(self.ns(member))

    def node(self, member):
        return self.members[member]

    # -- lab.py's view of a node, through the container --------------------------------

    def ctl_path(self, node):
        return self.members[node].path(f"/run/skyha/{lablib.MODULE}/ctl")

    def running(self, member, daemon="heartbeatd"):
        n = self.members.get(member)
        return n is not None and n.alive() and n.init_pid is not None

    def exit_code(self, member, daemon="heartbeatd"):
        return None

    def _check_alive(self, node):
        if not self.running(node):
            raise LabError(f"{node}'s container is not running")

    def log_path(self, member):
        return os.path.join(self.node_dir(member), "journal.txt")

    def dump_logs(self, lines=40, out=None):
        """The last journal lines of every container (skyha's and systemd's)."""
        for member, n in self.members.items():
            if n.alive() and n.init_pid:
                try:
                    res = n.run("journalctl", "--no-pager", "-n", str(lines), "-o",
                                "short-monotonic", check=False, timeout=20)
                    text = res.out
                except LabError as exc:
                    text = str(exc)
            else:
                text = "(not running)"
            print(f"    --- {member}: journal ---", file=out)
            for line in text.splitlines()[-lines:]:
                print("    " + line, file=out)

    def skyctl(self, node, *args, json=False, timeout=15):
        cmd = ["skyctl", "-m", lablib.MODULE] + (["--json"] if json else []) + list(args)
        return self.members[node].run(*cmd, check=False, timeout=timeout)

    def start_module(self, nodes=None):
        """`systemctl start skyha@app.target` on each node (and the witness first)."""
        self.members["witness"].systemctl("start", f"skyha-witness@{lablib.MODULE}.service")
        for node in nodes or self.nodes:
            self.members[node].systemctl("start", f"skyha@{lablib.MODULE}.target")

    def enable_module(self, node):
        for unit in ("heartbeatd", "replicd", "vipd", "checkd"):
            self.members[node].systemctl("enable", f"skyha-{unit}@{lablib.MODULE}.service")
        self.members[node].systemctl("enable", f"skyha@{lablib.MODULE}.target")


def deb_path():
    """The .deb `make deb` built (build/deb/skyha_<version>_amd64.deb)."""
    debs = sorted(glob.glob(os.path.join(lablib.BUILD, "deb", "skyha_*_amd64.deb")))
    if not debs:
        raise LabError(f"no {lablib.BUILD}/deb/skyha_*_amd64.deb: run `make deb` first")
    return debs[-1]


__all__ = ["SystemdLab", "Node", "ensure_tree", "DATA_DIR", "VIP", "APP_UNIT", "address"]
