#!/usr/bin/python3
"""etcd_lab.py - the two-node lab (lab.py) with a real 3-member etcd cluster as quorum.

    etcd namespaces  <prefix>etcd1..3   eth0 = 198.18.0.31..33 (network 0 only)

Each member is Debian's /usr/bin/etcd (3.4) with its own data directory under the lab
directory and its own log (<lab>/etcdN/etcd.log). Raft timings are short
(heartbeat 100 ms, election 500 ms) so that etcd's smallest lease TTL is 1 s and a lost
etcd leader is replaced within a second.

Options (EtcdLab(...), or @lab_options(lab_class=EtcdLab, ...) in a cluster test):
  tls=True         clients speak HTTPS to etcd and must show a client certificate
                   (CA, server and client certificates made with openssl at setup)
  auth=True        etcd auth enabled; user `skyha` (password in <lab>/etcd.password)
                   may read and write the cluster's prefix only
  etcd_endpoints   override the endpoint list written in the module configuration
  etcd_extra       extra lines for the `etcd:` section (e.g. ["  lease_ms: 2000"])

Faults: kill_etcd(i) (SIGKILL), pause_etcd(i)/resume_etcd(i) (SIGSTOP/SIGCONT),
restart_etcd(i), cut_from_etcd(node) (a node loses every etcd member: blackhole
routes), isolate_etcd(i) (one member loses the other two), etcd_leader() (which member
etcd says leads). heal_partition() removes every blackhole route, etcd's included.
"""

import base64
import json
import os
import signal
import subprocess
import time

import lab as lablib
from lab import LabError, run

ETCD = "/usr/bin/etcd"
ETCD_MEMBERS = 3
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_USER = "skyha"


def etcd_address(i):
    """Address of etcd member i (1..3) on network 0."""
    return f"198.18.0.{30 + i}"


class EtcdLab(lablib.Lab):
    """Lab with quorum: etcd and three etcd members in their own namespaces."""

    def __init__(self, tls=False, auth=False, etcd_endpoints=None, etcd_extra=None,
                 **options):
        options.setdefault("quorum", "etcd")
        # etcd TTLs are whole seconds; 2 s rides out a slow etcd on a loaded machine
        # (the holder needs a keepalive through within 1.8 s, the peer seen or not).
        options.setdefault("lease_ms", 2000)
        super().__init__(**options)
        self.tls = tls
        self.auth = auth
        self.etcd_endpoints = etcd_endpoints
        self.etcd_extra = list(etcd_extra or [])
        self.etcd_members = [f"etcd{i}" for i in range(1, ETCD_MEMBERS + 1)]
        self.password = "pw-" + os.urandom(8).hex()
        self.password_path = None
        self.certs = {}

    # -- building ----------------------------------------------------------------------

    def _build_network(self):
        super()._build_network()
        br = self.ns("br")
        for i, member in enumerate(self.etcd_members, 1):
            ns = self.ns(member)
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            port = f"{member}-0"
            run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name",
                 port, "netns", br])
            run(["ip", "-n", br, "link", "set", port, "master", "br0"])
            run(["ip", "-n", br, "link", "set", port, "up"])
            run(["ip", "-n", ns, "addr", "add", f"{etcd_address(i)}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            os.makedirs(os.path.join(self.dir, member), mode=0o755, exist_ok=True)
        # Nodes reach etcd on network 0 only.

    def setup(self):
        super().setup()
        try:
            self.password_path = os.path.join(self.dir, "etcd.password")
            fd = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.password + "\n")
            if self.tls:
                self._make_certs()
            self.write_config(self.config)
        except BaseException:
            self.close()
            raise

    def _make_certs(self):
        d = os.path.join(self.dir, "pki")
        os.makedirs(d, mode=0o700)
        ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=skyha lab etcd CA", "-keyout", ca_key, "-out", ca])

        def issue(name, ext, subject):
            key, csr, crt = (os.path.join(d, name + s) for s in (".key", ".csr", ".crt"))
            extfile = os.path.join(d, name + ".ext")
            with open(extfile, "w") as f:
                f.write(ext)
            run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj",
                 subject, "-keyout", key, "-out", csr])
            run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                 "-CAcreateserial", "-days", "2", "-extfile", extfile, "-out", crt])
            os.chmod(key, 0o600)
            return key, crt

        ips = ",".join(f"IP:{etcd_address(i)}" for i in range(1, ETCD_MEMBERS + 1))
        self.certs["ca"] = ca
        self.certs["server"] = issue(
            "server", f"subjectAltName={ips}\nextendedKeyUsage=serverAuth,clientAuth\n",
            "/CN=etcd")
        # No CommonName: with auth on, etcd 3.4's gateway refuses a client
        # certificate that has one (it would not be used as the user name).
        self.certs["client"] = issue("client", "extendedKeyUsage=clientAuth\n",
                                     "/O=skyha lab client")

    def client_url(self, i):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{etcd_address(i)}:{ETCD_CLIENT_PORT}"

    def config_text(self, interval_ms=None, timeout_ms=None, lease_ms=None):
        text = super().config_text(interval_ms, timeout_ms, lease_ms)
        if self.quorum != "etcd":
            return text
        lease_ms = lease_ms or self.lease_ms
        endpoints = self.etcd_endpoints or [self.client_url(i)
                                            for i in range(1, ETCD_MEMBERS + 1)]
        lines = ["etcd:", f"  endpoints: [{', '.join(endpoints)}]",
                 f"  lease_ms: {lease_ms}"]
        if self.tls and self.certs:
            key, crt = self.certs["client"]
            lines += [f"  ca_file: {self.certs['ca']}", f"  cert_file: {crt}",
                      f"  key_file: {key}"]
        if self.auth:
            lines += [f"  user: {ETCD_USER}", "  password_file: etcd.password"]
        lines += self.etcd_extra
        return text + "\n".join(lines) + "\n"

    # -- etcd processes ----------------------------------------------------------------

    def _etcd_argv(self, i):
        name = f"etcd{i}"
        peers = ",".join(f"etcd{j}=http://{etcd_address(j)}:{ETCD_PEER_PORT}"
                         for j in range(1, ETCD_MEMBERS + 1))
        argv = [ETCD, "--name", name,
                "--data-dir", os.path.join(self.dir, name, "data"),
                "--listen-peer-urls", f"http://{etcd_address(i)}:{ETCD_PEER_PORT}",
                "--initial-advertise-peer-urls",
                f"http://{etcd_address(i)}:{ETCD_PEER_PORT}",
                "--listen-client-urls", self.client_url(i),
                "--advertise-client-urls", self.client_url(i),
                "--initial-cluster", peers, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.prefix + "etcd",
                "--heartbeat-interval", "100", "--election-timeout", "500",
                "--logger", "zap", "--log-level", "warn"]
        if self.tls:
            key, crt = self.certs["server"]
            argv += ["--cert-file", crt, "--key-file", key, "--client-cert-auth",
                     "--trusted-ca-file", self.certs["ca"]]
        return argv

    def start_etcd_member(self, i):
        name = f"etcd{i}"
        old = self.procs.get((name, "etcd"))
        if old is not None and old.poll() is None:
            raise LabError(f"etcd already runs as {name}")
        log = open(os.path.join(self.dir, name, "etcd.log"), "a")
        try:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(name)]
                                    + self._etcd_argv(i),
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self.procs[(name, "etcd")] = proc
        return proc

    def start_etcd(self, timeout=30.0):
        """Start the three members and wait until the cluster answers (and set up auth)."""
        if not os.access(ETCD, os.X_OK):
            raise LabError(f"{ETCD} is missing: tools/deps.sh test (etcd-server)")
        for i in range(1, ETCD_MEMBERS + 1):
            self.start_etcd_member(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.etcd_request(1, "/v3/kv/range", {"key": _b64("x")}, auth=False)
                break
            except (LabError, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise LabError(f"etcd did not answer within {timeout:g} s: {exc}")
                for i in range(1, ETCD_MEMBERS + 1):
                    proc = self.procs[(f"etcd{i}", "etcd")]
                    if proc.poll() is not None:
                        raise LabError(f"etcd{i} exited with {proc.returncode}: "
                                       + self.etcd_log_tail(i))
                time.sleep(0.2)
        if self.auth:
            self._enable_auth()

    def _enable_auth(self):
        prefix = f"/skyha/{lablib.CLUSTER}/{lablib.MODULE}"
        root_pw = "root-" + self.password
        steps = [
            ("/v3/auth/user/add", {"name": "root", "password": root_pw}),
            ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
            ("/v3/auth/user/add", {"name": ETCD_USER, "password": self.password}),
            ("/v3/auth/role/add", {"name": "skyha-rw"}),
            ("/v3/auth/role/grant", {"name": "skyha-rw", "perm": {
                "permType": "READWRITE", "key": _b64(prefix + "/"),
                "range_end": _b64(prefix + "0")}}),
            ("/v3/auth/user/grant", {"user": ETCD_USER, "role": "skyha-rw"}),
            ("/v3/auth/enable", {}),
        ]
        for path, body in steps:
            self.etcd_request(1, path, body, auth=False)

    def etcd_request(self, i, path, body, auth=True, timeout=3.0):
        """POST one JSON request to member i's gateway (from inside its namespace: the
        root namespace has no route to the lab) and return the decoded reply."""
        code = _REQUEST_CODE
        args = [lablib.PYTHON, "-c", code, self.client_url(i) + path, json.dumps(body),
                str(timeout)]
        if self.tls:
            key, crt = self.certs["client"]
            args += [self.certs["ca"], crt, key]
        res = subprocess.run(["ip", "netns", "exec", self.ns(f"etcd{i}")] + args,
                             capture_output=True, text=True, timeout=timeout + 10)
        if res.returncode != 0:
            raise LabError(f"etcd{i} {path}: {res.stderr.strip()[-300:]}")
        return json.loads(res.stdout)

    def etcd_leader(self):
        """The member etcd says leads (1..3), or None."""
        for i in range(1, ETCD_MEMBERS + 1):
            if not self.running(f"etcd{i}", "etcd"):
                continue
            try:
                st = self.etcd_request(i, "/v3/maintenance/status", {}, timeout=1.0)
            except LabError:
                continue
            if st.get("leader") and st.get("leader") == st.get("header", {}).get("member_id"):
                return i
        return None

    def etcd_log_tail(self, i, lines=15):
        try:
            with open(os.path.join(self.dir, f"etcd{i}", "etcd.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def kill_etcd(self, i):
        self.kill_daemon(f"etcd{i}", "etcd")

    def pause_etcd(self, i):
        os.kill(self.procs[(f"etcd{i}", "etcd")].pid, signal.SIGSTOP)

    def resume_etcd(self, i):
        os.kill(self.procs[(f"etcd{i}", "etcd")].pid, signal.SIGCONT)

    def restart_etcd(self, i):
        return self.start_etcd_member(i)

    def _note(self, member, text):
        if member.startswith("etcd"):
            with open(os.path.join(self.dir, member, "etcd.log"), "a") as f:
                f.write(f"--- lab {time.strftime('%H:%M:%S')}: {text} ---\n")
            return
        super()._note(member, text)

    def _blackhole_addr(self, member, dst):
        if (member, dst) in self.blackholes:
            return
        run(["ip", "-n", self.ns(member), "route", "add", "blackhole", f"{dst}/32"])
        self.blackholes.add((member, dst))

    def cut_from_etcd(self, node):
        """node loses every etcd member (and they it); it still sees its peer."""
        for i in range(1, ETCD_MEMBERS + 1):
            self._blackhole_addr(node, etcd_address(i))
            self._blackhole_addr(f"etcd{i}", lablib.address(0, node))

    def isolate_etcd(self, i):
        """Member i loses the other two members (and the nodes)."""
        for j in range(1, ETCD_MEMBERS + 1):
            if j != i:
                self._blackhole_addr(f"etcd{i}", etcd_address(j))
                self._blackhole_addr(f"etcd{j}", etcd_address(i))

    def start_cluster(self, timeout=30.0):
        if self.quorum == "etcd":
            self.start_etcd()
        return super().start_cluster(timeout)

    def wait_settled(self, timeout=30.0, primary="node1", secondary="node2"):
        settled = super().wait_settled(timeout, primary, secondary)
        if self.quorum == "etcd":
            settled[primary] = self.wait_for(
                primary, lambda st: st.get("etcd", {}).get("leader") is True,
                "etcd leader key held by the primary", timeout)
        return settled

    def dump_logs(self, lines=25, out=None):
        super().dump_logs(lines, out)
        for i in range(1, ETCD_MEMBERS + 1):
            tail = self.etcd_log_tail(i, 8)
            if tail:
                print(f"--- etcd{i} log (last lines) ---\n{tail}", file=out)


def _b64(text):
    return base64.b64encode(text.encode()).decode()


# Runs inside an etcd member's namespace: one POST, the reply on stdout.
_REQUEST_CODE = r"""
import json, ssl, sys, urllib.request, urllib.error
url, body, timeout = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
ctx = None
if len(sys.argv) > 4:
    ctx = ssl.create_default_context(cafile=sys.argv[4])
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.exit(f"HTTP {e.code}: {e.read().decode()[:300]}")
"""
