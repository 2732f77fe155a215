#!/usr/bin/python3
"""aws_standin.py - a local stand-in for the AWS APIs vipd calls, for the lab.

One HTTP server (127.0.0.1:PORT in a node's namespace) plays three parts:

    /latest/...   IMDSv2: PUT /latest/api/token (needs the TTL header) gives a token;
                  GET /latest/meta-data/iam/security-credentials/[ROLE] need it (401
                  otherwise) and give the role, then its credentials (a new generation
                  at each fetch: AccessKeyId AKIDSKYHA<n>, Token token-<n>)
    /ec2          the EC2 Query API (AssignPrivateIpAddresses, ReplaceRoute)
    /elb          the ELBv2 Query API (RegisterTargets, DeregisterTargets)

Every /ec2 and /elb request is checked the way AWS would: the SigV4 signature is
recomputed with botocore (python3-botocore: an implementation independent of libcurl's)
from the request as received, with the secret of the credentials generation its key id
names, and compared; the X-Amz-Security-Token must be that generation's token; the
scope must name the region and the service of the endpoint. A wrong one gets 403
SignatureDoesNotMatch, as from AWS.

The test steers it with a JSON control file (re-read at every request):

    faults         ["503", "429", "RequestLimitExceeded", "garbage", "huge", "badxml",
                    "slow"] answered in turn to the next EC2/ELB requests
    imds_faults    ["garbage", "500"] answered in turn to the next credentials GETs
    deny           true: every EC2/ELB call gets 403 UnauthorizedOperation
    expired_tokens ["token-1"]: calls with these tokens get 400 ExpiredToken
    creds_ttl_s    lifetime of the credentials it hands out (default 3600)
    wrong_secret   true: verify with another secret (every signature fails)

Each request is logged as one JSON line in LOG: {part, action, params, key_id, token,
signature_ok, status}.

    aws_standin.py PORT REGION CONTROL LOG
"""

import datetime
import http.server
import json
import os
import sys
import threading
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PORT, REGION, CONTROL, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ROLE = "skyha-vipd"
lock = threading.Lock()
state = {"imds_tokens": set(), "generations": {}, "n": 0, "faults_used": 0,
         "imds_faults_used": 0}


def control():
    try:
        with open(CONTROL) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def log(entry):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def xml_error(code, message):
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>standin</RequestID></Response>").encode()


def verify(handler, body, service, secret_for):
    """(ok, key_id, token, why) for the request's SigV4 Authorization."""
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False, None, None, "no SigV4 Authorization header"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or scope[2] != REGION or scope[3] != service or \
            scope[4] != "aws4_request":
        return False, None, None, f"bad credential scope {fields.get('Credential')}"
    key_id = scope[0]
    gen = secret_for(key_id)
    if gen is None:
        return False, key_id, None, "unknown access key"
    token = handler.headers.get("X-Amz-Security-Token")
    if token != gen["token"]:
        return False, key_id, token, "wrong or missing security token"
    signed = fields.get("SignedHeaders", "").split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return False, key_id, token, f"host and x-amz-date must be signed: {signed}"
    amz_date = handler.headers.get("X-Amz-Date", "")
    headers = {h: handler.headers.get(h, "") for h in signed}
    req = AWSRequest(method=handler.command,
                     url=f"http://{handler.headers.get('Host')}{handler.path}",
                     data=body, headers=headers)
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key_id, gen["secret"], token), service, REGION)
    canonical = signer.canonical_request(req)
    expected = signer.signature(signer.string_to_sign(req, canonical), req)
    if expected != fields.get("Signature"):
        return False, key_id, token, "signature mismatch"
    return True, key_id, token, ""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def reply(self, status, body, ctype="text/xml", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_PUT(self):
        self.body()
        if self.path != "/latest/api/token" or \
                not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            log({"part": "imds", "action": "PUT " + self.path, "status": 400})
            return self.reply(400, b"", "text/plain")
        token = os.urandom(16).hex()
        with lock:
            state["imds_tokens"].add(token)
        log({"part": "imds", "action": "token", "status": 200})
        self.reply(200, token.encode(), "text/plain")

    def do_GET(self):
        base = "/latest/meta-data/iam/security-credentials/"
        if not self.path.startswith(base):
            return self.reply(404, b"", "text/plain")
        if self.headers.get("X-aws-ec2-metadata-token") not in state["imds_tokens"]:
            log({"part": "imds", "action": "GET " + self.path, "status": 401})
            return self.reply(401, b"", "text/plain")
        if self.path == base:
            log({"part": "imds", "action": "role", "status": 200})
            return self.reply(200, ROLE.encode(), "text/plain")
        if self.path != base + ROLE:
            return self.reply(404, b"", "text/plain")
        ctl = control()
        with lock:
            faults = ctl.get("imds_faults", [])
            fault = faults[state["imds_faults_used"]] \
                if state["imds_faults_used"] < len(faults) else None
            if fault:
                state["imds_faults_used"] += 1
        if fault == "garbage":
            log({"part": "imds", "action": "credentials", "status": 200, "fault": fault})
            return self.reply(200, b"{\"AccessKeyId\": 12, \"Token\": [", "application/json")
        if fault == "500":
            log({"part": "imds", "action": "credentials", "status": 500, "fault": fault})
            return self.reply(500, b"", "text/plain")
        with lock:
            state["n"] += 1
            n = state["n"]
            gen = {"key_id": f"AKIDSKYHA{n}", "secret": os.urandom(20).hex(),
                   "token": f"token-{n}"}
            state["generations"][gen["key_id"]] = gen
        ttl = ctl.get("creds_ttl_s", 3600)
        exp = datetime.datetime.utcnow() + datetime.timedelta(seconds=ttl)
        doc = {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": gen["key_id"],
               "SecretAccessKey": gen["secret"], "Token": gen["token"],
               "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "LastUpdated": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
        log({"part": "imds", "action": "credentials", "status": 200,
             "key_id": gen["key_id"], "ttl_s": ttl})
        self.reply(200, json.dumps(doc).encode(), "application/json")

    def do_POST(self):
        body = self.body()
        part = self.path.strip("/")
        if part not in ("ec2", "elb"):
            return self.reply(404, b"", "text/plain")
        service = "ec2" if part == "ec2" else "elasticloadbalancing"
        ctl = control()
        params = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
        action = params.get("Action", "")

        def secret_for(key_id):
            gen = state["generations"].get(key_id)
            if gen and ctl.get("wrong_secret"):
                return dict(gen, secret="0" * 40)
            return gen

        ok, key_id, token, why = verify(self, body, service, secret_for)
        entry = {"part": part, "action": action, "params": params, "key_id": key_id,
                 "token": token, "signature_ok": ok}
        with lock:
            faults = ctl.get("faults", [])
            fault = faults[state["faults_used"]] if ok and \
                state["faults_used"] < len(faults) else None
            if fault:
                state["faults_used"] += 1
        if not ok:
            entry.update(status=403, why=why)
            log(entry)
            return self.reply(403, xml_error("SignatureDoesNotMatch", why))
        if token in ctl.get("expired_tokens", []):
            entry.update(status=400, why="expired token")
            log(entry)
            return self.reply(400, xml_error("ExpiredToken",
                                             "The security token included in the "
                                             "request is expired"))
        if ctl.get("deny"):
            entry.update(status=403)
            log(entry)
            return self.reply(403, xml_error(
                "UnauthorizedOperation",
                f"You are not authorized to perform this operation ({action})."))
        if fault:
            entry.update(fault=fault)
            if fault in ("503", "429"):
                entry.update(status=int(fault))
                log(entry)
                return self.reply(int(fault), xml_error("ServiceUnavailable" if fault == "503"
                                                        else "TooManyRequests", "try later"))
            if fault == "RequestLimitExceeded":
                entry.update(status=503)
                log(entry)
                return self.reply(503, xml_error("RequestLimitExceeded",
                                                 "Request limit exceeded."))
            if fault == "garbage":
                entry.update(status=200)
                log(entry)
                return self.reply(200, b"\x00\xff<<<not xml", "text/xml")
            if fault == "badxml":
                entry.update(status=500)
                log(entry)
                return self.reply(500, b"<Response><Errors><Error><Code>Intern", "text/xml")
            if fault == "huge":
                entry.update(status=200)
                log(entry)
                return self.reply(200, b"<a>" + b"x" * (1024 * 1024) + b"</a>", "text/xml")
        entry.update(status=200)
        log(entry)
        name = f"{action}Response"
        self.reply(200, (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{name} "
                         f"xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>"
                         f"standin</requestId><return>true</return></{name}>").encode())


http.server.ThreadingHTTPServer.allow_reuse_address = True
server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"aws stand-in on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
