"""Cluster tests: every kind of dropped packet is logged, with its count.

The README and docs/operations.md say dropped packets are logged at most once a second
per kind. Each node and the witness must therefore write, for every kind (bad_mac,
replay, malformed, oversized, wrong_cluster, unknown_node, the names of the status
counters), lines of the form

    dropped 1 bad_mac packet: wrong key or forged, 89 bytes, on network 0 from ...
    dropped 29 bad_mac packets in 1.0 s, the last: wrong key or forged on network 0 ...

whose counts add up to exactly what was dropped, even when every kind arrives within
the same second (one kind must not silence another) and when the flood stops (the
count of the packets that came after a line must still be written). Lines of one kind
are at least a second apart.

The forged packets come from the client namespace in one burst (tests/lab/wire.py),
spoofed with node2's address for the node, from the client's own for the witness.
"""

import os
import re
import time

import wire
from lab import HEARTBEAT_PORT, WITNESS_PORT, address

LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) WARN heartbeatd\S*: "
                  r"dropped (\d+) ([a-z_]+) packets?\b")
KINDS = ("bad_mac", "replay", "malformed", "oversized", "wrong_cluster", "unknown_node")


def _log_from(lab, member, offset):
    with open(lab.log_path(member), errors="replace") as f:
        f.seek(offset)
        return f.read()


def _drop_lines(text):
    """{kind: [(ms of day, count)]} of the drop lines in a piece of log."""
    lines = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            h, mi, s, ms, count, kind = m.groups()
            t = ((int(h) * 60 + int(mi)) * 60 + int(s)) * 1000 + int(ms)
            lines.setdefault(kind, []).append((t, int(count)))
    return lines


def _check_lines(lines, sent, where, text):
    """Each kind's counts add up to what was sent; its lines a second apart."""
    problems = []
    for kind, n in sent.items():
        got = lines.get(kind, [])
        total = sum(c for _t, c in got)
        if total != n:
            problems.append(f"{kind}: {n} dropped, the log's lines count {total} "
                            f"({len(got)} lines)")
        for (t0, _c0), (t1, _c1) in zip(got, got[1:]):
            if t1 - t0 < 950:  # wall-clock stamps of a monotonic 1 s window
                problems.append(f"{kind}: two lines {t1 - t0} ms apart")
    assert not problems, (f"{where}: " + "; ".join(problems)
                          + "\nlog since the burst:\n" + text[-3000:])


def _wait_lines(lab, member, offset, sent, timeout=5.0):
    """The log since offset once every kind's lines add up (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        text = _log_from(lab, member, offset)
        lines = _drop_lines(text)
        if all(sum(c for _t, c in lines.get(k, [])) >= n for k, n in sent.items()):
            return text, lines
        if time.monotonic() >= deadline:
            return text, lines
        time.sleep(0.1)


def test_node_logs_every_kind_of_dropped_packet_with_its_count(lab):
    lab.start_cluster()
    key = lab.key()
    real = lab.capture_udp("node1", address(0, "node2"), HEARTBEAT_PORT)
    hb = wire.decode(real, key)
    inc, seq = hb["incarnation"], hb["sequence"]
    lure = dict(node="node2", incarnation=inc, sequence=seq + 10**6, network=0,
                role="PRIM", epoch=hb["epoch"] + 100, generation=hb["generation"] + 100)
    other_key = os.urandom(32)
    burst = {  # kind: packets, a different number of each
        "bad_mac": [wire.heartbeat(other_key, **dict(lure, sequence=seq + 10**6 + i))
                    for i in range(25)] + [wire.corrupt_mac(real)] * 5,
        "replay": [real] * 4,
        "malformed": [wire.truncated(real, 20)] * 3 + [wire.short_body(key, **lure)] * 2,
        "oversized": [wire.oversized(key, 600, **lure)] * 3,
        "wrong_cluster": [wire.heartbeat(key, cluster="other",
                                         **dict(lure, incarnation=inc + 1))] * 6,
        "unknown_node": [wire.heartbeat(key, **dict(lure, node="node9"))] * 7,
    }
    sent = {kind: len(packets) for kind, packets in burst.items()}
    before = lab.status("node1")["counters"]
    offset = os.path.getsize(lab.log_path("node1"))
    # One process sends them all: every kind lands within the same second.
    lab.send_udp("client", address(0, "node1"), HEARTBEAT_PORT,
                 [p for packets in burst.values() for p in packets],
                 src_addr=address(0, "node2"))
    text, lines = _wait_lines(lab, "node1", offset, sent)
    after = lab.status("node1")["counters"]
    moved = {k: after[k] - before[k] for k in KINDS}
    assert moved == sent, f"node1's counters moved by {moved}, {sent} sent"
    _check_lines(lines, sent, "node1 after one burst of every kind", text)

    # A second burst more than a second later: its own lines, its own counts.
    time.sleep(1.2)
    offset = os.path.getsize(lab.log_path("node1"))
    again = {"bad_mac": burst["bad_mac"][:10], "unknown_node": burst["unknown_node"][:2]}
    lab.send_udp("client", address(0, "node1"), HEARTBEAT_PORT,
                 [p for packets in again.values() for p in packets],
                 src_addr=address(0, "node2"))
    sent = {kind: len(packets) for kind, packets in again.items()}
    text, lines = _wait_lines(lab, "node1", offset, sent)
    _check_lines(lines, sent, "node1 after a second burst", text)
    assert set(lines) == set(sent), f"lines for kinds not sent: {sorted(lines)}"
    assert lab.status("node1")["node"]["role"] == "PRIM"


def test_witness_logs_every_kind_of_dropped_packet_with_its_count(lab):
    lab.start_cluster()
    key = lab.key()
    other_key = os.urandom(32)
    good = dict(node="node1", incarnation=10**6, sequence=1, request_id=7)
    request = wire.lease_request(key, **good)
    burst = {
        "bad_mac": [wire.lease_request(other_key, **good)] * 12,
        # node1 is past incarnation 0: an old (incarnation, sequence) is a replay.
        "replay": [wire.lease_request(key, **dict(good, incarnation=0))] * 3,
        "malformed": [wire.truncated(request, 20)] * 4,
        "oversized": [request + bytes(600 - len(request))] * 2,
        "wrong_cluster": [wire.lease_request(key, cluster="other", **good)] * 5,
        "unknown_node": [wire.lease_request(key, **dict(good, node="node9"))] * 6,
    }
    sent = {kind: len(packets) for kind, packets in burst.items()}
    offset = os.path.getsize(lab.log_path("witness"))
    lab.send_udp("client", address(0, "witness"), WITNESS_PORT,
                 [p for packets in burst.values() for p in packets])
    text, lines = _wait_lines(lab, "witness", offset, sent)
    _check_lines(lines, sent, "the witness after one burst of every kind", text)
    lab.wait_settled()
