#!/usr/bin/python3
"""fake_primary.py - a replication primary written from docs/protocol.md, to feed a real
secondary replicd frames the real primary never sends.

    ip netns exec NS python3 fake_primary.py KEYHEX CLUSTER MODULE SELF PEER ADDR PORT \
        CAPS OPS_HEX...

Connects to ADDR:PORT, runs the handshake as SELF (offering CAPS, docs/protocol.md
"Capabilities"), waits for the peer's record-end, then seals and sends each operation
(hex-encoded, already encoded by the caller, such as operation 31 `epoch` first when
CAPS has 0x2), one frame each (a peer that closes meanwhile is "closed"). Then pings it every 0.2 s
and reads until the peer closes the connection or 5 s pass, and prints one JSON line: {"peer_caps": N,
"closed": bool, "frames_after": N}. Independent of the C code under test: Python's
hashlib (BLAKE2b, keyed), hmac, and the `cryptography` package's AES-GCM.
"""

import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROP_PING = 18
ROP_RECORD_END = 22


def name(s):
    b = s.encode()
    return bytes([len(b)]) + b


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def read_frame(sock, buf):
    while True:
        if len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) >= 4 + n:
                return buf[4:4 + n], buf[4 + n:]
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk


class Dir:
    """One direction of the sealed stream: AES-256-GCM, nonce = IV xor counter."""

    def __init__(self, key, iv):
        self.aead, self.iv, self.counter = AESGCM(key), iv, 0

    def nonce(self):
        c = self.counter.to_bytes(8, "big")
        return self.iv[:4] + bytes(a ^ b for a, b in zip(self.iv[4:], c))

    def seal(self, pt):
        ct = self.aead.encrypt(self.nonce(), pt, None)
        self.counter += 1
        return ct

    def open(self, ct):
        pt = self.aead.decrypt(self.nonce(), ct, None)
        self.counter += 1
        return pt


def main():
    key, cluster, module, me, peer = bytes.fromhex(sys.argv[1]), *sys.argv[2:6]
    addr, port, caps = sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
    ops = [bytes.fromhex(x) for x in sys.argv[9:]]
    kh = hashlib.blake2b(b"skyha replicd v1 handshake", digest_size=32, key=key).digest()
    nonce = os.urandom(24) + (b"SKRCAP" + struct.pack(">H", caps) if caps else os.urandom(8))
    hello_c = b"SKR1" + bytes([3, 1]) + name(cluster) + name(module) + name(me) + nonce
    sock = socket.create_connection((addr, port), timeout=5)
    sock.sendall(frame(hello_c))
    buf = b""
    hello_s, buf = read_frame(sock, buf)
    mac_at = len(hello_s) - 32
    want = hmac.new(kh, b"S" + hello_c + hello_s[:mac_at], hashlib.sha256).digest()
    assert hmac.compare_digest(want, hello_s[mac_at:]), "server MAC"
    s_nonce = hello_s[mac_at - 32:mac_at]
    peer_caps = struct.unpack(">H", s_nonce[-2:])[0] if s_nonce[-8:-2] == b"SKRCAP" else 0
    auth = b"SKR1" + bytes([3, 3]) + hmac.new(kh, b"C" + hello_c + hello_s,
                                               hashlib.sha256).digest()
    tx_key = hashlib.blake2b(b"c2s" + hello_c + hello_s, digest_size=32, key=key).digest()
    rx_key = hashlib.blake2b(b"s2c" + hello_c + hello_s, digest_size=32, key=key).digest()
    iv = os.urandom(12)
    sock.sendall(frame(auth) + frame(iv))
    peer_iv, buf = read_frame(sock, buf)
    tx, rx = Dir(tx_key, iv), Dir(rx_key, peer_iv)
    while True:  # the secondary's record, up to record-end
        ct, buf = read_frame(sock, buf)
        if rx.open(ct)[0] == ROP_RECORD_END:
            break
    closed, after = False, 0
    try:
        for op in ops:
            sock.sendall(frame(tx.seal(op)))
    except (ConnectionResetError, BrokenPipeError):
        closed = True  # refused before the last operation: that is an answer too
    deadline = time.monotonic() + (0 if closed else 5)
    sock.settimeout(0.2)
    next_ping = 0
    while time.monotonic() < deadline:
        try:
            # Pings, as a primary sends them: the secondary must not end the
            # session for silence, only for what it was sent.
            if time.monotonic() >= next_ping:
                next_ping = time.monotonic() + 0.2
                sock.sendall(frame(tx.seal(struct.pack(">BQB", ROP_PING, 0, 0))))
            _, buf = read_frame(sock, buf)
            after += 1
        except EOFError:
            closed = True
            break
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
    print(json.dumps({"peer_caps": peer_caps, "closed": closed, "frames_after": after}))


if __name__ == "__main__":
    main()
