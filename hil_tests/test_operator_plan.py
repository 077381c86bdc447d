"""An operator's timing plan on the rig: the real firmware on MicroPython in a 64 KiB heap with
keys provisioned and a config with plans, the gateway's SerialLink on its serial port, the
scaled clock. With a call on every phase all the time each green runs to its max green: under
plan 1 the main street's green lasts its 25 s, not the base 45 s, and plan 0 brings the base
back. Each plan is checked by the controller's own keys; the rig's oracle sees every change.
(tee(): a keyed cross() with plans needs 65,250 bytes, too close to 64 KiB for a test.)"""

import dataclasses

from edge.factories import tee
from edge.model import Plan
from firmware import protocol_gateway as P
from hil_tests.rig.operator import OperatorSession

SPEED = 10.0


def _greens(changes, ix, phase):
    """(start, seconds) of every whole green of `phase` (its groups all G) in `changes`."""
    on = [ix.group_index(g) for g in ix.phases[phase].groups]
    out = []
    start = None
    for t, s in changes:
        green = all(s[i] == "G" for i in on)
        if green and start is None:
            start = t
        elif not green and start is not None:
            out.append((start, t - start))
            start = None
    return out


def test_an_operator_plan_trims_the_max_greens_until_plan_zero(rig_kind, tmp_path):
    # plan 1: the main street (ew_thru, phase 1) max green 25 s (base 45 s)
    ix = dataclasses.replace(tee(), plans=(Plan("offpeak", {"ew_thru": 25.0}),))
    op = OperatorSession(ix, tmp_path, speed=SPEED)
    rig, wait = op.rig, op.wait

    def plan(k):
        return op.command("plan", P.CMD_PLAN, k), rig.changes[-1][0]

    def next_green(after, timeout):
        """The first whole ew_thru green that starts after controller second `after`."""
        wait(lambda: [g for g in _greens(rig.changes, ix, 1) if g[0] > after], timeout,
             "a whole ew_thru green")  # fmt: skip
        return next(g for g in _greens(rig.changes, ix, 1) if g[0] > after)[1]

    try:
        rig.set_detectors((1 << len(ix.detectors)) - 1)  # every phase called all the time
        wait(lambda: any("G" in s for _, s in rig.changes), 15, "the first green")
        assert plan(2)[0] == (P.ACK_REFUSED, "unknown plan")
        answer, at = plan(1)
        assert answer == (P.ACK_OK, "")
        assert 25.0 <= next_green(at, 40) < 25.5  # plan 1: maxes out at 25 s
        answer, at = plan(0)
        assert answer == (P.ACK_OK, "")
        assert 45.0 <= next_green(at, 60) < 45.5  # the base again
        assert rig.oracle.violations == []
        assert b"MemoryError" not in rig.log_path.read_bytes(), rig.log_tail()
    finally:
        op.close()
