"""The gateway: controller frames -> MQTT, and the optimizer's decisions -> controller.

The optimizer proposes, the controller disposes: a decision is a HOLD or SWITCH request that
the firmware checks against its own bounds and answers with an ACK, published on `decision`
(gateway/requests.py sends the requests and takes the answers).

Here: the gateway's life (start, stop, the loop that reopens the serial port) and one pass of it,
what each controller frame becomes. Telemetry, events and decisions go into the on-disk outbox
first and leave it only when the broker acknowledges them (gateway/publishing.py); the timing
plan in force is gateway/plan_in_force.py. A retained `health` message says how the gateway is
doing every `health_period_s`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from firmware import protocol as P

from .commands import Commands
from .estimator import QueueEstimator
from .link import LinkError, SerialLink
from .outbox import EVENTS, TELEMETRY, Outbox
from .plan_in_force import PlanInForce
from .planner import ALGORITHMS
from .planner import make as make_planner
from .publishing import Publishing
from .requests import Requests
from .signing import Command, Verifier
from .topics import Topics

log = logging.getLogger("greenwave.gateway")

_REOPEN_FIRST_S = 0.5
_REOPEN_MAX_S = 8.0
# Seconds from an advance loop to the stop bar: the config has no detector positions yet; this
# is a loop about 80 m upstream at 50 km/h, and what the demo's traffic model drives.
ADVANCE_TRAVEL_S = 6.0


class Gateway(Publishing, PlanInForce):
    """One controller's link, its MQTT topics, and the optimizer loop, in one thread."""

    def __init__(
        self,
        ix,
        port: str,
        mqtt,
        clock,
        *,
        baud: int | None = None,
        site: str | None = None,
        decision_period_s: float = 1.0,
        min_switch_gain: float = 2.0,
        outbox: Outbox | None = None,
        health_period_s: float = 5.0,
        operator_keys: dict[str, bytes] | None = None,
        link_key: bytes | None = None,
        algorithm: str = "schedule",
        advance_travel_s: float = ADVANCE_TRAVEL_S,
    ):
        """`operator_keys` are the gateway keys (K_gw) by operator key id; `link_key` signs the
        gateway's own requests for the controller (None: a controller without keys);
        `algorithm` is the optimizer loop's, one of ALGORITHMS (default schedule, as
        `greenwave gateway run`)."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
        self.ix = ix
        self.clock = clock
        self.mqtt = mqtt
        self.topics = Topics(site or ix.broker.site, ix.id)
        self.link = SerialLink(port, baud or ix.link.baud, clock.ms, link_key)
        self.estimator = QueueEstimator(ix, advance_travel_s)
        self.planner = make_planner(
            algorithm, ix, self.estimator, step_s=min(decision_period_s, 120.0),
            min_switch_gain=min_switch_gain,
        )  # fmt: skip
        self.phase_groups = [[ix.group_index(g) for g in p.groups] for p in ix.phases]
        self.detector_names = [d.name for d in sorted(ix.detectors, key=lambda d: d.input)]
        self.decision_period_s = decision_period_s
        self.min_switch_gain = min_switch_gain
        self.state: dict | None = None
        self.queues = [0.0] * len(ix.groups)
        self.decisions: list[dict] = []  # newest last, bounded
        self.controller_auth: dict[str, int] = {}  # its refusals on signature checks, by reason
        self.stats = dict.fromkeys(
            ("frames", "bad_payloads", "telemetry", "events", "decisions", "acks_ok",
             "acks_refused", "unanswered", "publish_failures", "link_errors", "acked",
             "replayed"), 0
        )  # fmt: skip
        self.outbox = outbox  # None: an in-memory one at start() (tests, the demo)
        self.health_period_s = health_period_s
        self._acked: queue.SimpleQueue[int] = queue.SimpleQueue()  # row ids from paho's thread
        self._handed = 0  # highest row id paho has taken; paho resends those on reconnect
        self._last_health = float("-inf")
        self._session_seen: float | None = None  # the broker connection `_republish` served
        self._rebirth = threading.Event()  # set from paho's thread by a `cmd/rebirth` message
        # The timing plan in force as far as this gateway knows: the controller's ok to a PLAN
        # sets it, for the controller boot that said ok (its heartbeat's boot id; None until one
        # is heard); a boot (which starts on plan 0, the config's timing) resets it. Both are
        # kept in the outbox, so a restarted gateway goes on saying the plan (start()).
        self.plan_in_force = 0
        self.plan_boot: int | None = None
        self.operator_keys = dict(operator_keys or {})
        self.commands: Commands | None = None  # operator commands; made at start()
        self._history_sent: int | None = None  # the commands' version last published
        self._history_lock = threading.Lock()
        self._optimizer_ready = threading.Event()  # its kernels are loaded
        self.requests = Requests(self, self._optimizer_ready)  # to the controller, and answers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> Gateway:
        # Load (or compile) the optimizer's kernels now, beside the serial loop and not inside a
        # decision: a cold Numba cache takes tens of seconds, a warm one about a second.
        log.info("optimizer: %s", self.planner.describe())
        self._optimizer_ready.clear()
        warm_up = self.requests.warm_up
        threading.Thread(target=warm_up, name="optimizer-warm-up", daemon=True).start()
        if self.outbox is None:
            self.outbox = Outbox(":memory:")
        self.recall_plan()
        self.link.open()
        self.mqtt.subscribe(self.topics.cmd("rebirth"), lambda topic, payload: self._rebirth.set())
        verifier = Verifier(self.operator_keys, self.topics.site, self.ix.id)
        self.commands = Commands(self, verifier).start()
        if not self.operator_keys:
            log.info("no operator keys: every operator command will be refused")
        backlog = self.outbox.depth()
        log.info(
            "session %d; %d message(s) wait in the outbox %s",
            self.outbox.session, backlog, self.outbox.path,
        )  # fmt: skip
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"gateway-{self.ix.id}", daemon=True)
        self._thread.start()
        log.info("gateway for %s on %s, topics %s", self.ix.id, self.link.url, self.topics.base)
        return self

    def stop(self) -> None:
        if self.commands is not None:
            self.commands.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.link.close()
        if self.outbox is not None:
            self._take_acks()  # what the broker confirmed so far need not be sent again

    def _run(self) -> None:
        backoff = _REOPEN_FIRST_S
        while not self._stop.is_set():
            try:
                self.poll()
                backoff = _REOPEN_FIRST_S
            except LinkError as e:  # the cable: reopen with bounded back-off, never exit
                self.stats["link_errors"] += 1
                log.warning("%s; reopening in %.1f s", e, backoff)
                self.requests.refuse_waiting(f"no link to the controller ({e})")
                self.link.close()
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, _REOPEN_MAX_S)
                try:
                    self.link.open()
                except LinkError as again:
                    log.warning("%s", again)
            except Exception:  # keep the cabinet running; the log says what broke
                log.exception("gateway loop error")
                self._stop.wait(0.1)

    def request(
        self,
        code: int,
        arg: int = 0,
        source: str = "operator",
        *,
        auth: Command | None = None,
        on_result: Callable[[str], None] | None = None,
    ) -> None:
        """Queue a request for the controller from any thread; the loop sends it
        (`Requests.request` says what `auth` and `on_result` are)."""
        self.requests.request(code, arg, source, auth=auth, on_result=on_result)

    # one pass -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Read what the controller sent, publish it, send queued requests and decisions."""
        for mtype, seq, payload in self.link.receive():
            self.stats["frames"] += 1
            try:
                self._on_frame(mtype, payload)
            except (ValueError, IndexError) as e:  # good CRC, bad content: drop and count
                bad = self.stats["bad_payloads"] = self.stats["bad_payloads"] + 1
                # a noisy line must not flood the log too: health counts every one
                level = logging.WARNING if bad <= 100 or bad % 1000 == 0 else logging.DEBUG
                log.log(level, "dropped %s frame seq %d (%d so far): %s",
                        P.TYPE_NAMES.get(mtype), seq, bad, e)  # fmt: skip
        self.requests.poll()
        self._take_acks()
        if self.mqtt.connected and self.mqtt.connected_since != self._session_seen:
            self._session_seen = self.mqtt.connected_since
            self._republish()
        if self._rebirth.is_set():
            self._rebirth.clear()
            log.info("rebirth requested: publishing state and health again")
            self._republish()
        self._pump()
        if time.monotonic() - self._last_health >= self.health_period_s:
            self.publish_health()

    def _on_frame(self, mtype: int, payload: bytes) -> None:
        if mtype == P.T_STATE:
            self._on_state(*P.unpack_state(payload))
        elif mtype == P.T_DETECTORS:
            t_ms, rows = P.unpack_detectors(payload)
            self.queues = self.estimator.update(rows, self.clock.s())
            self.stats["telemetry"] += 1
            self._queue(TELEMETRY, self.topics.telemetry, {
                "t": t_ms / 1000,
                "detectors": {name: {"count": c, "occupancy": o / 1000, "presence": p}
                              for name, (c, o, p) in zip(self.detector_names, rows, strict=True)},
                "queues": dict(zip(self.estimator.groups, self.queues, strict=True)),
            })  # fmt: skip
        elif mtype == P.T_EVENT:
            code, t_ms, detail = P.unpack_event(payload)
            name = P.EVENT_NAMES.get(code, str(code))
            if code == P.EV_BOOT:
                self.estimator.reset()  # the controller's counters start again from zero
                self._plan_changed(0, None)  # and its timing from the config's own
            if code in (P.EV_BOOT, P.EV_MODE, P.EV_LINK_UP):
                self.requests.forget()  # its holds are gone: decide afresh
            self.stats["events"] += 1
            log.info("controller event %s: %s", name, detail)
            self._queue(EVENTS, self.topics.events, {
                "t": t_ms / 1000, "event": name, "detail": detail,
            })  # fmt: skip
        elif mtype == P.T_ACK:
            seq, result, reason = P.unpack_ack(payload)
            # a refusal stands while the heads stay as they are: no re-asking every second
            self.requests.answer(seq, "ok" if result == P.ACK_OK else f"refused: {reason}")
        elif mtype == P.T_HEARTBEAT:  # the link layer took its boot id and counter already
            self._on_heartbeat(payload)
        else:
            raise ValueError(f"a controller does not send message type {mtype}")

    def _on_state(self, mode: int, phase: int, ms: int, signals: str) -> None:
        if len(signals) != len(self.ix.groups):
            raise ValueError(
                f"controller reports {len(signals)} signal groups, config {self.ix.id!r} has "
                f"{len(self.ix.groups)}: is it running another config?"
            )
        if phase != P.PHASE_NONE and phase >= len(self.ix.phases):
            raise ValueError(
                f"controller reports phase {phase!r}; config has {len(self.ix.phases)}"
            )
        state = {
            "mode": P.MODE_NAMES.get(mode, str(mode)),
            "phase": None if phase == P.PHASE_NONE else phase,
            "phase_name": None if phase == P.PHASE_NONE else self.ix.phases[phase].name,
            "signals": signals,
            "since": round(self.clock.s() - ms / 1000, 3),
        }
        old, self.state = self.state, state
        if old is None or any(old[k] != state[k] for k in ("mode", "phase", "signals")):
            self._publish(self.topics.state, state, qos=1, retain=True)
        else:
            state["since"] = old["since"]  # same state: keep when it began, not the jitter
