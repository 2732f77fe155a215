#!/usr/bin/python3
"""cdp.py - drive headless Chromium from a test: the DevTools protocol over a pipe.

Chromium started with --remote-debugging-pipe reads DevTools commands on its fd 3 and
writes answers and events on its fd 4, each one JSON message ended by a NUL byte: no
WebSocket library needed, standard library only. Browser(ns, ...) starts Chromium in a
network namespace with a fresh profile and one page; page methods:

    navigate(url)
    evaluate(js)            the value of a JavaScript expression (promises awaited)
    wait_for(js, timeout)   poll the expression until it is truthy; returns its value

Used by tests/cluster/test_healthd_api.py to log in to healthd's console, press a
button and watch the page.
"""

import json
import os
import subprocess
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, ns, profile_dir, extra_args=()):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Chromium wants the pipe on fds 3 (commands) and 4 (answers).
        def fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)
        args = ["ip", "netns", "exec", ns, CHROMIUM, "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=profile_dir)}",
                *extra_args, "about:blank"]
        self._log = open(os.path.join(profile_dir, "chromium.log"), "a")
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4, to_child_r, from_child_w),
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next_id = 0
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self._send("Target.attachToTarget",
                                  {"targetId": target, "flatten": True})["sessionId"]
        self._send("Page.enable", session=True)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_child, 65536)
            if not chunk:
                raise BrowserError("Chromium closed its DevTools pipe")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def _send(self, method, params=None, session=False, timeout=30.0):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") != self._next_id:
                continue  # an event
            if "error" in reply:
                raise BrowserError(f"{method}: {reply['error']}")
            return reply.get("result", {})

    def navigate(self, url):
        self._send("Page.navigate", {"url": url}, session=True)

    def evaluate(self, js):
        res = self._send("Runtime.evaluate", {"expression": js, "awaitPromise": True,
                                              "returnByValue": True}, session=True)
        if "exceptionDetails" in res:
            raise BrowserError(f"{js!r}: {res['exceptionDetails'].get('text')} "
                               f"{res['exceptionDetails'].get('exception', {}).get('description', '')}")
        return res.get("result", {}).get("value")

    def wait_for(self, js, timeout=10.0, what=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(js)
            except BrowserError as exc:
                last = str(exc)  # the page may be loading
                value = None
            else:
                value = last
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"{what or js} not true after {timeout:g} s (last: {last!r})")

    def close(self):
        try:
            self._send("Browser.close", timeout=5.0)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        self._log.close()
