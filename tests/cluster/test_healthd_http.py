"""Cluster tests: what healthd answers, as a load balancer, an operator and an attacker
see it from the client namespace.

/health/app (and SafeKit's /var/modules/app/ready.txt) is 200 OK on the node that serves
and 503 NOK on the other; it turns NOK at once when the node's heartbeatd dies (before
the peer can take over), and follows the roles when heartbeatd comes back. Answers come
from memory (bench/healthd.py measures how fast); a silent bus turns them NOK. /status
and /metrics show both nodes' roles. Hostile requests get 404/405/431, never a file,
and one client cannot take every connection.
The web console, loaded in headless Chromium, shows both nodes and their roles.
"""

import json
import os
import signal
import subprocess
import tempfile
import time

from healthd_lab import CHROMIUM, HEALTH_PORT, healthd_lab
from lab import MODULE, address, describe, run

@healthd_lab()
def test_health_is_ok_on_the_primary_only(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    for node, code, body in (("node1", 200, "OK\n"), ("node2", 503, "NOK\n")):
        assert lab.health(node) == (code, body), (node, lab.health(node))
        assert lab.health(node, f"/var/modules/{MODULE}/ready.txt") == (code, body)
        res = lab.http_get("client", address(0, node), HEALTH_PORT, f"/health/{MODULE}",
                           method="HEAD")
        assert res["status"] == code and res["body"] == "", res
        assert res["headers"]["cache-control"] == "no-store", res
    res = lab.http_get("client", address(0, "node2"), HEALTH_PORT, f"/health/{MODULE}")
    assert res["headers"]["x-skyha-reason"] == "not serving", res
    assert lab.health("node1", "/health/nosuchmodule") == (404, "NOK\n")


@healthd_lab()
def test_health_answers_from_memory_and_a_silent_bus_never_says_ok(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    # Latency is printed for the reader; the bench (bench/healthd.py, wrk) measures
    # it: a timed assertion here would fail on a busy machine, not on a bug.
    res = lab.latency("client", address(0, "node1"), f"/health/{MODULE}", 300)
    ms = res["ms"]
    print(f"    /health latency over keep-alive from the client: median "
          f"{ms[len(ms) // 2]:.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms")
    assert res["codes"] == [200], res["codes"]
    # heartbeatd frozen: the bus connection stays up but nothing is published. The
    # state healthd holds goes stale and /health must turn NOK, never stay OK.
    hb = lab.procs[("node1", "heartbeatd")]
    os.kill(hb.pid, signal.SIGSTOP)
    try:
        lab.wait_health("node1", 503, 10)
        body = lab.healthd_status("node1")["modules"][MODULE]
        assert body["reason"] == "stale status" and body["connected"] is True, body
    finally:
        os.kill(hb.pid, signal.SIGCONT)


@healthd_lab()
def test_health_is_nok_at_once_when_heartbeatd_dies(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    killed = time.monotonic()
    lab.kill_daemon("node1", "heartbeatd")
    nok_at = lab.wait_health("node1", 503, 5)
    ok2_at = lab.wait_health("node2", 200, 10)
    print(f"    node1 NOK {nok_at - killed:.2f} s after its heartbeatd was killed; "
          f"node2 OK after {ok2_at - killed:.2f} s")
    # NOK because the bus connection dropped (not after the staleness period),
    # and before the peer starts serving: never two OKs.
    assert nok_at < ok2_at
    body = lab.healthd_status("node1")["modules"][MODULE]
    assert body["health"] == "NOK" and body["connected"] is False, body
    assert body["reason"] == "heartbeatd not connected", body
    assert body["status"]["node"]["role"] == "PRIM"  # the last one it heard, shown
    # heartbeatd back: node1 follows as SECOND (NOK), node2 stays OK.
    lab.start_node("node1")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 10)
    lab.wait_for("node1", lambda st: st["peer"]["role"] == "PRIM", "peer seen", 5)
    time.sleep(1.2)  # one publication period
    assert lab.health("node1")[0] == 503 and lab.health("node2")[0] == 200


@healthd_lab()
def test_status_and_metrics_show_both_nodes(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    time.sleep(1.1)  # a publication with the peer's role seen on both sides
    st = lab.healthd_status("node2")
    mod = st["modules"][MODULE]
    assert mod["health"] == "NOK" and mod["reason"] == "not serving", mod
    assert mod["status"]["node"]["role"] == "SECOND", describe(mod["status"])
    assert mod["status"]["peer"]["role"] == "PRIM", describe(mod["status"])
    assert mod["status"]["peer"]["networks"], mod["status"]["peer"]
    assert mod["transitions"] and mod["transitions"][0]["to"] == "SECOND", mod
    res = lab.http_get("client", address(0, "node1"), HEALTH_PORT, "/metrics")
    assert res["status"] == 200, res
    assert res["headers"]["content-type"].startswith("text/plain; version=0.0.4")
    text = res["body"]
    for line in ('skyha_module_healthy{module="app"} 1',
                 'skyha_role{module="app",node="node1",peer="false",role="PRIM"} 1',
                 'skyha_role{module="app",node="node2",peer="true",role="SECOND"} 1',
                 'skyha_heartbeat_network_up{module="app",network="0"} 1',
                 'skyha_witness_lease_held{module="app"} 1'):
        assert line + "\n" in text, f"{line!r} not in /metrics:\n{text[:3000]}"


def _raw(lab, request, member="client", node="node1"):
    return lab.http_raw(member, address(0, node), HEALTH_PORT, request)


@healthd_lab()
def test_hostile_requests_are_refused(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    for path in ("/health/../../etc/passwd", "/health/..", "/health/%2e%2e",
                 "/var/modules/..%2f..%2fetc/ready.txt", "/etc/passwd", "/health/app/",
                 "/health/" + "a" * 40, "/../../../../etc/shadow"):
        res = _raw(lab, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   .encode())
        assert res.get("status") == 404, (path, res)
        assert "root:" not in res["body"]
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "TRACE"):
        res = lab.http_get("client", address(0, "node1"), HEALTH_PORT,
                           f"/health/{MODULE}", method=method)
        assert res["status"] == 405 and res["headers"]["allow"] == "GET, HEAD", res
    # A body is never read; the answer is still a refusal.
    res = _raw(lab, b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
               b"Connection: close\r\n\r\n" + b"x" * 1000)
    assert res.get("status") == 405, res
    # Headers and URLs beyond the connection's memory limit.
    res = _raw(lab, b"GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
               b"\r\n\r\n")
    assert res.get("status") in (413, 431) or "error" in res, res
    res = _raw(lab, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert res.get("status") in (414, 431) or "error" in res, res
    # Not HTTP/1.x, or not well-formed (no Host, a header without a colon).
    for request, codes in ((b"GARBAGE\r\n\r\n", (400, None)),
                           (b"GET /status HTTP/9.9\r\nHost: x\r\n\r\n", (505,)),
                           (b"GET /status HTTP/1.1\r\n\r\n", (400,)),
                           (b"GET /status HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", (400,))):
        res = _raw(lab, request)
        assert res.get("status") in codes, (request, res)
    # healthd is still there and right.
    assert lab.health("node1") == (200, "OK\n")


_HOG_CODE = r"""
import socket, sys, time
host, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks = []
for _ in range(n):
    s = socket.create_connection((host, port), timeout=2)
    s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")  # never finished
    socks.append(s)
time.sleep(0.3)
# One more from the same address: over the per-address limit (32), closed without
# an answer.
extra = socket.create_connection((host, port), timeout=2)
extra.sendall(b"GET /health/app HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
try:
    refused = extra.recv(100) == b""
except OSError:
    refused = True
print("refused" if refused else "answered", flush=True)
# The idle ones are closed by the server after its timeout.
deadline = time.monotonic() + hold
closed = 0
for s in socks:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        if s.recv(100) == b"":
            closed += 1
    except OSError:
        closed += 1 if not isinstance(sys.exc_info()[1], socket.timeout) else 0
print(closed, flush=True)
"""


@healthd_lab()
def test_one_client_cannot_take_every_connection(lab):
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    proc = subprocess.Popen(["ip", "netns", "exec", lab.ns("client"), "/usr/bin/python3",
                             "-c", _HOG_CODE, address(0, "node1"), str(HEALTH_PORT),
                             "32", "14"], stdout=subprocess.PIPE, text=True)
    lab.procs[("client", "hog")] = proc
    first = proc.stdout.readline().strip()
    # While the client holds its 32 connections, another address is still served.
    res = lab.http_get("node2", address(0, "node1"), HEALTH_PORT, f"/health/{MODULE}")
    assert res.get("status") == 200, res
    out, _ = proc.communicate(timeout=30)
    assert first == "refused", f"the 33rd connection from one address was {first}"
    closed = int(out.strip().splitlines()[-1])
    assert closed == 32, f"only {closed} of 32 unfinished requests closed by the server"
    assert lab.health("node1") == (200, "OK\n")


@healthd_lab()
def test_console_shows_both_nodes_and_roles_in_chromium(lab):
    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError(f"{CHROMIUM} is missing: apt-get install chromium")
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    time.sleep(1.1)
    profile = tempfile.mkdtemp(prefix="skyha-chromium-", dir=lab.dir)
    res = run(["ip", "netns", "exec", lab.ns("client"), CHROMIUM, "--headless",
               "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom",
               f"http://{address(0, 'node1')}:{HEALTH_PORT}/"], timeout=90)
    dom = res.stdout
    for text in ("module app", "node1", "node2", "PRIM", "SECOND", "this node", "peer",
                 "recent transitions", "OK (serving)"):
        assert text in dom, f"{text!r} not in the rendered console:\n{dom[:4000]}"
    assert "loading /status" not in dom, "the script did not run"
