"""The controller: detectors -> sequencer -> monitor -> heads, and the link to the gateway.

Pure logic: `step(now_ms, levels, rx)` is one control tick. It takes the detector levels and
the bytes received since the last tick, and leaves frames to send in `out` and the heads in
`signals` (with `changed` set when they moved). The HAL and the app do all the I/O.
"""

import gc
import struct
import sys

from . import detectors, link, monitor, sequencer, ticks  # (their types: the annotations)
from . import protocol as P

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


# the protocol's codes (protocol_gateway.py) and the sequencer's states, as private consts:
# folded into the bytecode, they take no heap (tests/firmware/test_controller.py checks them)
_T_HEARTBEAT = const(1)
_T_STATE = const(2)
_T_DETECTORS = const(3)
_T_EVENT = const(4)
_T_COMMAND = const(5)
_T_ACK = const(6)
_T_SIGNED = const(7)
_MODE_STARTUP = const(0)
_MODE_REMOTE = const(1)
_MODE_LOCAL = const(2)
_MODE_FLASH = const(3)
_CMD_CLEAR = const(3)
_CMD_PREEMPT = const(6)
_CMD_FLASH = const(7)
_CMD_CLEAR_FLASH = const(8)
_CMD_PLAN = const(9)
_ACK_OK = const(0)
_ACK_REFUSED = const(1)
_ACK_MALFORMED = const(3)
_EV_BOOT = const(1)
_EV_MODE = const(2)
_EV_FAULT = const(3)
_EV_LINK_UP = const(4)
_EV_LINK_DOWN = const(5)
_EV_DETECTOR = const(6)
_EV_REFUSED = const(7)
_PHASE_NONE = const(255)
_PAYLOAD = const(8)
_STARTUP_FLASH = const(0)
_STARTUP_ALL_RED = const(1)
_FAULT = const(5)

_STATE_EVERY_MS = const(1000)
_TELEMETRY_EVERY_MS = const(1000)
# Frames waiting for the UART, preallocated: a tick's worth (state, telemetry, heartbeat and an
# event of the longest kind, as a boot that reports a crash sends). A frame that does not fit is
# dropped and counted in `_enc.dropped`.
OUT_BYTES = const(384)
# The longest frame the gateway sends us, decoded: a SIGNED COMMAND with a 32-character key id
# and a 64-digit nonce is 12 + 139 bytes (a link-signed COMMAND 34, a heartbeat 20). A longer
# one is dropped and counted as "long"; MAX_FRAME (256) would waste 104 bytes of heap.
_RX_FRAME = const(152)
_MP = sys.implementation.name == "micropython"
# Free heap a controller without keys needs to load auth.py for one command (its code and its
# work, in pieces the fragmented heap still has: measured 5-7 KB on cross()); with less the
# command is refused at once.
_AUTH_HEAP = const(6144)
_OOM = b"out of memory"


class Controller:
    """`keys` = (site id bytes, {operator key id bytes: key}, link key or None), or None when
    none are provisioned; `boot` is this boot's random id (its heartbeats say it)."""

    # What build.controller sets (`__init__` is there: start-up code that app.main unloads, as
    # on MicroPython code is heap). Annotations only: MicroPython compiles nothing for them.
    cfg: "Config"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    keys: "tuple | None"
    boot: int
    # signed commands (auth.py keeps them up to date): link counter, Unix time heard so far
    # (minus auth._EPOCH), replay floor and ring (made on the first operator command)
    link_ctr: int
    unix: int
    floor: int
    ring: "array | None"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    ring_next: int
    cleared: int  # 1: an operator's clear-flash was accepted (app.py resets)
    # auth.py, resident with keys (app.main loads it)
    _auth: "auth"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    seq: "sequencer.Sequencer"
    signals: bytearray  # seq's
    mon: "monitor.Monitor"
    det: "detectors.Detectors"
    link: "link.LinkState"
    dedup: "link.CommandDedup"
    decoder: "P.Reader"
    _enc: "P.Encoder"
    out: bytearray  # out[:out_n] is waiting to be sent
    out_n: int
    mode: int
    changed: bool
    # when the next periodic STATE and DETECTORS frames are due (one array: on MicroPython an
    # object of more than 23 attributes takes a 29-slot table, 464 bytes in one piece)
    _next: "array"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]

    def __init__(self, cfg, now_ms, keys=None, boot=0):
        from .build import controller

        controller(self, cfg, now_ms, keys, boot)

    # outgoing ------------------------------------------------------------------------------
    # The periodic frames (state, telemetry, heartbeat; `step`) are packed in place into the
    # encoder's body and framed into `out`: a tick allocates nothing (test_budget.py).
    def _emit(self, mtype, plen):
        end = self._enc.frame_into(self.out, self.out_n, mtype, self.link.next_seq(), plen)
        if end < 0:
            self._enc.dropped += 1
        else:
            self.out_n = end

    def event(self, now_ms, code, detail):
        """Send an EVENT frame (the app reports boot causes and crash records this way too)."""
        self._emit(_T_EVENT, self._enc.put(P.pack_event(code, now_ms, detail)))

    # incoming ------------------------------------------------------------------------------
    def _on_command(self, now_ms, seq, payload, signed):
        stored = self.dedup.lookup(seq, payload)
        if stored is not None:  # a retry: answer again, do not run twice
            return self._emit(_T_ACK, self._enc.put(P.pack_ack(seq, stored[0], stored[1])))
        code = arg = 0
        reason = None
        if signed or self.keys is not None or len(payload) != 2:
            # auth.py checks it. With keys it was loaded at start-up and stays (app.main); without
            # (a bench controller, which refuses every signed or tagged command) it is loaded for
            # this command and unloaded after it. Short of heap, the command is refused "out of
            # memory" and the controller runs on: no command can crash it (that answer is
            # written in place and allocates nothing).
            auth = self._auth
            try:
                if _MP:
                    gc.collect()  # the check's work (about 1 KB) in the largest free blocks
                    if auth is None and gc.mem_free() < _AUTH_HEAP:
                        raise MemoryError
                if auth is None:
                    from . import auth
                code, arg, reason = auth.check(self, payload, signed)
            except MemoryError:
                reason = 0  # out of memory: answered below, once a loaded auth.py is gone
            auth = None
            if _MP and self._auth is None:  # (CPython's collection can outlast the link timeout)
                sys.modules.pop("firmware.auth", None)
                try:  # not dir(): its list would need heap there may not be
                    delattr(sys.modules["firmware"], "auth")
                except (KeyError, AttributeError):
                    pass
                gc.collect()
            if reason == 0:  # written in place: no heap needed
                b = self._enc.body
                struct.pack_into(">HB", b, _PAYLOAD, seq & 0xFFFF, _ACK_REFUSED)
                b[_PAYLOAD + 3 : _PAYLOAD + 16] = _OOM
                return self._emit(_T_ACK, 16)
        else:  # a controller without keys takes the gateway's plain requests
            code, arg = payload[0], payload[1]
        if reason is not None:
            result = _ACK_MALFORMED if reason == "malformed command" else _ACK_REFUSED
        elif signed and code > _CMD_PREEMPT:  # FLASH, CLEAR_FLASH or PLAN (auth.py passes no other)
            # FLASH latches like a monitor fault (app.py keeps fault_reason on flash); after a
            # CLEAR_FLASH app.py clears the latch and resets, once the ACK has gone. PLAN puts
            # plan arg's max greens (config_data.Config: plan 0 the base) in max_green, which the
            # sequencer ends greens at: at once and in any state, as a green past its new max
            # green ends now but never before its min green, walk or ped clearance
            # (sequencer._term), and every plan lies between those and the base (config.py).
            result, reason = _ACK_OK, ""
            sq = self.seq
            if code == _CMD_PLAN:
                cfg = self.cfg
                n = cfg.n_phases
                pl = cfg.plans or cfg.max_green  # without plans, plan 0 is max_green itself
                if arg * n < len(pl):
                    cfg.max_green[:] = pl[arg * n : arg * n + n]
                else:
                    result, reason = _ACK_REFUSED, "unknown plan"
            elif (sq.state == _FAULT) == (code == _CMD_FLASH):
                result = _ACK_REFUSED
                reason = "already in flash" if code == _CMD_FLASH else "nothing to clear"
            elif code == _CMD_FLASH:
                sq.fault(
                    now_ms, "flash by operator " + bytes(payload[43 : 43 + payload[42]]).decode()
                )
                self.event(now_ms, _EV_MODE, sq.fault_reason)
            else:
                self.cleared = 1
        elif _CMD_PREEMPT <= code <= _CMD_PLAN and not signed:  # operators' only
            result, reason = _ACK_REFUSED, "needs an operator signature"
        elif self._mode(now_ms) != _MODE_REMOTE:
            result, reason = _ACK_REFUSED, "not in remote mode"
        else:
            result, reason = self.seq.request(code, arg, now_ms)
        self.dedup.store(seq, result, reason, payload)
        self._emit(_T_ACK, self._enc.put(P.pack_ack(seq, result, reason)))
        if result != _ACK_OK:
            self.event(now_ms, _EV_REFUSED, reason)

    def receive(self, now_ms, rx, n):
        """Take the n bytes in rx received from the gateway (the link task's half of a tick)."""
        # decoder.push undoes COBS in place; only frames with a payload we read allocate
        dec = self.decoder
        i = 0
        while i < n:
            i = dec.push(rx, i, n)
            mtype = dec.mtype
            if mtype < 0:
                continue
            # link changes take effect before the frame that caused them is acted on: silence
            # may have ended the link just before it, and this frame may bring it back up
            self._link_changes(now_ms)
            self.link.heard(now_ms)
            self._link_changes(now_ms)
            if mtype == _T_HEARTBEAT:
                if dec.plen == 8:  # the gateway's Unix time: only ever moves forward
                    u = dec.u32(4)
                    if u > self.unix and u < 0x40000000:
                        self.unix = u
            elif mtype == _T_COMMAND or mtype == _T_SIGNED:
                self._on_command(now_ms, dec.seq, dec.payload(), mtype == _T_SIGNED)
        self._link_changes(now_ms)

    def _link_changes(self, now_ms):
        moved = self.link.changed(now_ms)
        while moved:
            if moved > 0:
                self.dedup.clear()  # a new gateway session numbers its commands afresh
                self.event(now_ms, _EV_LINK_UP, "gateway link up")
            else:
                self.event(now_ms, _EV_LINK_DOWN, "gateway link down: local control")
                self.seq.request(_CMD_CLEAR, 0, now_ms)  # the gateway's holds end with it
            moved = self.link.changed(now_ms)

    # the tick ------------------------------------------------------------------------------
    def _mode(self, now_ms):
        state = self.seq.state
        if state == _FAULT:
            return _MODE_FLASH
        if state == _STARTUP_FLASH or state == _STARTUP_ALL_RED:
            return _MODE_STARTUP
        return _MODE_REMOTE if self.link.up(now_ms) else _MODE_LOCAL

    def step(self, now_ms, levels, rx=None):
        """One control tick. Returns True when the heads changed."""
        self.changed = False
        self.receive(now_ms, rx, len(rx) if rx else 0)  # and the link's changes

        det = self.det
        det.sample(now_ms, levels)
        if det.failed != det.reported:  # (here, not in a function: on MicroPython those are heap)
            from .diagnostics import NAMES  # loaded already: only diagnostics fail detectors

            moved = det.failed ^ det.reported
            det.reported = det.failed
            for i in range(det.n):
                if (moved >> i) & 1:
                    self.event(now_ms, _EV_DETECTOR, "detector %d %s" % (i, NAMES[det.why[i]]))
        cfg = self.cfg
        dp = cfg.det_phases
        veh = det.calls(dp, ~(cfg.ped_dets | cfg.pre_dets))
        if self.seq.step(now_ms, veh, det.calls(dp, cfg.ped_dets), det.calls(dp, cfg.pre_dets)):
            self.changed = True
        # the monitor sees every change, and a steady state once a second so its clocks
        # never wrap during a long rest in green
        if self.changed or ticks.reached(now_ms, self._next[0]):
            fault = self.mon.check(now_ms, self.signals)
            if fault and self.seq.state != _FAULT:
                self.seq.fault(now_ms, self.mon.fault_detail)
                self.mon.check(now_ms, self.signals)
                self.event(now_ms, _EV_FAULT, self.mon.fault_detail)
                self.changed = True

        mode = self._mode(now_ms)
        if mode != self.mode:
            self.mode = mode
            self.event(now_ms, _EV_MODE, ("startup", "remote", "local", "flash")[mode])
            self.changed = True
        # The periodic frames in the layouts of P.pack_state, P.pack_detectors and the heartbeat,
        # written in place (here, not in a function each: on MicroPython every function is heap)
        b = self._enc.body
        if self.changed or ticks.reached(now_ms, self._next[0]):
            phase = self.seq.phase
            b[_PAYLOAD] = mode
            b[_PAYLOAD + 1] = phase if phase >= 0 else _PHASE_NONE
            # ms since the phase turned green (the sequencer keeps phase_start within ~3 days)
            ms = ticks.diff(now_ms, self.seq.phase_start) if phase >= 0 else 0
            struct.pack_into(">I", b, _PAYLOAD + 2, ms if ms > 0 else 0)
            n = len(self.signals)
            b[_PAYLOAD + 6 : _PAYLOAD + 6 + n] = self.signals
            self._emit(_T_STATE, 6 + n)
            self._next[0] = ticks.add(now_ms, _STATE_EVERY_MS)
        if ticks.reached(now_ms, self._next[1]):
            n = cfg.n_detectors
            struct.pack_into(">IB", b, _PAYLOAD, now_ms & 0xFFFFFFFF, n)
            o = _PAYLOAD + 5
            for i in range(n):
                occ = det.occupancy_permille(i, now_ms)
                occ = 0 if occ < 0 else (occ if occ < 1000 else 1000)
                struct.pack_into(">HHB", b, o, det.counts[i] & 0xFFFF, occ, (det.presence >> i) & 1)
                o += 5
            self._emit(_T_DETECTORS, 5 + 5 * n)
            self._next[1] = ticks.add(now_ms, _TELEMETRY_EVERY_MS)
        if self.link.heartbeat_due(now_ms):
            struct.pack_into(">III", b, _PAYLOAD, now_ms & 0xFFFFFFFF, self.boot, self.link_ctr)
            self._emit(_T_HEARTBEAT, 12)
            self.link.sent_heartbeat(now_ms)
        return self.changed

    def take_output(self):
        """The frames produced since the last call as bytes (and forget them). This copies;
        the app sends `out[:out_n]` straight from the buffer and sets `out_n = 0` instead."""
        if not self.out_n:
            return None
        data = bytes(self.out[: self.out_n])
        self.out_n = 0
        return data
