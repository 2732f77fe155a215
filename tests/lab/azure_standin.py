#!/usr/bin/python3
"""azure_standin.py - a local stand-in for Azure IMDS and Resource Manager, for the lab.

One HTTP server (127.0.0.1:PORT in a node's namespace):

    GET /metadata/identity/oauth2/token   managed identity: needs `Metadata: true`; a new
                                          token tok-<n> at each call
    GET/PUT .../networkInterfaces/NIC     the NIC documents; a PUT needs `If-Match` equal
                                          to the current etag (412 otherwise), and is
                                          refused (400 PrivateIPAddressInUse) if it would
                                          give an address another NIC still holds, or
                                          (400 InvalidResourceReference) if it names a
                                          backend pool no load balancer of the state's
                                          `load_balancers` ({lb: [pool, ...]}) has
    PUT .../routeTables/T/routes/R        a route
    GET /operations/ID                    long-running operations: every PUT answers 202
                                          with Azure-AsyncOperation; the operation says
                                          InProgress once, then Succeeded

Every ARM request needs `Authorization: Bearer <a token handed out and not expired>`
(401 InvalidAuthenticationToken otherwise). The cloud's state (NICs, routes) is one JSON
file shared by both nodes' stand-ins (STATE, under an exclusive flock), as the real
cloud is one.

Steered by a JSON control file (re-read at every request):
    faults          ["500", "429", "garbage"] answered in turn to the next ARM requests
    imds_faults     ["garbage", "500"] answered in turn to the next token requests
    deny            true: every ARM PUT gets 403 AuthorizationFailed
    expire_first_token  true: the first token this stand-in hands out gets 401
                    ExpiredAuthenticationToken
    etag_race       N: the next N NIC PUTs find the NIC changed meanwhile (412)
    op_fail         true: operations end Failed
    location        true: PUTs name the operation in Location only (no
                    Azure-AsyncOperation); it answers 202 once, then 200
    retry_after     N: PUTs and operations in progress say Retry-After: N; a poll
                    sooner than that after the previous answer is logged early: true

Requests are logged one JSON line each in LOG: {part, method, path, status, token,
if_match, etag, fault}.

    azure_standin.py PORT STATE CONTROL LOG
"""

import fcntl
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse

PORT, STATE, CONTROL, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()
local = {"faults_used": 0, "imds_faults_used": 0, "races_used": 0, "ops": {}}
NIC_RE = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
                    r"Microsoft\.Network/networkInterfaces/([^/?]+)$")
ROUTE_RE = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
                      r"Microsoft\.Network/routeTables/([^/]+)/routes/([^/?]+)$")


def control():
    try:
        with open(CONTROL) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def log(entry):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Cloud:
    """The shared state file, locked for the duration of a with block."""

    def __enter__(self):
        self.f = open(STATE, "r+")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        self.state = json.load(self.f)
        return self.state

    def __exit__(self, *exc):
        self.f.seek(0)
        self.f.truncate()
        json.dump(self.state, self.f)
        self.f.flush()
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()
        return False


def arm_error(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def reply(self, status, body=b"", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def token_ok(self, entry, ctl):
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        entry["token"] = token
        with Cloud() as st:
            exp = st.get("tokens", {}).get(token or "")
        if exp is None or exp < time.time():
            entry["status"] = 401
            log(entry)
            self.reply(401, arm_error("InvalidAuthenticationToken",
                                      "The access token is invalid."))
            return False
        if ctl.get("expire_first_token") and token == local.get("first_token"):
            entry["status"] = 401
            log(entry)
            self.reply(401, arm_error("ExpiredAuthenticationToken",
                                      "The access token expiry UTC time is earlier "
                                      "than current UTC time."))
            return False
        return True

    def fault(self, entry, ctl):
        with lock:
            faults = ctl.get("faults", [])
            f = faults[local["faults_used"]] if local["faults_used"] < len(faults) else None
            if f:
                local["faults_used"] += 1
        if not f:
            return False
        entry["fault"] = f
        if f in ("500", "429"):
            entry["status"] = int(f)
            log(entry)
            self.reply(int(f), arm_error("InternalServerError" if f == "500"
                                         else "TooManyRequests", "try later"),
                       {"Retry-After": "0"} if f == "429" else None)
        else:
            entry["status"] = 200
            log(entry)
            self.reply(200, b"{\"etag\": 12, \"properties\": [")
        return True

    def do_GET(self):
        path, _, query = self.path.partition("?")
        ctl = control()
        if path == "/metadata/identity/oauth2/token":
            entry = {"part": "imds", "method": "GET", "path": path}
            q = dict(urllib.parse.parse_qsl(query))
            if self.headers.get("Metadata") != "true" or "resource" not in q:
                entry["status"] = 400
                log(entry)
                return self.reply(400, b"{\"error\":\"invalid_request\"}")
            with lock:
                faults = ctl.get("imds_faults", [])
                f = faults[local["imds_faults_used"]] \
                    if local["imds_faults_used"] < len(faults) else None
                if f:
                    local["imds_faults_used"] += 1
            if f == "garbage":
                entry.update(status=200, fault=f)
                log(entry)
                return self.reply(200, b"{\"access_token\": 5")
            if f == "500":
                entry.update(status=500, fault=f)
                log(entry)
                return self.reply(500, b"")
            with Cloud() as st:
                st["n_tokens"] = st.get("n_tokens", 0) + 1
                token = f"tok-{os.getpid()}-{st['n_tokens']}"
                local.setdefault("first_token", token)
                st.setdefault("tokens", {})[token] = time.time() + 3600
            entry.update(status=200, token=token)
            log(entry)
            return self.reply(200, json.dumps({
                "access_token": token, "expires_on": str(int(time.time()) + 3600),
                "resource": q["resource"], "token_type": "Bearer"}).encode())
        entry = {"part": "arm", "method": "GET", "path": path}
        if not self.token_ok(entry, ctl) or self.fault(entry, ctl):
            return
        m = NIC_RE.match(path)
        if m:
            with Cloud() as st:
                nic = st["nics"].get(m.group(3))
            if nic is None:
                entry["status"] = 404
                log(entry)
                return self.reply(404, arm_error("NotFound", "no such NIC"))
            entry.update(status=200, etag=nic["etag"])
            log(entry)
            return self.reply(200, json.dumps(nic).encode())
        if path.startswith("/operations/"):
            op = path.rsplit("/", 1)[1]
            now = time.monotonic()
            with lock:
                polls = local["ops"].get(op)
                if polls is not None:
                    local["ops"][op] = polls + 1
                last = local.setdefault("op_answered", {}).get(op)
                local["op_answered"][op] = now
            wait = ctl.get("retry_after", 0)
            if last is not None and wait and now - last < wait:
                entry["early"] = True
            if polls is not None and ctl.get("location"):
                done = polls > 0
                entry.update(status=200 if done else 202, operation="done" if done
                             else "running")
                log(entry)
                return self.reply(200 if done else 202, b"" if not done else b"{}",
                                  None if done else {"Retry-After": str(wait),
                                                     "Location": self.path})
            if polls is None:
                entry["status"] = 404
                log(entry)
                return self.reply(404, arm_error("NotFound", "no such operation"))
            status = "InProgress" if polls == 0 else \
                ("Failed" if ctl.get("op_fail") else "Succeeded")
            entry.update(status=200, operation=status)
            log(entry)
            doc = {"status": status}
            if status == "InProgress":
                doc_headers = {"Retry-After": str(wait)}
            else:
                doc_headers = None
            if status == "Failed":
                doc["error"] = {"code": "InternalError", "message": "the move failed"}
            return self.reply(200, json.dumps(doc).encode(), doc_headers)
        entry["status"] = 404
        log(entry)
        self.reply(404, arm_error("NotFound", path))

    def do_PUT(self):
        path, _, _query = self.path.partition("?")
        body = self.body()
        ctl = control()
        entry = {"part": "arm", "method": "PUT", "path": path,
                 "if_match": self.headers.get("If-Match")}
        if not self.token_ok(entry, ctl) or self.fault(entry, ctl):
            return
        if ctl.get("deny"):
            entry["status"] = 403
            log(entry)
            return self.reply(403, arm_error(
                "AuthorizationFailed", "The client does not have authorization to "
                "perform action 'Microsoft.Network/networkInterfaces/write'."))
        try:
            doc = json.loads(body)
        except ValueError:
            entry["status"] = 400
            log(entry)
            return self.reply(400, arm_error("InvalidRequestContent", "not JSON"))
        m, r = NIC_RE.match(path), ROUTE_RE.match(path)
        with Cloud() as st:
            if m:
                name = m.group(3)
                nic = st["nics"].get(name)
                with lock:
                    race = local["races_used"] < ctl.get("etag_race", 0)
                    if race:
                        local["races_used"] += 1
                if nic is not None and race:
                    nic["etag"] = f"W/\"{int(nic['etag'][3:-1]) + 1}\""
                if nic is None or entry["if_match"] != nic["etag"]:
                    entry.update(status=412, etag=nic and nic["etag"])
                    log(entry)
                    return self.reply(412, arm_error(
                        "PreconditionFailed", "The etag does not match."))
                mine = {ic["properties"]["privateIPAddress"]
                        for ic in doc["properties"]["ipConfigurations"]}
                for other, onic in st["nics"].items():
                    if other == name:
                        continue
                    theirs = {ic["properties"]["privateIPAddress"]
                              for ic in onic["properties"]["ipConfigurations"]}
                    if mine & theirs:
                        entry["status"] = 400
                        log(entry)
                        return self.reply(400, arm_error(
                            "PrivateIPAddressInUse",
                            f"{sorted(mine & theirs)} in use by {other}"))
                known = {f"/subscriptions/{m.group(1)}/resourceGroups/{m.group(2)}/providers/"
                         f"Microsoft.Network/loadBalancers/{lb}/backendAddressPools/{p}".lower()
                         for lb, pools in st.get("load_balancers", {}).items()
                         for p in pools}
                named = [bp.get("id", "")
                         for ic in doc["properties"]["ipConfigurations"]
                         for bp in ic["properties"].get("loadBalancerBackendAddressPools", [])]
                unknown = [i for i in named if i.lower() not in known]
                if unknown:
                    entry["status"] = 400
                    log(entry)
                    return self.reply(400, arm_error(
                        "InvalidResourceReference",
                        f"Resource {unknown[0]} referenced by resource {name} was not "
                        "found."))
                nic["properties"]["ipConfigurations"] = doc["properties"]["ipConfigurations"]
                nic["etag"] = f"W/\"{int(nic['etag'][3:-1]) + 1}\""
                result = nic
            elif r:
                st.setdefault("routes", {})[f"{r.group(3)}/{r.group(4)}"] = doc["properties"]
                result = {"properties": doc["properties"]}
            else:
                entry["status"] = 404
                log(entry)
                return self.reply(404, arm_error("NotFound", path))
        op = os.urandom(6).hex()
        with lock:
            local["ops"][op] = 0
            local.setdefault("op_answered", {})[op] = time.monotonic()
        entry.update(status=202, operation=op)
        log(entry)
        where = f"http://127.0.0.1:{PORT}/operations/{op}"
        self.reply(202, json.dumps(result).encode(),
                   {"Location" if ctl.get("location") else "Azure-AsyncOperation": where,
                    "Retry-After": str(ctl.get("retry_after", 0))})


http.server.ThreadingHTTPServer.allow_reuse_address = True
server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"azure stand-in on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
