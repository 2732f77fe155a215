"""Cluster tests: what an application did on the primary's mount is on the secondary
after a failover, byte for byte and with its metadata.

A full two-node cluster (heartbeatd + replicd, sync mode): the application's calls run
on node1's mount (rename over an open file, hard links, two O_APPEND writers at once,
truncate up and down, sparse files, fallocate and punched holes, shared mmap + msync,
xattrs, chmod/chown/utimensat, a deleted file still open and written, a directory
renamed with files open inside, 255-byte names, deep paths, unicode names); then node1
is killed, node2 takes over, and node2's copy must equal node1's disk: names, types,
modes, owners, sizes, contents, holes, user./trusted. xattrs, hard links, and the times
set explicitly with utimensat. Then a resync by hashes after a failover: files whose
names were linked or unlinked on the survivor end with the primary's bytes and links.
"""

import ctypes
import mmap
import os
import stat
import threading

from lab import lab_options
from replicd_lab import ReplicdLab, sync_dir, walk

BOUND_S = 20
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE = 1, 2, 0x10
KiB, MiB = 1 << 10, 1 << 20


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def write_file(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def pattern(n, seed):
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


def data_map(path):
    """[(start, end)] of the data segments (SEEK_DATA/SEEK_HOLE)."""
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size, off = os.fstat(fd).st_size, 0
        while off < size:
            try:
                start = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start, end))
            off = end
    finally:
        os.close(fd)
    return out


def tree(root, times_of=(), holes=True):
    """({relative path: description}, [sorted groups of names of one inode]).
    holes: with the data map, which ext4 gives only before the file is read (an
    unwritten extent whose zero pages are cached reads as data), so a copy read
    before through another path is compared without it."""
    out, inodes = {}, {}
    for rel, p, st in walk(root):
        desc = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
        if stat.S_ISREG(st.st_mode):
            desc += [st.st_nlink, st.st_size, data_map(p) if holes else None]
            with open(p, "rb") as f:
                desc.append(f.read())
            inodes.setdefault(st.st_ino, []).append(rel)
        if stat.S_ISLNK(st.st_mode):
            desc.append(os.readlink(p))
        else:
            desc.append(sorted((k, os.getxattr(p, k, follow_symlinks=False))
                               for k in os.listxattr(p, follow_symlinks=False)
                               if k.startswith(("user.", "trusted."))))
        if os.fsdecode(rel) in times_of:
            desc.append(("mtime", st.st_mtime_ns))
        out[rel] = desc
    links = sorted(sorted(v) for v in inodes.values() if len(v) > 1)
    return out, links


def compare(a, b, what):
    keys = sorted(set(a[0]) | set(b[0]))
    diff = [(k, str(a[0].get(k))[:200], str(b[0].get(k))[:200])
            for k in keys if a[0].get(k) != b[0].get(k)]
    assert not diff and a[1] == b[1], \
        f"{what}: {len(diff)} entries differ: {diff[:4]}; links {a[1]} vs {b[1]}"


def application(m):
    """The application's calls on the primary's mount m; returns the paths whose
    times it set explicitly (with nothing written after)."""
    j = os.path.join
    # rename over an existing file that is open: the old file stays usable
    write_file(j(m, "config"), b"old config\n")
    old = os.open(j(m, "config"), os.O_RDWR)
    write_file(j(m, "config.tmp"), b"new config\n")
    os.rename(j(m, "config.tmp"), j(m, "config"))
    os.pwrite(old, b"OLD", 0)
    os.close(old)

    # hard links, written through one name, the first name removed
    write_file(j(m, "h1"), pattern(70 * KiB, 1))
    os.mkdir(j(m, "hsub"))
    os.link(j(m, "h1"), j(m, "h2"))
    os.link(j(m, "h1"), j(m, "hsub", "h3"))
    fd = os.open(j(m, "h2"), os.O_WRONLY)
    os.pwrite(fd, b"through h2", 65530)
    os.close(fd)
    os.unlink(j(m, "h1"))

    # two O_APPEND writers at once
    def appender(tag, n):
        fd = os.open(j(m, "log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            for i in range(n):
                os.write(fd, (f"{tag}{i:05d}" + tag * (i % 37) + "\n").encode())
        finally:
            os.close(fd)
    ts = [threading.Thread(target=appender, args=(t, 400)) for t in "AB"]
    for t in ts:
        t.start()
    for t in ts:
        t.join()

    # truncate up and down, in and across zones
    write_file(j(m, "trunc"), pattern(200 * KiB, 2))
    os.truncate(j(m, "trunc"), 70 * KiB + 3)
    os.truncate(j(m, "trunc"), 300 * KiB)
    fd = os.open(j(m, "trunc"), os.O_RDWR)
    os.pwrite(fd, b"after the hole", 250 * KiB)
    os.ftruncate(fd, 260 * KiB - 1)
    os.ftruncate(fd, 10)
    os.ftruncate(fd, 129 * KiB)
    os.close(fd)

    # sparse file with holes
    fd = os.open(j(m, "sparse"), os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(fd, b"start", 0)
    os.pwrite(fd, pattern(8 * KiB, 3), 1 * MiB)
    os.pwrite(fd, b"end", 9 * MiB + 3)
    os.close(fd)

    # fallocate, keep size, punch hole, zero range
    fd = os.open(j(m, "falloc"), os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, pattern(512 * KiB, 4))
    os.posix_fallocate(fd, 0, 1 * MiB)
    fallocate(fd, KEEP_SIZE, 1 * MiB, 256 * KiB)
    fallocate(fd, KEEP_SIZE | PUNCH_HOLE, 64 * KiB, 128 * KiB)
    fallocate(fd, KEEP_SIZE | PUNCH_HOLE, 300 * KiB + 5, 10)
    fallocate(fd, ZERO_RANGE, 400 * KiB, 8 * KiB)
    os.close(fd)

    # shared mmap writes + msync
    write_file(j(m, "mapped"), b"\0" * (3 * 64 * KiB))
    fd = os.open(j(m, "mapped"), os.O_RDWR)
    mm = mmap.mmap(fd, 3 * 64 * KiB, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    mm[10:20] = b"0123456789"
    mm[130 * KiB:130 * KiB + 4] = b"mmap"
    mm.flush()
    mm[5:8] = b"two"
    mm.flush(0, mmap.PAGESIZE)
    mm.close()
    os.close(fd)

    # xattrs
    write_file(j(m, "xa"), b"x")
    os.setxattr(j(m, "xa"), "user.small", b"v")
    os.setxattr(j(m, "xa"), "user.big", pattern(3000, 5))
    os.setxattr(j(m, "xa"), "trusted.t", b"\0\1\2")
    os.setxattr(j(m, "xa"), "user.gone", b"g")
    os.removexattr(j(m, "xa"), "user.gone")
    os.setxattr(j(m, "xa"), "user.small", b"replaced", os.XATTR_REPLACE)
    os.setxattr(j(m, "hsub"), "user.dir", b"on a directory")

    # a deleted file still open and written: one with a second name, one without
    write_file(j(m, "del"), b"before")
    os.link(j(m, "del"), j(m, "del.keep"))
    fd = os.open(j(m, "del"), os.O_RDWR)
    fd2 = os.open(j(m, "gone"), os.O_RDWR | os.O_CREAT, 0o600)
    os.unlink(j(m, "del"))
    os.unlink(j(m, "gone"))
    os.pwrite(fd, b"after unlink, 100 KiB in", 100 * KiB)
    os.fchmod(fd, 0o640)
    os.setxattr(fd, "user.fd", b"set through the fd")
    os.pwrite(fd2, pattern(200 * KiB, 6), 0)
    os.fsync(fd2)
    os.close(fd)
    os.close(fd2)

    # a directory renamed with files open inside
    os.makedirs(j(m, "dir1", "inner"))
    fds = [os.open(j(m, "dir1", n), os.O_RDWR | os.O_CREAT, 0o644)
           for n in ("f1", "f2", os.path.join("inner", "f3"))]
    os.write(fds[0], b"written before the rename")
    os.rename(j(m, "dir1"), j(m, "dir2"))
    os.write(fds[0], b" and after")
    os.pwrite(fds[1], pattern(90 * KiB, 7), 1000)
    os.ftruncate(fds[1], 50 * KiB)
    os.fchmod(fds[2], 0o600)
    os.write(fds[2], b"inner file")
    os.setxattr(fds[2], "user.after", b"rename")
    os.mkdir(j(m, "dir3"))
    os.rename(j(m, "dir2", "inner"), j(m, "dir3", "moved"))
    os.write(fds[2], b", moved again")
    for fd in fds:
        os.close(fd)

    # long names, deep paths, unicode names
    long = "L" * 255
    write_file(j(m, long), b"255")
    os.mkdir(j(m, "é" * 127))
    write_file(j(m, "é" * 127, "ü" * 127), b"two-byte characters")
    deep = m
    for i in range(150):
        deep = j(deep, f"level{i:03d}-" + "d" * 15)
    os.makedirs(deep)
    write_file(j(deep, "bottom"), b"deep")
    for name in ("café", "cafe\u0301", "日本語のファイル", "emoji-\U0001F600", "tab\tname"):
        write_file(j(m, name), name.encode())
    os.rename(j(m, "日本語のファイル"), j(m, "renamé-日本"))

    # chmod/chown/utimensat last, so nothing writes after them
    os.chmod(j(m, "config"), 0o600)
    os.chown(j(m, "config"), 1001, 1002)
    os.chown(j(m, "log"), 1003, -1)
    os.chmod(j(m, "dir3"), 0o2770)
    os.symlink("config", j(m, "link"))
    os.chown(j(m, "link"), 1005, 1006, follow_symlinks=False)
    os.utime(j(m, "config"), ns=(1_000_000_001, 1_500_000_123))
    os.utime(j(m, "h2"), ns=(2_000_000_000, 2_000_000_999))
    os.utime(j(m, "link"), ns=(3_000_000_000, 3_000_000_777), follow_symlinks=False)
    os.utime(j(m, "sparse"), ns=(4_000_000_000, 4_000_000_005))
    return ("config", "h2", "link", "sparse")


@lab_options(lab_class=ReplicdLab, networks=1)
def test_every_application_change_is_on_the_secondary_after_a_failover(lab):
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    timed = application(lab.data_dir("node1"))
    sync_dir(lab.data_dir("node1"))
    primary = tree(lab.disk_dir("node1"), timed)
    assert not [k for k in primary[0] if b".fuse_hidden" in k], list(primary[0])[:5]
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    compare(primary, tree(lab.disk_dir("node2"), timed), "node2's disk after the failover")
    mount = tree(lab.data_dir("node2"), timed, holes=False)
    compare(tree(lab.disk_dir("node1"), timed, holes=False), mount,
            "node2's mount after the failover")



def _incomplete_record(m):
    """A change the record cannot name (a file written after one of its names was
    removed): the next resync compares both copies by their hashes."""
    write_file(os.path.join(m, "anon"), b"x")
    os.link(os.path.join(m, "anon"), os.path.join(m, "anon.keep"))
    fd = os.open(os.path.join(m, "anon"), os.O_RDWR)
    os.unlink(os.path.join(m, "anon"))
    os.pwrite(fd, b"y", 0)
    os.close(fd)


@lab_options(lab_class=ReplicdLab, networks=1)
def test_resync_by_hashes_keeps_each_files_links_as_the_primary_has_them(lab):
    """a and b are one file when node1 dies; on node2, alone, b becomes a file of its
    own and c gets a second name d; a change the record cannot name makes the resync
    compare hashes. Before the fix node1's a was written through b (its other name
    there) and held b's bytes while node1 called itself in sync; and d was a copy,
    not a link."""
    lab.start_cluster()
    lab.wait_in_sync("node2", BOUND_S, at_generation=False)
    m1 = lab.data_dir("node1")
    write_file(os.path.join(m1, "a"), b"A" * 100)
    os.link(os.path.join(m1, "a"), os.path.join(m1, "b"))
    write_file(os.path.join(m1, "c"), b"C" * 100)
    sync_dir(m1)
    lab.kill_node("node1")
    lab.wait_role("node2", "ALONE", BOUND_S)
    lab.wait_replicd("node2", "primary", timeout=BOUND_S)
    m = lab.data_dir("node2")
    _incomplete_record(m)
    os.unlink(os.path.join(m, "b"))
    write_file(os.path.join(m, "b"), b"B" * 100)
    os.link(os.path.join(m, "c"), os.path.join(m, "d"))
    lab.restart_node("node1")
    lab.wait_in_sync("node1", BOUND_S, at_generation=False)
    sync_dir(m)
    compare(tree(lab.disk_dir("node2")), tree(lab.disk_dir("node1")),
            "node1's disk after the resync")
