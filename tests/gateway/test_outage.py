"""The issue's outage test: the broker stopped for a minute, the gateway killed in the middle.

Real parts throughout: `greenwave gateway run` as a subprocess (the way a cabinet runs it), the
firmware's `Controller` on CPython behind a pseudo-terminal (test_service.Peer, SPEED times faster
than the wall clock, so a minute of the controller's time is six wall seconds) and a real
Mosquitto with persistence, stopped and started again on the same port.

The consumer is what a consumer that must miss nothing has to be: a persistent session (clean
session off) with a QoS 1 subscription, so the broker keeps what it accepted for it across its
own restart. It drops repeats by (session, seq), as docs/gateway.md tells consumers to.

(This replaces the earlier kill -9 test that cut a TCP relay instead of stopping the broker;
test_publishing.py keeps the in-process relay-cut tests of the outbox.)
"""

from __future__ import annotations

import json
import re
import secrets as pysecrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from edge import factories
from edge.broker import free_port
from edge.factories import cross
from gateway.clock import ScaledClock
from tests.brokerfixture import (
    ACL,
    HOST,
    BrokerStartError,
    _mosquitto_conf,
    ci_requires_mosquitto,
    find_mosquitto,
    start_mosquitto,
)
from tests.gateway.test_cli import write_secrets
from tests.gateway.test_service import SPEED, Peer, wait_for

STREAMS = ("telemetry", "events", "decision")
OUTAGE_S = 60.0  # of the controller's (virtual) time


def need_mosquitto():
    if not find_mosquitto() and not ci_requires_mosquitto():
        pytest.skip("needs mosquitto (stopped and started again on one port)")


def persistent_conf(workdir: Path, store: Path):
    """Mosquitto's test config, but keeping sessions and queued messages in `store` across a
    restart (written when it stops)."""

    def conf(port: int) -> str:
        text = _mosquitto_conf(workdir, port)
        assert "persistence false\n" in text
        return text.replace(
            "persistence false\n",
            f"persistence true\npersistence_location {store}/\nmax_queued_messages 100000\n",
        )

    return conf


class Broker:
    """A Mosquitto that can be stopped and started again on the same port with the same users,
    ACL and persistence store."""

    def __init__(self, tmp_path: Path, users: dict[str, str], port: int | None = None):
        self.tmp_path = tmp_path
        self.users = users
        self.port = port or free_port(HOST)
        self.store = tmp_path / "mosquitto-store"
        self.store.mkdir(exist_ok=True)
        self.starts = 0
        self._cm = None

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    def start(self) -> Broker:
        self.starts += 1
        workdir = self.tmp_path / f"broker-{self.starts}"  # a fresh log: its "running" line
        workdir.mkdir()
        self._cm = start_mosquitto(workdir, self.users, ACL, port=self.port,
                                   conf=persistent_conf(workdir, self.store))  # fmt: skip
        try:
            self._cm.__enter__()
        except BrokerStartError as exc:
            self._cm = None
            pytest.fail(str(exc), pytrace=False)
        return self

    def stop(self) -> None:
        if self._cm is not None:
            cm, self._cm = self._cm, None
            cm.__exit__(None, None, None)


class Consumer:
    """A durable subscriber to one intersection: persistent session, QoS 1, every message kept
    in arrival order as (topic suffix, payload)."""

    def __init__(self, broker: Broker, base: str, user: str = "viewer"):
        self.base = base + "/"
        self.lock = threading.Lock()
        self.messages: list[tuple[str, dict | str]] = []
        self.c = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"consumer-{uuid.uuid4().hex[:8]}",
            clean_session=False,  # the broker keeps the subscription and queue while we are away
            protocol=paho.MQTTv311,
        )
        self.c.username_pw_set(user, broker.users[user])
        self.c.reconnect_delay_set(min_delay=1, max_delay=1)
        self.subscribed = threading.Event()
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe(self.base + "#", qos=1)
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = self._on
        self.c.connect(HOST, broker.port)
        self.c.loop_start()
        if not self.subscribed.wait(10):
            pytest.fail("the consumer's subscription was not granted")

    def _on(self, client, userdata, msg):
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = msg.payload.decode(errors="replace")
        with self.lock:
            self.messages.append((msg.topic[len(self.base) :], payload))

    def on(self, topic: str) -> list:
        with self.lock:
            return [m for t, m in self.messages if t == topic]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


class GatewayRun:
    """`greenwave gateway run` for `cfg` as a subprocess, its log in a file."""

    def __init__(self, tmp_path: Path, name: str, cfg: Path, secrets: Path, port: str, url: str):
        self.log_path = tmp_path / f"gateway-{name}.log"
        self.cmd = [sys.executable, "-m", "edge.cli", "gateway", "run", "--config", str(cfg),
                    "--port", port, "--broker", url, "--secrets", str(secrets),
                    "--mqtt-version", "5", "--state-dir", str(tmp_path / "state")]  # fmt: skip
        self.proc: subprocess.Popen | None = None

    def start(self) -> GatewayRun:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 30) -> None:
        def seen():
            if self.proc.poll() is not None:
                pytest.fail(f"the gateway exited ({self.proc.returncode}):\n{self.log()}")
            return len(re.findall(pattern, self.log())) >= count

        wait_for(f"{pattern!r} in the gateway's log", seen, timeout=timeout)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def site_files(tmp_path: Path, site: str, password: str) -> tuple[Path, Path]:
    cfg = tmp_path / "cross.toml"
    toml = factories.example_toml("cross")
    assert 'site = "demo"' in toml
    cfg.write_text(toml.replace('site = "demo"', f'site = "{site}"'))
    return cfg, write_secrets(tmp_path / "secrets.toml", "gateway", password)


def on_disk(db: Path) -> dict[tuple[str, int], list[int]]:
    """The outbox file's waiting rows: (stream, session) -> seqs in id order."""
    rows: dict[tuple[str, int], list[int]] = {}
    with sqlite3.connect(db) as c:
        for stream, session, seq in c.execute(
            "SELECT stream, session, seq FROM outbox ORDER BY id"
        ):
            rows.setdefault((stream, session), []).append(seq)
    return rows


def first_arrivals(msgs: list[dict]) -> list[dict]:
    """`msgs` without repeats by (session, seq), in arrival order of their first copy."""
    seen, out = set(), []
    for m in msgs:
        key = (m["session"], m["seq"])
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def test_a_minute_without_the_broker_and_a_kill_9_in_it_lose_nothing(tmp_path):
    need_mosquitto()
    users = {"gateway": pysecrets.token_urlsafe(18), "viewer": pysecrets.token_urlsafe(18)}
    broker = Broker(tmp_path, users).start()
    site = f"outage-{uuid.uuid4().hex[:6]}"
    ix = cross()
    base = f"greenwave/{site}/{ix.id}"
    cfg, secrets = site_files(tmp_path, site, users["gateway"])
    db = tmp_path / "state" / f"{site}-{ix.id}.outbox.sqlite3"
    peer = Peer(ix, ScaledClock(time.time_ns(), SPEED))
    peer.pulse = 1  # a car on detector 0 every (virtual) second: telemetry keeps changing
    consumer = Consumer(broker, base)
    first = GatewayRun(tmp_path, "1", cfg, secrets, peer.path, broker.url)
    second = GatewayRun(tmp_path, "2", cfg, secrets, peer.path, broker.url)
    try:
        peer.start()
        first.start()
        wait_for("live telemetry, older than a few seconds", lambda: any(
            not m.get("historical") and m["t"] < peer.now() / 1000 - 6
            for m in consumer.on("telemetry")), timeout=30)  # fmt: skip

        stopping = peer.now() / 1000  # the controller's clock, as telemetry's `t`
        broker.stop()
        stopped = peer.now() / 1000
        wait_for("telemetry to wait on disk",
                 lambda: len(on_disk(db).get(("telemetry", 1), [])) >= 3)  # fmt: skip
        wait_for("half the outage", lambda: peer.now() / 1000 >= stopped + OUTAGE_S / 2)
        first.proc.send_signal(signal.SIGKILL)  # in the middle of the outage
        first.proc.wait(5)
        left = on_disk(db)  # what the killed gateway had not got acknowledged

        second.start()  # the broker is still down: it must start anyway and keep retrying
        second.wait_log(r"retrying in \d+ s")
        wait_for("a minute without the broker", lambda: peer.now() / 1000 >= stopped + OUTAGE_S)
        broker.start()
        restarted = peer.now() / 1000
        second.wait_log("connected; publishing under", timeout=20)
        wait_for("every row to be acknowledged and live telemetry to flow", lambda: (
            not any(s == 1 for _, s in on_disk(db))
            and any(m["session"] == 2 and not m.get("historical") and m["t"] > restarted
                    for m in consumer.on("telemetry"))
        ), timeout=30)  # fmt: skip
        assert second.stop() == 0
    finally:
        first.kill()
        second.kill()
        consumer.close()
        peer.stop()
        broker.stop()

    assert peer.now() / 1000 - stopped >= OUTAGE_S
    assert any(s == 1 for _, s in left), left  # the kill left work for the second run
    log2 = second.log()
    assert "session 2" in log2 and "back-off up to 8 s" in log2
    for topic, stream in zip(STREAMS, ("telemetry", "events", "decisions"), strict=True):
        got = first_arrivals(consumer.on(topic))
        for session in (1, 2):
            seqs = [m["seq"] for m in got if m["session"] == session]
            # every sequence number, in order, exactly once after de-duplication
            assert seqs == list(range(1, len(seqs) + 1)), (topic, session, seqs)
            waiting = left.get((stream, session), [])
            if session == 1 and waiting:  # up to the last one the killed gateway had queued
                assert seqs[-1] == waiting[-1], (topic, seqs, waiting)
        sessions = [m["session"] for m in got]
        assert sessions == sorted(sessions), topic  # the old session's backlog came first
        replayed = {
            m["seq"] for m in consumer.on(topic) if m["session"] == 1 and m.get("historical")
        }
        missing = set(left.get((stream, 1), [])) - replayed
        assert not missing, (topic, missing)  # what the kill left on disk came back, marked
    telemetry = first_arrivals(consumer.on("telemetry"))
    assert telemetry, "no telemetry at all"
    for m in telemetry:
        # queued while the broker was away: replayed marked historical, with the controller's t
        if stopped + 1 < m["t"] < restarted:
            assert m.get("historical") is True, m
    # live before the outage (only the first ones may have waited for the first connection)
    before = [
        bool(m.get("historical")) for m in telemetry if m["session"] == 1 and m["t"] < stopping - 5
    ]
    assert before and not before[-1] and before == sorted(before, reverse=True), before
    during = [m for m in telemetry if stopped + 1 < m["t"] < restarted]
    assert {1, 2} <= {m["session"] for m in during}  # queued by both runs of the gateway
    assert not telemetry[-1].get("historical")  # and live again at the end
