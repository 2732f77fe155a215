"""Cluster tests: healthd cannot be starved, and answers the first probe after a start.

Attackers in the client namespace (198.18.0.101 and up, as many hosts) hold hundreds of
connections to the primary's healthd, half of them sending a request head one byte a
second (slowloris), half sending nothing, reopening each one the server closes. HAProxy,
in the same namespace from its own address, checks /health/app through healthd every
200 ms (check timeout 500 ms, fall 2) while a client sends requests through HAProxy: the
primary must stay UP and every request must succeed. healthd's /metrics shows what it
did: connections refused per address, evicted to make room, closed at the header
deadline.

healthd started by socket activation (systemd-socket-activate passes the listening
socket as systemd does, LISTEN_FDS/LISTEN_FDNAMES=http) answers the request that
started it with the module's real health, not "no status from heartbeatd yet".
"""

import threading
import time

from healthd_lab import HEALTH_PORT, healthd_lab
from lab import MODULE, address

ATTACK_SOURCES = 12     # x 40 = 480 connections: more than healthd's 256 in all
ATTACK_PER_SOURCE = 40  # more than the 32 one address may hold
ATTACK_S = 16.0
LOAD_S = 10.0


@healthd_lab()
def test_haproxy_keeps_the_primary_up_while_attackers_hold_connections(lab):
    lab.start_cluster()
    lab.start_haproxy()
    lab.wait_haproxy({"node1": "UP", "node2": "DOWN"})
    sources = lab.add_client_addresses(ATTACK_SOURCES)
    attack = lab.start_attack("node1", sources, ATTACK_PER_SOURCE, ATTACK_S)
    time.sleep(3.0)  # every connection the attackers can get is open by now

    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(lab.haproxy_servers().get("node1"))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = lab.start_load(LOAD_S, period=0.05).results()
    finally:
        stop.set()
        watcher.join()
    metrics = lab.metrics("node1")
    stats = attack.results()
    print(f"    attack: {stats}; haproxy saw node1 {sorted(set(seen))}; "
          f"{len(results)} requests through haproxy")

    # The attack was real: it held as many connections as healthd allows.
    assert stats["most_open"] >= 250, stats
    assert stats["completed_heads"] == 0, stats
    # HAProxy never marked the healthy primary down, and no request failed.
    assert seen and all(s == "UP" for s in seen), \
        f"haproxy saw node1 {[s for s in seen if s != 'UP'][:5]} ({len(seen)} samples)"
    failed = [r for r in results if r[1] != 200 or r[2] != "node1"]
    assert len(results) >= 100 and not failed, \
        f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    # What healthd did about it, as /metrics shows (reopened connections evict each
    # other long before any reaches the header deadline: the slowloris test below).
    refused = metrics['skyha_healthd_connections_refused_total{reason="per_address"}']
    evicted = metrics['skyha_healthd_connections_closed_total{reason="evicted"}']
    assert refused > 0 and evicted > 0, (refused, evicted)
    assert metrics["skyha_healthd_connections"] <= 256, metrics


@healthd_lab()
def test_a_request_head_sent_one_byte_a_second_is_closed(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    # The head is 240 bytes: at one byte a second it would take 4 minutes. The idle
    # timeout never fires (a byte arrives every second); the header deadline must.
    res = lab.slowloris("node1", 20)
    assert res["closed"] and res["sent"] < res["total"], res
    assert res["answer"] == "", res
    metrics = lab.metrics("node1")
    assert metrics['skyha_healthd_connections_closed_total{reason="header_timeout"}'] \
        >= 1, metrics
    assert lab.health("node1") == (200, "OK\n")


@healthd_lab()
def test_first_request_after_socket_activation_gets_the_real_answer(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    port = HEALTH_PORT + 1
    for node, code, reason in (("node1", 200, "serving"), ("node2", 503, "not serving")):
        lab.start_healthd_activated(node, port)
        # The very first request starts healthd and must get the module's health.
        res = lab.http_get("client", address(0, node), port, f"/health/{MODULE}")
        assert res.get("status") == code, (node, res)
        assert res["headers"].get("x-skyha-reason") == reason, (node, res)
