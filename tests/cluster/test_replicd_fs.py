"""Cluster tests: the file system seen through replicd's mount is the real one.

Every operation an application may do is run twice, once through node1's replicd
mount (primary, --standalone, replicating to node2) and once on a plain directory of
the same file system; results and errno must be identical. Then the three trees (the
plain reference, node1's real disk, node2's real disk) must be identical: names (any
bytes), types, modes, owners, sizes, contents, symlink targets, user xattrs.
"""

import ctypes
import errno
import mmap
import os
import stat
import time

from lab import lab_options, sized
from replicd_lab import ReplicdLab, sync_dir, walk

libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
GiB = 1 << 30
WEIRD = b"na\xffme \n\x01\xe9\xe9"
MANY = sized(25_000, 100_000)  # entries in one directory (make check, make soak)


def renameat2(a, b, flags):
    if libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def st_view(st):
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
            st.st_nlink if not stat.S_ISDIR(st.st_mode) else None, st.st_size
            if not stat.S_ISDIR(st.st_mode) else None)


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode=0o644):
    fd = os.open(path, flags, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def ops():
    """[(name, fn(root) -> comparable result)], run in order on each root."""
    j = os.path.join
    steps = []

    def step(name):
        def add(fn):
            steps.append((name, fn))
            return fn
        return add

    @step("create, write, read back")
    def _(r):
        write_file(j(r, "a"), b"hello world\n")
        return read_file(j(r, "a")), st_view(os.lstat(j(r, "a")))

    @step("pwrite in the middle and past the end")
    def _(r):
        fd = os.open(j(r, "a"), os.O_RDWR)
        try:
            os.pwrite(fd, b"HELLO", 0)
            os.pwrite(fd, b"tail", 100)
        finally:
            os.close(fd)
        return read_file(j(r, "a"))

    @step("O_APPEND writes go to the end")
    def _(r):
        fd = os.open(j(r, "a"), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"+1")
            os.write(fd, b"+2")
        finally:
            os.close(fd)
        return read_file(j(r, "a"))

    @step("O_EXCL on an existing file")
    def _(r):
        os.open(j(r, "a"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    @step("open a missing file")
    def _(r):
        os.open(j(r, "missing"), os.O_RDONLY)

    @step("truncate grows and shrinks, ftruncate")
    def _(r):
        os.truncate(j(r, "a"), 50)
        s1 = os.stat(j(r, "a")).st_size
        fd = os.open(j(r, "a"), os.O_RDWR)
        try:
            os.ftruncate(fd, 5000)
        finally:
            os.close(fd)
        return s1, read_file(j(r, "a"))

    @step("O_TRUNC empties the file")
    def _(r):
        write_file(j(r, "t"), b"0123456789")
        fd = os.open(j(r, "t"), os.O_WRONLY | os.O_TRUNC)
        os.close(fd)
        return os.stat(j(r, "t")).st_size

    @step("fallocate, keep-size, punch hole")
    def _(r):
        fd = os.open(j(r, "f"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"x" * 65536)
            os.posix_fallocate(fd, 0, 200000)
            fallocate(fd, FALLOC_FL_KEEP_SIZE, 200000, 100000)
            fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 4096, 8192)
            os.fdatasync(fd)
        finally:
            os.close(fd)
        return os.stat(j(r, "f")).st_size, read_file(j(r, "f"))

    @step("sparse file larger than 4 GiB")
    def _(r):
        fd = os.open(j(r, "big"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, b"end", 5 * GiB)
            os.pwrite(fd, b"mid", 4 * GiB + 7)
            os.fsync(fd)
            data = os.pread(fd, 3, 5 * GiB), os.pread(fd, 3, 4 * GiB + 7)
            hole = os.lseek(fd, 0, os.SEEK_HOLE)
        finally:
            os.close(fd)
        return os.stat(j(r, "big")).st_size, data, hole

    @step("mkdir, mkdir existing, rmdir non-empty, rmdir a file")
    def _(r):
        os.mkdir(j(r, "d"), 0o750)
        out = [st_view(os.stat(j(r, "d")))]
        for fn in (lambda: os.mkdir(j(r, "d")), lambda: write_file(j(r, "d", "x"), b"1"),
                   lambda: os.rmdir(j(r, "d")), lambda: os.rmdir(j(r, "a")),
                   lambda: os.unlink(j(r, "d")), lambda: os.unlink(j(r, "nope"))):
            try:
                out.append(fn())
            except OSError as e:
                out.append(errno.errorcode[e.errno])
        return out

    @step("mknod a FIFO")
    def _(r):
        os.mkfifo(j(r, "fifo"), 0o640)
        return st_view(os.lstat(j(r, "fifo")))

    @step("symlink, readlink, a dangling one, one pointing out of the tree")
    def _(r):
        os.symlink("a", j(r, "la"))
        os.symlink("does/not/exist", j(r, "dangling"))
        os.symlink("../../../../../../../../etc/hostname", j(r, "out"))
        return (os.readlink(j(r, "la")), read_file(j(r, "la")), os.readlink(j(r, "out")),
                st_view(os.lstat(j(r, "la"))))

    @step("hard link, link onto an existing name")
    def _(r):
        os.link(j(r, "a"), j(r, "a2"))
        out = [os.stat(j(r, "a")).st_nlink]
        try:
            os.link(j(r, "a"), j(r, "t"))
        except OSError as e:
            out.append(errno.errorcode[e.errno])
        return out

    @step("rename, over a file, dir over non-empty dir, NOREPLACE, EXCHANGE")
    def _(r):
        out = []
        write_file(j(r, "r1"), b"one")
        write_file(j(r, "r2"), b"two")
        os.rename(j(r, "r1"), j(r, "r3"))
        os.rename(j(r, "r3"), j(r, "r2"))
        out.append(read_file(j(r, "r2")))
        os.mkdir(j(r, "e1"))
        os.mkdir(j(r, "e2"))
        write_file(j(r, "e2", "inside"), b"")
        for fn in (lambda: os.rename(j(r, "e1"), j(r, "e2")),
                   lambda: renameat2(j(r, "a2"), j(r, "r2"), RENAME_NOREPLACE),
                   lambda: renameat2(j(r, "r2"), j(r, "t"), RENAME_EXCHANGE),
                   lambda: renameat2(j(r, "e1"), j(r, "e3"), RENAME_NOREPLACE)):
            try:
                out.append(fn())
            except OSError as e:
                out.append(errno.errorcode[e.errno])
        out.append((read_file(j(r, "r2")), read_file(j(r, "t"))))
        return out

    @step("chmod, chown, utimens (explicit and now)")
    def _(r):
        os.chmod(j(r, "t"), 0o4711)
        os.chown(j(r, "t"), 1234, 5678)
        os.lchown(j(r, "la"), 4321, 8765)
        os.utime(j(r, "t"), ns=(1_000_000_123, 2_000_000_456))
        times = os.stat(j(r, "t"))
        before = time.time()
        os.utime(j(r, "a"))
        now_ok = os.stat(j(r, "a")).st_mtime >= before - 1
        return (st_view(os.stat(j(r, "t"))), st_view(os.lstat(j(r, "la"))),
                times.st_atime_ns, times.st_mtime_ns, now_ok)

    @step("xattrs: set, replace, create-existing, list, remove, remove-missing")
    def _(r):
        out = []
        os.setxattr(j(r, "a"), "user.k1", b"v1")
        os.setxattr(j(r, "a"), "user.k1", b"v1bis", os.XATTR_REPLACE)
        os.setxattr(j(r, "d"), "user.k2", b"\x00\xff" * 100)
        for fn in (lambda: os.setxattr(j(r, "a"), "user.k1", b"x", os.XATTR_CREATE),
                   lambda: os.removexattr(j(r, "a"), "user.none"),
                   lambda: os.getxattr(j(r, "a"), "user.none")):
            try:
                out.append(fn())
            except OSError as e:
                out.append(errno.errorcode[e.errno])
        os.setxattr(j(r, "a"), "user.gone", b"1")
        os.removexattr(j(r, "a"), "user.gone")
        out += [os.getxattr(j(r, "a"), "user.k1"), sorted(os.listxattr(j(r, "a"))),
                os.getxattr(j(r, "d"), "user.k2")]
        return out

    @step("names with any bytes")
    def _(r):
        rb = os.fsencode(r)
        write_file(os.path.join(rb, WEIRD), b"weird")
        os.mkdir(os.path.join(rb, b"dir\xfe"))
        os.rename(os.path.join(rb, WEIRD), os.path.join(rb, b"dir\xfe", WEIRD))
        return sorted(os.listdir(os.path.join(rb, b"dir\xfe")))

    @step("unlink while open: the open file stays usable")
    def _(r):
        fd = os.open(j(r, "u"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"abc")
            os.unlink(j(r, "u"))
            os.pwrite(fd, b"Z", 1)
            os.fsync(fd)
            return os.pread(fd, 10, 0), os.path.exists(j(r, "u"))
        finally:
            os.close(fd)

    @step("shared mmap writes, msync")
    def _(r):
        write_file(j(r, "m"), b"\0" * 8192)
        fd = os.open(j(r, "m"), os.O_RDWR)
        try:
            mm = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            mm[10:15] = b"mmap!"
            mm[5000:5003] = b"xyz"
            mm.flush()
            mm.close()
            os.fsync(fd)
        finally:
            os.close(fd)
        return read_file(j(r, "m"))

    @step("rmdir and unlink what is left of the scratch entries")
    def _(r):
        os.unlink(j(r, "e2", "inside"))
        os.rmdir(j(r, "e2"))
        return sorted(os.listdir(r))

    return steps


def run_step(fn, root):
    try:
        return ("ok", fn(root))
    except OSError as e:
        return ("error", errno.errorcode.get(e.errno, e.errno))


def tree(root):
    """{relative path (bytes): description} of everything under root."""
    out = {}
    for rel, p, st in walk(root):
        desc = [st_view(st)]
        if stat.S_ISREG(st.st_mode):
            if st.st_size < 64 << 20:
                desc.append(read_file(p))
            else:
                with open(p, "rb") as f:  # sparse: compare the written parts
                    for off in (0, 4 * GiB, 5 * GiB):
                        f.seek(off)
                        desc.append((off, f.read(4096)))
        if stat.S_ISLNK(st.st_mode):
            desc.append(os.readlink(p))
        if not stat.S_ISLNK(st.st_mode) and not stat.S_ISFIFO(st.st_mode):
            desc.append(sorted((k, os.getxattr(p, k)) for k in os.listxattr(p)))
        out[rel] = desc
    return out


def diff(a, b):
    keys = sorted(set(a) | set(b))
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)][:5]


@lab_options(lab_class=ReplicdLab, networks=1)
def test_fs_through_mount_matches_underlying_fs(lab):
    ref = lab.node_dir("node1", "reference")
    os.makedirs(ref)
    lab.start_replicd("node2", standalone="secondary")
    lab.start_replicd("node1", standalone="primary")
    _wait_log(lab, "node1", "connected to peer node2")
    mnt = lab.data_dir("node1")
    mismatches = []
    for name, fn in ops():
        t0 = time.monotonic()
        got = run_step(fn, mnt)
        t1 = time.monotonic()
        want = run_step(fn, ref)
        print(f"    {name}: {t1 - t0:.2f} s through the mount, "
              f"{time.monotonic() - t1:.2f} s plain", flush=True)
        if got != want:
            mismatches.append(f"{name}: through the mount {str(got)[:300]}, "
                              f"plain {str(want)[:300]}")
    assert not mismatches, "\n".join(mismatches)
    want = tree(ref)
    sync_dir(mnt)  # commit mode: the peer has every change before it then
    # (Results through the mount were compared above, call by call.)
    for label, root in (("node1 disk", lab.disk_dir("node1")),
                        ("node2 disk", lab.disk_dir("node2"))):
        got = tree(root)
        assert got == want, f"{label} differs from the reference: {diff(got, want)}"


@lab_options(lab_class=ReplicdLab, networks=1)
def test_secondary_mount_refuses_writes(lab):
    lab.start_replicd("node2", standalone="secondary")
    write_file(os.path.join(lab.disk_dir("node2"), "existing"), b"data")
    mnt = lab.data_dir("node2")
    attempts = {
        "create": lambda: os.open(os.path.join(mnt, "new"), os.O_WRONLY | os.O_CREAT, 0o644),
        "open for writing": lambda: os.open(os.path.join(mnt, "existing"), os.O_RDWR),
        "truncate": lambda: os.truncate(os.path.join(mnt, "existing"), 0),
        "mkdir": lambda: os.mkdir(os.path.join(mnt, "d")),
        "unlink": lambda: os.unlink(os.path.join(mnt, "existing")),
        "rename": lambda: os.rename(os.path.join(mnt, "existing"), os.path.join(mnt, "x")),
        "chmod": lambda: os.chmod(os.path.join(mnt, "existing"), 0o600),
        "setxattr": lambda: os.setxattr(os.path.join(mnt, "existing"), "user.a", b"1"),
        "symlink": lambda: os.symlink("existing", os.path.join(mnt, "l")),
    }
    for what, fn in attempts.items():
        try:
            fn()
        except OSError as e:
            assert e.errno == errno.EROFS, f"{what}: {e!r}, expected EROFS"
        else:
            raise AssertionError(f"{what} succeeded on the secondary's mount")
    assert read_file(os.path.join(mnt, "existing")) == b"data"
    assert sorted(os.listdir(lab.disk_dir("node2"))) == ["existing"]


def _wait_log(lab, node, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in lab.replicd_log_tail(node, 200)):
            return
        time.sleep(0.05)
    raise AssertionError(f"{node}: '{text}' not logged within {timeout:g} s")


@lab_options(lab_class=ReplicdLab, networks=1)
def test_directory_with_many_entries_lists_and_replicates(lab):
    lab.start_replicd("node2", standalone="secondary")
    lab.start_replicd("node1", standalone="primary")
    _wait_log(lab, "node1", "connected to peer node2")
    many = os.path.join(lab.data_dir("node1"), "many")
    os.mkdir(many)
    for i in range(MANY):
        os.mknod(os.path.join(many, f"f{i:06d}"), 0o644 | stat.S_IFREG)
    names = os.listdir(many)
    assert len(names) == MANY and len(set(names)) == MANY, len(names)
    assert sorted(names) == sorted(os.listdir(os.path.join(lab.disk_dir("node1"), "many")))
    sync_dir(many)  # commit mode: the peer has every change before it then
    assert sorted(names) == sorted(os.listdir(os.path.join(lab.disk_dir("node2"), "many")))
