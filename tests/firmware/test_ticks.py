from firmware import ticks


def test_add_wraps_at_2_30():
    assert ticks.add(ticks.PERIOD - 10, 25) == 15


def test_diff_across_wrap_is_small_and_signed():
    before = ticks.PERIOD - 100
    after = ticks.add(before, 250)
    assert ticks.diff(after, before) == 250
    assert ticks.diff(before, after) == -250


def test_reached():
    t = ticks.PERIOD - 5
    assert not ticks.reached(t, ticks.add(t, 10))
    assert ticks.reached(ticks.add(t, 10), ticks.add(t, 10))
    assert ticks.reached(ticks.add(t, 11), ticks.add(t, 10))
