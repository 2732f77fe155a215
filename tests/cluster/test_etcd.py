"""Cluster tests: quorum: etcd, with a real 3-member etcd cluster (tests/lab/etcd_lab.py).

Real heartbeatd daemons in lab namespaces, real etcd (Debian's etcd-server 3.4) in three
more; the leader key is <prefix>/leader, held with each node's lease (docs/architecture.md,
"Quorum on etcd"). A background watch fails a test that can prove two nodes served at
once.

- Power cut of the primary, etcd the only quorum: the secondary takes the leader key once
  the dead node's lease ends (its watch on the key sees the deletion), serves ALONE, with
  an epoch above the old one.
- The newest-data rule on etcd's generation record: the primary dies, the secondary
  serves alone (a new generation, recorded in etcd), then dies too; the old primary,
  back alone, is refused leadership until the node with the newest data returns.
- The nodes partitioned from each other, both seeing etcd: the holder of the leader key
  keeps serving, the other waits, told the key is held.
- The primary cut off from etcd but seeing its peer: it steps down once its lease can
  end (before etcd can give the key away), and the peer takes the key and serves.
- etcd losing its leader: service goes on, and a failover still works.
- `skyctl swap`: the leader key moves with the primary role, and stays.
- The primary's heartbeatd paused (SIGSTOP) past its lease: the peer takes over; woken,
  the old primary never serves again and follows as SECOND.
- etcd loses one member (the one it leads with, if any): service goes on, and the
  watches on the leader key move to another member.
- etcd loses its majority: the primary stops serving when its lease ends (even seeing
  its peer), and nobody is promoted while etcd cannot answer.
- Wrong password, an endpoint where nothing listens, a "member" that answers garbage:
  nobody serves, and the status and log say why.
- Bad etcd settings: `heartbeatd -n` names file:line:column and the field.
- The whole module (replicd, vipd, checkd, the application under a writer) with etcd:
  the primary's heartbeatd frozen, then a whole node paused, past the lease: no write
  acknowledged by it after the peer took over, every acknowledged write on the new
  primary, never the VIP on both (test_frozen.py's freeze_primary).
"""

import os
import signal
import subprocess
import sys
import time

from etcd_lab import EtcdLab, etcd_address
from lab import HEARTBEATD, SERVING_ROLES, describe, lab_options, run

BOUND_S = 15


@lab_options(lab_class=EtcdLab)
def test_etcd_secondary_takes_over_when_primary_loses_power(lab):
    before = lab.start_cluster()
    epoch_before = before["node1"]["node"]["epoch"]
    # node2 watches the leader key (etcd_watch.h), so the end of node1's key is
    # acted on when etcd deletes it, not at the next round.
    watch = lab.wait_for("node2", lambda st: st["etcd"]["watch"]["up"],
                         "node2 watching the leader key", BOUND_S)["etcd"]["watch"]
    with lab.watch_serving():
        lab.kill_node("node1")
        st = lab.wait_role("node2", "ALONE", BOUND_S)
        assert st["node"]["epoch"] > epoch_before, describe(st)
        etcd = lab.status("node2")["etcd"]
        assert etcd["leader"] is True and etcd["holder"] == "node2", etcd
        # At least the deletion of node1's key, and node2's own creation of it.
        assert etcd["watch"]["events"] >= watch["events"] + 2, (watch, etcd["watch"])
        assert etcd["leader_revision"] <= st["node"]["epoch"], etcd
        lab.restart_node("node1")
        lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)


@lab_options(lab_class=EtcdLab)
def test_etcd_refuses_leadership_to_a_node_with_older_data(lab):
    lab.start_cluster()
    lab.kill_node("node1")  # node1 was primary: its own record says up to date
    st2 = lab.wait_role("node2", "ALONE", BOUND_S)  # a new generation, in etcd
    newer = st2["node"]["generation"]
    lab.wait_for("node2", lambda st: st["etcd"]["newest_generation"] == newer,
                 "etcd's generation record at node2's", BOUND_S)
    lab.kill_node("node2")
    lab.restart_node("node1")  # older data, alone: etcd must refuse it
    st1 = lab.wait_for("node1", lambda st: "outdated" in st["node"]["waiting_for"],
                       "etcd says node1's data is outdated", BOUND_S)
    assert "etcd says our data is outdated" in st1["node"]["waiting_for"], describe(st1)
    assert st1["node"]["generation"] < newer, describe(st1)
    lab.assert_roles_stay({"node1": "WAIT"}, 2)
    lab.restart_node("node2")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)


@lab_options(lab_class=EtcdLab)
def test_etcd_partitioned_nodes_keep_exactly_one_serving(lab):
    lab.start_cluster()
    with lab.watch_serving():
        lab.partition("node1", "node2")
        lab.wait_roles({"node1": "ALONE", "node2": "WAIT"}, BOUND_S)
        lab.assert_roles_stay({"node1": "ALONE", "node2": "WAIT"}, 3)
        st = lab.status("node2")
        assert st["witness"]["holder"] == "node1", describe(st)
        assert st["witness"]["last_answer"] == "held_by_other", st["witness"]
        lab.heal_partition()
        lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, BOUND_S)


@lab_options(lab_class=EtcdLab)
def test_etcd_primary_cut_from_etcd_steps_down_and_peer_takes_over(lab):
    lab.start_cluster()
    with lab.watch_serving() as watch:
        cut_at = time.monotonic()
        lab.cut_from_etcd("node1")  # it still sees node2
        st = lab.wait_role("node1", "WAIT", BOUND_S)
        assert "lost the etcd leader key" in st["transition"]["reason"], describe(st)
        lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
        etcd = lab.status("node2")["etcd"]
        assert etcd["leader"] is True and etcd["holder"] == "node2", etcd
        lab.assert_roles_stay({"node1": "SECOND", "node2": "PRIM"}, 1)
    last_served = max((t for t, n, role, _ in watch.samples
                       if n == "node1" and t >= cut_at and role in SERVING_ROLES),
                      default=cut_at)
    took_over = watch.first("node2", lambda r: r in SERVING_ROLES, after=cut_at)
    assert took_over is not None and last_served < took_over, (last_served, took_over)


# While etcd elects a new leader no keepalive succeeds: the lease must outlast that
# election (Raft election timeout 500 ms here), as docs/config.md asks.
@lab_options(lab_class=EtcdLab, lease_ms=3000)
def test_etcd_losing_its_leader_keeps_service(lab):
    lab.start_cluster()
    leader = lab.etcd_leader()
    assert leader is not None, "etcd reports no leader"
    with lab.watch_serving():
        lab.kill_etcd(leader)
        lab.assert_roles_stay({"node1": "PRIM", "node2": "SECOND"}, 4)
        lab.kill_node("node1")  # a failover still works on two members
        lab.wait_role("node2", "ALONE", BOUND_S)


@lab_options(lab_class=EtcdLab)
def test_etcd_paused_primary_wakes_without_serving(lab):
    # A paused daemon answers no status, so the serving watch cannot run: the
    # first answers of the woken node are checked instead (it answers only after
    # its first turn, which sees its lease long gone).
    lab.start_cluster()
    epoch_before = lab.status("node1")["node"]["epoch"]
    lab.signal_daemon("node1", "heartbeatd", signal.SIGSTOP)
    st2 = lab.wait_role("node2", "ALONE", BOUND_S)
    assert st2["node"]["epoch"] > epoch_before, describe(st2)
    time.sleep(2 * lab.lease_ms / 1000)
    lab.signal_daemon("node1", "heartbeatd", signal.SIGCONT)
    deadline = time.monotonic() + BOUND_S
    while True:
        st = lab.try_status("node1")
        if st is not None:
            assert st["node"]["role"] not in SERVING_ROLES, describe(st)
            assert lab.role("node2") in SERVING_ROLES
            if st["node"]["role"] == "SECOND":
                break
        assert time.monotonic() < deadline, f"node1 did not follow: {describe(st)}"
        time.sleep(0.02)
    assert lab.status("node1")["node"]["epoch"] == lab.status("node2")["node"]["epoch"]


@lab_options(lab_class=EtcdLab)
def test_etcd_swap_moves_the_leader_key_with_the_primary(lab):
    before = lab.start_cluster()
    with lab.watch_serving():
        res = lab.skyctl("node1", "swap")
        assert res.rc == 0, res
        lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
        lab.wait_for("node2", lambda st: st["etcd"]["leader"] is True,
                     "node2 holds the etcd leader key", BOUND_S)
        # Longer than the grace a new primary has to take the key: it stays.
        lab.assert_roles_stay({"node1": "SECOND", "node2": "PRIM"},
                              2 * (lab.lease_ms + lab.timeout_ms) / 1000)
        st = lab.status("node2")
        assert st["node"]["epoch"] > before["node1"]["node"]["epoch"], describe(st)


@lab_options(lab_class=EtcdLab, lease_ms=3000)  # member 1 may be etcd's leader
def test_etcd_losing_one_member_keeps_service(lab):
    lab.start_cluster()
    with lab.watch_serving():
        lab.kill_etcd(1)  # the endpoint both nodes use first
        lab.assert_roles_stay({"node1": "PRIM", "node2": "SECOND"}, 4)
        # Their watches on the leader key were on it too: broken, counted, and
        # opened again on another member.
        for node in ("node1", "node2"):
            lab.wait_for(node, lambda st: st["etcd"]["watch"]["breaks"] >= 1 and
                         st["etcd"]["watch"]["up"], "its watch back on another member",
                         BOUND_S)
        lab.partition("node1", "node2")  # now etcd alone decides
        lab.wait_roles({"node1": "ALONE", "node2": "WAIT"}, BOUND_S)
        assert lab.status("node1")["etcd"]["endpoint"] != lab.client_url(1)


@lab_options(lab_class=EtcdLab)
def test_etcd_losing_majority_stops_primary_and_promotes_nobody(lab):
    lab.start_cluster()
    with lab.watch_serving():
        lab.kill_etcd(2)
        lab.kill_etcd(3)
        lab.wait_role("node1", "WAIT", BOUND_S)  # seeing its peer
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            assert lab.serving_nodes() == [], lab.roles()
            time.sleep(0.05)
        for node in ("node1", "node2"):
            st = lab.status(node)
            assert st["witness"]["lease"] != "held", describe(st)


def _wait_error(lab, node, text):
    st = lab.wait_for(node, lambda s: text in s["etcd"]["last_error"],
                      f"etcd error containing {text!r}", BOUND_S)
    assert st["node"]["serving"] is False, describe(st)
    return st


@lab_options(lab_class=EtcdLab, auth=True)
def test_etcd_wrong_password_is_a_clear_error(lab):
    lab.start_etcd()
    with open(lab.password_path, "w") as f:
        f.write("not-the-password\n")
    lab.start_node("node1")
    st = _wait_error(lab, "node1", "authentication as user 'skyha' refused")
    assert st["etcd"]["counters"]["auth_failures"] >= 1, st["etcd"]
    assert "authentication" in open(lab.log_path("node1")).read()
    # The right password: it leads (auth with a token works end to end).
    with open(lab.password_path, "w") as f:
        f.write(lab.password + "\n")
    lab.kill_daemon("node1")
    lab.start_node("node1")
    lab.start_node("node2")
    lab.wait_settled(BOUND_S)


# The lab's client certificate has no CommonName: with auth on, etcd 3.4's
# gateway refuses one that has ("CommonName of client sending a request against
# gateway will be ignored"), docs/config.md says so.
@lab_options(lab_class=EtcdLab, tls=True, auth=True)
def test_etcd_over_tls_with_client_certificate_and_auth(lab):
    lab.start_cluster()
    with lab.watch_serving():
        lab.kill_node("node1")
        lab.wait_role("node2", "ALONE", BOUND_S)


@lab_options(lab_class=EtcdLab, etcd_endpoints=["http://198.18.0.99:2379"])
def test_etcd_unreachable_endpoint_is_a_clear_error(lab):
    lab.start_node("node1")
    _wait_error(lab, "node1", "no endpoint answered")
    lab.assert_roles_stay({"node1": "WAIT"}, 1)


_GARBAGE = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 2379)); s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(65536)
    body = b'{"ID": "12x", "TTL": [1]}'
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    c.close()
"""


@lab_options(lab_class=EtcdLab, etcd_endpoints=[f"http://{etcd_address(1)}:2379"])
def test_etcd_malformed_reply_is_a_clear_error(lab):
    proc = subprocess.Popen(["ip", "netns", "exec", lab.ns("etcd1"), "/usr/bin/python3",
                             "-c", _GARBAGE, etcd_address(1)], start_new_session=True)
    lab.procs[("etcd1", "garbage")] = proc
    lab.start_node("node1")
    st = _wait_error(lab, "node1", "malformed reply")
    assert st["etcd"]["counters"]["bad_replies"] >= 1, st["etcd"]
    assert "ID" in st["etcd"]["last_error"], st["etcd"]


def _check(path):
    res = run([HEARTBEATD, "-n", "--config", path, "--node", "node1"], check=False)
    return res.returncode, res.stdout + res.stderr


@lab_options(lab_class=EtcdLab)
def test_etcd_config_errors_name_line_column_and_field(lab):
    rc, out = _check(lab.config)
    assert rc == 0 and "configuration OK" in out, out
    good = lab.config_text()
    lease = f"  lease_ms: {lab.lease_ms}"
    cases = [
        ("  endpoints: [", "  endpoints: [ftp://x, ", "etcd.endpoints"),
        (lease, "  lease_ms: 10", "etcd.lease_ms"),
        (lease, lease + "\n  user: skyha", "etcd.password_file"),
        (lease, lease + "\n  prefix: nope/", "etcd.prefix"),
        (lease, lease + "\n  colour: blue", "colour"),
    ]
    for old, new, field in cases:
        text = good.replace(old, new, 1)
        assert text != good, old
        path = lab.write_config(os.path.join(lab.dir, "bad.yaml"), text)
        rc, out = _check(path)
        assert rc == 1, f"{new!r}: exit {rc}: {out}"
        assert f"{path}:" in out and field in out, f"{new!r}: {out}"
        line = out.split(f"{path}:", 1)[1].split(":")
        assert line[0].isdigit() and line[1].isdigit(), f"no line:column in {out}"



# The whole mirror module (replicd, vipd, checkd, healthd, the application) with etcd
# as quorum, frozen as tests/cluster/test_frozen.py freezes it: the same promises (no
# write acknowledged by the frozen primary after the peer took over, every acknowledged
# write on the new primary, never the VIP on both) checked by its freeze_primary.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack_lab import StackLab  # noqa: E402
from test_frozen import freeze_primary, start_services  # noqa: E402


class EtcdStackLab(EtcdLab, StackLab):
    """StackLab with etcd as quorum (EtcdLab's members and config section)."""


@lab_options(lab_class=EtcdStackLab)
def test_etcd_frozen_primary_writes_nothing_after_the_peer_took_over(lab):
    lab.start_cluster(30)
    start_services(lab)
    lab.start_client()
    freeze_primary(lab, "node1", "node2", 3, "etcd-hb")
    freeze_primary(lab, "node2", "node1", 3, "etcd-vm", whole_node=True)
