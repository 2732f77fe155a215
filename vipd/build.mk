# vipd adds and removes the virtual IPs with rtnetlink through libmnl.
PKGS += libmnl
