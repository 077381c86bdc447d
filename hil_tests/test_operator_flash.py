"""An operator's flash and clear-flash on the rig: the real firmware on MicroPython in a board's
64 KiB heap with keys provisioned, the gateway's SerialLink on its serial port, the
scaled clock. The flash is checked by the controller's own keys, latched on flash (a power cut
comes back in safe mode, still flashing), and a clear-flash checked in safe mode clears it and
resets the controller into start-up flash -> all-red -> first phase. The rig's oracle sees
every change."""

from edge.factories import cross
from firmware import protocol_gateway as P
from hil_tests.rig.operator import OperatorSession

SPEED = 10.0


def test_an_operator_flash_survives_a_power_cut_until_a_clear_flash(rig_kind, tmp_path):
    ix = cross()
    n = len(ix.groups)
    # a board's 64 KiB: in fault flash the app drops the sequencer's phase-running half, which
    # leaves room for the checks of the signed commands that follow (docs/architecture.md,
    # "Memory"); no retries hide an "out of memory" here
    op = OperatorSession(ix, tmp_path, speed=SPEED, heapsize="64k")
    rig, wait, command, events = op.rig, op.wait, op.command, op.events
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
        op.close()
