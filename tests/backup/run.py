#!/usr/bin/python3
"""run.py - backupd's object stores against real servers (docs/backup.md, "Targets").

Starts s3rver and Azurite (npm, installed in tools/npm by `npm ci` when missing) on
loopback ports, each behind a small fault proxy, and runs build/asan/bkstore_test
(tests/backup/store_test.c) once per target and scenario:

  campaign         dir, s3, azure: put/get/get_range/list (1100 objects, pages)/del,
                   a 20 MiB object (multipart upload / block list), names, sizes
  denied           s3: a wrong secret, an unknown key id; azure: a wrong account key,
                   a managed-identity token for another audience
                   -> -EACCES with the service's error code in the reason
  retried          the proxy answers 500 to the first 2 requests, or resets the first
                   2 connections -> the put and get succeed, retries counted
  partfail         the proxy fails the second part (block) of a 20 MiB put for good ->
                   -EIO, no object; S3's multipart upload is aborted
  timeout          the proxy never answers -> -ETIMEDOUT
  abort            the proxy never answers, the abort flag rises -> -ECANCELED
  truncated        the proxy cuts every GET body short -> -EIO, never a short object
  reset            the proxy resets every connection -> -EIO
  roundtrip        s3 virtual-host style (<bucket>.s3.localhost, which curl resolves
                   to loopback); s3 with credentials: imds (an IMDSv2 stand-in gives a role's session
                   credentials; the proxy insists on the signed x-amz-security-token),
                   and the same when they expire midway (400 ExpiredToken: fetched again);
                   azure with credentials: managed_identity (a metadata stand-in gives
                   a token, Azurite with --oauth basic checks it over https, ca_file)

s3rver 3.7.1 checks the access key id but not SigV4 signatures ("Signature version 4
calculation is unimplemented" in its authentication.js), so the proxy in front of it
recomputes every request's signature with botocore's S3SigV4Auth (an implementation
independent of ours) and checks x-amz-content-sha256 against the body, answering 403
SignatureDoesNotMatch as S3 does. Azurite checks SharedKey itself.

Prints one line per run and exactly `N passed, N failed` last (the sum of the
driver's checks, plus one failure per run that crashed). Exit code 0 iff none failed.

    /usr/bin/python3 tests/backup/run.py [-k SUBSTRING] [-v]
"""

import argparse
import base64
import hashlib
import json
import http.client
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NPM_DIR = os.path.join(ROOT, "tools", "npm")
DRIVER = os.path.join(ROOT, "build", "asan", "bkstore_test")

S3_KEY_ID, S3_SECRET, S3_REGION, S3_BUCKET = "S3RVER", "S3RVER", "us-east-1", "skyha-bk"
AZ_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, in Azure's documentation).
AZ_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
          "K1SZFPTOtr/KBHBeksoGMGw==")
READY_WAIT_S = 60  # servers starting on a loaded machine: a bound, not a timing


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, name):
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on port {port}")


def ensure_npm():
    """s3rver and Azurite in tools/npm/node_modules, from the lock file."""
    bins = [os.path.join(NPM_DIR, "node_modules", ".bin", b) for b in ("s3rver", "azurite-blob")]
    if all(os.path.exists(b) for b in bins):
        return
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm is missing (tools/deps.sh test installs nodejs)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NPM_DIR, check=True,
                   stdout=subprocess.DEVNULL)


def s3_error(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()


def check_sigv4(handler, body, token=None):
    """'' if the request's SigV4 signature is right for S3RVER/S3RVER (and carries the
    session token, signed, if one is required), else why."""
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or scope[2] != S3_REGION or scope[3] != "s3":
        return f"bad credential scope {fields.get('Credential')}"
    if scope[0] != S3_KEY_ID:
        return ""  # s3rver answers InvalidAccessKeyId itself
    signed = fields.get("SignedHeaders", "").split(";")
    for must in ("host", "x-amz-date", "x-amz-content-sha256"):
        if must not in signed:
            return f"{must} is not signed: {signed}"
    if handler.headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 is not the body's SHA-256"
    if token is not None and (handler.headers.get("x-amz-security-token") != token or
                              "x-amz-security-token" not in signed):
        return "the session token is missing, wrong or not signed"
    headers = {h: handler.headers.get(h, "") for h in signed}
    req = AWSRequest(method=handler.command,
                     url=f"http://{handler.headers.get('Host')}{handler.path}",
                     data=body, headers=headers)
    req.context["timestamp"] = handler.headers.get("x-amz-date", "")
    signer = S3SigV4Auth(Credentials(S3_KEY_ID, S3_SECRET, token), "s3", S3_REGION)
    canonical = signer.canonical_request(req)
    expected = signer.signature(signer.string_to_sign(req, canonical), req)
    if expected != fields.get("Signature"):
        return "signature mismatch"
    return ""


class Proxy:
    """A forwarding HTTP proxy with faults; mode is set between driver runs."""

    def __init__(self, upstream_port, verify_s3):
        self.upstream_port = upstream_port
        self.verify_s3 = verify_s3
        self.mode, self.limit, self.count = "pass", 0, 0
        self.sig_failures = 0
        self.connections = self.requests = 0
        self.parts = self.aborts = 0
        self.require_token = None  # () -> the session token IMDS gives now
        self.on_expire = None
        self.lock = threading.Lock()
        self.port = free_port()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # keep-alive: no 40 ms stalls

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with proxy.lock:
                    proxy.connections += 1

            def do_any(self):
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A client that gave up (timeout, reset scenarios) mid-reply.
                if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    return
                super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, mode, limit=0):
        with self.lock:
            self.mode, self.limit, self.count = mode, limit, 0
            self.parts = 0

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def reset(h):
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()

    def reply(self, h, status, body, headers=()):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h):
        n = int(h.headers.get("Content-Length", "0") or 0)
        body = h.rfile.read(n) if n else b""
        with self.lock:
            mode, limit, seq = self.mode, self.limit, self.count
            self.count += 1
            self.requests += 1
        if mode == "stall":
            # Never answer; return once the client gives up (or after a while).
            select.select([h.connection], [], [], 30)
            h.close_connection = True
            return
        if mode == "reset" and seq < limit:
            return self.reset(h)
        if h.command == "DELETE" and "uploadId=" in h.path:
            with self.lock:
                self.aborts += 1
        if mode == "failpart" and h.command == "PUT" and \
                ("partNumber=" in h.path or "comp=block" in h.path.split("&")):
            with self.lock:
                self.parts += 1
                nth = self.parts
            if nth >= 2:  # the second part and every retry of it
                return self.reply(h, 500, s3_error("InternalError", "injected: a part"),
                                  [("Content-Type", "application/xml")])
        if mode == "fail500" and seq < limit:
            return self.reply(h, 500, s3_error("InternalError", "injected by the proxy"),
                              [("Content-Type", "application/xml")])
        if mode == "expire" and seq == limit and self.on_expire:
            self.on_expire()  # IMDS now hands out new credentials
        if self.require_token and \
                h.headers.get("x-amz-security-token") != self.require_token():
            return self.reply(h, 400, s3_error("ExpiredToken",
                                               "The provided token has expired."),
                              [("Content-Type", "application/xml")])
        if self.verify_s3:
            why = check_sigv4(h, body,
                              self.require_token() if self.require_token else None)
            if why:
                with self.lock:
                    self.sig_failures += 1
                return self.reply(h, 403, s3_error("SignatureDoesNotMatch",
                                                   "the proxy's check: " + why),
                                  [("Content-Type", "application/xml")])
        up = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        up.putrequest(h.command, h.path, skip_host=True, skip_accept_encoding=True)
        for k, v in h.headers.items():
            if k.lower() not in ("connection", "keep-alive", "proxy-connection"):
                up.putheader(k, v)
        up.endheaders(body if body or h.command in ("PUT", "POST") else None)
        resp = up.getresponse()
        data = resp.read()
        up.close()
        hop = ("connection", "keep-alive", "transfer-encoding", "content-length")
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in hop]
        if mode == "truncate" and h.command == "GET" and len(data) > 1:
            # Announce the whole body, send half, close.
            h.send_response(resp.status)
            for k, v in headers:
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        if h.command == "HEAD":
            length = resp.getheader("Content-Length", "0")
            h.send_response(resp.status)
            for k, v in headers:
                h.send_header(k, v)
            h.send_header("Content-Length", length)
            h.end_headers()
            return
        self.reply(h, resp.status, data, headers)


class Metadata:
    """IMDSv2 (AWS) and the instance metadata service's managed identity (Azure), for
    one role: S3RVER's keys with a session token, and a JWT Azurite's basic OAuth
    accepts (audience storage.azure.com, an sts.windows.net issuer, a lifetime)."""

    def __init__(self, audience="https://storage.azure.com"):
        self.audience = audience
        self.session_token = "FwoGZXIvYXdzEJr" + os.urandom(12).hex()
        self.imds_tokens = set()
        self.requests = {"aws": 0, "azure": 0}
        self.port = free_port()
        md = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, body, ctype="text/plain"):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                if self.path != "/latest/api/token" or \
                        not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.send(400, "bad token request")
                token = os.urandom(16).hex()
                md.imds_tokens.add(token)
                self.send(200, token)

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == "/metadata/identity/oauth2/token":
                    q = parse_qs(url.query)
                    if self.headers.get("Metadata") != "true" or \
                            q.get("resource") != ["https://storage.azure.com/"]:
                        return self.send(400, "bad identity request")
                    md.requests["azure"] += 1
                    now = int(time.time())
                    claims = {"aud": md.audience,
                              "iss": "https://sts.windows.net/72f988bf-0000-0000-0000-000000000000/",
                              "iat": now - 60, "nbf": now - 60, "exp": now + 3600,
                              "oid": "backupd-test"}
                    enc = lambda o: base64.urlsafe_b64encode(
                        json.dumps(o).encode()).decode().rstrip("=")
                    jwt = enc({"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + ".c2ln"
                    return self.send(200, json.dumps(
                        {"access_token": jwt, "expires_on": str(now + 3600),
                         "resource": "https://storage.azure.com/", "token_type": "Bearer"}),
                        "application/json")
                if self.headers.get("X-aws-ec2-metadata-token") not in md.imds_tokens:
                    return self.send(401, "no or unknown IMDSv2 token")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self.send(200, "skyha-backup-role\n")
                if self.path == base + "skyha-backup-role":
                    md.requests["aws"] += 1
                    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                            time.gmtime(time.time() + 3600))
                    return self.send(200, json.dumps(
                        {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": S3_KEY_ID,
                         "SecretAccessKey": S3_SECRET, "Token": md.session_token,
                         "Expiration": expires}), "application/json")
                self.send(404, "not found")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rotate(self):
        self.session_token = "FwoGZXIvYXdzEJr" + os.urandom(12).hex()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Servers:
    def __init__(self):
        self.procs = []

    def start_all(self, workdir):
        env = dict(os.environ)
        # s3rver makes continuation tokens with DES: OpenSSL 3's legacy provider.
        env["NODE_OPTIONS"] = "--openssl-legacy-provider"
        bin_dir = os.path.join(NPM_DIR, "node_modules", ".bin")
        self.s3_port = free_port()
        s3dir = os.path.join(workdir, "s3rver")
        os.makedirs(s3dir)
        self.s3 = self.start([os.path.join(bin_dir, "s3rver"), "-d", s3dir, "-a", "127.0.0.1",
                              "-p", str(self.s3_port), "--silent",
                              # <bucket>.s3.localhost is virtual-host style
                              "--service-endpoint", "localhost",
                              "--configure-bucket", S3_BUCKET], env, "s3rver", workdir)
        self.az_port = free_port()
        self.az = self.start([os.path.join(bin_dir, "azurite-blob"), "--blobHost", "127.0.0.1",
                              "--blobPort", str(self.az_port), "--inMemoryPersistence",
                              "--disableTelemetry", "--silent"], dict(os.environ), "azurite",
                             workdir)
        # A second Azurite over https that takes bearer tokens (basic OAuth
        # checks their format, audience, issuer and lifetime, not a signature).
        self.cert = os.path.join(workdir, "azurite.pem")
        self.cert_key = os.path.join(workdir, "azurite.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-days", "2", "-keyout", self.cert_key, "-out", self.cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.azs_port = free_port()
        self.azs = self.start([os.path.join(bin_dir, "azurite-blob"), "--blobHost", "127.0.0.1",
                               "--blobPort", str(self.azs_port), "--inMemoryPersistence",
                               "--disableTelemetry", "--silent", "--oauth", "basic",
                               "--cert", self.cert, "--key", self.cert_key],
                              dict(os.environ), "azurite-https", workdir)
        wait_port(self.s3_port, self.s3, "s3rver")
        wait_port(self.az_port, self.az, "azurite")
        wait_port(self.azs_port, self.azs, "azurite-https")
        self.metadata = Metadata()
        self.metadata_other = Metadata(audience="https://management.azure.com")
        self.s3_proxy = Proxy(self.s3_port, verify_s3=True)
        self.az_proxy = Proxy(self.az_port, verify_s3=False)

    def start(self, argv, env, name, workdir):
        log = open(os.path.join(workdir, name + ".log"), "wb")
        p = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self):
        for p in (getattr(self, "s3_proxy", None), getattr(self, "az_proxy", None),
                  getattr(self, "metadata", None), getattr(self, "metadata_other", None)):
            if p:
                p.close()
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, 15)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, 9)
                    p.wait()


def run_driver(label, scenario, cfg, env_extra, verbose):
    env = dict(os.environ)
    env.update(env_extra)
    argv = [DRIVER, scenario] + [f"{k}={v}" for k, v in cfg.items()]
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    out = p.stdout.decode(errors="replace").splitlines()
    last = out[-1] if out else ""
    try:
        ok, bad = (int(x.split()[0]) for x in last.split(", "))
    except ValueError:
        ok, bad = 0, 1
        out.append(f"(crashed or no result, exit {p.returncode})")
    if p.returncode != 0 and bad == 0:
        bad = 1
    state = "PASS" if bad == 0 else "FAIL"
    print(f"{state} {label}: {ok} passed, {bad} failed ({time.monotonic() - t0:.1f} s)")
    if bad or verbose:
        for line in out[:-1] if out and out[-1] == last and bad == 0 else out:
            print("    " + line)
    return ok, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="run only runs whose label contains this")
    ap.add_argument("-v", action="store_true", help="print the driver's output")
    ap.add_argument("--short", action="store_true",
                    help="make check's size: the campaigns list 60 objects in pages of 25 "
                         "(the same paths; 1100 in pages of 1000 otherwise)")
    args = ap.parse_args()
    if args.short:
        os.environ["BKSTORE_MANY"] = "60"
    if not os.path.exists(DRIVER):
        print(f"{DRIVER} is missing: make build/asan/bkstore_test")
        print("0 passed, 1 failed")
        return 1
    t0 = time.monotonic()
    ensure_npm()
    work = tempfile.mkdtemp(prefix="skyha-bkstore-")
    servers = None
    passed = failed = 0
    try:
        servers = Servers()
        servers.start_all(work)
        keyfile = os.path.join(work, "azure.key")
        with open(keyfile, "w") as f:
            f.write(AZ_KEY)
        badkey = os.path.join(work, "azure-wrong.key")
        with open(badkey, "w") as f:
            f.write("AAAA" + AZ_KEY[4:])
        s3_env = {"AWS_ACCESS_KEY_ID": S3_KEY_ID, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
        s3 = {"kind": "s3", "bucket": S3_BUCKET, "region": S3_REGION, "path_style": "1",
              "endpoint": f"http://127.0.0.1:{servers.s3_proxy.port}", "prefix": "bk/"}
        if args.short:
            s3["list_page"] = "25"
        az = {"kind": "azure", "account": AZ_ACCOUNT, "container": "skyha-bk",
              "endpoint": f"http://127.0.0.1:{servers.az_proxy.port}/{AZ_ACCOUNT}",
              "key_file": keyfile, "prefix": "bk/"}
        if args.short:
            az["list_page"] = "25"
        quick = {"timeout_ms": "2000", "attempts": "3"}
        runs = [
            ("dir campaign", None, "campaign",
             {"kind": "dir", "path": os.path.join(work, "dir")}, {}),
            ("s3 campaign", servers.s3_proxy, "campaign", s3, s3_env),
            ("azure campaign", servers.az_proxy, "campaign", az, {}),
            ("s3 denied: wrong secret", servers.s3_proxy, "denied", s3,
             dict(s3_env, AWS_SECRET_ACCESS_KEY="not-the-secret")),
            ("s3 denied: unknown key id", servers.s3_proxy, "denied", s3,
             dict(s3_env, AWS_ACCESS_KEY_ID="AKIDUNKNOWN")),
            ("azure denied: wrong key", servers.az_proxy, "denied",
             dict(az, key_file=badkey), {}),
        ]
        md = f"http://127.0.0.1:{servers.metadata.port}"
        runs += [
            ("s3 roundtrip: imds credentials", ("imds", servers.s3_proxy), "roundtrip",
             dict(s3, credentials="imds"),
             {"SKYHA_AWS_IMDS_ENDPOINT": md, "AWS_ACCESS_KEY_ID": "",
              "AWS_SECRET_ACCESS_KEY": ""}),
            ("s3 roundtrip: the session token expires midway",
             ("imds", servers.s3_proxy, "expire", 3), "roundtrip",
             dict(s3, credentials="imds"),
             {"SKYHA_AWS_IMDS_ENDPOINT": md, "AWS_ACCESS_KEY_ID": "",
              "AWS_SECRET_ACCESS_KEY": ""}),
            ("s3 roundtrip: virtual-host style", servers.s3_proxy, "roundtrip",
             dict(s3, path_style="0",
                  endpoint=f"http://s3.localhost:{servers.s3_proxy.port}"), s3_env),
            ("azure roundtrip: managed identity over https", None, "roundtrip",
             dict(az, credentials="managed_identity", key_file="", ca_file=servers.cert,
                  endpoint=f"https://127.0.0.1:{servers.azs_port}/{AZ_ACCOUNT}"),
             {"SKYHA_AZURE_IMDS_ENDPOINT": md}),
            ("azure denied: a token for another audience", None, "denied",
             dict(az, credentials="managed_identity", key_file="", ca_file=servers.cert,
                  endpoint=f"https://127.0.0.1:{servers.azs_port}/{AZ_ACCOUNT}"),
             {"SKYHA_AZURE_IMDS_ENDPOINT":
              f"http://127.0.0.1:{servers.metadata_other.port}"}),
        ]
        for name, proxy, cfg, env in (("s3", servers.s3_proxy, s3, s3_env),
                                      ("azure", servers.az_proxy, az, {})):
            runs += [
                (f"{name} retried: 500 twice", (proxy, "fail500", 2), "retried",
                 dict(cfg, **quick), env),
                (f"{name} retried: reset twice", (proxy, "reset", 2), "retried",
                 dict(cfg, **quick), env),
                (f"{name} a part fails for good", (proxy, "failpart", 0), "partfail",
                 dict(cfg, attempts="3"), env),
                (f"{name} seed for truncation", proxy, "seed", cfg, env),
                (f"{name} truncated bodies", (proxy, "truncate", 0), "truncated",
                 dict(cfg, **quick), env),
                (f"{name} timeout", (proxy, "stall", 0), "timeout",
                 dict(cfg, timeout_ms="1000", attempts="2"), env),
                (f"{name} reset every connection", (proxy, "reset", 1 << 30), "reset",
                 dict(cfg, **quick), env),
                (f"{name} abort flag during a stalled request", (proxy, "stall", 0), "abort",
                 dict(cfg, timeout_ms="60000"), env),
            ]
        for label, fault, scenario, cfg, env in runs:
            if args.k not in label:
                continue
            if isinstance(fault, tuple) and fault[0] == "imds":
                proxy = fault[1]
                proxy.set(*(fault[2:] or ("pass",)))
                proxy.require_token = lambda: servers.metadata.session_token
                proxy.on_expire = servers.metadata.rotate
                fetched = servers.metadata.requests["aws"]
            else:
                proxy = fault[0] if isinstance(fault, tuple) else fault
                if proxy:
                    proxy.set(*(fault[1:] if isinstance(fault, tuple) else ("pass",)))
            ok, bad = run_driver(label, scenario, cfg, env, args.v)
            if proxy:
                proxy.set("pass")
                proxy.require_token = proxy.on_expire = None
            if "expires midway" in label and servers.metadata.requests["aws"] - fetched < 2:
                print(f"FAIL {label}: the credentials were not fetched again")
                bad += 1
            if label == "s3 a part fails for good" and servers.s3_proxy.aborts == 0:
                print(f"FAIL {label}: no AbortMultipartUpload reached the server")
                bad += 1
            if "roundtrip" in label and "virtual" not in label:
                # The credentials came from the stand-in, not from elsewhere.
                which = "aws" if label.startswith("s3") else "azure"
                if servers.metadata.requests[which] == 0:
                    print(f"FAIL {label}: the metadata stand-in was never asked")
                    bad += 1
            passed += ok
            failed += bad
        for name, p in (("s3", servers.s3_proxy), ("azure", servers.az_proxy)):
            print(f"  {name} proxy: {p.requests} requests over {p.connections} connections")
        if servers.s3_proxy.sig_failures and not args.k:
            # Exactly the wrong-secret run's requests may fail the check.
            print(f"  the proxy refused {servers.s3_proxy.sig_failures} S3 signatures "
                  "(the wrong-secret run's)")
    finally:
        if servers:
            servers.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"  run time {time.monotonic() - t0:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
