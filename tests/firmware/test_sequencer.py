from configs import four, two
from mpcompat import raises

from firmware import config, ticks
from firmware.monitor import Monitor
from firmware.sequencer import (
    ALL_RED,
    CLEAR,
    FAULT,
    GREEN,
    HOLD,
    STARTUP_ALL_RED,
    STARTUP_FLASH,
    SWITCH,
    YELLOW,
    Sequencer,
    TransitionError,
)

T0 = ticks.PERIOD - 1500  # every test crosses the 2^30 wrap 1.5 s after start


class Rig:
    """A sequencer stepped every `dt` ms from T0, with an independent Monitor on its heads."""

    def __init__(self, d):
        self.cfg = config.load(d)
        self.seq = Sequencer(self.cfg, T0)
        self.mon = Monitor(self.cfg, T0, self.seq.signals)
        self.rel = 0
        self.log = [(0, self.heads())]

    def heads(self):
        return bytes(self.seq.signals).decode()

    def now(self, rel=None):
        return ticks.add(T0, self.rel if rel is None else rel)

    def run(self, until, calls=None, dt=100, each=None):
        """Step up to (not including) relative time `until`; calls(rel) -> phase bitmask."""
        while self.rel < until:
            c = calls(self.rel) if calls else 0
            if each:
                each(self.rel)
            if self.seq.step(self.now(), c):
                self.log.append((self.rel, self.heads()))
            # every tick, as the controller does (keeps the monitor's times in range)
            assert self.mon.check(self.now(), self.seq.signals) == 0, self.mon.fault_detail
            self.rel += dt

    def request(self, code, arg=0):
        return self.seq.request(code, arg, self.now())


def pulse(at, mask):
    return lambda rel: mask if rel == at else 0


def test_startup_flash_all_red_then_phase_0_and_rest():
    r = Rig(two())
    assert r.seq.state == STARTUP_FLASH and r.seq.phase == -1
    r.run(60000)
    assert r.log == [(0, "ff"), (2000, "rr"), (3000, "Gr")]
    assert r.seq.state == GREEN and r.seq.phase == 0
    assert r.seq.ms_in_phase(r.now()) == 57000


def test_first_phase_is_the_first_with_a_call():
    r = Rig(four())
    r.run(7000, calls=lambda rel: 0b0100 if rel > 1000 else 0)
    assert r.log == [(0, "fffff"), (4000, "rrrrr"), (6000, "rrrGr")]
    assert r.seq.phase == 2


def test_gap_out_after_min_green_when_another_phase_called():
    r = Rig(two())
    r.run(20000, calls=pulse(4000, 0b10))
    assert r.log == [
        (0, "ff"),
        (2000, "rr"),
        (3000, "Gr"),
        (8000, "yr"),
        (11000, "rr"),
        (12000, "rG"),
    ]


def test_passage_extends_green_until_a_gap():
    r = Rig(two())
    r.run(20000, calls=lambda rel: (1 if rel < 10000 else 0) | (2 if rel == 4000 else 0))
    # last call on ns at 9900, passage 2000
    assert r.log[3:] == [(11900, "yr"), (14900, "rr"), (15900, "rG")]


def test_max_out_with_continuous_demand_then_back():
    r = Rig(two())
    r.run(40000, calls=lambda rel: 1 | (2 if rel == 4000 else 0))
    assert r.log[3:] == [
        (23000, "yr"),  # 3000 + max green 20000
        (26000, "rr"),
        (27000, "rG"),
        (31000, "ry"),  # ns latched during its own yellow: ew gaps out at min green
        (34500, "rr"),
        (35000, "Gr"),
    ]


def test_resting_past_max_green_ends_at_once_on_a_call():
    r = Rig(two())
    r.run(40000)
    assert r.seq.phase == 0
    r.run(45000, calls=pulse(40000, 0b10))
    assert r.log[3:] == [(40000, "yr"), (43000, "rr"), (44000, "rG")]


def test_call_pulse_latches_and_green_phase_calls_do_not():
    r = Rig(two())
    r.run(7000, calls=lambda rel: 1 if rel in (3500, 4000) else 0)
    assert r.seq.latched == 0
    r.run(7100, calls=pulse(7000, 0b10))
    assert r.seq.latched == 0b10
    r.run(13000)
    assert r.seq.phase == 1 and r.seq.latched == 0


def test_overlap_keeps_shared_group_green():
    r = Rig(four())
    r.run(20000, calls=pulse(7000, 0b0010))
    assert r.log == [
        (0, "fffff"),
        (4000, "rrrrr"),
        (6000, "GGrrr"),
        (11000, "yGrrr"),  # only nl clears; nt runs on into phase 1
        (14000, "rGrrr"),
        (15000, "rGGrr"),
    ]
    assert r.seq.phase == 1


def test_cyclic_order_skips_uncalled_and_superset_phase_has_silent_clearance():
    r = Rig(four())
    r.run(29100, calls=lambda rel: 0b1000 if rel == 20000 else 0)
    # 0 gaps out at once when 3 is called (min green and passage long over); 1 and 2 skipped
    assert r.log[-3:] == [(20000, "yyrrr"), (23000, "rrrrr"), (24000, "rrrGG")]
    r.log = []
    r.run(60000, calls=lambda rel: 0b0100 if rel == 30000 else (0b1000 if rel == 41000 else 0))
    # 3 -> 2: ewp clears, ew stays; 2 -> 3: nothing clears, ewp waits out 2's clearance
    assert r.log == [(31000, "rrrGy"), (34000, "rrrGr"), (46000, "rrrGG")]
    assert r.seq.phase == 3


def test_states_and_next_phase_through_a_transition():
    r = Rig(two())
    r.run(8100, calls=pulse(4000, 0b10))
    assert (r.seq.state, r.seq.phase, r.seq.next_phase) == (YELLOW, 0, 1)
    r.run(11100)
    assert (r.seq.state, r.seq.phase, r.seq.next_phase) == (ALL_RED, 0, 1)
    r.run(12100)
    assert (r.seq.state, r.seq.phase, r.seq.next_phase) == (GREEN, 1, -1)
    assert r.seq.ms_in_phase(r.now()) == 100


def test_hold_suppresses_gap_out_but_not_max_green():
    r = Rig(two())
    r.run(5000, calls=pulse(4000, 0b10))
    assert r.request(HOLD) == (0, "")
    r.run(30000)
    assert r.log[3:] == [(23000, "yr"), (26000, "rr"), (27000, "rG")]


def test_hold_refused_at_max_green_in_clearance_and_start_up():
    r = Rig(two())
    assert r.request(HOLD) == (1, "start-up")
    r.run(2500)
    assert r.seq.state == STARTUP_ALL_RED
    assert r.request(SWITCH, 1) == (1, "start-up")
    r.run(23000)
    assert r.request(HOLD) == (1, "at max green")
    r.run(23100, calls=pulse(23000, 0b10))
    assert r.seq.state == YELLOW
    assert r.request(HOLD) == (1, "not green")


def test_switch_waits_for_min_green_and_skips_cyclic_order():
    r = Rig(four())
    r.run(6500)
    assert r.request(SWITCH, 3) == (0, "")
    r.run(16000, calls=lambda rel: 0b0010 if rel == 7000 else 0)
    assert r.log[3:] == [(11000, "yyrrr"), (14000, "rrrrr"), (15000, "rrrGG")]
    assert r.seq.switch_to == -1  # consumed on arrival
    assert r.seq.latched == 0b0010


def test_switch_refusals_and_unknown_code():
    r = Rig(two())
    r.run(3100)
    assert r.request(SWITCH, 0) == (1, "already green")
    assert r.request(SWITCH, 2) == (1, "unknown phase")
    assert r.request(SWITCH, -1) == (1, "unknown phase")
    assert r.request(SWITCH, "1") == (1, "unknown phase")
    assert r.request(9, 0) == (2, "unknown code")
    assert r.seq.switch_to == -1


def test_clear_drops_switch_and_hold():
    r = Rig(two())
    r.run(3100)
    assert r.request(SWITCH, 1) == (0, "")
    assert r.request(CLEAR) == (0, "")
    r.run(30000)
    assert r.seq.phase == 0 and r.log[-1] == (3000, "Gr")
    assert r.request(HOLD) == (1, "at max green")
    r.run(30100)
    assert r.request(SWITCH, 1) == (0, "")
    assert r.seq.hold is False
    r.run(30200)
    assert r.seq.state == YELLOW


def test_switch_in_clearance_applies_to_the_next_green():
    r = Rig(four())
    r.run(11100, calls=pulse(7000, 0b0010))
    assert r.seq.state == YELLOW and r.seq.next_phase == 1
    assert r.request(SWITCH, 3) == (0, "")
    r.run(40000)
    # phase 1 still runs its min green (8000 from 15000), then straight to 3
    assert r.log[-5:] == [
        (14000, "rGrrr"),
        (15000, "rGGrr"),
        (23000, "ryyrr"),
        (27000, "rrrrr"),
        (29000, "rrrGG"),
    ]


def test_hostile_switches_cannot_starve_a_call():
    r = Rig(four())
    served = []

    def gateway(rel):
        s = r.seq
        if s.state == GREEN:
            if not served or served[-1][1] != s.phase:
                served.append((rel, s.phase))
            r.request(SWITCH, 1 if s.phase == 0 else 0)

    r.run(200000, calls=pulse(7000, 0b0100), each=gateway)
    phases = [p for _, p in served]
    assert phases[:2] == [0, 1]  # the gateway is obeyed while it starves nobody
    when = [t for t, p in served if p == 2]
    assert when, served
    assert when[0] - 7000 <= r.seq.call_bound
    assert r.seq.call_bound == (19000 + 36000 + 25000 + 29000) + 6000


def test_fault_latches_flash_and_clear_restarts_through_start_up():
    r = Rig(two())
    r.run(5000)
    assert r.seq.fault(r.now(), "monitor: conflict ns/ew") is True
    r.log.append((r.rel, r.heads()))
    assert r.seq.state == FAULT and r.heads() == "ff" and r.seq.phase == -1
    r.seq.fault(r.now(), "second")
    assert r.seq.fault_reason == "monitor: conflict ns/ew"
    assert r.request(CLEAR) == (1, "fault flash")
    r.run(10000, calls=lambda rel: 0b11)
    assert r.heads() == "ff"
    r.seq.clear_fault(r.now())
    assert r.seq.fault_reason is None and r.seq.state == STARTUP_FLASH
    r.run(20000, calls=lambda rel: 0b10)
    # both calls latched during the fault: phase 0 first, then 1 at min green
    assert r.log[3:] == [(5000, "ff"), (12000, "rr"), (13000, "Gr"), (18000, "yr")]


def test_clear_fault_when_not_in_fault_is_an_illegal_transition():
    r = Rig(two())
    e = raises(TransitionError, r.seq.clear_fault, r.now())
    assert "startup_flash" in str(e)


def test_green_resting_for_a_week_still_ends_on_a_call():
    r = Rig(two())
    week = 7 * 24 * 3600 * 1000  # longer than half the tick period
    r.run(week, dt=3600000)
    assert r.seq.phase == 0 and r.seq.ms_in_phase(r.now()) > 0
    r.run(week + 1, calls=pulse(week, 0b10), dt=3600000)
    assert r.log[-1] == (week, "yr")


def test_call_present_as_green_ends_is_latched_for_the_next_turn():
    r = Rig(two())
    # ns present up to and including the max-out tick at 23000, gone from the next tick on
    r.run(23100, calls=lambda rel: (1 if rel <= 23000 else 0) | (2 if rel == 4000 else 0))
    assert r.seq.state == YELLOW and r.seq.latched == 0b11  # ew waiting, ns again
    r.run(40000)
    assert r.log[-3:] == [(31000, "ry"), (34500, "rr"), (35000, "Gr")]
