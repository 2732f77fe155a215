"""Cluster tests: moving the primary role on purpose, and the control socket contract.

`skyctl swap` hands the primary role to the up-to-date secondary; a Python script that
speaks docs/protocol.md over ZeroMQ (the example from the docs, run as its own process)
does the same from the secondary's side. Never two nodes serve during a handover. A bad
control request gets ok:false, is counted, and the daemon keeps running.
"""

import json
import os
import subprocess

from lab import PYTHON, describe

SWAP_BOUND_S = 10

# The swap example of docs/protocol.md, printing the reply as JSON.
SWAP_SCRIPT = """\
import json, sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.setsockopt(zmq.RCVTIMEO, 5000); s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])
s.send_string(json.dumps({"command": "swap"}))
print(json.dumps(json.loads(s.recv_string())))
"""


def test_skyctl_swap_moves_primary_to_peer(lab):
    lab.start_cluster()
    with lab.watch_serving():
        rc, out = res = lab.skyctl("node1", "swap")
        assert rc == 0, f"skyctl swap exited {rc}: {out}{res.err}"
        lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, SWAP_BOUND_S)
        lab.assert_roles_stay({"node1": "SECOND", "node2": "PRIM"},
                              3 * lab.timeout_ms / 1000)


def test_swap_from_python_zmq_script(lab):
    lab.start_cluster()
    script = os.path.join(lab.dir, "swap.py")
    with open(script, "w") as f:
        f.write(SWAP_SCRIPT)
    with lab.watch_serving():
        res = subprocess.run([PYTHON, script, "ipc://" + lab.ctl_path("node2")],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, f"swap script failed: {res.stdout}{res.stderr}"
        reply = json.loads(res.stdout)
        assert reply.get("ok") is True, f"swap refused: {reply}"
        st = lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, SWAP_BOUND_S)
    assert st["node2"]["node"]["serving"] is True, describe(st["node2"])
    assert st["node2"]["node"]["epoch"] > 0


def test_control_socket_rejects_bad_requests(lab):
    lab.start_cluster()
    before = lab.status("node1")["counters"]["ctl_bad_requests"]
    bad = ['not json', '[1, 2]', '{"no_command": true}', '{"command": "fly"}']
    for text in bad:
        reply = lab.ctl_text("node1", text)
        assert reply.get("ok") is False, f"request {text!r} got {reply}"
        assert isinstance(reply.get("error"), str) and reply["error"], reply
    st = lab.status("node1")
    assert st["counters"]["ctl_bad_requests"] == before + len(bad), st["counters"]
    assert st["node"]["role"] == "PRIM", describe(st)
