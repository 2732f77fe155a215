"""Cluster tests: checkd's checkers decide, damped, and a bad checker config is refused.

A custom checker with `action: failover` that fails on the primary hands the module to
the peer, which starts the application. A checker flapping around its threshold (failing
fail_after - 1 times in a row, then passing, again and again) never counts as failed:
no restart, no failover. `checkd -n` accepts the lab's file and rejects a bad checker
with the file, line and field.
"""

import os
import time

from checkd_lab import CHECKD, checkd_lab, default_checkers, describe_checkd
from lab import describe, run

BOUND_S = 10

FLAG_CHECKER = {"name": "flag", "kind": "custom", "command": "checks/flag",
                "interval_ms": 100, "timeout_ms": 100, "fail_after": 2, "ok_after": 1,
                "action": "failover"}
PATTERN_CHECKER = {"name": "flappy", "kind": "custom", "command": "checks/pattern",
                   # 400 ms: a shell script on a loaded 2-core machine can take over
                   # 100 ms, and a timeout is a failure (fail, fail, timeout = 3).
                   "interval_ms": 400, "timeout_ms": 400, "fail_after": 3, "ok_after": 1,
                   "action": "restart"}


@checkd_lab(checkers=default_checkers() + [FLAG_CHECKER])
def test_custom_checker_failing_on_primary_fails_over(lab):
    lab.start_cluster()
    lab.wait_for("node1", lambda s: s["node"]["serving"] is True, "serving", BOUND_S)
    lab.wait_app("node1", BOUND_S)
    with lab.watch_serving():
        lab.set_file("node1", "fail_check", "")
        st = lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
        lab.wait_app("node2", BOUND_S)
    ck = lab.wait_checkd("node1", lambda s: s["state"] == "down", "down", BOUND_S)
    assert "checker flag (custom) failed 2 times" in ck["reason"] or \
        "failover" in ck["reason"], describe_checkd(ck)
    assert ck["restarts_in_window"] == 0, describe_checkd(ck)
    assert lab.app_http_status("node1") is None
    assert st["node2"]["node"]["serving"] or lab.status("node2")["node"]["role"] == "PRIM"


@checkd_lab(checkers=default_checkers() + [PATTERN_CHECKER], restart_max=0,
            escalation="failover")
def test_checker_flapping_around_threshold_causes_no_action(lab):
    # fail, fail, ok: two failures in a row never reach fail_after: 3.
    for node in lab.nodes:
        lab.set_file(node, "pattern", "fail fail ok\n")
    lab.start_cluster()
    lab.wait_for("node1", lambda s: s["node"]["serving"] is True, "serving", BOUND_S)
    pid = lab.wait_app("node1", BOUND_S)
    lab.wait_checkd("node1", lambda s: any(c["name"] == "flappy" and c["consecutive"] == 2
                                           and not c["last_ok"] for c in s["checkers"]),
                    "flappy failing twice in a row", BOUND_S)
    deadline = time.monotonic() + 3.0
    runs_seen = set()
    while time.monotonic() < deadline:
        ck = lab.checkd_state("node1")
        flappy = [c for c in ck["checkers"] if c["name"] == "flappy"][0]
        assert flappy["state"] != "failed", describe_checkd(ck)
        assert flappy["consecutive"] <= 2 or flappy["last_ok"], describe_checkd(ck)
        runs_seen.add((flappy["last_ok"], flappy["consecutive"]))
        assert ck["restarts_in_window"] == 0 and ck["app"] == "running", describe_checkd(ck)
        time.sleep(0.05)
    assert (False, 2) in runs_seen, f"the pattern did not run: {runs_seen}"
    assert lab.roles() == {"node1": "PRIM", "node2": "SECOND"}, describe(lab.status("node1"))
    assert lab.app_pid("node1") == pid, "the application was restarted"


def _check(path):
    res = run([CHECKD, "-n", "--config", path, "--node", "node1"], check=False)
    return res.returncode, res.stdout + res.stderr


def _line_of(text, needle):
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the configuration")


@checkd_lab()
def test_checkd_config_check_accepts_good_file(lab):
    rc, out = _check(lab.config)
    assert rc == 0 and "configuration OK" in out, f"checkd -n exited {rc}: {out}"


@checkd_lab()
def test_invalid_checker_config_names_file_line_and_field(lab):
    good = lab.config_text()
    cases = [
        # (text, needle on the faulty line, field named, why)
        (good.replace("kind: http", "kind: htttp"), "kind: htttp",
         "checkd.checkers[1].kind", "unknown kind"),
        (good.replace("timeout_ms: 200", "timeout_ms: 900", 1), "timeout_ms: 900",
         "checkd.checkers[1].timeout_ms", "timeout above interval"),
        (good.replace("fail_after: 3", "fail_afterr: 3"), "fail_afterr: 3",
         "checkd.checkers[1].fail_afterr", "misspelt key"),
        (good.replace("path: app/stop_prim", "path: app/no_such_script"),
         "app/no_such_script", "checkd.scripts.stop_prim.path", "missing script"),
    ]
    for n, (text, needle, field, why) in enumerate(cases):
        assert text != good, f"case {why}: the replacement did not apply"
        path = lab.write_config(os.path.join(lab.dir, f"bad{n}.yaml"), text)
        rc, out = _check(path)
        assert rc == 1, f"{why}: expected exit 1, got {rc}: {out}"
        line = _line_of(text, needle)
        assert f"{path}:{line}:" in out, f"{why}: error does not name {path}:{line}: {out}"
        assert field in out, f"{why}: error does not name {field}: {out}"
        assert "configuration OK" not in out


LINK_CHECKERS = [
    {"name": "lan1", "kind": "interface", "interface": "eth1", "interval_ms": 100,
     "timeout_ms": 100, "fail_after": 2},
    {"name": "witness-ping", "kind": "icmp", "address": "198.18.0.10", "interval_ms": 200,
     "timeout_ms": 200, "fail_after": 3, "action": "restart"},
]


@checkd_lab(checkers=default_checkers() + LINK_CHECKERS)
def test_interface_down_on_primary_fails_over_at_once(lab):
    lab.start_cluster()
    lab.wait_for("node1", lambda s: s["node"]["serving"] is True, "serving", BOUND_S)
    lab.wait_app("node1", BOUND_S)
    ck = lab.wait_checkd("node1", lambda s: all(c["state"] == "ok" for c in s["checkers"]),
                         "every checker ok (the link up, the witness answering ping)",
                         BOUND_S)
    with lab.watch_serving():
        lab.cut_network("node1", 1)  # heartbeats still flow on network 0
        lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
        lab.wait_app("node2", BOUND_S)
    ck = lab.wait_checkd("node1", lambda s: s["state"] == "down", "down", BOUND_S)
    assert ck["restarts_in_window"] == 0, f"restarted before failing over: {describe_checkd(ck)}"
    assert "lan1" in ck["reason"] or "failover" in ck["reason"], describe_checkd(ck)
