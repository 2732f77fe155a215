"""The Debian package, installed in booted containers as an operator installs it:
`apt-get install ./skyha_<version>_amd64.deb` (build/deb, from `make deb`)."""

from lab import lab_options
from test_units import DAEMONS, M, active, start, wait_in_sync, unit


@lab_options(install="deb")
def test_the_deb_installs_and_runs_the_module_with_its_man_pages(lab):
    start(lab)  # boots, apt-get installs the .deb in each container, then starts
    n1 = lab.node("node1")
    for path in ("/usr/bin/skyctl", "/usr/lib/skyha/heartbeatd", "/usr/lib/skyha/replicd",
                 "/lib/systemd/system/skyha@.target",
                 "/usr/share/doc/skyha/examples/app.yaml",
                 "/usr/share/bash-completion/completions/skyctl"):
        assert n1.run("test", "-e", path, check=False).rc == 0, f"the package lacks {path}"
    # The system user, from the package's sysusers.d file.
    assert n1.run("getent", "passwd", "skyha", check=False).rc == 0, "no skyha user"
    # man pages: `man skyctl` works in a node.
    for page in ("skyctl", "heartbeatd", "replicd", "checkd", "vipd", "healthd",
                 "5 skyha.yaml"):
        res = n1.run("/bin/sh", "-c", f"MANPAGER=cat MANWIDTH=80 man {page}", check=False)
        assert res.rc == 0 and "SEE ALSO" in res.out, (page, res.rc, res.err[-300:])
    # The state directories come from the units (StateDirectory=, RuntimeDirectory=).
    assert n1.run("test", "-d", f"/var/lib/skyha/{M}", check=False).rc == 0
    for node in ("node1", "node2"):
        for d in DAEMONS:
            assert active(lab.node(node), unit(d)), f"{node}: {unit(d)} not running"
    wait_in_sync(lab, "node1")
    # bash completion: commands, and the modules that have a control socket.
    comp = n1.run("/bin/bash", "-c", "source /usr/share/bash-completion/completions/skyctl; "
                  "COMP_WORDS=(skyctl -m ''); COMP_CWORD=2; _skyctl; echo ${COMPREPLY[*]}; "
                  "COMP_WORDS=(skyctl -m app s); COMP_CWORD=3; _skyctl; echo ${COMPREPLY[*]}").out
    assert comp.splitlines() == [M, "status state swap second stop start snapshot"], comp
    status = lab.skyctl("node1", "status").out
    print("    " + "\n    ".join(status.splitlines()[:4]))
