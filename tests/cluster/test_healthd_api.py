"""Cluster tests: healthd's API and console that act (docs/health.md, "API").

Real heartbeatd nodes, healthd on each with --api-listen on port 9443 over HTTPS
(a test CA made here with openssl), a users file (argon2id hashes from
`healthd --hash-password`) and a tokens file. From the client namespace, over
HTTPS: a wrong password is 401, an expired token 401, a monitor's swap 403, a
session's swap without its CSRF token 403, a control token's forced prim 403, and a
swap with a control token goes through heartbeatd's control socket and the roles
change; a stopped heartbeatd gets 504, a dead one 502. Every answer is checked against
docs/api/openapi.yaml. Without TLS the API
refuses to act off loopback and acts on loopback; a group-readable users file stops
healthd at start. In headless Chromium: log in to the console, press backup now (the
request file heartbeatd writes for systemd names the user), press swap, see the roles
change on the page. With checkd and the sample application: restart in place and
checkers off through the API and on again with skyctl (heartbeatd's desired state carries
them to checkd); backup now refused for a module without a backup: section (the run
itself, by systemd: tests/systemd/test_backup.py).
"""

import json
import os
import re
import signal
import subprocess
import time

import jsonschema
import yaml

from cdp import Browser
from checkd_lab import checkd_lab, describe_checkd
from healthd_lab import CHROMIUM, HEALTH_PORT, HEALTHD, healthd_lab
from lab import MODULE, address, run

API_PORT = 9443
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "docs", "api", "openapi.yaml")
CONTROL_TOKEN = "ci-token-0123456789abcdef0123456789abcdef"
EXPIRED_TOKEN = "old-token-0123456789abcdef0123456789abcdef"
PASSWORDS = {"alice": ("admin", "alice's password"), "bob": ("monitor", "bob-pw-123"),
             "carol": ("control", "carol pw")}

# Requests from inside a namespace, one JSON list of steps in, one list of answers
# out. Each step: method, host, port, path, tls, body, headers, session (a name: the
# cookie and CSRF token of its login are kept under it), csrf (send the session's
# X-CSRF-Token).
_CLIENT_CODE = r"""
import http.client, json, ssl, sys
steps, cafile, jar = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile) if cafile != "-" else None
out = []
for st in steps:
    name = st.get("session")
    s = jar.setdefault(name, {"cookie": None, "csrf": None})
    if st.get("tls", True):
        c = http.client.HTTPSConnection(st["host"], st["port"], context=ctx, timeout=10)
    else:
        c = http.client.HTTPConnection(st["host"], st["port"], timeout=10)
    headers = dict(st.get("headers", {}))
    if name and s["cookie"]:
        headers["Cookie"] = s["cookie"]
    if st.get("csrf") and s["csrf"]:
        headers["X-CSRF-Token"] = s["csrf"]
    body = st.get("body")
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        c.request(st["method"], st["path"], body=data, headers=headers)
        r = c.getresponse()
        raw = r.read().decode(errors="replace")
        res = {"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
               "body": raw}
        try:
            res["json"] = json.loads(raw)
        except ValueError:
            res["json"] = None
        cookie = r.getheader("Set-Cookie")
        if name and cookie:
            s["cookie"] = cookie.split(";")[0]
        if name and isinstance(res["json"], dict) and res["json"].get("csrf_token"):
            s["csrf"] = res["json"]["csrf_token"]
    except Exception as e:
        res = {"error": repr(e)}
    out.append(res)
print(json.dumps({"answers": out, "jar": jar}))
"""


def make_secrets(lab):
    """The test CA, one certificate for both nodes' addresses, users and tokens."""
    d = os.path.join(lab.dir, "api")
    os.makedirs(d, exist_ok=True)
    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    cert, key, csr = (os.path.join(d, n) for n in ("node.pem", "node.key", "node.csr"))
    ext = os.path.join(d, "ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(f"IP:{address(0, n)}" for n in lab.nodes) + "\n")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=skyha test CA"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=skyha node"])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext])
    os.chmod(key, 0o600)
    users = os.path.join(d, "users")
    lines = []
    for name, (role, pw) in PASSWORDS.items():
        res = subprocess.run([HEALTHD, "--hash-password", name, role], input=pw + "\n",
                             capture_output=True, text=True, check=True)
        lines.append(res.stdout)
    with open(users, "w") as f:
        f.write("# name role argon2id-hash\n" + "".join(lines))
    os.chmod(users, 0o600)
    tokens = os.path.join(d, "tokens")
    sha = lambda t: subprocess.run(["sha256sum"], input=t, capture_output=True, text=True,
                                   check=True).stdout.split()[0]
    with open(tokens, "w") as f:
        f.write(f"ci control {sha(CONTROL_TOKEN)} 2099-01-01T00:00:00Z\n"
                f"old admin {sha(EXPIRED_TOKEN)} 2024-06-01T12:00:00+02:00\n")
    os.chmod(tokens, 0o600)
    return {"ca": ca, "cert": cert, "key": key, "users": users, "tokens": tokens}


def api_args(lab, node, s):
    return ["--api-listen", f"{address(0, node)}:{API_PORT}", "--tls-cert-file", s["cert"],
            "--tls-key-file", s["key"], "--users-file", s["users"], "--tokens-file",
            s["tokens"]]


def requests(lab, member, steps, ca, jar=None):
    """The answers to steps; a dict given as jar keeps the sessions' cookies and CSRF
    tokens from one call to the next."""
    res = run(["ip", "netns", "exec", lab.ns(member), "/usr/bin/python3", "-c", _CLIENT_CODE,
               json.dumps(steps), ca, json.dumps(jar or {})], timeout=120)
    got = json.loads(res.stdout)
    if jar is not None:
        jar.update(got["jar"])
    return got["answers"]


class Spec:
    """Answers checked against docs/api/openapi.yaml."""

    def __init__(self):
        with open(SPEC) as f:
            self.doc = yaml.safe_load(f)
        self.checked = 0

    def check(self, method, path, res):
        assert "status" in res, res
        for template, item in self.doc["paths"].items():
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
                break
        else:
            raise AssertionError(f"{path} is not in {SPEC}")
        responses = item[method.lower()]["responses"]
        assert str(res["status"]) in responses, \
            f"{method} {path}: {res['status']} is not documented: {res['body']}"
        resp = responses[str(res["status"])]
        if "$ref" in resp:
            resp = self.doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        schema = dict(resp["content"]["application/json"]["schema"])
        schema["components"] = self.doc["components"]
        assert res["headers"]["content-type"] == "application/json", res
        jsonschema.validate(res["json"], schema)
        self.checked += 1


@healthd_lab()
def test_api_acts_only_for_who_may_over_https(lab):
    s = make_secrets(lab)
    lab.healthd_args = {n: api_args(lab, n, s) for n in lab.nodes}
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    host = address(0, "node1")
    swap = f"/api/v1/modules/{MODULE}/swap"
    bearer = lambda t: {"Authorization": f"Bearer {t}"}
    steps = [
        ("POST", "/api/v1/login", {"body": {"user": "alice", "password": "wrong"}}),
        ("GET", "/api/v1/session", {"headers": bearer(EXPIRED_TOKEN)}),
        ("POST", "/api/v1/login", {"session": "bob",
                                   "body": {"user": "bob", "password": PASSWORDS["bob"][1]}}),
        ("GET", "/api/v1/modules", {"session": "bob"}),
        ("POST", swap, {"session": "bob", "csrf": True}),
        ("POST", "/api/v1/login", {"session": "alice",
                                   "body": {"user": "alice",
                                            "password": PASSWORDS["alice"][1]}}),
        ("POST", swap, {"session": "alice"}),  # no X-CSRF-Token
        ("POST", f"/api/v1/modules/{MODULE}/prim", {"headers": bearer(CONTROL_TOKEN),
                                                     "body": {"force": True}}),
        ("POST", swap, {"headers": bearer(CONTROL_TOKEN)}),
    ]
    jar = {}
    answers = requests(lab, "client", [dict(method=m, host=host, port=API_PORT, path=p, **o)
                                       for m, p, o in steps], s["ca"], jar)
    spec = Spec()
    for (method, path, _), res in zip(steps, answers):
        spec.check(method, path, res)
    got = [r["status"] for r in answers]
    errors = [(r["json"] or {}).get("error", "") for r in answers]
    assert got == [401, 401, 200, 200, 403, 200, 403, 403, 200], list(zip(got, errors))
    assert errors[0] == "wrong user name or password"
    assert "token 'old' expired at 2024-06-01T10:00:00Z" in errors[1], errors[1]
    assert answers[2]["json"]["role"] == "monitor"
    cookie = answers[2]["headers"]["set-cookie"]
    for attr in ("HttpOnly", "Secure", "SameSite=Strict"):
        assert attr in cookie, cookie
    assert answers[3]["json"]["modules"][MODULE]["status"]["node"]["role"] == "PRIM"
    assert "role monitor: swap needs control" in errors[4], errors[4]
    assert "X-CSRF-Token" in errors[6], errors[6]
    assert "prim --force needs admin" in errors[7], errors[7]
    assert "node2" in answers[8]["json"]["message"], answers[8]
    # The swap went through heartbeatd: the roles change.
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 15)
    print(f"    {len(answers)} API answers match docs/api/openapi.yaml; the control "
          f"token's swap: {answers[8]['json']['message']!r}")
    # The audit trail names the user, the source and the outcome.
    with open(lab.healthd_log_path("node1")) as f:
        log = f.read()
    client = address(0, "client")
    for line in (f"api: user ci from {client}: swap of module {MODULE} -> 200",
                 f"api: user bob from {client}: swap of module {MODULE} -> 403",
                 f"api: user alice from {client}: login -> 401"):
        assert line in log, f"{line!r} not in node1's healthd log"
    assert CONTROL_TOKEN not in log and answers[5]["json"]["csrf_token"] not in log
    # SIGHUP reads the users file again: bob is gone, so is his session; alice's stays.
    with open(s["users"]) as f:
        kept = [line for line in f if not line.startswith("bob ")]
    with open(s["users"], "w") as f:
        f.writelines(kept)
    lab.procs[("node1", "healthd")].send_signal(signal.SIGHUP)
    session = {"method": "GET", "host": host, "port": API_PORT, "path": "/api/v1/session"}
    for _ in range(50):
        after = requests(lab, "client", [dict(session, session="bob"),
                                         dict(session, session="alice")], s["ca"], jar)
        if after[0]["status"] == 401:
            break
        time.sleep(0.1)
    assert [r["status"] for r in after] == [401, 200], after
    # The plain port serves the load balancers, not the API or the console.
    plain = requests(lab, "client", [
        {"method": "GET", "host": host, "port": HEALTH_PORT, "path": "/api/v1/modules",
         "tls": False, "headers": bearer(CONTROL_TOKEN)},
        {"method": "GET", "host": host, "port": HEALTH_PORT, "path": "/", "tls": False},
        {"method": "GET", "host": host, "port": HEALTH_PORT, "path": f"/health/{MODULE}",
         "tls": False}], s["ca"])
    assert [r["status"] for r in plain] == [404, 404, 503], plain

    # Without TLS: refused off loopback, acts on loopback.
    run_dir = lab.node_dir("node1", "run")
    lab._spawn_daemon("node1", "healthd-plain",
                      [HEALTHD, "--run-dir", run_dir, "--listen", f"{host}:9020",
                       "--users-file", s["users"]],
                      os.path.join(lab.dir, "node1", "healthd-plain.log"))
    lab._spawn_daemon("node1", "healthd-loopback",
                      [HEALTHD, "--run-dir", run_dir, "--listen", "127.0.0.1:9021",
                       "--users-file", s["users"]],
                      os.path.join(lab.dir, "node1", "healthd-loopback.log"))
    lab.wait_http("client", host, 9020, "/status")
    lab.wait_http("node1", "127.0.0.1", 9021, "/status")
    login = {"user": "carol", "password": PASSWORDS["carol"][1]}
    off = requests(lab, "client", [{"method": "POST", "host": host, "port": 9020,
                                    "path": "/api/v1/login", "tls": False,
                                    "body": login}], s["ca"])[0]
    spec.check("POST", "/api/v1/login", off)
    assert off["status"] == 403 and "no TLS certificate" in off["json"]["error"], off
    local = requests(lab, "node1", [
        {"method": "POST", "host": "127.0.0.1", "port": 9021, "path": "/api/v1/login",
         "tls": False, "session": "c", "body": login},
        {"method": "POST", "host": "127.0.0.1", "port": 9021, "tls": False,
         "path": f"/api/v1/modules/{MODULE}/swap", "session": "c", "csrf": True}],
        s["ca"])
    spec.check("POST", "/api/v1/login", local[0])
    spec.check("POST", f"/api/v1/modules/{MODULE}/swap", local[1])
    assert [r["status"] for r in local] == [200, 200], local
    assert "Secure" not in local[0]["headers"]["set-cookie"]
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, 15)

    # heartbeatd that does not answer: 504 after healthd's 5 s; heartbeatd gone: 502.
    swap_step = {"method": "POST", "host": host, "port": API_PORT, "path": swap,
                 "headers": bearer(CONTROL_TOKEN)}
    hb = lab.procs[("node1", "heartbeatd")]
    os.kill(hb.pid, signal.SIGSTOP)
    try:
        stalled = requests(lab, "client", [swap_step], s["ca"])[0]
    finally:
        os.kill(hb.pid, signal.SIGCONT)
    spec.check("POST", swap, stalled)
    assert stalled["status"] == 504, stalled
    lab.kill_daemon("node1", "heartbeatd")
    lab.wait_health("node1", 503, 10)
    gone = requests(lab, "client", [swap_step], s["ca"])[0]
    spec.check("POST", swap, gone)
    assert gone["status"] == 502 and "not running" in gone["json"]["error"], gone

    # A users file others may read stops healthd at start, saying why.
    os.chmod(s["users"], 0o640)
    res = run([HEALTHD, "--users-file", s["users"], "-n"], check=False)
    assert res.returncode == 1 and "mode 0640" in res.stderr and \
        "must be 0600" in res.stderr, res.stderr
    # One healthd (as systemd runs it, another user) may not read says whose it must be.
    os.chmod(s["users"], 0o600)
    res = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HEALTHD,
               "--users-file", s["users"], "-n"], check=False)
    assert res.returncode == 1 and "Permission denied: healthd runs as uid 65534 and " \
        "must own it (chown skyha:" in res.stderr, res.stderr
    print(f"    {spec.checked} answers checked against the OpenAPI file")


@healthd_lab()
def test_console_logs_in_and_swaps_in_chromium(lab):
    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError(f"{CHROMIUM} is missing: apt-get install chromium")
    s = make_secrets(lab)
    lab.healthd_args = {n: api_args(lab, n, s) for n in lab.nodes}
    # A backup: section (heartbeatd only notes that there is one): the console then
    # offers "backup now". Nothing acts on the request here (no systemd).
    lab.write_config(lab.config, lab.config_text() + "backup:\n  targets: []\n")
    lab.start_cluster()
    lab.wait_health("node1", 200, 5)
    browser = Browser(lab.ns("client"), lab.dir, ["--ignore-certificate-errors"])
    try:
        browser.navigate(f"https://{address(0, 'node1')}:{API_PORT}/")
        browser.wait_for("!document.getElementById('login').hidden", 20,
                         "the login form")
        browser.evaluate("document.getElementById('user').value = 'bob';"
                         "document.getElementById('password').value = 'not it';"
                         "document.getElementById('login-button').click(); true")
        note = browser.wait_for("document.getElementById('auth-note').textContent", 15,
                                "the refusal of a wrong password")
        assert "wrong user name or password" in note, note
        browser.evaluate("document.getElementById('user').value = 'alice';"
                         f"document.getElementById('password').value = "
                         f"{json.dumps(PASSWORDS['alice'][1])};"
                         "document.getElementById('login-button').click(); true")
        who = browser.wait_for("document.getElementById('who-text').textContent", 15,
                               "the logged-in line")
        assert who == "logged in as alice (admin)", who
        # This node serves: its box says PRIM; the swap button is there for an admin.
        browser.wait_for("document.querySelector('.node .role').textContent === 'PRIM'"
                         " && document.querySelector('button.action-swap') !== null", 10,
                         "PRIM and a swap button on the page")
        # A forced form asks first: nothing is sent until it is confirmed.
        browser.evaluate("document.querySelector('button.action-prim-forced').click(); true")
        text = browser.wait_for("document.querySelector('.confirm') && "
                                "document.querySelector('.confirm').textContent", 5)
        assert "Confirm prim --force" in text, text
        browser.evaluate("[...document.querySelectorAll('.confirm button')]"
                         ".find(b => b.textContent === 'Cancel').click(); true")
        # Backup now: heartbeatd writes the request for systemd's path unit.
        browser.evaluate("document.querySelector('button.action-backup').click(); true")
        outcome = browser.wait_for("document.querySelector('.outcome').textContent"
                                   ".includes('(HTTP') && "
                                   "document.querySelector('.outcome').textContent", 15,
                                   "the backup's outcome")
        assert "backup now: backup requested" in outcome and "(HTTP 200)" in outcome, \
            outcome
        request = os.path.join(lab.node_dir("node1", "run"), MODULE, "backup-now")
        with open(request) as f:
            assert "user alice from" in json.load(f)["by"]
        browser.wait_for("document.body.textContent.includes('requested: systemd starts "
                         f"skyha-backup@{MODULE}.service')", 10,
                         "the pending request on the page")
        browser.evaluate("document.querySelector('button.action-swap').click(); true")
        outcome = browser.wait_for("document.querySelector('.outcome').textContent"
                                   ".includes('(HTTP') && "
                                   "document.querySelector('.outcome').textContent", 15,
                                   "the swap's outcome")
        assert "swap: " in outcome and "(HTTP 200)" in outcome, outcome
        lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 15)
        browser.wait_for("document.querySelector('.node .role').textContent === 'SECOND'",
                         15, "the page showing node1 SECOND")
        print(f"    console: {who}; {outcome}")
    finally:
        browser.close()
    with open(lab.healthd_log_path("node1")) as f:
        log = f.read()
    assert f"api: user alice from {address(0, 'client')}: swap of module {MODULE} -> 200" \
        in log


@checkd_lab()
def test_restart_in_place_and_checkers_off_through_the_api(lab):
    lab.start_cluster()
    pid = lab.wait_app("node1", 15)
    d = os.path.join(lab.dir, "api")
    os.makedirs(d, exist_ok=True)
    tokens = os.path.join(d, "tokens")
    sha = subprocess.run(["sha256sum"], input=CONTROL_TOKEN, capture_output=True, text=True,
                         check=True).stdout.split()[0]
    with open(tokens, "w") as f:
        f.write(f"ops admin {sha} 2099-01-01T00:00:00Z\n")
    os.chmod(tokens, 0o600)
    log = open(os.path.join(lab.dir, "node1", "healthd.log"), "a")
    lab.procs[("node1", "healthd")] = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("node1"), HEALTHD, "--run-dir",
         lab.node_dir("node1", "run"), "--listen", "127.0.0.1:9031", "--tokens-file", tokens],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    log.close()
    spec = Spec()

    def act(action, body=None):
        step = {"method": "POST", "host": "127.0.0.1", "port": 9031, "tls": False,
                "path": f"/api/v1/modules/{MODULE}/{action}",
                "headers": {"Authorization": f"Bearer {CONTROL_TOKEN}"}}
        if body is not None:
            step["body"] = body
        for _ in range(100):  # healthd starting, then following the module
            res = requests(lab, "node1", [step], "-")[0]
            if res.get("status") not in (None, 404, 502):
                break
            time.sleep(0.1)
        spec.check("POST", step["path"], res)
        return res

    # Backup now: this module has no backup: section, heartbeatd says so.
    res = act("backup")
    assert res["status"] == 409 and "no backup: section" in res["json"]["error"], res
    assert not os.path.exists(os.path.join(lab.node_dir("node1", "run"), MODULE,
                                           "backup-now"))
    res = act("restart")
    assert res["status"] == 200 and "in place" in res["json"]["message"], res
    new = lab.wait_app("node1", 15, other_than=pid)
    st = lab.wait_checkd("node1", lambda s: "asked by the operator" in s["reason"],
                         "the operator's restart", 10)
    assert st["restarts_in_window"] == 0, describe_checkd(st)  # not counted
    assert lab.roles() == {"node1": "PRIM", "node2": "SECOND"}
    # Not where the application does not run (skyctl sends the same request).
    res = lab.skyctl("node2", "restart")
    assert res[0] == 1 and "does not run on this node" in res[1] + res.err, (res, res.err)
    # Checkers off: checkd says so; the application killed meanwhile stays down until
    # they are on again, then it is restarted.
    res = act("checkers", {"on": False})
    assert res["status"] == 200 and "checkers off" in res["json"]["message"], res
    lab.wait_checkd("node1", lambda s: s["checkers_enabled"] is False, "checkers off", 10)
    killed = lab.kill_app("node1")
    # Two of checkd's publications later (checkd publishes every second; heartbeatd's
    # status says how long ago it heard the last one), the application is still down:
    # with checkers on, checkd sees a dead process at once (pidfd) and restarts it.
    since = time.monotonic()
    for _ in range(2):
        deadline = time.monotonic() + 10
        while True:
            age = lab.status("node1")["actuators"]["checkd"]["age_ms"]
            heard = time.monotonic() - age / 1000.0
            if heard > since:
                since = heard
                break
            assert time.monotonic() < deadline, "no publication of checkd heard"
            time.sleep(0.1)
    seen = lab.checkd_state("node1")
    assert lab.app_pid("node1") is None, describe_checkd(seen)
    assert seen["checkers_enabled"] is False and seen["restarts_in_window"] == 0
    res = lab.skyctl("node1", "checkers", "on")
    assert res[0] == 0 and "checkers on" in res[1], (res, res.err)
    lab.wait_checkd("node1", lambda s: s["checkers_enabled"] is True, "checkers on", 10)
    again = lab.wait_app("node1", 15, other_than=killed)
    print(f"    restart in place: pid {pid} -> {new}; checkers off, app killed, stayed "
          f"down; checkers on: restarted as pid {again}")
