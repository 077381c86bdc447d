"""Replays across a reboot on the rig: the real firmware on MicroPython with keys provisioned,
the gateway's SerialLink on its serial port. An operator-signed command the controller accepted
is refused "replayed or stale" when a compromised gateway sends it again after a power cut: the
largest ts accepted is on the controller's flash (`floor`) and the next boot starts from it."""

import time

from edge.factories import cross
from firmware import protocol_gateway as P
from hil_tests.rig.operator import OperatorSession

SPEED = 10.0
_EPOCH = 1700000000  # firmware/auth.py's: the floor on flash is ts minus it


def test_a_command_accepted_before_a_power_cut_is_refused_after_it(rig_kind, tmp_path):
    ix = cross()
    op = OperatorSession(ix, tmp_path, speed=SPEED)
    rig, lk, wait = op.rig, op.lk, op.wait

    def booted(other):
        return lambda: lk.boot is not None and lk.boot != other

    try:
        wait(booted(None), 10, "a heartbeat")
        cmd = op.signed("preempt", 255, ts=int(time.time()))
        first = op.send(P.CMD_PREEMPT, 255, cmd)
        # checked and remembered (the sequencer's own answer, whatever it is, comes after)
        assert first[1] in ("", "not in remote mode"), first
        floor = rig.flash_dir / "floor"
        want = b"%d %d" % (cmd.ts - _EPOCH, cmd.ts - _EPOCH)
        wait(lambda: floor.exists() and floor.read_bytes() == want, 10, "the floor on flash")

        old_boot = lk.boot
        rig.power_cut()
        wait(booted(old_boot), 15, "a heartbeat from the next boot")
        # a gateway replaying what it passed before: the controller's own check refuses it
        replay = op.send(P.CMD_PREEMPT, 255, cmd)
        assert replay == (P.ACK_REFUSED, "replayed or stale"), replay
        # and a command signed later still runs
        fresh = op.send(P.CMD_PREEMPT, 255, op.signed("preempt", 255, ts=cmd.ts + 1))
        assert fresh[1] in ("", "not in remote mode"), fresh
        assert [c for _, c in rig.resets] == ["power"]
        assert rig.oracle.violations == []
        assert b"MemoryError" not in rig.log_path.read_bytes(), rig.log_tail()
    finally:
        op.close()
