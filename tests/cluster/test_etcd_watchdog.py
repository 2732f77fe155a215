"""Cluster tests: etcd.watchdog (heartbeatd/watchdog.h), Patroni's watchdog.

The kernel here has no loadable modules (no /proc/modules, so no softdog), and a real
watchdog would reset the shared host: each node's `etcd.watchdog` is a plain file of the
lab, which heartbeatd opens and writes as it would /dev/watchdog (a pet is one byte "1",
the magic close "V"; the timeout ioctl is refused there, which heartbeatd tolerates
with a warning). What the file shows is what a watchdog driver would have seen:

- only the primary arms it, and pets it while it serves on a valid lease;
- the primary's heartbeatd frozen (SIGSTOP): the pets stop and no magic close comes, so
  a real watchdog would reset the machine (before etcd frees the key: the pets stop
  once the next one could push the reset past the lease's end); the peer takes over
  and arms its own;
- a primary that stops serving in order (woken up and demoted, or a swap) disarms it
  with the magic close.
"""

import os
import signal
import time

from etcd_lab import EtcdLab
from lab import HEARTBEATD, MODULE, describe, lab_options

BOUND_S = 15


class WatchdogLab(EtcdLab):
    """EtcdLab whose nodes each have etcd.watchdog: <lab>/<node>/watchdog (a file)."""

    def watchdog(self, node):
        return self.node_dir(node, "watchdog")

    def start_node(self, node):
        path = self.watchdog(node)
        if not os.path.exists(path):
            open(path, "wb").close()
        config = os.path.join(self.dir, f"{MODULE}-{node}-watchdog.yaml")
        self.write_config(config, self.config_text().replace(
            "etcd:\n", f"etcd:\n  watchdog: {path}\n", 1))
        argv = [HEARTBEATD, "--config", config, "--node", node,
                "--run-dir", self.node_dir(node, "run"),
                "--state-dir", self.node_dir(node, "state")]
        return self._spawn(node, argv + (["-v"] if self.verbose else []))

    def pets(self, node):
        with open(self.watchdog(node), "rb") as f:
            return f.read()


def _armed_and_petted(lab, node, more_than=0):
    st = lab.wait_for(node, lambda st: (st["etcd"]["watchdog"] or {}).get("armed") and
                      len(lab.pets(node)) > more_than + 3,
                      f"{node} petting its watchdog", BOUND_S)
    wd = st["etcd"]["watchdog"]
    assert wd["path"] == lab.watchdog(node) and wd["timeout_s"] == 1, wd
    return lab.pets(node)


@lab_options(lab_class=WatchdogLab)
def test_etcd_watchdog_petted_by_the_primary_only_and_left_to_fire_when_frozen(lab):
    lab.start_cluster()
    pets = _armed_and_petted(lab, "node1")
    assert set(pets) == {ord("1")}, pets[-20:]
    wd2 = lab.status("node2")["etcd"]["watchdog"]
    assert not wd2["armed"] and lab.pets("node2") == b"", (wd2, lab.pets("node2"))

    # Frozen past its lease: no pet, and no magic close, so the device would fire.
    lab.signal_daemon("node1", "heartbeatd", signal.SIGSTOP)
    time.sleep(0.2)
    frozen = lab.pets("node1")
    st2 = lab.wait_role("node2", "ALONE", BOUND_S)
    assert lab.pets("node1") == frozen and frozen[-1:] == b"1", frozen[-20:]
    _armed_and_petted(lab, "node2")  # the new primary arms its own

    # Woken (on a real machine it was reset by now): it no longer serves, and
    # disarms its watchdog with the magic close.
    lab.signal_daemon("node1", "heartbeatd", signal.SIGCONT)
    lab.wait_role("node1", "SECOND", BOUND_S)
    assert lab.pets("node1").endswith(b"V"), lab.pets("node1")[-20:]
    assert not lab.status("node1")["etcd"]["watchdog"]["armed"], describe(st2)

    # A swap (once node1 follows node2 at the newest generation etcd knows, or
    # etcd refuses node1 the key): node2 stops serving in order (magic close),
    # node1 arms again.
    lab.wait_settled(BOUND_S, primary="node2", secondary="node1")
    newest = lab.status("node2")["etcd"]["newest_generation"]
    lab.wait_for("node1", lambda st: st["node"]["generation"] == newest,
                 f"node1 at generation {newest}", BOUND_S)
    before = len(lab.pets("node1"))
    rc = lab.skyctl("node2", "swap")
    assert rc.rc == 0, rc
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, BOUND_S)
    assert lab.pets("node2").endswith(b"V"), lab.pets("node2")[-20:]
    _armed_and_petted(lab, "node1", before)
