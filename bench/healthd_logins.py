#!/usr/bin/python3
"""healthd_logins.py - does a flood of API logins hold up /health? (`make bench`)

What and why. A login costs an argon2id verification (64 MiB, some 0.1 to 0.3 s of one
core with `healthd --hash-password`'s parameters): done on healthd's event loop, a few
logins a second would stall the answers load balancers wait for. healthd verifies on one
worker thread, at most 4 queued, one per source address (docs/health.md, "API"). This
measures /health latency over one keep-alive connection with no login under way, then
while LOGIN_SOURCES clients (each from its own loopback address, 127.0.0.10 and up, so
the per-source limit does not stop them) send correct logins back to back; and how many
logins a second healthd verified meanwhile, and how many it turned away (503: the queue
is full).

Everything runs on loopback in the root namespace (no lab: /health/x answers 404 from
memory, the same path as a module's answer). Prints a table, writes
build/bench/healthd_logins.json, exits non-zero on any error.
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEALTHD = os.path.join(ROOT, "build", "healthd")
PORT = 19077
SECONDS = float(os.environ.get("LOGIN_SECONDS", "8"))
SOURCES = int(os.environ.get("LOGIN_SOURCES", "16"))
PASSWORD = "bench password"


def latencies(seconds):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        c.request("GET", "/health/x")
        r = c.getresponse()
        r.read()
        out.append((time.monotonic() - t) * 1000)
        assert r.status == 404, r.status
    c.close()
    return sorted(out)


def flood(source, stop, counts):
    body = json.dumps({"user": "bench", "password": PASSWORD})
    while not stop.is_set():
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10,
                                           source_address=(source, 0))
            c.request("POST", "/api/v1/login", body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            c.close()
            counts[r.status] = counts.get(r.status, 0) + 1
            if r.status == 503:
                time.sleep(0.05)
        except OSError:
            counts["error"] = counts.get("error", 0) + 1


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))]


def main():
    if not os.access(HEALTHD, os.X_OK):
        sys.exit(f"{HEALTHD} is missing: run make first")
    d = tempfile.mkdtemp(prefix="skyha-bench-logins-")
    users = os.path.join(d, "users")
    line = subprocess.run([HEALTHD, "--hash-password", "bench", "admin"], input=PASSWORD,
                          capture_output=True, text=True, check=True).stdout
    with open(users, "w") as f:
        f.write(line)
    os.chmod(users, 0o600)
    os.mkdir(os.path.join(d, "run"))
    proc = subprocess.Popen([HEALTHD, "--run-dir", os.path.join(d, "run"), "--listen",
                             f"127.0.0.1:{PORT}", "--users-file", users],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        idle = latencies(SECONDS / 2)
        stop, counts = threading.Event(), {}
        threads = [threading.Thread(target=flood, args=(f"127.0.0.{10 + i}", stop, counts))
                   for i in range(SOURCES)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        before = dict(counts)
        busy = latencies(SECONDS)
        after = dict(counts)
        stop.set()
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        proc.wait()
    ok = after.get(200, 0) - before.get(200, 0)
    turned = after.get(503, 0) - before.get(503, 0)
    res = {
        "idle_ms": {"median": pct(idle, 0.5), "p99": pct(idle, 0.99), "max": idle[-1],
                    "requests": len(idle)},
        "flood_ms": {"median": pct(busy, 0.5), "p99": pct(busy, 0.99), "max": busy[-1],
                     "requests": len(busy)},
        "logins_per_s": ok / SECONDS, "turned_away_per_s": turned / SECONDS,
        "sources": SOURCES, "errors": after.get("error", 0),
    }
    print(f"{'':22} {'median':>8} {'p99':>8} {'max':>8} {'requests':>9}")
    for name in ("idle_ms", "flood_ms"):
        r = res[name]
        print(f"/health {name[:-3]:14} {r['median']:7.2f}  {r['p99']:7.2f}  "
              f"{r['max']:7.2f}  {r['requests']:9d}")
    print(f"logins verified: {res['logins_per_s']:.1f}/s, turned away (503): "
          f"{res['turned_away_per_s']:.1f}/s, from {SOURCES} sources")
    os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench", "healthd_logins.json"), "w") as f:
        json.dump(res, f, indent=1)
    if res["errors"] or not ok:
        sys.exit("login flood: errors or no login verified")


if __name__ == "__main__":
    main()
