"""Safe and maintenance mode: heads flashing, the link kept up, no sequencer.

What runs when the app must not (`run`, started by app.run): after too many abnormal resets,
without a usable config, or while a technician works on the controller. It speaks the same
protocol as the controller (heartbeats, a STATE frame in flash mode every second, an EVENT
saying why when it starts and whenever the gateway link comes up) and refuses every command
with the reason. Pure logic: `SafeMode.step(now_ms, buf, n)` per tick, frames left in
`out[:out_n]`; `run` drives it.
"""

import asyncio
import struct

from . import link, ticks
from . import protocol as P

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


# protocol's codes (firmware/protocol_gateway.py), as private consts: no heap
_T_HEARTBEAT = const(1)
_T_STATE = const(2)
_T_EVENT = const(4)
_T_COMMAND = const(5)
_T_ACK = const(6)
_MODE_FLASH = const(3)
_ACK_REFUSED = const(1)
_EV_MODE = const(2)
_EV_FAULT = const(3)
_PHASE_NONE = const(255)
_PAYLOAD = const(8)
MAINTENANCE = const(2)  # crashlog.MAINTENANCE (crashlog is unloaded by then)
_STATE_EVERY_MS = const(1000)
_OUT_BYTES = const(640)
_UART_BYTES = const(256)
_WATCHDOG_MS = const(4000)  # app.WATCHDOG_MS
_TASK = const(4)  # the HAL's pause slot: after the app's tasks 0-3


class SafeMode:
    def __init__(self, n_groups, reason, now_ms, code=_EV_FAULT):
        self.signals = bytearray(b"f" * n_groups)
        self.reason = reason
        self.code = code
        self.link = link.LinkState(now_ms)
        self.decoder = P.Reader()
        self._enc = P.Encoder()
        self.out = bytearray(_OUT_BYTES)
        self.out_n = 0
        self.out_dropped = 0
        self._next_state = now_ms
        self.since = now_ms
        self._say(now_ms)

    def _emit(self, mtype, plen):
        end = self._enc.frame_into(self.out, self.out_n, mtype, self.link.next_seq(), plen)
        if end < 0:
            self.out_dropped += 1
        else:
            self.out_n = end

    def _send(self, mtype, payload):
        self._emit(mtype, self._enc.put(payload))

    def _say(self, now_ms):
        self._send(_T_EVENT, P.pack_event(self.code, now_ms, self.reason))

    def step(self, now_ms, buf=None, n=0):
        """One tick: take the n received bytes in buf, answer, send what is due."""
        dec = self.decoder
        i = 0
        while i < n:
            i = dec.push(buf, i, n)
            if dec.mtype < 0:
                continue
            self.link.heard(now_ms)
            if dec.mtype == _T_COMMAND:
                self._send(_T_ACK, P.pack_ack(dec.seq, _ACK_REFUSED, self.reason))
        moved = self.link.changed(now_ms)
        while moved:
            if moved > 0:
                self._say(now_ms)  # a gateway that just came up hears why at once
            moved = self.link.changed(now_ms)
        if ticks.reached(now_ms, self._next_state):
            b = self._enc.body
            o = _PAYLOAD
            b[o] = _MODE_FLASH
            b[o + 1] = _PHASE_NONE
            ms = ticks.diff(now_ms, self.since)
            struct.pack_into(">I", b, o + 2, ms if 0 < ms < 1 << 28 else 0)
            k = len(self.signals)
            b[o + 6 : o + 6 + k] = self.signals
            self._emit(_T_STATE, 6 + k)
            self._next_state = ticks.add(now_ms, _STATE_EVERY_MS)
        if self.link.heartbeat_due(now_ms):
            struct.pack_into(">I", self._enc.body, _PAYLOAD, now_ms & 0xFFFFFFFF)
            self._emit(_T_HEARTBEAT, 4)
            self.link.sent_heartbeat(now_ms)


async def run(hal, mode, detail, maint_s):
    """Flash, link up, no app: safe mode arms the watchdog; maintenance mode does not, and
    after maint_s seconds (if > 0) clears its flag and resets into a normal boot."""
    n = hal.heads
    now = hal.now_ms()
    maintenance = mode == MAINTENANCE
    sm = SafeMode(n, detail, now, _EV_MODE if maintenance else _EV_FAULT)
    hal.all_flash(n)
    print(detail)
    if not maintenance:
        hal.arm_watchdog(_WATCHDOG_MS)
    clock = getattr(hal, "clock", None)  # the emulator's virtual clock runs as a task
    if clock is not None:
        asyncio.create_task(clock())
    buf = bytearray(_UART_BYTES)
    while not hal.quit:
        k = hal.uart_readinto(buf)
        now = hal.now_ms()
        sm.step(now, buf, k)
        if sm.out_n:
            hal.uart_write(sm.out, sm.out_n)
            sm.out_n = 0
        hal.feed_watchdog()
        if maint_s and ticks.diff(now, sm.since) >= maint_s * 1000:
            from . import crashlog

            crashlog.end_maintenance(hal.flash_dir)
            hal.reset()
            return
        await hal.pause(_TASK)
