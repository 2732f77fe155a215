"""Cluster tests: heartbeatd watches every actuator between transitions (issue 12).

replicd dies on the primary (SIGKILL, as a crash would). What the application sees
through the mount until it is back is printed; heartbeatd must notice:
- restarted before `transitions.actuator_silent_ms` (as systemd does within a second),
  replicd is asked for the primary role again and the node recovers in place: PRIM,
  the peer in sync again, writes replicated;
- never restarted, the primary gives up the role once replicd has been silent for
  `actuator_silent_ms` (5 s by default), instead of serving on a dead mount forever.
"""

import errno
import os
import time

from lab import lab_options
from replicd_lab import ReplicdLab, replicd_of

BOUND_S = 30


def _try_write(path):
    try:
        with open(path, "ab") as f:
            f.write(b"x")
            f.flush()
            os.fsync(f.fileno())
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))


@lab_options(lab_class=ReplicdLab, networks=1)
def test_replicd_killed_and_restarted_on_the_primary_recovers_in_place(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2")
    path = os.path.join(lab.data_dir("node1"), "probe")
    assert _try_write(path) == "ok"
    lab.kill_daemon("node1", "replicd")
    seen = _try_write(path)
    time.sleep(1.0)
    lab.start_replicd("node1")
    lab.wait_for("node1", lambda st: st["node"]["role"] == "PRIM" and
                 replicd_of(st).get("state") == "primary" and
                 replicd_of(st).get("epoch") == st["node"]["epoch"],
                 "node1 primary again with replicd", BOUND_S)
    lab.wait_in_sync("node2")
    assert _try_write(path) == "ok"
    with open(os.path.join(lab.data_dir("node1"), "probe"), "rb") as f:
        here = f.read()
    with open(os.path.join(lab.disk_dir("node2"), "probe"), "rb") as f:
        assert f.read() == here, "the write after the restart did not replicate"
    print(f"    the application saw {seen} while replicd was down; node1 stayed "
          f"primary and recovered in place", flush=True)


@lab_options(lab_class=ReplicdLab, networks=1)
def test_replicd_dead_on_the_primary_makes_it_give_up_the_role(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2")
    lab.kill_daemon("node1", "replicd")
    killed = time.monotonic()
    st = lab.wait_for("node1", lambda st: st["node"]["role"] not in ("PRIM", "ALONE"),
                      "node1 giving up the primary role", BOUND_S)
    waited = time.monotonic() - killed
    reason = (st.get("transition") or {}).get("reason", "")
    assert "replicd silent" in reason, st.get("transition")
    # Never two serving, and nothing was acknowledged meanwhile (the mount is dead).
    for node in ("node1", "node2"):
        s = lab.try_status(node) or {}
        assert not (s.get("node", {}).get("serving") and node == "node1"), s
    print(f"    node1 left PRIM {waited:.1f} s after replicd died: {reason}", flush=True)


@lab_options(lab_class=ReplicdLab, networks=1)
def test_an_orderly_stop_of_the_primary_leaves_the_peer_promotable(lab):
    """As `systemctl stop skyha@app.target` does it: replicd stops first (SIGTERM),
    heartbeatd some seconds later. The peer's replicd must not call its copy outdated
    meanwhile: the stopping primary told it that it has everything."""
    lab.start_cluster()
    lab.wait_in_sync("node2")
    path = os.path.join(lab.data_dir("node1"), "before-stop")
    with open(path, "wb") as f:
        f.write(b"written before the stop")
        f.flush()
        os.fsync(f.fileno())
    proc = lab.procs[("node1", "replicd")]
    proc.terminate()
    proc.wait(timeout=10)
    time.sleep(2.5)  # more than replicd.timeout_ms (1 s)
    hb = lab.procs[("node1", "heartbeatd")]
    hb.terminate()
    hb.wait(timeout=10)
    lab.wait_role("node2", "ALONE", BOUND_S)
    lab.wait_for("node2", lambda st: replicd_of(st).get("state") == "primary" and
                 replicd_of(st).get("epoch") == st["node"]["epoch"], "node2's replicd primary",
                 BOUND_S)
    with open(os.path.join(lab.data_dir("node2"), "before-stop"), "rb") as f:
        assert f.read() == b"written before the stop"
