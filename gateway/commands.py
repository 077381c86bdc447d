"""Operator commands on `cmd/<name>`: verify the signature, forward, answer.

A verified hold / release / switch / preempt / flash / clear-flash / plan goes to the controller
as a SIGNED COMMAND frame carrying the operator's own signature (key id, ts, exp, nonce, sig
unchanged), which the controller checks again against its provisioned keys; the answer is the
controller's own verdict: `ok` or `refused: <reason>`.
Anything else is answered at once: `expired`, or `refused: <reason>` (malformed, unknown key,
bad signature, replayed nonce, a command the controller does not have yet). Every refusal is
counted for `health`.

Answers go to the MQTT 5 response topic with the correlation data when the command carries one
(it must lie under `<base>/reply/`, the one place operators cannot write but the gateway may),
else to `<base>/reply/<name>`; the payload also names the nonce, so a 3.1.1 client (the
embedded demo broker) can match it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from firmware import protocol as P

from .mqtt import Message, MqttError
from .signing import COMMANDS, MAX_PAYLOAD, NONCE, Refused, Verifier

log = logging.getLogger("greenwave.commands")

_FORWARDED = {"hold": P.CMD_HOLD, "release": P.CMD_CLEAR, "switch": P.CMD_SWITCH,
              "preempt": P.CMD_PREEMPT, "flash": P.CMD_FLASH,
              "clear-flash": P.CMD_CLEAR_FLASH, "plan": P.CMD_PLAN}  # fmt: skip
AUTH_FAILURES = ("malformed", "unknown_key", "bad_signature", "expired", "future", "replayed",
                 "busy")  # fmt: skip


class Commands:
    """The command feature of one gateway: `start()` subscribes, `stop()` stops answering."""

    def __init__(self, gateway, verifier: Verifier, clock: Callable[[], float] = time.time):
        self.gw = gateway
        self.verifier = verifier
        self.clock = clock
        self.base = gateway.topics.base
        self.counts = dict.fromkeys(("received", "ok", "refused", "unanswered"), 0)
        self.auth_failures = dict.fromkeys(AUTH_FAILURES, 0)
        self.history: deque[dict] = deque(maxlen=100)  # authenticated commands, newest last
        self._lock = threading.RLock()  # _done runs on paho's thread and on the gateway's
        self.version = 0  # grows with every history entry
        self._running = False

    def start(self) -> Commands:
        self._running = True
        self.gw.mqtt.subscribe(f"{self.base}/cmd/+", self._on_message, full=True)
        return self

    def stop(self) -> None:
        self._running = False

    def health(self) -> dict:
        with self._lock:
            return {"commands": dict(self.counts), "auth_failures": dict(self.auth_failures)}

    def recent(self) -> list[dict]:
        """The authenticated commands and their results, oldest first (a copy)."""
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, list[dict]]:
        """(version, recent()) read together: a larger version is a newer list."""
        with self._lock:
            return self.version, [dict(e) for e in self.history]

    # paho's thread -------------------------------------------------------------------------
    def _on_message(self, msg: Message) -> None:
        name = msg.topic.rsplit("/", 1)[1]
        if name == "rebirth" or not self._running:
            return  # rebirth is the gateway's own, unsigned request
        with self._lock:
            self.counts["received"] += 1
            reply = self._reply_to(msg, name)
            try:
                if reply is None:
                    reply = (f"{self.base}/reply/{name}", msg.correlation)
                    raise Refused("malformed", f"malformed: response topic not under {self.base}"
                                               "/reply/")  # fmt: skip
                if name not in COMMANDS:
                    raise Refused("malformed", f"malformed: unknown command {name!r}")
                cmd = self.verifier.check(name, msg.payload, self.clock())
            except Refused as r:
                self.auth_failures[r.counter] += 1
                self.counts["refused"] += 1
                # a flood of junk must not flood the log too: the count says how many
                refused = self.counts["refused"]
                level = logging.WARNING if refused <= 100 or refused % 1000 == 0 else logging.DEBUG
                log.log(level, "operator command %s refused (%d so far): %s", name, refused, r)
                self._answer(reply, name, _nonce_of(msg.payload), r.answer)
                return
            entry = {"t": round(self.clock(), 3), "key": cmd.key, "cmd": cmd.cmd,
                     "arg": cmd.arg, "nonce": cmd.nonce}  # fmt: skip
            code = _FORWARDED.get(cmd.cmd)
            if code is None:
                self._done(reply, entry, f"refused: the controller has no {cmd.cmd} command yet")
                return
            log.info("operator %s: %s %d, verified; forwarding", cmd.key, cmd.cmd, cmd.arg)
            try:
                self.gw.request(
                    code, cmd.arg, source=f"operator:{cmd.key}", auth=cmd,
                    on_result=lambda result: self._done(reply, entry, _from_controller(result)),
                )  # fmt: skip
            except ValueError as e:
                self._done(reply, entry, f"refused: {e}")

    def _reply_to(self, msg: Message, name: str) -> tuple[str, bytes | None] | None:
        if msg.response_topic is None:
            return f"{self.base}/reply/{name}", msg.correlation
        rt = msg.response_topic
        if not rt.startswith(f"{self.base}/reply/") or set(rt) & set("+#"):
            return None  # never publish where the requester points outside the reply space
        return rt, msg.correlation

    def _done(self, reply, entry: dict, result: str) -> None:
        key = "ok" if result == "ok" else "unanswered" if "did not answer" in result else "refused"
        with self._lock:
            self.counts[key] += 1
            entry["result"] = result
            self.history.append(entry)
            self.version += 1
        log.info("operator %s: %s %d -> %s", entry["key"], entry["cmd"], entry["arg"], result)
        self._answer(reply, entry["cmd"], entry["nonce"], result)
        self.gw.publish_history()

    def _answer(self, reply, name: str, nonce: str | None, result: str) -> None:
        topic, correlation = reply
        payload = {"t": round(self.clock(), 3), "cmd": name, "nonce": nonce, "result": result}
        kw = {"correlation": correlation} if correlation is not None and self.gw.mqtt.mqtt5 else {}
        try:
            self.gw.mqtt.publish(topic, payload, qos=1, **kw)
        except MqttError as e:
            log.warning("could not answer on %s: %s", topic, e)


def _nonce_of(payload: bytes) -> str | None:
    """The nonce of a refused command when it has a well-formed one, so a 3.1.1 client can
    tell which answer is its own."""
    if len(payload) > MAX_PAYLOAD:
        return None
    try:
        nonce = json.loads(payload).get("nonce")
    except (ValueError, RecursionError, AttributeError):
        return None
    return nonce if isinstance(nonce, str) and NONCE.fullmatch(nonce) else None


def _from_controller(result: str) -> str:
    if result == "unanswered":
        return "refused: the controller did not answer"
    return result
