#!/usr/bin/python3
"""demo.py - `make demo`: a two-node skyha cluster and a failover, in one minute.

For a newcomer: builds a lab of network namespaces on this machine (two nodes, a
witness, two heartbeat networks; see lab.py and stack_lab.py), starts the real daemons
on each node (replicd over a replicated directory, heartbeatd, healthd, checkd with the
sample application of examples/app), shows `skyctl status`, writes records to the
application's data on the primary, then cuts the power of the primary (every process
killed with -9, links down). It measures how long node2 takes to serve alone and to
answer with the application, fetches the records from node2's application and checks
every acknowledged one is there, and shows the daemons' logs of the takeover. Then
node1 comes back, rejoins as the secondary and is resynced with only what changed
meanwhile; a `skyctl swap` moves the module back to it. Everything is cleaned up at the end, even on failure or
Ctrl-C. Exit 0 on success; on failure, a one-line reason, the logs, and exit 1.

It builds nothing (make does) and uses the documented default timings: heartbeat every
200 ms, peer lost after 1000 ms, witness lease 1000 ms.
"""

import hashlib
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab as lablib  # noqa: E402
from stack_lab import VIP4, StackLab  # noqa: E402

INTERVAL_MS, TIMEOUT_MS = 200, 1000
LEDGER = "ledger.txt"
CATALOG, CATALOG_BYTES = "catalog.bin", 8 << 20


def say(text):
    print(f"==> {text}", flush=True)


def show(text, indent="    "):
    for line in text.rstrip("\n").splitlines():
        print(indent + line)
    sys.stdout.flush()


def skyctl_status(lab, node):
    rc, out = res = lab.skyctl(node, "status")
    if rc != 0:
        raise lablib.LabError(f"skyctl status on {node} exited {rc}: {out}{res.err}")
    say(f"skyctl status, asked on {node}:")
    show(out)


def replicd_counter(lab, node, name, st=None):
    """A counter replicd reported, from heartbeatd's status on node (-1 if absent)."""
    st = st or lab.status(node)
    value = ((st["actuators"].get("replicd") or {}).get("counters") or {}).get(name)
    return value if isinstance(value, int) else -1


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def show_logs(lab, since):
    """Every daemon's log lines since the given wall-clock time (HH:MM:SS.mmm), merged
    in time order: the story of the takeover as journalctl would tell it."""
    lines = []
    for node in lab.nodes:
        for name in ("heartbeatd.log", "replicd.log", "vipd.log", "checkd.log",
                     "healthd.log"):
            try:
                with open(os.path.join(lab.dir, node, name), errors="replace") as f:
                    for line in f:
                        stamp = line[:12]
                        if stamp[:2].isdigit() and stamp >= since:
                            lines.append(line.rstrip("\n"))
            except FileNotFoundError:
                continue
    for line in sorted(lines)[:40]:
        print("    " + line)
    sys.stdout.flush()


def demo(lab):
    say(f"Built a lab in network namespaces {lab.prefix}*: node1, node2, a witness and "
        f"a client on {lab.networks} heartbeat networks (198.18.0.0/24, 198.18.1.0/24)")
    say(f"Module file {lab.config}: cluster demo, module app, default_primary node1, "
        "transitions replicd then checkd")
    say("Starting the witness (the tie-breaker that grants a lease to one node at a time)")
    lab.start_witness()
    say("Starting on each node: replicd (FUSE over <node>/data), heartbeatd, healthd "
        f"(port 9010), vipd (virtual IP {VIP4}), checkd (runs examples/app: an HTTP "
        "server on port 8080)")
    for node in lab.nodes:
        lab.start_node(node)
    lab.wait_settled(30)
    lab.wait_app("node1", 20)
    lab.wait_health("node1", 200, 10)
    lab.wait_replicd("node2", "secondary", timeout=15)
    lab.wait_replicd("node1", "primary", connected=True, timeout=15)
    say(f"node1 is PRIM: its data directory is writable and replicated to node2 (SECOND), "
        f"it holds the virtual IP {VIP4}, the application runs on node1 only")
    skyctl_status(lab, "node1")

    records = 500
    sent_before = replicd_counter(lab, "node1", "bytes_sent")
    with open(os.path.join(lab.data_dir("node1"), CATALOG), "wb") as f:
        f.write(os.urandom(CATALOG_BYTES))
        f.flush()
        os.fsync(f.fileno())
    digest = lab.write_ledger("node1", LEDGER, records)
    # replicd forgets its in-flight record once the peer confirmed it all (within
    # about 2 s of quiet); a crash before that only makes the resync send more.
    lab.wait_for("node1", lambda st: replicd_counter(lab, "node1", "bytes_sent", st)
                 >= sent_before + CATALOG_BYTES
                 and replicd_counter(lab, "node1", "record_entries", st) == 0,
                 "replicd's in-flight record emptied", 20)
    say(f"The application's data: a {CATALOG_BYTES >> 20} MiB {CATALOG}, and "
        f"{records} records written to node1's {LEDGER}, each "
        f"acknowledged by fsync (synchronous replication: on node2 before fsync "
        f"returns); sha256 {digest[:16]}...")
    for node in lab.nodes:
        code, _ = lab.health(node)
        say(f"A load balancer asking http://{lablib.address(0, node)}:9010/health/app "
            f"gets {code} ({'send traffic here' if code == 200 else 'not here'})")

    banner = "POWER CUT: every process on node1 is killed with -9, its links go down"
    print("\n" + "*" * (len(banner) + 6))
    print(f"*  {banner}  *")
    print("*" * (len(banner) + 6), flush=True)
    now = time.time()
    since = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    killed = time.monotonic()
    lab.kill_node("node1")
    say(f"Polling node2 every 20 ms, and the application at the virtual IP {VIP4}...")
    took = served = None
    while served is None:
        st = lab.try_status("node2")
        if took is None and st and st["node"]["role"] == "ALONE":
            took = time.monotonic() - killed
            say(f"node2 is ALONE {took:.2f} s after the power cut (peer lost after "
                f"{TIMEOUT_MS} ms of silence, then the witness lease)")
        if took is not None and lab.fetch("node2", LEDGER, timeout=0.2, host=VIP4):
            served = time.monotonic() - killed
        if time.monotonic() - killed > 30:
            raise lablib.LabError("node2 did not serve within 30 s: " + lablib.describe(st))
        time.sleep(0.02)
    say(f"The application answers at {VIP4} {served:.2f} s after the power cut "
        "(replicd made node2's directory writable, vipd took the VIP with a gratuitous "
        f"ARP: the client's neighbour entry now says {lab.client_neigh()[0]}, node2's MAC "
        f"is {lab.mac('node2')}; then checkd ran start_prim)")
    body = lab.fetch("node2", LEDGER, host=VIP4)
    got = hashlib.sha256(body or b"").hexdigest()
    if got != digest:
        raise lablib.LabError(f"{LEDGER} served by node2 differs: sha256 {got}")
    say(f"A client fetches http://{VIP4}:8080/{LEDGER}: {len(body.splitlines())} records, "
        f"sha256 {got[:16]}...: every acknowledged record is intact")
    lab.wait_health("node2", 200, 10)
    say("node2's /health/app now answers 200: the load balancer moves traffic there")
    say("What the daemons logged during the takeover (journalctl -u 'skyha-*' on a real "
        "system):")
    show_logs(lab, since)
    skyctl_status(lab, "node2")

    added = lab.append_ledger("node2", LEDGER, records, 100)
    say(f"The application goes on alone on node2: 100 more records appended and fsynced "
        f"({added} bytes); replicd records which zones changed, for node1")

    print()
    say("Powering node1 back on: links up, its daemons started with their state kept")
    lab.restart_node("node1")
    lab.wait_settled(30, primary="node2", secondary="node1")
    say("node1 rejoined as SECOND (no automatic failback: one interruption, not two); "
        "replicd resyncs it...")
    st = lab.wait_for("node1", lambda st: (st["actuators"].get("replicd") or {}).get("data")
                      == "uptodate" and not st["transition"]["pending"],
                      "node1's copy up to date", 60)
    resync = (lab.status("node2")["actuators"]["replicd"].get("resync") or {})
    total = sum(os.path.getsize(os.path.join(lab.disk_dir("node2"), name))
                for name in (CATALOG, LEDGER))
    say(f"Resync done ({resync.get('mode', '?')} mode): {resync.get('data_bytes_sent', '?')} "
        f"bytes of file data sent ({resync.get('wire_bytes', '?')} on the wire) for "
        f"{total / (1 << 20):.1f} MiB of data: only the zones changed while node1 was away")
    for name in (CATALOG, LEDGER):
        digests = [file_sha256(os.path.join(lab.disk_dir(n), name)) for n in lab.nodes]
        if digests[0] != digests[1]:
            raise lablib.LabError(f"after the resync the copies of {name} differ: {digests}")
    say(f"node1's disk and node2's disk hold the same {CATALOG} and {LEDGER}")
    skyctl_status(lab, "node1")

    print()
    say("Failback on command: `skyctl swap` on node1")
    swapped = time.monotonic()
    rc, out = lab.skyctl("node1", "swap")
    if rc != 0:
        raise lablib.LabError(f"skyctl swap exited {rc}: {out}")
    lab.wait_roles({"node1": "PRIM", "node2": "SECOND"}, 30)
    lab.wait_for("node1", lambda st: st["node"]["serving"], "node1 serving", 30)
    while lab.fetch("node1", LEDGER, timeout=0.2, host=VIP4) is None:
        if time.monotonic() - swapped > 30:
            raise lablib.LabError("the application does not answer at the VIP after the swap")
        time.sleep(0.02)
    body = lab.fetch("node1", LEDGER, host=VIP4)
    say(f"node1 is PRIM again and the application answers at {VIP4} "
        f"{time.monotonic() - swapped:.2f} s after the command, with all "
        f"{len(body.splitlines())} records")
    lab.wait_replicd("node2", "secondary", timeout=15)
    backup_from_the_secondary(lab)
    return took, served


def backupd(lab, node, config, *args, check=True):
    """Run build/backupd in node's namespace, as the timer's unit would on a node."""
    argv = ["ip", "netns", "exec", lab.ns(node), os.path.join(lablib.BUILD, "backupd"),
            "--config", config, "--node", node, "--run-dir", lab.node_dir(node, "run"),
            "--state-dir", os.path.join(lab.node_dir(node, "state"), lablib.MODULE), *args]
    res = lablib.run(argv, check=False, timeout=120)
    if check and res.returncode != 0:
        raise lablib.LabError(f"backupd {' '.join(args)} on {node} exited "
                              f"{res.returncode}: {res.stdout}{res.stderr}")
    return res


def backup_from_the_secondary(lab):
    """Issue 16: a backup taken on the secondary, listed, restored, checked."""
    print()
    offsite = os.path.join(lab.dir, "offsite")
    key = os.path.join(lab.dir, "app-backup.key")
    config = os.path.join(lab.dir, f"{lablib.MODULE}-node2-backup.yaml")
    lablib.run([os.path.join(lablib.BUILD, "backupd"), "keygen", key])
    text = lab.replicd_config_text("node2").rstrip("\n") + "\n" + "\n".join([
        "backup:",
        f"  key_file: {key}",
        "  targets:",
        "    - name: offsite",
        "      kind: dir",
        f"      path: {offsite}",
        "      nodes: [node2]",
        "      max_age: 36h",
    ]) + "\n"
    lab.write_config(config, text)
    say(f"Backups: a target 'offsite' ({offsite}, standing in for a bucket in another "
        "region: S3 and Azure Blob work the same), written by node2, the secondary: "
        "its replicd holds the copy still for the backup (received writes are "
        "acknowledged and kept aside, then applied), so the snapshot is one instant of "
        "the primary's data and the application is not slowed")
    backupd(lab, "node2", config, "init", "offsite")
    res = backupd(lab, "node2", config, "backup", "offsite")
    show(res.stdout + res.stderr)
    res = backupd(lab, "node2", config, "list", "offsite")
    say("backupd list offsite:")
    show(res.stdout)
    restored = os.path.join(lab.dir, "restored")
    backupd(lab, "node2", config, "restore", "offsite", "latest", restored)
    for name in (CATALOG, LEDGER):
        got = file_sha256(os.path.join(restored + lab.data_dir("node2"), name))
        want = file_sha256(os.path.join(lab.disk_dir("node1"), name))
        if got != want:
            raise lablib.LabError(f"the restored {name} differs from the primary's")
    say(f"Restored the latest snapshot into {restored}: {CATALOG} and {LEDGER} are "
        "byte for byte the primary's (encrypted, deduplicated, compressed on the way)")
    lab.wait_for("node2", lambda st: any(b.get("target") == "offsite"
                                         for b in st.get("backups") or []),
                 "the backup in node2's status", 10)
    skyctl_status(lab, "node2")


def main():
    if os.geteuid() != 0:
        print("demo: the lab builds network namespaces and needs root (sudo make demo)",
              file=sys.stderr)
        return 1
    for prog in (lablib.HEARTBEATD, lablib.SKYCTL, *(os.path.join(lablib.BUILD, d) for d in
                 ("replicd", "vipd", "checkd", "healthd", "backupd"))):
        if not os.access(prog, os.X_OK):
            print(f"demo: {prog} not found: run `make` first", file=sys.stderr)
            return 1
    lablib.cleanup_stale()
    with StackLab(interval_ms=INTERVAL_MS, timeout_ms=TIMEOUT_MS) as lab:
        try:
            took, served = demo(lab)
        except (lablib.LabError, AssertionError) as exc:
            print(f"\ndemo FAILED: {exc}", file=sys.stderr)
            lab.dump_logs(out=sys.stderr)
            return 1
        say("Cleaning up the namespaces")
    print(f"\ndemo OK: node2 took over {took:.2f} s after the power cut, the application "
          f"answered at the virtual IP after {served:.2f} s, every acknowledged record intact")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ndemo interrupted: lab cleaned up", file=sys.stderr)
        sys.exit(130)
