"""gateway.clock.ScaledClock: (wall clock - epoch) x speed, read through an injected time source."""

import types

import pytest

from gateway import clock as clock_module
from gateway.clock import ScaledClock


class FakeTime:
    """Stands in for the `time` module inside gateway.clock: a settable time_ns, recorded sleeps."""

    def __init__(self, now_ns):
        self.now_ns = now_ns
        self.slept = []

    def time_ns(self):
        return self.now_ns

    def sleep(self, seconds):
        self.slept.append(seconds)


@pytest.fixture
def fake_time(monkeypatch):
    fake = FakeTime(0)
    # Replace the module's `time` name only, not the real time module other threads use.
    monkeypatch.setattr(
        clock_module, "time", types.SimpleNamespace(time_ns=fake.time_ns, sleep=fake.sleep)
    )
    return fake


def test_speed_one_reads_seconds_since_the_epoch(fake_time):
    fake_time.now_ns = 5_000_000_000 + 250_000_000
    c = ScaledClock(epoch_ns=5_000_000_000)
    assert c.s() == pytest.approx(0.25)
    assert c.ms() == 250


def test_epoch_zero_is_the_wall_clock(fake_time):
    fake_time.now_ns = 1_700_000_000_123_000_000
    assert ScaledClock().ms() == 1_700_000_000_123


def test_speed_scales_elapsed_time(fake_time):
    epoch = 10**18
    c = ScaledClock(epoch_ns=epoch, speed=20)
    fake_time.now_ns = epoch + 1_500_000_000  # 1.5 s of wall time
    assert c.s() == pytest.approx(30.0)
    assert c.ms() == 30_000
    fake_time.now_ns += 1_000_000  # 1 ms of wall time is 20 ms on the clock
    assert c.ms() == 30_020


def test_ms_truncates_to_whole_milliseconds(fake_time):
    c = ScaledClock(epoch_ns=0)
    fake_time.now_ns = 1_999_999  # 1.999999 ms
    assert c.ms() == 1
    assert isinstance(c.ms(), int)


def test_clock_advances_with_the_time_source(fake_time):
    c = ScaledClock(epoch_ns=0, speed=3)
    readings = []
    for step in range(5):
        fake_time.now_ns = step * 7_000_000
        readings.append(c.ms())
    assert readings == [0, 21, 42, 63, 84]


def test_sleep_waits_scaled_wall_time(fake_time):
    c = ScaledClock(epoch_ns=0, speed=4)
    c.sleep(2.0)
    assert fake_time.slept == [pytest.approx(0.5)]


@pytest.mark.parametrize("virtual_s", [0, -1.0])
def test_sleep_of_nothing_does_not_sleep(fake_time, virtual_s):
    ScaledClock(speed=2).sleep(virtual_s)
    assert fake_time.slept == []


@pytest.mark.parametrize("speed", [0, -1, -0.5])
def test_non_positive_speed_is_refused_with_the_value(speed):
    with pytest.raises(ValueError, match=rf"positive, not {speed!r}"):
        ScaledClock(speed=speed)


def test_real_clock_moves_forward():
    c = ScaledClock(speed=1000)
    a = c.ms()
    c.sleep(5.0)  # 5 ms of wall time
    assert c.ms() - a >= 5000
