"""Cluster tests: heartbeatd's status after a stall tells what it decided, not what it
was (found by the fault campaign, tests/soak: seed 4242 fault 48, seed 777 fault 121,
seed 1 fault 9 of the short soak: "SIGSTOP heartbeatd" of the primary).

The primary's heartbeatd is stopped longer than the peer's timeout; the peer takes over
(ALONE). Status requests keep coming, as from a monitoring system (here: both nodes in
turn, every 50 ms, each given up after 0.5 s). Once continued, heartbeatd must take in
what happened meanwhile (its stall, the peer's heartbeats) before it answers: its first
answer used to say PRIM, the role of seconds before, while the peer served, so the
status of both nodes showed two primaries.

The old answer needs the request to be read in the very turn that takes in the stall,
a race: without the fix this test failed in about one run of five (four rounds then),
so it runs six rounds, alternating the frozen node. With the fix no round can fail.
"""

import signal
import threading
import time

from lab import SERVING_ROLES, describe, lab_options, sized
from stack_lab import StackLab

BOUND_S = 30
STALL_S = 5
ROUNDS = sized(3, 6)  # stalls, alternating the primary (make check, make soak)


class StatusPoller(threading.Thread):
    """Both nodes' roles in turn, every 50 ms: [(monotonic, node, role or None)]."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.lab = lab
        self.samples = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for node in self.lab.nodes:
                st = self.lab.try_status(node, timeout=0.5)
                self.samples.append((time.monotonic(), node,
                                     st["node"]["role"] if st else None))
            self.stopping.wait(0.05)


@lab_options(lab_class=StackLab)
def test_first_status_after_a_stall_never_shows_a_second_primary(lab):
    lab.start_cluster(BOUND_S)
    poller = StatusPoller(lab)
    poller.start()
    try:
        primary, secondary = "node1", "node2"
        for round_no in range(ROUNDS):
            lab.wait_settled(BOUND_S, primary=primary, secondary=secondary)
            lab.wait_in_sync(secondary, BOUND_S)
            lab.signal_daemon(primary, "heartbeatd", signal.SIGSTOP)
            try:
                lab.wait_role(secondary, "ALONE", BOUND_S)
                time.sleep(STALL_S)
            finally:
                continued = time.monotonic()
                lab.signal_daemon(primary, "heartbeatd", signal.SIGCONT)
            lab.wait_roles({primary: "SECOND", secondary: "PRIM"}, BOUND_S)
            deadline = time.monotonic() + BOUND_S
            while True:
                answers = [(t, role) for t, node, role in list(poller.samples)
                           if node == primary and t > continued and role is not None]
                if answers:
                    break
                assert time.monotonic() < deadline, \
                    f"round {round_no}: no status from {primary} after SIGCONT"
                time.sleep(0.05)
            t, role = answers[0]
            assert role not in SERVING_ROLES, (
                f"round {round_no}: {primary}'s first status {t - continued:.3f} s "
                f"after SIGCONT said {role} while {secondary} served: "
                f"{describe(lab.try_status(secondary))}")
            primary, secondary = secondary, primary
    finally:
        poller.stopping.set()
        poller.join(10)
