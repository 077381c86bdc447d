from configs import four, two
from mpcompat import raises

from firmware import config, ticks
from firmware.monitor import Monitor
from firmware.sequencer import (
    ALL_RED,
    CALL,
    CLEAR,
    FAULT,
    FORCE_OFF,
    GAP_OUT,
    GREEN,
    HOLD,
    MAX_OUT,
    OMIT,
    PREEMPT,
    PREEMPTED,
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

    def run(self, until, calls=None, dt=100, each=None, ped=None, pre=None):
        """Step up to (not including) relative time `until`; calls(rel), ped(rel), pre(rel) ->
        phase bitmask of vehicle, pedestrian and preempt demand."""
        while self.rel < until:
            c = calls(self.rel) if calls else 0
            pc = ped(self.rel) if ped else 0
            pr = pre(self.rel) if pre else 0
            if each:
                each(self.rel)
            if self.seq.step(self.now(), c, pc, pr):
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
    assert ticks.diff(r.now(), r.seq.phase_start) == 57000


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
    assert ticks.diff(r.now(), r.seq.phase_start) == 100


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


def test_fault_latches_flash_for_good():
    r = Rig(two())
    r.run(5000)
    assert r.seq.fault(r.now(), "monitor: conflict ns/ew") is True
    r.log.append((r.rel, r.heads()))
    assert r.seq.state == FAULT and r.heads() == "ff" and r.seq.phase == -1
    assert r.seq.fault(r.now(), "second") is False  # already flashing
    assert r.seq.fault_reason == "monitor: conflict ns/ew"
    # no demand, request, preemption or time leaves it: only a reset does
    for code in (HOLD, SWITCH, CLEAR, CALL, OMIT, PREEMPT):
        for arg in (0, 1, 255):
            assert r.request(code, arg) == (1, "fault flash"), (code, arg)
    r.run(100000, calls=lambda rel: rel // 700 % 4, pre=lambda rel: rel // 3000 % 3)
    assert r.heads() == "ff" and r.seq.state == FAULT and r.seq.phase == -1
    assert r.log[3:] == [(5000, "ff")], r.log
    assert not hasattr(r.seq, "clear_fault")  # no way out in the code either


def test_an_event_a_state_has_no_transition_for_is_a_bug():
    r = Rig(two())
    e = raises(TransitionError, r.seq._go, 1, r.now())  # _E_END in start-up flash
    assert "startup_flash" in str(e)
    r.seq.fault(r.now(), "test")
    e = raises(TransitionError, r.seq._go, 0, r.now())  # _E_TIMEOUT in fault
    assert "fault" in str(e)


def test_green_resting_for_a_week_still_ends_on_a_call():
    r = Rig(two())
    week = 7 * 24 * 3600 * 1000  # longer than half the tick period
    r.run(week, dt=3600000)
    assert r.seq.phase == 0 and ticks.diff(r.now(), r.seq.phase_start) > 0
    r.run(week + 1, calls=pulse(week, 0b10), dt=3600000)
    assert r.log[-1] == (week, "yr")


def test_call_present_as_green_ends_is_latched_for_the_next_turn():
    r = Rig(two())
    # ns present up to and including the max-out tick at 23000, gone from the next tick on
    r.run(23100, calls=lambda rel: (1 if rel <= 23000 else 0) | (2 if rel == 4000 else 0))
    assert r.seq.state == YELLOW and r.seq.latched == 0b11  # ew waiting, ns again
    r.run(40000)
    assert r.log[-3:] == [(31000, "ry"), (34500, "rr"), (35000, "Gr")]


# -- recall, gap-out / max-out ---------------------------------------------------------------


def with_(d, **extra):
    d.update(extra)
    return d


def test_gap_out_and_max_out_are_reported():
    r = Rig(two())
    r.run(20000, calls=pulse(4000, 0b10))
    assert r.seq.term == GAP_OUT
    r = Rig(two())
    r.run(24000, calls=lambda rel: 1 | (2 if rel == 4000 else 0))
    assert r.log[-1] == (23000, "yr")
    assert r.seq.term == MAX_OUT


def test_min_recall_serves_a_phase_nobody_calls_for_min_green_each_cycle():
    r = Rig(with_(two(), recall=[0, 1]))
    r.run(30000)
    assert r.log[2:] == [(3000, "rG")]  # the recall is the only demand: 1 first, then rests
    r = Rig(with_(two(), recall=[1, 1]))
    r.run(30000)
    assert r.log[2:] == [
        (3000, "Gr"),
        (8000, "yr"),
        (11000, "rr"),
        (12000, "rG"),
        (16000, "ry"),
        (19500, "rr"),
        (20000, "Gr"),
        (25000, "yr"),
        (28000, "rr"),
        (29000, "rG"),
    ]


def test_max_recall_times_the_phase_to_max_green_without_a_gap_out():
    r = Rig(with_(two(), recall=[2, 1]))
    r.run(30000)
    assert r.log[2:] == [(3000, "Gr"), (23000, "yr"), (26000, "rr"), (27000, "rG")]
    assert r.seq.term == MAX_OUT


# -- CALL and OMIT ---------------------------------------------------------------------------


def test_call_request_places_a_call_like_a_detector():
    r = Rig(two())
    r.run(3100)
    assert r.request(CALL, 0) == (1, "already green")
    assert r.request(CALL, 2) == (1, "unknown phase")
    assert r.request(CALL, 1) == (0, "")
    assert r.seq.latched == 0b10
    r.run(13000)
    assert r.log[3:] == [(8000, "yr"), (11000, "rr"), (12000, "rG")]


def test_omit_skips_a_phase_while_others_wait_and_never_starves_it():
    r = Rig(four())
    r.run(6100)
    assert r.request(OMIT, 1) == (0, "")
    assert r.request(SWITCH, 1) == (1, "omitted")
    r.run(40000, calls=lambda rel: 0b0110 if rel == 7000 else 0)
    # 1 is skipped for 2, then served: the only demand left
    assert [s for _, s in r.log[3:]] == ["yyrrr", "rrrrr", "rrrGr", "rrryr", "rrrrr", "rGGrr"]
    assert r.seq.phase == 1


def test_omit_refused_by_the_starvation_guard_serves_the_omitted_phase_in_order():
    r = Rig(four())
    r.run(6100)
    r.request(OMIT, 1)
    # 1 called long ago (the bound cannot take a full lap more), 2 just now
    r.seq._latch(0b0010, r.now(-100000))
    r.run(20000, calls=pulse(7000, 0b0100))
    assert r.seq.phase == 1


def test_omit_drops_recall_and_clear_restores_it():
    r = Rig(with_(two(), recall=[0, 1]))
    r.run(2500)
    assert r.request(OMIT, 1) == (1, "start-up")
    r.run(3100)
    assert r.request(OMIT, 1) == (0, "")
    r.run(40000, calls=pulse(4000, 0b01))
    assert r.log[2:] == [(3000, "rG"), (7000, "ry"), (10500, "rr"), (11000, "Gr")]  # then rests
    assert r.request(CLEAR) == (0, "")
    r.run(40200)
    assert r.log[-1] == (40000, "yr")


# -- pedestrians -----------------------------------------------------------------------------


def ped_four(**extra):
    """four() with a walk on phase 3 (ew + ewp): walk 7000, clearance 5000, and a push button
    (detector 4) for it."""
    d = four()
    d["ped_timing"] = [[0, 0], [0, 0], [0, 0], [7000, 5000]]
    d["detectors"] = [[0], [1], [2], [3], [3]]
    d["det_kind"] = [0, 0, 0, 0, 1]
    d.update(extra)
    return d


def test_walk_then_ped_clearance_inside_the_green_never_cut_short():
    r = Rig(ped_four())
    # push button at 8000; a conflicting call waits from 9000
    r.run(60000, ped=pulse(8000, 0b1000), calls=lambda rel: 0b0001 if rel >= 16000 else 0)
    assert r.log[3:] == [
        (11000, "yyrrr"),
        (14000, "rrrrr"),
        (15000, "rrrGG"),  # walk
        (22000, "rrrGy"),  # flashing don't walk after max(walk, min green) = 7000
        (27000, "rrryr"),  # ped clearance 5000 done: only now may the green end
        (30000, "rrrrr"),
        (31000, "GGrrr"),
    ]
    assert r.seq.term == GAP_OUT


def test_no_push_button_no_walk_and_a_press_during_walk_is_served_by_it():
    r = Rig(ped_four())
    r.run(16000, calls=pulse(8000, 0b1000))
    assert r.log[-1] == (15000, "rrrGr")  # vehicle call only: ewp stays red
    r = Rig(ped_four())
    r.run(40000, ped=lambda rel: 0b1000 if rel in (8000, 17000) else 0)
    assert r.log[-2:] == [(22000, "rrrGy"), (27000, "rrrGr")]
    assert r.seq.ped_latched == 0 and r.seq.latched == 0


def test_push_during_ped_clearance_walks_again_after_it_while_the_green_rests():
    r = Rig(ped_four())
    r.run(60000, ped=lambda rel: 0b1000 if rel in (8000, 23000) else 0)
    assert r.log[-5:] == [
        (22000, "rrrGy"),
        (27000, "rrrGr"),
        (27100, "rrrGG"),
        (34100, "rrrGy"),
        (39100, "rrrGr"),
    ]
    assert r.seq.ped_latched == 0 and r.seq.latched == 0


def test_push_during_ped_clearance_with_other_demand_waits_for_the_next_turn():
    r = Rig(ped_four())
    r.run(31000, ped=lambda rel: 0b1000 if rel in (8000, 23000) else 0, calls=pulse(24000, 1))
    assert r.log[-3:] == [(22000, "rrrGy"), (27000, "rrryr"), (30000, "rrrrr")]
    assert r.seq.ped_latched == 0b1000 and r.seq.latched == 0b1001


def test_pedestrian_recall_walks_every_time_the_phase_runs():
    r = Rig(ped_four(recall=[0, 0, 0, 3]))
    r.run(38000, calls=pulse(7000, 1))
    assert r.log[2:] == [
        (6000, "rrrGG"),
        (13000, "rrrGy"),
        (18000, "rrryr"),
        (21000, "rrrrr"),
        (22000, "GGrrr"),
        (27000, "yyrrr"),
        (30000, "rrrrr"),
        (31000, "rrrGG"),
    ]


def test_a_switch_or_preempt_waits_for_the_ped_clearance():
    r = Rig(ped_four())
    r.run(15100, ped=pulse(8000, 0b1000))
    assert r.request(SWITCH, 0) == (0, "")
    r.run(30000)
    assert r.log[-2:] == [(22000, "rrrGy"), (27000, "rrryr")]
    assert r.seq.term == FORCE_OFF
    r = Rig(ped_four())
    r.run(30000, ped=pulse(8000, 0b1000), pre=lambda rel: 0b0001 if rel >= 16000 else 0)
    assert r.log[-2:] == [(22000, "rrrGy"), (27000, "rrryr")]
    assert r.seq.term == PREEMPTED


# -- preemption ------------------------------------------------------------------------------


def test_preempt_ends_the_green_at_min_green_through_full_clearance_and_holds():
    r = Rig(two())
    # preempt phase 1 from 4000 to 60000; ns keeps calling all the time
    pre = lambda rel: 0b10 if 4000 <= rel < 60000 else 0  # noqa: E731
    r.run(12100, calls=lambda rel: 1, pre=pre)
    assert r.seq.term == PREEMPTED and r.seq.pre == 0b10
    r.run(80000, calls=lambda rel: 1, pre=pre)
    assert r.log[2:] == [
        (3000, "Gr"),
        (8000, "yr"),  # min green 5000 kept, yellow 3000 and all-red 1000 in full
        (11000, "rr"),
        (12000, "rG"),  # held past its max green 15000 while the preempt call lasts
        (60000, "ry"),  # released: ns waited, max green long over
        (63500, "rr"),
        (64000, "Gr"),
    ]
    assert r.seq.term == MAX_OUT and r.seq.pre == 0


def test_preempt_in_clearance_never_shortens_it_and_requests_are_refused():
    r = Rig(two())
    r.run(8100, calls=pulse(4000, 0b10))
    assert r.seq.state == YELLOW
    r.run(40000, pre=lambda rel: 0b01 if rel >= 8100 else 0)
    # the yellow and all-red run in full, then straight back to the preempt phase 0
    assert r.log[3:] == [(8000, "yr"), (11000, "rr"), (12000, "Gr")]
    assert r.request(HOLD) == (1, "preempt")
    assert r.request(SWITCH, 1) == (1, "preempt")


def test_preempt_goes_straight_to_its_phase_after_all_red_when_no_group_stays_green():
    r = Rig(four())
    # 0 -> 2 (nothing kept green), preempt 3 arrives in the yellow: served at the all-red end
    r.run(30000, calls=pulse(7000, 0b0100), pre=lambda rel: 0b1000 if rel >= 12000 else 0)
    assert r.log[3:] == [(11000, "yyrrr"), (14000, "rrrrr"), (15000, "rrrGG")]
    assert r.seq.phase == 3


def test_preempt_command_holds_until_released_and_calls_are_timed_afresh():
    r = Rig(two())
    r.run(3100)
    assert r.request(PREEMPT, 5) == (1, "unknown phase")
    assert r.request(PREEMPT, 0) == (0, "")
    r.run(100000, calls=pulse(5000, 0b10))
    assert r.seq.phase == 0 and r.log[-1] == (3000, "Gr")  # held with ew waiting
    assert r.request(PREEMPT, 255) == (0, "")
    r.run(100100)
    assert r.seq._latch_t[1] == r.now(100000)  # the max-cycle bound restarts at the release
    r.run(110000)
    assert r.log[-3:] == [(100000, "yr"), (103000, "rr"), (104000, "rG")]
    r.request(PREEMPT, 0)
    assert r.request(CLEAR) == (0, "") and r.seq.pre_cmd == 0


def test_preempt_at_start_up_is_the_first_phase():
    r = Rig(four())
    r.run(8000, calls=lambda rel: 0b0001, pre=lambda rel: 0b0100)
    assert r.log == [(0, "fffff"), (4000, "rrrrr"), (6000, "rrrGr")]


def test_steps_with_recall_walks_omits_and_preemption_allocate_nothing():
    # Measured on MicroPython only (CPython's allocator is not the board's), GC off meanwhile.
    import gc
    import sys

    mp = sys.implementation.name == "micropython"
    r = Rig(ped_four(recall=[1, 0, 2, 0]))
    r.request(OMIT, 1)
    seq = r.seq
    worst = 0
    for k in range(6000):  # 10 min of 100 ms ticks
        rel = k * 100
        calls = 1 << ((rel // 7000) % 4)
        ped = 0b1000 if rel % 30000 < 300 else 0
        pre = 0b0100 if 200000 <= rel < 260000 else 0
        if k == 1000:
            r.request(CLEAR)
        now = r.now(rel)
        if mp:
            gc.disable()
            before = gc.mem_alloc()
        seq.step(now, calls, ped, pre)
        if mp:
            worst = max(worst, gc.mem_alloc() - before)
            gc.enable()
    assert worst == 0, worst


def test_a_config_without_rings_runs_the_free_sequencer():
    # sequencer.Sequencer picks the ring sequencer only for a config with rings (test_rings.py)
    r = Rig(two())
    assert type(r.seq).__name__ == "FreeSequencer" and r.cfg.rings is None
    assert isinstance(r.seq, Sequencer)
