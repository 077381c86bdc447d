"""One simulated intersection: the firmware's controller in-process, and the gateway's side.

The controller is `firmware.controller.Controller`, the code that runs on the board (sequencer,
monitor, detectors, link), stepped on the simulation clock. The gateway side speaks to it in
frames of the wire protocol: heartbeats every second, and the strategy's decisions as COMMAND
HOLD / SWITCH, asked once per change of decision and heads and never during a clearance, as
gateway/service.py does. It learns the phase and heads from the controller's STATE frames only.

Detector inputs: the stop-bar loop of each group is its `<group>_stop` input and the advance
loop its `<group>_adv` input (the detectors `edge.sumo_import` declares). Debounce is 0 ms:
SUMO's loops report clean per-step presence, and a 50 ms debounce over 1 s steps would only add
a step of latency.
"""

from __future__ import annotations

from edge.sim.programs import HeadMap
from firmware import config as fwconfig
from firmware import detectors as fwdetectors
from firmware import protocol as P
from firmware.controller import Controller

_TICK_MS = 100  # controller tick during the power-on pre-roll
_HEARTBEAT_MS = 1000


class Site:
    """One traffic light: its imported config, strategy, sensing and firmware controller."""

    def __init__(self, imported, strategy, sensing, begin_s: float, seq0: int = 1):
        self.imported = imported
        self.ix = imported.intersection
        self.strategy = strategy
        self.sensing = sensing
        self.cfg = fwconfig.load(self.ix.to_compact())
        names = [g.name for g in self.ix.groups]
        self.group_index = {n: i for i, n in enumerate(names)}
        inputs = {d.name: d.input for d in self.ix.detectors}
        self.stop_bit = {g: 1 << inputs[f"{g}_stop"] for g in names if f"{g}_stop" in inputs}
        self.adv_bit = {g: 1 << inputs[f"{g}_adv"] for g in names if f"{g}_adv" in inputs}
        self.heads = HeadMap(imported)
        # Power on before the simulation starts, so start-up flash and all-red are over at
        # begin_s, as for a controller that was already running.
        preroll = self.cfg.startup_flash + self.cfg.startup_all_red + _HEARTBEAT_MS
        self.power_on_ms = int(round(begin_s * 1000)) - preroll
        self.ctrl = Controller(self.cfg, 0)
        self.ctrl.det = fwdetectors.Detectors(self.cfg.n_detectors, debounce_ms=0)
        self.decoder = P.Decoder()
        self.seq = seq0 & 0xFFFF
        self.state = None  # {"mode", "phase", "since_ms", "signals"} from STATE frames
        self.last_request = None
        self._asked: dict[int, tuple] = {}  # seq -> (request, phase, heads) awaiting an ACK
        self._refused: set = set()  # (request, phase, heads) refused while the heads stay
        self.next_heartbeat = 0
        self.sim_s = begin_s
        self.stats = {"requests": 0, "ok": 0, "refused": 0, "faults": 0}
        self.faults: list[str] = []
        self.signals = self.ctrl.signals.decode()
        self.changes = [(0, self.signals)]  # (controller ms, heads) not yet taken
        self.sumo_state = ""
        for ms in range(0, preroll, _TICK_MS):
            self._tick(ms, 0, None)

    # the wire --------------------------------------------------------------------------------
    def _frame(self, mtype, payload) -> bytes:
        self.seq = (self.seq + 1) & 0xFFFF
        return P.encode(mtype, self.seq, payload)

    def _tick(self, now_ms, levels, reading) -> None:
        rx = bytearray()
        if self.strategy.remote and now_ms >= self.next_heartbeat:
            rx += self._frame(P.T_HEARTBEAT, P.pack_heartbeat(now_ms))
            self.next_heartbeat = now_ms + _HEARTBEAT_MS
        if reading is not None and self.strategy.remote:
            rx += self._decide(now_ms, reading)
        self.ctrl.step(now_ms, levels, bytes(rx) if rx else None)
        out = self.ctrl.take_output()
        if out:
            for mtype, _seq, payload in self.decoder.feed(out):
                self._on_frame(now_ms, mtype, payload)
        if self.ctrl.changed:
            self.signals = self.ctrl.signals.decode()
            self.changes.append((now_ms, self.signals))

    def take_changes(self):
        """The head changes since the last call, as (controller ms, signals)."""
        out, self.changes = self.changes, []
        return out

    def _on_frame(self, now_ms, mtype, payload) -> None:
        if mtype == P.T_STATE:
            mode, phase, ms, signals = P.unpack_state(payload)
            self.state = {
                "mode": mode,
                "phase": None if phase == P.PHASE_NONE else phase,
                "since_ms": now_ms - ms,
                "signals": signals,
            }
        elif mtype == P.T_ACK:
            seq, result, _reason = P.unpack_ack(payload)
            self.stats["ok" if result == P.ACK_OK else "refused"] += 1
            asked = self._asked.pop(seq, None)
            if asked is not None and result != P.ACK_OK:
                self._refused.add(asked)
        elif mtype == P.T_EVENT:
            code, _t, detail = P.unpack_event(payload)
            if code in (P.EV_BOOT, P.EV_MODE, P.EV_LINK_UP):
                self.last_request = None
            if code == P.EV_FAULT:
                self.stats["faults"] += 1
                self.faults.append(detail)

    def _decide(self, now_ms, reading) -> bytes:
        st = self.state
        if st is None or st["mode"] != P.MODE_REMOTE or st["phase"] is None:
            return b""
        current = st["phase"]
        signals = st["signals"]
        groups = self.ix.phases[current].groups
        if not all(signals[self.group_index[g]] in "Gg" for g in groups):
            return b""  # in clearance: the controller has already committed
        elapsed_s = max(now_ms - st["since_ms"], 0) / 1000.0
        request = self.strategy.decide(self.sim_s, reading, current, elapsed_s)
        if request is None:
            return b""
        if self._refused and any(r[2] != signals for r in self._refused):
            self._refused = {r for r in self._refused if r[2] == signals}
        if (request, current, signals) in self._refused:
            request = self._fallback(current, signals, reading)
        key = (request, current, signals)
        if key == self.last_request:
            return b""
        self.last_request = key
        self.stats["requests"] += 1
        frame = self._frame(P.T_COMMAND, P.pack_command(*request))
        self._asked = {self.seq: key}
        return frame

    def _fallback(self, current, signals, reading):
        """After a refused request (a SWITCH that would starve a waiting call): CLEAR the
        gateway's earlier HOLD so the controller's own actuated logic picks the next phase,
        rather than leaving that HOLD to run to max green."""
        return (P.CMD_CLEAR, 0)

    # the simulation ------------------------------------------------------------------------
    def clock_ms(self, sim_s: float) -> int:
        """The controller's clock (ms since power-on) at simulation time `sim_s`."""
        return int(round(sim_s * 1000)) - self.power_on_ms

    def step(self, sim_s: float) -> str:
        """Read the detectors, run one controller tick at `sim_s`; the SUMO state to show."""
        self.sim_s = sim_s
        reading = self.sensing.read(sim_s)
        levels = 0
        for g, present in reading.stop.items():
            if present and g in self.stop_bit:
                levels |= self.stop_bit[g]
        for g, present in reading.advance.items():
            if present and g in self.adv_bit:
                levels |= self.adv_bit[g]
        self._tick(self.clock_ms(sim_s), levels, reading)
        return self.to_sumo(self.signals)

    def to_sumo(self, signals: str) -> str:
        """SUMO link states for the heads `signals`."""
        return self.heads.state(signals)
