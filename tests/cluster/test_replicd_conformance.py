"""Cluster test: replicd's mount answers every call as ext4 does (pjdfstest's cases).

Each case runs in a forked process, as root or as another user (uid/gid 4242 or 4343,
no supplementary groups, umask 022), twice: in a scratch directory inside node1's
replicd mount (primary, replicating to node2) and in the same directory on a plain
directory of the same ext4 file system. Every call's result (value, or errno name) is
recorded; the two records must be equal call by call. Then the plain reference,
node1's real disk and node2's real disk must hold the same tree: names, types, modes,
owners, link counts, sizes, devices, contents, symlink targets, user xattrs, and the
times of entries named T_* (set explicitly, so replicated).

The cases follow pjdfstest's folders (chmod, chown, link, mkdir, mkfifo, mknod, open,
rename, rmdir, symlink, truncate, unlink, utimensat, ftruncate, granular,
posix_fallocate), which cannot be fetched here.

Four differences are by design (docs/replication.md, "Limits"), listed in BY_DESIGN
with the exact result the mount must give:
- an entry whose path, measured from the replicated directory, is longer than 4095
  bytes cannot be created through the mount (ENAMETOOLONG, nothing changed);
- fstat on a file unlinked while open, once its directory was removed too, gives
  ESTALE (libfuse has no path left for it);
- O_TMPFILE is not supported (libfuse's high-level API has no tmpfile operation);
- fallocate's collapse and insert range (which move a file's data) are not supported.
"""

import ctypes
import errno
import os
import pickle
import stat
import time

from lab import lab_options
from replicd_lab import ReplicdLab

USER, USER2 = 4242, 4343
OLD = 1_000_000_000  # a time no call of the test gives by itself
NAME255 = "n" * 255
LONG = "long path from a deep working directory"
# (case, label) -> what the mount gives where ext4 succeeds.
BY_DESIGN = {
    **{(LONG, f"{what} beyond 4095"): ("error", "ENAMETOOLONG")
       for what in ("create", "mkdir", "symlink", "mkfifo")},
    (LONG, "link to beyond 4095"): ("error", "ENAMETOOLONG"),
    (LONG, "rename to beyond 4095"): ("error", "ENAMETOOLONG"),
    # Refused before any change: nothing was made there.
    (LONG, "listdir beyond 4095"): ("ok", []),
    ("unlink while open: fstat, fchmod, fchown, futimens, ftruncate",
     "fstat with the directory gone"): ("error", "ESTALE"),
    ("open corner cases", "O_TMPFILE"): ("error", "ENOTSUP"),
    # fallocate's modes that move data: refused (EOPNOTSUPP), nothing moved.
    ("fallocate: collapse and insert range", "collapse range"): ("error", "ENOTSUP"),
    ("fallocate: collapse and insert range", "insert range"): ("error", "ENOTSUP"),
}
FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE = 0x08, 0x20


def st_view(st):
    t = stat.S_IFMT(st.st_mode)
    return (t, oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid, st.st_nlink,
            None if stat.S_ISDIR(st.st_mode) else st.st_size,
            st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0)


class Calls:
    """Records each call's outcome under a label."""

    def __init__(self):
        self.out = []

    def __call__(self, label, fn):
        try:
            v = fn()
            r = ("ok", v if isinstance(v, (int, str, bytes, tuple, list, bool, type(None)))
                 else repr(v))
        except OSError as e:
            r = ("error", errno.errorcode.get(e.errno, e.errno))
        self.out.append((label, r))
        return r

    def stat(self, label, path, follow=False):
        return self(label, lambda: st_view(os.stat(path) if follow else os.lstat(path)))


def times_changed(path, fn, follow=False):
    """Which of atime/mtime/ctime fn changes on path (set to OLD first)."""
    os.utime(path, ns=(OLD * 10**9, OLD * 10**9), follow_symlinks=follow)
    before = os.stat(path, follow_symlinks=follow)
    time.sleep(0.02)  # ctime's clock is coarse
    fn()
    after = os.stat(path, follow_symlinks=follow)
    return tuple(getattr(before, f) != getattr(after, f)
                 for f in ("st_atime_ns", "st_mtime_ns", "st_ctime_ns"))


def write(path, data=b"data", mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read(path):
    with open(path, "rb") as f:
        return f.read()


CASES = []  # (name, uid or 0, setup(d) as root or None, body(d, k))


def case(name, uid=0, setup=None):
    def add(fn):
        CASES.append((name, uid, setup, fn))
        return fn
    return add


def open_dir(d, mode=0o777):
    os.chmod(d, mode)


j = os.path.join


# --- names and paths -----------------------------------------------------------------

@case("names of 255 and 256 bytes")
def _(d, k):
    for n, label in ((NAME255, "255"), (NAME255 + "x", "256")):
        k(f"create {label}", lambda: os.close(os.open(j(d, n), os.O_CREAT | os.O_WRONLY, 0o644)))
        k(f"mkdir {label}", lambda: os.mkdir(j(d, "d" + n[1:])))
        k(f"symlink {label}", lambda: os.symlink("t", j(d, "s" + n[1:])))
        k(f"mkfifo {label}", lambda: os.mkfifo(j(d, "f" + n[1:])))
        k(f"link {label}", lambda: os.link(j(d, NAME255), j(d, "l" + n[1:])))
        k(f"rename {label}", lambda: os.rename(j(d, "s" + NAME255[1:]), j(d, "r" + n[1:])))
        k(f"stat {label}", lambda: st_view(os.lstat(j(d, n))))
        k(f"unlink {label}", lambda: os.unlink(j(d, "l" + n[1:])))
    k("listdir", lambda: sorted(os.listdir(d)))


def deep(d, total):
    """chdir to d/x.../x... (about total bytes below d, built with chdir: an absolute
    path would pass PATH_MAX); return that length."""
    os.chdir(d)
    length = 0
    while length + 201 <= total:
        os.mkdir("x" * 200)
        os.chdir("x" * 200)
        length += 201
    return length


BEYOND = {"create": "b", "mkdir": "c", "symlink": "s", "mkfifo": "f", "rename": "r",
          "link": "l"}


@case(LONG)
def _(d, k):
    # From the replicated directory: "c01" + 3819 = 3822 bytes.
    k("depth", lambda: deep(d, 3900))
    k("create within 4095", lambda: os.close(os.open("a" * 100, os.O_CREAT | os.O_WRONLY,
                                                     0o600)))
    k("mkdir to 3973", lambda: os.mkdir("y" * 150))
    os.chdir("y" * 150)  # names of 130 bytes here are 4104 bytes from the root
    n = {what: c * 130 for what, c in BEYOND.items()}
    k("create beyond 4095", lambda: os.close(os.open(n["create"], os.O_CREAT | os.O_WRONLY,
                                                     0o600)))
    k("mkdir beyond 4095", lambda: os.mkdir(n["mkdir"]))
    k("symlink beyond 4095", lambda: os.symlink("t", n["symlink"]))
    k("mkfifo beyond 4095", lambda: os.mkfifo(n["mkfifo"]))
    k("link to beyond 4095", lambda: os.link(j("..", "a" * 100), n["link"]))
    k("rename to beyond 4095", lambda: os.rename(j("..", "a" * 100), n["rename"]))
    k("stat a short name here", lambda: st_view(os.lstat("..")))
    k("listdir beyond 4095", lambda: sorted(os.listdir(".")))
    # What ext4 accepted and the mount refused (BY_DESIGN) goes, so that the trees
    # can be compared; then both had the same changes.
    for name in sorted(os.listdir(".")):
        (os.rmdir if os.path.isdir(name) and not os.path.islink(name) else os.unlink)(name)
    if os.path.lexists(j("..", "a" * 100)):
        os.unlink(j("..", "a" * 100))
    os.chdir("..")
    k("listdir within", lambda: sorted(os.listdir(".")))
    k("relative path of 4096 bytes", lambda: os.stat("./" * 2048))
    k("symlink target 4095", lambda: os.symlink("t" * 4095, "s1"))
    k("symlink target 4096", lambda: os.symlink("t" * 4096, "s2"))
    k("readlink 4095", lambda: len(os.readlink("s1")))
    os.chdir("/")


# --- unlinked but open ---------------------------------------------------------------

@case("unlink while open: fstat, fchmod, fchown, futimens, ftruncate")
def _(d, k):
    fd = os.open(j(d, "u"), os.O_RDWR | os.O_CREAT, 0o640)
    os.write(fd, b"hello")
    os.unlink(j(d, "u"))
    k("fstat", lambda: st_view(os.fstat(fd)))
    k("fchmod", lambda: os.fchmod(fd, 0o604))
    k("fchown", lambda: os.fchown(fd, 12, 34))
    k("futimens", lambda: os.utime(fd, ns=(5 * 10**9, 6 * 10**9)))
    k("times", lambda: (os.fstat(fd).st_atime_ns, os.fstat(fd).st_mtime_ns))
    k("ftruncate", lambda: os.ftruncate(fd, 3))
    k("pwrite", lambda: os.pwrite(fd, b"XY", 10))
    k("fstat after", lambda: st_view(os.fstat(fd)))
    k("pread", lambda: os.pread(fd, 100, 0))
    k("fsync", lambda: os.fsync(fd))
    k("reopen through /proc", lambda: (os.close(os.open(f"/proc/self/fd/{fd}", os.O_RDWR)),
                                      os.pread(fd, 2, 0)))
    k("fsetxattr", lambda: os.setxattr(fd, "user.x", b"1"))
    k("fgetxattr", lambda: os.getxattr(fd, "user.x"))
    k("exists", lambda: os.path.lexists(j(d, "u")))
    k("listdir", lambda: os.listdir(d))
    k("rmdir of the emptied directory", lambda: os.rmdir(d))
    k("fstat with the directory gone", lambda: st_view(os.fstat(fd)))
    os.close(fd)


@case("unlink while open, another link remains: the changes reach it")
def _(d, k):
    write(j(d, "a"), b"0123456789")
    os.link(j(d, "a"), j(d, "T_b"))
    fd = os.open(j(d, "a"), os.O_RDWR)
    os.unlink(j(d, "a"))
    k("fstat", lambda: st_view(os.fstat(fd)))
    k("fchmod", lambda: os.fchmod(fd, 0o600))
    k("fchown", lambda: os.fchown(fd, 56, 78))
    k("ftruncate", lambda: os.ftruncate(fd, 4))
    k("pwrite", lambda: os.pwrite(fd, b"ZZ", 6))
    k("futimens", lambda: os.utime(fd, ns=(7 * 10**9, 8 * 10**9)))
    os.close(fd)
    k("stat of the other name", lambda: st_view(os.lstat(j(d, "T_b"))))
    k("times", lambda: (os.lstat(j(d, "T_b")).st_atime_ns, os.lstat(j(d, "T_b")).st_mtime_ns))
    k("content", lambda: read(j(d, "T_b")))


@case("rename over an open file that has another link: the changes reach it")
def _(d, k):
    write(j(d, "old"), b"old")
    os.link(j(d, "old"), j(d, "T_link"))
    write(j(d, "new"), b"new")
    fd = os.open(j(d, "old"), os.O_RDWR)
    k("rename over it", lambda: os.rename(j(d, "new"), j(d, "old")))
    k("fstat", lambda: st_view(os.fstat(fd)))
    k("fchmod", lambda: os.fchmod(fd, 0o604))
    k("fchown", lambda: os.fchown(fd, 3, 4))
    k("pwrite", lambda: os.pwrite(fd, b"OLD", 0))
    k("futimens", lambda: os.utime(fd, ns=(9 * 10**9, 10 * 10**9)))
    os.close(fd)
    k("the link", lambda: (st_view(os.lstat(j(d, "T_link"))), read(j(d, "T_link"))))
    k("the name", lambda: (st_view(os.lstat(j(d, "old"))), read(j(d, "old"))))


@case("rename over an open file: the old file stays usable")
def _(d, k):
    write(j(d, "old"), b"old")
    write(j(d, "new"), b"new")
    fd = os.open(j(d, "old"), os.O_RDWR)
    k("rename over it", lambda: os.rename(j(d, "new"), j(d, "old")))
    k("fstat", lambda: st_view(os.fstat(fd)))
    k("pwrite", lambda: os.pwrite(fd, b"!", 3))
    k("pread", lambda: os.pread(fd, 10, 0))
    k("fchmod", lambda: os.fchmod(fd, 0o600))
    k("name now", lambda: read(j(d, "old")))
    k("stat name", lambda: st_view(os.lstat(j(d, "old"))))
    k("listdir", lambda: sorted(os.listdir(d)))
    os.close(fd)
    k("listdir after close", lambda: sorted(os.listdir(d)))


# --- permissions and ownership as another user --------------------------------------

def perm_setup(d):
    open_dir(d)
    write(j(d, "root644"), b"r", 0o644)
    write(j(d, "root600"), b"s", 0o600)
    write(j(d, "suid"), b"x", 0o4777)
    os.chmod(j(d, "suid"), 0o6777)
    os.mkdir(j(d, "closed"), 0o700)
    write(j(d, "closed", "f"), b"c")
    os.mkdir(j(d, "ro"), 0o755)


@case("permissions as another user", uid=USER, setup=perm_setup)
def _(d, k):
    k("read 644", lambda: read(j(d, "root644")))
    k("write 644", lambda: write(j(d, "root644")))
    k("read 600", lambda: read(j(d, "root600")))
    k("stat in 700 dir", lambda: os.stat(j(d, "closed", "f")).st_size)
    k("create in 755 dir", lambda: write(j(d, "ro", "x")))
    k("create own", lambda: write(j(d, "mine"), b"m", 0o640))
    k("stat own", lambda: st_view(os.lstat(j(d, "mine"))))
    k("chmod root's", lambda: os.chmod(j(d, "root644"), 0o777))
    k("chmod own", lambda: os.chmod(j(d, "mine"), 0o4755))
    k("chown own -1 -1", lambda: os.chown(j(d, "mine"), -1, -1))
    k("chown own to another user", lambda: os.chown(j(d, "mine"), USER2, -1))
    k("chown own to a group not ours", lambda: os.chown(j(d, "mine"), -1, 0))
    k("chown own to our group", lambda: os.chown(j(d, "mine"), USER, USER))
    k("stat own after", lambda: st_view(os.lstat(j(d, "mine"))))
    k("write suid (clears it)", lambda: write(j(d, "suid"), b"w"))
    k("stat suid", lambda: st_view(os.lstat(j(d, "suid"))))
    k("create with setuid mode", lambda: os.close(os.open(j(d, "su"), os.O_CREAT | os.O_WRONLY,
                                                          0o4755)))
    k("stat created setuid", lambda: st_view(os.lstat(j(d, "su"))))
    k("mknod setuid fifo", lambda: os.mknod(j(d, "fifo"), stat.S_IFIFO | 0o4644))
    k("stat fifo", lambda: st_view(os.lstat(j(d, "fifo"))))
    k("mknod char device", lambda: os.mknod(j(d, "chr"), stat.S_IFCHR | 0o644,
                                            os.makedev(1, 3)))
    k("truncate root's", lambda: os.truncate(j(d, "root644"), 0))
    k("utime now on root's", lambda: os.utime(j(d, "root644")))
    k("utime explicit on root's", lambda: os.utime(j(d, "root644"), ns=(1, 2)))
    k("utime explicit own", lambda: os.utime(j(d, "mine"), ns=(3 * 10**9, 4 * 10**9)))
    k("hard link to root's 600 (protected_hardlinks)",
      lambda: os.link(j(d, "root600"), j(d, "l600")))
    k("hard link own", lambda: os.link(j(d, "mine"), j(d, "l2")))
    k("nlink", lambda: os.lstat(j(d, "mine")).st_nlink)
    k("unlink root's in 777 dir", lambda: os.unlink(j(d, "root600")))
    k("rmdir root's 700 dir", lambda: os.rmdir(j(d, "closed")))
    k("access W_OK 644", lambda: os.access(j(d, "root644"), os.W_OK))
    k("access R_OK 600 in 700", lambda: os.access(j(d, "closed", "f"), os.R_OK))


def bits_setup(d):
    open_dir(d)
    write(j(d, "notgrp"), b"n", 0o644)
    os.chown(j(d, "notgrp"), USER, 0)
    write(j(d, "suid"), b"x", 0o6777)
    os.chmod(j(d, "suid"), 0o6777)
    write(j(d, "shared"), b"s", 0o666)
    os.chmod(j(d, "shared"), 0o666)
    os.mkdir(j(d, "ro"), 0o755)
    os.symlink("loop", j(d, "loop"))


@case("mode bits, times and errors as another user", uid=USER, setup=bits_setup)
def _(d, k):
    k("chmod setgid, group not ours (bit dropped)", lambda: os.chmod(j(d, "notgrp"), 0o2755))
    k("stat", lambda: st_view(os.lstat(j(d, "notgrp"))))
    k("chmod sticky on a file", lambda: os.chmod(j(d, "notgrp"), 0o1644))
    k("stat sticky", lambda: st_view(os.lstat(j(d, "notgrp"))))
    k("truncate another's setuid 6777 (clears it)", lambda: os.truncate(j(d, "suid"), 0))
    k("stat suid", lambda: st_view(os.lstat(j(d, "suid"))))
    k("utime now on another's 666", lambda: os.utime(j(d, "shared")))
    k("utime explicit on another's 666", lambda: os.utime(j(d, "shared"), ns=(1, 1)))
    k("mkfifo in 755 dir", lambda: os.mkfifo(j(d, "ro", "p")))
    k("symlink in 755 dir", lambda: os.symlink("x", j(d, "ro", "l")))
    k("trusted xattr", lambda: os.setxattr(j(d, "shared"), "trusted.x", b"1"))
    k("user xattr on another's 666", lambda: os.setxattr(j(d, "shared"), "user.x", b"1"))
    k("user xattr on a symlink", lambda: os.setxattr(j(d, "loop"), "user.x", b"1",
                                                    follow_symlinks=False))
    k("symlink loop", lambda: os.open(j(d, "loop", "x"), os.O_RDONLY))
    k("rename into a file", lambda: os.rename(j(d, "shared"), j(d, "notgrp", "x")))
    k("rename with a trailing slash", lambda: os.rename(j(d, "shared"), j(d, "new") + "/"))
    k("mkdir with a trailing slash", lambda: os.mkdir(j(d, "nd") + "/"))
    k("listdir", lambda: sorted(os.listdir(d)))


def sticky_setup(d):
    os.chmod(d, 0o1777)
    write(j(d, "root"), b"r", 0o666)
    os.mkdir(j(d, "theirs"), 0o777)
    os.chown(j(d, "theirs"), USER2, USER2)
    write(j(d, "other"), b"o", 0o666)
    os.chown(j(d, "other"), USER2, USER2)


@case("sticky directory as another user", uid=USER, setup=sticky_setup)
def _(d, k):
    k("create own", lambda: write(j(d, "mine")))
    k("unlink root's", lambda: os.unlink(j(d, "root")))
    k("unlink another user's", lambda: os.unlink(j(d, "other")))
    k("rename another user's", lambda: os.rename(j(d, "other"), j(d, "x")))
    k("rename over another user's", lambda: os.rename(j(d, "mine"), j(d, "other")))
    k("rmdir another user's", lambda: os.rmdir(j(d, "theirs")))
    k("rename own", lambda: os.rename(j(d, "mine"), j(d, "mine2")))
    k("unlink own", lambda: os.unlink(j(d, "mine2")))
    k("write another user's 666", lambda: write(j(d, "other"), b"w"))
    k("listdir", lambda: sorted(os.listdir(d)))


def setgid_setup(d):
    open_dir(d)
    os.mkdir(j(d, "sg"), 0o777)
    os.chown(j(d, "sg"), 0, 777)
    os.chmod(j(d, "sg"), 0o2777)


@case("setgid directory as another user", uid=USER, setup=setgid_setup)
def _(d, k):
    k("create", lambda: write(j(d, "sg", "f"), b"", 0o2755))
    k("stat file", lambda: st_view(os.lstat(j(d, "sg", "f"))))
    k("mkdir", lambda: os.mkdir(j(d, "sg", "sub"), 0o755))
    k("stat dir", lambda: st_view(os.lstat(j(d, "sg", "sub"))))
    k("symlink", lambda: os.symlink("f", j(d, "sg", "l")))
    k("stat symlink", lambda: st_view(os.lstat(j(d, "sg", "l"))))


@case("setgid directory as root")
def _(d, k):
    os.mkdir(j(d, "sg"), 0o777)
    os.chown(j(d, "sg"), 0, 777)
    os.chmod(j(d, "sg"), 0o2777)
    k("create setgid, setuid file", lambda: write(j(d, "sg", "f"), b"", 0o6755))
    k("stat", lambda: st_view(os.lstat(j(d, "sg", "f"))))
    k("mknod fifo setgid", lambda: os.mknod(j(d, "sg", "p"), stat.S_IFIFO | 0o2644))
    k("stat fifo", lambda: st_view(os.lstat(j(d, "sg", "p"))))
    k("mkdir", lambda: os.mkdir(j(d, "sg", "sub"), 0o1755))
    k("stat dir", lambda: st_view(os.lstat(j(d, "sg", "sub"))))


@case("chown as root: setuid and setgid bits")
def _(d, k):
    write(j(d, "f"), b"", 0o6755)
    os.chmod(j(d, "f"), 0o6755)
    k("chown file", lambda: os.chown(j(d, "f"), 1, 2))
    k("stat file", lambda: st_view(os.lstat(j(d, "f"))))
    write(j(d, "g"), b"", 0o2745)
    os.chmod(j(d, "g"), 0o2745)
    k("chown group-noexec setgid", lambda: os.chown(j(d, "g"), 3, 4))
    k("stat", lambda: st_view(os.lstat(j(d, "g"))))
    os.mkdir(j(d, "dir"), 0o755)
    os.chmod(j(d, "dir"), 0o6755)
    k("chown dir", lambda: os.chown(j(d, "dir"), 5, 6))
    k("stat dir", lambda: st_view(os.lstat(j(d, "dir"))))
    os.symlink("f", j(d, "l"))
    k("lchown symlink", lambda: os.lchown(j(d, "l"), 7, 8))
    k("stat symlink", lambda: st_view(os.lstat(j(d, "l"))))
    k("chown -1 -1", lambda: os.chown(j(d, "f"), -1, -1))
    k("chmod through symlink", lambda: os.chmod(j(d, "l"), 0o640))
    k("stat target", lambda: st_view(os.lstat(j(d, "f"))))


# --- link counts ---------------------------------------------------------------------

@case("hard-link counts of files and directories")
def _(d, k):
    write(j(d, "f"))
    k("link", lambda: os.link(j(d, "f"), j(d, "f2")))
    k("link again", lambda: os.link(j(d, "f2"), j(d, "f3")))
    k("nlink 3", lambda: [os.lstat(j(d, n)).st_nlink for n in ("f", "f2", "f3")])
    k("unlink one", lambda: os.unlink(j(d, "f2")))
    k("nlink 2", lambda: [os.lstat(j(d, n)).st_nlink for n in ("f", "f3")])
    k("link a directory", lambda: os.link(d, j(d, "dl")))
    k("link onto existing", lambda: os.link(j(d, "f"), j(d, "f3")))
    k("link missing", lambda: os.link(j(d, "nope"), j(d, "x")))
    os.mkdir(j(d, "p"))
    k("dir nlink empty", lambda: os.lstat(j(d, "p")).st_nlink)
    os.mkdir(j(d, "p", "c1"))
    os.mkdir(j(d, "p", "c2"))
    k("dir nlink 2 subdirs", lambda: os.lstat(j(d, "p")).st_nlink)
    k("rename subdir out", lambda: os.rename(j(d, "p", "c1"), j(d, "c1")))
    k("nlinks after", lambda: (os.lstat(j(d, "p")).st_nlink, os.lstat(d).st_nlink))
    k("rmdir", lambda: os.rmdir(j(d, "p", "c2")))
    k("nlink after rmdir", lambda: os.lstat(j(d, "p")).st_nlink)
    os.symlink("f", j(d, "sl"))
    k("link a symlink (not followed)", lambda: os.link(j(d, "sl"), j(d, "sl2"),
                                                       follow_symlinks=False))
    k("symlink nlink", lambda: os.lstat(j(d, "sl")).st_nlink)


# --- times ---------------------------------------------------------------------------

@case("times: which calls change atime, mtime, ctime")
def _(d, k):
    write(j(d, "f"), b"0123456789")
    os.mkdir(j(d, "dd"))
    k("write: file", lambda: times_changed(j(d, "f"), lambda: write(j(d, "f"), b"x")))
    k("chmod: file", lambda: times_changed(j(d, "f"), lambda: os.chmod(j(d, "f"), 0o600)))
    k("chown: file", lambda: times_changed(j(d, "f"), lambda: os.chown(j(d, "f"), 9, 9)))
    k("truncate: file", lambda: times_changed(j(d, "f"), lambda: os.truncate(j(d, "f"), 2)))
    k("truncate same size: file",
      lambda: times_changed(j(d, "f"), lambda: os.truncate(j(d, "f"), 2)))
    k("link: file", lambda: times_changed(j(d, "f"), lambda: os.link(j(d, "f"), j(d, "f2"))))
    k("rename: file", lambda: times_changed(j(d, "f2"),
                                            lambda: os.rename(j(d, "f2"), j(d, "f3"))))
    k("create: dir", lambda: times_changed(j(d, "dd"), lambda: write(j(d, "dd", "n"))))
    k("unlink: dir", lambda: times_changed(j(d, "dd"), lambda: os.unlink(j(d, "dd", "n"))))
    k("mkdir: dir", lambda: times_changed(j(d, "dd"), lambda: os.mkdir(j(d, "dd", "s"))))
    k("rename in: dir", lambda: times_changed(j(d, "dd"),
                                              lambda: os.rename(j(d, "f3"), j(d, "dd", "m"))))
    k("setxattr: file", lambda: times_changed(j(d, "f"),
                                              lambda: os.setxattr(j(d, "f"), "user.a", b"1")))
    k("read: file (noatime-free)", lambda: read(j(d, "f")))
    write(j(d, "T_t"), b"t")
    k("utimensat explicit", lambda: os.utime(j(d, "T_t"), ns=(111, 222)))
    k("utimensat atime 0", lambda: os.utime(j(d, "T_t"), ns=(0, 333)))
    k("times", lambda: (os.lstat(j(d, "T_t")).st_atime_ns, os.lstat(j(d, "T_t")).st_mtime_ns))
    k("utimensat huge", lambda: os.utime(j(d, "T_t"), ns=(2**40 * 10**9, 1)))
    k("times after huge", lambda: (os.lstat(j(d, "T_t")).st_atime_ns,
                                   os.lstat(j(d, "T_t")).st_mtime_ns))
    os.symlink("T_t", j(d, "T_l"))
    k("lutimes symlink", lambda: os.utime(j(d, "T_l"), ns=(444, 555), follow_symlinks=False))
    k("symlink times", lambda: (os.lstat(j(d, "T_l")).st_atime_ns,
                                os.lstat(j(d, "T_l")).st_mtime_ns))
    k("target untouched", lambda: os.lstat(j(d, "T_t")).st_mtime_ns)


# --- fifos and devices ---------------------------------------------------------------

@case("fifos, devices, sockets")
def _(d, k):
    k("mkfifo", lambda: os.mkfifo(j(d, "p"), 0o640))
    k("mkfifo existing", lambda: os.mkfifo(j(d, "p")))
    k("stat fifo", lambda: st_view(os.lstat(j(d, "p"))))
    k("open fifo nonblock write, no reader",
      lambda: os.close(os.open(j(d, "p"), os.O_WRONLY | os.O_NONBLOCK)))
    fds = []
    k("open fifo nonblock read",
      lambda: fds.append(os.open(j(d, "p"), os.O_RDONLY | os.O_NONBLOCK)))
    if fds:
        fds.append(os.open(j(d, "p"), os.O_WRONLY | os.O_NONBLOCK))
        k("fifo passes data", lambda: (os.write(fds[1], b"pipe"), os.read(fds[0], 10)))
        for fd in fds:
            os.close(fd)
    k("truncate fifo", lambda: os.truncate(j(d, "p"), 0))
    k("mknod char", lambda: os.mknod(j(d, "c"), stat.S_IFCHR | 0o600, os.makedev(1, 3)))
    k("mknod block", lambda: os.mknod(j(d, "b"), stat.S_IFBLK | 0o600, os.makedev(7, 200)))
    k("mknod socket", lambda: os.mknod(j(d, "s"), stat.S_IFSOCK | 0o600))
    k("mknod regular", lambda: os.mknod(j(d, "r"), stat.S_IFREG | 0o600))
    k("mknod dir type", lambda: os.mknod(j(d, "x"), stat.S_IFDIR | 0o600))
    k("stats", lambda: [st_view(os.lstat(j(d, n))) for n in ("c", "b", "s", "r")])
    k("read /dev/null twin", lambda: read(j(d, "c")))
    k("rename fifo", lambda: os.rename(j(d, "p"), j(d, "p2")))
    k("link device", lambda: os.link(j(d, "c"), j(d, "c2")))
    k("chmod device", lambda: os.chmod(j(d, "c"), 0o666))
    k("unlink socket", lambda: os.unlink(j(d, "s")))
    k("listdir", lambda: sorted(os.listdir(d)))


# --- open, truncate, fallocate -------------------------------------------------------

@case("open corner cases")
def _(d, k):
    write(j(d, "f"), b"content")
    os.symlink("f", j(d, "l"))
    os.symlink("created", j(d, "dangling"))
    os.mkdir(j(d, "dd"))
    k("O_EXCL on a symlink", lambda: os.open(j(d, "l"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    k("O_NOFOLLOW on a symlink", lambda: os.open(j(d, "l"), os.O_RDONLY | os.O_NOFOLLOW))
    k("O_DIRECTORY on a file", lambda: os.open(j(d, "f"), os.O_RDONLY | os.O_DIRECTORY))
    k("write a directory", lambda: os.open(j(d, "dd"), os.O_WRONLY))
    k("O_CREAT through a dangling symlink",
      lambda: os.close(os.open(j(d, "dangling"), os.O_CREAT | os.O_WRONLY, 0o600)))
    k("stat created", lambda: st_view(os.lstat(j(d, "created"))))
    k("O_TRUNC with O_RDONLY", lambda: os.close(os.open(j(d, "f"), os.O_RDONLY | os.O_TRUNC)))
    k("size", lambda: os.lstat(j(d, "f")).st_size)
    k("a file as a directory", lambda: os.open(j(d, "f", "x"), os.O_RDONLY))
    k("create in a missing dir", lambda: os.open(j(d, "no", "x"), os.O_CREAT | os.O_WRONLY))
    k("O_CREAT existing dir", lambda: os.open(j(d, "dd"), os.O_CREAT | os.O_RDONLY))
    k("O_TMPFILE", lambda: os.close(os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600)))
    fd = os.open(j(d, "a"), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    k("append", lambda: (os.write(fd, b"12"), os.pwrite(fd, b"34", 0)))
    os.close(fd)
    k("appended", lambda: read(j(d, "a")))
    k("open with mode 0, then write", lambda: (os.close(os.open(j(d, "z"), os.O_CREAT | os.O_RDWR,
                                                                0)), read(j(d, "z"))))


@case("truncate, ftruncate, posix_fallocate")
def _(d, k):
    write(j(d, "f"), b"0123456789")
    os.mkdir(j(d, "dd"))
    k("truncate negative", lambda: os.truncate(j(d, "f"), -1))
    k("truncate a directory", lambda: os.truncate(j(d, "dd"), 0))
    k("truncate beyond the maximum", lambda: os.truncate(j(d, "f"), 2**63 - 1))
    k("truncate to 16 TiB", lambda: os.truncate(j(d, "f"), 16 << 40))
    k("truncate grow", lambda: os.truncate(j(d, "f"), 100000))
    k("size", lambda: os.lstat(j(d, "f")).st_size)
    k("truncate shrink", lambda: os.truncate(j(d, "f"), 3))
    k("content", lambda: read(j(d, "f")))
    fd = os.open(j(d, "f"), os.O_RDONLY)
    k("ftruncate read-only fd", lambda: os.ftruncate(fd, 0))
    os.close(fd)
    fd = os.open(j(d, "f"), os.O_RDWR)
    k("ftruncate negative", lambda: os.ftruncate(fd, -1))
    k("ftruncate", lambda: os.ftruncate(fd, 70000))
    k("posix_fallocate", lambda: os.posix_fallocate(fd, 0, 200000))
    k("posix_fallocate zero length", lambda: os.posix_fallocate(fd, 0, 0))
    k("size", lambda: os.fstat(fd).st_size)
    os.close(fd)
    fd = os.open(j(d, "f"), os.O_RDONLY)
    k("posix_fallocate read-only", lambda: os.posix_fallocate(fd, 0, 10))
    os.close(fd)



def fallocate(fd, mode, off, length):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


@case("fallocate: collapse and insert range")
def _(d, k):
    write(j(d, "moves"), bytes(range(256)) * 64)  # 4 blocks of 4 KiB
    fd = os.open(j(d, "moves"), os.O_RDWR)
    k("collapse range", lambda: fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 4096, 4096))
    k("insert range", lambda: fallocate(fd, FALLOC_FL_INSERT_RANGE, 4096, 8192))
    os.close(fd)
    # Where ext4 moved data and the mount refused: not compared as trees.
    os.unlink(j(d, "moves"))

# --- mkdir, rmdir, unlink, symlink ---------------------------------------------------

@case("mkdir, rmdir, unlink, symlink corner cases")
def _(d, k):
    k("mkdir modes", lambda: [os.mkdir(j(d, f"m{m:o}"), m) for m in (0o1777, 0o2755, 0o4755)])
    k("stat modes", lambda: [st_view(os.lstat(j(d, f"m{m:o}"))) for m in (0o1777, 0o2755,
                                                                             0o4755)])
    k("mkdir existing", lambda: os.mkdir(j(d, "m1777")))
    k("mkdir under a file", lambda: (write(j(d, "f")), os.mkdir(j(d, "f", "x"))))
    k("rmdir dot", lambda: os.rmdir(j(d, "m1777", ".")))
    k("rmdir dotdot", lambda: os.rmdir(j(d, "m1777", "..")))
    os.mkdir(j(d, "full"))
    write(j(d, "full", "x"))
    k("rmdir non-empty", lambda: os.rmdir(j(d, "full")))
    k("rmdir a file", lambda: os.rmdir(j(d, "f")))
    k("rmdir a symlink to a dir", lambda: (os.symlink("full", j(d, "ls")),
                                           os.rmdir(j(d, "ls"))))
    k("unlink a directory", lambda: os.unlink(j(d, "full")))
    k("unlink missing", lambda: os.unlink(j(d, "nope")))
    k("unlink a symlink, not its target", lambda: (os.unlink(j(d, "ls")),
                                                   os.path.isdir(j(d, "full"))))
    k("symlink existing", lambda: os.symlink("x", j(d, "f")))
    k("symlink empty target", lambda: os.symlink("", j(d, "e")))
    k("symlink to itself, open", lambda: (os.symlink("self", j(d, "self")),
                                          os.open(j(d, "self"), os.O_RDONLY)))
    k("readlink a file", lambda: os.readlink(j(d, "f")))
    k("symlink stat", lambda: (os.symlink("f", j(d, "sf")), st_view(os.lstat(j(d, "sf")))))


# --- rename --------------------------------------------------------------------------

@case("rename corner cases")
def _(d, k):
    write(j(d, "a"), b"a")
    os.link(j(d, "a"), j(d, "a2"))
    os.mkdir(j(d, "d1"))
    os.mkdir(j(d, "d1", "sub"))
    os.mkdir(j(d, "d2"))
    os.mkdir(j(d, "full"))
    write(j(d, "full", "x"))
    k("rename onto itself", lambda: os.rename(j(d, "a"), j(d, "a")))
    k("rename onto another link of it", lambda: os.rename(j(d, "a"), j(d, "a2")))
    k("both links stay", lambda: sorted(os.listdir(d)))
    k("dir into its own subdir", lambda: os.rename(j(d, "d1"), j(d, "d1", "sub", "x")))
    k("dir over a non-empty dir", lambda: os.rename(j(d, "d2"), j(d, "full")))
    k("file over a dir", lambda: os.rename(j(d, "a"), j(d, "d2")))
    k("dir over a file", lambda: os.rename(j(d, "d2"), j(d, "a")))
    k("dir over an empty dir", lambda: os.rename(j(d, "d2"), j(d, "d1", "sub")))
    k("nlinks", lambda: (os.lstat(j(d, "d1")).st_nlink, os.lstat(d).st_nlink))
    k("dot", lambda: os.rename(j(d, "d1", "."), j(d, "z")))
    k("missing source", lambda: os.rename(j(d, "nope"), j(d, "z")))
    k("into a missing dir", lambda: os.rename(j(d, "a"), j(d, "no", "z")))
    k("dir across dirs", lambda: os.rename(j(d, "d1", "sub"), j(d, "moved")))
    k("nlinks after", lambda: (os.lstat(j(d, "d1")).st_nlink, os.lstat(d).st_nlink))
    os.symlink("a", j(d, "sl"))
    k("rename a symlink", lambda: (os.rename(j(d, "sl"), j(d, "sl2")), os.readlink(j(d, "sl2"))))
    k("over a symlink", lambda: (os.rename(j(d, "a2"), j(d, "sl2")),
                                 st_view(os.lstat(j(d, "sl2")))))
    k("tree", lambda: sorted(os.listdir(d)))


def rename_user_setup(d):
    open_dir(d)
    os.mkdir(j(d, "rootdir"), 0o755)
    write(j(d, "rootdir", "f"))
    os.mkdir(j(d, "mine"), 0o755)
    os.chown(j(d, "mine"), USER, USER)
    os.mkdir(j(d, "mine", "sub"), 0o555)
    os.chown(j(d, "mine", "sub"), USER, USER)


@case("rename as another user", uid=USER, setup=rename_user_setup)
def _(d, k):
    k("out of a root dir", lambda: os.rename(j(d, "rootdir", "f"), j(d, "f")))
    k("a root dir", lambda: os.rename(j(d, "rootdir"), j(d, "r2")))
    k("own dir without write on itself (its ..)",
      lambda: os.rename(j(d, "mine", "sub"), j(d, "sub")))
    k("own dir", lambda: os.rename(j(d, "mine"), j(d, "mine2")))
    k("tree", lambda: sorted(os.listdir(d)))


# --- running it ----------------------------------------------------------------------

def run_case(root, uid, setup, body):
    """Run one case in a forked process under root; return its calls' outcomes."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(rfd)
            os.umask(0o022)
            if setup:
                setup(root)
            if uid:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            k = Calls()
            try:
                body(root, k)
            except OSError as e:  # a step outside k() failed: say so
                k.out.append(("setup", ("error", errno.errorcode.get(e.errno, e.errno))))
            os.write(wfd, pickle.dumps(k.out))
        except BaseException as e:  # noqa: B902 - report anything from the child
            os.write(wfd, pickle.dumps([("crash", repr(e))]))
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    data = b""
    while chunk := os.read(rfd, 65536):
        data += chunk
    os.close(rfd)
    os.waitpid(pid, 0)
    return pickle.loads(data)


def compare(name, got, want):
    """[difference lines] between two records of one case."""
    out = []
    if [g[0] for g in got] != [w[0] for w in want]:
        return [f"{name}: different calls ran: {got!r} vs {want!r}"]
    for (label, g), (_, w) in zip(got, want):
        if (name, label) in BY_DESIGN:
            if g != BY_DESIGN[(name, label)] or w[0] != "ok":
                out.append(f"{name} / {label}: through the mount {g}, plain {w} "
                           f"(by design: {BY_DESIGN[(name, label)]} through the mount, "
                           f"ok plain)")
        elif g != w:
            out.append(f"{name} / {label}: through the mount {g}, plain {w}")
    return out


def tree(root):
    """{relative path: description} of everything under root (by directory fds: some
    paths are longer than PATH_MAX)."""
    out = {}
    for dirpath, dirnames, filenames, dfd in os.fwalk(os.fsencode(root)):
        rel = os.path.relpath(dirpath, os.fsencode(root))
        for name in sorted(dirnames + filenames):
            st = os.lstat(name, dir_fd=dfd)
            desc = [st_view(st)]
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
                try:
                    if stat.S_ISREG(st.st_mode):
                        desc.append(os.pread(fd, st.st_size + 1, 0))
                    desc.append(sorted((x, os.getxattr(fd, x)) for x in os.listxattr(fd)))
                finally:
                    os.close(fd)
            if stat.S_ISLNK(st.st_mode):
                desc.append(os.readlink(name, dir_fd=dfd))
            if name.startswith(b"T_"):  # atime: reads are not replicated
                desc.append(st.st_mtime_ns)
            out[os.path.normpath(os.path.join(rel, name))] = desc
    return out


def tree_diff(a, b):
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _wait_log(lab, node, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in lab.replicd_log_tail(node, 200)):
            return
        time.sleep(0.05)
    raise AssertionError(f"{node}: '{text}' not logged within {timeout:g} s")


def held_deleted(pid, dirs):
    """Files replicd (pid) still holds open under dirs although they were deleted."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(tuple(d + "/" for d in dirs)) and target.endswith(" (deleted)"):
            out.append(target)
    return out


@lab_options(lab_class=ReplicdLab, networks=1)
def test_mount_answers_like_ext4_and_both_copies_match(lab):
    ref = lab.node_dir("node1", "reference")
    os.makedirs(ref)
    lab.start_replicd("node2", standalone="secondary")
    lab.start_replicd("node1", standalone="primary")
    _wait_log(lab, "node1", "connected to peer node2")
    mnt = lab.data_dir("node1")
    differences, calls = [], 0
    for i, (name, uid, setup, body) in enumerate(CASES):
        sub = f"c{i:02d}"
        os.mkdir(j(mnt, sub))
        os.mkdir(j(ref, sub))
        got = run_case(j(mnt, sub), uid, setup, body)
        want = run_case(j(ref, sub), uid, setup, body)
        calls += len(want)
        found = compare(name, got, want)
        print(f"    {name}: {len(want)} calls, {len(found)} differences", flush=True)
        differences += found
    print(f"    {calls} calls, {len(differences)} differences", flush=True)
    # The secondary has every change once a flush is acknowledged.
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)
    want = tree(ref)
    for node in ("node1", "node2"):
        root = lab.disk_dir(node)
        for k, g, w in tree_diff(tree(root), want):
            differences.append(f"{node} disk: {k!r}: {str(g)[:200]}, "
                               f"reference {str(w)[:200]}")
        # Every file is closed: no unlinked file may stay allocated.
        # (replicd opened the bind mount, data/, before mounting over it.)
        for held in held_deleted(lab.procs[(node, "replicd")].pid,
                                 (root, lab.data_dir(node))):
            differences.append(f"{node}: replicd still holds {held}")
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences)
