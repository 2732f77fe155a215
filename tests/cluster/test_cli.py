"""Cluster tests: the daemons' command line says where the module's file is, truthfully.

One rule, the one the units follow: a module's file is /etc/skyha/<module>.yaml and
every module daemon (heartbeatd, replicd, checkd, vipd) is given it with --config,
which has no default (a daemon cannot know its module before reading the file). The
testers found `/etc/skyha/skyha.yaml` as the default in the flags and `<module>.yaml`
everywhere else. So: --help says --config is required and names the path the units
pass; a daemon started without --config exits 1 with a message naming --config and
that path (instead of reading a file nobody installs); every unit passes exactly
`--config /etc/skyha/%i.yaml`; and neither the docs nor the examples mention another
default.
"""

import glob
import os
import re

from lab import BUILD, ROOT, run

DAEMONS = ("heartbeatd", "replicd", "checkd", "vipd")
PATH = "/etc/skyha/<module>.yaml"


def _oneline(text):
    return " ".join(text.split())


def test_help_says_config_is_required_and_where_the_units_put_it(lab):
    for name in DAEMONS:
        res = run([os.path.join(BUILD, name), "--help"], check=False)
        assert res.returncode == 0, f"{name} --help exited {res.returncode}"
        lines = res.stdout.split("\n")
        start = next(i for i, line in enumerate(lines) if "--config FILE" in line)
        option = [lines[start]]
        for line in lines[start + 1:]:  # the option's continuation lines
            if not line.startswith(" " * 20) or line.strip().startswith("-"):
                break
            option.append(line)
        text = _oneline(" ".join(option))
        assert "required" in text and PATH in text, f"{name} --help: {text!r}"
        assert "skyha.yaml" not in res.stdout, f"{name} --help still names skyha.yaml"


def test_daemon_without_config_exits_1_naming_the_option(lab):
    for name in DAEMONS:
        for argv in ([], ["-n"], ["--node", "node1"]):
            res = run([os.path.join(BUILD, name)] + argv, check=False, timeout=10)
            err = _oneline(res.stderr)
            assert res.returncode == 1, f"{name} {argv}: exit {res.returncode}: {err}"
            assert "--config" in err and PATH in err, f"{name} {argv}: {err!r}"


def test_units_docs_and_examples_follow_the_one_rule(lab):
    for unit in glob.glob(os.path.join(ROOT, "units", "skyha-*@.service")):
        with open(unit) as f:
            text = f.read()
        for line in text.splitlines():
            if not line.startswith(("ExecStart=", "ExecStartPre=", "ExecReload=")):
                continue
            if any(d in line for d in DAEMONS):
                assert "--config /etc/skyha/%i.yaml" in line, f"{unit}: {line}"
    stale = []
    files = glob.glob(os.path.join(ROOT, "docs", "*.md")) + [os.path.join(ROOT, "README.md")]
    files += glob.glob(os.path.join(ROOT, "examples", "**", "*"), recursive=True)
    files += glob.glob(os.path.join(ROOT, "*", "README.md"))
    for path in files:
        if not os.path.isfile(path):
            continue
        with open(path, errors="replace") as f:
            for number, line in enumerate(f, 1):
                if re.search(r"/etc/skyha/skyha\.yaml", line):
                    stale.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}")
    assert not stale, "another default config path is documented: " + "; ".join(stale)
