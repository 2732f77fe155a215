"""Cluster tests: module.depends_on (SafeKit's module checker, issue 17).

Module app depends on module db on the same nodes: app serves only where db serves,
moves when db moves, and waits while db serves nowhere. Both are real heartbeatd
modules in the lab's nodes (db with its own ports, witness and state directories);
app follows db through db's bus in the shared run directory.
"""

import json
import os
import subprocess
import time

import zmq
from lab import HEARTBEATD, SERVING_ROLES, describe, lab_options

DB_HEARTBEAT_PORT = 7410
DB_WITNESS_PORT = 7411


def _db_config(lab):
    text = lab.config_text()
    text = text.replace("  name: app\n", "  name: db\n")
    text = text.replace("  port: 7400\n", f"  port: {DB_HEARTBEAT_PORT}\n")
    text = text.replace("  port: 7401\n", f"  port: {DB_WITNESS_PORT}\n")
    assert "name: db" in text and str(DB_HEARTBEAT_PORT) in text, text
    path = os.path.join(lab.dir, "db.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def _app_depends_on_db(lab):
    text = lab.config_text().replace("  name: app\n", "  name: app\n  depends_on: [db]\n", 1)
    lab.write_config(lab.config, text)


def _spawn_db(lab, member, argv):
    log = open(os.path.join(lab.dir, f"{member}-db.log"), "a")
    try:
        proc = subprocess.Popen(["ip", "netns", "exec", lab.ns(member)] + argv, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    lab.procs[(member, "heartbeatd-db")] = proc
    return proc


def _start_db(lab, config):
    state = os.path.join(lab.dir, "witness", "state-db")
    os.makedirs(state, exist_ok=True)
    _spawn_db(lab, "witness", [HEARTBEATD, "--witness", "--config", config, "--state-dir", state])
    for node in lab.nodes:
        state = os.path.join(lab.dir, node, "state-db")
        os.makedirs(state, exist_ok=True)
        _spawn_db(lab, node, [HEARTBEATD, "--config", config, "--node", node, "--run-dir",
                              lab.node_dir(node, "run"), "--state-dir", state])


def _db_ctl(lab, node, request, timeout=5.0):
    sock = lab._ctx.socket(zmq.REQ)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        sock.connect("ipc://" + os.path.join(lab.node_dir(node, "run"), "db", "ctl"))
        sock.send_string(json.dumps(request))
        return json.loads(sock.recv_string())
    finally:
        sock.close()


def _db_role(lab, node):
    try:
        return _db_ctl(lab, node, {"command": "status"}, 1.0)["status"]["node"]["role"]
    except (zmq.Again, KeyError, ValueError):
        return None


def _wait_db(lab, wanted, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        roles = {n: _db_role(lab, n) for n in wanted}
        if roles == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"db roles {roles}, wanted {wanted}")


@lab_options()
def test_app_serves_only_where_db_serves_and_moves_with_it(lab):
    _app_depends_on_db(lab)
    db_config = _db_config(lab)
    lab.start_witness()
    for node in lab.nodes:
        lab.start_node(node)
    # db not running: app may serve nowhere, and says why.
    time.sleep(3 * (lab.timeout_ms + lab.lease_ms) / 1000)
    for node in lab.nodes:
        st = lab.status(node)
        assert st["node"]["role"] not in SERVING_ROLES, describe(st)
        assert st["depends_on"][0]["serves_here"] is False, st["depends_on"]
    assert "module db (depends_on) is not heard" in lab.status("node1")["node"]["waiting_for"]
    res = lab.skyctl("node1", "status")
    assert "depends:   db does NOT serve here (not heard)" in res.out, res.out

    # db starts, node1 primary (default): app follows it there.
    _start_db(lab, db_config)
    _wait_db(lab, {"node1": "PRIM", "node2": "SECOND"})
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, 20)
    assert lab.status("node1")["depends_on"][0]["serves_here"] is True

    # db swaps to node2: app hands over to node2.
    reply = _db_ctl(lab, "node1", {"command": "swap"})
    assert reply["ok"], reply
    _wait_db(lab, {"node1": "SECOND", "node2": "PRIM"})
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, 20)

    # db's heartbeatd on node2 dies: db fails over to node1, and app with it.
    lab.procs[("node2", "heartbeatd-db")].kill()
    lab.procs[("node2", "heartbeatd-db")].wait(5)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        roles = lab.roles()
        assert not (roles["node1"] in SERVING_ROLES and roles["node2"] in SERVING_ROLES), roles
        if roles["node1"] in SERVING_ROLES and _db_role(lab, "node1") in SERVING_ROLES:
            break
        time.sleep(0.05)
    roles = lab.roles()
    assert roles["node1"] in SERVING_ROLES and roles["node2"] not in SERVING_ROLES, \
        f"app {roles}, db on node1 {_db_role(lab, 'node1')}"
