#!/usr/bin/python3
"""wire.py - a Python encoder/decoder of skyha's UDP wire format, to forge packets.

The cluster tests must prove that heartbeatd drops what it should: packets with a bad
MAC, replays, another cluster's packets, truncated and oversized ones. To do that they
need packets built independently of the C code under test, straight from the reference,
docs/protocol.md ("Wire (UDP)"):

    packet = header | body | mac
    header = "SKH1" | version u8 | type u8 | cluster str | module str | node str
             | incarnation u64 | sequence u64
    str    = length u8 (1..32) | bytes [A-Za-z0-9_.-]
    mac    = HMAC-SHA-256(cluster key, header | body)   (= libsodium crypto_auth_hmacsha256)

Integers are big-endian, packets are at most 512 bytes. Builders here return bytes;
the corrupt_* helpers derive bad packets from good ones. decode() parses and verifies a
packet (used to read a heartbeat captured from a real node). Standard library only.
"""

import hashlib
import hmac
import struct

MAGIC = b"SKH1"
VERSION = 1
MAX_PACKET = 512
MAC_BYTES = 32

TYPE_HEARTBEAT = 1
TYPE_LEASE_REQUEST = 2
TYPE_LEASE_REPLY = 3

ROLES = {"STOP": 0, "WAIT": 1, "SECOND": 2, "ALONE": 3, "PRIM": 4, "UP": 5}
ROLE_NAMES = {v: k for k, v in ROLES.items()}
DATA = {"unknown": 0, "uptodate": 1, "outdated": 2}
DATA_NAMES = {v: k for k, v in DATA.items()}

# Heartbeat flags (docs/protocol.md).
FLAG_SWAP_REQUEST = 0x01
FLAG_HANDOVER = 0x02
FLAG_PREFER_SECOND = 0x04
FLAG_PREFER_PRIM = 0x08
FLAG_READY = 0x80  # a farm node: UP and its application started

# Lease request flags.
LEASE_NEW_GENERATION = 0x01
LEASE_FORCED = 0x02
LEASE_RELEASE = 0x04

LEASE_ANSWERS = {"granted": 0, "held_by_other": 1, "outdated": 2, "released": 3}


class WireError(ValueError):
    """A packet that cannot be decoded (the reason says why)."""


def key_from_hex(text):
    """The 32-byte cluster key from its 64-hex-character file content."""
    key = bytes.fromhex(text.strip())
    if len(key) != 32:
        raise WireError("a cluster key is 32 bytes (64 hex characters)")
    return key


def mac(key, data):
    """HMAC-SHA-256 of data with the cluster key (libsodium crypto_auth_hmacsha256)."""
    return hmac.new(key, data, hashlib.sha256).digest()


def _name(text, may_be_empty=False):
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if len(raw) > 255 or (not raw and not may_be_empty):
        raise WireError(f"name {text!r} cannot be encoded")
    return bytes([len(raw)]) + raw


def header(cluster, module, node, incarnation, sequence, ptype=TYPE_HEARTBEAT,
           magic=MAGIC, version=VERSION):
    """The packet header. Names are not validated on purpose: tests forge bad ones."""
    return (magic + struct.pack(">BB", version, ptype) + _name(cluster) + _name(module)
            + _name(node) + struct.pack(">QQ", incarnation, sequence))


def seal(key, unsigned):
    """Append the MAC to header|body."""
    return unsigned + mac(key, unsigned)


def heartbeat_body(network=0, role="PRIM", epoch=1, generation=1, data="uptodate",
                   flags=0):
    role_code = ROLES[role] if isinstance(role, str) else role
    data_code = DATA[data] if isinstance(data, str) else data
    return struct.pack(">BBQQBB", network, role_code, epoch, generation, data_code, flags)


def heartbeat(key, cluster="demo", module="app", node="node2", incarnation=1, sequence=1,
              network=0, role="PRIM", epoch=1, generation=1, data="uptodate", flags=0):
    """A complete, correctly signed heartbeat."""
    return seal(key, header(cluster, module, node, incarnation, sequence)
                + heartbeat_body(network, role, epoch, generation, data, flags))


def lease_request(key, cluster="demo", module="app", node="node1", incarnation=1,
                  sequence=1, request_id=1, generation=0, flags=0):
    """A complete, correctly signed lease request (to the witness)."""
    body = struct.pack(">QQB", request_id, generation, flags)
    return seal(key, header(cluster, module, node, incarnation, sequence,
                            TYPE_LEASE_REQUEST) + body)


def lease_reply(key, cluster="demo", module="app", node="node1", incarnation=1, sequence=1,
                request_id=1, answer="granted", lease_ms=1000, generation=0, holder=""):
    """A complete, correctly signed lease reply (from the witness)."""
    code = LEASE_ANSWERS[answer] if isinstance(answer, str) else answer
    body = struct.pack(">QBIQ", request_id, code, lease_ms, generation) + _name(holder, True)
    return seal(key, header(cluster, module, node, incarnation, sequence,
                            TYPE_LEASE_REPLY) + body)


# --- bad packets --------------------------------------------------------------------

def corrupt_mac(packet):
    """The same packet with one bit of its MAC flipped."""
    return packet[:-1] + bytes([packet[-1] ^ 0x01])


def truncated(packet, length):
    """The first `length` bytes of a packet, as if cut in transit (no valid MAC)."""
    return packet[:length]


def short_body(key, **fields):
    """A heartbeat whose body lacks its last field but carries a valid MAC.

    The MAC verifies, so only the parser's bounds checks can reject it (malformed).
    """
    whole = heartbeat(key, **fields)[:-MAC_BYTES]
    return seal(key, whole[:-1])


def oversized(key, size=600, **fields):
    """A heartbeat padded with zero bytes to `size` bytes, correctly signed."""
    unsigned = heartbeat(key, **fields)[:-MAC_BYTES]
    padding = size - len(unsigned) - MAC_BYTES
    if padding < 0:
        raise WireError("size is below a heartbeat's length")
    return seal(key, unsigned + bytes(padding))


# --- decoding -----------------------------------------------------------------------

class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise WireError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def name(self, may_be_empty=False):
        n = self.u8()
        if n == 0 and not may_be_empty:
            raise WireError("empty name")
        return self.take(n).decode("ascii", "replace")


def decode(packet, key):
    """Verify and parse a packet into a dict; raises WireError on any problem."""
    if len(packet) > MAX_PACKET:
        raise WireError("oversized")
    if len(packet) < 6 + MAC_BYTES or packet[:4] != MAGIC or packet[4] != VERSION:
        raise WireError("malformed header")
    if not hmac.compare_digest(mac(key, packet[:-MAC_BYTES]), packet[-MAC_BYTES:]):
        raise WireError("bad MAC")
    r = _Reader(packet[5:-MAC_BYTES])
    out = {"type": r.u8(), "cluster": r.name(), "module": r.name(), "node": r.name(),
           "incarnation": r.u64(), "sequence": r.u64()}
    if out["type"] == TYPE_HEARTBEAT:
        out.update(network=r.u8(), role=ROLE_NAMES.get(r.u8(), "?"), epoch=r.u64(),
                   generation=r.u64(), data=DATA_NAMES.get(r.u8(), "?"), flags=r.u8())
    elif out["type"] == TYPE_LEASE_REQUEST:
        out.update(request_id=r.u64(), generation=r.u64(), flags=r.u8())
    elif out["type"] == TYPE_LEASE_REPLY:
        out.update(request_id=r.u64(), answer=r.u8(), lease_ms=r.u32(),
                   generation=r.u64(), holder=r.name(may_be_empty=True))
    else:
        raise WireError(f"unknown type {out['type']}")
    if r.pos != len(r.data):
        raise WireError("trailing bytes")
    return out


if __name__ == "__main__":
    # Self-check: a forged heartbeat round-trips, and each corruption is detected.
    k = bytes(range(32))
    hb = heartbeat(k, node="node2", incarnation=3, sequence=42, role="SECOND")
    assert decode(hb, k)["sequence"] == 42 and decode(hb, k)["role"] == "SECOND"
    for bad in (corrupt_mac(hb), truncated(hb, 40), short_body(k), oversized(k)):
        try:
            decode(bad, k)
        except WireError:
            continue
        raise SystemExit("a corrupt packet decoded")
    assert len(oversized(k)) == 600
    print("wire.py: self-check OK")
