# vipd adds and removes the virtual IPs with rtnetlink through libmnl.
PKGS += libmnl
# The cloud moves (AWS) go through libcurl, which signs with SigV4 itself.
PKGS += libcurl
