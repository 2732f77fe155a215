#!/usr/bin/python3
"""fake_heartbeatd.py - a node's heartbeatd bus, spoken from docs/protocol.md, so a test
chooses what one real actuator (replicd) is told: its target and epoch.

    hb = FakeHeartbeatd(run_dir, module, node)   # binds ipc://RUN/MODULE/desired (PUB)
    hb.start(target="secondary", epoch=5)        # and .../actual (SUB); publishes
    hb.set(epoch=6)                              # MODULE.heartbeatd.desired every 0.1 s
    hb.wait_actual("replicd", lambda a: ..., "what", timeout)
    hb.close()

The desired state carries valid_ms and sent_ms (CLOCK_MONOTONIC, as heartbeatd's), so an
actuator takes it as fresh; the actual states the daemons publish are kept, the last one
per daemon. Independent of heartbeatd's C code: pyzmq and json.
"""

import json
import os
import threading
import time

import zmq


class FakeHeartbeatd:
    def __init__(self, run_dir, module, node):
        self.module, self.node = module, node
        self.dir = os.path.join(run_dir, module)
        self.fields = {}
        self.actual = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = None
        self.ctx = zmq.Context()
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.bind(f"ipc://{self.dir}/desired")
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.bind(f"ipc://{self.dir}/actual")

    def desired(self):
        with self.lock:
            f = dict(self.fields)
        return {"module": self.module, "node": self.node, "role": f["role"],
                "epoch": f["epoch"], "generation": f["generation"], "valid_ms": 1000,
                "sent_ms": int(time.monotonic() * 1000), "ack_alone": False,
                "targets": {"replicd": f["target"], "vipd": None, "checkd": None}}

    def start(self, target, epoch, role=None, generation=1):
        self.set(target=target, epoch=epoch, generation=generation,
                 role=role or {"secondary": "SECOND", "primary": "PRIM"}.get(target, "WAIT"))
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def set(self, **fields):
        with self.lock:
            self.fields.update(fields)

    def _loop(self):
        topic = f"{self.module}.heartbeatd.desired".encode()
        while not self.stop.is_set():
            self.pub.send_multipart([topic, json.dumps(self.desired()).encode()])
            deadline = time.monotonic() + 0.1
            while self.sub.poll(max(1, int((deadline - time.monotonic()) * 1000))):
                frames = self.sub.recv_multipart()
                try:
                    msg = json.loads(frames[1])
                    with self.lock:
                        self.actual[msg["daemon"]] = msg
                except (IndexError, ValueError, KeyError, TypeError):
                    pass
                if time.monotonic() >= deadline:
                    break

    def last_actual(self, daemon):
        with self.lock:
            return self.actual.get(daemon)

    def wait_actual(self, daemon, predicate, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            a = self.last_actual(daemon)
            if a is not None and predicate(a):
                return a
            if time.monotonic() > deadline:
                raise AssertionError(f"{daemon} on {self.node}: not {what} within "
                                     f"{timeout:g} s; last actual state: {a}")
            time.sleep(0.05)

    def close(self):
        self.stop.set()
        if self.thread:
            self.thread.join(timeout=2)
        self.pub.close(linger=0)
        self.sub.close(linger=0)
        self.ctx.term()
