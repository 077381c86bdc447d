"""Detector diagnostics, driven through detectors.Detectors as the controller drives them."""

from firmware import ticks
from firmware.detectors import Detectors
from firmware.diagnostics import ERRATIC as ERRATIC_
from firmware.diagnostics import NAMES

T0 = ticks.PERIOD - 20000  # every test crosses the 2^30 wrap


def at(rel):
    return ticks.add(T0, rel)


def drive(det, start, end, levels, dt=10):
    """Sample every dt ms over [start, end); levels(rel) -> bitmask."""
    for rel in range(start, end, dt):
        det.sample(at(rel), levels(rel))


NO_ACT, MAX_PRES, ERRATIC = 1, 2, 3


def diag(*rows):
    out = []
    for r in rows:
        out += r
    return out


def test_no_activity_fails_a_quiet_detector_and_activity_recovers_it():
    d = Detectors(2, debounce_ms=0, diag=diag([60000, 0, 0], [0, 0, 0]))
    drive(d, 0, 59000, lambda rel: 0)
    assert d.failed == 0
    drive(d, 59000, 61000, lambda rel: 0)
    assert d.failed == 0b01 and d.why[0] == NO_ACT and d.why[1] == 0
    assert d.calls([0b01, 0b10]) == 0b01  # a failed detector calls its phases
    drive(d, 61000, 62100, lambda rel: 1 if rel >= 61500 else 0)
    assert d.failed == 0 and d.calls([0b01, 0b10]) == 0b01  # present again, no longer failed
    drive(d, 62100, 63100, lambda rel: 0)
    assert d.calls([0b01, 0b10]) == 0


def test_max_presence_fails_a_stuck_detector():
    d = Detectors(1, debounce_ms=0, diag=diag([0, 30000, 0]))
    drive(d, 0, 30000, lambda rel: 1)
    assert d.failed == 0
    drive(d, 30000, 31100, lambda rel: 1)
    assert d.failed == 1 and d.why[0] == MAX_PRES
    drive(d, 31100, 32200, lambda rel: 0)
    assert d.failed == 0


def test_erratic_counts_fail_a_chattering_detector_for_a_minute():
    d = Detectors(1, debounce_ms=0, diag=diag([0, 0, 50]))
    chatter = lambda rel: (rel // 500) & 1  # 60 rising edges a minute  # noqa: E731
    drive(d, 0, 61000, chatter)
    assert d.failed == 1 and d.why[0] == ERRATIC
    drive(d, 61000, 121000, lambda rel: (rel // 1000) & 1)  # 30 a minute
    assert d.failed == 0


def test_fail_action_none_places_no_call_even_when_present():
    d = Detectors(2, debounce_ms=0, diag=diag([0, 10000, 0], [0, 10000, 0]), fail_none=0b10)
    drive(d, 0, 11100, lambda rel: 0b11)
    assert d.failed == 0b11
    assert d.calls([0b01, 0b10]) == 0b01


def test_diagnostics_survive_a_day_without_change_and_allocate_no_new_lists():
    d = Detectors(1, debounce_ms=0, diag=diag([3600000, 0, 0]))
    d.sample(at(0), 0)
    g = d.diag
    arrays = (g.chg_t, g._c0, g._cpm, g.why)
    for h in range(1, 48):
        d.sample(at(h * 3600000), 0)
    assert d.failed == 1
    d.sample(at(48 * 3600000 + 1), 1)
    d.sample(at(48 * 3600000 + 1001), 1)
    assert d.failed == 0
    now = (g.chg_t, g._c0, g._cpm, g.why)
    assert all(now[k] is arrays[k] for k in range(4))


def test_codes_and_names():
    assert ERRATIC_ == 3 and NAMES[ERRATIC_] == "erratic counts"


def test_without_limits_no_diagnostics_module_state():
    d = Detectors(2, debounce_ms=0)
    assert d.diag is None and len(d.why) == 0
    drive(d, 0, 3600000, lambda rel: 0, dt=1000)
    assert d.failed == 0


def test_sampling_with_diagnostics_allocates_nothing():
    import gc
    import sys

    mp = sys.implementation.name == "micropython"
    d = Detectors(3, debounce_ms=20, diag=diag([5000, 5000, 10], [5000, 5000, 10], [0, 0, 10]))
    det_phases = [1, 2, 4]
    worst = 0
    for k in range(20000):  # 200 s of 10 ms samples: failures, recoveries, minute rollovers
        rel = k * 10
        levels = (rel // 700) & 0b11 | (0b100 if (rel // 30) & 1 else 0)
        if mp:
            gc.disable()
            before = gc.mem_alloc()
        d.sample(at(rel), levels)
        d.calls(det_phases, 0b011)
        if mp:
            worst = max(worst, gc.mem_alloc() - before)
            gc.enable()
    assert worst == 0, worst
    assert d.failed & 0b100  # the chattering one failed
