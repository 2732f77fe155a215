# vipd adds and removes the virtual IPs with rtnetlink through libmnl.
PKGS += libmnl
# (libcurl, for the cloud moves, is in the top-level PKGS: shared/httpc.c.)
