#!/usr/bin/python3
"""sky_failover.py - `make bench`: the cross-cloud RTO of the sky pair behind cloud-like
load balancers, and how it splits between detection, promotion and the load balancer.

What and why. docs/clouds.md says what a failover from AWS to Azure costs a client that
reaches the pair through a load balancer probing healthd. That depends on the heartbeat
timings and on the load balancer's probe settings, so it is measured here with both as
documented: the sky lab (tests/lab/sky_lab.py: node1 in "aws", node2 in "azure", 30 ms
round trip between them over two emulated WAN links, the witness and the client 15 ms
from each node) with the WAN timings docs/clouds.md recommends (heartbeat every 200 ms,
peer lost after 2000 ms, replicd timeout 6000 ms), the whole mirror stack and the AWS
and Azure API stand-ins, and one HAProxy in the client namespace with two frontends,
each a backend with both nodes as servers, health-checked on healthd's /health/app:

- "Azure LB": a load balancer probe of 5 s, 2 probes (`inter 5s fall 2 rise 2`);
- "AWS NLB": 10 s, 3 (`inter 10s fall 3 rise 3`).

No `fastinter`/`downinter` (a cloud probe keeps its interval), no retry and no
redispatch (an L4 cloud balancer sends a connection to one target; connect timeout
300 ms). The client sends GET / through each frontend from 4 loops, each every 100 ms,
one connection per request (2 s timeout); HAProxy tells in a header which server
answered.

Each run waits a random 0-10 s (so the probes' phase varies), then power-cuts node1
(every process SIGKILLed, links down) and records, on the monotonic clock:
  - detection: power cut -> node2 leaves SECOND (its control socket, polled every 20 ms);
  - promotion: -> node2 serving per its status and the Azure stand-in's route pointing
    at node2 (its state file, polled every 20 ms);
  - LB: -> the first request served by node2 through that frontend (its answer); also
    when HAProxy marked node2 UP (stats socket, every 50 ms) and the last failed request
    (until HAProxy also marks the dead node1 DOWN, half the requests fail);
and the RTO (power cut -> first request served by node2) as a ratio to the sum of the
configured bounds: heartbeat timeout + the probe interval x its rise count. Then node1
comes back, is resynced as SECOND, `skyctl swap` hands the module back to it, and the
next run starts once both frontends see node1 UP and node2 DOWN again. Timings only:
nothing is asserted. Prints a table and writes build/bench/sky_failover.json.
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import say  # noqa: E402
import lab as lablib  # noqa: E402
from healthd_lab import HAPROXY, HEALTH_PORT  # noqa: E402
from sky_lab import APP_PORT, WAN_TIMEOUT_MS, SkyLab  # noqa: E402
from vipd_lab import AZURE_NODE_IPS  # noqa: E402

JSON_OUT = os.path.join(ROOT, "build", "bench", "sky_failover.json")
# (name, frontend port, inter s, fall, rise)
PROFILES = (("Azure LB", 8001, 5, 2, 2), ("AWS NLB", 8002, 10, 3, 3))
ROUTE = "rt-skyha/to-app"
POLL_S = 0.02
# Each frontend: CLIENT_THREADS loops, each a request every CLIENT_PERIOD_S (staggered):
# a request stuck on the dead node1 (HAProxy's 300 ms connect timeout, no retry) holds
# one loop, not the client.
CLIENT_PERIOD_S, CLIENT_THREADS, CLIENT_TIMEOUT_S = 0.1, 4, 2.0

# The client: argv = period threads timeout port...; one JSON line per request:
# [port, sent, status (0: no answer), served by, answered].
_CLIENT_CODE = r"""
import http.client, json, sys, threading, time
period, threads, timeout = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
ports = [int(p) for p in sys.argv[4:]]
lock = threading.Lock()
def loop(port, offset):
    time.sleep(offset)
    while True:
        t = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            out = [port, t, r.status, r.getheader("X-Served-By") or "", time.monotonic()]
            c.close()
        except Exception as e:
            out = [port, t, 0, repr(e)[:60], time.monotonic()]
        with lock:
            print(json.dumps(out), flush=True)
        time.sleep(max(0.0, period - (time.monotonic() - t)))
for port in ports:
    for i in range(threads):
        threading.Thread(target=loop, args=(port, i * period / threads)).start()
"""


class BenchError(Exception):
    pass


def backend(name):
    return name.lower().replace(" ", "_")


def haproxy_config(lab):
    out = [f"""global
    maxconn 512
    stats socket {stats_socket(lab)} mode 600 level admin
defaults
    mode http
    timeout connect 300ms
    timeout client 5s
    timeout server 5s
    timeout check 2s
    retries 0
"""]
    for name, port, inter, fall, rise in PROFILES:
        be = backend(name)
        out.append(f"""frontend {be}_front
    bind 127.0.0.1:{port}
    default_backend {be}
backend {be}
    balance roundrobin
    option httpchk GET /health/{lablib.MODULE}
    http-check expect status 200
    http-response set-header X-Served-By %[srv_name]
    default-server inter {inter}s fall {fall} rise {rise}
""")
        for node in lab.nodes:
            out.append(f"    server {node} {lab.addr(0, node)}:{APP_PORT} check port "
                       f"{HEALTH_PORT}\n")
    return "".join(out)


def stats_socket(lab):
    return os.path.join(lab.dir, "client", "haproxy-sky.sock")


def start_haproxy(lab):
    os.makedirs(os.path.join(lab.dir, "client"), exist_ok=True)
    path = os.path.join(lab.dir, "client", "haproxy-sky.cfg")
    with open(path, "w") as f:
        f.write(haproxy_config(lab))
    lablib.run([HAPROXY, "-c", "-q", "-f", path])
    proc = lab._spawn_daemon("client", "haproxy", [HAPROXY, "-db", "-f", path],
                             os.path.join(lab.dir, "client", "haproxy.log"))
    deadline = time.monotonic() + 10
    while not os.path.exists(stats_socket(lab)):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError("haproxy did not start: " + lab.tail(
                os.path.join(lab.dir, "client", "haproxy.log")))
        time.sleep(0.05)


def lb_servers(lab):
    """{backend: {server: "UP"/"DOWN"/...}} from HAProxy's stats socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    data = b""
    try:
        s.connect(stats_socket(lab))
        s.sendall(b"show stat\n")
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    lines = data.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    out = {backend(p[0]): {} for p in PROFILES}
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") in out and row.get("svname") in lab.nodes:
            out[row["pxname"]][row["svname"]] = (row.get("status") or "?").split()[0]
    return out


def start_client(lab, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), lablib.PYTHON, "-c", _CLIENT_CODE,
         str(CLIENT_PERIOD_S), str(CLIENT_THREADS), str(CLIENT_TIMEOUT_S)]
        + [str(p[1]) for p in PROFILES],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    log.close()
    lab.procs[("client", "sky-client")] = proc
    return proc


def client_requests(log_path):
    out = []
    with open(log_path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written
    return out


def route_to_node2(lab):
    try:
        cloud = lab.azure_cloud()
    except (OSError, ValueError):
        return False
    route = cloud.get("routes", {}).get(ROUTE, {})
    return route.get("nextHopIpAddress") == AZURE_NODE_IPS["node2"]


class Watch:
    """Polls node2's status, the Azure stand-in and HAProxy in the background and keeps
    the first time each thing of interest was seen."""

    def __init__(self, lab):
        self.lab = lab
        self.seen = {}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._skyha, daemon=True),
                        threading.Thread(target=self._lb, daemon=True)]
        for t in self.threads:
            t.start()

    def _mark(self, what, t):
        self.seen.setdefault(what, t)

    def _skyha(self):
        while not self.stop.is_set():
            st = self.lab.try_status("node2", timeout=1.0)
            t = time.monotonic()
            if st and st["node"]["role"] != "SECOND":
                self._mark("left_second", t)
            if st and st["node"]["serving"]:
                self._mark("serving", t)
            if "route" not in self.seen and route_to_node2(self.lab):
                self._mark("route", time.monotonic())
            if "serving" in self.seen and "route" in self.seen:
                return
            time.sleep(POLL_S)

    def _lb(self):
        while not self.stop.is_set():
            try:
                servers = lb_servers(self.lab)
            except OSError:
                servers = {}
            t = time.monotonic()
            for be, states in servers.items():
                if states.get("node2") == "UP":
                    self._mark(f"{be}_node2_up", t)
                if states.get("node1") == "DOWN":
                    self._mark(f"{be}_node1_down", t)
            if all(f"{backend(p[0])}_node2_up" in self.seen for p in PROFILES):
                return
            time.sleep(0.05)

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=5)


def wait_lb(lab, wanted, limit):
    deadline = time.monotonic() + limit
    while True:
        servers = lb_servers(lab)
        if all(servers.get(backend(p[0]), {}).get(n) == s for p in PROFILES
               for n, s in wanted.items()):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"HAProxy: {wanted} not seen within {limit} s: {servers}")
        time.sleep(0.2)


def one_run(lab, log_path, limit):
    """One power cut of node1; {profile: phases in s} and the skyha phases."""
    delay = random.uniform(0, max(p[2] for p in PROFILES))
    time.sleep(delay)
    watch = Watch(lab)
    cut = time.monotonic()
    lab.kill_node("node1")
    deadline = cut + limit
    try:
        while not all(f"{backend(p[0])}_node2_up" in watch.seen for p in PROFILES) or \
                "route" not in watch.seen or "serving" not in watch.seen:
            if time.monotonic() > deadline:
                raise BenchError(f"run not complete within {limit} s: seen {watch.seen}")
            time.sleep(0.1)
        # Every profile also needs node1 marked DOWN (the errors' end) and a request
        # served by node2: wait for the slowest fall.
        slowest = max(p[2] * p[3] for p in PROFILES) + 5
        time.sleep(0.5)
        end = time.monotonic() + slowest
        while time.monotonic() < end:
            states = lb_servers(lab)
            if all(states[backend(p[0])].get("node1") == "DOWN" for p in PROFILES):
                break
            time.sleep(0.2)
        time.sleep(1.0)  # requests in flight answered
    finally:
        watch.close()
    seen = watch.seen
    promoted = max(seen["serving"], seen["route"])
    reqs = [r for r in client_requests(log_path) if r[1] >= cut]
    out = {"delay_s": delay, "detection_s": seen["left_second"] - cut,
           "promotion_s": promoted - seen["left_second"],
           "serving_s": seen["serving"] - cut, "route_s": seen["route"] - cut,
           "profiles": {}}
    for name, port, inter, fall, rise in PROFILES:
        be = backend(name)
        mine = [r for r in reqs if r[0] == port]
        served = [r[4] for r in mine if r[2] == 200 and r[3] == "node2"]
        if not served:
            raise BenchError(f"{name}: no request served by node2 after the power cut")
        first = min(served)
        failed = [r[4] for r in mine if r[2] != 200]
        out["profiles"][name] = {
            "rto_s": first - cut,
            "lb_s": first - promoted,
            "marked_up_s": seen[f"{be}_node2_up"] - cut,
            "last_error_s": (max(failed) - cut) if failed else 0.0,
            "failed": len(failed), "requests": len(mine),
            "bound_s": WAN_TIMEOUT_MS / 1000 + inter * rise,
        }
        out["profiles"][name]["rto_over_bound"] = \
            out["profiles"][name]["rto_s"] / out["profiles"][name]["bound_s"]
    return out


def swap_ready(st):
    """The primary sees its peer SECOND, up to date, at the same epoch."""
    peer = st["peer"]
    return peer["role"] == "SECOND" and peer.get("data") == "uptodate" and \
        peer.get("epoch") == st["node"].get("epoch")


def restore(lab):
    """node1 back as SECOND, resynced, then the failback: node1 PRIM and both load
    balancers on node1 again."""
    lab.restart_node("node1")
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 120)
    lab.wait_in_sync("node1", timeout=120)
    # docs/operations.md, "Swap and upgrade": a swap right after a resync can be
    # refused until the primary sees the peer SECOND uptodate at its epoch.
    lab.wait_for("node2", swap_ready, "node1 SECOND uptodate as seen by node2", 60)
    res = lab.skyctl("node2", "--timeout", "60", "swap", timeout=70)
    if res.rc != 0:
        raise BenchError(f"skyctl swap: rc {res.rc}: {res.out} {res.err}")
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, 120)
    lab.wait_for("node1", lambda st: st["node"]["serving"], "node1 serving", 120)
    lab.wait_in_sync("node2", timeout=120)
    wait_lb(lab, {"node1": "UP", "node2": "DOWN"}, 180)


def med_max(values):
    return f"{statistics.median(values):6.2f} {max(values):6.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="power cuts (3)")
    ap.add_argument("--rtt", type=float, default=30, help="ms between the nodes (30)")
    ap.add_argument("--seed", type=int, default=15, help="for the delays before the cuts")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("sky_failover.py: needs root (network namespaces, FUSE)", file=sys.stderr)
        return 1
    for path in (os.path.join(lablib.BUILD, "heartbeatd"), HAPROXY):
        if not os.access(path, os.X_OK):
            print(f"sky_failover.py: {path} is missing: run `make` (and make deps)",
                  file=sys.stderr)
            return 1
    random.seed(args.seed)
    lablib.cleanup_stale()
    runs = []
    lab = SkyLab(rtt_ms=args.rtt)
    limit = WAN_TIMEOUT_MS / 1000 + 60 + max(p[2] * p[3] for p in PROFILES)
    try:
        lab.setup()
        rtt = lab.rtt("node1", "node2", count=10, interval=0.02)
        say(f"sky lab up: node1 <-> node2 {rtt['avg']:.1f} ms")
        lab.start_cluster(60)
        lab.wait_in_sync("node2", timeout=60)
        lab.wait_for("node1", lambda st: st["node"]["serving"], "node1 serving", 60)
        lab.wait_app("node1", 30)
        start_haproxy(lab)
        log_path = os.path.join(lab.dir, "client", "sky-client.log")
        start_client(lab, log_path)
        wait_lb(lab, {"node1": "UP", "node2": "DOWN"}, 120)
        for i in range(args.runs):
            if i:
                say("restoring node1 (resync, swap back, load balancers on node1)")
                restore(lab)
            say(f"run {i + 1}/{args.runs}: power cut of node1")
            r = one_run(lab, log_path, limit)
            runs.append(r)
            say("  detection {:.2f} s, promotion {:.2f} s; ".format(
                r["detection_s"], r["promotion_s"]) + "; ".join(
                f"{n}: RTO {p['rto_s']:.2f} s ({p['rto_over_bound']:.2f} x bound)"
                for n, p in r["profiles"].items()))
    except Exception:
        lab.dump_logs()
        raise
    finally:
        lab.close()

    print()
    print(f"sky pair, {args.rtt:g} ms RTT, heartbeat timeout {WAN_TIMEOUT_MS} ms, "
          f"{len(runs)} power cuts of node1 (aws); seconds, median and max")
    print(f"{'':34} {'median':>6} {'max':>6}")
    print(f"{'detection (cut -> node2 not SECOND)':34} "
          f"{med_max([r['detection_s'] for r in runs])}")
    print(f"{'promotion (-> serving, route moved)':34} "
          f"{med_max([r['promotion_s'] for r in runs])}")
    for name, _port, inter, fall, rise in PROFILES:
        ps = [r["profiles"][name] for r in runs]
        bound = ps[0]["bound_s"]
        print(f"{name} (inter {inter}s fall {fall} rise {rise}), bound "
              f"{WAN_TIMEOUT_MS / 1000:g} + {inter} x {rise} = {bound:g} s:")
        print(f"{'  LB (promoted -> first served)':34} {med_max([p['lb_s'] for p in ps])}")
        print(f"{'  HAProxy marks node2 UP':34} "
              f"{med_max([p['marked_up_s'] for p in ps])}")
        print(f"{'  RTO (cut -> first served)':34} {med_max([p['rto_s'] for p in ps])}")
        print(f"{'  RTO / bound':34} {med_max([p['rto_over_bound'] for p in ps])}")
        print(f"{'  last failed request':34} {med_max([p['last_error_s'] for p in ps])}")
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        json.dump({"rtt_ms": args.rtt, "heartbeat_timeout_ms": WAN_TIMEOUT_MS,
                   "profiles": [list(p) for p in PROFILES], "runs": runs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
