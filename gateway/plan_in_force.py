"""The timing plan in force, as far as the gateway knows, across its restarts and the controller's.

The controller does not report its plan: the gateway keeps the one the controller said ok to
(gateway/requests.py), with the controller's boot id from its heartbeat, in the outbox, so a
restarted gateway goes on saying it on the retained `plan` topic. A boot (its EVENT, or a
heartbeat with another boot id, or safe mode's bare heartbeat) puts it back to plan 0, the
config's own timing (docs/gateway.md, "The plan in force across restarts"). `PlanInForce` is a
part of `gateway.service.Gateway`, whose constructor sets the attributes below.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from firmware import protocol as P

log = logging.getLogger("greenwave.gateway")


class PlanInForce:
    """The plan in force: recalled at start, changed by the controller's answers and boots."""

    ix: Any  # edge.model.Intersection
    outbox: Any  # gateway.outbox.Outbox
    topics: Any  # gateway.topics.Topics
    plan_in_force: int
    plan_boot: int | None

    def recall_plan(self) -> None:
        """Take up the plan in force that the outbox kept from the last run (start())."""
        k = self.outbox.noted("plan") or 0
        if 0 < k <= len(self.ix.plans):  # else another config's: this one starts on plan 0
            self.plan_in_force, self.plan_boot = k, self.outbox.noted("plan_boot")
            log.info("timing plan %d was in force when this gateway last ran; the controller's "
                     "heartbeat says whether it has booted since", k)  # fmt: skip

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
