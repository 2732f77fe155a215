"""Backups under systemd, as installed (docs/backup.md): skyha-backup@app.service run
by systemd on the secondary, and "backup now" from healthd's REST API, which reaches
heartbeatd's control socket, which writes /run/skyha/app/backup-now, which
skyha-backup@app.path (wanted by skyha@app.target) turns into a run of the service.

The module file gets a backup: section with one directory target written by node2;
the key is made once for the lab with `backupd keygen`, the repository by `backupd
init` in node2, as an operator does. healthd on node2 gets the API on loopback with a
tokens file through a drop-in (docs/health.md, "API"); the requests come from node2's
network namespace.
"""

import hashlib
import json
import os
import subprocess

import nspawn
from lab import BUILD, MODULE, lab_options, run
from nspawn import DATA_DIR
from test_units import start, wait_until, wait_up_to_date

TARGET_DIR = "/var/backups/skyha/app"
API = "127.0.0.1:9443"
TOKENS = {"ops": ("control", "ops-token-0123456789abcdef0123456789abcdef"),
          "watch": ("monitor", "watch-token-0123456789abcdef0123456789abcd")}
BACKUP_UNIT = f"skyha-backup@{MODULE}.service"

_CLIENT = r"""
import http.client, json, sys
host, port = sys.argv[1].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=10)
c.request("POST", sys.argv[2], body="{}", headers={
    "Authorization": "Bearer " + sys.argv[3], "Content-Type": "application/json"})
r = c.getresponse()
print(json.dumps({"status": r.status, "json": json.loads(r.read() or b"null")}))
"""


class BackupLab(nspawn.SystemdLab):
    """The systemd lab with a backup: section in /etc/skyha/app.yaml and its key."""

    def _make_layer(self):
        super()._make_layer()
        key = os.path.join(self.layer, "etc/skyha/app-backup.key")
        run([os.path.join(BUILD, "backupd"), "keygen", key])
        os.chmod(key, 0o600)

    def module_text(self):
        return super().module_text() + "\n".join([
            "backup:",
            "  key_file: /etc/skyha/app-backup.key",
            "  targets:",
            "    - name: local",
            "      kind: dir",
            f"      path: {TARGET_DIR}",
            "      nodes: [node2]",
            "      max_age: 36h",
        ]) + "\n"


def post(lab, member, path, token):
    res = run(["ip", "netns", "exec", lab.ns(member), "/usr/bin/python3", "-c", _CLIENT,
               API, path, token], timeout=60)
    return json.loads(res.stdout)


def api_on_loopback(lab, member):
    """healthd on member: the API on 127.0.0.1:9443 with the tokens file, by a drop-in."""
    n = lab.node(member)
    tokens = n.path("/etc/skyha/tokens")
    with open(tokens, "w") as f:
        for name, (role, token) in TOKENS.items():
            f.write(f"{name} {role} {hashlib.sha256(token.encode()).hexdigest()} "
                    "2099-01-01T00:00:00Z\n")
    n.sh("chown skyha:skyha /etc/skyha/tokens && chmod 600 /etc/skyha/tokens")
    flags = f"--tokens-file /etc/skyha/tokens --api-listen {API}"
    os.makedirs(n.path("/etc/systemd/system/skyha-healthd.service.d"), exist_ok=True)
    with open(n.path("/etc/systemd/system/skyha-healthd.service.d/api.conf"), "w") as f:
        f.write("[Service]\nExecStartPre=\n"
                f"ExecStartPre=/usr/lib/skyha/healthd --check {flags}\n"
                "ExecStart=\n"
                f"ExecStart=/usr/lib/skyha/healthd --run-dir /run/skyha {flags}\n")
    n.systemctl("daemon-reload")
    n.systemctl("restart", "skyha-healthd.service")


def backup_of(st, target="local"):
    for b in st.get("backups") or []:
        if b.get("target") == target:
            return b
    return None


def last_snapshot(lab, member):
    st = lab.try_status(member) or {}
    ok = (backup_of(st) or {}).get("last_success") or {}
    return ok.get("snapshot")


@lab_options(lab_class=BackupLab)
def test_backup_now_from_the_api_runs_the_backup_unit_on_the_secondary(lab):
    start(lab)
    wait_up_to_date(lab, "node1", "node2")
    n1, n2 = lab.node("node1"), lab.node("node2")
    n2.run("/usr/lib/skyha/backupd", "--config", f"/etc/skyha/{MODULE}.yaml", "init",
           "local")
    # The path unit came with the module's target.
    assert n2.show(f"skyha-backup@{MODULE}.path", "ActiveState")["ActiveState"] == \
        "active", "skyha-backup@app.path is not active with skyha@app.target"
    # The application's data, written on the primary, replicated to node2.
    n1.sh(f"echo 'first report' > {DATA_DIR}/report.txt && sync")
    wait_until("report.txt on node2", lambda: os.path.exists(
        n2.path(f"{DATA_DIR}/report.txt")), 30)

    # 1. The unit itself, started by systemd as the timer does: it holds the
    # secondary's copy and writes the status heartbeatd reads.
    n2.systemctl("start", BACKUP_UNIT, timeout=180)
    first = wait_until("a first snapshot in node2's status",
                       lambda: last_snapshot(lab, "node2"), 30)
    st = lab.status("node2")
    assert st["backup"] == {"configured": True, "requested": False}, st.get("backup")

    # 2. Backup now, through the API: a monitor may not, a control token may.
    api_on_loopback(lab, "node2")
    path = f"/api/v1/modules/{MODULE}/backup"
    res = wait_until("healthd's API on node2",
                     lambda: (lambda r: r if r["status"] not in (404, 502) else None)(
                         post(lab, "node2", path, TOKENS["watch"][1])), 30)
    assert res["status"] == 403 and "needs control" in res["json"]["error"], res
    n1.sh(f"echo 'second report' >> {DATA_DIR}/report.txt && sync")
    res = post(lab, "node2", path, TOKENS["ops"][1])
    assert res["status"] == 200 and "backup requested" in res["json"]["message"], res
    second = wait_until("a new snapshot after backup now",
                        lambda: (lambda s: s if s and s != first else None)(
                            last_snapshot(lab, "node2")), 120)
    assert not os.path.exists(n2.path(f"/run/skyha/{MODULE}/backup-now")), \
        "the request file is still there after the run"
    assert lab.status("node2")["backup"]["requested"] is False
    # The journal tells who asked and what ran.
    said = [e.get("MESSAGE", "") for e in n2.journal("SYSLOG_IDENTIFIER=heartbeatd")]
    assert any("operator: backup (healthd API, user ops from 127.0.0.1): requested" in m
               for m in said), said[-10:]
    runs = [e.get("MESSAGE", "") for e in n2.journal("-u", BACKUP_UNIT)]
    assert sum("Finished" in m or "Deactivated successfully" in m for m in runs) >= 2, \
        runs[-20:]

    # 3. What the API's backup holds: the second report, restored.
    n2.run("/usr/lib/skyha/backupd", "--config", f"/etc/skyha/{MODULE}.yaml", "restore",
           "local", second, "/root/restored", timeout=120)
    restored = subprocess.run(["find", n2.path("/root/restored"), "-name", "report.txt"],
                              capture_output=True, text=True).stdout.split()
    assert restored, "report.txt is not in the restored snapshot"
    with open(restored[0]) as f:
        assert f.read() == "first report\nsecond report\n"

    # The primary knows of the backup: section too (its console shows the button).
    assert lab.status("node1")["backup"]["configured"] is True
    print(f"    snapshots {first[:8]} (systemctl start) and {second[:8]} (API backup now)")
