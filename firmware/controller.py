"""The controller: detectors -> sequencer -> monitor -> heads, and the link to the gateway.

Pure logic: `step(now_ms, levels, rx)` is one control tick. It takes the detector levels and
the bytes received since the last tick, and leaves frames to send in `out` and the heads in
`signals` (with `changed` set when they moved). The HAL and the app do all the I/O.
"""

import struct

from . import detectors, link, monitor, sequencer, ticks
from . import protocol as P

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_STATE_EVERY_MS = const(1000)
_TELEMETRY_EVERY_MS = const(1000)
# Frames waiting for the UART, preallocated: a tick's worth (state, telemetry, heartbeat and an
# event of the longest kind, as a boot that reports a crash sends). A frame that does not fit is
# dropped and counted in `out_dropped`.
OUT_BYTES = const(384)
# The longest frame the gateway sends us (commands are 14 bytes, a heartbeat 16): a longer one
# is dropped and counted as "long". Half of MAX_FRAME, which the receive buffer would otherwise be.
_RX_FRAME = const(128)


class Controller:
    def __init__(self, cfg, now_ms):
        self.cfg = cfg
        self.seq = sequencer.Sequencer(cfg, now_ms)
        self.signals = self.seq.signals
        self.mon = monitor.Monitor(cfg, now_ms, self.signals)
        self.det = detectors.Detectors(cfg.n_detectors, diag=cfg.det_diag, fail_none=cfg.fail_none)
        self._failed = 0  # detector failures reported so far
        self.link = link.LinkState(now_ms)
        self.dedup = link.CommandDedup()
        self.decoder = P.Reader(_RX_FRAME)
        self._enc = P.Encoder()
        self.out = bytearray(OUT_BYTES)  # out[:out_n] is waiting to be sent
        self.out_n = 0
        self.out_dropped = 0  # frames that found `out` full
        self.mode = P.MODE_STARTUP
        self.changed = True
        self._next_state = now_ms
        self._next_telemetry = ticks.add(now_ms, _TELEMETRY_EVERY_MS)
        self._event(now_ms, P.EV_BOOT, "boot " + cfg.id)

    # outgoing ------------------------------------------------------------------------------
    # The periodic frames (state, telemetry, heartbeat) are packed in place into the encoder's
    # body and framed into `out`: a tick allocates nothing (tests/firmware/test_budget.py).
    def _emit(self, mtype, plen):
        end = self._enc.frame_into(self.out, self.out_n, mtype, self.link.next_seq(), plen)
        if end < 0:
            self.out_dropped += 1
        else:
            self.out_n = end

    def _send(self, mtype, payload):
        self._emit(mtype, self._enc.put(payload))

    def _event(self, now_ms, code, detail):
        self._send(P.T_EVENT, P.pack_event(code, now_ms, detail))

    def event(self, now_ms, code, detail):
        """Send an EVENT frame (the app reports boot causes and crash records this way)."""
        self._event(now_ms, code, detail)

    def _send_state(self, now_ms):
        # P.pack_state's layout, written in place
        b = self._enc.body
        o = P.PAYLOAD
        phase = self.seq.phase
        b[o] = self.mode
        b[o + 1] = phase if phase >= 0 else P.PHASE_NONE
        ms = self.seq.ms_in_phase(now_ms) if phase >= 0 else 0
        struct.pack_into(">I", b, o + 2, ms if ms > 0 else 0)
        n = len(self.signals)
        b[o + 6 : o + 6 + n] = self.signals
        self._emit(P.T_STATE, 6 + n)
        self._next_state = ticks.add(now_ms, _STATE_EVERY_MS)

    def _send_telemetry(self, now_ms):
        # P.pack_detectors' layout, written in place
        b = self._enc.body
        o = P.PAYLOAD
        det = self.det
        n = self.cfg.n_detectors
        struct.pack_into(">IB", b, o, now_ms & 0xFFFFFFFF, n)
        o += 5
        for i in range(n):
            occ = det.occupancy_permille(i, now_ms)
            occ = 0 if occ < 0 else (occ if occ < 1000 else 1000)
            struct.pack_into(">HHB", b, o, det.counts[i] & 0xFFFF, occ, (det.presence >> i) & 1)
            o += 5
        self._emit(P.T_DETECTORS, 5 + 5 * n)
        self._next_telemetry = ticks.add(now_ms, _TELEMETRY_EVERY_MS)

    def _send_heartbeat(self, now_ms):
        struct.pack_into(">I", self._enc.body, P.PAYLOAD, now_ms & 0xFFFFFFFF)
        self._emit(P.T_HEARTBEAT, 4)

    # incoming ------------------------------------------------------------------------------
    def _on_command(self, now_ms, seq, payload):
        stored = self.dedup.lookup(seq, payload)
        if stored is not None:  # a retry: answer again, do not run twice
            self._send(P.T_ACK, stored)
            return
        try:
            code, arg = P.unpack_command(payload)
        except ValueError:
            result, reason = P.ACK_MALFORMED, "malformed command"
        else:
            if code == P.CMD_PREEMPT:  # only an operator may preempt; signatures are to come
                result, reason = P.ACK_REFUSED, "preempt needs an operator signature"
            elif self._mode(now_ms) != P.MODE_REMOTE:
                result, reason = P.ACK_REFUSED, "not in remote mode"
            else:
                result, reason = self.seq.request(code, arg, now_ms)
        ack = P.pack_ack(seq, result, reason)
        self.dedup.store(seq, ack, payload)
        self._send(P.T_ACK, ack)
        if result != P.ACK_OK:
            self._event(now_ms, P.EV_REFUSED, reason)

    def _on_frames(self, now_ms, rx, n=-1):
        # decoder.push undoes COBS in place; only frames with a payload we read allocate
        dec = self.decoder
        if n < 0:
            n = len(rx)
        i = 0
        while i < n:
            i = dec.push(rx, i, n)
            mtype = dec.mtype
            if mtype < 0:
                continue
            seq = dec.seq
            payload = dec.payload() if mtype != P.T_HEARTBEAT else b""
            # link changes take effect before the frame that caused them is acted on: silence
            # may have ended the link just before it, and this frame may bring it back up
            self._link_changes(now_ms)
            self.link.heard(now_ms)
            self._link_changes(now_ms)
            if mtype == P.T_COMMAND:
                self._on_command(now_ms, seq, payload)

    def _detector_events(self, now_ms):
        from .diagnostics import NAMES  # loaded already: only diagnostics fail detectors

        det = self.det
        moved = det.failed ^ self._failed
        self._failed = det.failed
        for i in range(det.n):
            if (moved >> i) & 1:
                why = NAMES[det.why[i]]
                self._event(now_ms, P.EV_DETECTOR, "detector " + str(i) + " " + why)

    def _link_changes(self, now_ms):
        moved = self.link.changed(now_ms)
        while moved:
            if moved > 0:
                self.dedup.clear()  # a new gateway session numbers its commands afresh
                self._event(now_ms, P.EV_LINK_UP, "gateway link up")
            else:
                self._event(now_ms, P.EV_LINK_DOWN, "gateway link down: local control")
                self.seq.request(P.CMD_CLEAR, 0, now_ms)  # the gateway's holds end with it
            moved = self.link.changed(now_ms)

    # the tick ------------------------------------------------------------------------------
    def _mode(self, now_ms):
        state = self.seq.state
        if state == sequencer.FAULT:
            return P.MODE_FLASH
        if state == sequencer.STARTUP_FLASH or state == sequencer.STARTUP_ALL_RED:
            return P.MODE_STARTUP
        return P.MODE_REMOTE if self.link.up(now_ms) else P.MODE_LOCAL

    def receive(self, now_ms, buf, n):
        """Take the n bytes in buf received from the gateway (the link task's half of a tick)."""
        if n > 0:
            self._on_frames(now_ms, buf, n)
        self._link_changes(now_ms)

    def step(self, now_ms, levels, rx=None):
        """One control tick. Returns True when the heads changed."""
        self.changed = False
        if rx:
            self._on_frames(now_ms, rx)
        self._link_changes(now_ms)

        det = self.det
        det.sample(now_ms, levels)
        if det.failed != self._failed:
            self._detector_events(now_ms)
        cfg = self.cfg
        dp = cfg.det_phases
        veh = det.calls(dp, ~(cfg.ped_dets | cfg.pre_dets))
        if self.seq.step(now_ms, veh, det.calls(dp, cfg.ped_dets), det.calls(dp, cfg.pre_dets)):
            self.changed = True
        # the monitor sees every change, and a steady state once a second so its clocks
        # never wrap during a long rest in green
        if self.changed or ticks.reached(now_ms, self._next_state):
            fault = self.mon.check(now_ms, self.signals)
            if fault and self.seq.state != sequencer.FAULT:
                self.seq.fault(now_ms, self.mon.fault_detail)
                self.mon.check(now_ms, self.signals)
                self._event(now_ms, P.EV_FAULT, self.mon.fault_detail)
                self.changed = True

        mode = self._mode(now_ms)
        if mode != self.mode:
            self.mode = mode
            self._event(now_ms, P.EV_MODE, ("startup", "remote", "local", "flash")[mode])
            self.changed = True
        if self.changed or ticks.reached(now_ms, self._next_state):
            self._send_state(now_ms)
        if ticks.reached(now_ms, self._next_telemetry):
            self._send_telemetry(now_ms)
        if self.link.heartbeat_due(now_ms):
            self._send_heartbeat(now_ms)
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
