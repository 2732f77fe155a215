# replicd serves the replicated directories through FUSE (libfuse3).
PKGS += fuse3
# The replication stream's AES-256-GCM (replicd/chan.h).
PKGS += libcrypto
# Resync data compression (replicd.resync_compress: zstd, replicd/zframe.h).
PKGS += libzstd
