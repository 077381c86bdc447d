"""What the gateway asks of the controller: operator requests and the optimizer's decisions.

An operator's request (`Gateway.request`, from any thread) waits in a queue for the gateway's
loop; the optimizer asks for one HOLD or SWITCH a decision period, and steps aside (a CLEAR) in
the phase where the controller refused its switch "would starve a call". Each request goes down
the link once and is answered once: "ok", "refused: <reason>" or "unanswered"; the answer makes
it a decision record, kept in the outbox and published on `decision` like an event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from firmware import protocol as P

from .link import LinkError
from .outbox import DECISIONS
from .signing import Command

log = logging.getLogger("greenwave.gateway")

_BOOT_WAIT_S = 3.0  # how long a request waits for the controller's boot id (link tags)
# The controller's refusals from its own signature and link-tag checks (docs/architecture.md)
CONTROLLER_AUTH = frozenset(("no operator keys", "unknown key", "bad signature", "expired",
                             "replayed", "replayed or stale", "not an operator command",
                             "bad link signature"))  # fmt: skip


class Requests:
    """One gateway's requests to its controller and their answers, run by the gateway's loop.

    It reads the gateway's state, queues and planner, and records on the gateway (`stats`,
    `decisions`, `controller_auth`, the outbox), as the commands feature does."""

    def __init__(self, gateway, optimizer_ready: threading.Event):
        self.gw = gateway
        self._optimizer_ready = optimizer_ready  # set when the planner's kernels are loaded
        self._asked: dict[int, dict] = {}
        self._last_decision_s = float("-inf")
        self._last_request: tuple | None = None
        self._override: tuple[int | None] | None = None  # the phase an operator request came in
        # The phase in which the controller refused the optimizer's switch "would starve a call":
        # the optimizer steps aside there (a CLEAR) and lets the controller serve that call.
        self._starving: int | None = None
        self._clear_due = False
        self._requests: queue.Queue[tuple] = queue.Queue()
        self._waiting: list[tuple] = []  # requests taken from _requests, not sent yet
        self._waiting_since: float | None = None
        self._on_result: dict[int, Callable[[str], None]] = {}  # seq -> the requester's callback

    def warm_up(self) -> None:
        """Load (or compile) the planner's kernels; decisions start when they are in."""
        planner = self.gw.planner
        try:
            took = planner.warm_up()
        except Exception:  # no optimizer: the controller keeps choosing phases on its own
            log.exception("the %s optimizer did not load; no decisions", planner.name)
            return
        log.info("optimizer %s ready: kernels loaded in %.2f s", planner.name, took)
        self._optimizer_ready.set()

    def request(
        self,
        code: int,
        arg: int = 0,
        source: str = "operator",
        *,
        auth: Command | None = None,
        on_result: Callable[[str], None] | None = None,
    ) -> None:
        """Queue a request for the controller from any thread; the loop sends it.

        `auth` is the operator's verified command: it goes down with the operator's signature
        for the controller to check; `on_result(result)` runs on the gateway's thread with the
        controller's answer: "ok", "refused: <reason>" or "unanswered"."""
        if code not in P.CMD_NAMES:
            raise ValueError(f"unknown command code {code!r}")
        if not 0 <= arg < 256:  # the wire carries one byte: 256 must not become phase 0
            raise ValueError(f"{P.CMD_NAMES[code]} argument {arg!r} does not fit the wire (0..255)")
        self._requests.put((code, arg, source, auth, on_result))

    def poll(self) -> None:
        """Answer what the link gave up on, send the queued requests, and decide once a period."""
        link = self.gw.link
        for seq in link.gave_up:
            self.answer(seq, "unanswered")
        link.gave_up.clear()
        while not self._requests.empty():
            self._waiting.append(self._requests.get_nowait())
        waiting = self._waiting
        if waiting and link.awaiting_boot():
            # a link tag needs the controller's boot id (its heartbeat says it): wait for it a
            # while, then send anyway, so a silent controller still ends in "did not answer"
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
            if time.monotonic() - self._waiting_since < _BOOT_WAIT_S:
                waiting = []
        if waiting:
            self._waiting, self._waiting_since = [], None
        for i, (code, arg, source, auth, on_result) in enumerate(waiting):
            current = self.gw.state["phase"] if self.gw.state else None
            self._override = (current,)  # an operator's request stands until the phase changes
            try:
                self._send(code, arg, current, source, auth, on_result)
            except LinkError:
                self._waiting[:0] = waiting[i:]  # not sent: answered by the link's handler
                raise
        now = self.gw.clock.s()
        if now - self._last_decision_s >= self.gw.decision_period_s:
            self._last_decision_s = now
            self._decide()

    def refuse_waiting(self, why: str) -> None:
        """Answer every request not sent yet: a pulled cable must not leave an operator
        waiting for an answer that cannot come (or run the request minutes later)."""
        while not self._requests.empty():
            self._waiting.append(self._requests.get_nowait())
        waiting, self._waiting, self._waiting_since = self._waiting, [], None
        for code, arg, source, _auth, on_result in waiting:
            log.warning("%s's %s %d not sent: %s", source, P.CMD_NAMES.get(code), arg, why)
            self.gw.stats["acks_refused"] += 1
            if on_result is not None:
                try:
                    on_result(f"refused: {why}")
                except Exception:  # the requester's problem; the loop goes on
                    log.exception("result callback for an unsent command failed")

    def forget(self) -> None:
        """The controller's holds are gone (a boot, a mode change, the link back): decide afresh."""
        self._last_request = None
        self._starving = None

    def answer(self, seq: int, result: str) -> None:
        """The controller's answer to request `seq` (or the link's "unanswered")."""
        asked = self._asked.pop(seq, None)
        if asked is None:
            return  # the answer to a retry we already had
        gw = self.gw
        reason = result.removeprefix("refused: ")
        if reason in CONTROLLER_AUTH:  # the controller's own signature checks said no
            gw.controller_auth[reason] = gw.controller_auth.get(reason, 0) + 1
            log.warning("the controller refused %s: %s", asked.get("source", "a request"), reason)
        if result == "ok" and asked.get("request") == "plan":  # said before the requester hears
            gw._plan_changed(asked["plan"], gw.link.boot)
        on_result = self._on_result.pop(seq, None)
        if on_result is not None:
            try:
                on_result(result)
            except Exception:  # the requester's problem; the loop goes on
                log.exception("result callback for command %d failed", seq)
        asked["result"] = result
        if (asked.get("source") == gw.planner.name and asked.get("request") == "switch"
                and reason == "would starve a call" and gw.state is not None):  # fmt: skip
            self._starving, self._clear_due = gw.state["phase"], True
        key = "acks_ok" if result == "ok" else "unanswered" if result == "unanswered" else None
        gw.stats[key or "acks_refused"] += 1
        gw._queue(DECISIONS, gw.topics.decision, asked)  # a record: never lost, like events

    # the optimizer loop -------------------------------------------------------------------
    def _decide(self) -> None:
        gw = self.gw
        st = gw.state
        if st is None or st["mode"] != "remote" or st["phase"] is None:
            return
        if not self._optimizer_ready.is_set():
            return  # still loading: no decision waits for a compiler
        current = st["phase"]
        if self._override is not None:
            if self._override == (current,):
                return
            self._override = None
        if not all(st["signals"][g] in "Gg" for g in gw.phase_groups[current]):
            return  # in clearance: the controller is already changing phase
        name = gw.planner.name
        if self._starving is not None:
            if self._starving == current:
                # The plan wants this green to end, but not for the phase it asked for: drop
                # our hold and let the controller end it for the call it must serve first.
                if self._clear_due:
                    self._clear_due, self._last_request = False, None
                    self._send(P.CMD_CLEAR, 0, current, name,
                               extra={"algorithm": name, "why": "would starve a call"})  # fmt: skip
                return
            self._starving = None
        now = gw.clock.s()
        best, plan = gw.planner.decide(now, current, now - st["since"])
        outflow = getattr(gw.planner, "outflow", None)
        if outflow is not None:  # coordination: what this plan sends downstream, and when
            gw._publish(gw.topics.outflow, {"t": round(now, 3), "phases": outflow()},
                        qos=0, retain=True)  # fmt: skip
        request = (P.CMD_HOLD, current) if best == current else (P.CMD_SWITCH, best)
        # one request per decision change: the controller keeps a request until it is served
        key = (request, current, st["signals"])
        if key == self._last_request:
            return
        self._last_request = key
        self._send(*request, current, name, extra={"algorithm": name, **plan})

    def _send(
        self,
        code: int,
        arg: int,
        current: int | None,
        source: str,
        auth: Command | None = None,
        on_result: Callable[[str], None] | None = None,
        extra: dict | None = None,
    ) -> None:
        gw = self.gw
        seq = gw.link.command(code, arg, auth)
        if on_result is not None:
            self._on_result[seq] = on_result
        if code in (P.CMD_CLEAR, P.CMD_FLASH, P.CMD_CLEAR_FLASH, P.CMD_PLAN):
            name = None  # no phase in the argument
            if code == P.CMD_PLAN:
                extra = {"plan": arg, **(extra or {})}
        else:
            name = gw.ix.phases[arg].name if 0 <= arg < len(gw.ix.phases) else str(arg)
        decision = {
            "t": round(gw.clock.s(), 3),
            "source": source,
            "request": P.CMD_NAMES.get(code, str(code)),
            "phase": name,
            "from": None if current is None else gw.ix.phases[current].name,
            "queues": dict(zip(gw.estimator.groups, gw.queues, strict=True)),
            **(extra or {}),
        }
        self._asked[seq] = decision
        gw.decisions.append(decision)
        del gw.decisions[:-50]
        gw.stats["decisions"] += 1
