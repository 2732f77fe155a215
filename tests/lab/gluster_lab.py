#!/usr/bin/python3
"""gluster_lab.py - the replicd lab (replicd_lab.py) with GlusterFS replica 2 beside it.

GlusterFS does the job replicd does (a FUSE mount whose writes reach two nodes), so
bench/gluster.py measures both in one run, on the same two lab nodes and the same kind
of backing store. GlusterLab adds, per node:

    <lab>/<node>/brick          the node's GlusterFS brick: a plain directory on the
                                lab's file system, like replicd's disk/ beside it
    <lab>/<node>/gluster/lib    bound on /var/lib/glusterd  \
    <lab>/<node>/gluster/log    bound on /var/log/glusterfs  > in the node's own
    <lab>/<node>/gluster/run    bound on /run               /  mount namespace
    <lab>/node1/gmnt            the FUSE client's mount point (node1 only)

Each node's glusterd runs in the node's network namespace and in a mount namespace of
its own (`unshare --mount --propagation slave`), where the three directories above
are bound over the host's: it, its bricks (glusterfsd), its self-heal daemon and the
FUSE client it serves never see or touch the host's /var/lib/glusterd, logs or /run,
and every mount they make (the client's included) lives and dies with that namespace.
Slave, not private: mounts made there never reach the host, and where the host's / is
a shared mount (systemd makes it so) the host's unmounts (other labs' FUSE and tmpfs
mounts, copied in when the namespace was made) reach it, so it does not keep them
alive; where / is private (this lab machine) they stay until the namespace ends.
Anything that must see the client's mount (fio) enters node1's mount namespace with
in_gluster_ns(). glusterd runs in the foreground (-N) and is registered in self.procs
as (node, 'glusterd'), so Lab.close() (which kills every process of the node
namespaces) ends the bricks and the client with it; close_gluster() first unmounts,
stops and deletes the volume in order.

The volume, VOLUME, is `replica 2` with one brick per node and no option set (what
`gluster volume create` gives); `force` only because the bricks share the root file
system, which GlusterFS otherwise refuses. Standard library only; needs root and
glusterfs-server (tools/deps.sh test).
"""

import os
import shutil
import signal
import subprocess
import time
from xml.etree import ElementTree

from lab import LabError, address, run
from replicd_lab import ReplicdLab

VOLUME = "bench"
GLUSTER_COMMS = ("glusterd", "glusterfsd", "glusterfs")
# Bound over the host's directories in each node's mount namespace: name -> path.
PRIVATE_DIRS = (("lib", "/var/lib/glusterd"), ("log", "/var/log/glusterfs"), ("run", "/run"))


def gluster_missing():
    """Why GlusterFS cannot run here, or None."""
    for prog in ("glusterd", "gluster", "mount.glusterfs", "unshare", "nsenter"):
        if not shutil.which(prog, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return f"{prog} is missing (glusterfs-server, util-linux: tools/deps.sh test)"
    return None


def process_cpu_s(pid):
    """utime + stime of a process (all its threads, live and exited) in seconds, or
    None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    # After "pid (comm) ", field 3 (state) is fields[0]: utime is 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


class GlusterLab(ReplicdLab):
    """A ReplicdLab whose nodes can also run GlusterFS replica 2 (one brick each)."""

    def __init__(self, **options):
        options.setdefault("networks", 1)
        super().__init__(**options)
        self.gluster_up = False

    # -- layout ------------------------------------------------------------------------

    def gluster_dir(self, node, sub):
        return self.node_dir(node, os.path.join("gluster", sub))

    def brick_dir(self, node):
        return self.node_dir(node, "brick")

    def gluster_mount(self):
        """Where node1's FUSE client mounts the volume (in node1's mount namespace)."""
        return self.node_dir("node1", "gmnt")

    def gluster_log(self, node):
        return os.path.join(self.gluster_dir(node, "log"), "glusterd.log")

    def setup(self):
        super().setup()
        try:
            for node in self.nodes:
                for sub, _path in PRIVATE_DIRS:
                    os.makedirs(self.gluster_dir(node, sub), mode=0o755)
                os.makedirs(self.brick_dir(node), mode=0o755)
            os.makedirs(self.gluster_mount(), mode=0o755)
        except BaseException:
            self.close()
            raise

    # -- processes ---------------------------------------------------------------------

    def glusterd_pid(self, node):
        proc = self.procs.get((node, "glusterd"))
        if proc is None or proc.poll() is not None:
            raise LabError(f"glusterd is not running on {node}")
        return proc.pid

    def in_gluster_ns(self, node, argv, net=False):
        """argv run in node's glusterd mount namespace (and network namespace with net)."""
        return (["nsenter", "-t", str(self.glusterd_pid(node)), "-m"]
                + (["-n"] if net else []) + list(argv))

    def gluster(self, node, *args, timeout=60):
        """The gluster CLI on node (talks to that node's glusterd through its /run)."""
        return run(self.in_gluster_ns(node, ["gluster", "--mode=script"] + list(args),
                                      net=True), timeout=timeout)

    def start_glusterd(self, node, timeout=30.0):
        why = gluster_missing()
        if why:
            raise LabError(why)
        binds = " && ".join(f"mount --bind {self.gluster_dir(node, sub)} {path}"
                            for sub, path in PRIVATE_DIRS)
        # /var/log/glusterfs/glusterd.log inside is gluster_log(node) outside.
        script = f"{binds} && exec glusterd -N --log-file=/var/log/glusterfs/glusterd.log"
        argv = ["ip", "netns", "exec", self.ns(node), "unshare", "--mount",
                "--propagation", "slave", "sh", "-c", script]
        with open(self.node_dir(node, "glusterd.out"), "a") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[(node, "glusterd")] = proc
        socket = os.path.join(self.gluster_dir(node, "run"), "glusterd.socket")
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise LabError(f"glusterd on {node} exited with code {proc.returncode}: "
                               + self.gluster_tail(node))
            if os.path.exists(socket):
                res = run(self.in_gluster_ns(node, ["gluster", "--mode=script", "peer",
                                                    "status"], net=True), check=False)
                if res.returncode == 0:
                    return proc
            if time.monotonic() > deadline:
                raise LabError(f"glusterd on {node} did not answer within {timeout:g} s: "
                               + self.gluster_tail(node))
            time.sleep(0.1)

    def gluster_tail(self, node, lines=5):
        parts = []
        for path in (self.node_dir(node, "glusterd.out"), self.gluster_log(node)):
            try:
                with open(path, errors="replace") as f:
                    parts += f.readlines()[-lines:]
            except FileNotFoundError:
                pass
        return "".join(parts).strip() or "(no log)"

    def _wait(self, what, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise LabError(f"{what} not seen within {timeout:g} s")
            time.sleep(0.1)

    def start_gluster(self, timeout=60.0):
        """glusterd on both nodes, the volume created and started, node1's client
        mounted and connected to both bricks. Returns the mount point."""
        for node in self.nodes:
            self.start_glusterd(node)
        self.gluster_up = True
        self.gluster("node1", "peer", "probe", address(0, "node2"))
        self._wait("node2 in node1's trusted pool",
                   lambda: "Peer in Cluster (Connected)"
                   in self.gluster("node1", "peer", "status").stdout, timeout)
        bricks = [f"{address(0, node)}:{self.brick_dir(node)}" for node in self.nodes]
        self.gluster("node1", "volume", "create", VOLUME, "replica", "2", *bricks, "force")
        self.gluster("node1", "volume", "start", VOLUME)

        def bricks_online():
            xml = self.gluster("node1", "volume", "status", VOLUME, "--xml").stdout
            online = [n.findtext("path") for n in ElementTree.fromstring(xml).iter("node")
                      if n.findtext("status") == "1"]
            return all(self.brick_dir(node) in online for node in self.nodes)
        self._wait(f"both bricks of {VOLUME} online", bricks_online, timeout)
        mnt = self.gluster_mount()
        run(self.in_gluster_ns("node1", ["mount", "-t", "glusterfs",
                                         f"{address(0, 'node1')}:/{VOLUME}", mnt],
                               net=True), timeout=timeout)
        # The client connects to the bricks on its own after mounting: until it has
        # both, a write lands on one brick only. Probe until one reaches both.
        n = [0]

        def write_reaches_both():
            n[0] += 1
            name = f".skyha-probe-{n[0]}"
            run(self.in_gluster_ns("node1", ["sh", "-c", f"echo probe > {mnt}/{name}"]))
            both = all(os.path.exists(os.path.join(self.brick_dir(node), name))
                       for node in self.nodes)
            run(self.in_gluster_ns("node1", ["rm", "-f", f"{mnt}/{name}"]))
            return both
        self._wait("a write through the client on both bricks", write_reaches_both, timeout)
        return mnt

    def gluster_volume_info(self):
        return self.gluster("node1", "volume", "info", VOLUME).stdout

    def close_gluster(self):
        """Unmount the client, stop and delete the volume, stop glusterd and every
        GlusterFS process. Best effort and bounded: Lab.close() kills what is left."""
        if not self.gluster_up:
            return
        self.gluster_up = False
        if self.running("node1", "glusterd"):
            run(self.in_gluster_ns("node1", ["umount", "-l", self.gluster_mount()]),
                check=False)
            for args in (("volume", "stop", VOLUME), ("volume", "delete", VOLUME)):
                run(self.in_gluster_ns("node1", ["gluster", "--mode=script"] + list(args),
                                       net=True), check=False, timeout=60)
        for node in self.nodes:
            proc = self.procs.get((node, "glusterd"))
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for pid in self.stack_pids(GLUSTER_COMMS, [node]):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def close(self):
        if not self._closed:
            try:
                self.close_gluster()
            except (LabError, OSError, subprocess.SubprocessError):
                pass  # Lab.close() below kills every process of the namespaces
        super().close()

    # -- CPU accounting ----------------------------------------------------------------

    def stack_pids(self, comms, nodes=None):
        """Pids of the processes named in comms in the nodes' network namespaces."""
        pids = []
        for node in nodes or self.nodes:
            res = run(["ip", "netns", "pids", self.ns(node)], check=False)
            pids += [int(p) for p in res.stdout.split() if process_comm(int(p)) in comms]
        return pids

    def stack_cpu(self, comms):
        """{pid: CPU seconds so far} of a stack's processes on both nodes."""
        cpu = {}
        for pid in self.stack_pids(comms):
            s = process_cpu_s(pid)
            if s is not None:
                cpu[pid] = s
        return cpu

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for node in self.nodes:
            print(f"    --- {node}: glusterd ---\n    "
                  + self.gluster_tail(node, lines).replace("\n", "\n    "), file=out)


def cpu_delta_s(before, after):
    """CPU seconds the processes spent between two stack_cpu() snapshots (a process
    that appeared in between counts whole)."""
    return sum(s - before.get(pid, 0.0) for pid, s in after.items())
