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
    # max-pressure here: this chain test needs no Numba kernels (the schedule's are tested in
    # tests/gateway and by the demo test)
    gw = Gateway(ix, rig.port, mqtt, clock, site=site, algorithm="max-pressure")
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


@pytest.fixture
def signed_chain(broker, rig_kind):
    """The chain with keys: the controller provisioned with the operator's own key K and the link
    key (keys.json on its flash), the gateway with K_gw and the link key, as in the field."""
    import os

    from gateway.secrets import controller_keys
    from gateway.signing import gateway_key

    ix = cross()
    epoch = time.time_ns()
    clock = ScaledClock(epoch, SPEED)
    site = f"t{uuid.uuid4().hex[:8]}"
    key, link = os.urandom(32), os.urandom(32)
    watcher = Watcher(broker, f"greenwave/{site}/{ix.id}")
    # a board's 64k: with keys, firmware/auth.py is loaded at start-up and stays, and each
    # check needs only its work (docs/architecture.md, "Memory")
    rig = EmulatedController(ix, clock="scaled", speed=SPEED, epoch_ns=epoch, heapsize="64k")
    rig.provision()
    rig.provision_keys(controller_keys(site, {"alice": key}, link))
    rig.start()
    user = "gateway" if "gateway" in broker.users else None
    mqtt = Mqtt(
        broker.url, "e2e-gateway", f"greenwave/{site}/{ix.id}/availability",
        username=user, password=broker.users.get(user) if user else None,
    ).connect()  # fmt: skip
    gw = Gateway(ix, rig.port, mqtt, clock, site=site, link_key=link,
                 operator_keys={"alice": gateway_key(key, site, ix.id)})  # fmt: skip
    gw.start()
    op_user = "operator" if "operator" in broker.users else None
    op = Mqtt(
        broker.url, "e2e-operator", None, protocol=4,
        username=op_user, password=broker.users.get(op_user) if op_user else None,
    ).connect()  # fmt: skip
    yield ix, rig, gw, watcher, op, site, key
    op.close(offline=False)
    gw.stop()
    mqtt.close()
    rig.stop()
    watcher.close()


def test_an_operator_signed_preempt_runs_on_the_firmware_and_a_gateway_key_forgery_does_not(
    signed_chain,
):
    """Operator -> Mosquitto -> gateway (checks gw_sig) -> SIGNED COMMAND over the pty ->
    MicroPython (checks sig against keys.json): the preempt phase comes up through clearance.
    A preempt signed with K_gw, which the gateway holds, passes the gateway and not the
    controller; the gateway's own requests carry the link tag and are accepted."""
    from firmware import protocol as P
    from gateway.signing import canonical, hmac_sha256, sign

    ix, rig, gw, watcher, op, site, key = signed_chain
    base = f"greenwave/{site}/{ix.id}"
    _wait(lambda: any(s.get("mode") == "remote" for s in watcher.on("/state")), 20,
          "state mode=remote", rig)  # fmt: skip
    gw.request(P.CMD_HOLD, 0)  # link-tagged: the controller takes the gateway's own request
    _wait(lambda: any(d["request"] == "hold" and "result" in d for d in watcher.on("/decision")),
          10, "the answer to a link-tagged hold", rig)  # fmt: skip
    hold = [d for d in watcher.on("/decision") if d["request"] == "hold" and "result" in d][0]
    assert hold["result"] in ("ok", "refused: not green", "refused: at max green"), hold

    def answer(nonce):
        found = [r for r in watcher.on("/reply/preempt") if r["nonce"] == nonce]
        return found[0]["result"] if found else None

    k_gw = gw.operator_keys["alice"]
    forged = sign("alice", k_gw, site, ix.id, "preempt", 1, now=time.time())
    msg = canonical(site, ix.id, "preempt", 1, "alice", forged["ts"], forged["exp"],
                    forged["nonce"])  # fmt: skip
    forged["gw_sig"] = hmac_sha256(k_gw, msg).hex()
    op.publish(f"{base}/cmd/preempt", json.dumps(forged), qos=1)
    _wait(lambda: answer(forged["nonce"]), 10, "the answer to a K_gw-signed preempt", rig)
    assert answer(forged["nonce"]) == "refused: bad signature"

    side = len(ix.phases) - 1
    idx = [ix.group_index(g) for g in ix.phases[side].groups]
    cmd = sign("alice", key, site, ix.id, "preempt", side, now=time.time())
    op.publish(f"{base}/cmd/preempt", json.dumps(cmd), qos=1)
    _wait(lambda: answer(cmd["nonce"]), 10, "the answer to a signed preempt", rig)
    assert answer(cmd["nonce"]) == "ok"
    _wait(lambda: all(rig.signals[i] == "G" for i in idx), 30, "the preempt phase green", rig)
    op.publish(f"{base}/cmd/preempt", json.dumps(cmd), qos=1)  # the same again: a replay
    _wait(lambda: len([r for r in watcher.on("/reply/preempt") if r["nonce"] == cmd["nonce"]]) > 1,
          10, "the answer to the replay", rig)  # fmt: skip
    assert [r["result"] for r in watcher.on("/reply/preempt") if r["nonce"] == cmd["nonce"]] == [
        "ok",
        "refused: replayed nonce",
    ]  # the gateway's window; the controller's is unit-tested
    assert rig.oracle.violations == []
    assert b"MemoryError" not in rig.log_path.read_bytes()


def test_on_a_64k_heap_signed_commands_never_crash_the_controller(rig_kind):
    """With keys, firmware/auth.py stays loaded and each check needs about 1 KB of work; where
    the heap has no room for it the command is refused "out of memory" and the controller runs
    on: no command crashes it, whatever the margin (docs/architecture.md, "Memory")."""
    import os

    from firmware import protocol as P
    from gateway.link import SerialLink
    from gateway.secrets import controller_keys
    from gateway.signing import Verifier, gateway_key, sign

    ix = cross()
    key, link = os.urandom(32), os.urandom(32)
    epoch = time.time_ns()
    rig = EmulatedController(ix, clock="scaled", speed=SPEED, epoch_ns=epoch, heapsize="64k")
    rig.provision()
    rig.provision_keys(controller_keys("demo", {"alice": key}, link))
    rig.start()
    lk = SerialLink(rig.port, ix.link.baud, ScaledClock(epoch, SPEED).ms, link).open()
    verifier = Verifier({"alice": gateway_key(key, "demo", ix.id)}, "demo", ix.id)
    answers = []
    try:
        _wait(lambda: lk.receive() is not None and lk.boot is not None, 10, "a heartbeat", rig)
        for i in range(6):
            if i % 2:
                lk.command(P.CMD_HOLD, 0)
            else:
                c = sign("alice", key, "demo", ix.id, "preempt", 255, now=time.time())
                lk.command(P.CMD_PREEMPT, 255, verifier.check("preempt", json.dumps(c).encode(),
                                                              time.time()))  # fmt: skip

            def answered(n=i + 1):
                for mtype, _seq, payload in lk.receive():
                    if mtype == P.T_ACK:
                        answers.append(P.unpack_ack(payload)[1:])
                return len(answers) >= n

            _wait(answered, 10, f"the answer to command {i}", rig)
        assert rig.alive and b"MemoryError" not in rig.log_path.read_bytes(), rig.log_tail()
        allowed = ("", "out of memory", "not green", "at max green", "not in remote mode")
        assert all(reason in allowed for _result, reason in answers), answers
    finally:
        lk.close()
        rig.stop()
