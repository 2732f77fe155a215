#!/usr/bin/python3
"""replicd_lab.py - the namespace lab (lab.py) with replicd on every node.

ReplicdLab adds, per node:

    <lab>/<node>/disk       the node's real storage (what replicd writes to)
                            (with disk_mib=MiB or {node: MiB}, a tmpfs of that
                            size, so a test can fill a node's file system)
    <lab>/<node>/data       the replicated directory: a bind mount of disk, which
                            replicd then over-mounts with FUSE. The application (the
                            test) uses data/; disk/ shows the bytes really on the node.
    <lab>/app-<node>.yaml   the module configuration plus this node's `replicd:`
                            section (both nodes live on one machine, so each needs its
                            own directory path; on real nodes the file is the same)
    <lab>/<node>/replicd.log
    <lab>/<node>/state/app/replicd/   replicd's change record (kept across kill_node,
                            like a disk)

replicd runs in the node's network namespace through `nsenter --net` (not `ip netns
exec`, which would give it a private mount namespace): its FUSE mount is then
visible to the test in the root mount namespace. It is registered in self.procs as
(node, 'replicd'), so kill_node kills it with the rest of the node; the FUSE mount
it leaves behind is stale, as after a real crash, and the next replicd detaches it.
transitions.order is [replicd]: heartbeatd waits for replicd at every promotion.
"""

import os
import subprocess
import time

import lab as lablib
from lab import MODULE, Lab, LabError, run

REPLICD = os.path.join(lablib.BUILD, "replicd")
FSTYPE = "fuse.skyha-replicd"


def mounted(path):
    """The fs types mounted exactly on path (last one on top), from /proc/self/mountinfo."""
    types = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) > 4 and fields[4].encode().decode("unicode_escape") == path:
                types.append(right.split()[0])
    return types


def walk(root):
    """(path relative to root, path, lstat) of every entry below root, as bytes,
    so that any name the application made (not UTF-8 too) is compared."""
    rootb = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(rootb):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            yield os.path.relpath(p, rootb), p, os.lstat(p)


def sync_dir(path):
    """fsync a directory through the mount: in every mode, it returns once the peer
    applied everything before it (docs/replication.md)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replicd_of(st):
    """What heartbeatd reports of its replicd (actuators.replicd), or {}."""
    return (st or {}).get("actuators", {}).get("replicd") or {}


class ReplicdLab(Lab):
    """A Lab whose nodes also run replicd over a replicated directory each."""

    def __init__(self, mode=None, replicd_timeout_ms=1000, disk_mib=None, **options):
        super().__init__(**options)
        # replicd.mode: the test's, else SKYHA_REPLICD_MODE (to run the tests that
        # hold in every mode in another one), else sync.
        self.mode = mode or os.environ.get("SKYHA_REPLICD_MODE") or "sync"
        # With disk_mib, a node's disk/ is a tmpfs of that size: a disk that fills
        # up. One size for every node, or {node: MiB} for some.
        self.disk_mib = disk_mib
        self.replicd_timeout_ms = replicd_timeout_ms
        self.standalone = {}  # node -> role given with --standalone

    # -- layout ------------------------------------------------------------------------

    def data_dir(self, node):
        return self.node_dir(node, "data")

    def disk_dir(self, node):
        return self.node_dir(node, "disk")

    def disk_size(self, node):
        """The size in MiB of node's tmpfs disk, or None (a plain directory)."""
        if isinstance(self.disk_mib, dict):
            return self.disk_mib.get(node)
        return self.disk_mib

    def replicd_config(self, node):
        return os.path.join(self.dir, f"{MODULE}-{node}.yaml")

    def replicd_log(self, node):
        return self.node_dir(node, "replicd.log")

    def config_text(self, *args, **kwargs):
        text = super().config_text(*args, **kwargs)
        return text.replace("  order: []", "  order: [replicd]")

    def replicd_config_text(self, node):
        return self.config_text() + "\n".join([
            "replicd:",
            f"  directories: [{self.data_dir(node)}]",
            f"  mode: {self.mode}",
            f"  timeout_ms: {self.replicd_timeout_ms}",
        ]) + "\n"

    def setup(self):
        super().setup()
        try:
            for node in self.nodes:
                os.makedirs(self.disk_dir(node), mode=0o755)
                os.makedirs(self.data_dir(node), mode=0o755)
                if self.disk_size(node):
                    run(["mount", "-t", "tmpfs", "-o",
                         f"size={self.disk_size(node)}m,mode=0755",
                         f"skyha-lab-{node}", self.disk_dir(node)])
                run(["mount", "--bind", self.disk_dir(node), self.data_dir(node)])
                self.write_config(self.replicd_config(node), self.replicd_config_text(node))
        except BaseException:
            self.close()
            raise

    def close(self):
        if self._closed:
            return
        for node in self.nodes:
            proc = self.procs.get((node, "replicd"))
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.dir:
            for node in self.nodes:
                # Stale FUSE mounts of killed replicds, then our bind mount.
                for _ in range(8):
                    if not mounted(self.data_dir(node)):
                        break
                    run(["umount", "-l", self.data_dir(node)], check=False)
                while self.disk_size(node) and mounted(self.disk_dir(node)):
                    if run(["umount", "-l", self.disk_dir(node)], check=False).returncode:
                        break
        super().close()

    # -- processes ---------------------------------------------------------------------

    def start_replicd(self, node, standalone=None, wait=True):
        if not os.access(REPLICD, os.X_OK):
            raise LabError(f"{REPLICD} is missing: run `make` first")
        old = self.procs.get((node, "replicd"))
        if old is not None and old.poll() is None:
            raise LabError(f"replicd already runs on {node}")
        argv = ["nsenter", f"--net=/run/netns/{self.ns(node)}", REPLICD,
                "--config", self.replicd_config(node), "--node", node,
                "--run-dir", self.node_dir(node, "run"),
                "--state-dir", self.node_dir(node, "state")]
        if standalone:
            argv += ["--standalone", standalone]
            self.standalone[node] = standalone
        if self.verbose:
            argv.append("-v")
        with open(self.replicd_log(node), "a") as log:
            log.write(f"--- lab {time.strftime('%H:%M:%S')}: start {' '.join(argv)} ---\n")
            log.flush()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[(node, "replicd")] = proc
        if wait:
            self.wait_mounted(node)
        return proc

    def wait_mounted(self, node, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            types = mounted(self.data_dir(node))
            if types and types[-1] == FSTYPE:
                # A stale mount is listed too: it must answer.
                try:
                    os.stat(self.data_dir(node))
                    return
                except OSError:
                    pass
            proc = self.procs.get((node, "replicd"))
            if proc is not None and proc.poll() is not None:
                raise LabError(f"replicd on {node} exited with code {proc.returncode}: "
                               + "".join(self.replicd_log_tail(node, 5)))
            if time.monotonic() > deadline:
                raise LabError(f"replicd on {node} did not mount {self.data_dir(node)} "
                               f"within {timeout:g} s (mounts: {types})")
            time.sleep(0.05)

    def start_node(self, node):
        """replicd first (so the mount exists), then heartbeatd."""
        if not self.running(node, "replicd"):
            self.start_replicd(node)
        return super().start_node(node)

    # -- state -------------------------------------------------------------------------

    def replicd_actual(self, node):
        """replicd's actual state as heartbeatd reports it in its status."""
        st = self.try_status(node)
        return (st or {}).get("actuators", {}).get("replicd")

    def wait_replicd(self, node, state, connected=None, timeout=10.0):
        """Wait until heartbeatd sees replicd in state for its current epoch."""
        def ok(st):
            act = st.get("actuators", {}).get("replicd") or {}
            if act.get("state") != state or act.get("epoch") != st["node"]["epoch"]:
                return False
            if connected is True:
                return act.get("reason", "") == ""
            return True
        return self.wait_for(node, ok, f"replicd {state}", timeout)

    def wait_in_sync(self, secondary, timeout=30.0, at_generation=True):
        """Wait until replicd says the secondary's copy is up to date (so heartbeatd
        may promote it) and, with at_generation, heartbeatd took the primary's
        generation (the copy is complete at it)."""
        def ok(st):
            act = replicd_of(st)
            return (st["node"]["role"] == "SECOND" and act.get("data") == "uptodate"
                    and act.get("sync") == "insync"
                    and (not at_generation
                         or st["node"]["generation"] == st["peer"]["generation"]))
        what = f"{secondary} in sync" + (" at the primary's generation" if at_generation
                                         else "")
        return self.wait_for(secondary, ok, what, timeout)

    def replicd_log_tail(self, node, lines=25):
        try:
            with open(self.replicd_log(node), errors="replace") as f:
                return f.readlines()[-lines:]
        except FileNotFoundError:
            return []

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for node in self.nodes:
            tail = self.replicd_log_tail(node, lines)
            print(f"    --- {node}: last {len(tail)} lines of {self.replicd_log(node)} ---",
                  file=out)
            for line in tail:
                print("    " + line.rstrip("\n"), file=out)
