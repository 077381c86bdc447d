# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""The control tick allocates nothing: gc.mem_alloc() does not move between ticks.

Measured on MicroPython (the interpreter the rig runs; CPython's allocator is not the board's),
with the GC disabled while measuring so a collection cannot hide an allocation. The ticks see
detector changes (phases cycle), heartbeats from the gateway, and send state, telemetry and
heartbeat frames. Events and command answers allocate (their text) and are not part of a tick's
steady work; the warm-up lets the link come up and fill the encoder's view cache.
"""

import asyncio
import gc
import sys
from array import array

from configs import four

from firmware import app
from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware.config import load
from firmware.controller import Controller
from firmware.hal import Hal

MICROPYTHON = sys.implementation.name == "micropython"
WARMUP_MS = 8000  # start-up flash and all-red of four(), the first green, the link up
TICKS = 3000  # 30 s of 10 ms ticks: many phase changes and 30 heartbeats each way


def _levels(t):
    # each detector on for 2 s in turn: calls move round every phase
    return 1 << ((t // 2000) % 4)


def _heartbeat(t):
    return G.encode(P.T_HEARTBEAT, t // 1000, P.pack_heartbeat(t))


def test_controller_ticks_allocate_nothing():
    ctl = Controller(load(four()), 0)
    rx = bytearray(64)
    hb = [_heartbeat(t) for t in range(0, WARMUP_MS + 10 * TICKS + 1000, 1000)]
    grew = array("i", [0] * TICKS)
    sent = 0
    gc.collect()
    for k in range(WARMUP_MS // 10 + TICKS):
        t = k * 10
        n = 0
        if t % 1000 == 500:  # a heartbeat in two pieces, as a UART splits it
            frame = hb[t // 1000]
            rx[0:4] = frame[:4]
            ctl.receive(t, rx, 4)
            n = len(frame) - 4
            rx[0:n] = frame[4:]
        measuring = k >= WARMUP_MS // 10
        if measuring and MICROPYTHON:
            gc.disable()
            before = gc.mem_alloc()
        ctl.receive(t, rx, n)
        ctl.step(t, _levels(t))
        sent += ctl.out_n
        ctl.out_n = 0  # the link task's write leaves the buffer empty
        if measuring and MICROPYTHON:
            grew[k - WARMUP_MS // 10] = gc.mem_alloc() - before
            gc.enable()
    assert ctl.link.up(10 * (WARMUP_MS // 10 + TICKS)) and ctl._enc.dropped == 0
    assert sent > 30 * 3 * 16  # state, telemetry and heartbeat each second at least
    assert ctl.seq.phase >= 0
    bad = [(i * 10 + WARMUP_MS, grew[i]) for i in range(TICKS) if grew[i]]
    assert not bad, "ticks that allocated (t ms, bytes): %r" % bad[:10]


class NullHal(Hal):
    """A HAL that allocates nothing itself; the supervisor's pause records the heap per tick."""

    def __init__(self, ticks):
        self.t = 0
        self.ticks = ticks
        self.k = 0
        self.fed = 0
        self.changes = 0
        self.hb = [_heartbeat(t) for t in range(0, 10 * ticks + 1000, 1000)]
        self.alloc = array("i", [0] * ticks)
        self._sleep = getattr(asyncio, "sleep_ms", None)

    def now_ms(self):
        return self.t

    def read_detectors(self):
        return _levels(self.t)

    def write_heads(self, now_ms, signals):
        self.changes += 1

    def all_flash(self, n_groups):
        pass

    def uart_readinto(self, buf):
        if self.t % 1000 != 500:
            return 0
        frame = self.hb[self.t // 1000]
        n = len(frame)
        buf[0:n] = frame
        return n

    def uart_write(self, data, n=-1):
        pass

    def feed_watchdog(self):
        self.fed += 1

    def pause(self, task):
        if task == 3:  # the supervisor ends a tick
            if MICROPYTHON:
                self.alloc[self.k] = gc.mem_alloc()
            self.k += 1
            self.t += 10
            if self.k >= self.ticks:
                self.quit = True
        if self._sleep is not None:
            return self._sleep(0)
        return asyncio.sleep(0)


def test_the_app_loop_allocates_nothing_per_tick():
    """All four tasks and asyncio itself, on MicroPython: the heap does not move tick to tick."""
    if not MICROPYTHON:
        return  # CPython's asyncio allocates per await; the board's concern is MicroPython's
    hal = NullHal(WARMUP_MS // 10 + TICKS)
    gc.collect()
    gc.disable()
    try:
        asyncio.run(app.main(hal, load(four())))
    finally:
        gc.enable()
    a = hal.alloc
    first = WARMUP_MS // 10
    bad = [(k * 10, a[k] - a[k - 1]) for k in range(first + 1, len(a)) if a[k] != a[k - 1]]
    assert hal.fed > TICKS and hal.changes > 5, (hal.fed, hal.changes)
    assert not bad, "ticks that allocated (t ms, bytes): %r" % bad[:10]


def test_the_app_loop_in_fault_flash_allocates_nothing_per_tick():
    """A monitor fault after the warm-up: from the tick after it (the fault's event, its note
    and the dropping of the sequencer's phase-running half allocate, once) fault flash runs on
    without allocating, detector demand and heartbeats still coming."""
    if not MICROPYTHON:
        return
    from firmware import monitor

    check = monitor.Monitor.check
    fault_ms = WARMUP_MS + 1000

    def faulty(self, now_ms, signals):
        if now_ms >= fault_ms and not self.fault_code:
            return self._fault(1, "conflict: test")
        return check(self, now_ms, signals)

    monitor.Monitor.check = faulty
    hal = NullHal(WARMUP_MS // 10 + TICKS)
    gc.collect()
    gc.disable()
    try:
        asyncio.run(app.main(hal, load(four())))
    finally:
        gc.enable()
        monitor.Monitor.check = check
    a = hal.alloc
    first = (fault_ms + 1000) // 10  # the fault is seen within a second (the monitor's check)
    bad = [(k * 10, a[k] - a[k - 1]) for k in range(first + 1, len(a)) if a[k] != a[k - 1]]
    assert "firmware.free" not in sys.modules, "the fault did not drop free.py"
    assert not bad, "ticks that allocated (t ms, bytes): %r" % bad[:10]
