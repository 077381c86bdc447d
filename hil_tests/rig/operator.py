"""An operator at a keyed controller on the rig, for the HIL tests of signed commands.

`OperatorSession` starts the real firmware on MicroPython (64 KiB heap, scaled clock) with
keys provisioned (site "demo", operator "alice", a random link key), opens the gateway's
SerialLink on its port, and signs, checks and sends operator commands the way the gateway
forwards them. It keeps the controller's answers and events as they arrive.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from firmware import protocol_gateway as P
from gateway.clock import ScaledClock
from gateway.link import SerialLink
from gateway.secrets import controller_keys
from gateway.signing import Verifier, gateway_key, sign
from hil_tests.rig.emulator import EmulatedController

SITE = "demo"
OPERATOR = "alice"


class OperatorSession:
    def __init__(self, ix, workdir, speed: float = 10.0, heapsize: str = "64k"):
        self.ix = ix
        self.key = os.urandom(32)
        link_key = os.urandom(32)
        epoch = time.time_ns()
        self.rig = EmulatedController(ix, clock="scaled", speed=speed, epoch_ns=epoch,
                                      heapsize=heapsize, workdir=workdir)  # fmt: skip
        self.rig.provision()
        self.rig.provision_keys(controller_keys(SITE, {OPERATOR: self.key}, link_key))
        self.rig.start()
        self.lk = SerialLink(self.rig.port, ix.link.baud, ScaledClock(epoch, speed).ms, link_key)
        self.lk.open()
        self.verifier = Verifier({OPERATOR: gateway_key(self.key, SITE, ix.id)}, SITE, ix.id)
        self.answers: dict[int, tuple[int, str]] = {}  # seq -> (result, reason)
        self.events: list[str] = []
        self._ts = int(time.time())

    def pump(self) -> None:
        """Take what the controller sent: ACKs into `answers`, EVENT texts into `events`."""
        for mtype, _seq, payload in self.lk.receive():
            if mtype == P.T_ACK:
                acked, result, reason = P.unpack_ack(payload)
                self.answers[acked] = (result, reason)
            elif mtype == P.T_EVENT:
                self.events.append(P.unpack_event(payload)[2])

    def wait(self, pred, timeout: float, what: str) -> None:
        """Pump until pred() holds; fail the test with the rig's story after timeout s."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump()
            if pred():
                return
            time.sleep(0.02)
        rig = self.rig
        pytest.fail(
            f"timed out after {timeout} s waiting for {what} (alive: {rig.alive}); "
            f"events {self.events[-6:]}; resets {rig.resets}; changes {rig.changes[-6:]}; "
            f"log:\n{rig.log_tail()}"
        )

    def signed(self, name: str, arg: int = 0, ts: int | None = None):
        """An operator command as the gateway forwards it, signed `ts` (default: a second
        after the last one, so each is above the floor the one before left)."""
        if ts is None:
            self._ts += 1
            ts = self._ts
        c = sign(OPERATOR, self.key, SITE, self.ix.id, name, arg, now=ts, ttl_s=300)
        return self.verifier.check(name, json.dumps(c).encode(), time.time())

    def send(self, code: int, arg: int, cmd) -> tuple[int, str]:
        """Send a checked command; the controller's (result, reason)."""
        seq = self.lk.command(code, arg, cmd)
        self.wait(lambda: seq in self.answers, 15, f"the answer to command {code} {arg}")
        return self.answers[seq]

    def command(self, name: str, code: int, arg: int = 0) -> tuple[int, str]:
        """Sign, check and send `name` (code, arg); the controller's (result, reason)."""
        return self.send(code, arg, self.signed(name, arg))

    def close(self) -> None:
        self.lk.close()
        self.rig.stop()
