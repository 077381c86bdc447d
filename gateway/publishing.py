"""The gateway's way to the broker: the outbox first, then paho, in order; the retained topics.

Telemetry, events and decisions go into the on-disk outbox (gateway/outbox.py) and leave it only
when the broker acknowledges them (QoS 1); rows queued before the current broker connection (an
outage, an earlier run) are replayed in order with `"historical": true`. The retained `state`,
`plan`, `history` and `health` are said again on every new broker connection and on
`cmd/rebirth`. `Publishing` is a part of `gateway.service.Gateway`, whose constructor sets the
attributes below.
"""

from __future__ import annotations

import logging
import queue
import time
from functools import partial
from typing import Any

from .mqtt import MqttError
from .outbox import STREAMS, Outbox, OutboxFull

log = logging.getLogger("greenwave.gateway")

_PUMP_BATCH = 200  # rows handed to paho per pass; paho keeps 20 in flight, the rest in memory


class Publishing:
    """The outbox pump and the gateway's publishing (a part of `Gateway`)."""

    mqtt: Any  # gateway.mqtt.Mqtt
    outbox: Outbox
    topics: Any  # gateway.topics.Topics
    link: Any  # gateway.link.SerialLink
    commands: Any  # gateway.commands.Commands, or None before start()
    state: dict | None  # the controller's last STATE as published
    stats: dict[str, int]
    controller_auth: dict[str, int]
    _acked: queue.SimpleQueue[int]  # row ids paho confirmed, from paho's thread
    _handed: int  # highest row id paho has taken; paho resends those on reconnect
    _last_health: float
    _history_sent: int | None

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
