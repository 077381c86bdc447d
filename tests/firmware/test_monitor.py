from firmware import config, ticks
from firmware.monitor import (
    FAULT_ALL_RED,
    FAULT_BAD_TRANSITION,
    FAULT_CONFLICT,
    FAULT_DARK,
    FAULT_NO_YELLOW,
    FAULT_SHORT_GREEN,
    FAULT_SHORT_YELLOW,
    Monitor,
)

T0 = ticks.PERIOD - 7000  # the good cycle below crosses the 2^30 wrap


def cross():
    # n, s: min green 5000, yellow 4000, all-red 2000; e, w: 6000, 3000, 1000
    return config.load(
        {
            "v": 1,
            "id": "cross",
            "groups": ["n", "s", "e", "w"],
            "ped": [0, 0, 0, 0],
            "conflicts": [[0, 2], [0, 3], [1, 2], [1, 3]],
            "phases": [[0, 1], [2, 3]],
            "timing": [[5000, 20000, 2000, 4000, 2000], [6000, 20000, 2000, 3000, 1000]],
            "detectors": [],
            "startup_flash": 2000,
            "startup_all_red": 2000,
        }
    )


GOOD = [
    (2000, "rrrr"),
    (4000, "GGrr"),
    (9000, "yyrr"),
    (13000, "rrrr"),
    (15000, "rrGG"),
    (21000, "rryy"),
    (24000, "rrrr"),
    (25000, "GGrr"),
]


def feed(steps, cfg=None, start="ffff"):
    """Run a monitor over (ms from T0, signals); return (monitor, first non-zero code or 0)."""
    mon = Monitor(cfg or cross(), T0, start)
    for rel, sig in steps:
        code = mon.check(ticks.add(T0, rel), sig)
        if code:
            return mon, code
    return mon, 0


def test_good_cycle_passes():
    mon, code = feed(GOOD)
    assert code == 0 and mon.fault_code == 0 and mon.fault_detail == ""


def test_bytearray_signals_are_accepted():
    mon, code = feed([(rel, bytearray(sig.encode())) for rel, sig in GOOD])
    assert code == 0


def test_conflict():
    mon, code = feed(GOOD[:2] + [(6000, "GGGr")])
    assert code == FAULT_CONFLICT
    assert mon.fault_detail == "conflict n/e"


def test_yellow_conflicts_too():
    mon, code = feed(GOOD[:3] + [(10000, "yyry")])
    assert code == FAULT_CONFLICT and mon.fault_detail == "conflict n/w"


def test_green_straight_to_red():
    mon, code = feed(GOOD[:2] + [(10000, "Grrr")])
    assert code == FAULT_NO_YELLOW and mon.fault_detail == "no yellow s"


def test_short_yellow_by_one_ms():
    mon, code = feed(GOOD[:3] + [(12999, "rrrr")])
    assert code == FAULT_SHORT_YELLOW
    assert mon.fault_detail == "short yellow n: 3999 < 4000 ms"


def test_yellow_floor_of_3000_ms_holds_whatever_the_config_says():
    cfg = cross()
    cfg.g_yellow = [2000, 2000, 2000, 2000]  # a corrupted Config: the floor still applies
    _, code = feed(GOOD[:3] + [(11500, "rrrr")], cfg)
    assert code == FAULT_SHORT_YELLOW


def test_short_green_counts_from_the_first_green_through_permissive():
    mon, code = feed(GOOD[:2] + [(6000, "gGrr"), (8999, "yGrr")])
    assert code == FAULT_SHORT_GREEN
    assert mon.fault_detail == "short green n: 4999 < 5000 ms"
    _, code = feed(GOOD[:2] + [(6000, "gGrr"), (9000, "yGrr")])
    assert code == 0


def test_all_red_too_short_after_yellow():
    mon, code = feed(GOOD[:4] + [(14999, "rrGr")])
    assert code == FAULT_ALL_RED
    assert mon.fault_detail == "all-red e after n: 1999 < 2000 ms"
    _, code = feed(GOOD[:4] + [(15000, "rrGr")])
    assert code == 0


def test_all_red_counts_flash_to_red_as_red_onset():
    _, code = feed([(2000, "rrrr"), (3999, "rrGG")])
    assert code == FAULT_ALL_RED
    _, code = feed([(2000, "rrrr"), (4000, "rrGG")])
    assert code == 0


def test_dark_after_start_up_is_a_fault():
    mon, code = feed(GOOD[:2] + [(5000, "GGro")])
    assert code == FAULT_DARK and mon.fault_detail == "dark w"


def test_dark_is_allowed_in_start_up_and_flash():
    _, code = feed([(100, "oooo"), (1000, "ffff"), (2000, "rrrr"), (4000, "GGrr")], start="oooo")
    assert code == 0
    steps = GOOD + [(26000, "ffff"), (27000, "ofof"), (28000, "rrrr"), (30000, "rrGG")]
    _, code = feed(steps)
    assert code == 0


def test_red_to_yellow_is_a_bad_transition():
    mon, code = feed(GOOD[:1] + [(3000, "ryrr")])
    assert code == FAULT_BAD_TRANSITION and mon.fault_detail == "bad transition s r->y"


def test_yellow_back_to_green_and_flash_to_green_are_bad_transitions():
    _, code = feed(GOOD[:3] + [(10000, "Gyrr")])
    assert code == FAULT_BAD_TRANSITION
    mon, code = feed([(5000, "Gfff")])
    assert code == FAULT_BAD_TRANSITION and mon.fault_detail == "bad transition n f->G"


def test_unknown_character_and_wrong_length():
    mon, code = feed(GOOD[:1] + [(3000, "rrXr")])
    assert code == FAULT_BAD_TRANSITION and "'X'" in mon.fault_detail
    mon, code = feed(GOOD[:1] + [(3000, "rrr")])
    assert code == FAULT_BAD_TRANSITION and mon.fault_detail == "3 signals for 4 groups"


def test_flash_is_always_allowed_even_mid_green_or_yellow():
    _, code = feed(GOOD[:2] + [(4001, "ffff")])
    assert code == 0
    _, code = feed(GOOD[:3] + [(9001, "fyrr"), (9002, "ffff")])
    assert code == 0


def test_a_fault_latches_for_good():
    mon, code = feed(GOOD[:2] + [(6000, "GGGr")])
    assert code == FAULT_CONFLICT
    assert mon.check(ticks.add(T0, 7000), "GGrr") == FAULT_CONFLICT
    assert mon.check(ticks.add(T0, 8000), "ffff") == FAULT_CONFLICT
    assert mon.check(ticks.add(T0, 60000), "ffff") == FAULT_CONFLICT
    assert mon.fault_detail == "conflict n/e"
    assert not hasattr(mon, "clear")  # only a reset (a new Monitor) starts again


def test_a_new_monitor_does_not_know_the_history_red_counts_as_just_begun():
    mon = Monitor(cross(), ticks.add(T0, 12000), "rrrr")
    assert mon.check(ticks.add(T0, 13999), "rrGG") == FAULT_ALL_RED
    mon = Monitor(cross(), ticks.add(T0, 12000), "rrrr")
    assert mon.check(ticks.add(T0, 14000), "rrGG") == 0


def test_first_fault_wins_when_several_at_once():
    # conflict and no-yellow in the same string: conflicts are checked first
    mon, code = feed(GOOD[:2] + [(10000, "GrGr")])
    assert code == FAULT_CONFLICT and mon.fault_detail == "conflict n/e"


def test_long_green_measured_across_the_wrap_with_periodic_checks():
    mon = Monitor(cross(), T0, "ffff")
    assert mon.check(ticks.add(T0, 2000), "rrrr") == 0
    assert mon.check(ticks.add(T0, 4000), "GGrr") == 0
    week = 7 * 24 * 3600 * 1000
    for h in range(1, 7 * 24 + 1):
        assert mon.check(ticks.add(T0, 4000 + h * 3600000), "GGrr") == 0
    assert mon.check(ticks.add(T0, 4000 + week + 1), "yyrr") == 0
