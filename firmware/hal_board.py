"""Board HAL: machine.Pin for detectors and lamps, machine.UART to the gateway, machine.WDT.

The pin map comes from `board.json` on the controller's filesystem (written by `greenwave flash`):
{"uart": [id, baud, tx, rx], "detectors": [pin, ...], "heads": [[red, yellow, green], ...],
 "active_low": false, "strap": pin (optional: maintenance strap, active low)}. Flash blinks red
(vehicle) at 1 Hz. The app arms the watchdog (never in maintenance mode).
"""

import asyncio

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
            self._refresh(now_ms)

    def _refresh(self, now_ms):
        blink = (now_ms // _FLASH_HALF_PERIOD) & 1
        for i, lamps in enumerate(self._heads):
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

    def all_flash(self, n_groups):
        self._latched = True
        for i in range(len(self._signals)):
            self._signals[i] = 102
        self._refresh(self.now_ms())

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
        if task == 1:  # the control task keeps flash blinking
            self._refresh(self.now_ms())
        return _sleep_ms(10)
