# backupd: SigV4 and SharedKey signing (HMAC-SHA256 from libcrypto)
PKGS += libcrypto
