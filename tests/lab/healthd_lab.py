#!/usr/bin/python3
"""healthd_lab.py - the namespace lab (lab.py) with what healthd's tests need.

HealthdLab is a Lab whose nodes also run build/healthd (default flags: every address,
port 9010, modules found in the node's run directory) and a stand-in application: a
tiny HTTP server on port 8080 that answers with the node's name, so a client can see
which node its request reached (until checkd exists there is no real application).
Both are keyed (node, "healthd") and (node, "app") in self.procs, so kill_node() kills
them with the node and close() cleans them up. start_node() starts whichever of the
three is not running, so restart_node() brings the whole node back.

HAProxy (Debian package) runs in the client namespace as the load balancer: frontend on
the client's 127.0.0.1:8000, backend "application" = both nodes' port 8080, health
checked with `option httpchk GET /health/app` against port 9010 of each node. The
client namespace also runs the HTTP requests (http_get, Load): everything crosses the
lab bridge as it would cross a network. Attackers run there too (add_client_addresses
gives the client more addresses, 198.18.0.101 and up, as many hosts; start_attack holds
hundreds of connections from them, half slowloris; slowloris sends one request head one
byte a second), and start_healthd_activated starts healthd the way a .socket unit does,
through systemd-socket-activate. Standard library only (plus lab.py).

Use it in a cluster test with the @healthd_lab(...) decorator: @lab_options with
lab_class=HealthdLab, which tests/cluster/run.py builds instead of a plain Lab.
"""

import json
import os
import socket
import subprocess
import time

from lab import (BUILD, MODULE, PYTHON, Lab, LabError, lab_options,
                 run)

HEALTHD = os.path.join(BUILD, "healthd")
HEALTH_PORT = 9010
APP_PORT = 8080
LB_PORT = 8000
HAPROXY = "/usr/sbin/haproxy"
CHROMIUM = "/usr/bin/chromium"
SOCKET_ACTIVATE = "/usr/bin/systemd-socket-activate"


def healthd_lab(**options):
    """Decorator for a cluster test that wants a HealthdLab (Lab options as lab_options)."""
    return lab_options(lab_class=HealthdLab, **options)


# The stand-in application: answers every GET with the node's name.
_APP_CODE = r"""
import http.server, sys
name = sys.argv[1].encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), H).serve_forever()
"""

# One HTTP request from inside a namespace, raw bytes in, JSON out:
# argv = host port request_hex timeout. Prints {"status", "headers", "body", "ms"}
# or {"error"}. Raw so tests can send what no well-behaved client would.
_REQUEST_CODE = r"""
import json, socket, sys, time
host, port, req, timeout = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3]), float(sys.argv[4])
t0 = time.monotonic()
try:
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(req)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            hdrs = {}
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                hdrs[k.strip().lower().decode()] = v.strip().decode()
            n = int(hdrs.get("content-length", "-1"))
            if req.startswith(b"HEAD ") and n >= 0:
                break
            if n >= 0 and len(rest) >= n:
                break
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        print(json.dumps({"error": "connection closed without an answer"}))
        sys.exit(0)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode()
    print(json.dumps({"status": status, "headers": hdrs,
                      "body": body.decode(errors="replace"),
                      "ms": (time.monotonic() - t0) * 1000}))
except OSError as e:
    print(json.dumps({"error": repr(e)}))
"""

# The load: GET / through HAProxy every `period` for `duration` seconds, each with a
# client timeout; one JSON line per request: [monotonic start, status or 0, body or
# error, monotonic end].
_LOAD_CODE = r"""
import http.client, json, sys, time
port, duration, period = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
timeout = float(sys.argv[4])
end = time.monotonic() + duration
while time.monotonic() < end:
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", "/")
        r = c.getresponse()
        out = [t, r.status, r.read().decode(errors="replace")[:40], time.monotonic()]
        c.close()
    except Exception as e:
        out = [t, 0, repr(e)[:80], time.monotonic()]
    print(json.dumps(out), flush=True)
    time.sleep(max(0.0, period - (time.monotonic() - t)))
"""

# Keep-alive latency of one path: argv = host port path count; prints sorted ms list.
_LATENCY_CODE = r"""
import http.client, json, sys, time
host, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = http.client.HTTPConnection(host, port, timeout=2)
times, codes = [], set()
for _ in range(count):
    t = time.monotonic()
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    times.append((time.monotonic() - t) * 1000)
    codes.add(r.status)
print(json.dumps({"ms": sorted(times), "codes": sorted(codes)}))
"""


# The attackers: argv = host port duration per_source source... . From each source
# address, hold per_source connections to host:port: the even ones trickle a request
# head one byte a second (slowloris), the odd ones send nothing; a connection the
# server closes is reopened 50 ms later. Prints one JSON object at the end: opened,
# closed_by_server, most_open (simultaneously), completed_heads (should stay 0).
_ATTACK_CODE = r"""
import errno, json, selectors, socket, sys, time
host, port, duration, per = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
sources = sys.argv[5:]
HEAD = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 4000 + b"\r\n\r\n"
sel = selectors.DefaultSelector()
conns = {}   # socket -> [source, trickle, bytes sent, next send, connected]
pending = [(time.monotonic(), src, i % 2 == 0) for src in sources for i in range(per)]
stats = {"opened": 0, "closed_by_server": 0, "most_open": 0, "completed_heads": 0}
end = time.monotonic() + duration
def open_one(src, trickle):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((src, 0))
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    conns[s] = [src, trickle, 0, time.monotonic(), False]
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    stats["opened"] += 1
def drop(s, by_server):
    src, trickle = conns[s][0], conns[s][1]
    sel.unregister(s)
    s.close()
    del conns[s]
    if by_server:
        stats["closed_by_server"] += 1
    pending.append((time.monotonic() + 0.05, src, trickle))
while time.monotonic() < end:
    now = time.monotonic()
    due = [p for p in pending if p[0] <= now]
    pending[:] = [p for p in pending if p[0] > now]
    for _, src, trickle in due:
        try:
            open_one(src, trickle)
        except OSError:
            pending.append((now + 0.05, src, trickle))
    open_now = sum(1 for c in conns.values() if c[4])
    stats["most_open"] = max(stats["most_open"], open_now)
    for key, ev in sel.select(timeout=0.05):
        s, c = key.fileobj, conns.get(key.fileobj)
        if c is None:
            continue
        if ev & selectors.EVENT_WRITE and not c[4]:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                drop(s, False)
                continue
            c[4] = True
            sel.modify(s, selectors.EVENT_READ)
        if ev & selectors.EVENT_READ:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                drop(s, True)
                continue
    now = time.monotonic()
    for s, c in list(conns.items()):
        if c[4] and c[1] and now >= c[3] and c[2] < len(HEAD):
            try:
                s.send(HEAD[c[2]:c[2] + 1])
                c[2] += 1
                c[3] = now + 1.0
                if c[2] == len(HEAD):
                    stats["completed_heads"] += 1
            except OSError:
                drop(s, True)
for s in list(conns):
    s.close()
print(json.dumps(stats), flush=True)
"""

# One slowloris request: argv = host port seconds. Sends a request head one byte a
# second for at most `seconds`; prints {"closed": bool, "sent", "answer", "total"}.
_SLOWLORIS_CODE = r"""
import json, socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
head = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
s = socket.create_connection((host, port), timeout=2)
end = time.monotonic() + seconds
sent, closed, answer = 0, False, b""
while sent < len(head) and time.monotonic() < end:
    try:
        s.send(head[sent:sent + 1])
        sent += 1
    except OSError:
        closed = True
        break
    s.settimeout(1.0)
    try:
        data = s.recv(4096)
        if not data:
            closed = True
            break
        answer += data
    except socket.timeout:
        pass
    except OSError:
        closed = True
        break
print(json.dumps({"closed": closed, "sent": sent, "total": len(head),
                  "answer": answer.decode(errors="replace")[:80]}))
"""


class HealthdLab(Lab):
    """A Lab whose nodes also run healthd and a stand-in application; HAProxy on demand."""

    def healthd_log_path(self, member):
        return os.path.join(self.dir, member, "healthd.log")

    def _spawn_daemon(self, member, daemon, argv, log_path):
        old = self.procs.get((member, daemon))
        if old is not None and old.poll() is None:
            raise LabError(f"{daemon} already runs on {member}")
        with open(log_path, "a") as log:
            log.write(f"--- lab {time.strftime('%H:%M:%S')}: start {' '.join(argv)} ---\n")
            log.flush()
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(member)] + argv,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[(member, daemon)] = proc
        return proc

    def start_healthd(self, node, extra=()):
        if not os.access(HEALTHD, os.X_OK):
            raise LabError(f"{HEALTHD} is missing: run `make` first")
        argv = [HEALTHD, "--run-dir", self.node_dir(node, "run")] + list(extra)
        if self.verbose:
            argv.append("-v")
        proc = self._spawn_daemon(node, "healthd", argv, self.healthd_log_path(node))
        self.wait_http(node, self.addr(0, node), HEALTH_PORT, "/status")
        return proc

    def start_healthd_activated(self, node, port):
        """healthd on node as systemd starts it from a .socket unit: systemd-socket-activate
        listens on the node's address:port and starts healthd with that socket
        (LISTEN_FDS=1, LISTEN_FDNAMES=http) at the first connection. Returns once the
        socket listens; healthd itself is not running yet."""
        argv = [SOCKET_ACTIVATE, "-l", f"{self.addr(0, node)}:{port}", "--fdname=http",
                HEALTHD, "--run-dir", self.node_dir(node, "run")]
        if not os.access(SOCKET_ACTIVATE, os.X_OK):
            raise LabError(f"{SOCKET_ACTIVATE} is missing: apt-get install systemd")
        proc = self._spawn_daemon(node, "healthd-activated", argv,
                                  os.path.join(self.dir, node, "healthd-activated.log"))
        deadline = time.monotonic() + 10
        while True:
            res = run(["ip", "netns", "exec", self.ns(node), "ss", "-Hltn",
                       f"sport = :{port}"], check=False)
            if res.stdout.strip():
                return proc
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"systemd-socket-activate does not listen on {port}")
            time.sleep(0.05)

    def start_app(self, node):
        argv = [PYTHON, "-c", _APP_CODE, node, str(APP_PORT)]
        proc = self._spawn_daemon(node, "app", argv,
                                  os.path.join(self.dir, node, "app.log"))
        self.wait_http(node, "127.0.0.1", APP_PORT, "/")
        return proc

    def start_node(self, node):
        """heartbeatd, then healthd and the application if they are not running; returns
        once healthd follows the module (it finds it within its 1 s rescan) and has heard
        a status."""
        proc = super().start_node(node)
        if not self.running(node, "healthd"):
            # A test may set lab.healthd_args[node] (flags) before start_cluster.
            self.start_healthd(node, getattr(self, "healthd_args", {}).get(node, ()))
        if not self.running(node, "app"):
            self.start_app(node)
        self.wait_followed(node)
        return proc

    def wait_followed(self, node, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            res = self.http_get(node, self.addr(0, node), HEALTH_PORT, "/status", timeout=1.0)
            # Followed means a status heard, not only subscribed: a subscriber misses
            # what was published before it joined, and heartbeatd repeats every 1 s.
            if res.get("status") == 200:
                mod = json.loads(res["body"])["modules"].get(MODULE) or {}
                if mod.get("status") is not None:
                    return
            if time.monotonic() >= deadline:
                raise LabError(f"{node}: healthd does not follow module {MODULE} after "
                               f"{timeout:g} s: {res}")
            time.sleep(0.1)

    def wait_http(self, member, host, port, path, timeout=10.0):
        """Wait until something answers HTTP at host:port inside member's namespace."""
        deadline = time.monotonic() + timeout
        while True:
            res = self.http_get(member, host, port, path, timeout=1.0)
            if "status" in res:
                return res
            if time.monotonic() >= deadline:
                raise LabError(f"nothing answers http://{host}:{port}{path} in "
                               f"{member} after {timeout:g} s: {res.get('error')}")
            time.sleep(0.05)

    # -- requests ----------------------------------------------------------------------

    def http_raw(self, member, host, port, request, timeout=5.0):
        """Send raw request bytes from member's namespace; dict with status, headers,
        body, ms (milliseconds), or error."""
        res = run(["ip", "netns", "exec", self.ns(member), PYTHON, "-c", _REQUEST_CODE,
                   host, str(port), bytes(request).hex(), str(timeout)],
                  timeout=timeout + 10)
        return json.loads(res.stdout)

    def http_get(self, member, host, port, path, method="GET", headers=(), timeout=5.0):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}",
                 "Connection: close"] + list(headers)
        return self.http_raw(member, host, port,
                             ("\r\n".join(lines) + "\r\n\r\n").encode(), timeout)

    def health(self, node, path=None, method="GET", member="client"):
        """(status code, body) of /health/app on a node, asked from the client."""
        res = self.http_get(member, self.addr(0, node), HEALTH_PORT,
                            path or f"/health/{MODULE}", method)
        if "error" in res:
            return None, res["error"]
        return res["status"], res["body"]

    def healthd_status(self, node):
        res = self.http_get("client", self.addr(0, node), HEALTH_PORT, "/status")
        if res.get("status") != 200:
            raise LabError(f"{node}: GET /status: {res}")
        return json.loads(res["body"])

    def wait_health(self, node, code, timeout=10.0):
        """Poll /health/app on a node until it answers code; return the time it did."""
        deadline = time.monotonic() + timeout
        while True:
            got, body = self.health(node)
            if got == code:
                return time.monotonic()
            if time.monotonic() >= deadline:
                raise AssertionError(f"{node}: /health/{MODULE} answered {got} {body!r}, "
                                     f"expected {code} within {timeout:g} s")
            time.sleep(0.05)

    def latency(self, member, host, path, count=200):
        res = run(["ip", "netns", "exec", self.ns(member), PYTHON, "-c", _LATENCY_CODE,
                   host, str(HEALTH_PORT), path, str(count)], timeout=60)
        return json.loads(res.stdout)

    # -- HAProxy -----------------------------------------------------------------------

    def haproxy_config(self, advised=False):
        """The HAProxy configuration of docs/health.md; advised=True is the one its
        "Load balancers" advice gives: the old primary is marked down after 4 failed
        checks (so the new one is UP first), a request that cannot connect is retried
        (4 x 300 ms) and redispatched at each retry, and the sessions of a server
        marked down are cut."""
        server_opts = " on-marked-down shutdown-sessions" if advised else ""
        retries = 4 if advised else 2
        redispatch = "option redispatch 1" if advised else "option redispatch"
        fall = 4 if advised else 2
        servers = "\n".join(
            f"    server {n} {self.addr(0, n)}:{APP_PORT} check port {HEALTH_PORT}"
            f"{server_opts}"
            for n in self.nodes)
        return f"""global
    maxconn 512
    stats socket {self.haproxy_socket()} mode 600 level admin
defaults
    mode http
    timeout connect 300ms
    timeout client 5s
    timeout server 2s
    timeout check 500ms
    retries {retries}
    {redispatch}
frontend front
    bind 127.0.0.1:{LB_PORT}
    default_backend application
backend application
    option httpchk GET /health/{MODULE}
    http-check expect status 200
    default-server inter 200ms fastinter 100ms downinter 200ms rise 1 fall {fall}
{servers}
"""

    def haproxy_socket(self):
        return os.path.join(self.dir, "client", "haproxy.sock")

    def start_haproxy(self, advised=False):
        if not os.access(HAPROXY, os.X_OK):
            raise LabError(f"{HAPROXY} is missing: apt-get install haproxy (make deps)")
        os.makedirs(os.path.join(self.dir, "client"), exist_ok=True)
        path = os.path.join(self.dir, "client", "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.haproxy_config(advised))
        run([HAPROXY, "-c", "-q", "-f", path])
        proc = self._spawn_daemon("client", "haproxy", [HAPROXY, "-db", "-f", path],
                                  os.path.join(self.dir, "client", "haproxy.log"))
        deadline = time.monotonic() + 10
        while not os.path.exists(self.haproxy_socket()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError("haproxy did not start: " + self.tail(
                    os.path.join(self.dir, "client", "haproxy.log")))
            time.sleep(0.05)
        return proc

    def stop_haproxy(self):
        proc = self.procs.get(("client", "haproxy"))
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        try:
            os.unlink(self.haproxy_socket())
        except FileNotFoundError:
            pass

    def haproxy_servers(self):
        """{server: status} of the backend, from HAProxy's stats socket ("UP", "DOWN")."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(self.haproxy_socket())
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        lines = data.decode().splitlines()
        head = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") == "application" and row.get("svname") in self.nodes:
                out[row["svname"]] = row.get("status", "").split()[0]
        return out

    def wait_haproxy(self, wanted, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.haproxy_servers()
            if all(got.get(k) == v for k, v in wanted.items()):
                return got
            if time.monotonic() >= deadline:
                raise AssertionError(f"haproxy: expected servers {wanted} within "
                                     f"{timeout:g} s, got {got}")
            time.sleep(0.05)

    # -- attackers ---------------------------------------------------------------------

    def add_client_addresses(self, count):
        """Give the client namespace `count` more addresses on network 0 (198.18.0.101
        and up), as many attacking hosts; returns them."""
        if not 1 <= count <= 100:
            raise LabError("1..100 extra client addresses")
        out = []
        for i in range(count):
            addr = f"198.18.0.{101 + i}"
            run(["ip", "-n", self.ns("client"), "addr", "add", f"{addr}/32", "dev",
                 "eth0"])
            out.append(addr)
        return out

    def start_attack(self, node, sources, per_source, duration):
        """Hold per_source connections from each source address to node's healthd
        (half slowloris, half silent, reopened when closed), in the background: an
        Attack."""
        return Attack(self, node, sources, per_source, duration)

    def slowloris(self, node, seconds, member="client"):
        """One request head sent one byte a second to node's healthd; dict (closed,
        sent, total, answer)."""
        res = run(["ip", "netns", "exec", self.ns(member), PYTHON, "-c", _SLOWLORIS_CODE,
                   self.addr(0, node), str(HEALTH_PORT), str(seconds)],
                  timeout=seconds + 15)
        return json.loads(res.stdout)

    def metrics(self, node, member="client"):
        """{sample text: value} of node's /metrics (e.g. 'skyha_healthd_connections')."""
        res = self.http_get(member, self.addr(0, node), HEALTH_PORT, "/metrics")
        if res.get("status") != 200:
            raise LabError(f"{node}: GET /metrics: {res}")
        out = {}
        for line in res["body"].splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def start_load(self, duration, period=0.02, timeout=2.0):
        """Requests through HAProxy from the client, in the background: a Load."""
        return Load(self, duration, period, timeout)

    # -- logs --------------------------------------------------------------------------

    @staticmethod
    def tail(path, lines=25):
        try:
            with open(path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except FileNotFoundError:
            return ""

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for node in self.nodes:
            text = self.tail(self.healthd_log_path(node), lines)
            print(f"    --- {node}: last lines of {self.healthd_log_path(node)} ---",
                  file=out)
            for line in text.splitlines():
                print("    " + line, file=out)
        hp = os.path.join(self.dir, "client", "haproxy.log") if self.dir else ""
        if hp and os.path.exists(hp):
            print(f"    --- client: last lines of {hp} ---", file=out)
            for line in self.tail(hp, lines).splitlines():
                print("    " + line, file=out)


class Load:
    """GET / through HAProxy every `period` s for `duration` s, from the client namespace.

    results() waits for the end and returns [(sent, status, body, answered)], times on
    the monotonic clock, status 0 for a request that failed without an HTTP answer.
    """

    def __init__(self, lab, duration, period, timeout=2.0):
        self.duration = duration
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("client"), PYTHON, "-c", _LOAD_CODE,
             str(LB_PORT), str(duration), str(period), str(timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        lab.procs[("client", "load")] = self.proc

    def results(self):
        out, err = self.proc.communicate(timeout=self.duration + 30)
        if self.proc.returncode != 0:
            raise LabError(f"load client exited {self.proc.returncode}: {err.strip()}")
        return [tuple(json.loads(line)) for line in out.splitlines() if line.strip()]


class Attack:
    """Attackers in the client namespace (see start_attack); results() waits for the end
    and returns {opened, closed_by_server, most_open, completed_heads}."""

    def __init__(self, lab, node, sources, per_source, duration):
        self.duration = duration
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("client"), PYTHON, "-c", _ATTACK_CODE,
             lab.addr(0, node), str(HEALTH_PORT), str(duration), str(per_source)]
            + list(sources),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        lab.procs[("client", "attack")] = self.proc

    def results(self):
        out, err = self.proc.communicate(timeout=self.duration + 30)
        if self.proc.returncode != 0:
            raise LabError(f"attackers exited {self.proc.returncode}: {err.strip()}")
        return json.loads(out)
