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
for t in skyha-heartbeatd@.service skyha-heartbeatd@.socket skyha-witness@.service skyha@.target; do
	inst=$(echo "$t" | sed 's/@\./@app./')
	ln -s "$work/units/$t" "$work/units/$inst"
	if (cd "$work/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/units/$inst") >"$work/verify.log" 2>&1 &&
		! grep -v -e 'example.invalid' -e 'Failed to connect' -e "No such file or directory" "$work/verify.log" | grep -q .; then
		pass "systemd_analyze_verify_$inst"
	else
		fail "systemd_analyze_verify_$inst" "$work/verify.log"
	fi
done

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
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
