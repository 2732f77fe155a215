"""Cluster tests: forged and damaged heartbeats are dropped, counted, and change nothing.

The client namespace sends packets to node1's heartbeat port with node2's address as
source (spoofed on a raw socket), so only the packet's content can give it away. The
packets are built by tests/lab/wire.py from docs/protocol.md, and a real heartbeat of
node2 is captured on node1's interface to be replayed. Each kind must raise exactly its
own counter in node1's status by the number of packets sent, leave the other reject
counters alone, and change no role. Several forgeries carry a huge sequence number,
a higher epoch and role PRIM: a receiver that believed any field before rejecting the
packet would then treat node2's real heartbeats as replays and lose its peer.
"""

import json
import os
import time

import wire
import zmq
from lab import HEARTBEAT_PORT, Lab, address, describe, lab_options

TRAFFIC = ("tx", "rx", "tx_errors")  # counters that normal traffic moves


def _cases(key, real):
    """[(what, counters that must rise, packets)] built around a captured heartbeat."""
    hb = wire.decode(real, key)
    assert hb["type"] == wire.TYPE_HEARTBEAT and hb["node"] == "node2", hb
    inc, seq = hb["incarnation"], hb["sequence"]
    # What a forger would love node1 to believe: node2 is PRIM with newer data.
    lure = dict(node="node2", incarnation=inc, sequence=seq + 10**6, network=0,
                role="PRIM", epoch=hb["epoch"] + 100, generation=hb["generation"] + 100)
    other_key = os.urandom(32)
    return [
        ("heartbeat signed with another key", ("bad_mac",), [wire.heartbeat(other_key, **lure)]),
        ("real heartbeat with one MAC bit flipped", ("bad_mac",), [wire.corrupt_mac(real)]),
        ("replay of a captured heartbeat", ("replay",), [real]),
        ("right key, sequence already seen", ("replay",),
         [wire.heartbeat(key, **dict(lure, sequence=seq))]),
        ("right key, another cluster", ("wrong_cluster",),
         [wire.heartbeat(key, cluster="other", **dict(lure, incarnation=inc + 1))]),
        ("right key, unknown node", ("unknown_node",),
         [wire.heartbeat(key, **dict(lure, node="node9"))]),
        ("truncated to 20 bytes", ("malformed",), [wire.truncated(real, 20)]),
        # Cut in transit: the receiver cannot tell a lost tail from a bad MAC.
        ("real heartbeat missing its last 10 bytes", ("bad_mac", "malformed"),
         [wire.truncated(real, len(real) - 10)]),
        ("valid MAC over a body cut short", ("malformed",), [wire.short_body(key, **lure)]),
        ("oversized: 600 bytes, valid MAC", ("oversized",), [wire.oversized(key, 600, **lure)]),
    ]


def _rejections(counters, before):
    """How much each counter other than normal traffic moved since `before`."""
    return {c: v - before.get(c, 0) for c, v in counters.items()
            if isinstance(v, int) and c not in TRAFFIC and v != before.get(c, 0)}


def test_forged_heartbeats_change_no_role_and_are_counted(lab):
    lab.start_cluster()
    key = lab.key()
    real = lab.capture_udp("node1", address(0, "node2"), HEARTBEAT_PORT)
    roles = {"node1": "PRIM", "node2": "SECOND"}
    problems = []

    cases = _cases(key, real)
    for what, counters, packets in cases:
        before = lab.status("node1")["counters"]
        for _ in range(2):  # each kind twice: the count must be exact
            lab.send_udp("client", address(0, "node1"), HEARTBEAT_PORT, packets,
                         src_addr=address(0, "node2"))
        sent = 2 * len(packets)
        expected = "/".join(counters)
        counted = lambda st: sum(st["counters"].get(c, 0) - before.get(c, 0)  # noqa: E731
                                 for c in counters) >= sent
        try:
            lab.wait_for("node1", counted, f"{expected} +{sent}", 3)
        except AssertionError:
            pass  # reported below with what did move
        time.sleep(0.1)  # let any extra (wrong) counting show up too
        moved = _rejections(lab.status("node1")["counters"], before)
        if sum(moved.get(c, 0) for c in counters) != sent or set(moved) - set(counters):
            problems.append(f"{what}: sent {sent}, expected {expected} +{sent}, "
                            f"counters that moved: {moved}")
        for node, role in roles.items():  # a role change is fatal at once
            st = lab.status(node)
            assert st["node"]["role"] == role, f"after {what}: {node}: {describe(st)}"

    # Nothing forged was believed: node2's real heartbeats are still accepted.
    lab.assert_roles_stay(roles, 3 * lab.timeout_ms / 1000)
    first = lab.status("node1")
    lab.assert_roles_stay(roles, 1.0)
    last = lab.status("node1")
    assert last["peer"]["visible"] is True, describe(last)
    assert last["counters"]["rx"] > first["counters"]["rx"], "node1 stopped receiving"
    assert last["counters"]["replay"] == first["counters"]["replay"], \
        "node2's real heartbeats are counted as replays"
    assert not problems, (f"{len(problems)} of {len(cases)} kinds of forged packet "
                          "miscounted: " + "; ".join(problems))


class _VipdOrderLab(Lab):
    """transitions.order [vipd] and no vipd: only what is published on node1's actual
    endpoint can tell heartbeatd that vipd is up, and so make node1 serve."""

    def config_text(self, *args, **kwargs):
        return super().config_text(*args, **kwargs).replace("  order: []",
                                                            "  order: [vipd]")


def _publish_until(lab, pub, msg, done, what, seconds=5.0):
    """Publish {msg} as node1's vipd every 50 ms until done(status) holds."""
    deadline = time.monotonic() + seconds
    while True:
        pub.send_multipart([b"app.vipd.actual", json.dumps(msg).encode()])
        st = lab.status("node1")
        if done(st):
            return st
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} within {seconds:g} s: {describe(st)}, "
                                 f"vipd: {st['actuators'].get('vipd')}")
        time.sleep(0.05)


@lab_options(lab_class=_VipdOrderLab)
def test_forged_actual_messages_are_dropped_counted_and_move_nothing(lab):
    lab.start_cluster()
    st = lab.status("node1")
    assert st["node"]["role"] == "PRIM" and st["node"]["serving"] is False, describe(st)
    good = {"module": "app", "daemon": "vipd", "node": "node1",
            "epoch": st["node"]["epoch"], "state": "up", "reason": ""}
    forged = [
        ("reason that is a number", dict(good, reason=123)),
        ("epoch that is a string", dict(good, epoch=str(good["epoch"]))),
        ("state that is a list", dict(good, state=["up"])),
        ("another node's message", dict(good, node="node2")),
        ("another module's message", dict(good, module="other")),
        ("checkd's message on vipd's topic", dict(good, daemon="checkd")),
    ]
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.connect("ipc://" + os.path.join(lab.node_dir("node1", "run"), "app", "actual"))
    try:
        for what, msg in forged:
            before = st["counters"]["bus_bad_messages"]
            st = _publish_until(lab, pub, msg,
                                lambda s: s["counters"]["bus_bad_messages"] > before
                                or s["node"]["serving"],
                                f"{what}: not counted as a bad bus message")
            assert st["node"]["serving"] is False, f"believed {what}: {describe(st)}"
            assert st["actuators"]["vipd"]["state"] == "unknown", \
                f"believed {what}: vipd {st['actuators']['vipd']}"
        # The same message, well formed, is believed: the forgeries were the only
        # thing wrong.
        _publish_until(lab, pub, good, lambda s: s["node"]["serving"] is True,
                       "a well-formed vipd 'up' did not make node1 serve")
    finally:
        pub.close()
