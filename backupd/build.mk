# backupd: blobs compressed with zstd before they are sealed (docs/backup.md).
PKGS += libzstd
