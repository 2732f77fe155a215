#!/bin/sh
# Check the systemd units: `systemd-analyze verify` on each unit instantiated
# for a module, then socket activation for real: heartbeatd started by
# systemd-socket-activate must serve the control socket it was handed.
# Ends with "N passed, N failed".
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/skyha-units.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' "$2"; failed=$((failed + 1)); }

# Install the units the way `make install` does, pointing at build/.
mkdir -p "$work/units"
for u in "$top"/units/*; do
	sed "s|@LIBEXECDIR@|$top/build|g; s|@BINDIR@|$top/build|g" "$u" >"$work/units/$(basename "$u")"
done
for t in skyha-heartbeatd@.service skyha-heartbeatd@.socket skyha-witness@.service \
	skyha-checkd@.service skyha-replicd@.service skyha-vipd@.service skyha@.target \
	skyha-backup@.service skyha-backup@.timer skyha-backup@.path; do
	inst=$(echo "$t" | sed 's/@\./@app./')
	ln -s "$work/units/$t" "$work/units/$inst"
	if (cd "$work/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/units/$inst") >"$work/verify.log" 2>&1 &&
		! grep -v -e 'example.invalid' -e 'Failed to connect' -e "No such file or directory" "$work/verify.log" | grep -q .; then
		pass "systemd_analyze_verify_$inst"
	else
		fail "systemd_analyze_verify_$inst" "$work/verify.log"
	fi
done

# Options systemd-analyze accepts but that break a daemon as installed (seen
# in booted containers, tests/systemd/): replicd's FUSE mounts must be in the
# host's mount namespace, so none of the options that give a unit its own may
# appear in its unit; a Type=notify unit that restricts address families must
# keep AF_UNIX (sd_notify, the journal), or it never becomes ready.
ns_opts='PrivateTmp PrivateDevices PrivateMounts ProtectSystem ProtectHome ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectProc ProcSubset ReadOnlyPaths ReadWritePaths InaccessiblePaths ExecPaths NoExecPaths TemporaryFileSystem BindPaths BindReadOnlyPaths MountFlags RootDirectory RootImage MountAPIVFS PrivateNetwork NetworkNamespacePath'
: >"$work/ns.log"
for o in $ns_opts; do
	grep -n "^[[:space:]]*$o=" "$top/units/skyha-replicd@.service" |
		sed "s|^|units/skyha-replicd@.service:|; s|\$| (gives replicd a private mount namespace: its FUSE mounts would be invisible)|" >>"$work/ns.log"
done
if [ -s "$work/ns.log" ]; then
	fail "replicd_unit_shares_the_host_mount_namespace" "$work/ns.log"
else
	pass "replicd_unit_shares_the_host_mount_namespace"
fi
: >"$work/af.log"
for u in "$top"/units/*.service; do
	grep -q '^Type=notify' "$u" || continue
	grep -n '^RestrictAddressFamilies=' "$u" | grep -v -w AF_UNIX |
		sed "s|^|units/$(basename "$u"):|; s|\$| (Type=notify needs AF_UNIX for sd_notify and the journal)|" >>"$work/af.log"
done
if [ -s "$work/af.log" ]; then
	fail "notify_units_keep_af_unix" "$work/af.log"
else
	pass "notify_units_keep_af_unix"
fi

# Socket activation: a one-node module with quorum none is enough.
head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/key"
chmod 600 "$work/key"
cat >"$work/app.yaml" <<YAML
cluster: {name: units, key_file: key}
module: {name: app}
nodes:
  - {name: node1, addresses: [127.0.0.1]}
  - {name: node2, addresses: [127.0.0.2]}
heartbeat: {port: 17400}
quorum: none
YAML
mkdir -p "$work/run/app"
systemd-socket-activate -l "$work/run/app/ctl" --fdname=ctl \
	"$top/build/heartbeatd" --config "$work/app.yaml" --node node1 \
	--run-dir "$work/run" --state-dir "$work/state" >"$work/hb.log" 2>&1 &
pid=$!
if /usr/bin/python3 - "$work/run/app/ctl" >"$work/ctl.log" 2>&1 <<'PY'
import json, sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.setsockopt(zmq.RCVTIMEO, 5000); s.setsockopt(zmq.LINGER, 0)
s.connect("ipc://" + sys.argv[1])
s.send_string(json.dumps({"command": "status"}))
reply = json.loads(s.recv_string())
assert reply["ok"] and reply["status"]["node"]["name"] == "node1", reply
print("status over the activated socket:", reply["status"]["node"]["role"])
PY
then
	pass "heartbeatd_serves_the_socket_activated_ctl_socket"
else
	cat "$work/hb.log" >>"$work/ctl.log"
	fail "heartbeatd_serves_the_socket_activated_ctl_socket" "$work/ctl.log"
fi
# healthd (one per node): its units, then socket activation on a TCP port. The
# socket is bound by systemd-socket-activate, healthd is started by the first
# connection and must answer it on the fd it was handed, with the module
# above (alone, quorum none: serving) OK.
for u in skyha-healthd.service skyha-healthd.socket; do
	if (cd "$work/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/units/$u") >"$work/verify.log" 2>&1 &&
		! grep -v -e 'example.invalid' -e 'Failed to connect' -e "No such file or directory" "$work/verify.log" | grep -q .; then
		pass "systemd_analyze_verify_$u"
	else
		fail "systemd_analyze_verify_$u" "$work/verify.log"
	fi
done
hport=$((20000 + $$ % 20000))
systemd-socket-activate -l "127.0.0.1:$hport" --fdname=http \
	"$top/build/healthd" --run-dir "$work/run" >"$work/healthd.log" 2>&1 &
hpid=$!
if /usr/bin/python3 - "$hport" "$top/build/skyctl" "$work/run" >"$work/http.log" 2>&1 <<'PY'
import http.client, json, subprocess, sys, time
port, skyctl, run_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    return r.status, r.read().decode()
def wait(want):
    deadline = time.monotonic() + 10
    while True:
        got = get("/health/app")
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)
# A fresh node without its peer waits (its data may not be the newest): NOK.
got = wait((503, "NOK\n"))
assert got == (503, "NOK\n"), (got, get("/status"))
subprocess.run([skyctl, "--run-dir", run_dir, "-m", "app", "prim", "--force"], check=True)
got = wait((200, "OK\n"))
assert got == (200, "OK\n"), (got, get("/status"))
code, body = get("/status")
st = json.loads(body)["modules"]["app"]
assert code == 200 and st["health"] == "OK", (code, body)
print("GET /health/app over the activated socket: 503 in WAIT, 200 in",
      st["status"]["node"]["role"])
PY
then
	if grep -q "socket.* passed by systemd" "$work/healthd.log"; then
		pass "healthd_serves_the_socket_activated_http_socket"
	else
		cat "$work/healthd.log" >>"$work/http.log"
		fail "healthd_serves_the_socket_activated_http_socket (it did not use the fd)" "$work/http.log"
	fi
else
	cat "$work/healthd.log" >>"$work/http.log"
	fail "healthd_serves_the_socket_activated_http_socket" "$work/http.log"
fi
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
