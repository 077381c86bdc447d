# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
from firmware import ticks
from firmware.ticks import stalled

WRAP = ticks.PERIOD


def test_every_task_within_the_limit_is_alive():
    assert stalled([0, 0, 0], 1000, 1000) == -1
    assert stalled([500, 990, 1000], 1500, 1000) == -1


def test_the_first_task_past_the_limit_is_named():
    assert stalled([0, 0, 0], 1001, 1000) == 0
    assert stalled([2000, 900, 0], 2000, 1000) == 1
    assert stalled([2000, 2000, 999], 2000, 1000) == 2


def test_across_the_tick_wrap():
    before = WRAP - 300
    now = 400  # 700 ms after `before`, past the 2^30 wrap
    assert stalled([before, now, now], now, 1000) == -1
    assert stalled([before, now, now], 700, 1000) == -1  # 1000 ms: still within the limit
    assert stalled([before, now, now], 701, 1000) == 0


def test_a_beat_from_the_far_past_counts_as_stalled():
    # more than half the tick period ago: the difference wraps negative
    assert stalled([0, 0, 0], WRAP // 2 + 5, 1000) == 0
