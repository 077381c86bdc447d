"""Replays across a reboot on the rig: the real firmware on MicroPython with keys provisioned,
the gateway's SerialLink on its serial port. An operator-signed command the controller accepted
is refused "replayed or stale" when a compromised gateway sends it again after a power cut: the
largest ts accepted is on the controller's flash (`floor`) and the next boot starts from it."""

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
_EPOCH = 1700000000  # firmware/auth.py's: the floor on flash is ts minus it


def _wait(pred, timeout, what, rig):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        if not rig.alive:
            pytest.fail(f"the firmware exited waiting for {what}:\n{rig.log_tail()}")
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what}; log:\n{rig.log_tail()}")


def test_a_command_accepted_before_a_power_cut_is_refused_after_it(rig_kind, tmp_path):
    ix = cross()
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

    def answer(seq):
        def got():
            for mtype, _seq, payload in lk.receive():
                if mtype == P.T_ACK:
                    acked, result, reason = P.unpack_ack(payload)
                    answers[acked] = (result, reason)
            return seq in answers

        _wait(got, 15, f"the answer to command {seq}", rig)
        return answers[seq]

    def booted(other):
        def got():
            lk.receive()
            return lk.boot is not None and lk.boot != other

        return got

    try:
        _wait(booted(None), 10, "a heartbeat", rig)
        c = sign("alice", key, "demo", ix.id, "preempt", 255, now=time.time(), ttl_s=300)
        cmd = verifier.check("preempt", json.dumps(c).encode(), time.time())
        first = answer(lk.command(P.CMD_PREEMPT, 255, cmd))
        # checked and remembered (the sequencer's own answer, whatever it is, comes after)
        assert first[1] in ("", "not in remote mode"), first
        floor = rig.flash_dir / "floor"
        want = b"%d %d" % (cmd.ts - _EPOCH, cmd.ts - _EPOCH)
        _wait(lambda: floor.exists() and floor.read_bytes() == want, 10, "the floor on flash", rig)

        old_boot = lk.boot
        rig.power_cut()
        _wait(booted(old_boot), 15, "a heartbeat from the next boot", rig)
        # a gateway replaying what it passed before: the controller's own check refuses it
        replay = answer(lk.command(P.CMD_PREEMPT, 255, cmd))
        assert replay == (P.ACK_REFUSED, "replayed or stale"), replay
        # and a command signed later still runs
        c = sign("alice", key, "demo", ix.id, "preempt", 255, now=cmd.ts + 1, ttl_s=300)
        newer = verifier.check("preempt", json.dumps(c).encode(), time.time())
        fresh = answer(lk.command(P.CMD_PREEMPT, 255, newer))
        assert fresh[1] in ("", "not in remote mode"), fresh
        assert [c for _, c in rig.resets] == ["power"]
        assert rig.oracle.violations == []
        assert b"MemoryError" not in rig.log_path.read_bytes(), rig.log_tail()
    finally:
        lk.close()
        rig.stop()
