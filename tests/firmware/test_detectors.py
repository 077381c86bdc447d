from mpcompat import raises

from firmware import ticks
from firmware.detectors import Detectors

T0 = ticks.PERIOD - 20000  # every test crosses the 2^30 wrap


def at(rel):
    return ticks.add(T0, rel)


def drive(det, start, end, levels, dt=10):
    """Sample every dt ms over [start, end); levels(rel) -> bitmask."""
    for rel in range(start, end, dt):
        det.sample(at(rel), levels(rel))


def test_change_accepted_after_debounce_across_samples():
    d = Detectors(2, debounce_ms=50)
    d.sample(at(0), 0)
    d.sample(at(10), 0b01)
    d.sample(at(50), 0b01)
    assert d.presence == 0  # stable for 40 ms only
    d.sample(at(60), 0b01)
    assert d.presence == 0b01 and list(d.counts) == [1, 0]
    d.sample(at(70), 0b00)
    d.sample(at(119), 0b00)
    assert d.presence == 0b01
    d.sample(at(120), 0b00)
    assert d.presence == 0 and list(d.counts) == [1, 0]


def test_glitches_shorter_than_debounce_are_ignored():
    d = Detectors(1, debounce_ms=50)
    # 40 ms on, 10 ms off, repeatedly: never stable for 50 ms
    drive(d, 0, 2000, lambda rel: 1 if rel % 50 < 40 else 0)
    assert d.presence == 0 and list(d.counts) == [0]


def test_a_glitch_restarts_the_debounce():
    d = Detectors(1, debounce_ms=50)
    drive(d, 0, 100, lambda rel: 1 if rel >= 10 and rel != 40 else 0)
    # on at 10, glitch at 40, on again at 50: accepted at 100, not at 60
    assert d.presence == 0
    d.sample(at(100), 1)
    assert d.presence == 1


def test_zero_debounce_follows_each_sample():
    d = Detectors(3, debounce_ms=0)
    d.sample(at(0), 0b101)
    assert d.presence == 0b101 and list(d.counts) == [1, 0, 1]
    d.sample(at(1), 0b010)
    assert d.presence == 0b010 and list(d.counts) == [1, 1, 1]


def test_counts_are_rising_edges_and_wrap_at_65536():
    d = Detectors(1, debounce_ms=0)
    d.counts[0] = 65534
    for k in range(3):
        d.sample(at(2 * k), 1)
        d.sample(at(2 * k + 1), 0)
    assert list(d.counts) == [1]


def test_levels_above_n_are_ignored():
    d = Detectors(2, debounce_ms=0)
    d.sample(at(0), 0b1110)
    assert d.presence == 0b10


def test_occupancy_half_the_time():
    d = Detectors(2, debounce_ms=0, window_ms=10000)
    # detector 0 present 500 ms of every 1000; detector 1 always present
    drive(d, 0, 30000, lambda rel: (1 if rel % 1000 < 500 else 0) | 2)
    assert d.occupancy_permille(0, at(30000)) == 500
    assert d.occupancy_permille(1, at(30000)) == 1000


def test_occupancy_before_the_window_fills_uses_elapsed_time():
    d = Detectors(1, debounce_ms=0, window_ms=60000)
    drive(d, 0, 4000, lambda rel: 1 if rel < 1000 else 0)
    assert d.occupancy_permille(0, at(4000)) == 250


def test_occupancy_forgets_what_left_the_window():
    d = Detectors(1, debounce_ms=0, window_ms=10000)
    drive(d, 0, 20000, lambda rel: 1)
    drive(d, 20000, 25000, lambda rel: 0)
    # window covers 9000..10000 ms: between 4000/9000 and 5000/10000 present
    occ = d.occupancy_permille(0, at(25000))
    assert 444 <= occ <= 500, occ
    drive(d, 25000, 31000, lambda rel: 0)
    assert d.occupancy_permille(0, at(31000)) == 0


def test_occupancy_counts_time_since_the_last_sample():
    d = Detectors(1, debounce_ms=0, window_ms=10000)
    d.sample(at(0), 1)
    assert d.occupancy_permille(0, at(0)) == 0  # no time has passed
    assert d.occupancy_permille(0, at(4000)) == 1000
    assert d.occupancy_permille(0, at(4000)) == 1000  # asking again changes nothing


def test_long_gap_between_samples():
    d = Detectors(1, debounce_ms=0, window_ms=10000)
    d.sample(at(0), 1)
    d.sample(at(10 * 3600 * 1000), 0)
    assert d.occupancy_permille(0, at(10 * 3600 * 1000)) == 1000
    assert d.occupancy_permille(0, at(10 * 3600 * 1000 + 5000)) == 444  # 4 of 9 buckets


def test_calls_maps_present_detectors_to_phases():
    d = Detectors(3, debounce_ms=0)
    det_phases = [0b001, 0b110, 0b100]
    assert d.calls(det_phases) == 0
    d.sample(at(0), 0b011)
    assert d.calls(det_phases) == 0b111
    d.sample(at(1), 0b100)
    assert d.calls(det_phases) == 0b100


def test_bad_arguments():
    raises(ValueError, Detectors, 31)
    raises(ValueError, Detectors, 2, -1)
    raises(ValueError, Detectors, 2, 50, 5)
    e = raises(ValueError, Detectors, 2, 50, 600001)
    assert "600001" in str(e)


def test_occupancy_at_the_longest_window():
    # 600 s window: 60 s buckets, the most one slot of the 16-bit ring holds
    d = Detectors(2, debounce_ms=0, window_ms=600000)
    drive(d, 0, 1_200_000, lambda rel: 0b01 if rel < 930_000 else 0b11, dt=1000)
    assert d.occupancy_permille(0, at(1_200_000)) == 1000
    assert d.occupancy_permille(1, at(1_200_000)) == 500  # 270 s of the last 540 s (9 buckets)


def test_calls_of_a_subset_of_detectors():
    d = Detectors(3, debounce_ms=0)
    d.sample(at(0), 0b111)
    assert d.calls([0b001, 0b010, 0b100], 0b101) == 0b101
    assert d.calls([0b001, 0b010, 0b100], ~0b101) == 0b010
