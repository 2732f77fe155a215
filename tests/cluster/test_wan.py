"""Cluster tests: the lab's WAN (tools/wanem, tests/lab/wan.py) and the sky pair across it
(tests/lab/sky_lab.py).

wanem first, between two hosts that are also joined directly (WanPairLab): the delay it
is given is the delay a round trip sees (never less, and within a generous band above:
the machine is shared, so no bound tighter than ~50 %), it changes at run time and can
cut the link; its loss is about the share asked for over thousands of frames, and every
lost frame is one it counted; jitter alone never reorders, reordering does when asked.

Then the sky pair: node1 in "aws", node2 in "azure", 30 ms round trip between them over
two WAN links, the witness in a third place, the whole mirror stack with the WAN timings
docs/clouds.md recommends. The pair comes up PRIM + SECOND in sync, the AWS stand-in
sees node1's vipd point the route at node1, fsynced records are replicated, and a power
cut of node1 moves the module to node2: same bytes served, and the Azure stand-in sees
node2's vipd move the ipConfiguration and the route to node2.
"""

import hashlib
import statistics
import time

from lab import lab_options
from sky_lab import WAN_TIMEOUT_MS, SkyLab
from vipd_lab import AZURE_NODE_IPS
from wan import WanPairLab

LEDGER = "ledger.txt"


def _answered(rtts):
    return [r for r in rtts if r is not None]


@lab_options(lab_class=WanPairLab)
def test_wanem_applies_the_configured_delay_and_changes_it_at_run_time(lab):
    wanem = lab.start_wanem(delay_ms=15)
    lab.ping(3, interval=0.01)  # ARP resolved
    rtts = _answered(lab.ping(40, interval=0.01)["wanem"])
    assert len(rtts) == 40, f"echoes lost on a link without loss: {len(rtts)} of 40"
    # 15 ms each way: a round trip never takes less than 30 ms...
    assert min(rtts) >= 29.9, f"a frame left wanem early: min RTT {min(rtts):.3f} ms"
    # ...and not much more (the machine is shared: a generous band)
    assert statistics.median(rtts) <= 45, f"median RTT {statistics.median(rtts):.3f} ms"
    direct = _answered(lab.ping(20, interval=0.01, via_wanem=False, direct=True)["direct"])
    assert statistics.median(direct) < 10, "the direct path is slow: the lab is broken"

    wanem.set(delay_ms=5)
    rtts = _answered(lab.ping(40, interval=0.01)["wanem"])
    assert len(rtts) == 40 and min(rtts) >= 9.9 and statistics.median(rtts) <= 15, \
        f"after set(delay_ms=5): {len(rtts)} echoes, min {min(rtts):.3f} ms, median " \
        f"{statistics.median(rtts):.3f} ms"

    wanem.set(loss_pct=100)  # the WAN cut
    assert _answered(lab.ping(10, interval=0.01, timeout=0.3)["wanem"]) == []
    wanem.set()  # back to the start options: 15 ms
    rtts = _answered(lab.ping(20, interval=0.01)["wanem"])
    assert len(rtts) == 20 and min(rtts) >= 29.9, rtts
    counters = wanem.counters()
    assert counters["wan-x>wan-y"]["lost"] >= 10, counters


@lab_options(lab_class=WanPairLab)
def test_wanem_loses_the_configured_share_and_keeps_order_unless_asked(lab):
    wanem = lab.start_wanem(delay_ms=2, loss_pct=10, seed=7)
    sent = 5000
    before = wanem.counters()["wan-x>wan-y"]
    received, in_order = lab.burst("loss", sent, gap_s=0.0002)
    after = wanem.counters()["wan-x>wan-y"]
    lost = sent - received
    assert 0.07 * sent <= lost <= 0.13 * sent, f"{lost} of {sent} lost, asked 10 %"
    assert in_order == received, "frames were reordered on a link without reordering"
    # Every datagram missing is one wanem says it dropped on purpose (the end markers
    # and ARP crossing the link too, hence the small slack).
    counted = after["lost"] - before["lost"]
    assert lost <= counted <= lost + 20, (lost, counted, after)
    assert after["queue_full"] == after["send_errors"] == after["oversize"] == 0, after

    wanem.set(delay_ms=5, jitter_ms=4, loss_pct=0)  # set() is on top of the start options
    received, in_order = lab.burst("jitter", 2000, gap_s=0.0002)
    assert received == 2000 and in_order == 2000, \
        f"jitter without reordering: {received} received, {in_order} in order"
    wanem.set(delay_ms=5, loss_pct=0, reorder_pct=20)
    received, in_order = lab.burst("reorder", 2000, gap_s=0.0002)
    assert received == 2000 and in_order < 2000, \
        f"reorder 20 %: {received} received, {in_order} in order"
    assert wanem.counters()["wan-x>wan-y"]["reordered"] > 0


def _ledger_digest(lab, node):
    served = lab.fetch(node, LEDGER, timeout=5.0)
    return None if served is None else hashlib.sha256(served).hexdigest()


@lab_options(lab_class=SkyLab, rtt_ms=30)
def test_sky_pair_fails_over_from_aws_to_azure_across_the_wan(lab):
    rtt = lab.rtt("node1", "node2", count=10, interval=0.02)
    assert 29.9 <= rtt["min"] and rtt["avg"] <= 60, f"node1 <-> node2 over the WAN: {rtt}"
    lab.start_cluster(60)
    lab.wait_app("node1", 30)
    lab.wait_replicd("node2", "secondary", timeout=30)
    lab.wait_replicd("node1", "primary", connected=True, timeout=30)
    lab.wait_in_sync("node2", timeout=30)
    lab.wait_health("node1", 200, 20)
    # node1's vipd pointed the AWS route at node1's ENI (the only node in AWS).
    lab.wait_for("node1", lambda st: st["node"]["serving"], "serving", 30)
    routes = [e for e in lab.aws_requests("node1", action="ReplaceRoute")
              if e.get("status") == 200 and e.get("signature_ok")]
    assert routes and routes[-1]["params"]["NetworkInterfaceId"] == "eni-0node1", routes

    digest = lab.write_ledger("node1", LEDGER, 40)  # each record fsynced across the WAN
    assert _ledger_digest(lab, "node1") == digest, "node1 serves other bytes"

    killed = time.monotonic()
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", WAN_TIMEOUT_MS / 1000 + 30)
    lab.wait_for("node2", lambda st: st["node"]["serving"], "serving", 60)
    lab.wait_app("node2", 30)
    took = time.monotonic() - killed
    assert _ledger_digest(lab, "node2") == digest, "node2 serves other bytes than acknowledged"
    # The Azure stand-in saw node2 take the ipConfiguration and point the route at it.
    cloud = lab.azure_cloud()
    route = cloud.get("routes", {}).get("rt-skyha/to-app", {})
    assert route.get("nextHopIpAddress") == AZURE_NODE_IPS["node2"], cloud.get("routes")
    names = [ic["name"] for ic in cloud["nics"]["nic-node2"]["properties"]["ipConfigurations"]]
    assert "skyha-vip" in names, names
    puts = [r for r in lab.azure_requests("node2") if r.get("method") == "PUT"]
    assert puts, lab.azure_requests("node2")
    lab.wait_health("node2", 200, 20)
    print(f"    (power cut of node1 -> node2 serving its application: {took:.1f} s)")
