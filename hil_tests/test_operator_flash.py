"""An operator's flash and clear-flash on the rig: the real firmware on MicroPython in a 64 KiB
heap with keys provisioned, the gateway's SerialLink on its serial port, the scaled clock. The
flash is checked by the controller's own keys, latched on flash (a power cut comes back in safe
mode, still flashing), and a clear-flash checked in safe mode clears it and resets the
controller into start-up flash -> all-red -> first phase. The rig's oracle sees every change."""

import json
import os
import time

import pytest

from edge.factories import cross
from firmware import protocol_gateway as P
from gateway.clock import ScaledClock
from gateway.link import SerialLink
from gateway.secrets import controller_keys
from gateway.signing import Verifier, gateway_key, sign
from hil_tests.rig.emulator import EmulatedController

SPEED = 10.0


def test_an_operator_flash_survives_a_power_cut_until_a_clear_flash(rig_kind, tmp_path):
    ix = cross()
    n = len(ix.groups)
    key, link = os.urandom(32), os.urandom(32)
    epoch = time.time_ns()
    rig = EmulatedController(ix, clock="scaled", speed=SPEED, epoch_ns=epoch, heapsize="64k",
                             workdir=tmp_path)  # fmt: skip
    rig.provision()
    rig.provision_keys(controller_keys("demo", {"alice": key}, link))
    rig.start()
    lk = SerialLink(rig.port, ix.link.baud, ScaledClock(epoch, SPEED).ms, link).open()
    verifier = Verifier({"alice": gateway_key(key, "demo", ix.id)}, "demo", ix.id)
    answers = {}  # seq -> (result, reason)
    events = []

    def pump():
        for mtype, _seq, payload in lk.receive():
            if mtype == P.T_ACK:
                acked, result, reason = P.unpack_ack(payload)
                answers[acked] = (result, reason)
            elif mtype == P.T_EVENT:
                events.append(P.unpack_event(payload)[2])

    def wait(pred, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pump()
            if pred():
                return
            time.sleep(0.02)
        pytest.fail(
            f"timed out after {timeout} s waiting for {what}; events {events[-6:]}; "
            f"resets {rig.resets}; changes {rig.changes[-6:]}; log:\n{rig.log_tail()}"
        )

    ts = [int(time.time())]

    def command(name, code):
        ts[0] += 1  # a second apart: each above the floor the last one left
        c = sign("alice", key, "demo", ix.id, name, 0, now=ts[0], ttl_s=300)
        seq = lk.command(code, 0, verifier.check(name, json.dumps(c).encode(), time.time()))
        wait(lambda: seq in answers, 15, f"the answer to {name}")
        return answers[seq]

    try:
        wait(lambda: any("G" in s for _, s in rig.changes), 15, "the first green")
        assert command("clear-flash", P.CMD_CLEAR_FLASH) == (P.ACK_REFUSED, "nothing to clear")
        assert command("flash", P.CMD_FLASH) == (P.ACK_OK, "")
        wait(lambda: rig.signals == "f" * n, 5, "the heads in flash")
        assert "flash by operator alice" in events
        latch = rig.flash_dir / "fault"
        wait(lambda: latch.exists() and latch.read_bytes() == b"flash by operator alice", 5,
             "the latch on flash")  # fmt: skip
        assert command("flash", P.CMD_FLASH) == (P.ACK_REFUSED, "already in flash")

        rig.power_cut()  # the latch holds: safe mode, heads flashing, no start-up
        wait(lambda: any(e.startswith("safe mode: latched fault: flash by operator alice")
                         for e in events), 15, "safe mode's event")  # fmt: skip
        assert rig.changes[-1][1] == "f" * n
        cut = len(rig.changes)
        assert command("clear-flash", P.CMD_CLEAR_FLASH) == (P.ACK_OK, "")
        wait(lambda: [c for _, c in rig.resets] == ["power", "soft"], 15, "the reset")
        wait(lambda: any("G" in s for _, s in rig.changes[cut:]), 20, "a green after start-up")
        after = [s for _, s in rig.changes[cut - 1 :]]
        assert after[:3] == ["f" * n, "r" * n, after[2]] and "G" in after[2], after
        assert not latch.exists()
        assert rig.oracle.violations == []
        assert b"MemoryError" not in rig.log_path.read_bytes(), rig.log_tail()
    finally:
        lk.close()
        rig.stop()
