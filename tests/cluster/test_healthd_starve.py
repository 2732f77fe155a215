"""Cluster tests: healthd cannot be starved, and answers the first probe after a start.

Attackers in the client namespace (198.18.0.101 and up, as many hosts) hold hundreds of
connections to the primary's healthd, half of them sending a request head one byte a
second (slowloris), half sending nothing, reopening each one the server closes. HAProxy,
in the same namespace from its own address, checks /health/app through healthd every
200 ms (check timeout 500 ms, fall 2) while a client sends requests through HAProxy: the
primary must stay UP and every request must succeed. healthd's /metrics shows what it
did: connections refused per address, evicted to make room, closed at the header
deadline. A kept-alive connection may stay silent between requests (the idle timeout
applies), but a request head, once begun, is due within the header deadline.

healthd started by socket activation (systemd-socket-activate passes the listening
socket as systemd does, LISTEN_FDS/LISTEN_FDNAMES=http) answers the request that
started it with the module's real health, not "no status from heartbeatd yet".
"""

import json
import threading
import time

from healthd_lab import HEALTH_PORT, healthd_lab
from lab import MODULE, PYTHON, address, run

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


# argv = host port idle_s trickle_s: one kept-alive connection; a request, idle_s of
# silence, a request, then a third request head one byte a second for at most trickle_s.
# Prints {"first", "second": status lines, "closed": bool, "sent", "total"}.
_KEEPALIVE_CODE = r"""
import json, socket, sys, time
host, port, idle, trickle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection((host, port), timeout=3)
def ask():
    s.sendall(b"GET /health/app HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n")[0].decode()
out = {"first": ask()}
time.sleep(idle)
out["second"] = ask()
head = b"GET /health/app HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
sent, closed, end = 0, False, time.monotonic() + trickle
s.settimeout(1.0)
while sent < len(head) and time.monotonic() < end:
    try:
        s.send(head[sent:sent + 1])
        sent += 1
        if s.recv(4096) == b"":
            closed = True
            break
    except socket.timeout:
        pass
    except OSError:
        closed = True
        break
out.update(closed=closed, sent=sent, total=len(head))
print(json.dumps(out))
"""


@healthd_lab()
def test_a_kept_alive_connection_may_idle_but_its_next_head_is_due_in_time(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    # Idle 6 s between requests: longer than the 5 s header deadline, shorter than the
    # 10 s idle timeout. The deadline runs from a request's first byte, not from the
    # previous answer, so the second request is answered; the third, sent one byte a
    # second, is closed.
    res = run(["ip", "netns", "exec", lab.ns("client"), PYTHON, "-c", _KEEPALIVE_CODE,
               address(0, "node1"), str(HEALTH_PORT), "6", "20"], timeout=60)
    out = json.loads(res.stdout)
    assert out["first"] == "HTTP/1.1 200 OK" and out["second"] == "HTTP/1.1 200 OK", out
    assert out["closed"] and out["sent"] < out["total"], out


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
