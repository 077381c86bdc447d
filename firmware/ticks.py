"""Millisecond tick arithmetic with the board's period.

Boards wrap `time.ticks_ms()` at 2**30 (about 12.4 days); the Unix port wraps at 2**62, so raw
subtraction passes on the host and fails in the field. All firmware time goes through these
functions, and every clock the HAL hands out (board or emulated) lives in [0, PERIOD).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


PERIOD = const(1 << 30)
_MASK = const((1 << 30) - 1)
_HALF = const(1 << 29)


def add(t, delta):
    """t + delta on the wrapping counter."""
    return (t + delta) & _MASK


def diff(a, b):
    """Signed a - b on the wrapping counter, in (-PERIOD/2, PERIOD/2]."""
    d = (a - b) & _MASK
    if d > _HALF:
        d -= PERIOD
    return d


def reached(now, deadline):
    """True when `now` is at or past `deadline`."""
    return diff(now, deadline) >= 0


def stalled(beats, now_ms, limit_ms):
    """The watchdog supervisor's rule (app.main feeds the watchdog only while this is -1): the
    index of the first critical task whose last beat is more than limit_ms before now_ms (or so
    long ago that the difference wrapped negative), else -1. Here, not in a module of its own:
    on MicroPython every module costs heap."""
    for i in range(len(beats)):
        d = diff(now_ms, beats[i])
        if d > limit_ms or d < 0:
            return i
    return -1
