"""Cluster tests: a node whose application cannot start does not keep the module from its peer.

The whole mirror stack (tests/lab/stack_lab.py). node1, the default primary, gets an
application that cannot start (its checkd restarted naming a missing APP_DIR), while node2
serves with node1 in sync; then the operator swaps to node1. node1's promotion fails
(checkd cannot start the application): the module must come back to node2, whose copy
holds everything node1's does, rather than node1 being elected again and again while
node2 waits (docs/soak.md, open finding of issue 13).
"""

import os
import re
import time

from lab import describe, lab_options
from stack_lab import StackLab


def _break_start_on(lab, node):
    """Restart node's checkd with APP_DIR naming a missing directory: start_prim fails
    at once (`cd: can't cd`), as the application of a node missing its files would."""
    path = lab.checkd_config(node)
    with open(path) as f:
        text = f.read()
    broken = re.sub(r'APP_DIR: "[^"]*"', 'APP_DIR: "/nonexistent/skyha-test"', text)
    assert broken != text, "stack_lab.py no longer sets APP_DIR: update this test"
    with open(path, "w") as f:
        f.write(broken)
    lab.kill_daemon(node, "checkd")
    lab.start_checkd(node)


def _log(lab, node, daemon):
    with open(os.path.join(lab.dir, node, f"{daemon}.log"), errors="replace") as f:
        return f.read()


def _swap(lab, node):
    """skyctl swap on node, once the peer is seen in sync there (heartbeats lag)."""
    deadline = time.monotonic() + 30
    while True:
        res = lab.skyctl(node, "swap")
        if res[0] == 0:
            return
        if "not an up-to-date SECOND" not in res.err or time.monotonic() > deadline:
            raise AssertionError(f"skyctl swap exited {res[0]}: {res[1]}{res.err}")
        time.sleep(0.2)


@lab_options(lab_class=StackLab)
def test_default_primary_that_cannot_start_leaves_the_module_to_its_peer(lab):
    lab.start_cluster(30)
    lab.wait_app("node1", 15)
    lab.wait_replicd("node2", "secondary", timeout=15)
    lab.wait_for("node2", lambda st: st["node"]["data"] == "uptodate", "in sync", 30)
    _swap(lab, "node1")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 30)
    lab.wait_for("node2", lambda st: st["node"]["serving"], "serving", 30)
    lab.wait_for("node1", lambda st: st["node"]["data"] == "uptodate", "in sync", 30)
    _break_start_on(lab, "node1")
    with open(os.path.join(lab.data_dir("node2"), "before-swap.txt"), "w") as f:
        f.write("written on node2 before the swap\n")
    lab.wait_for("node1", lambda st: st["node"]["data"] == "uptodate", "in sync", 30)
    _swap(lab, "node2")
    # node1 tries, fails; the module must come back to node2 (not stay with nobody).
    deadline = time.monotonic() + 40
    while "transition failed" not in _log(lab, "node1", "heartbeatd"):
        assert time.monotonic() < deadline, "node1's promotion did not fail"
        time.sleep(0.1)
    st2 = lab.wait_for("node2", lambda st: st["node"]["serving"], "serving again", 60)
    assert st2["node"]["role"] == "PRIM", describe(st2)
    lab.wait_app("node2", 20)
    served = lab.fetch("node2", "before-swap.txt")
    assert served == b"written on node2 before the swap\n", served
