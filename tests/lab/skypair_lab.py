#!/usr/bin/python3
"""skypair_lab.py - the sky pair as an operator installs it: three modules on two nodes.

The sky scenario (issue 14): two nodes, both active, data on both. It is built as a
combination of modules on the same two nodes, each under its own skyha@<module>.target,
with one healthd for all of them:

    db1   mirror, default primary node1: /srv/db1/data replicated (replicd port 7410),
          virtual IP 198.18.0.101, the unit skyha-lab-db1.service (checkd), heartbeat
          port 7400, witness port 7401
    db2   mirror, default primary node2: /srv/db2/data (replicd port 7411), VIP
          198.18.0.102, skyha-lab-db2.service, heartbeat 7402, witness 7403
    web   farm (the stateless front end on both nodes): skyha-lab-web.service
          (checkd), heartbeat port 7404, no witness

SkyPairLab is a SystemdLab (nspawn.py: node1, node2 and the witness are booted Debian
containers with systemd as PID 1, skyha installed by `make install`); it writes the
three module files to /etc/skyha and the three application units, and start() enables
and starts them as docs/operations.md says. status(node, module) is `skyctl -m MODULE
--json status` run inside the node.
"""

import json
import os
import re

import lab as lablib
from lab import LabError
from nspawn import SystemdLab

MODULES = {
    "db1": {"type": "mirror", "primary": "node1", "hb": 7400, "witness": 7401,
            "replicd": 7410, "vip": "198.18.0.101"},
    "db2": {"type": "mirror", "primary": "node2", "hb": 7402, "witness": 7403,
            "replicd": 7411, "vip": "198.18.0.102"},
    "web": {"type": "farm", "hb": 7404},
}
MIRROR_DAEMONS = ("replicd", "heartbeatd", "vipd", "checkd")
FARM_DAEMONS = ("heartbeatd", "checkd")


def data_dir(module):
    return f"/srv/{module}/data"


def app_unit(module):
    return f"skyha-lab-{module}.service"


def app_unit_text(module):
    """A mirror's application appends a line per start to its replicated directory; the
    farm's just runs."""
    if MODULES[module]["type"] == "farm":
        start = "exec sleep infinity"
    else:
        start = (f'echo "started on $(hostname) at $(date +%%s.%%N)" >>'
                 f'{data_dir(module)}/app.log; exec sleep infinity')
    return f"""[Unit]
Description=skyha lab application of module {module}

[Service]
Type=exec
ExecStart=/bin/sh -c '{start}'
"""


class SkyPairLab(SystemdLab):
    def _make_layer(self):
        super()._make_layer()
        etc = os.path.join(self.layer, "etc/skyha")
        sysd = os.path.join(self.layer, "etc/systemd/system")
        for module in MODULES:
            with open(os.path.join(etc, f"{module}.yaml"), "w") as f:
                f.write(self.skypair_module_text(module))
            with open(os.path.join(sysd, app_unit(module)), "w") as f:
                f.write(app_unit_text(module))
            if MODULES[module]["type"] == "mirror":
                os.makedirs(os.path.join(self.layer, data_dir(module).lstrip("/")),
                            mode=0o755)

    def skypair_module_text(self, module):
        m = MODULES[module]
        text = self.config_text().replace("key_file: cluster.key",
                                          "key_file: /etc/skyha/cluster.key")
        text = text.replace(f"  name: {lablib.MODULE}\n", f"  name: {module}\n")
        text = text.replace(f"  port: {lablib.HEARTBEAT_PORT}\n", f"  port: {m['hb']}\n")
        if m["type"] == "farm":
            text = text.replace("  type: mirror\n", "  type: farm\n")
            text = re.sub(r"  default_primary: \w+\n", "", text)
            text = re.sub(r"quorum: witness\nwitness:\n(  .*\n)+", "", text)
            text = text.replace("  order: []", "  order: [checkd]")
            return text + "\n".join([
                "checkd:",
                f"  unit: {app_unit(module)}",
                "  unit_timeout_ms: 20000",
            ]) + "\n"
        text = re.sub(r"  default_primary: \w+\n", f"  default_primary: {m['primary']}\n",
                      text)
        text = text.replace(f"  port: {lablib.WITNESS_PORT}\n", f"  port: {m['witness']}\n")
        text = text.replace("  order: []", "  order: [replicd, vipd, checkd]")
        return text + "\n".join([
            "replicd:",
            f"  directories: [{data_dir(module)}]",
            f"  port: {m['replicd']}",
            "  mode: sync",
            "  timeout_ms: 3000",
            "vipd:",
            "  addresses:",
            f"    - {{address: {m['vip']}/24, interface: eth0}}",
            "checkd:",
            f"  unit: {app_unit(module)}",
            "  unit_timeout_ms: 20000",
        ]) + "\n"

    def start(self):
        """Boot; the witness serves db1 and db2; on each node enable each module's
        daemons (a farm: heartbeatd and checkd) and start the three targets."""
        self.boot_all()
        for module, m in MODULES.items():
            if m["type"] == "mirror":
                self.node("witness").systemctl("start", f"skyha-witness@{module}.service")
        for node in self.nodes:
            self.enable_modules(node)
        for node in self.nodes:
            self.node(node).systemctl("start", *[f"skyha@{m}.target" for m in MODULES])

    def enable_modules(self, node):
        for module, m in MODULES.items():
            daemons = FARM_DAEMONS if m["type"] == "farm" else MIRROR_DAEMONS
            self.node(node).systemctl(
                "enable", *[f"skyha-{d}@{module}.service" for d in daemons],
                f"skyha@{module}.target")

    def power_cut(self, member):
        """Every process of the container SIGKILLed at once (systemd, the daemons, the
        applications: nothing is stopped in order, nothing flushed), links down."""
        n = self.node(member)
        lablib._kill_netns_processes(self.ns(member))
        try:
            n.wait_exit(timeout=20)
        except Exception as exc:  # subprocess.TimeoutExpired: report as a lab error
            raise LabError(f"{member}'s container outlived SIGKILL: {exc}") from exc
        self.cut_all_links(member)

    def power_on(self, member):
        for i in self.member_networks(member):
            self.heal_network(member, i)
        return self.node(member).boot()

    def status(self, node, module="db1", timeout=2.0):
        res = self.node(node).run("skyctl", "-m", module, "--json", "status", check=False,
                                  timeout=20)
        if res.rc != 0:
            raise LabError(f"{node}: skyctl -m {module} status: exit {res.rc}: "
                           f"{res.out}{res.err}")
        return json.loads(res.out)["status"]

    def try_status(self, node, module="db1", timeout=1.0):
        try:
            return self.status(node, module)
        except (LabError, ValueError, KeyError):
            return None
