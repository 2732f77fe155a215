# quorum: etcd talks to etcd's v3 JSON gateway through libcurl (heartbeatd/etcd.c).
PKGS += libcurl
