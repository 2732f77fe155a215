"""Cluster tests: the GlusterFS lab of bench/gluster.py works, and keeps to itself.

bench/gluster.py measures replicd against GlusterFS replica 2 built by
tests/lab/gluster_lab.py; benches are not run by `make check`, so this keeps the lab
from rotting: both glusterd come up, the volume is made of one brick per node, a file
written through node1's FUSE client is on both bricks, the processes the bench counts
CPU for are all there, the host's own GlusterFS directories are left as they were, and
closing the lab's GlusterFS leaves no GlusterFS process behind.
"""

import os
import subprocess

from lab import address, lab_options
from gluster_lab import GLUSTER_COMMS, VOLUME, GlusterLab, process_comm

HOST_DIRS = ("/var/lib/glusterd", "/var/log/glusterfs", "/run/gluster")


def _listing(path):
    """Every entry under path (relative), or None if path does not exist."""
    if not os.path.isdir(path):
        return None
    found = set()
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(top, name), path))
    return found


def _comms(lab):
    return sorted(str(process_comm(pid)) for pid in lab.stack_pids(GLUSTER_COMMS))


@lab_options(lab_class=GlusterLab)
def test_a_file_written_on_node1s_gluster_mount_is_on_both_bricks(lab):
    before = {d: _listing(d) for d in HOST_DIRS}
    mnt = lab.start_gluster()

    info = lab.gluster_volume_info()
    assert "Type: Replicate" in info and "Number of Bricks: 1 x 2 = 2" in info, info
    for node in lab.nodes:
        assert f"{address(0, node)}:{lab.brick_dir(node)}" in info, info

    data = os.urandom(1 << 20)
    script = ("import sys, os\n"
              "with open(sys.argv[1], 'wb') as f:\n"
              "    f.write(sys.stdin.buffer.read()); f.flush(); os.fsync(f.fileno())\n")
    subprocess.run(lab.in_gluster_ns("node1", ["/usr/bin/python3", "-c", script,
                                               os.path.join(mnt, "written-on-node1")]),
                   input=data, check=True, timeout=60)
    for node in lab.nodes:
        with open(os.path.join(lab.brick_dir(node), "written-on-node1"), "rb") as f:
            assert f.read() == data, f"{node}'s brick does not hold the file written"

    # What the bench sums the CPU of: glusterd, a brick and a self-heal daemon on
    # each node, and node1's FUSE client.
    comms = _comms(lab)
    assert comms == sorted(["glusterd"] * 2 + ["glusterfsd"] * 2 + ["glusterfs"] * 3), comms
    # The client's mount lives in node1's mount namespace only.
    with open("/proc/self/mountinfo") as f:
        assert f" {mnt} " not in f.read(), "the GlusterFS mount leaked to the host"
    after = {d: _listing(d) for d in HOST_DIRS}
    assert after == before, f"the lab touched the host's GlusterFS directories: {after}"
    assert not os.path.exists("/run/glusterd.socket"), "a glusterd socket in the host's /run"

    lab.close_gluster()
    assert lab.stack_pids(GLUSTER_COMMS) == [], _comms(lab)
    # The volume was deleted from node2's view of the pool too.
    assert not os.path.exists(os.path.join(lab.gluster_dir("node2", "lib"), "vols",
                                           VOLUME)), "volume still defined on node2"
