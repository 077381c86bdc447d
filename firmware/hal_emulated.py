"""Emulated HAL: the firmware's pins, UART and clock when it runs on the HIL rig.

The rig passes pipe file descriptors and a clock description in the environment (see
docs/architecture.md, "Emulated HAL <-> rig"); boot.py reads them, so that code is unloaded after
start-up. The clock wraps at 2^30 like a board's, from a configurable offset, so wrap bugs show up
on the host.

The flash is a directory (GW_FLASH). The watchdog and reset are emulated as a board has them:
an expired watchdog or a reset drives the heads to flash, tells the rig (`R <ms> wdt|soft`) and
ends the process with exit code 3 or 4; the rig starts it again with GW_RESET_CAUSE set,
as a board's reset-cause register would be. The rig can freeze a task (`Z <task>`: its next
`pause` never returns) and inject a crash (`C`: the next `pause` raises) to test the supervisor
and the crash path.
"""

import asyncio
import select
import sys
import time

from . import ticks

# Exit codes the rig reads as the board's reset cause: 3 watchdog, 4 reset (hil_tests/rig).
_sleep_ms = asyncio.sleep_ms  # MicroPython: returns a reused awaitable, allocating nothing


class Emulated:  # the interface in hal.py (not imported: on MicroPython code takes heap)
    # boot.make_hal reads the rig's environment and builds this (start-up code, unloaded after):
    # pipes (ctl in, ctl out, uart in, uart out); clock (stepped, offset ms, epoch ns, speed);
    # mem: a hal_memreport.MemReport or None.
    def __init__(self, pipes, flash_dir, heads, cause, strapped, clock, tick_ms, mem):
        self._ctl_in, self._ctl_out, self._uart_in, self._uart_out = pipes
        self._poll = select.poll()
        self._poll.register(self._ctl_in, select.POLLIN)
        self._cbuf = bytearray(64)
        self._op = 0  # the control line being read: its letter and number so far
        self._val = 0
        self._levels = 0
        self.quit = False
        self.tick_ms = tick_ms
        self.flash_dir = flash_dir
        self.heads = heads
        self.cause = cause
        self.strapped = strapped
        self._latched = False  # all_flash took the heads
        self._wdt_ms = 0
        self._fed = 0
        self._frozen = -1
        self._crash = False
        # stepped: the rig moves _target and the clock task _virtual (ms since start, unwrapped);
        # scaled: every process reads (wall clock - epoch) * speed; the epoch is shared.
        self._stepped, self._offset, self._epoch_ns, self._speed = clock
        self._virtual = 0
        self._target = 0
        # a task's pause: none in stepped time (the clock task paces), else one tick of real time
        self._sleep = 0 if self._stepped else max(1, int(tick_ms / self._speed))
        self._mem = mem  # debug aid, GW_MEMREPORT

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
