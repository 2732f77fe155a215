# backupd: SigV4 and SharedKey signing (HMAC-SHA256 from libcrypto)
PKGS += libcrypto
# backupd: blobs compressed with zstd before they are sealed (docs/backup.md).
PKGS += libzstd
