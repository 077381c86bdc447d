"""Power cuts at random instants: SIGKILL the interpreter wherever it is, power it up again.

Every restart must be safe: the heads go dark with the power, then start-up runs flash ->
all-red -> first phase, and the rig's oracle sees no violation across the whole run. The
firmware's flash (config, crash record, reset count) survives the cuts, as on a board.
"""

import random

from edge.factories import cross
from hil_tests.rig.emulator import EmulatedController

CUTS = 12


def _explain(rig):
    return (
        f"violations: {[str(v) for v in rig.oracle.violations[:5]]}\n"
        f"resets: {rig.resets}\nlast changes: {rig.changes[-10:]}\n"
        f"firmware log {rig.log_path}:\n{rig.log_tail()}"
    )


def test_random_power_cuts_always_restart_safely(tmp_path, rig_kind):
    ix = cross()
    n = len(ix.groups)
    rng = random.Random(1234)
    with EmulatedController(ix, clock="stepped", workdir=tmp_path) as rig:
        t = 0
        cuts = []
        for _ in range(CUTS):
            # some demand, then a cut somewhere in the next minute of controller time: the
            # firmware runs flat out towards it and is killed after a random real delay
            rig.set_detectors(rng.getrandbits(len(ix.detectors)))
            t += rng.choice((2_000, 9_000, 30_000))
            rig.advance(t)
            cuts.append(rig.power_cut(after_s=rng.uniform(0.0, 0.4), run_to_ms=t + 60_000))
            t = round(cuts[-1] * 1000)
        t += 30_000
        rig.advance(t)
        assert rig.alive and [c for _, c in rig.resets] == ["power"] * CUTS, _explain(rig)
        seq = [s for _, s in rig.changes]
        dark = [i for i, s in enumerate(seq) if s == "o" * n]
        assert [rig.changes[i][0] for i in dark] == cuts, _explain(rig)
        for i in dark:
            # dark with the power gone, then start-up from the top: flash, all-red, a green
            # (a cut during start-up ends it early: the next dark follows instead)
            nxt = seq[i + 1 : i + 4]
            assert nxt[0] == "f" * n, (rig.changes[i], nxt, _explain(rig))
            assert nxt[1] in ("r" * n, "o" * n), (rig.changes[i], nxt, _explain(rig))
            if nxt[1] == "r" * n and len(nxt) > 2:
                assert "G" in nxt[2] or nxt[2] == "o" * n, (rig.changes[i], nxt)
        greens = sum(1 for _, s in rig.changes if "G" in s)
        assert greens >= CUTS // 2, _explain(rig)  # most cuts came while it was running
        assert rig.oracle.violations == [], _explain(rig)
