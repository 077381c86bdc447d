"""Board HAL: machine.Pin for detectors and lamps, machine.UART to the gateway, machine.WDT.

The pin map comes from `board.json` on the controller's filesystem (written by `greenwave flash`):
{"uart": [id, baud, tx, rx], "detectors": [pin, ...], "heads": [[red, yellow, green], ...],
 "wdt_ms": 4000, "active_low": false}. Flash blinks red (vehicle) at 1 Hz.
"""

import machine  # only this module touches the hardware

from . import ticks
from .hal import Hal

_FLASH_HALF_PERIOD = 500


class Board(Hal):
    def __init__(self, pinmap, arm_watchdog=True):
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
        # Maintenance mode boots without arming the watchdog so a technician can always get in.
        self._wdt = machine.WDT(timeout=pinmap.get("wdt_ms", 4000)) if arm_watchdog else None

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
        for i in range(len(self._signals)):
            self._signals[i] = 102
        self._refresh(self.now_ms())

    def uart_read(self):
        if self._uart.any():
            return self._uart.read()
        return None

    def uart_write(self, data):
        if data:
            self._uart.write(data)

    def feed_watchdog(self):
        if self._wdt is not None:
            self._wdt.feed()

    async def wait_tick(self):
        import asyncio

        self._refresh(self.now_ms())  # keeps flash blinking
        await asyncio.sleep_ms(10)
