"""Emulated HAL: the firmware's pins, UART and clock when it runs on the HIL rig.

The rig passes pipe file descriptors and a clock description in the environment (see
docs/architecture.md, "Emulated HAL <-> rig"). The clock wraps at 2^30 like a board's, from a
configurable offset, so wrap bugs show up on the host.
"""

import os
import select
import time

from . import ticks
from .hal import Hal


def _fd(name):
    value = os.getenv(name)
    if value is None:
        raise OSError("emulated HAL: environment variable %s is not set" % name)
    return int(value)


class Emulated(Hal):
    def __init__(self, clock=None, tick_ms=10):
        self._ctl_in = open(_fd("GW_CTL_IN"), "rb")
        self._ctl_out = open(_fd("GW_CTL_OUT"), "wb")
        self._uart_in = open(_fd("GW_UART_IN"), "rb")
        self._uart_out = open(_fd("GW_UART_OUT"), "wb")
        self._poll = select.poll()
        self._poll.register(self._ctl_in, select.POLLIN)
        self._pending = b""
        self._levels = 0
        self._quit = False
        self.tick_ms = tick_ms
        spec = (clock or os.getenv("GW_CLOCK") or "scaled:0:1:0").split(":")
        self._stepped = spec[0] == "stepped"
        if self._stepped:
            self._offset = int(spec[1])
            self._virtual = 0  # ms since start, unwrapped
            self._target = 0
        else:
            # scaled: every process reads (wall clock - epoch) * speed; the epoch is shared.
            self._epoch_ns = int(spec[1])
            self._speed = float(spec[2])
            self._offset = int(spec[3])
            if self._epoch_ns == 0:
                self._epoch_ns = time.time_ns()
        # As a board's UART RX ring: 256 bytes, over twice what 115,200 baud brings in a 10 ms tick
        # (more waits in the pipe for the next tick; it is heap the controller lacks elsewhere).
        self._uart_buf = bytearray(256)
        # Debug aid: GW_MEMREPORT=<s> logs heap use every <s> seconds of controller time.
        every = os.getenv("GW_MEMREPORT")
        self._mem_every = int(every) * 1000 if every else 0
        self._mem_next = 0
        self._mem_peak = 0

    # clock -----------------------------------------------------------------------------
    def _elapsed_ms(self):
        if self._stepped:
            return self._virtual
        return int((time.time_ns() - self._epoch_ns) * self._speed // 1000000)

    def now_ms(self):
        return ticks.add(self._offset, self._elapsed_ms())

    # control channel ---------------------------------------------------------------------
    def _read_ctl(self, timeout_ms):
        """Read control lines; apply D (detectors) and T (stepped target) and Q (quit)."""
        if not self._poll.poll(timeout_ms):
            return
        data = self._ctl_in.read(256)
        if data is None:
            return
        if data == b"":
            self._quit = True  # the rig closed the pipe
            return
        self._pending += data
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            if not line:
                continue
            op = line[:1]
            if op == b"D":
                self._levels = int(line[2:])
            elif op == b"T":
                self._target = int(line[2:])
            elif op == b"Q":
                self._quit = True

    def _send(self, line):
        self._ctl_out.write(line)

    @property
    def quit(self):
        return self._quit

    # pins -----------------------------------------------------------------------------------
    def read_detectors(self):
        return self._levels

    def write_heads(self, now_ms, signals):
        self._send(b"H %d %s\n" % (now_ms, bytes(signals)))

    def all_flash(self, n_groups):
        self._send(b"H %d %s\n" % (self.now_ms(), b"f" * n_groups))

    # uart -----------------------------------------------------------------------------------
    def uart_read(self):
        n = self._uart_in.readinto(self._uart_buf)
        if not n:
            if n == 0:
                self._quit = True  # rig gone
            return None
        return bytes(self._uart_buf[:n])

    def uart_write(self, data):
        if data:
            self._uart_out.write(data)

    def _mem_report(self):
        """Log `M <s> alloc <b> live <b> free <b> peak <b>` (live = in use after a collection)."""
        t = self._elapsed_ms()
        if t < self._mem_next:
            return
        self._mem_next = t + self._mem_every
        import gc

        alloc = gc.mem_alloc()
        gc.collect()
        live = gc.mem_alloc()
        if live > self._mem_peak:
            self._mem_peak = live
        print(
            "M %d alloc %d live %d free %d peak %d"
            % (t // 1000, alloc, live, gc.mem_free(), self._mem_peak)
        )
        import micropython

        micropython.mem_info()  # adds the largest free block: fragmentation, not just totals

    async def wait_tick(self):
        if self._mem_every:
            self._mem_report()
        if self._stepped:
            self._virtual += self.tick_ms
            while not self._quit and self._virtual > self._target:
                self._send(b"K %d\n" % self._target)
                target = self._target
                while not self._quit and self._target == target:
                    self._read_ctl(-1)
            return
        self._read_ctl(0)
        import asyncio

        await asyncio.sleep_ms(max(1, int(self.tick_ms / self._speed)))
