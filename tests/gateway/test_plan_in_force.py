"""gateway.plan_in_force: the timing plan in force across gateway restarts and controller boots.

A plan belongs to the controller boot that said ok to it: the outbox keeps both, a restarted
gateway says the plan at once, and a boot it missed (the heartbeat's boot id) or safe mode's
bare heartbeat puts it back to plan 0. The rig is test_commands.py's (signed PLAN commands).
"""

import json
import struct
import time

import pytest

from edge.factories import cross
from firmware import config as fwconfig
from firmware import protocol as P
from firmware.controller import Controller
from gateway.clock import ScaledClock
from gateway.mqtt import Mqtt
from gateway.outbox import Outbox
from gateway.service import Gateway
from tests.gateway.test_commands import _op_rig
from tests.gateway.test_service import wait_for


@pytest.fixture
def plans_rig_on_disk(make_rig, broker, tmp_path):
    """plans_rig with its outbox in a file, as `greenwave gateway run` keeps it."""
    path = tmp_path / "outbox.sqlite3"
    yield from _op_rig(make_rig, broker, ix=cross(plans=True), outbox=Outbox(path))


def _stop_gateway(rig):
    rig.gw.stop()
    rig.gw.outbox.close()


def _start_gateway(rig):
    """Another gateway on the same port, broker connection and outbox file, as after a crash
    or an upgrade of the cabinet computer."""
    old = rig.gw
    rig.gw = Gateway(
        rig.ix, rig.peer.path, rig.mqtt, rig.clock, site=rig.site, decision_period_s=1e9,
        operator_keys=old.operator_keys, link_key=rig.link_key, outbox=Outbox(old.outbox.path),
    )  # fmt: skip
    rig.gw.start()
    return rig.gw


def test_a_restarted_gateway_says_the_plan_in_force_until_the_controller_boots(plans_rig_on_disk):
    rig, op = plans_rig_on_disk
    rig.remote_green()
    signed = op.sign("plan", 2)
    op.send("plan", json.dumps(signed))
    assert op.answer(lambda b: b["nonce"] == signed["nonce"])[1]["result"] == "ok"
    rig.inbox.wait("plan", lambda m: m["plan"] == 2)

    # the gateway restarts while the controller runs on in plan 2: it says plan 2 at once
    _stop_gateway(rig)
    _start_gateway(rig)
    msg = rig.inbox.wait("plan")
    assert (msg["plan"], msg["plan_name"]) == (2, "ns_priority"), msg
    assert [p["max_green_s"] for p in msg["phases"]] == [30.0, 45.0, 20.0, 25.0]
    # and still once it has heard the controller's heartbeats: the same boot, the same plan
    n = len(rig.inbox.drain("plan"))
    frames = rig.gw.stats["frames"]
    wait_for("heartbeats", lambda: rig.gw.stats["frames"] > frames + 20)
    assert rig.gw.plan_in_force == 2 and rig.gw.plan_boot == rig.peer.boot
    assert rig.inbox.drain("plan")[n:] == []

    # the controller reboots while the gateway is down: its boot EVENT is lost (the port is
    # flushed when the gateway opens it), yet the new boot id in its heartbeat says plan 0
    _stop_gateway(rig)
    peer = rig.peer
    with peer.lock:
        peer.cfg = fwconfig.load(rig.ix.to_compact())
        peer.ctl = Controller(peer.cfg, peer.now(), peer.keys, peer.boot + 1)
        t0 = peer.now()
    wait_for("the controller's boot EVENT to be sent", lambda: peer.now() - t0 > 2000)
    gw = _start_gateway(rig)
    msg = rig.inbox.wait("plan", lambda m: m["plan"] == 0)
    assert [p["max_green_s"] for p in msg["phases"]] == [30.0, 45.0, 30.0, 40.0]
    assert gw.plan_in_force == 0 and gw.outbox.noted("plan") == 0
    booted = [e for e in rig.inbox.drain("events") if e["event"] == "boot"]
    assert all(e["session"] < gw.outbox.session for e in booted), booted  # not from the event


def test_the_plan_ends_with_the_controller_boot_it_was_accepted_in(tmp_path):
    """The rules without a broker: a plan belongs to the controller boot that said ok to it."""
    ix = cross(plans=True)
    mqtt = Mqtt("mqtt://127.0.0.1:1", "unused", "unused/availability")  # never connected
    path = tmp_path / "outbox.sqlite3"

    def gateway():
        gw = Gateway(ix, "loop://", mqtt, ScaledClock(time.time_ns(), 1.0), site="s")
        gw.outbox = Outbox(path)
        return gw

    def heartbeat(gw, boot=None):
        body = struct.pack(">I", 5) if boot is None else struct.pack(">III", 5, boot, 0)
        gw._on_frame(P.T_HEARTBEAT, body)

    gw = gateway()
    gw._plan_changed(1, None)  # an ok heard before any heartbeat: the next one says the boot
    heartbeat(gw, 7)
    assert (gw.plan_in_force, gw.plan_boot) == (1, 7)
    gw.outbox.close()
    gw = gateway()  # restarted: start() takes up what the outbox kept
    gw.recall_plan()
    assert (gw.plan_in_force, gw.plan_boot) == (1, 7)
    heartbeat(gw, 7)
    assert gw.plan_in_force == 1
    heartbeat(gw, 8)  # another boot: plan 0
    assert (gw.plan_in_force, gw.plan_boot) == (0, None)
    assert gw.outbox.noted("plan") == 0 and gw.outbox.noted("plan_boot") is None
    gw._plan_changed(2, 8)
    heartbeat(gw)  # a bare heartbeat: safe or maintenance mode, no app, no plan
    assert gw.plan_in_force == 0
    gw._plan_changed(2, 8)
    gw._on_frame(P.T_EVENT, P.pack_event(P.EV_BOOT, 0, "boot cross"))
    assert gw.plan_in_force == 0
