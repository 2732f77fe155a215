"""Cluster tests: `heartbeatd -n` checks a configuration file before anything runs.

A good file (the lab's own, written as docs/config.md shows) prints "configuration OK"
and exits 0, checked as each node (--node) and as the witness host (--witness). A bad one exits 1 with an error that names the file, the line and the
field, so an operator can go straight to the mistake: a timeout shorter than 3 heartbeat
intervals, a misspelt key (which must not silently fall back to a default), and a key
file readable by others.
"""

import os

from lab import HEARTBEATD, run


def _check(path, *extra):
    """`heartbeatd -n` as a node checks its file (or the witness host, with --witness)."""
    who = list(extra) or ["--node", "node1"]
    res = run([HEARTBEATD, "-n", "--config", path] + who, check=False)
    return res.returncode, res.stdout + res.stderr


def _line_of(text, needle):
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the configuration")


def test_config_check_accepts_good_file(lab):
    for who in (["--node", "node1"], ["--node", "node2"], ["--witness"]):
        rc, out = _check(lab.config, *who)
        assert rc == 0, f"heartbeatd -n {' '.join(who)} exited {rc}: {out}"
        assert "configuration OK" in out, out


def test_config_check_names_line_and_field_of_bad_value(lab):
    text = lab.config_text(interval_ms=200, timeout_ms=500, lease_ms=1000)
    path = lab.write_config(os.path.join(lab.dir, "short-timeout.yaml"), text)
    rc, out = _check(path)
    assert rc == 1, f"expected exit 1 for timeout_ms < 3 x interval_ms, got {rc}: {out}"
    line = _line_of(text, "timeout_ms:")
    assert f"{path}:{line}:" in out, f"error does not name {path}:{line}: {out}"
    assert "heartbeat.timeout_ms" in out, f"error does not name the field: {out}"
    assert "configuration OK" not in out


def test_config_check_rejects_misspelt_key(lab):
    text = lab.config_text().replace("  interval_ms:", "  intervall_ms:")
    path = lab.write_config(os.path.join(lab.dir, "misspelt.yaml"), text)
    rc, out = _check(path)
    assert rc == 1, f"expected exit 1 for an unknown key, got {rc}: {out}"
    line = _line_of(text, "intervall_ms:")
    assert f"{path}:{line}:" in out, f"error does not name {path}:{line}: {out}"
    assert "heartbeat.intervall_ms" in out, f"error does not name the field: {out}"


def test_config_check_rejects_key_file_readable_by_others(lab):
    folder = os.path.join(lab.dir, "loose-key")
    os.mkdir(folder)
    key = os.path.join(folder, "cluster.key")
    with open(key, "w") as f:
        f.write(lab.key().hex() + "\n")
    os.chmod(key, 0o644)
    path = lab.write_config(os.path.join(folder, "app.yaml"))
    rc, out = _check(path)
    assert rc == 1, f"expected exit 1 for a key readable by others, got {rc}: {out}"
    assert path in out and "key_file" in out, f"error names neither file nor field: {out}"
