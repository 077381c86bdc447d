"""The gateway's half of the link for `python -m benchmarks.firmware_heap --keys`.

`KeyedLink` provisions the emulated controller with keys (operator alice and a link key), keeps
the link up through a gateway.link.SerialLink on the rig's stepped clock, and sends --commands
requests spread over the run, operator-signed PREEMPT releases and link-tagged HOLDs in turn,
each awaited. `failure` says why a run's commands fail the benchmark: one never sent, one
unanswered, or one the controller could not check (NOT_CHECKED: out of memory, an auth refusal).
"""

from __future__ import annotations

import json
import os
import time

from firmware import protocol as P
from gateway.link import SerialLink
from gateway.secrets import controller_keys
from gateway.signing import Verifier, gateway_key, sign
from hil_tests.rig.emulator import EmulatedController

SITE = "demo"
_UNIX0 = 1_800_000_000  # the run's Unix time at virtual 0: heartbeats and signatures agree on it
_ANSWER_MS = 4000  # virtual time a command may take to be answered (the link retries meanwhile)
# the controller's refusals that mean the check itself failed (firmware/auth.py, controller.py)
NOT_CHECKED = (
    "out of memory",
    "malformed command",
    "bad link signature",
    "replayed",
    "no operator keys",
    "unknown key",
    "not an operator command",
    "bad signature",
    "expired",
    "replayed or stale",
)


class KeyedLink:
    """The gateway's half of the link on the stepped clock: its clock is the rig's virtual
    time, and Unix time runs with it from _UNIX0, so signatures and heartbeats agree."""

    def __init__(self, rig: EmulatedController, ix, commands: int, end_ms: int):
        self.rig, self.ix = rig, ix
        self.key, self.link_key = os.urandom(32), os.urandom(32)
        rig.provision_keys(controller_keys(SITE, {"alice": self.key}, self.link_key))
        self.verifier = Verifier({"alice": gateway_key(self.key, SITE, ix.id)}, SITE, ix.id)
        # evenly through the run, the first after the controller's start-up
        self.due = [end_ms * (i + 1) // (commands + 1) for i in range(commands)]
        self.now_ms = 0
        self.lk = None
        self.sent: dict[int, str] = {}  # seq -> what, until answered
        self.n_sent = 0
        self.answers: list[tuple[str, int, str]] = []

    def unix(self) -> float:
        return _UNIX0 + self.now_ms / 1000.0

    def open(self) -> None:
        self.lk = SerialLink(
            self.rig.port, self.ix.link.baud, lambda: self.now_ms, self.link_key, unix=self.unix
        ).open()

    def _pump(self) -> int:
        """Read what has arrived (waiting at most the port's 20 ms); returns how many frames."""
        msgs = self.lk.receive()
        for mtype, _seq, payload in msgs:
            if mtype == P.T_ACK:
                seq, result, reason = P.unpack_ack(payload)
                what = self.sent.pop(seq, None)
                if what is not None:
                    self.answers.append((what, result, reason))
        return len(msgs)

    def _settle(self, quiet_s: float = 0.05, limit_s: float = 10.0) -> None:
        """Read until the wire has been quiet for `quiet_s` of real time. The stepped clock runs
        far ahead of the wire's real baud rate, so the controller's frames queue up in it and an
        answer waits behind them; a command, too, takes real time to reach the controller."""
        start = last = time.monotonic()
        while time.monotonic() - last < quiet_s and time.monotonic() - start < limit_s:
            if self._pump():
                last = time.monotonic()
            else:
                time.sleep(0.005)

    def after_step(self, t: int) -> int:
        """Keep the link (heartbeats, answers); send the commands that are due and wait for
        their answers, stepping the clock 100 ms at a time. Returns the virtual time reached."""
        self.now_ms = t
        self._pump()
        while self.due and t >= self.due[0] and self.lk.boot is not None:
            self.due.pop(0)
            self._settle()
            self._send()
            self._settle()
            t = self._await(t)
        return t

    def _send(self) -> None:
        self.n_sent += 1
        if self.n_sent % 2:
            c = sign("alice", self.key, SITE, self.ix.id, "preempt", 255, now=self.unix())
            cmd = self.verifier.check("preempt", json.dumps(c).encode(), self.unix())
            self.sent[self.lk.command(P.CMD_PREEMPT, 255, cmd)] = "signed preempt release"
        else:
            self.sent[self.lk.command(P.CMD_HOLD, 0)] = "link-tagged hold"

    def _await(self, t: int) -> int:
        stop = t + _ANSWER_MS
        while self.sent and t < stop:
            t += 100
            self.rig.advance(t, timeout=60)
            self.now_ms = t
            self._settle()
        return t

    def finish(self, t: int) -> int:
        return self._await(t)

    def failure(self) -> str:
        if self.due:
            return f"{len(self.due)} commands never sent (no controller heartbeat)"
        if self.sent:
            return f"unanswered: {', '.join(self.sent.values())}"
        for what, _result, reason in self.answers:
            if reason in NOT_CHECKED:
                return f"{what} not checked: {reason!r}"
        return ""

    def close(self) -> None:
        if self.lk is not None:
            self.lk.close()
