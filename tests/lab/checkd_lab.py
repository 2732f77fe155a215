#!/usr/bin/python3
"""checkd_lab.py - the namespace lab with checkd and a real application on each node.

CheckdLab is a Lab (lab.py) whose module file also has a `checkd:` section and
`transitions: order: [checkd]`, so heartbeatd counts a node as serving only once checkd
has started the application there. start_node() starts build/checkd next to heartbeatd in
the node's namespace (processes keyed (node, "checkd"), log in <node>/checkd.log), so
kill_node() takes the application and checkd down with the rest.

The application is the sample of examples/app/ (start_prim/stop_prim running
python3 -m http.server on the node's first address, port 8080), copied into the lab
directory with a few scripts the tests need:
    app/hang_start        a start_prim that never returns (and leaves a child behind)
    checks/flag           a custom checker: fails while <run>/app/fail_check exists
    checks/pattern        a custom checker cycling through the results listed in
                          <run>/app/pattern ("fail fail ok" ...), one per run

Tests get one through the decorator checkd_lab(...) (the runner, tests/cluster/run.py,
builds the class named by lab_options' lab_class). checkd's own view is read from
<run>/app/checkd.json, the object it publishes on the bus.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import lab as lablib
from lab import LabError, lab_options, run

CHECKD = os.path.join(lablib.BUILD, "checkd")
EXAMPLE_APP = os.path.join(lablib.ROOT, "examples", "app")
APP_PORT = 8080

HANG_START = """#!/bin/sh
# A start_prim that hangs: a child is left in the process group, the script waits.
sleep 1000 &
echo "$!" >"$SKYHA_RUN_DIR/hang.child"
echo "$$" >"$SKYHA_RUN_DIR/hang.script"
echo "starting, slowly..."
wait
"""

FLAG_CHECK = """#!/bin/sh
# Fails while $SKYHA_RUN_DIR/fail_check exists.
if [ -e "$SKYHA_RUN_DIR/fail_check" ]; then echo "fail_check flag is set"; exit 1; fi
exit 0
"""

PATTERN_CHECK = """#!/bin/sh
# Cycles through the words of $SKYHA_RUN_DIR/pattern (ok|fail), one per run.
p="$SKYHA_RUN_DIR/pattern"; n="$SKYHA_RUN_DIR/pattern.n"
[ -s "$p" ] || exit 0
set -- $(cat "$p")
i=$(cat "$n" 2>/dev/null || echo 0)
k=$(( i % $# + 1 ))
echo $((i + 1)) >"$n"
eval r=\\${$k}
[ "$r" = ok ] && exit 0
echo "pattern run $i: $r"; exit 1
"""


def checkd_lab(**options):
    """Decorator for a cluster test that wants a CheckdLab (with these options)."""
    return lab_options(lab_class=CheckdLab, **options)


class CheckdLab(lablib.Lab):
    """A Lab whose nodes also run checkd and the sample application."""

    def __init__(self, checkers=None, restart_max=2, restart_window_ms=60000,
                 escalation="failover", failover_refused="restart",
                 start_script="app/start_prim", start_timeout_ms=5000,
                 step_timeout_ms=10000, **kw):
        super().__init__(**kw)
        self.checkers = checkers if checkers is not None else default_checkers()
        self.restart_max = restart_max
        self.restart_window_ms = restart_window_ms
        self.escalation = escalation
        self.failover_refused = failover_refused
        self.start_script = start_script
        self.start_timeout_ms = start_timeout_ms
        self.step_timeout_ms = step_timeout_ms

    # -- configuration -----------------------------------------------------------------

    def checkd_section(self):
        lines = [
            "checkd:",
            "  scripts:",
            f"    start_prim: {{path: {self.start_script}, "
            f"timeout_ms: {self.start_timeout_ms}}}",
            "    stop_prim: {path: app/stop_prim, timeout_ms: 5000}",
            "  environment:",
            f"    APP_PORT: \"{APP_PORT}\"",
            "  restart:",
            f"    max: {self.restart_max}",
            f"    window_ms: {self.restart_window_ms}",
            f"  escalation: {self.escalation}",
            f"  failover_refused: {self.failover_refused}",
            "  failover_wait_ms: 5000",
        ]
        if self.checkers:
            lines.append("  checkers:")
            for ck in self.checkers:
                first = True
                for key, value in ck.items():
                    lines.append(("    - " if first else "      ") + f"{key}: {value}")
                    first = False
        else:
            lines.append("  checkers: []")
        return "\n".join(lines) + "\n"

    def config_text(self, *args, **kwargs):
        text = super().config_text(*args, **kwargs)
        # checkd goes last in whatever order a parent lab class set (replicd, vipd).
        m = re.search(r"transitions:\n  order: \[([^\]]*)\]\n  step_timeout_ms: \d+\n", text)
        if not m:
            raise LabError("lab.py's transitions section changed: update checkd_lab.py")
        order = [x.strip() for x in m.group(1).split(",") if x.strip()] + ["checkd"]
        text = (text[:m.start()] + f"transitions:\n  order: [{', '.join(order)}]\n"
                f"  step_timeout_ms: {self.step_timeout_ms}\n" + text[m.end():])
        return text + self.checkd_section()

    def checkd_config(self, node):
        """The module file checkd reads on node (the same on both nodes here)."""
        return self.config

    def setup(self):
        super().setup()
        try:
            self._write_scripts()
        except BaseException:
            self.close()
            raise

    def _write_scripts(self):
        app = os.path.join(self.dir, "app")
        checks = os.path.join(self.dir, "checks")
        os.makedirs(app)
        os.makedirs(checks)
        for name in ("start_prim", "stop_prim"):
            shutil.copy(os.path.join(EXAMPLE_APP, name), os.path.join(app, name))
        for path, text in ((os.path.join(app, "hang_start"), HANG_START),
                           (os.path.join(checks, "flag"), FLAG_CHECK),
                           (os.path.join(checks, "pattern"), PATTERN_CHECK)):
            with open(path, "w") as f:
                f.write(text)
        for folder in (app, checks):
            for name in os.listdir(folder):
                os.chmod(os.path.join(folder, name), 0o755)

    # -- processes ---------------------------------------------------------------------

    def checkd_log_path(self, node):
        return os.path.join(self.dir, node, "checkd.log")

    def start_node(self, node):
        proc = super().start_node(node)
        self.start_checkd(node)
        return proc

    def start_checkd(self, node):
        if not os.access(CHECKD, os.X_OK):
            raise LabError(f"{CHECKD} is missing: run `make` first")
        old = self.procs.get((node, "checkd"))
        if old is not None and old.poll() is None:
            raise LabError(f"checkd already runs on {node}")
        argv = [CHECKD, "--config", self.checkd_config(node), "--node", node,
                "--run-dir", self.node_dir(node, "run")] + (["-v"] if self.verbose else [])
        with open(self.checkd_log_path(node), "a") as log:
            log.write(f"--- lab {time.strftime('%H:%M:%S')}: start {' '.join(argv)} ---\n")
            log.flush()
            # nsenter --net, like replicd (replicd_lab.py), not `ip netns exec`: that
            # would give checkd and the application a private copy of the mount table,
            # and after replicd is restarted they would keep its dead FUSE mount.
            proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.ns(node)}"] + argv,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[(node, "checkd")] = proc
        return proc

    # -- what checkd and the application say -------------------------------------------

    def app_run_dir(self, node):
        return os.path.join(self.node_dir(node, "run"), lablib.MODULE)

    def checkd_state(self, node):
        """checkd's published object (from <run>/app/checkd.json), or None."""
        try:
            with open(os.path.join(self.app_run_dir(node), "checkd.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def app_pid(self, node):
        """The sample application's pid from its pidfile, if it is alive."""
        try:
            with open(os.path.join(self.app_run_dir(node), "app.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def app_http_status(self, node, timeout=1.0):
        """GET / on the node's address, from the client namespace: the HTTP status
        code, or None when nothing answers."""
        code = ("import sys, urllib.request\n"
                "try:\n"
                f"    r = urllib.request.urlopen(sys.argv[1], timeout={timeout})\n"
                "    print(r.status)\n"
                "except Exception as e:\n"
                "    print('none', e)\n")
        url = f"http://{self.addr(0, node)}:{APP_PORT}/"
        res = run(["ip", "netns", "exec", self.ns("client"), lablib.PYTHON, "-c", code, url],
                  check=False, timeout=timeout + 10)
        word = res.stdout.split()[0] if res.stdout.split() else "none"
        return int(word) if word.isdigit() else None

    def wait_app(self, node, timeout=10.0, other_than=None):
        """Wait until the application answers HTTP 200 on node (with a pid other than
        other_than); return its pid."""
        deadline = time.monotonic() + timeout
        while True:
            pid = self.app_pid(node)
            if pid and pid != other_than and self.app_http_status(node) == 200:
                return pid
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"the application does not answer on {node} within {timeout:g} s "
                    f"(pid {pid}); checkd: {describe_checkd(self.checkd_state(node))}")
            time.sleep(0.05)

    def wait_checkd(self, node, predicate, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.checkd_state(node)
            if st is not None and predicate(st):
                return st
            if not self.running(node, "checkd"):
                raise LabError(f"checkd on {node} exited with code "
                               f"{self.exit_code(node, 'checkd')}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"{node}: checkd {what} not reached within "
                                     f"{timeout:g} s; checkd: {describe_checkd(st)}")
            time.sleep(0.05)

    def kill_app(self, node):
        """SIGKILL the application on a node; return the pid killed."""
        pid = self.app_pid(node)
        if not pid:
            raise LabError(f"no application running on {node}")
        os.kill(pid, signal.SIGKILL)
        return pid

    def set_file(self, node, name, text):
        os.makedirs(self.app_run_dir(node), exist_ok=True)
        with open(os.path.join(self.app_run_dir(node), name), "w") as f:
            f.write(text)

    # -- logs --------------------------------------------------------------------------

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for node in self.nodes:
            try:
                with open(self.checkd_log_path(node), errors="replace") as f:
                    tail = f.readlines()[-lines:]
            except FileNotFoundError:
                continue
            print(f"    --- {node}: last {len(tail)} lines of "
                  f"{self.checkd_log_path(node)} ---", file=out)
            for line in tail:
                print("    " + line.rstrip("\n"), file=out)


def default_checkers(interval_ms=200):
    """A process checker on the pidfile (seen at once through a pidfd) and an HTTP one."""
    return [
        {"name": "app-process", "kind": "process", "pidfile": "app.pid",
         "interval_ms": interval_ms, "fail_after": 1, "action": "restart"},
        {"name": "app-http", "kind": "http", "address": "self", "port": APP_PORT,
         "path": "/", "interval_ms": interval_ms, "timeout_ms": interval_ms,
         "fail_after": 3, "ok_after": 1, "action": "restart"},
    ]


def pid_alive(pid):
    """Alive and not a zombie (this machine's PID 1 may not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X", "")


def describe_checkd(st):
    if not st:
        return "no state (checkd not running, or nothing published yet)"
    cks = ", ".join(f"{c['name']}:{c['state']}x{c['consecutive']}"
                    + (f" ({c['last_error']})" if c.get("last_error") else "")
                    for c in st.get("checkers", []))
    return (f"state {st.get('state')} epoch {st.get('epoch')} target {st.get('target')} "
            f"app {st.get('app')} action {st.get('action')} restarts "
            f"{st.get('restarts_in_window')}/{st.get('restart_max')}; checkers [{cks}]; "
            f"reason: {st.get('reason')}")
