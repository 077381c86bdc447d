"""The controller: detectors -> sequencer -> monitor -> heads, and the link to the gateway.

Pure logic: `step(now_ms, levels, rx)` is one control tick. It takes the detector levels and
the bytes received since the last tick, and leaves frames to send in `out` and the heads in
`signals` (with `changed` set when they moved). The HAL and the app do all the I/O.
"""

from . import detectors, link, monitor, sequencer, ticks
from . import protocol as P

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_STATE_EVERY_MS = const(1000)
_TELEMETRY_EVERY_MS = const(1000)


class Controller:
    def __init__(self, cfg, now_ms):
        self.cfg = cfg
        self.seq = sequencer.Sequencer(cfg, now_ms)
        self.signals = self.seq.signals
        self.mon = monitor.Monitor(cfg, now_ms, self.signals)
        self.det = detectors.Detectors(cfg.n_detectors)
        self.link = link.LinkState(now_ms)
        self.dedup = link.CommandDedup()
        self.decoder = P.Decoder()
        self.out = bytearray()
        self.mode = P.MODE_STARTUP
        self.changed = True
        self._next_state = now_ms
        self._next_telemetry = ticks.add(now_ms, _TELEMETRY_EVERY_MS)
        self._event(now_ms, P.EV_BOOT, "boot " + cfg.id)

    # outgoing ------------------------------------------------------------------------------
    def _send(self, mtype, payload):
        self.out.extend(P.encode(mtype, self.link.next_seq(), payload))

    def _event(self, now_ms, code, detail):
        self._send(P.T_EVENT, P.pack_event(code, now_ms, detail))

    def _send_state(self, now_ms):
        phase = self.seq.phase if self.seq.phase >= 0 else 255
        ms = self.seq.ms_in_phase(now_ms) if self.seq.phase >= 0 else 0
        self._send(P.T_STATE, P.pack_state(self.mode, phase, ms, self.signals.decode()))
        self._next_state = ticks.add(now_ms, _STATE_EVERY_MS)

    def _send_telemetry(self, now_ms):
        rows = []
        det = self.det
        for i in range(self.cfg.n_detectors):
            rows.append((det.counts[i], det.occupancy_permille(i, now_ms), (det.presence >> i) & 1))
        self._send(P.T_DETECTORS, P.pack_detectors(now_ms, rows))
        self._next_telemetry = ticks.add(now_ms, _TELEMETRY_EVERY_MS)

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
            if self._mode(now_ms) != P.MODE_REMOTE:
                result, reason = P.ACK_REFUSED, "not in remote mode"
            else:
                result, reason = self.seq.request(code, arg, now_ms)
        ack = P.pack_ack(seq, result, reason)
        self.dedup.store(seq, ack, payload)
        self._send(P.T_ACK, ack)
        if result != P.ACK_OK:
            self._event(now_ms, P.EV_REFUSED, reason)

    def _on_frames(self, now_ms, rx):
        for mtype, seq, payload in self.decoder.feed(rx):
            # link changes take effect before the frame that caused them is acted on: silence
            # may have ended the link just before it, and this frame may bring it back up
            self._link_changes(now_ms)
            self.link.heard(now_ms)
            self._link_changes(now_ms)
            if mtype == P.T_COMMAND:
                self._on_command(now_ms, seq, payload)

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

    def step(self, now_ms, levels, rx=None):
        """One control tick. Returns True when the heads changed."""
        self.changed = False
        if rx:
            self._on_frames(now_ms, rx)
        self._link_changes(now_ms)

        self.det.sample(now_ms, levels)
        if self.seq.step(now_ms, self.det.calls(self.cfg.det_phases)):
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
            self._event(now_ms, P.EV_MODE, P.MODE_NAMES[mode])
            self.changed = True
        if self.changed or ticks.reached(now_ms, self._next_state):
            self._send_state(now_ms)
        if ticks.reached(now_ms, self._next_telemetry):
            self._send_telemetry(now_ms)
        if self.link.heartbeat_due(now_ms):
            self._send(P.T_HEARTBEAT, P.pack_heartbeat(now_ms))
            self.link.sent_heartbeat(now_ms)
        return self.changed

    def take_output(self):
        """The frames produced since the last call (and forget them)."""
        if not self.out:
            return None
        data = bytes(self.out)
        self.out = bytearray()
        return data
