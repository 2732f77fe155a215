#!/usr/bin/python3
"""stack_lab.py - the namespace lab with every daemon of a mirror module on each node.

StackLab is the lab of `make demo` and of tests/cluster/test_stack.py: on each node,
replicd (the replicated directory <lab>/<node>/data, see replicd_lab.py), heartbeatd,
healthd (port 9010, see healthd_lab.py), vipd (the virtual IP 198.18.0.100 on the
client's segment, see vipd_lab.py) and checkd running the sample application of
examples/app (python3 -m http.server on port 8080 of every address, see checkd_lab.py),
with transitions.order [replicd, vipd, checkd]: on promotion the replicated directory
turns writable first, then the VIP moves, then the application starts; on demotion the
reverse.

The application serves the replicated directory (APP_DIR), so a client sees, through
HTTP, the very bytes replication kept. Both nodes live on one machine, so each node's
checkd reads its own copy of the module file (<lab>/app-<node>.yaml, also replicd's):
the same file but for APP_DIR, which names that node's data directory.
"""

import hashlib
import os

from checkd_lab import APP_PORT, CheckdLab
from healthd_lab import HealthdLab
from lab import LabError, run
import lab as lablib
from replicd_lab import ReplicdLab
from vipd_lab import VIP4, VipdLab

__all__ = ["StackLab", "APP_PORT", "VIP4"]


class StackLab(CheckdLab, VipdLab, ReplicdLab, HealthdLab):
    """replicd + heartbeatd + healthd + vipd + checkd + the sample application.

    start_node(node) runs, through the classes' chain: replicd (waits for its mount),
    heartbeatd, healthd (waits until it follows the module), vipd, then checkd.
    """

    def __init__(self, **kw):
        kw.setdefault("step_timeout_ms", 15000)
        # replicd's documented default: above heartbeat.timeout_ms, as it must be.
        kw.setdefault("replicd_timeout_ms", 3000)
        super().__init__(**kw)

    def checkd_config(self, node):
        path = os.path.join(self.dir, f"{lablib.MODULE}-{node}-checkd.yaml")
        if not os.path.exists(path):
            text = self.replicd_config_text(node)
            port_line = f'    APP_PORT: "{APP_PORT}"\n'
            if port_line not in text:
                raise LabError("checkd_lab.py's environment changed: update stack_lab.py")
            text = text.replace(port_line,
                                port_line + f'    APP_DIR: "{self.data_dir(node)}"\n'
                                '    APP_BIND: "0.0.0.0"\n')
            self.write_config(path, text)
        return path

    def start_app(self, node):
        """HealthdLab's stand-in application is not needed: checkd runs the real one."""
        return None

    def running(self, member, daemon="heartbeatd"):
        if daemon == "app":
            return True  # so HealthdLab.start_node does not start its stand-in
        return super().running(member, daemon)

    def restart_daemon(self, node, daemon):
        """Start one daemon of node again the way start_node does (after kill -9)."""
        if daemon == "heartbeatd":
            return lablib.Lab.start_node(self, node)
        starters = {"replicd": self.start_replicd, "checkd": self.start_checkd,
                    "vipd": self.start_vipd, "healthd": self.start_healthd}
        if daemon not in starters:
            raise LabError(f"no way to restart {daemon}")
        return starters[daemon](node)

    # -- what a client sees ------------------------------------------------------------

    def fetch(self, node, name, timeout=2.0, host=None):
        """GET /<name> from the application on node (or at host, e.g. the VIP), asked
        from the client namespace: the body (text files only) as bytes, or None when it
        does not answer 200."""
        code = ("import sys, urllib.request\n"
                "try:\n"
                f"    r = urllib.request.urlopen(sys.argv[1], timeout={timeout})\n"
                "    sys.stdout.buffer.write(r.read()) if r.status == 200 else sys.exit(3)\n"
                "except Exception:\n"
                "    sys.exit(3)\n")
        url = f"http://{host or self.addr(0, node)}:{APP_PORT}/{name}"
        res = run(["ip", "netns", "exec", self.ns("client"), lablib.PYTHON, "-c", code, url],
                  check=False, timeout=timeout + 10)
        return res.stdout.encode() if res.returncode == 0 else None

    def write_ledger(self, node, name, records):
        """Write numbered records to <data>/<name> on node through the replicated
        mount, each followed by fsync (acknowledged only once fsync returned); return
        the acknowledged bytes' SHA-256."""
        path = os.path.join(self.data_dir(node), name)
        acknowledged = b""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for i in range(records):
                line = f"record {i:05d}: transfer {i * 37 % 1000} EUR\n".encode()
                os.write(fd, line)
                os.fsync(fd)
                acknowledged += line
        finally:
            os.close(fd)
        return hashlib.sha256(acknowledged).hexdigest()

    def append_ledger(self, node, name, first, records):
        """Append records numbered from first to <data>/<name> on node, each fsynced;
        return the bytes appended."""
        path = os.path.join(self.data_dir(node), name)
        written = 0
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            for i in range(first, first + records):
                line = f"record {i:05d}: transfer {i * 37 % 1000} EUR\n".encode()
                written += os.write(fd, line)
                os.fsync(fd)
        finally:
            os.close(fd)
        return written
