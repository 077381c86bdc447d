"""gateway.service.Gateway end to end, without the MicroPython rig.

The peer is the firmware's own `Controller` running on CPython in a thread, on the far side of a
real pseudo-terminal pair; the gateway opens the slave path with pyserial as it would open
/dev/ttyUSB0. Both read one ScaledClock running SPEED times faster than the wall clock, so
start-up (8 s) and a phase change (about 12 s) take about a second. MQTT is the real test broker.
"""

import json
import os
import queue
import select
import socket
import threading
import time
import tty
import uuid

import pytest

from edge.factories import cross
from firmware import config as fwconfig
from firmware import protocol as P
from firmware.controller import Controller
from gateway.clock import ScaledClock
from gateway.mqtt import Mqtt
from gateway.service import Gateway
from gateway.signing import gateway_key

SPEED = 10.0
TIMEOUT_S = 10.0  # wall-clock seconds for anything to show up
PERIOD = 1 << 30


class Peer(threading.Thread):
    """The controller side: steps a firmware Controller against the shared clock every few ms,
    feeds it what arrived on the pty master and writes back what it sent."""

    def __init__(self, ix, clock, keys=None, boot=0x51D):
        super().__init__(name="controller-peer", daemon=True)
        self.keys = keys  # as Controller takes them: what a controller's keys.json provisions
        self.boot = boot
        self.clock = clock
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.lock = threading.Lock()
        self.levels = 0  # detector input mask, set by the test
        self.pulse = 0  # inputs switched on for 300 ms of every virtual second
        self.cfg = fwconfig.load(ix.to_compact())
        self.ctl = Controller(self.cfg, self.now(), keys, boot)
        self._stop_flag = threading.Event()
        self.error = None
        self.shown = set()  # every signal string the heads have shown

    def now(self):
        return self.clock.ms() % PERIOD

    def run(self):
        with self.lock:  # power comes on now: start-up (8 s of the clock) starts here
            self.ctl = Controller(self.cfg, self.now(), self.keys, self.boot)
        try:
            while not self._stop_flag.is_set():
                ready = select.select([self.master], [], [], 0.003)[0]
                rx = os.read(self.master, 4096) if ready else None
                now = self.now()
                with self.lock:
                    levels = self.levels | (self.pulse if now % 1000 < 300 else 0)
                    self.ctl.step(now, levels, rx)
                    self.shown.add(self.ctl.signals.decode())
                    out = self.ctl.take_output()
                if out:
                    os.write(self.master, out)
        except Exception as e:  # surfaced by the fixture, not lost in the thread
            self.error = e

    def signals(self):
        with self.lock:
            return self.ctl.signals.decode()

    def mode(self):
        with self.lock:
            return self.ctl.mode

    def stop(self):
        self._stop_flag.set()
        self.join(timeout=5)
        for fd in (self.master, self._slave):
            os.close(fd)


class Inbox:
    """Everything the gateway published, by topic suffix, JSON decoded where it is JSON."""

    def __init__(self, base):
        self.base = base + "/"
        self.q = queue.Queue()
        self.seen = []

    def __call__(self, topic, payload):
        self.q.put((topic[len(self.base) :], payload))

    def wait(self, topic, pred=lambda m: True, timeout=TIMEOUT_S):
        """The first new message on `topic` that satisfies `pred`; fail with what came instead."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                t, raw = self.q.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                recent = [m for m in self.seen if m[0] == topic][-5:]
                pytest.fail(f"nothing matching on {topic!r} within {timeout} s; last: {recent!r}")
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = raw.decode()
            self.seen.append((t, msg))
            if t == topic and pred(msg):
                return msg

    def drain(self, topic):
        """Every message on `topic` so far, the ones not yet waited for included (no waiting)."""
        while True:
            try:
                t, raw = self.q.get_nowait()
            except queue.Empty:
                return [m for t, m in self.seen if t == topic]
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = raw.decode()
            self.seen.append((t, msg))


def wait_for(what, cond, timeout=TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def creds(broker, user="gateway"):
    return {"username": user, "password": broker.users[user]} if broker.users else {}


class Rig:
    """A gateway, its controller peer and a watcher subscribed to everything it publishes.

    `operator_keys` are the operators' own keys K: the controller peer is provisioned with them
    and the gateway gets the K_gw derived from them, as in the field; both share a random link
    key (`link_key=None` for a controller without keys)."""

    def __init__(
        self, broker, decision_period_s, min_switch_gain, url=None, site=None, protocol=4,
        operator_keys=None, link_key=True, ix=None, **gw_kw,
    ):  # fmt: skip
        self.ix = ix or cross()
        self.clock = ScaledClock(time.time_ns(), SPEED)
        self.site = site or f"test-{uuid.uuid4().hex[:8]}"
        self.base = f"greenwave/{self.site}/{self.ix.id}"
        self.broker = broker
        ops = dict(operator_keys or {})
        self.link_key = os.urandom(32) if link_key is True else link_key
        keys = None
        if self.link_key is not None:
            keys = (self.site.encode(), {k.encode(): v for k, v in ops.items()}, self.link_key)
        gw_kw["operator_keys"] = {k: gateway_key(v, self.site, self.ix.id) for k, v in ops.items()}
        gw_kw["link_key"] = self.link_key
        self.peer = Peer(self.ix, self.clock, keys)
        self.inbox = Inbox(self.base)
        self.watcher = self.client("watcher")
        self.watcher.subscribe(self.base + "/#", self.inbox)
        self.watcher.connect()
        self.mqtt = Mqtt(
            url or broker.url, f"gw-{self.site}", self.base + "/availability",
            protocol=protocol, **creds(broker),
        ).connect()  # fmt: skip
        self.gw = Gateway(
            self.ix,
            self.peer.path,
            self.mqtt,
            self.clock,
            site=self.site,
            decision_period_s=decision_period_s,
            min_switch_gain=min_switch_gain,
            **gw_kw,
        )
        self.gw.start()
        self.peer.start()  # after the gateway is up: its start-up is the controller's to see

    def client(self, name):
        return Mqtt(
            self.broker.url,
            f"{name}-{self.site}-{uuid.uuid4().hex[:4]}",
            f"{self.base}/{name}-availability",
            **creds(self.broker),
        )

    def phase_signals(self, p):
        """The signal string with phase p green and everything else red."""
        on = set(self.ix.phases[p].groups)
        return "".join("G" if g.name in on else "r" for g in self.ix.groups)

    def remote_green(self):
        """Wait until the gateway published remote mode with a phase fully green; the state."""
        return self.inbox.wait(
            "state",
            lambda s: (
                s["mode"] == "remote"
                and s["phase"] is not None
                and s["signals"] == self.phase_signals(s["phase"])
            ),
        )

    def decision(self, pred=lambda d: True):
        return self.inbox.wait("decision", lambda d: "result" in d and pred(d))

    def close(self):
        self.gw.stop()
        self.peer.stop()
        for m in (self.mqtt, self.watcher):
            try:
                m.close(offline=False)
            except Exception:
                pass
        if self.peer.error:
            raise self.peer.error


@pytest.fixture
def make_rig(broker):
    rigs = []

    def make(decision_period_s=1e9, min_switch_gain=2.0, **kw):
        # The default period never comes: the optimizer stays out of the operator's tests.
        r = Rig(broker, decision_period_s, min_switch_gain, **kw)
        rigs.append(r)
        return r

    yield make
    for r in rigs:
        r.close()


@pytest.fixture
def rig(make_rig):
    return make_rig()


def test_state_is_published_retained_with_mode_phase_and_signals(rig):
    first = rig.inbox.wait("state")
    assert first["mode"] == "startup"
    assert first["phase"] is None
    assert set(first["signals"]) <= set("fr") and len(first["signals"]) == len(rig.ix.groups)
    st = rig.remote_green()
    assert st["phase_name"] == rig.ix.phases[st["phase"]].name
    # the heads may have moved on since (a loaded machine): the state must be one they showed
    assert st["signals"] in rig.peer.shown
    late = Inbox(rig.base)
    sub = rig.client("late")
    sub.subscribe(rig.base + "/state", late)

    def key(m):
        return m["mode"], m["phase"], m["signals"]

    try:
        before = rig.inbox.drain("state")
        sub.connect()
        retained = late.wait("state")  # only a retained message reaches a new subscriber at once
        # the latest state published before the subscription, or one published since
        after = rig.inbox.drain("state")[len(before) :]
        assert key(retained) in [key(m) for m in before[-1:] + after]
    finally:
        sub.close(offline=False)


def test_availability_is_online_while_running(rig):
    late = Inbox(rig.base)
    sub = rig.client("late")
    sub.subscribe(rig.base + "/availability", late)
    try:
        sub.connect()
        assert late.wait("availability") == "online"
    finally:
        sub.close(offline=False)


def test_telemetry_carries_detector_counts_with_increasing_sequence_numbers(rig):
    adv = {d.name: d.input for d in rig.ix.detectors}["e_thru_adv"]
    with rig.peer.lock:
        rig.peer.pulse = 1 << adv
    msgs = [rig.inbox.wait("telemetry") for _ in range(4)]
    seqs = [m["seq"] for m in msgs]
    assert all(b > a for a, b in zip(seqs, seqs[1:], strict=False)), seqs
    names = {d.name for d in rig.ix.detectors}
    for m in msgs:
        assert set(m["detectors"]) == names
        assert set(m["queues"]) == {g.name for g in rig.ix.groups}
    counts = [m["detectors"]["e_thru_adv"]["count"] for m in msgs]
    assert counts[-1] > counts[0], counts  # one pulse per virtual second
    assert all(m["detectors"]["n_thru_stop"]["count"] == 0 for m in msgs)
    with rig.peer.lock:
        assert rig.peer.ctl.det.counts[adv] >= counts[-1]
    # Arrivals at the advance loop that never reach the stop bar are a growing queue.
    assert msgs[-1]["queues"]["e_thru"] >= 1


def test_events_are_sequence_numbered(rig):
    rig.remote_green()
    events = [m for t, m in rig.inbox.seen if t == "events"]
    names = [e["event"] for e in events]
    assert "mode" in names and "link_up" in names
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))


def test_the_gateway_keeps_following_the_controller_while_the_broker_is_away(rig):
    st = rig.remote_green()
    rig.mqtt.close(offline=False)  # the broker is gone, as far as the gateway can tell
    target = (st["phase"] + 2) % len(rig.ix.phases)
    rig.gw.request(P.CMD_SWITCH, target)
    want = rig.phase_signals(target)
    wait_for(f"controller signals {want}", lambda: rig.peer.signals() == want)
    wait_for("the gateway's state to follow", lambda: rig.gw.state["signals"] == want, timeout=1)


def test_availability_comes_back_online_after_a_reconnect(rig):
    rig.remote_green()
    rig.mqtt._c._sock.shutdown(socket.SHUT_RDWR)  # a network glitch (no public API for it)
    rig.inbox.wait("availability", lambda a: a == "offline")  # the broker fired the will
    wait_for("paho to reconnect", lambda: rig.mqtt.reconnects >= 1)
    rig.inbox.wait("availability", lambda a: a == "online", timeout=1)
