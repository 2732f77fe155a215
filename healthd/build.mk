# healthd: HTTP with libmicrohttpd.
PKGS += libmicrohttpd
