"""Board HAL: machine.Pin for detectors and lamps, machine.UART to the gateway, machine.WDT.

The pin map comes from `board.json` on the controller's filesystem (written by `greenwave flash`):
{"uart": [id, baud, tx, rx], "detectors": [pin, ...], "heads": [[red, yellow, green], ...],
 "active_low": false, "strap": pin (optional: maintenance strap, active low)}. Flash blinks red
(vehicle) at 1 Hz. The app arms the watchdog (never in maintenance mode).

Before `all_flash` the control task's ticks drive the blink (`pause(1)`, `write_heads`). From
`all_flash` on a periodic machine.Timer does, like a cabinet's flasher, whatever the tasks do:
its callback is a soft one (scheduled), which MicroPython runs between bytecodes, so a task stuck
in a Python loop does not stop it; a hang inside C code does, and then the watchdog's reset is
the backstop. The timer is hardware timer 0 on ESP32 (it has no virtual timer) and the virtual
timer -1 elsewhere (RP2 has only that one).
"""

import asyncio
import sys

import machine  # only this module touches the hardware

from . import ticks

_sleep_ms = asyncio.sleep_ms  # MicroPython: returns a reused awaitable, allocating nothing

_FLASH_HALF_PERIOD = 500


class Board:  # the interface in hal.py (not imported: on MicroPython code takes heap)
    quit = False
    flash_dir = "/"
    heads = 0
    cause = "power"
    strapped = False

    def __init__(self, pinmap):
        uid, baud, tx, rx = pinmap["uart"]
        self._uart = machine.UART(uid, baudrate=baud, tx=tx, rx=rx)
        self._det = [
            machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_UP) for p in pinmap["detectors"]
        ]
        self._heads = [
            [machine.Pin(p, machine.Pin.OUT, value=0) for p in lamps] for lamps in pinmap["heads"]
        ]
        self._active_low = bool(pinmap.get("active_low", False))
        self._signals = bytearray(b"f" * len(self._heads))
        self._latched = False
        self._blink = 0  # after all_flash: 1 while the red lamps are lit
        self._timer = None  # all_flash's flasher; held, or the GC's finaliser would stop it
        self.heads = len(self._heads)
        strap = pinmap.get("strap")
        if strap is not None:  # active low: a technician's jumper to ground
            self.strapped = machine.Pin(strap, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0
        cause = machine.reset_cause()
        if cause == getattr(machine, "WDT_RESET", -1):
            self.cause = "wdt"
        elif cause == getattr(machine, "SOFT_RESET", -1):
            self.cause = "soft"
        self._wdt = None

    def now_ms(self):
        import time

        # boards wrap at 2^30 already; the mask states it (the stubs keep ticks opaque)
        return time.ticks_ms() & (ticks.PERIOD - 1)  # pyright: ignore[reportOperatorIssue]

    def read_detectors(self):
        levels = 0
        on = 0 if self._active_low else 1
        for i, pin in enumerate(self._det):
            if pin.value() == on:
                levels |= 1 << i
        return levels

    def _lamp(self, lamps, red, yellow, green):
        lamps[0].value(red)
        lamps[1].value(yellow)
        lamps[2].value(green)

    def write_heads(self, now_ms, signals):
        if not self._latched:
            self._signals[:] = signals
            self._refresh((now_ms // _FLASH_HALF_PERIOD) & 1)

    def _refresh(self, blink):
        # by index: enumerate() allocates (a tuple a head), and every control tick and the
        # flasher's callback run this
        heads = self._heads
        for i in range(len(heads)):
            lamps = heads[i]
            c = self._signals[i]
            if c == 71 or c == 103:  # G g
                self._lamp(lamps, 0, 0, 1)
            elif c == 121:  # y
                self._lamp(lamps, 0, 1, 0)
            elif c == 114:  # r
                self._lamp(lamps, 1, 0, 0)
            elif c == 102:  # f
                self._lamp(lamps, blink, 0, 0)
            else:  # o
                self._lamp(lamps, 0, 0, 0)

    def _flasher(self, _timer):
        # the flasher's callback, every half period: it toggles rather than reading the clock,
        # so callback jitter near a half-period edge cannot hold a lamp for a whole period
        try:
            self._blink ^= 1
            self._refresh(self._blink)
        except Exception:  # nothing to raise to; an exception could stop the timer
            pass

    def all_flash(self, n_groups):
        if self._timer is None:  # one flasher, however often this is called
            self._latched = True
            for i in range(len(self._signals)):
                self._signals[i] = 102
            self._blink = (self.now_ms() // _FLASH_HALF_PERIOD) & 1
            self._refresh(self._blink)
            try:
                self._timer = machine.Timer(
                    0 if sys.platform == "esp32" else -1,
                    mode=machine.Timer.PERIODIC,
                    period=_FLASH_HALF_PERIOD,
                    callback=self._flasher,
                )
            except Exception:  # e.g. no heap in the crash path: the next all_flash tries again,
                pass  # and the control task's pause(1) keeps the blink meanwhile

    def uart_readinto(self, buf):
        if self._uart.any():
            return self._uart.readinto(buf) or 0
        return 0

    def uart_write(self, data, n=-1):
        if n < 0:
            self._uart.write(data)
        elif n:
            # a stream's write takes a length (the stubs show one argument): no slice, no alloc
            self._uart.write(data, n)  # pyright: ignore[reportCallIssue]

    def arm_watchdog(self, timeout_ms):
        if self._wdt is None:
            self._wdt = machine.WDT(timeout=timeout_ms)

    def feed_watchdog(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset(self):
        self.all_flash(len(self._heads))
        machine.reset()

    def pause(self, task):
        if task == 1 and self._timer is None:  # the control task blinks flash until the timer
            self._refresh((self.now_ms() // _FLASH_HALF_PERIOD) & 1)
        return _sleep_ms(10)
