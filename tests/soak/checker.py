#!/usr/bin/python3
"""checker.py - judges a fault campaign's history (tests/soak/soak.py), independently.

The soak driver only observes; this file decides. It imports nothing from the daemons
or the lab: its input is a history, a list of events (dicts) with times `t` on one clock
(the driver's time.monotonic, which every process of the machine shares), as the driver
wrote them to history.json:

    {"kind": "campaign", "seed": 7, "settle_bound_s": 60}
    {"kind": "fault", "index": 3, "fault": "kill heartbeatd", "target": "node1", "t": ..}
    {"kind": "heal", "index": 3, "t": ..}           the fault undone (link up, restarted)
    {"kind": "role", "t": .., "node": "node1", "role": "PRIM", "data": "uptodate",
     "sync": "insync", "gen": 12, "peer_gen": 12, "serving": true}
                                                    a sample of one node's status
                                                    (role None: no answer)
    {"kind": "vip", "t": .., "node": "node1", "vip": true}
                                                    whether it holds the virtual IP
    {"kind": "client", "t0": .., "t1": .., "who": "node2" | null, "http": true}
                                                    one client round through the VIP:
                                                    which node answered, and whether the
                                                    application answered HTTP 200
    {"kind": "ack", "t": .., "seq": 1234}           the writer's fsync returned 0
    {"kind": "ledger", "t": .., "node": "node2", "ranges": [[0, 1234], ..]}
                                                    the record numbers found in the
                                                    ledger file read on the serving node
    {"kind": "hashes", "index": 3, "t": .., "digests": {"node1": "ab..", ..}}
                                                    both nodes' backing copies hashed
    {"kind": "daemons", "index": 3, "t": .., "dead": ["node1/vipd"]}
    {"kind": "driver_error", "index": 3, "t": .., "what": "..."}
    {"kind": "final", "t": .., "dead": [], "leaks": []}

The checks (docs/soak.md, DESIGN.md "Testing"):
  1 never two nodes serving at once: node X sampled serving (PRIM/ALONE, or holding the
    VIP) at t0 and again at its next sample t2, node Y sampled serving at t1 between
    them, proves both served at t1; in the client's view, answers through the VIP from
    two nodes to requests in flight at the same time;
  2 every acknowledged record is in the ledger read on the serving node afterwards;
  3 the backing copies are byte-identical once healed and resynced;
  4 back to PRIM (serving: every actuator reached it) + SECOND in sync (data uptodate
    at the primary's generation) within settle_bound_s of each heal;
  5 no daemon left dead after a fault or at the end; no leaked mount, namespace or
    process once the lab is gone.
Violations name the fault index active at the time (None: before the first fault).

    /usr/bin/python3 tests/soak/checker.py HISTORY.json     judge a saved history
    /usr/bin/python3 tests/soak/checker.py --self-test      prove the checker can fail
"""

import bisect
import json
import sys

SERVING = ("PRIM", "ALONE")
CHECKS = {
    1: "two nodes serving",
    2: "acknowledged record lost",
    3: "copies differ",
    4: "not back to PRIM+SECOND in sync",
    5: "daemon dead or leak",
    0: "driver error",
}


class Violation(dict):
    """One broken promise: check number, fault index, time, and what was seen."""

    def __init__(self, check, index, t, what):
        super().__init__(check=check, index=index, t=t, what=what)

    def __str__(self):
        at = "before the first fault" if self["index"] is None else f"fault {self['index']}"
        return f"[{CHECKS[self['check']]}] {at}: {self['what']}"


class History:
    """The events of one campaign, indexed for the checks."""

    def __init__(self, events):
        self.events = sorted(events, key=lambda e: e.get("t", e.get("t0", 0.0)))
        self.by_kind = {}
        for e in self.events:
            self.by_kind.setdefault(e["kind"], []).append(e)
        self.faults = self.kind("fault")
        self.fault_times = [f["t"] for f in self.faults]
        campaign = (self.kind("campaign") or [{}])[0]
        self.settle_bound_s = campaign.get("settle_bound_s", 60.0)
        self.seed = campaign.get("seed")

    def kind(self, name):
        return self.by_kind.get(name, [])

    def fault_at(self, t):
        """The index of the last fault started at or before t (None: none yet)."""
        i = bisect.bisect_right(self.fault_times, t)
        return self.faults[i - 1]["index"] if i else None


def check_two_serving(h):
    """Check 1, from the role/VIP samples of both nodes and from the client's view."""
    out = []
    for what, samples, serving in (
            ("serving role", h.kind("role"), lambda s: s.get("role") in SERVING),
            ("holding the VIP", h.kind("vip"), lambda s: s.get("vip") is True)):
        last = {}  # node -> its previous sample
        between = {}  # node -> samples of other nodes since its previous sample
        for s in samples:
            x = s["node"]
            prev = last.get(x)
            if prev is not None and serving(prev) and serving(s):
                for other in between.get(x, []):
                    if other["node"] != x and serving(other):
                        out.append(Violation(1, h.fault_at(other["t"]), other["t"],
                                             f"{x} {what} at t={prev['t']:.3f} and "
                                             f"t={s['t']:.3f}, {other['node']} "
                                             f"{other.get('role')} {what} at "
                                             f"t={other['t']:.3f}"))
                        break
            last[x] = s
            between[x] = []
            for node, seen in between.items():
                if node != x:
                    seen.append(s)
    # The client's view: answers from two nodes whose rounds (sent at t0, answered at
    # t1) overlap prove both held the VIP within the overlap. (Answers from X, then Y,
    # then X again prove nothing: two quick swaps do that.)
    answered = sorted((c for c in h.kind("client") if c.get("who")), key=lambda c: c["t0"])
    for i, a in enumerate(answered):
        for b in answered[i + 1:]:
            if b["t0"] >= a["t1"]:
                break
            if b["who"] != a["who"]:
                out.append(Violation(1, h.fault_at(b["t0"]), b["t0"],
                                     f"the client got answers through the VIP from "
                                     f"{a['who']} ({a['t0']:.3f}-{a['t1']:.3f}) and "
                                     f"{b['who']} ({b['t0']:.3f}-{b['t1']:.3f}) at once"))
    return out


def _in_ranges(ranges, seq):
    i = bisect.bisect_right([r[0] for r in ranges], seq) - 1
    return i >= 0 and ranges[i][0] <= seq <= ranges[i][1]


def check_acknowledged(h):
    """Check 2: every record acknowledged before a ledger read is in what was read."""
    out = []
    acks = sorted((a["t"], a["seq"]) for a in h.kind("ack"))
    ack_times = [t for t, _ in acks]
    for led in h.kind("ledger"):
        ranges = sorted(led["ranges"])
        n = bisect.bisect_left(ack_times, led["t"])
        missing = [seq for _, seq in acks[:n] if not _in_ranges(ranges, seq)]
        if missing:
            out.append(Violation(2, h.fault_at(led["t"]), led["t"],
                                 f"{len(missing)} of {n} acknowledged records missing "
                                 f"from the ledger read on {led['node']} (first "
                                 f"{missing[:5]})"))
    return out


def check_identical(h):
    """Check 3: the last hashing after each fault (and at the end) found equal copies."""
    out = []
    last = {}
    for e in h.kind("hashes"):
        last[e.get("index")] = e
    for index, e in last.items():
        digests = e["digests"]
        if len(set(digests.values())) != 1 or None in digests.values():
            out.append(Violation(3, index, e["t"],
                                 "backing copies differ once healed: " +
                                 ", ".join(f"{n} {str(d)[:12]}" for n, d in
                                           sorted(digests.items()))))
    return out


def _settled(latest):
    """Both nodes' latest samples show PRIM and an in-sync SECOND at its generation."""
    roles = {s.get("role"): s for s in latest.values()}
    if len(latest) != 2 or set(roles) != {"PRIM", "SECOND"}:
        return False
    second = roles["SECOND"]
    return (roles["PRIM"].get("serving") is not False and second.get("data") == "uptodate" and second.get("sync") == "insync"
            and second.get("gen") is not None and second.get("gen") == second.get("peer_gen"))


def check_settles(h):
    """Check 4: after every heal, PRIM + SECOND in sync within the bound."""
    out = []
    samples = h.kind("role")
    times = [s["t"] for s in samples]
    end = max([e.get("t", e.get("t1", 0.0)) for e in h.events] or [0.0])
    for heal in h.kind("heal"):
        bound = heal["t"] + h.settle_bound_s
        latest = {}
        settled_at = None
        for s in samples[bisect.bisect_left(times, heal["t"]):]:
            if s["t"] > bound:
                break
            latest[s["node"]] = s
            if _settled(latest):
                settled_at = s["t"]
                break
        if settled_at is None:
            seen = ", ".join(f"{n} {s.get('role')}/{s.get('sync')}/{s.get('data')}"
                             for n, s in sorted(latest.items()))
            if end < bound and not latest:
                seen = "no sample after the heal"
            out.append(Violation(4, heal["index"], heal["t"],
                                 f"not PRIM + SECOND in sync within "
                                 f"{h.settle_bound_s:g} s of the heal (last seen: {seen})"))
    return out


def check_daemons(h):
    """Check 5: no daemon dead after a fault, nothing dead or leaked at the end."""
    out = []
    for e in h.kind("daemons"):
        if e["dead"]:
            out.append(Violation(5, e.get("index"), e["t"],
                                 "dead after the fault healed: " + ", ".join(e["dead"])))
    for e in h.kind("final"):
        if e.get("dead"):
            out.append(Violation(5, e.get("index"), e["t"],
                                 "dead at the end: " + ", ".join(e["dead"])))
        if e.get("leaks"):
            out.append(Violation(5, e.get("index"), e["t"],
                                 "left behind: " + "; ".join(e["leaks"])))
    for e in h.kind("driver_error"):
        out.append(Violation(0, e.get("index"), e["t"], e["what"]))
    return out


def check(events):
    """Every violation in a history, in time order."""
    h = History(events)
    found = (check_two_serving(h) + check_acknowledged(h) + check_identical(h)
             + check_settles(h) + check_daemons(h))
    return sorted(found, key=lambda v: v["t"])


# --- the checker's own test: it must be able to fail ------------------------------------

def _clean_history():
    """A small campaign that keeps every promise: one failover of node1 to node2."""
    ev = [{"kind": "campaign", "seed": 1, "settle_bound_s": 10}]

    def role(t, node, role, gen=5, peer_gen=5, vip=None, sync="insync", data="uptodate"):
        ev.append({"kind": "role", "t": t, "node": node, "role": role, "gen": gen,
                   "peer_gen": peer_gen, "sync": sync, "data": data})
        ev.append({"kind": "vip", "t": t + 0.001, "node": node,
                   "vip": role in SERVING if vip is None else vip})
    for k in range(10):  # steady: node1 PRIM, node2 SECOND
        role(k * 0.1, "node1", "PRIM")
        role(k * 0.1 + 0.05, "node2", "SECOND")
    for seq in range(10):
        ev.append({"kind": "ack", "t": 0.5 + seq * 0.01, "seq": seq})
    ev.append({"kind": "fault", "index": 0, "fault": "kill node", "target": "node1",
               "t": 1.0})
    role(1.05, "node2", "SECOND")
    role(1.10, "node1", None, vip=False)
    role(1.50, "node2", "ALONE", gen=6, peer_gen=5)
    ev.append({"kind": "ledger", "t": 1.6, "node": "node2", "ranges": [[0, 9]]})
    ev.append({"kind": "heal", "index": 0, "t": 2.0})
    role(2.5, "node1", "SECOND", gen=6, peer_gen=6)
    role(2.6, "node2", "PRIM", gen=6, peer_gen=6)
    ev.append({"kind": "hashes", "index": 0, "t": 2.7, "digests": {"node1": "aa",
                                                                   "node2": "aa"}})
    ev.append({"kind": "daemons", "index": 0, "t": 2.8, "dead": []})
    for k, who in enumerate(["node1", "node1", None, "node2", "node2"]):
        ev.append({"kind": "client", "t0": 0.5 + k * 0.4, "t1": 0.55 + k * 0.4,
                   "who": who, "http": who is not None})
    ev.append({"kind": "final", "t": 3.0, "dead": [], "leaks": []})
    return ev


def self_test():
    """Feed the checker histories with a known fault each; return a list of failures
    (empty: the checker reports every one and nothing in the clean history)."""
    failures = []

    def expect(name, events, check_no):
        found = check(events)
        if check_no is None and found:
            failures.append(f"{name}: clean history reported {[str(v) for v in found]}")
        elif check_no is not None and not any(v["check"] == check_no for v in found):
            failures.append(f"{name}: not reported (got {[str(v) for v in found]})")

    expect("clean", _clean_history(), None)

    ev = _clean_history()  # node1 still PRIM while node2 is ALONE
    ev += [{"kind": "role", "t": 1.4, "node": "node1", "role": "PRIM"},
           {"kind": "role", "t": 1.7, "node": "node1", "role": "PRIM"}]
    expect("double primary (roles)", ev, 1)

    ev = _clean_history()  # both hold the VIP
    ev += [{"kind": "vip", "t": 1.4, "node": "node1", "vip": True},
           {"kind": "vip", "t": 1.7, "node": "node1", "vip": True}]
    expect("double VIP", ev, 1)

    ev = _clean_history()  # two requests in flight at once, answered by both nodes
    ev += [{"kind": "client", "t0": 2.6, "t1": 2.7, "who": "node2", "http": True},
           {"kind": "client", "t0": 2.65, "t1": 2.75, "who": "node1", "http": True}]
    expect("double primary (client view)", ev, 1)

    ev = _clean_history()  # node1, node2, node1 again: two quick swaps, no proof
    ev += [{"kind": "client", "t0": 2.6, "t1": 2.65, "who": "node2", "http": True},
           {"kind": "client", "t0": 2.7, "t1": 2.75, "who": "node1", "http": True}]
    expect("two quick swaps (client view)", ev, None)

    ev = _clean_history()  # record 10 acknowledged, absent on node2
    ev.append({"kind": "ack", "t": 0.99, "seq": 10})
    expect("lost record", ev, 2)

    ev = [e for e in _clean_history() if e["kind"] != "hashes"]
    ev.append({"kind": "hashes", "index": 0, "t": 2.7, "digests": {"node1": "aa",
                                                                   "node2": "ab"}})
    expect("copies differ", ev, 3)

    ev = [e for e in _clean_history() if not (e["kind"] == "role" and e["t"] > 2.0)]
    ev.append({"kind": "role", "t": 2.5, "node": "node1", "role": "WAIT"})
    ev.append({"kind": "role", "t": 2.6, "node": "node2", "role": "PRIM"})
    expect("never settles", ev, 4)

    ev = [e for e in _clean_history() if e["kind"] != "daemons"]
    ev.append({"kind": "daemons", "index": 0, "t": 2.8, "dead": ["node1/vipd"]})
    expect("dead daemon", ev, 5)

    ev = [e for e in _clean_history() if e["kind"] != "final"]
    ev.append({"kind": "final", "t": 3.0, "dead": [], "leaks": ["mount /tmp/x/data"]})
    expect("leaked mount", ev, 5)
    return failures


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        failures = self_test()
        for f in failures:
            print("FAIL checker self-test: " + f)
        print("PASS checker self-test" if not failures else "")
        print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
        return 1 if failures else 0
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-2].strip(), file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        events = json.load(f)
    found = check(events)
    seed = History(events).seed
    for v in found:
        print(f"VIOLATION seed {seed} {v}")
    print(f"{len(found)} violations (seed {seed})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
