"""The whole chain on real parts: firmware on MicroPython -> throttled pty -> gateway (pyserial)
-> the broker fixture (a real Mosquitto with auth and ACL in CI), and decisions back down."""

import json
import threading
import time
import uuid

import paho.mqtt.client as paho
import pytest

from edge.factories import cross
from gateway.clock import ScaledClock
from gateway.mqtt import Mqtt
from gateway.service import Gateway
from hil_tests.rig.emulator import EmulatedController

SPEED = 10.0


class Watcher:
    """A viewer subscribed to one intersection's topics, collecting every message."""

    def __init__(self, broker, base):
        self.base = base
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="e2e-viewer")
        user = "viewer" if "viewer" in broker.users else None
        if user:
            self.c.username_pw_set(user, broker.users[user])
        self.c.on_message = self._on
        self.c.connect(broker.host, broker.port)
        self.c.subscribe(f"{base}/#", qos=1)
        self.c.loop_start()

    def _on(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, msg.retain))

    def on(self, suffix):
        with self.lock:
            return [
                json.loads(p) if p[:1] in b"{[" else p.decode()
                for t, p, _ in self.messages
                if t == self.base + suffix
            ]

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class OpenCut:
    """Tells the frame the gateway's decoder may drop because of *when* the port was opened
    from frames dropped later.

    pyserial's `open()` flushes the input (tcflush), and the rig's wire may be half-way through
    a frame at that moment: it relays in random chunks paced at the line rate, and on a loaded
    machine its sleeps overshoot, so the gap between two chunks of one frame widens. The first
    bytes the gateway reads are then the tail of a frame, which fails its CRC (or COBS, or is
    short) and is dropped and counted. Only the first delimited run after the open can be such
    a tail. Any frame dropped after it needs bytes lost on the wire (`lost_up`: the pty was full
    because the gateway read too slowly), or it is a real fault."""

    def __init__(self, decoder, wire):
        self.decoder = decoder
        self.wire = wire
        self.at_open: int | None = None  # dropped in the first run: 0, or 1 for a cut frame
        self.lost_at_open = 0
        self._feed = decoder.feed
        decoder.feed = self.feed  # the gateway's link calls decoder.feed(data)

    def feed(self, data):
        if self.at_open is not None:
            return self._feed(data)
        end = bytes(data).find(b"\x00")
        if end < 0:
            return self._feed(data)
        out = self._feed(data[: end + 1])
        self.at_open = self.decoder.dropped
        self.lost_at_open = self.wire.lost_up
        return out + self._feed(data[end + 1 :])

    def check(self):
        """Fail unless every frame dropped after the first run is explained by lost bytes."""
        assert self.at_open is not None and self.at_open <= 1, self.decoder.errors
        later = self.decoder.dropped - self.at_open
        lost = self.wire.lost_up - self.lost_at_open
        assert later == 0 or lost > 0, (
            f"{later} frame(s) dropped after the first with no byte lost on the wire: "
            f"{self.decoder.errors}"
        )


def _wait(pred, timeout, what, rig=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        if rig is not None and not rig.alive:
            pytest.fail(
                f"the firmware exited while waiting for {what}; log {rig.log_path}:\n"
                f"{rig.log_tail()}"
            )
        time.sleep(0.05)
    extra = f"\nfirmware log {rig.log_path}:\n{rig.log_tail()}" if rig else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}{extra}")


@pytest.fixture
def chain(broker, rig_kind):
    ix = cross()
    epoch = time.time_ns()
    clock = ScaledClock(epoch, SPEED)
    site = f"t{uuid.uuid4().hex[:8]}"  # retained messages of earlier tests stay out of sight
    watcher = Watcher(broker, f"greenwave/{site}/{ix.id}")
    rig = EmulatedController(ix, clock="scaled", speed=SPEED, epoch_ns=epoch).start()
    user = "gateway" if "gateway" in broker.users else None
    mqtt = Mqtt(
        broker.url,
        "e2e-gateway",
        f"greenwave/{site}/{ix.id}/availability",
        username=user,
        password=broker.users.get(user) if user else None,
    ).connect()
    gw = Gateway(ix, rig.port, mqtt, clock, site=site)
    gw.open_cut = OpenCut(gw.link.decoder, rig._wire)  # the rig's cable, for its lost bytes
    gw.start()
    yield ix, rig, gw, watcher
    gw.stop()
    mqtt.close()
    rig.stop()
    watcher.close()


def test_detector_activity_reaches_the_broker_and_decisions_reach_the_heads(chain):
    ix, rig, gw, watcher = chain
    _wait(lambda: "online" in watcher.on("/availability"), 10, "availability online", rig)
    # controller comes out of start-up into remote mode once it hears the gateway
    _wait(
        lambda: any(s.get("mode") == "remote" for s in watcher.on("/state")),
        20,
        "state mode=remote",
        rig,
    )

    # queue vehicles on the last phase only: advance loops pulse, stop-bar loops held
    side = ix.phases[-1]
    adv = [d for d in ix.detectors if set(d.calls) & set(side.groups) and d.role == "advance"]
    bar = [d for d in ix.detectors if set(d.calls) & set(side.groups) and d.role == "stop_bar"]
    hold = sum(1 << d.input for d in bar)
    for _ in range(6):
        rig.set_detectors(hold | sum(1 << d.input for d in adv))
        time.sleep(0.1)
        rig.set_detectors(hold)
        time.sleep(0.1)

    def counted():
        for tel in watcher.on("/telemetry"):
            if all(tel["detectors"][d.name]["count"] >= 3 for d in adv):
                return True
        return False

    _wait(counted, 15, "advance detector counts on the telemetry topic", rig)
    tel = watcher.on("/telemetry")
    seqs = [m["seq"] for m in tel]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert any(m["queues"][g] >= 1 for m in tel for g in side.groups)

    # the optimizer asks for the loaded phase (a switch to it, or a hold once the controller's
    # own actuation has it green); the controller accepts and the heads show it
    def asked():
        return any(
            d["source"] == "max-pressure" and d["phase"] == side.name and d.get("result") == "ok"
            for d in watcher.on("/decision")
        )

    _wait(asked, 30, f"an accepted max-pressure request for {side.name}", rig)
    idx = [ix.group_index(g) for g in side.groups]
    _wait(lambda: all(rig.signals[i] == "G" for i in idx), 30, f"{side.name} green", rig)
    assert rig.oracle.violations == []
    states = watcher.on("/state")
    assert any(s["phase_name"] == side.name and s["mode"] == "remote" for s in states)
    gw.open_cut.check()  # no dropped frame but one cut by the open, unless bytes were lost


def test_a_switch_request_alone_moves_the_heads_and_a_bad_one_is_refused(chain):
    """No detector demand at all: only the gateway's request can bring the side phase up."""
    from firmware import protocol as P

    ix, rig, gw, watcher = chain
    _wait(
        lambda: any(s.get("mode") == "remote" for s in watcher.on("/state")),
        20,
        "state mode=remote",
        rig,
    )
    side = len(ix.phases) - 1
    idx = [ix.group_index(g) for g in ix.phases[side].groups]
    assert not all(rig.signals[i] == "G" for i in idx)
    gw.request(P.CMD_SWITCH, side)
    _wait(lambda: all(rig.signals[i] == "G" for i in idx), 30, "the requested phase green", rig)
    gw.request(P.CMD_SWITCH, 99)
    _wait(
        lambda: any(
            d["phase"] == "99" and d.get("result", "").startswith("refused")
            for d in watcher.on("/decision")
        ),
        10,
        "the refusal of phase 99",
        rig,
    )
    _wait(
        lambda: any(e["event"] == "refused" for e in watcher.on("/events")),
        10,
        "a refused event",
        rig,
    )
    assert rig.oracle.violations == []
