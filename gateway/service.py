"""The gateway: controller frames -> MQTT, and the optimizer's decisions -> controller.

The optimizer proposes, the controller disposes: a decision is a HOLD or SWITCH request that
the firmware checks against its own bounds and answers with an ACK, published on `decision`
(gateway/requests.py sends the requests and takes the answers).

Telemetry, events and decisions go into the on-disk outbox first and leave it only when the
broker acknowledges them (QoS 1); rows queued before the current broker connection (an outage, an
earlier run) are replayed in order with `"historical": true`. A retained `health` message
says how the gateway is doing every `health_period_s`.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial

from firmware import protocol as P

from .commands import Commands
from .estimator import QueueEstimator
from .link import LinkError, SerialLink
from .mqtt import MqttError
from .outbox import EVENTS, STREAMS, TELEMETRY, Outbox, OutboxFull
from .planner import ALGORITHMS
from .planner import make as make_planner
from .requests import Requests
from .signing import Command, Verifier
from .topics import Topics

log = logging.getLogger("greenwave.gateway")

_REOPEN_FIRST_S = 0.5
_REOPEN_MAX_S = 8.0
_PUMP_BATCH = 200  # rows handed to paho per pass; paho keeps 20 in flight, the rest in memory
# Seconds from an advance loop to the stop bar: the config has no detector positions yet; this
# is a loop about 80 m upstream at 50 km/h, and what the demo's traffic model drives.
ADVANCE_TRAVEL_S = 6.0


class Gateway:
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

    def recall_plan(self) -> None:
        """Take up the plan in force that the outbox kept from the last run (start())."""
        k = self.outbox.noted("plan") or 0
        if 0 < k <= len(self.ix.plans):  # else another config's: this one starts on plan 0
            self.plan_in_force, self.plan_boot = k, self.outbox.noted("plan_boot")
            log.info("timing plan %d was in force when this gateway last ran; the controller's "
                     "heartbeat says whether it has booted since", k)  # fmt: skip

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

    # the outbox ---------------------------------------------------------------------------
    def _queue(self, stream: str, topic: str, payload: dict) -> None:
        """Into the outbox first; `_pump` publishes it. An outbox full of events and decisions
        (which are never dropped) is an alarm."""
        try:
            self.outbox.put(stream, payload, topic=topic)
        except OutboxFull as e:
            log.error("ALARM: %s", e)
            self._publish(self.topics.events, {
                "session": self.outbox.session, "t": payload.get("t"), "event": "outbox_full",
                "detail": str(e),
            }, qos=1)  # fmt: skip
            self.publish_health()
            return
        self._pump()  # now, so topics keep the controller's order (state, then its event)

    def _take_acks(self) -> None:
        ids = []
        while True:
            try:
                ids.append(self._acked.get_nowait())
            except queue.Empty:
                break
        if ids:
            self.stats["acked"] += len(ids)
            self.outbox.ack(*ids)

    def _pump(self) -> None:
        """Hand the rows paho has not taken yet to it, in order, while the broker is there."""
        if not self.mqtt.connected:
            return
        since = self.mqtt.connected_since or float("inf")
        for row in self.outbox.pending(_PUMP_BATCH, after=self._handed):
            payload = row.payload
            historical = row.session != self.outbox.session or row.ts < since
            if historical:
                payload = {**payload, "historical": True}
            try:
                self.mqtt.publish(
                    row.topic, payload, qos=1, on_ack=partial(self._acked.put, row.id)
                )
            except MqttError as e:
                if self.mqtt.connected:
                    self.stats["publish_failures"] += 1
                    log.warning("%s", e)
                return  # the row stays on disk; the next pass tries again, still in order
            self._handed = row.id
            if historical:
                self.stats["replayed"] += 1

    def _republish(self) -> None:
        """Say the retained state, plan and health again: on a new broker connection (a change
        during the outage was not published) and when a consumer asks with `cmd/rebirth`."""
        if self.state is not None:
            self._publish(self.topics.state, self.state, qos=1, retain=True)
        self._publish(self.topics.plan, self.plan(), qos=1, retain=True)
        self._history_sent = None
        self._last_health = float("-inf")  # and health on this pass

    def plan(self) -> dict:
        """The timing plan in force: the payload of the retained `plan` topic. `plan` is its
        number (0: the config's own timing, else [[plans]] entry plan - 1, named `plan_name`),
        the phases' `max_green_s` the max greens it puts in force, `plans` the plans' names."""
        k = self.plan_in_force
        mg = self.ix.plan_max_green_s(k)
        return {
            "intersection": self.ix.id,
            "plan": k,
            "plan_name": self.ix.plans[k - 1].name if k else None,
            "plans": [p.name for p in self.ix.plans],
            "groups": [g.name for g in self.ix.groups],
            "phases": [
                {"index": i, "name": p.name, "groups": list(p.groups),
                 "min_green_s": p.min_green_s, "max_green_s": mg[i],
                 "passage_s": p.passage_s, "yellow_s": p.yellow_s, "all_red_s": p.all_red_s}
                for i, p in enumerate(self.ix.phases)
            ],
        }  # fmt: skip

    def _plan_changed(self, k: int, boot: int | None) -> None:
        """Plan k is in force in the controller's boot `boot`: kept in the outbox, published
        when k changes. Plan 0 is every boot's start, whatever the boot."""
        boot = boot if k else None
        if (k, boot) != (self.plan_in_force, self.plan_boot):
            try:
                self.outbox.note(plan=k, plan_boot=boot)
            except sqlite3.Error as e:  # a restart would say the older plan; the topic is right
                log.warning("cannot keep plan %d in the outbox: %s", k, e)
            self.plan_boot = boot
        if k != self.plan_in_force:
            self.plan_in_force = k
            log.info("timing plan %d in force", k)
            self._publish(self.topics.plan, self.plan(), qos=1, retain=True)

    def publish_history(self) -> None:
        """Publish the recent operator commands and their results retained on `history`
        (from any thread; skipped when nothing changed or the broker is away)."""
        if self.commands is None or not self.mqtt.connected:
            return
        # Read before taking the history lock: paho's thread holds the commands' lock when it
        # gets here, so taking them in the other order could deadlock the two threads.
        version, entries = self.commands.snapshot()
        with self._history_lock:  # two threads answer commands: the newest list goes out last
            if self._history_sent is not None and version <= self._history_sent:
                return
            self._history_sent = version
            self._publish(self.topics.history, {"commands": entries}, qos=1, retain=True)

    def health(self) -> dict:
        """How the gateway is doing: the payload of the retained `health` topic."""
        errors = dict(self.link.decoder.errors)
        commands = self.commands.health() if self.commands is not None else {}
        return {
            "t": round(time.time(), 3),
            "session": self.outbox.session,
            "queue_depth": self.outbox.depth(),
            "queue": {s: self.outbox.depth(s) for s in STREAMS},
            "oldest_unsent_s": round(self.outbox.oldest_age_s(), 3),
            "thinned": self.outbox.thinned,
            "events_refused": self.outbox.refused,
            "reconnects": self.mqtt.reconnects,
            "link_up": self.link.up(),
            "frames_dropped": errors,
            "crc_errors": errors.get("crc", 0),
            "publish_failures": self.stats["publish_failures"],
            "unanswered_commands": self.stats["unanswered"],
            "controller_auth_refusals": dict(self.controller_auth),
            **commands,
        }

    def publish_health(self) -> None:
        """Publish `health()` retained now (skipped while the broker is away)."""
        self._last_health = time.monotonic()
        if self.mqtt.connected:
            self._publish(self.topics.health, self.health(), qos=1, retain=True)

    def _publish(self, topic: str, payload, **kw) -> None:
        """Publish; with the broker away, count it and carry on serving the serial side.
        A retained topic is not even tried then: `_republish` says it on the next connection,
        so a long outage piles no stale states up in paho's memory."""
        if kw.get("retain") and not self.mqtt.connected:
            return
        try:
            self.mqtt.publish(topic, payload, **kw)
        except MqttError as e:
            self.stats["publish_failures"] += 1
            # while the broker is away this is expected (the outbox keeps what matters)
            log.log(logging.WARNING if self.mqtt.connected else logging.DEBUG, "%s", e)

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

    def _on_heartbeat(self, payload: bytes) -> None:
        """The controller's boot id tells whether the plan in force is still the one it said ok
        to: a boot since (one whose EVENT this gateway missed, being down) started on plan 0,
        and safe and maintenance mode (a bare heartbeat: no app, no plan) end it too."""
        if not self.plan_in_force:
            return
        if len(payload) == 4:
            log.info("the controller runs no app (safe or maintenance mode): plan 0")
            self._plan_changed(0, None)
            return
        if len(payload) != 12:
            return  # not a controller's (the link layer counts nothing: neither do we)
        boot = P.unpack_heartbeat(payload)[1]
        if self.plan_boot is None:  # the ok came before the first heartbeat: this boot's
            self._plan_changed(self.plan_in_force, boot)
        elif boot != self.plan_boot:
            log.info("the controller has booted since plan %d was put in force: plan 0",
                     self.plan_in_force)  # fmt: skip
            self._plan_changed(0, None)

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
