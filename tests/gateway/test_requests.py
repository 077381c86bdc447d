"""gateway.requests end to end: operator requests and the optimizer's decisions, answered.

The rig is test_service.py's: the firmware's `Controller` on CPython behind a pseudo-terminal,
a ScaledClock SPEED times faster than the wall clock, and the real test broker.
"""

import queue
import time

import pytest

from edge.factories import cross
from firmware import protocol as P
from gateway.clock import ScaledClock
from gateway.link import LinkError
from gateway.mqtt import Mqtt
from gateway.service import Gateway
from tests.gateway.test_service import TIMEOUT_S, wait_for


@pytest.fixture
def rig(make_rig):
    return make_rig()


def test_a_switch_request_is_answered_ok_and_the_signals_follow(rig):
    st = rig.remote_green()
    target = (st["phase"] + 2) % len(rig.ix.phases)
    rig.gw.request(P.CMD_SWITCH, target)
    d = rig.decision()
    assert d["result"] == "ok"
    assert d["request"] == "switch"
    assert d["source"] == "operator"
    assert d["phase"] == rig.ix.phases[target].name
    assert d["from"] == rig.ix.phases[st["phase"]].name
    want = rig.phase_signals(target)
    wait_for(f"controller signals {want}", lambda: rig.peer.signals() == want)
    new = rig.inbox.wait("state", lambda s: s["signals"] == want)
    assert new["phase"] == target and new["mode"] == "remote"
    assert rig.gw.stats["acks_ok"] == 1


def test_a_switch_to_a_phase_that_does_not_exist_is_refused(rig):
    st = rig.remote_green()
    rig.gw.request(P.CMD_SWITCH, 9)
    d = rig.decision()
    assert d["result"] == "refused: unknown phase"
    assert d["phase"] == "9"
    assert rig.gw.stats["acks_refused"] == 1
    events = rig.inbox.wait("events", lambda e: e["event"] == "refused")
    assert events["detail"] == "unknown phase"
    assert rig.peer.signals() == st["signals"]  # nothing moved


def test_requests_the_cable_cannot_carry_are_refused_with_the_reason_not_lost(rig, monkeypatch):
    """Fault injection (a pty cannot be made to fail one write on cue while its reads work):
    the link's write raises as pyserial's does when the cable is pulled. Every request not
    sent is answered at once with why, and the gateway serves again once the port works."""
    rig.remote_green()
    real = rig.gw.link._write

    def pulled(frame):
        raise LinkError("writing to the port failed: [Errno 5] Input/output error")

    got = queue.Queue()
    monkeypatch.setattr(rig.gw.link, "_write", pulled)
    for _ in range(3):
        rig.gw.request(P.CMD_HOLD, 0, source="operator:alice", on_result=got.put)
    results = [got.get(timeout=TIMEOUT_S) for _ in range(3)]
    assert all(r.startswith("refused: no link to the controller (writing") for r in results)
    assert rig.gw.stats["link_errors"] >= 1
    monkeypatch.setattr(rig.gw.link, "_write", real)
    rig.gw.request(P.CMD_HOLD, 0, on_result=got.put)
    assert got.get(timeout=TIMEOUT_S) in ("ok", "refused: at max green")  # the controller's


def test_a_request_during_start_up_is_refused(rig):
    rig.gw.request(P.CMD_HOLD, 0)
    d = rig.decision()
    assert d["result"] == "refused: not in remote mode"
    assert d["request"] == "hold"
    assert (d["session"], d["seq"]) == (rig.gw.outbox.session, 1)  # numbered like events


def test_the_optimizer_switches_to_the_phase_with_the_queue(make_rig):
    from gateway.planner import warm_up

    warm_up("max-pressure")  # a cold Numba cache compiles here, not inside the test's waits
    rig = make_rig(decision_period_s=1.0, min_switch_gain=0.5, algorithm="max-pressure")
    st = rig.remote_green()
    hold = rig.decision(lambda d: d["source"] == "max-pressure")
    assert (hold["request"], hold["phase"], hold["result"]) == (
        "hold",
        rig.ix.phases[st["phase"]].name,
        "ok",
    )
    target = (st["phase"] + 2) % len(rig.ix.phases)
    waiting = [
        d.input
        for d in rig.ix.detectors
        if d.role == "stop_bar" and d.calls[0] in rig.ix.phases[target].groups
    ]
    with rig.peer.lock:
        rig.peer.levels = sum(1 << i for i in waiting)  # one car waits on each stop bar
    d = rig.decision(lambda d: d["request"] == "switch")
    assert (d["phase"], d["result"], d["source"], d["algorithm"]) == (
        rig.ix.phases[target].name,
        "ok",
        "max-pressure",
        "max-pressure",
    )
    assert "plan" not in d
    assert d["queues"] == {
        g.name: (1.0 if g.name in rig.ix.phases[target].groups else 0.0) for g in rig.ix.groups
    }
    want = rig.phase_signals(target)
    wait_for(f"controller signals {want}", lambda: rig.peer.signals() == want)


def _schedule_rig(make_rig):
    from gateway.planner import warm_up

    warm_up("schedule")  # a cold Numba cache compiles here, not inside the test's waits
    return make_rig(decision_period_s=1.0, algorithm="schedule")


def _inputs(rig, phase, role):
    groups = set(rig.ix.phases[phase].groups)
    return sum(1 << d.input for d in rig.ix.detectors if d.role == role and set(d.calls) & groups)


def test_the_schedule_optimizer_switches_to_a_phase_whose_queue_grows(make_rig):
    rig = _schedule_rig(make_rig)
    st = rig.remote_green()
    current = rig.ix.phases[st["phase"]]
    hold = rig.decision(lambda d: d["source"] == "schedule")
    assert (hold["request"], hold["phase"], hold["result"]) == ("hold", current.name, "ok")
    assert hold["algorithm"] == "schedule"
    assert hold["plan"]["next_phase"] is None  # nothing waits anywhere: the green rests
    target = (st["phase"] + 2) % len(rig.ix.phases)
    with rig.peer.lock:  # a car a second reaches each advance loop of target; none leaves
        rig.peer.pulse = _inputs(rig, target, "advance")
    d = rig.decision(lambda d: d["request"] == "switch")
    assert (d["phase"], d["from"], d["result"]) == (rig.ix.phases[target].name, current.name, "ok")
    assert (d["source"], d["algorithm"]) == ("schedule", "schedule")
    assert d["plan"]["next_phase"] == rig.ix.phases[target].name
    assert d["plan"]["switch_in_s"] <= 1.0  # switch now: within this decision period
    assert all(d["queues"][g] >= 1 for g in rig.ix.phases[target].groups)
    new = rig.inbox.wait("state", lambda s: s["signals"] == rig.phase_signals(target))
    # the request, not the controller's own max-out (which would come after max green) did it
    clearance = current.yellow_s + current.all_red_s
    assert new["since"] - st["since"] < current.max_green_s + clearance
    # its queue is still there and still growing: the new green is held for it
    again = rig.decision(lambda d: d["from"] == rig.ix.phases[target].name)
    assert (again["request"], again["phase"]) == ("hold", rig.ix.phases[target].name)
    # the plan's departures, published (retained) for downstream neighbours: the target's
    # platoon leaves over the stop line within the horizon, while its green is held
    name = rig.ix.phases[target].name
    out = rig.inbox.wait("outflow", lambda m: m["phases"].get(name))
    assert set(out["phases"]) == {p.name for p in rig.ix.phases}
    assert sum(n for _, _, n in out["phases"][name]) >= 1
    assert all(0 <= a < 120 and dur >= 0 for a, dur, _ in out["phases"][name])


def test_the_schedule_optimizer_ends_a_green_with_nothing_waiting_for_a_waiting_car(make_rig):
    rig = _schedule_rig(make_rig)
    st = rig.remote_green()
    current = rig.ix.phases[st["phase"]]
    rig.decision(lambda d: d["source"] == "schedule" and d["request"] == "hold")
    target = (st["phase"] + 1) % len(rig.ix.phases)
    with rig.peer.lock:
        rig.peer.levels = _inputs(rig, target, "stop_bar")  # one car waits at each stop bar
    d = rig.decision(lambda d: d["request"] == "switch")
    assert (d["phase"], d["result"], d["algorithm"]) == (rig.ix.phases[target].name, "ok",
                                                         "schedule")  # fmt: skip
    new = rig.inbox.wait("state", lambda s: s["signals"] == rig.phase_signals(target))
    assert new["since"] - st["since"] < current.max_green_s + current.yellow_s + current.all_red_s
    with rig.peer.lock:
        rig.peer.levels = 0  # served: nothing waits anywhere now
    rest = rig.decision(lambda d: d["from"] == rig.ix.phases[target].name)
    assert rest["request"] == "hold" and rest["plan"]["next_phase"] is None


@pytest.mark.parametrize("code", [P.CMD_SWITCH, P.CMD_CALL, P.CMD_OMIT, P.CMD_PREEMPT])
@pytest.mark.parametrize("arg", [-1, 256, 1000])
def test_a_request_whose_argument_does_not_fit_one_byte_is_refused_before_the_wire(code, arg):
    # pack_command masks the argument to a byte: 256 would reach the controller as phase 0
    ix = cross()
    mqtt = Mqtt("mqtt://127.0.0.1:1", "unused", "unused/availability")  # never connected
    gw = Gateway(ix, "loop://", mqtt, ScaledClock(time.time_ns(), 1.0), site="s")
    with pytest.raises(ValueError, match="does not fit the wire"):
        gw.request(code, arg)
    gw.request(code, 1)  # in range: queued
    assert gw.requests._requests.qsize() == 1
