"""Cluster test: docs/manual.md's "Two nodes on one machine" works as written.

The page tells an operator how to run every daemon without systemd, and how to put two
nodes on one machine: a network namespace each, and a mount namespace each so that both
replicds can over-mount the same path. This test runs the page's own shell blocks, in
order, with only what must differ on a shared test machine replaced: the namespace
prefix `skyha-` (a lab prefix, so parallel runs do not collide), the working directory
and /srv/app (under the lab's temp directory), and where the binaries are. Then it
checks what the page says one sees: node1 PRIM and node2 SECOND in `skyctl status`,
healthd's OK and NOK, a file written on node1's mount on node2's disk and served
through the virtual IP, `skyctl swap`, the stop commands leaving nothing behind, and
the same commands starting the nodes again with both copies intact.
"""

import json
import os
import re
import shlex
import subprocess
import tempfile
import time

import lab as lablib
from lab import BUILD, ROOT, SKYCTL, LabError, lab_options, netns_list

SECTION = "## Two nodes on one machine"
BOUND_S = 20


def _blocks():
    with open(os.path.join(ROOT, "docs", "manual.md")) as f:
        text = f.read()
    assert SECTION in text, f"docs/manual.md has no {SECTION!r} section"
    return re.findall(r"```sh\n(.*?)```", text[text.index(SECTION):], re.S)


class ManualLab(lablib.Lab):
    """A lab prefix and temp directory only: the manual's commands build the rest.
    close() (Lab's) kills whatever runs in namespaces of this prefix and removes them."""

    def setup(self):
        lablib._install_handlers()
        self._closed = False
        lablib._live_labs.add(self)
        self.dir = tempfile.mkdtemp(prefix=f"skyha-lab-{os.getpid()}-")
        os.chmod(self.dir, 0o755)

    def log_path(self, member):
        return os.path.join(self.dir, "w", member, "heartbeatd.log")


class Manual:
    def __init__(self, lab):
        self.lab = lab
        self.w = os.path.join(lab.dir, "w")
        self.srv = os.path.join(lab.dir, "srv", "app")
        self.env = dict(os.environ, B=BUILD, W=self.w, SKYHA_SRC=ROOT,
                        PATH=BUILD + ":" + os.environ.get("PATH", ""))
        self.out = os.path.join(lab.dir, "shell.out")
        blocks = [self.adapt(b) for b in _blocks()]
        assert len(blocks) == 9, f"docs/manual.md: {len(blocks)} shell blocks in {SECTION}"
        (self.export, self.network, self.workdir, self.witness, self.shell, self.node,
         self.look, self.data, self.stop) = blocks

    def adapt(self, text):
        return text.replace("skyha-", self.lab.prefix).replace("/srv/app", self.srv)

    def sh(self, text, what, timeout=60, errexit=True):
        with open(self.out, "a") as out:
            out.write(f"--- {what}\n")
            out.flush()
            argv = ["bash", "-e", "-c", text] if errexit else ["bash", "-c", text]
            res = subprocess.run(argv, env=self.env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 timeout=timeout)
        if res.returncode != 0:
            raise AssertionError(f"docs/manual.md, {what}: exit {res.returncode}\n"
                                 + self.tail())

    def stop_all(self, what):
        """The page's stop commands (typed at a prompt: a kill that finds a process
        gone complains, the next line runs); then no namespace and no daemon is left."""
        self.sh(self.stop, what, errexit=False)
        left = [ns for ns in netns_list() if ns.startswith(self.lab.prefix)]
        assert not left, f"{what}: namespaces left: {left}"
        deadline = time.monotonic() + BOUND_S
        while True:
            alive = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if self.w.encode() in f.read():
                            alive.append(pid)
                except OSError:
                    pass
            if not alive:
                return
            assert time.monotonic() < deadline, f"{what}: still running: {alive}"
            time.sleep(0.2)

    def capture(self, line):
        res = subprocess.run(["bash", "-c", line], env=self.env, capture_output=True,
                             text=True, timeout=30)
        return res.returncode, res.stdout + (res.stderr if res.returncode else "")

    def tail(self):
        with open(self.out, errors="replace") as f:
            return f.read()[-3000:]

    def start_node(self, node):
        """The page's node block, in the shell of `ip netns exec ... unshare -m bash`."""
        argv = shlex.split(self.shell.strip().replace("node1", node)) + ["-e", "-s"]
        script = self.node.replace("N=node1", f"N={node}", 1)
        with open(self.out, "a") as out:
            out.write(f"--- start {node}\n")
            out.flush()
            res = subprocess.run(argv, input=script.encode(), env=self.env, stdout=out,
                                 stderr=subprocess.STDOUT, timeout=60)
        if res.returncode != 0:
            raise AssertionError(f"docs/manual.md, {node}'s shell: exit {res.returncode}\n"
                                 + self.tail())

    def status(self, node):
        rc, out = self.capture(f"{SKYCTL} --run-dir $W/{node}/run --json status")
        if rc != 0:
            return None
        return json.loads(out).get("status")

    def wait_roles(self, wanted):
        """Each node in its role, and the SECOND shown up to date (in sync) by the PRIM."""
        deadline = time.monotonic() + BOUND_S
        while True:
            st = {n: self.status(n) or {} for n in wanted}
            seen = {n: s.get("node", {}).get("role") for n, s in st.items()}
            synced = all(s.get("peer", {}).get("data") == "uptodate"
                         for n, s in st.items() if seen[n] == "PRIM")
            if seen == wanted and synced:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {wanted}, got {seen}\n" + self.tail())
            time.sleep(0.2)

    def wait_ok(self, line, expected):
        deadline = time.monotonic() + BOUND_S
        while True:
            rc, out = self.capture(line)
            if out.strip() == expected:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"`{line}` printed {out!r}, not {expected!r}")
            time.sleep(0.2)

    def in_node(self, node, line):
        """Run a line in the node's shell: its network and mount namespaces."""
        for pid in subprocess.run(["ip", "netns", "pids", self.lab.ns(node)],
                                  capture_output=True, text=True).stdout.split():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"heartbeatd"):
                return self.capture(f"nsenter --target {pid} --mount --net "
                                    f"bash -c {shlex.quote(line)}")
        raise LabError(f"no heartbeatd in {node}'s namespace")


def _lines(block):
    """The block's command lines, each with the comment that says what it prints."""
    out = []
    for line in block.strip().splitlines():
        cmd, _, note = line.partition("#")
        out.append((cmd.strip(), note.strip()))
    return out


@lab_options(lab_class=ManualLab)
def test_manual_two_nodes_on_one_machine_works_as_written(lab):
    m = Manual(lab)
    assert "export B=" in m.export and "W=" in m.export, m.export
    m.sh(m.network, "the network")
    m.sh(m.workdir, "the working directory and the module file")
    m.sh(m.witness, "the witness")
    for node in ("node1", "node2"):
        m.start_node(node)
    m.wait_roles({"node1": "PRIM", "node2": "SECOND"})

    (status, _), (health1, ok), (health2, nok) = _lines(m.look)
    rc, out = m.capture(status)
    assert rc == 0 and re.search(r"node1 +PRIM", out), out
    assert re.search(r"node2 +SECOND +uptodate", out), out
    m.wait_ok(health1, "OK")
    m.wait_ok(health2, "NOK")

    (write, _), (cat, _), (vip, _), (swap, _) = _lines(m.data)
    rc, out = m.in_node("node1", write)
    assert rc == 0, f"`{write}` in node1's shell: exit {rc}"
    assert os.listdir(m.srv) == [], "a node's mounts leaked into the machine's namespace"
    m.wait_ok(cat, "hello")
    m.wait_ok(vip, "hello")
    rc, out = m.capture(swap)
    assert rc == 0, f"`{swap}`: exit {rc}: {out}"
    m.wait_roles({"node1": "SECOND", "node2": "PRIM"})
    m.wait_ok(vip, "hello")

    m.stop_all("stopping")

    # "start the nodes again with the same commands and they resume"
    m.sh(m.network, "the network, again")
    m.sh(m.witness, "the witness, again")
    for node in ("node1", "node2"):
        m.start_node(node)
    deadline = time.monotonic() + BOUND_S
    while True:
        roles = sorted((m.status(n) or {}).get("node", {}).get("role") or "" for n in
                       ("node1", "node2"))
        if roles == ["PRIM", "SECOND"]:
            break
        assert time.monotonic() < deadline, f"roles after the restart: {roles}\n" + m.tail()
        time.sleep(0.2)
    for node in ("node1", "node2"):
        with open(os.path.join(m.w, node, "disk", "hello.txt")) as f:
            assert f.read() == "hello\n", f"{node}'s copy after the restart"
    m.stop_all("stopping, again")
