# replicd serves the replicated directories through FUSE (libfuse3).
PKGS += fuse3
