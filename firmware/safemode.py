"""Safe and maintenance mode: heads flashing, the link kept up, no sequencer.

What runs when the app must not (`run`, started by app.run): after too many abnormal resets,
without a usable config, or while a technician works on the controller. It speaks the same
protocol as the controller (heartbeats, a STATE frame in flash mode every second, an EVENT
saying why when it starts and whenever the gateway link comes up) and refuses every command
with the reason, but one: in safe mode after a latched fault or abnormal resets (not without a
config, not in maintenance mode) an operator-signed CLEAR_FLASH, checked by auth.py against the
keys on flash as the app checks it, clears the latch and resets the controller into a normal
start-up. Pure logic: `SafeMode.step(now_ms, buf, n)` per tick, frames left in `out[:out_n]`;
`run` drives it.
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
_T_SIGNED = const(7)
_MODE_FLASH = const(3)
_CMD_CLEAR_FLASH = const(8)
_ACK_OK = const(0)
_ACK_REFUSED = const(1)
_ACK_MALFORMED = const(3)
_EV_MODE = const(2)
_EV_FAULT = const(3)
_PHASE_NONE = const(255)
_PAYLOAD = const(8)
_SAFE = const(1)  # crashlog.SAFE (crashlog is unloaded by then)
MAINTENANCE = const(2)  # crashlog.MAINTENANCE
_STATE_EVERY_MS = const(1000)
_OUT_BYTES = const(640)
_UART_BYTES = const(256)
_WATCHDOG_MS = const(4000)  # app.WATCHDOG_MS
_TASK = const(4)  # the HAL's pause slot: after the app's tasks 0-3


class SafeMode:
    """`ix` (the config's intersection id), `keys` and `floor` as the Controller has them: with
    an `ix` the mode can be cleared (CLEAR_FLASH), and `cleared` is 1 once it was."""

    def __init__(self, n_groups, reason, now_ms, code=_EV_FAULT, ix=None, keys=None, floor=0):
        # what auth.check reads of a Controller: keys, cfg.id, Unix time, replay floor and ring
        self.id = ix
        self.cfg = self
        self.keys = keys
        self.floor = floor
        self.unix = 0
        self.ring = None
        self.ring_next = 0
        self.boot = self.link_ctr = 0
        self.cleared = 0
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

    def _command(self, dec):
        result, reason = _ACK_REFUSED, self.reason
        if dec.mtype == _T_SIGNED and self.id is not None:
            from . import auth

            code, _, why = auth.check(self, dec.payload(), True)
            if why is not None:
                result = _ACK_MALFORMED if why == "malformed command" else _ACK_REFUSED
                reason = why
            elif code == _CMD_CLEAR_FLASH:
                result, reason = _ACK_OK, ""
                self.cleared = 1
        self._send(_T_ACK, P.pack_ack(dec.seq, result, reason))

    def step(self, now_ms, buf=None, n=0):
        """One tick: take the n received bytes in buf, answer, send what is due."""
        dec = self.decoder
        i = 0
        while i < n:
            i = dec.push(buf, i, n)
            if dec.mtype < 0:
                continue
            self.link.heard(now_ms)
            if dec.mtype == _T_COMMAND or dec.mtype == _T_SIGNED:
                self._command(dec)
            elif dec.mtype == _T_HEARTBEAT and dec.plen == 8:  # the gateway's Unix time, as
                u = dec.u32(4)  # the Controller keeps it: a signed command's expiry
                if self.unix < u < 0x40000000:
                    self.unix = u
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
    maintenance = mode == MAINTENANCE
    ix, keys, floor = (None, None, 0) if mode != _SAFE else _ids(hal.flash_dir)
    now = hal.now_ms()
    sm = SafeMode(n, detail, now, _EV_MODE if maintenance else _EV_FAULT, ix, keys, floor)
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
        if sm.cleared:  # an operator's clear-flash, answered: clear the latch, then reset
            if sm.cleared == 1:
                r = sm.ring  # made by auth.py: it holds the clear-flash's ts
                from . import crashlog

                crashlog.clear_latch(hal.flash_dir, max(sm.floor, max(r[len(r) >> 1 :])))  # pyright: ignore[reportOptionalSubscript, reportArgumentType]
                sm.cleared = 2  # reset on the next turn: the UART has had a tick to send the ACK
            else:
                hal.reset()
                return
        if maint_s and ticks.diff(now, sm.since) >= maint_s * 1000:
            from . import crashlog

            crashlog.end_maintenance(hal.flash_dir)
            hal.reset()
            return
        await hal.pause(_TASK)


def _ids(flash):
    """(intersection id or None, keys or None, replay floor) from flash, as boot.py reads them
    for the app: what checking a CLEAR_FLASH needs. No id without a config passing its checksum."""
    from . import boot, storage
    from .app import unload

    keys = None
    floor = 0
    try:
        ix = storage.load(flash)[0]["id"]
    except Exception:  # StorageError, KeyError: nothing to check a signature against
        ix = None
    else:
        keys = boot.load_keys(flash)[0]
        if keys is not None:
            floor = boot.load_floor(flash)[0]
    unload("boot")
    unload("storage")
    return ix, keys, floor
