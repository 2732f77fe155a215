#!/usr/bin/python3
"""backupd against a dir target, through its command line (docs/man/backupd.8.md).

Each test builds a module file with a `backup:` section, real directories with
real data and metadata, and runs build/backupd: init, backup, list, verify,
restore, forget. What a user would see is asserted: restored trees identical to
the source at the snapshot's instant (bytes, holes, mode, owner, times, xattrs,
symlinks, hard links, fifos), the incremental backup's own counters, exit codes
and the names of damaged objects. A dir target needs no lab: no namespaces.

Usage: /usr/bin/python3 tests/backup/test_backupd.py [-k SUBSTR]
The last line is "N passed, N failed".
"""

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BACKUPD = os.environ.get("SKYHA_BACKUPD", os.path.join(TOP, "build", "backupd"))
ZONE = 64 << 10

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_KEY, EXIT_DAMAGED, EXIT_LOCKED = range(6)


class Env:
    """A module file, a key, a source tree and a dir target in a temp folder."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix=f"skyha-bk-{name}-")
        self.src = os.path.join(self.dir, "src")
        self.src2 = os.path.join(self.dir, "etc")
        self.repo = os.path.join(self.dir, "repo")
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.src)
        os.makedirs(self.src2)
        with open(os.path.join(self.dir, "cluster.key"), "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(os.path.join(self.dir, "cluster.key"), 0o600)
        self.config = self.write_config("app.yaml", "backup.key")
        res = self.run("keygen", os.path.join(self.dir, "backup.key"), config=False)
        assert res.returncode == 0, res.stderr

    def write_config(self, name, key_file, extra=""):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(f"""cluster:
  name: t
  key_file: cluster.key
module:
  name: app
  type: mirror
nodes:
  - name: node1
    addresses: [198.18.0.1]
  - name: node2
    addresses: [198.18.0.2]
quorum: none
backup:
  key_file: {key_file}
  paths: [{self.src}, {self.src2}]
  targets:
    - name: local
      kind: dir
      path: {self.repo}
      nodes: [node1]
      keep_last: 3
{extra}""")
        return path

    def run(self, *args, config=True, env=None, path=None):
        cmd = [BACKUPD]
        if config:
            cmd += ["--config", path or self.config, "--node", "node1",
                    "--state-dir", self.state]
        cmd += list(args)
        return subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=120)

    def ok(self, *args, **kw):
        res = self.run(*args, **kw)
        assert res.returncode == 0, (
            f"backupd {' '.join(args)} exited {res.returncode}:\n"
            f"{res.stdout}{res.stderr}")
        return res

    def backup(self, *extra):
        res = self.ok("backup", "local", "--json", *extra)
        return json.loads(res.stdout.strip().splitlines()[-1])

    def restore(self, snapshot="latest", *paths, expect=EXIT_OK):
        dest = tempfile.mkdtemp(prefix="restore-", dir=self.dir)
        res = self.run("restore", "local", snapshot, dest, *paths)
        assert res.returncode == expect, (
            f"restore exited {res.returncode}, expected {expect}:\n"
            f"{res.stdout}{res.stderr}")
        return dest, res

    def packs(self):
        out = []
        for root, _, files in os.walk(os.path.join(self.repo, "data")):
            out += [os.path.join(root, f) for f in files if ".tmp." not in f]
        return sorted(out)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def write_random(path, size, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(rnd.randbytes(n))
            left -= n


def state_of(path):
    """Everything a restore must give back for one entry."""
    st = os.lstat(path)
    out = {"mode": stat.S_IMODE(st.st_mode), "type": stat.S_IFMT(st.st_mode),
           "uid": st.st_uid, "gid": st.st_gid, "mtime": st.st_mtime_ns}
    if not stat.S_ISLNK(st.st_mode):
        out["atime"] = st.st_atime_ns
        out["xattrs"] = {n: os.getxattr(path, n, follow_symlinks=False)
                         for n in sorted(os.listxattr(path, follow_symlinks=False))}
    if stat.S_ISLNK(st.st_mode):
        out["target"] = os.readlink(path)
    if stat.S_ISREG(st.st_mode):
        # O_NOATIME: looking must not change what is looked at
        fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
        with os.fdopen(fd, "rb") as f:
            out["data"] = f.read()
        out["size"] = st.st_size
    return out


def tree_state(top):
    """Every entry under top with its state, and which share an inode."""
    entries, inodes = {}, {}
    for root, dirs, files in os.walk(top):
        for name in sorted(dirs + files):
            p = os.path.join(root, name)
            rel = os.path.relpath(p, top)
            entries[rel] = state_of(p)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                inodes.setdefault(st.st_ino, []).append(rel)
    links = sorted(sorted(v) for v in inodes.values())
    return entries, links


def compare(expected, got_top):
    exp_entries, exp_links = expected
    got_entries, got_links = tree_state(got_top)
    assert sorted(exp_entries) == sorted(got_entries), (
        f"entries differ: missing {sorted(set(exp_entries) - set(got_entries))}, "
        f"extra {sorted(set(got_entries) - set(exp_entries))}")
    for rel, want in exp_entries.items():
        have = got_entries[rel]
        for key in want:
            if key == "atime" and stat.S_ISDIR(want["type"]):
                continue  # the walk itself reads directories again
            assert want[key] == have.get(key), (
                f"{rel}: {key} differs: {str(want[key])[:80]} != {str(have.get(key))[:80]}")
    assert exp_links == got_links, f"hard links differ: {exp_links} != {got_links}"


def make_rich_tree(env):
    s = env.src
    os.makedirs(os.path.join(s, "sub", "deeper"))
    os.makedirs(os.path.join(s, "private"), mode=0o700)
    write_random(os.path.join(s, "big.db"), 3 << 20, 1)
    write_random(os.path.join(s, "sub", "small"), 1000, 2)
    with open(os.path.join(s, "empty"), "w"):
        pass
    with open(os.path.join(s, "sub", "deeper", "text"), "w") as f:
        f.write("hello backup\n" * 5000)  # compresses
    # holes: data at 0, 5 MiB and the last byte of 12 MiB
    sparse = os.path.join(s, "sparse")
    with open(sparse, "wb") as f:
        f.write(b"head" * 1000)
        f.seek(5 << 20)
        f.write(os.urandom(100 << 10))
        f.truncate(12 << 20)
        f.seek((12 << 20) - 1)
        f.write(b"z")
    os.link(os.path.join(s, "sub", "small"), os.path.join(s, "hardlink"))
    os.link(os.path.join(s, "sub", "small"), os.path.join(s, "sub", "deeper", "hardlink2"))
    os.symlink("sub/small", os.path.join(s, "symlink"))
    os.symlink("/nonexistent/target", os.path.join(s, "sub", "dangling"))
    os.mkfifo(os.path.join(s, "fifo"), 0o640)
    os.setxattr(os.path.join(s, "big.db"), "user.app", b"v1")
    os.setxattr(os.path.join(s, "sub"), "user.dir", b"\x00\x01binary")
    os.chown(os.path.join(s, "sub", "small"), 1234, 5678)
    os.chown(os.path.join(s, "symlink"), 4321, 8765, follow_symlinks=False)
    os.chmod(os.path.join(s, "sub", "deeper", "text"), 0o4751)
    os.chmod(os.path.join(s, "empty"), 0o400)
    with open(os.path.join(env.src2, "conf"), "w") as f:
        f.write("setting=1\n")
    # times last: mtime and atime in ns, far from now
    for root, dirs, files in os.walk(s, topdown=False):
        for name in dirs + files + [""]:
            p = os.path.join(root, name) if name else root
            os.utime(p, ns=(1600000000123456789, 1500000000987654321),
                     follow_symlinks=False)


# --- tests -------------------------------------------------------------------

def test_full_backup_restores_identical_with_metadata(env):
    make_rich_tree(env)
    env.ok("init", "local")
    expected_src, expected_src2 = tree_state(env.src), tree_state(env.src2)
    first = env.backup()
    assert first["ok"] and first["snapshot"], first
    assert first["files"] >= 6, first
    # holes are not read: 12 MiB sparse file, ~200 KiB of data
    assert first["bytes_read"] < (3 << 20) + (1 << 20), first
    dest, out = env.restore()
    compare(expected_src, dest + env.src)
    compare(expected_src2, dest + env.src2)
    st = os.stat(dest + env.src + "/sparse")
    assert st.st_blocks * 512 < (1 << 20), f"sparse file restored dense: {st.st_blocks} blocks"
    state = json.load(open(os.path.join(env.state, "backup", "local.json")))
    assert state["last_success"]["snapshot"] == first["snapshot"], state
    assert state["last_failure"] is None, state
    # a second backup of the same data uploads almost nothing
    second = env.backup()
    assert second["chunks_new"] == 0 and second["bytes_new"] == 0, second
    listed = env.ok("list", "local", "--json").stdout
    ids = [s["id"] for s in json.loads(listed)]
    assert ids == [first["snapshot"], second["snapshot"]], ids
    # only some paths
    dest, _ = env.restore(first["snapshot"][:12], env.src + "/sub")
    assert os.path.exists(dest + env.src + "/sub/deeper/text")
    assert not os.path.exists(dest + env.src + "/big.db")
    assert not os.path.exists(dest + env.src2)


def test_incremental_with_change_list_reads_only_changed_zones(env):
    size = 32 << 20
    big = os.path.join(env.src, "db")
    write_random(big, size, 7)
    write_random(os.path.join(env.src, "other"), 200 << 10, 8)
    env.ok("init", "local")
    full = env.backup()
    assert full["bytes_read"] >= size, full
    # change 1 % of the zones (5 of 512), in place
    zones = [3, 100, 101, 250, 511]
    with open(big, "r+b") as f:
        for z in zones:
            f.seek(z * ZONE + 1000)
            f.write(os.urandom(ZONE - 2000))
    changed = len(zones) * ZONE
    ranges = ",".join(f"{z}+1" for z in zones)
    changes = os.path.join(env.dir, "changes")
    with open(changes, "w") as f:
        f.write(f"complete\n0 zones {ranges} db\n")
    expected = tree_state(env.src)
    inc = env.backup("--changes", changes)
    print(f"    incremental: changed {changed} bytes, read {inc['bytes_read']}, "
          f"new {inc['bytes_new']}, uploaded {inc['bytes_uploaded']}")
    assert inc["bytes_read"] <= 1.2 * changed, inc
    assert inc["bytes_new"] <= 1.2 * changed, inc
    assert inc["bytes_uploaded"] <= 1.2 * changed, inc
    assert inc["files_unlisted_changed"] == 0, inc
    dest, _ = env.restore()
    compare(expected, dest + env.src)
    env.ok("verify", "local")

    # a file changed that the list does not name: noticed, read whole
    with open(os.path.join(env.src, "other"), "r+b") as f:
        f.write(b"unlisted change")
    with open(changes, "w") as f:
        f.write("complete\n")
    expected = tree_state(env.src)
    inc2 = env.backup("--changes", changes)
    assert inc2["files_unlisted_changed"] == 1, inc2
    assert inc2["bytes_read"] <= 300 << 10, inc2
    dest, _ = env.restore()
    compare(expected, dest + env.src)

    # two directories swapped by renames, their files alike in size and
    # mtime: the list's "tree" items make both read again, not reused
    for d, fill in (("x", b"X"), ("y", b"Y")):
        os.makedirs(os.path.join(env.src, d))
        with open(os.path.join(env.src, d, "f"), "wb") as f:
            f.write(fill * 5000)
        os.utime(os.path.join(env.src, d, "f"), ns=(1, 1700000000000000000))
    with open(changes, "w") as f:
        f.write("complete\n0 whole x\n0 whole y\n")
    env.backup("--changes", changes)
    os.rename(os.path.join(env.src, "x"), os.path.join(env.src, "t"))
    os.rename(os.path.join(env.src, "y"), os.path.join(env.src, "x"))
    os.rename(os.path.join(env.src, "t"), os.path.join(env.src, "y"))
    with open(changes, "w") as f:
        f.write("complete\n0 tree x\n0 tree y\n")
    env.backup("--changes", changes)
    dest, _ = env.restore()
    with open(dest + env.src + "/x/f", "rb") as f:
        assert f.read(1) == b"Y", "a renamed directory's file was taken from the parent"

    # an incomplete list is no list: everything is read again
    with open(changes, "w") as f:
        f.write("incomplete\n")
    inc3 = env.backup("--changes", changes)
    assert inc3["bytes_read"] >= size, inc3
    assert inc3["chunks_new"] == 0, inc3


def test_killed_backup_leaves_repository_valid_and_next_reuses_uploads(env):
    write_random(os.path.join(env.src, "a"), 24 << 20, 11)
    env.ok("init", "local")
    # a crash after the first pack: no index, no snapshot, a lock left
    crash_env = dict(os.environ, SKYHA_BACKUP_CRASH_AFTER_PACKS="2")
    res = env.run("backup", "local", env=crash_env)
    assert res.returncode == 9, f"the crash hook did not fire: {res.returncode} {res.stderr}"
    assert len(env.packs()) >= 2, env.packs()
    assert not os.listdir(os.path.join(env.repo, "snapshots")) if os.path.isdir(
        os.path.join(env.repo, "snapshots")) else True
    env.ok("verify", "local")
    # and a real kill -9 as soon as a pack of the second run lands
    write_random(os.path.join(env.src, "b"), 24 << 20, 12)
    before = set(env.packs())
    proc = subprocess.Popen([BACKUPD, "--config", env.config, "--node", "node1",
                             "--state-dir", env.state, "backup", "local"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and not (set(env.packs()) - before):
        time.sleep(0.002)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    print(f"    kill -9 {'landed mid-backup' if killed else 'came after the end'}")
    env.ok("verify", "local")
    nxt = env.backup()
    assert nxt["ok"], nxt
    # the uploads of the killed runs were reused, not sent again
    assert nxt["bytes_new"] < (48 << 20) - (8 << 20), nxt
    out = env.ok("verify", "local").stdout
    assert "0 bad objects" in out, out
    dest, _ = env.restore()
    with open(dest + env.src + "/a", "rb") as f, open(env.src + "/a", "rb") as g:
        assert f.read() == g.read()


def test_corrupted_pack_is_named_by_verify_and_refused_by_restore(env):
    write_random(os.path.join(env.src, "data"), 1 << 20, 21)
    env.ok("init", "local")
    env.backup()
    packs = env.packs()
    assert len(packs) == 1, packs
    with open(packs[0], "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0x40]))
    res = env.run("verify", "local")
    assert res.returncode == EXIT_DAMAGED, res
    name = os.path.relpath(packs[0], env.repo)
    assert name in res.stderr, res.stderr
    assert "fails authentication" in res.stderr, res.stderr
    dest, res = env.restore(expect=EXIT_DAMAGED)
    assert "refused" in res.stderr, res.stderr
    assert not os.path.exists(dest + env.src + "/data"), "damaged file left restored"


def test_missing_pack_is_named_by_verify(env):
    write_random(os.path.join(env.src, "data"), 6 << 20, 22)
    env.ok("init", "local")
    env.backup()
    packs = env.packs()
    assert len(packs) >= 2, packs
    os.unlink(packs[0])
    res = env.run("verify", "local")
    assert res.returncode == EXIT_DAMAGED, res
    name = os.path.relpath(packs[0], env.repo)
    assert f"{name}: named by an index, missing" in res.stderr, res.stderr
    assert "is in no index" not in res.stderr  # the index still names it


def test_wrong_key_is_refused_with_a_clear_error(env):
    with open(os.path.join(env.src, "f"), "w") as f:
        f.write("x")
    env.ok("init", "local")
    env.backup()
    env.run("keygen", os.path.join(env.dir, "other.key"), config=False)
    other = env.write_config("other.yaml", "other.key")
    for cmd in (["list", "local"], ["backup", "local"], ["verify", "local"]):
        res = env.run(*cmd, path=other)
        assert res.returncode == EXIT_KEY, (cmd, res.returncode, res.stderr)
        assert "wrong key file" in res.stdout + res.stderr, res.stderr
    # a passphrase where the repository has a key file
    with open(os.path.join(env.dir, "phrase"), "w") as f:
        f.write("correct horse battery staple\n")
    os.chmod(os.path.join(env.dir, "phrase"), 0o600)
    text = open(env.config).read().replace("key_file: backup.key",
                                           "passphrase_file: phrase")
    with open(os.path.join(env.dir, "phrase.yaml"), "w") as f:
        f.write(text)
    res = env.run("list", "local", path=os.path.join(env.dir, "phrase.yaml"))
    assert res.returncode == EXIT_KEY, res


def test_passphrase_repository_opens_with_its_passphrase_only(env):
    with open(os.path.join(env.dir, "phrase"), "w") as f:
        f.write("correct horse battery staple\n")
    os.chmod(os.path.join(env.dir, "phrase"), 0o600)
    text = open(env.config).read().replace("key_file: backup.key",
                                           "passphrase_file: phrase")
    cfg = os.path.join(env.dir, "phrase.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    with open(os.path.join(env.src, "f"), "w") as f:
        f.write("x")
    env.ok("init", "local", path=cfg)
    env.ok("backup", "local", path=cfg)
    key = json.load(open(os.path.join(env.repo, "keys", os.listdir(
        os.path.join(env.repo, "keys"))[0])))
    assert key["kdf"] == "argon2id" and key["memlimit"] > 0, key
    with open(os.path.join(env.dir, "phrase"), "w") as f:
        f.write("wrong horse\n")
    res = env.run("list", "local", path=cfg)
    assert res.returncode == EXIT_KEY and "wrong passphrase" in res.stderr, res


def test_two_concurrent_backups_both_verify(env):
    write_random(os.path.join(env.src, "a"), 12 << 20, 31)
    write_random(os.path.join(env.src2, "b"), 12 << 20, 32)
    env.ok("init", "local")
    cmd = [BACKUPD, "--config", env.config, "--node", "node1",
           "--state-dir", env.state, "backup", "local", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    ids = {json.loads(o.strip().splitlines()[-1])["snapshot"] for o, _ in outs}
    res = env.ok("verify", "local")
    assert "2 snapshots" in res.stdout and "0 bad objects" in res.stdout, res.stdout
    for snap in ids:
        dest, _ = env.restore(snap)
        with open(dest + env.src + "/a", "rb") as f, open(env.src + "/a", "rb") as g:
            assert f.read() == g.read()


def test_forget_and_prune_keep_the_policy_and_a_valid_repository(env):
    env.ok("init", "local")
    snaps = []
    for i in range(4):
        write_random(os.path.join(env.src, f"f{i}"), 2 << 20, 40 + i)
        if i:
            os.unlink(os.path.join(env.src, f"f{i - 1}"))
        snaps.append(env.backup()["snapshot"])
    expected = tree_state(env.src)
    before = len(env.packs())
    res = env.ok("forget", "local", "--keep-last", "1", "--prune")
    assert "1 kept, 3 forgotten" in res.stdout, res.stdout
    listed = [s["id"] for s in json.loads(env.ok("list", "local", "--json").stdout)]
    assert listed == [snaps[-1]], listed
    assert len(env.packs()) < before, (before, env.packs())
    out = env.ok("verify", "local").stdout
    assert "0 bad objects" in out, out
    dest, _ = env.restore()
    compare(expected, dest + env.src)
    # a stale exclusive lock (its holder died) does not block for ever
    os.makedirs(os.path.join(env.repo, "locks"), exist_ok=True)
    with open(os.path.join(env.repo, "locks", "0" * 32), "w") as f:
        json.dump({"holder": "prune", "host": "gone", "pid": 1, "created": 1,
                   "expires": 2, "exclusive": True}, f)
    env.backup()
    assert not os.path.exists(os.path.join(env.repo, "locks", "0" * 32))
    # a live one does
    with open(os.path.join(env.repo, "locks", "1" * 32), "w") as f:
        json.dump({"holder": "prune", "host": "elsewhere", "pid": 1,
                   "created": int(time.time()), "expires": int(time.time()) + 600,
                   "exclusive": True}, f)
    res = env.run("backup", "local")
    assert res.returncode == EXIT_LOCKED and "locked" in res.stderr, res


def test_config_errors_name_file_line_and_field(env):
    bad = env.write_config("bad.yaml", "backup.key", extra="      keep_lots: 3\n")
    res = env.run("--check", path=bad)
    assert res.returncode == EXIT_USAGE, res
    assert "bad.yaml:" in res.stderr and "backup.targets[0].keep_lots" in res.stderr, res.stderr
    res = env.run("--check")
    assert res.returncode == 0 and "configuration OK" in res.stdout, res


def test_skyctl_backup_runs_backupd_for_the_module(env):
    skyctl = os.path.join(TOP, "build", "skyctl")
    with open(os.path.join(env.src, "f"), "w") as f:
        f.write("via skyctl")
    env.ok("init", "local")
    run_env = dict(os.environ, SKYHA_BACKUPD=BACKUPD, SKYHA_CONFIG_DIR=env.dir)

    def skyctl_run(*args):
        return subprocess.run([skyctl, "-m", "app"] + list(args), capture_output=True,
                              text=True, env=run_env, timeout=60)
    res = skyctl_run("--json", "backup", "now", "--node", "node1",
                     "--state-dir", env.state)
    assert res.returncode == 0, res.stderr
    snap = json.loads(res.stdout.strip().splitlines()[-1])["snapshot"]
    res = skyctl_run("backup", "list")
    assert res.returncode == 0 and snap[:16] in res.stdout, res
    res = skyctl_run("backup", "verify", "local")
    assert res.returncode == 0 and "0 bad objects" in res.stdout, res
    res = skyctl_run("backup", "bogus")
    assert res.returncode == 2, res


class FakeReplicd(threading.Thread):
    """replicd's side of the hold as docs/protocol.md states it, for backupd's side:
    binds the backup endpoint, reads backupd's state, answers in replicd.json. (The
    real replicd against a stand-in backupd: tests/cluster/test_backup_hold.py.)"""

    def __init__(self, run_dir, record, refuse=None):
        super().__init__(daemon=True)
        import zmq
        self.dir = os.path.join(run_dir, "app")
        os.makedirs(self.dir, exist_ok=True)
        self.record, self.refuse = record, refuse
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"app.backupd.actual")
        self.sub.bind(f"ipc://{self.dir}/backup")
        self.seen = []  # (hold, completed) pairs, in order, without repeats
        self.backup = {"hold": None, "held": False, "record": None, "refused": None,
                       "released": None, "failed": None}
        self.write()
        self.running = True

    def write(self):
        tmp = os.path.join(self.dir, "replicd.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"state": "secondary", "backup": self.backup}, f)
        os.rename(tmp, os.path.join(self.dir, "replicd.json"))

    def run(self):
        import zmq
        poller = zmq.Poller()
        poller.register(self.sub, zmq.POLLIN)
        while self.running:
            if not poller.poll(100):
                continue
            topic, body = self.sub.recv_multipart()
            msg = json.loads(body)
            pair = (msg.get("hold"), msg.get("completed"))
            if not self.seen or self.seen[-1] != pair:
                self.seen.append(pair)
            hold, completed = pair
            b = self.backup
            if hold and hold != b["hold"]:
                b.update(hold=hold, held=self.refuse is None,
                         record=self.record if self.refuse is None else None,
                         refused=self.refuse)
                self.write()
            elif not hold and b["hold"]:
                ok = completed == b["hold"]
                b.update(released=b["hold"] if ok else None,
                         failed=None if ok else b["hold"], hold=None, held=False,
                         record=None, refused=None)
                self.write()

    def stop(self):
        self.running = False
        self.join()
        self.sub.close(0)
        self.ctx.term()


class Skip(Exception):
    """A test that cannot run here: reported, never counted as passed."""


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server(env, argv, port):
    """Start a test object store (our child) and wait until it listens."""
    import socket
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise AssertionError(f"{argv[0]} did not listen on {port}")


def _cloud_cycle(env, name, target_yaml, run_env=None):
    """init, backup, incremental, verify, restore identical, forget --prune."""
    cfg = env.write_config(f"{name}.yaml", "backup.key", extra=target_yaml)
    write_random(os.path.join(env.src, "db"), 10 << 20, 51)
    with open(os.path.join(env.src2, "conf"), "w") as f:
        f.write("x=1\n")
    env.ok("init", name, path=cfg, env=run_env)
    expected = tree_state(env.src)
    res = env.ok("backup", name, "--json", path=cfg, env=run_env)
    first = json.loads(res.stdout.strip().splitlines()[-1])
    with open(os.path.join(env.src2, "conf"), "a") as f:
        f.write("y=2\n")
    res = env.ok("backup", name, "--json", path=cfg, env=run_env)
    second = json.loads(res.stdout.strip().splitlines()[-1])
    assert second["bytes_uploaded"] < first["bytes_uploaded"] / 100, second
    out = env.ok("verify", name, path=cfg, env=run_env).stdout
    assert "2 snapshots" in out and "0 bad objects" in out, out
    dest = tempfile.mkdtemp(prefix="restore-", dir=env.dir)
    env.ok("restore", name, first["snapshot"], dest, path=cfg, env=run_env)
    compare(expected, dest + env.src)
    env.ok("forget", name, "--keep-last", "1", "--prune", path=cfg, env=run_env)
    out = env.ok("verify", name, path=cfg, env=run_env).stdout
    assert "1 snapshots" in out and "0 bad objects" in out, out


NPM_BIN = os.path.join(TOP, "tools", "npm", "node_modules", ".bin")


def test_repository_on_azurite_through_the_azure_target(env):
    """The same commands on an Azure target: Azurite checks every SharedKey signature."""
    azurite = os.path.join(NPM_BIN, "azurite-blob")
    if not os.path.exists(azurite):
        raise Skip("no Azurite (make backup-check installs tools/npm)")
    port = free_port()
    proc = _server(env, [azurite, "--blobHost", "127.0.0.1", "--blobPort", str(port),
                         "--location", os.path.join(env.dir, "azurite"), "--silent",
                         "--skipApiVersionCheck"], port)
    try:
        key = os.path.join(env.dir, "azure.key")
        with open(key, "w") as f:  # Azurite's well-known development key
            f.write("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
                    "K1SZFPTOtr/KBHBeksoGMGw==")
        os.chmod(key, 0o600)
        _cloud_cycle(env, "az", f"""    - name: az
      kind: azure
      account: devstoreaccount1
      container: skyha
      prefix: pair1/
      credentials: shared_key
      key_file: azure.key
      endpoint: http://127.0.0.1:{port}/devstoreaccount1
""")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_repository_on_s3rver_through_the_s3_target(env):
    """The same commands on an S3 target (s3rver: S3's API, pages and ranges; it does not
    check signatures, tests/backup/run.py does that through its proxy)."""
    s3rver = os.path.join(NPM_BIN, "s3rver")
    if not os.path.exists(s3rver):
        raise Skip("no s3rver (make backup-check installs tools/npm)")
    port = free_port()
    proc = _server(env, [s3rver, "-d", os.path.join(env.dir, "s3"), "-p", str(port),
                         "-a", "127.0.0.1", "--configure-bucket", "skyha", "--silent"], port)
    try:
        run_env = dict(os.environ, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER")
        _cloud_cycle(env, "s3", f"""    - name: s3
      kind: s3
      bucket: skyha
      region: us-east-1
      prefix: pair1/
      endpoint: http://127.0.0.1:{port}
      path_style: true
      credentials: env
""", run_env)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else ""
    if os.geteuid() != 0:
        print("tests/backup: needs root (owners, devices)")
        print("0 passed, 1 failed")
        return 1
    passed = failed = skipped = 0
    t0 = time.monotonic()
    for test in TESTS:
        if only not in test.__name__:
            continue
        env = Env(test.__name__[5:20])
        start = time.monotonic()
        try:
            test(env)
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - start:.1f} s)")
        except Skip as why:
            skipped += 1
            print(f"SKIP {test.__name__}: {why} (not counted as passed)")
        except Exception:  # noqa: BLE001 - a test's failure is reported, not raised
            failed += 1
            print(f"FAIL {test.__name__}")
            traceback.print_exc()
        finally:
            env.cleanup()
    print(f"tests/backup: {time.monotonic() - t0:.1f} s"
          + (f", {skipped} skipped" if skipped else ""))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
