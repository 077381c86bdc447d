"""Dual-ring/barrier operation (firmware/rings.py), with the independent Monitor on every tick.
Runs on CPython and on MicroPython: plain functions and asserts only."""

import gc
import sys

from mpcompat import raises

from firmware import config, ticks
from firmware.config import ConfigError
from firmware.monitor import Monitor
from firmware.sequencer import (
    CALL,
    FORCE_OFF,
    GREEN,
    HOLD,
    MAX_OUT,
    OMIT,
    PREEMPT,
    SWITCH,
    Sequencer,
)

T0 = ticks.PERIOD - 1500  # every test crosses the 2^30 wrap 1.5 s after start
SIDE0 = (0, 1, 4, 5)
SIDE1 = (2, 3, 6, 7)


def nema(peds=False):
    """NEMA 8-phase dual ring, one group per phase (g1..g8 = phases 1..8): ring 1 = 1 2 | 3 4,
    ring 2 = 5 6 | 7 8. With peds, a ninth group walks with phase 2."""
    conf = [[0, 1], [4, 5], [2, 3], [6, 7]]
    conf += [[a, b] if a < b else [b, a] for a in SIDE0 for b in SIDE1]
    d = {
        "v": 1,
        "id": "nema",
        "groups": ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"],
        "ped": [0] * 8,
        "conflicts": conf,
        "phases": [[0], [1], [2], [3], [4], [5], [6], [7]],
        "timing": [[5000, 20000, 2000, 3000, 1000]] * 8,
        "detectors": [[0], [1], [2], [3], [4], [5], [6], [7]],
        "startup_flash": 2000,
        "startup_all_red": 1000,
        "rings": [[[0, 1], [2, 3]], [[4, 5], [6, 7]]],
    }
    if peds:
        d["groups"] = d["groups"] + ["ped2"]
        d["ped"] = d["ped"] + [1]
        d["conflicts"] = conf + [[0, 8], [2, 8], [3, 8], [6, 8], [7, 8]]
        d["phases"] = [[0], [1, 8], [2], [3], [4], [5], [6], [7]]
        d["ped_timing"] = [[0, 0], [7000, 5000]] + [[0, 0]] * 6
        d["detectors"] = d["detectors"] + [[1]]
        d["det_kind"] = [0] * 8 + [1]
    return d


class Rig:
    def __init__(self, d):
        self.cfg = config.load(d)
        self.seq = Sequencer(self.cfg, T0)
        self.mon = Monitor(self.cfg, T0, self.seq.signals)
        self.rel = 0
        self.log = [(0, self.heads())]

    def heads(self):
        return bytes(self.seq.signals).decode()

    def now(self):
        return ticks.add(T0, self.rel)

    def run(self, until, calls=None, dt=100, ped=None, pre=None):
        """Step to (not including) relative time `until`; calls(rel) etc. -> phase bitmasks."""
        while self.rel < until:
            c = calls(self.rel) if calls else 0
            pc = ped(self.rel) if ped else 0
            pr = pre(self.rel) if pre else 0
            if self.seq.step(self.now(), c, pc, pr):
                self.log.append((self.rel, self.heads()))
            assert self.mon.check(self.now(), self.seq.signals) == 0, self.mon.fault_detail
            self.rel += dt

    def request(self, code, arg=0):
        return self.seq.request(code, arg, self.now())


def bit(*phases):
    m = 0
    for p in phases:
        m |= 1 << p
    return m


def test_ring_config_loads_with_the_ring_cycle():
    cfg = config.load(nema())
    assert cfg.rings == [[bytes([0, 1]), bytes([2, 3])], [bytes([4, 5]), bytes([6, 7])]]
    # each barrier group lasts as long as its longest ring (2 sides x 2 phases x 24 s), and a
    # call on a phase just passed may wait for one more phase before it on the next visit
    assert cfg.max_cycle == 96000 + 24000
    assert config.load(nema()).rings is not None
    d = nema()
    del d["rings"]
    assert config.load(d).rings is None


def _problems(d):
    return raises(ConfigError, config.load, d).problems


def test_ring_config_problems_name_field_and_value():
    d = nema()
    d["rings"] = [[[0, 1], [2, 3]], [[4, 5, 6, 7]]]
    assert _problems(d) == ["rings[1]: 1 barrier groups, rings[0] has 2"]
    d["rings"] = [[[0, 1], [2, 3]], [[4, 5], [6, 1]]]
    assert _problems(d) == ["rings[1][1]: phase 1 is already in rings[0]"]
    d["rings"] = [[[0, 1], [2, 3]], [[4, 5], [6]]]
    assert _problems(d) == ["rings: phase 7 is in no ring"]
    d["rings"] = [[[0, 1], [2, 3]], [[4, 5], [6, 9]]]
    assert _problems(d) == ["rings[1][1]: 9 is not a phase index (there are 8 phases)"]
    d["rings"] = [[[0, 1], [2, 3]], [[4, 6], [5, 7]]]  # 6 (side 0) meets 0 and 1: conflicts
    got = _problems(d)
    assert "rings: phases 0 and 6 conflict but share barrier group 0 in different rings" in got
    assert "rings: phases 3 and 5 conflict but share barrier group 1 in different rings" in got
    d["rings"] = "1 2 | 3 4"
    assert _problems(d) == ["rings: '1 2 | 3 4' is not a list of 1..4 rings"]
    d["rings"] = [[[0, 1], [2, 3]], [4, 5]]
    assert _problems(d) == ["rings[1]: [4, 5] is not a list of barrier groups (lists of phases)"]
    d["rings"] = [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[], []]]
    assert _problems(d) == ["rings[2]: [[], []] holds no phase"]
    d["rings"] = [[[0, 1, 2, 3]], [[4, 5, 6, 7]]]  # one barrier group: 2 meets 4, 5, ...
    assert "rings: phases 2 and 4 conflict but share barrier group 0 in different rings" in (
        _problems(d)
    )


def test_a_group_belongs_to_one_ring():
    d = nema()
    d["phases"][5] = [5, 1]  # g2 in phase 2 (ring 1) and phase 6 (ring 2)
    got = _problems(d)
    assert "rings: group 1 (g2) is in rings 0 and 1; a signal group belongs to one ring" in got


def test_rings_rest_in_the_first_phase_of_each():
    r = Rig(nema())
    assert type(r.seq).__name__ == "RingSequencer"
    r.run(30000)
    assert r.log == [(0, "ffffffff"), (2000, "rrrrrrrr"), (3000, "GrrrGrrr")]
    assert r.seq.state == GREEN and r.seq.phase == 0 and r.seq.side == 0


def test_each_ring_moves_on_in_its_own_order():
    r = Rig(nema())
    r.run(20000, calls=lambda t: bit(1) if t == 10000 else 0)
    # ring 1 gaps out at once (no vehicle) to phase 2; ring 2 keeps resting in phase 5
    assert r.log[2:] == [(3000, "GrrrGrrr"), (10000, "yrrrGrrr"), (13000, "rrrrGrrr"),
                         (14000, "rGrrGrrr")]  # fmt: skip


def test_a_call_across_the_barrier_ends_both_rings_together():
    r = Rig(nema())
    r.run(40000, calls=lambda t: bit(3) if t == 12000 else 0)
    # both rings cross at once; ring 2 has no call on the new side and stays red
    assert r.log[2:] == [(3000, "GrrrGrrr"), (12000, "yrrryrrr"), (15000, "rrrrrrrr"),
                         (16000, "rrrGrrrr")]  # fmt: skip


def test_a_ring_done_early_rests_in_green_at_the_barrier():
    r = Rig(nema())
    # phase 5 has a vehicle all the time (phase 1 a call at start-up); phase 3 is called at 12 s
    r.run(28000, calls=lambda t: bit(4) | (bit(0) if t == 0 else 0) | (bit(2) if t == 12000 else 0))
    # ring 1 (phase 1) could gap out at 12 s but waits green until phase 5 maxes out at 23 s
    assert r.log[2:] == [(3000, "GrrrGrrr"), (23000, "yrrryrrr"), (26000, "rrrrrrrr"),
                         (27000, "rrGrrrrr")]  # fmt: skip
    assert r.seq.term == MAX_OUT  # ring 2's reason, the last to end


def test_a_ring_without_a_call_starts_later_in_the_side():
    r = Rig(nema())
    r.run(17000, calls=lambda t: bit(3) if t == 12000 else 0)
    assert r.log[-1] == (16000, "rrrGrrrr")
    # a call on phase 8 (ring 2, same side) while no crossing is pending: it starts at once
    r.run(30000, calls=lambda t: bit(7) if t == 20000 else 0)
    assert r.log[-1] == (20000, "rrrGrrrG")


def test_different_clearances_cross_when_the_longest_is_over():
    d = nema()
    d["timing"] = [[5000, 20000, 2000, 3000, 1000]] * 4 + [[5000, 20000, 2000, 4000, 2000]] * 4
    d["startup_all_red"] = 2000
    r = Rig(d)
    r.run(40000, calls=lambda t: bit(2, 6) if t == 12000 else 0)
    assert (
        r.log[2:]
        == [
            (4000, "GrrrGrrr"),
            (12000, "yrrryrrr"),
            (15000, "rrrryrrr"),
            (18000, "rrrrrrrr"),
            (18000, "rrGrrrGr"),
        ][: len(r.log) - 2]
        or r.log
    )
    assert r.log[-1] == (18000, "rrGrrrGr")  # after ring 2's 4 s yellow and 2 s all-red


def test_min_and_max_green_per_ring_and_gap_out_per_ring():
    r = Rig(nema())
    # phase 1 and 5 both extended by vehicles; ring 1's stop at 9 s, ring 2's last all along
    r.run(
        40000, calls=lambda t: (bit(0) if t < 9000 else 0) | bit(4) | (bit(3) if t == 4000 else 0)
    )
    # both wait for phase 5's max green (3 s + 20 s); phase 1 gapped out at 11 s and rested
    assert (23000, "yrrryrrr") in r.log


def test_preemption_across_the_barrier_clears_both_rings():
    r = Rig(nema())
    calls = lambda t: bit(4) | (bit(0) if t == 0 else 0)  # noqa: E731
    r.run(60000, calls=calls, pre=lambda t: bit(3) if 10000 <= t < 40000 else 0)
    # both greens end at min green (they have 7 s by 10 s), full clearance, then phase 4 alone
    assert r.log[2:5] == [(3000, "GrrrGrrr"), (10000, "yrrryrrr"), (13000, "rrrrrrrr")]
    assert r.log[5] == (14000, "rrrGrrrr")
    assert all(s == "rrrGrrrr" for t, s in r.log if 14000 <= t < 40000)
    # after the preemption phase 5's call crosses the barrier back
    assert r.log[-1][1] == "rrrrGrrr"


def test_preemption_on_the_same_side_goes_straight_to_the_phase():
    r = Rig(nema())
    r.run(30000, pre=lambda t: bit(5) if 10000 <= t < 20000 else 0)
    # ring 2 goes 5 -> 6 directly; ring 1 goes red and stays red while preempted
    assert r.log[2:5] == [(3000, "GrrrGrrr"), (10000, "yrrryrrr"), (13000, "rrrrrrrr")]
    assert r.log[5] == (14000, "rrrrrGrr")


def test_hold_switch_call_and_omit_with_rings():
    r = Rig(nema())
    r.run(4000)
    assert r.request(HOLD) == (0, "")
    assert r.request(SWITCH, 4) == (1, "already green")  # ring 2's green, not the report's
    assert r.request(CALL, 4) == (1, "already green")
    assert r.request(OMIT, 6) == (0, "")
    assert r.request(SWITCH, 6) == (1, "omitted")
    # SWITCH to phase 4 (across the barrier): both rings are forced off at min green
    assert r.request(SWITCH, 3) == (0, "")
    r.run(30000)
    assert r.log[2:] == [(3000, "GrrrGrrr"), (8000, "yrrryrrr"), (11000, "rrrrrrrr"),
                         (12000, "rrrGrrrr")]  # fmt: skip
    assert r.seq.term == FORCE_OFF and r.seq.switch_to == -1


def test_switch_inside_the_side_forces_off_only_its_ring():
    r = Rig(nema())
    r.run(4000)
    assert r.request(SWITCH, 5) == (0, "")
    r.run(20000)
    assert r.log[2:] == [(3000, "GrrrGrrr"), (8000, "Grrryrrr"), (11000, "Grrrrrrr"),
                         (12000, "GrrrrGrr")]  # fmt: skip


def test_preempt_command_and_refusals_with_rings():
    r = Rig(nema())
    assert r.request(HOLD) == (1, "start-up")
    r.run(4000)
    assert r.request(PREEMPT, 2) == (0, "")
    r.run(4100)
    assert r.request(HOLD) == (1, "preempt")
    assert r.request(SWITCH, 1) == (1, "preempt")
    r.run(30000)
    assert r.heads() == "rrGrrrrr"
    assert r.request(PREEMPT, 255) == (0, "")


def test_walk_and_ped_clearance_inside_a_ring_green():
    r = Rig(nema(peds=True))
    r.run(40000, ped=lambda t: bit(1) if t == 5000 else 0)
    # phase 2 with its walk (7 s) and clearance (5 s) while ring 2 rests in phase 5
    assert r.log[3:7] == [(8000, "yrrrGrrrr"), (11000, "rrrrGrrrr"), (12000, "rGrrGrrrG"),
                          (19000, "rGrrGrrry")]  # fmt: skip
    assert r.log[7] == (24000, "rGrrGrrrr")


def test_ring_ticks_allocate_nothing():
    if sys.implementation.name != "micropython":
        return  # CPython's allocator is not the board's
    r = Rig(nema(peds=True))
    bad = []
    for k in range(3000):
        t = k * 50
        calls = 1 << ((t // 4000) % 8)
        gc.disable()
        before = gc.mem_alloc()
        r.seq.step(ticks.add(T0, t), calls, 2 if t % 9000 == 0 else 0, 0)
        grew = gc.mem_alloc() - before
        gc.enable()
        if grew:
            bad.append((t, grew))
    assert not bad, "ring ticks that allocated (t ms, bytes): %r" % bad[:10]


def test_a_config_loads_only_the_sequencer_half_it_runs():
    # On MicroPython a module's code takes heap: a config with rings never loads the free phase
    # order (firmware/free.py), one without never loads rings.py, and neither loads seqnames.py
    # (public names, TransitionError) by running; on CPython the import system's look-up of
    # sequencer.__path__ loads that one. The modules come back afterwards, so the other tests
    # keep the classes they imported.
    mp = sys.implementation.name == "micropython"
    names = ("firmware.free", "firmware.rings", "firmware.seqnames")
    saved = {k: sys.modules.pop(k) for k in names if k in sys.modules}
    try:
        r = Rig(nema(peds=True))
        r.run(60000, calls=lambda t: bit(t // 5000 % 8))
        assert "firmware.rings" in sys.modules
        assert "firmware.free" not in sys.modules
        assert not mp or "firmware.seqnames" not in sys.modules
        sys.modules.pop("firmware.rings")
        d = nema()
        del d["rings"]
        r = Rig(d)
        r.run(60000, calls=lambda t: bit(t // 5000 % 8))
        assert "firmware.free" in sys.modules
        assert "firmware.rings" not in sys.modules
        assert not mp or "firmware.seqnames" not in sys.modules
    finally:
        for k in names:
            sys.modules.pop(k, None)
        sys.modules.update(saved)
