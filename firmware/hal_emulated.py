"""Emulated HAL: the firmware's pins, UART and clock when it runs on the HIL rig.

The rig passes pipe file descriptors and a clock description in the environment (see
docs/architecture.md, "Emulated HAL <-> rig"). The clock wraps at 2^30 like a board's, from a
configurable offset, so wrap bugs show up on the host.

The flash is a directory (GW_FLASH). The watchdog and reset are emulated as a board has them:
an expired watchdog or a reset drives the heads to flash, tells the rig (`R <ms> wdt|soft`) and
ends the process with exit code 3 or 4; the rig starts it again with GW_RESET_CAUSE set,
as a board's reset-cause register would be. The rig can freeze a task (`Z <task>`: its next
`pause` never returns) and inject a crash (`C`: the next `pause` raises) to test the supervisor
and the crash path.
"""

import asyncio
import os
import select
import sys
import time

from . import ticks

# Exit codes the rig reads as the board's reset cause: 3 watchdog, 4 reset (hil_tests/rig).
_sleep_ms = asyncio.sleep_ms  # MicroPython: returns a reused awaitable, allocating nothing


def _open(name, mode):
    return open(int(os.getenv(name) or -1), mode)  # -1: not started by the rig, OSError


class Emulated:  # the interface in hal.py (not imported: on MicroPython code takes heap)
    def __init__(self, clock=None, tick_ms=10):
        self._ctl_in = _open("GW_CTL_IN", "rb")
        self._ctl_out = _open("GW_CTL_OUT", "wb")
        self._uart_in = _open("GW_UART_IN", "rb")
        self._uart_out = _open("GW_UART_OUT", "wb")
        self._poll = select.poll()
        self._poll.register(self._ctl_in, select.POLLIN)
        self._cbuf = bytearray(64)
        self._op = 0  # the control line being read: its letter and number so far
        self._val = 0
        self._levels = 0
        self.quit = False
        self.tick_ms = tick_ms
        self.flash_dir = os.getenv("GW_FLASH") or "."
        self.heads = int(os.getenv("GW_HEADS") or 0)
        self.cause = os.getenv("GW_RESET_CAUSE") or "power"
        self.strapped = os.getenv("GW_STRAP") == "1"
        self._latched = False  # all_flash took the heads
        self._wdt_ms = 0
        self._fed = 0
        self._frozen = -1
        self._crash = False
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
        # a task's pause: none in stepped time (the clock task paces), else one tick of real time
        self._sleep = 0 if self._stepped else max(1, int(tick_ms / self._speed))
        # Debug aid: GW_MEMREPORT=<s> logs heap use every <s> seconds of controller time
        # (hal_memreport.py, loaded only then: on MicroPython code takes heap).
        every = os.getenv("GW_MEMREPORT")
        self._mem = None
        if every:
            from .hal_memreport import MemReport

            self._mem = MemReport(int(every) * 1000)

    # clock -----------------------------------------------------------------------------
    def _elapsed_ms(self):
        if self._stepped:
            return self._virtual
        return int((time.time_ns() - self._epoch_ns) * self._speed // 1000000)

    def now_ms(self):
        return ticks.add(self._offset, self._elapsed_ms())

    # control channel ---------------------------------------------------------------------
    def _read_ctl(self, wait):
        """Apply the rig's control lines: `D <mask>` detectors, `T <ms>` stepped target, `Z <task>`
        freeze, `C` crash, `Q` quit. Parsed byte by byte from a fixed buffer: no allocation.
        With `wait`, block until something arrives (the pipe itself never blocks)."""
        if wait:
            self._poll.poll(-1)
        n = self._ctl_in.readinto(self._cbuf)
        if n is None:
            return
        if n == 0:
            self.quit = True  # the rig closed the pipe
            return
        buf = self._cbuf
        for i in range(n):
            c = buf[i]
            if c == 10:  # end of a line
                op = self._op
                v = self._val
                if op == 68:  # D
                    self._levels = v
                elif op == 84:  # T
                    self._target = v
                elif op == 90:  # Z
                    self._frozen = v
                elif op == 67:  # C
                    self._crash = True
                elif op == 81:  # Q
                    self.quit = True
                self._op = 0
                self._val = 0
            elif not self._op:
                self._op = c
            elif 48 <= c <= 57:
                self._val = self._val * 10 + c - 48

    # pins -----------------------------------------------------------------------------------
    def read_detectors(self):
        return self._levels

    def write_heads(self, now_ms, signals):
        if not self._latched:
            self._ctl_out.write(b"H %d %s\n" % (now_ms, bytes(signals)))

    def all_flash(self, n_groups):
        if not self._latched:
            self._latched = True
            self._ctl_out.write(b"H %d %s\n" % (self.now_ms(), b"f" * n_groups))

    # uart -----------------------------------------------------------------------------------
    def uart_readinto(self, buf):
        n = self._uart_in.readinto(buf)
        if n is None:
            return 0
        if n == 0:
            self.quit = True  # rig gone
        return n

    def uart_write(self, data, n=-1):
        if n < 0:
            self._uart_out.write(data)
        elif n:
            self._uart_out.write(data, n)

    # watchdog and reset -----------------------------------------------------------------------
    def arm_watchdog(self, timeout_ms):
        self._wdt_ms = timeout_ms
        self._fed = self.now_ms()

    def feed_watchdog(self):
        if self._wdt_ms:
            self._fed = self.now_ms()

    def reset(self, cause=b"soft", code=4):
        self.all_flash(self.heads)  # as a board's reset: the heads are flashing first
        self._ctl_out.write(b"R %d %s\n" % (self._elapsed_ms(), cause))
        sys.exit(code)

    # tasks and the clock ----------------------------------------------------------------------
    def pause(self, task):
        if self._crash and task < 4:  # the rig's fault injection: a bug in the app's next task
            self._crash = False
            raise RuntimeError("crash injected by the rig")
        if task == self._frozen:  # stuck for six days: for good, as far as the watchdog cares
            return _sleep_ms(1 << 29)
        return _sleep_ms(self._sleep)

    async def clock(self):
        """The emulator's own task: time, the rig's control lines, the watchdog.

        Stepped: each turn is one tick of virtual time, taken when every other task has had
        its turn (they pause with sleep_ms(0)), and it waits for the rig when it reaches the
        rig's target. Scaled: real time passes by itself; this reads the rig every tick."""
        try:
            while not self.quit:
                if self._mem is not None:
                    self._mem.due(self._elapsed_ms())
                if self._stepped:
                    self._virtual += self.tick_ms
                    while not self.quit and self._virtual > self._target:
                        self._ctl_out.write(b"K %d\n" % self._target)
                        target = self._target
                        while not self.quit and self._target == target:
                            self._read_ctl(True)
                else:
                    self._read_ctl(False)
                if self._wdt_ms:
                    d = ticks.diff(self.now_ms(), self._fed)
                    if d > self._wdt_ms or d < 0:
                        self.reset(b"wdt", 3)
                await _sleep_ms(self._sleep)
        except Exception as e:  # the emulator itself failed: end the process, the rig reports it
            sys.print_exception(e)  # pyright: ignore[reportAttributeAccessIssue]
            sys.exit(1)
