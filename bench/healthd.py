#!/usr/bin/python3
"""healthd.py - `make bench`: how fast healthd answers /health/<module>, and how much
memory it takes, against two static HTTP servers measured in the same run.

What and why. A load balancer asks every node's /health/<module> every few hundred ms,
and operators' monitoring scrapes /metrics: healthd must answer from memory, fast, and
stay small. Throughput and tail latency on a shared 2-core machine mean little alone, so
the figures are given against baselines serving a fixed answer on the same loopback, one
after the other, with the same load:
  - HAProxy (Debian's haproxy, `http-request return`, one thread): a tuned C event loop
    answering a constant string, about as fast as an HTTP answer gets;
  - Python's http.server (ThreadingHTTPServer) serving a static file: the common
    "simple server" yardstick.
The load is wrk (Debian's wrk): WRK_THREADS threads, WRK_CONNECTIONS keep-alive
connections, WRK_SECONDS per target, latency distribution on. healthd follows one
module whose heartbeatd is played by a pyzmq PUB socket that publishes a serving status
object (docs/protocol.md) every second, as heartbeatd does, so /health/app answers 200
throughout (wrk's non-2xx count must be 0, or the run fails). healthd's memory is read
from /proc (VmRSS after start, VmRSS and VmHWM after the load). /metrics and /status
are measured too (they build their answer per request).

Everything runs in the root namespace on 127.0.0.1 (no lab needed); every process
started is stopped on every exit path. Prints a table, writes build/bench/healthd.json,
exits non-zero on any error. Run as root or not, with /usr/bin/python3 (+ python3-zmq).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import zmq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HEALTHD = os.path.join(os.environ.get("SKYHA_BUILD_DIR", os.path.join(ROOT, "build")),
                       "healthd")
JSON_OUT = os.path.join(ROOT, "build", "bench", "healthd.json")
WRK, HAPROXY = "/usr/bin/wrk", "/usr/sbin/haproxy"
# wrk's connections all come from 127.0.0.1: at most healthd's --max-per-address (32).
WRK_THREADS, WRK_CONNECTIONS, WRK_SECONDS = 2, 32, 5
PORT_HEALTHD, PORT_HAPROXY, PORT_PYTHON = 19110, 19111, 19112

STATUS = {
    "cluster": "bench", "module": "app", "type": "mirror",
    "node": {"name": "node1", "role": "PRIM", "epoch": 7, "generation": 12,
             "data": "uptodate", "persisted_data": "uptodate", "serving": True,
             "role_for_ms": 5230, "waiting_for": ""},
    "peer": {"name": "node2", "visible": True, "role": "SECOND", "epoch": 7,
             "generation": 12, "data": "uptodate", "last_seen_ms": 120,
             "networks": [{"index": 0, "local": "198.18.0.1", "peer": "198.18.0.2",
                           "up": True, "last_seen_ms": 120}]},
    "quorum": {"mode": "witness", "have": True, "via": "peer+witness"},
    "witness": {"addresses": ["198.18.0.10"], "lease": "held", "expires_in_ms": 840,
                "last_answer": "granted", "holder": "node1"},
    "transition": {"from": "SECOND", "to": "PRIM", "reason": "bench", "at":
                   "2026-11-23T12:03:55Z", "ago_ms": 2300, "pending": ""},
    "actuators": {},
    "counters": {"tx": 100, "tx_errors": 0, "rx": 98, "bad_mac": 0, "replay": 0,
                 "malformed": 0, "oversized": 0, "wrong_cluster": 0, "unknown_node": 0,
                 "witness_unknown_replies": 0, "ctl_bad_requests": 0,
                 "bus_bad_messages": 0},
    "timing": {"interval_ms": 200, "timeout_ms": 1000, "lease_ms": 1000},
}


class BenchError(Exception):
    pass


def say(text):
    print(text, flush=True)


class FakeHeartbeatd:
    """Publishes MODULE.heartbeatd.status every second on ipc://RUN/app/desired."""

    def __init__(self, run_dir):
        os.makedirs(os.path.join(run_dir, "app"), exist_ok=True)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("ipc://" + os.path.join(run_dir, "app", "desired"))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        text = json.dumps(STATUS).encode()
        while not self.stop.is_set():
            self.sock.send_multipart([b"app.heartbeatd.status", text])
            self.stop.wait(1.0)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()
        self.ctx.term()


def get(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def wait_answer(url, status, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = get(url)[0]
        if got == status:
            return
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise BenchError(f"{url} answered {got}, not {status}, after {timeout} s")
        time.sleep(0.05)


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    if not m:
        raise BenchError(f"cannot read the latency {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url, threads=WRK_THREADS, connections=WRK_CONNECTIONS):
    res = subprocess.run([WRK, "-t", str(threads), "-c", str(connections),
                          "-d", f"{WRK_SECONDS}s", "--latency", url],
                         capture_output=True, text=True, timeout=WRK_SECONDS + 60)
    out = res.stdout
    if res.returncode != 0:
        raise BenchError(f"wrk {url} exited {res.returncode}: {res.stderr.strip()}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"cannot read wrk's output for {url}:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"url": url, "requests": int(total.group(1)), "rps": float(rps.group(1)),
            "p50_ms": to_ms(p50.group(1)), "p99_ms": to_ms(p99.group(1)),
            "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1).strip() if errors else ""}


def memory_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def start(argv, log):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def main():
    for path, what in ((HEALTHD, "run `make`"), (WRK, "apt-get install wrk"),
                       (HAPROXY, "apt-get install haproxy")):
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} is missing: {what}")
    work = tempfile.mkdtemp(prefix="skyha-bench-healthd-")
    procs, fake = [], None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        log = open(os.path.join(work, "daemons.log"), "w")
        run_dir = os.path.join(work, "run")
        fake = FakeHeartbeatd(run_dir)
        healthd = start([HEALTHD, "--run-dir", run_dir, "--listen",
                         f"127.0.0.1:{PORT_HEALTHD}"], log)
        procs.append(healthd)
        base = f"http://127.0.0.1:{PORT_HEALTHD}"
        wait_answer(base + "/health/app", 200, healthd)
        mem_idle = memory_kib(healthd.pid)

        with open(os.path.join(work, "haproxy.cfg"), "w") as f:
            f.write(f"""global
    nbthread 1
defaults
    mode http
    timeout client 10s
    timeout connect 1s
    timeout server 10s
frontend static
    bind 127.0.0.1:{PORT_HAPROXY}
    http-request return status 200 content-type text/plain string "OK"
""")
        haproxy = start([HAPROXY, "-db", "-f", os.path.join(work, "haproxy.cfg")], log)
        procs.append(haproxy)
        wait_answer(f"http://127.0.0.1:{PORT_HAPROXY}/health/app", 200, haproxy)
        static = os.path.join(work, "static")
        os.makedirs(os.path.join(static, "health"))
        with open(os.path.join(static, "health", "app"), "w") as f:
            f.write("OK\n")
        python = start([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                        "--directory", static, str(PORT_PYTHON)], subprocess.DEVNULL)
        procs.append(python)
        wait_answer(f"http://127.0.0.1:{PORT_PYTHON}/health/app", 200, python)

        say(f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s, keep-alive, "
            f"127.0.0.1, one target after the other")
        runs = {
            "healthd /health/app": wrk(base + "/health/app"),
            "healthd /metrics": wrk(base + "/metrics"),
            "healthd /status": wrk(base + "/status"),
            "haproxy static 'OK'": wrk(f"http://127.0.0.1:{PORT_HAPROXY}/health/app"),
            "python http.server static file":
                wrk(f"http://127.0.0.1:{PORT_PYTHON}/health/app"),
        }
        # What one load balancer sees: one connection asking as fast as it can, so
        # the latency is healthd's answer time, not the queue of 32 connections on
        # 2 cores (the "answers within 5 ms").
        single = {
            "healthd /health/app, 1 connection": wrk(base + "/health/app", 1, 1),
            "haproxy static 'OK', 1 connection":
                wrk(f"http://127.0.0.1:{PORT_HAPROXY}/health/app", 1, 1),
        }
        mem_after = memory_kib(healthd.pid)
        if healthd.poll() is not None:
            raise BenchError(f"healthd died during the load (exit {healthd.returncode})")
        for name, r in list(runs.items()) + list(single.items()):
            if r["non_2xx"]:
                raise BenchError(f"{name}: {r['non_2xx']} answers were not 200")

        say(f"{'target':34} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
        for name, r in runs.items():
            say(f"{name:34} {r['rps']:11.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f}"
                + (f"  socket errors: {r['socket_errors']}" if r["socket_errors"] else ""))
        say("one connection (a single load balancer):")
        for name, r in single.items():
            say(f"{name:34} {r['rps']:11.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f}")
        h1 = single["healthd /health/app, 1 connection"]
        ha1 = single["haproxy static 'OK', 1 connection"]
        say(f"healthd answer time with one client: p99 {h1['p99_ms']:.3f} ms "
            f"({h1['p99_ms'] / ha1['p99_ms']:.2f} x HAProxy's constant answer)")
        h = runs["healthd /health/app"]
        ratios = {
            "rps_vs_haproxy": h["rps"] / runs["haproxy static 'OK'"]["rps"],
            "rps_vs_python": h["rps"] / runs["python http.server static file"]["rps"],
            "p99_vs_haproxy": h["p99_ms"] / runs["haproxy static 'OK'"]["p99_ms"],
        }
        say(f"healthd /health/app: {ratios['rps_vs_haproxy']:.2f} x HAProxy's requests/s, "
            f"{ratios['rps_vs_python']:.1f} x Python's; p99 {h['p99_ms']:.3f} ms "
            f"({ratios['p99_vs_haproxy']:.2f} x HAProxy's)")
        say(f"healthd memory: VmRSS {mem_idle['VmRSS']} KiB idle, {mem_after['VmRSS']} KiB "
            f"after the load, peak VmHWM {mem_after['VmHWM']} KiB")
        os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
        with open(JSON_OUT, "w") as f:
            json.dump({"wrk": {"threads": WRK_THREADS, "connections": WRK_CONNECTIONS,
                               "seconds": WRK_SECONDS},
                       "runs": runs, "single_connection": single, "ratios": ratios,
                       "healthd_memory_kib": {"idle": mem_idle, "after": mem_after}},
                      f, indent=2)
        say(f"written {os.path.relpath(JSON_OUT, ROOT)}")
        return 0
    finally:
        for p in procs:
            stop(p)
        if fake:
            fake.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/healthd.py: {exc}", file=sys.stderr)
        sys.exit(1)
