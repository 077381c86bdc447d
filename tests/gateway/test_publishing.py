"""gateway.publishing: the outbox first, then the broker; the retained topics said again.

Nothing is lost while the broker is away (a relay the test cuts stands in for an outage), rows a
crashed gateway left are replayed historical, an outbox full of events raises an alarm, and
`health` and a rebirth request say the retained topics. The rig is test_service.py's.
"""

import os
import socket
import threading
import uuid

import pytest

from edge.factories import cross
from firmware import protocol as P
from gateway.mqtt import Mqtt
from tests.gateway.test_service import TIMEOUT_S, Inbox, creds, wait_for

# --- the outbox: nothing lost while the broker is away ----------------------------------------


class CuttableLink(threading.Thread):
    """A TCP relay between the gateway and the broker that the test can cut: while cut, every
    connection is dropped and new ones are closed at once, as when the broker is down. The
    watcher talks to the broker directly, so it sees exactly what reached the broker."""

    def __init__(self, host, port):
        super().__init__(name="cuttable-link", daemon=True)
        self.upstream = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"mqtt://127.0.0.1:{self.server.getsockname()[1]}"
        self.down = threading.Event()
        self.lock = threading.Lock()
        self.socks = []

    def run(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            if self.down.is_set():
                client.close()
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.socks += [client, up]
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.down.set()
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self):
        self.down.clear()

    def close(self):
        self.cut()
        self.server.close()


@pytest.fixture
def cuttable(broker):
    link = CuttableLink(broker.host, broker.port)
    link.start()
    yield link
    link.close()


def collect(inbox, topic, until, timeout=TIMEOUT_S):
    """Every message on `topic` (in arrival order) until `until(list)` holds."""
    got = []
    inbox.wait(topic, lambda m: got.append(m) or until(got), timeout=timeout)
    return got


def test_telemetry_queued_during_a_broker_outage_arrives_in_order_marked_historical(
    make_rig, cuttable, tmp_path
):
    from gateway.outbox import Outbox

    rig = make_rig(url=cuttable.url, outbox=Outbox(tmp_path / "outbox.sqlite3"))
    with rig.peer.lock:
        rig.peer.pulse = 1  # detector 0 counts a car every virtual second
    before = collect(rig.inbox, "telemetry", lambda ms: len(ms) >= 3)
    cuttable.cut()
    wait_for("the gateway to notice the outage", lambda: not rig.mqtt.connected)
    wait_for("telemetry to queue up", lambda: rig.gw.outbox.depth("telemetry") >= 8)
    cuttable.restore()
    wait_for("paho to reconnect", lambda: rig.mqtt.reconnects >= 1)
    after = collect(rig.inbox, "telemetry", lambda ms: len([m for m in ms if m.get("historical")])
                    >= 8 and not ms[-1].get("historical"))  # fmt: skip
    wait_for("the outbox to drain", lambda: rig.gw.outbox.depth() <= 1)

    msgs = before + after
    assert {m["session"] for m in msgs} == {rig.gw.outbox.session}
    first = {}
    for m in msgs:
        first.setdefault(m["seq"], m)  # a message resent around the cut may arrive twice
    seqs = list(first)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # in order, no gap
    historical = [m for m in first.values() if m.get("historical")]
    assert len(historical) >= 8
    # replayed with the controller's original timestamps, one virtual second apart
    ts = [m["t"] for m in first.values()]
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False)), ts
    assert rig.gw.stats["replayed"] >= len(historical)
    # what the broker acknowledged is gone from disk
    assert rig.gw.stats["acked"] >= len(seqs) - 1


def test_decisions_answered_during_a_broker_outage_arrive_afterwards_marked_historical(
    make_rig, cuttable, tmp_path
):
    from gateway.outbox import Outbox

    rig = make_rig(url=cuttable.url, outbox=Outbox(tmp_path / "outbox.sqlite3"))
    st = rig.remote_green()
    rig.gw.request(P.CMD_SWITCH, 9)  # one before the outage, published live
    live = rig.decision()
    # its PUBACK must be in before the cut, or its row rightly stays on disk for a replay
    wait_for("the live decision to be acknowledged", lambda: rig.gw.outbox.depth("decisions") == 0)
    cuttable.cut()
    wait_for("the gateway to notice the outage", lambda: not rig.mqtt.connected)
    target = (st["phase"] + 2) % len(rig.ix.phases)
    rig.gw.request(P.CMD_SWITCH, target)  # the controller answers while the broker is away
    rig.gw.request(P.CMD_SWITCH, 9)
    wait_for("both answers", lambda: rig.gw.stats["acks_ok"] + rig.gw.stats["acks_refused"] >= 3)
    assert rig.gw.outbox.depth("decisions") == 2  # on disk, waiting for the broker
    cuttable.restore()
    got = collect(rig.inbox, "decision", lambda ds: sum(d["seq"] >= 2 for d in ds) >= 2)
    first = {}
    for d in [live, *got]:
        first.setdefault((d["session"], d["seq"]), d)  # a repeat around the cut is dropped
    assert list(first) == [(rig.gw.outbox.session, s) for s in (1, 2, 3)]  # in order, no gap
    replayed = [first[(rig.gw.outbox.session, s)] for s in (2, 3)]
    assert [d["result"] for d in replayed] == ["ok", "refused: unknown phase"]
    assert replayed[0]["phase"] == rig.ix.phases[target].name
    assert all(d["historical"] is True for d in replayed) and "historical" not in live
    wait_for("the decisions to be acknowledged", lambda: rig.gw.outbox.depth("decisions") == 0)


def test_rows_left_by_a_crashed_gateway_are_replayed_historical_with_their_session(
    make_rig, tmp_path
):
    from gateway.outbox import Outbox

    path = tmp_path / "outbox.sqlite3"
    crashed = Outbox(path)  # the earlier run: queued, never acknowledged, never closed
    ix = cross()
    site = f"test-{uuid.uuid4().hex[:8]}"
    topic = f"greenwave/{site}/{ix.id}/events"
    for i in range(3):
        crashed.put("events", {"t": 1.0 + i, "event": "mode", "detail": f"old {i}"}, topic=topic)

    rig = make_rig(outbox=Outbox(path), site=site)
    old = collect(rig.inbox, "events", lambda ms: sum(m["session"] == 1 for m in ms) == 3)
    old = [m for m in old if m["session"] == 1]
    assert [m["detail"] for m in old] == ["old 0", "old 1", "old 2"]
    assert [m["seq"] for m in old] == [1, 2, 3]
    assert all(m["historical"] for m in old)
    new = rig.inbox.wait("events", lambda e: e["session"] == 2)
    assert new["seq"] == 1 and "historical" not in new
    wait_for("the old rows to be acknowledged", lambda: rig.gw.outbox.depth("events") == 0)


def test_health_is_retained_and_counts_the_queue_and_dropped_frames(make_rig):
    rig = make_rig(health_period_s=0.3)
    rig.remote_green()
    os.write(rig.peer.master, b"\x05garbage-with-a-bad-crc\x00")
    h = rig.inbox.wait("health", lambda h: h["crc_errors"] + h["frames_dropped"]["cobs"] >= 1)
    assert h["session"] == rig.gw.outbox.session
    assert set(h["queue"]) == {"telemetry", "events", "decisions"}
    assert h["queue_depth"] == sum(h["queue"].values())
    assert h["link_up"] is True
    assert h["reconnects"] == 0 and h["publish_failures"] == 0 and h["events_refused"] == 0
    late = Inbox(rig.base)
    sub = rig.client("late")
    sub.subscribe(rig.base + "/health", late)
    try:
        sub.connect()
        assert "queue_depth" in late.wait("health")  # retained
    finally:
        sub.close(offline=False)


def test_a_full_outbox_of_events_raises_an_alarm_on_events(make_rig, cuttable, tmp_path):
    from gateway.outbox import Outbox

    rig = make_rig(url=cuttable.url, outbox=Outbox(tmp_path / "o.sqlite3", max_rows=2))
    rig.inbox.wait("events", lambda e: e["event"] == "link_up")
    cuttable.cut()
    wait_for("the gateway to notice the outage", lambda: not rig.mqtt.connected)
    # Three requests while the broker is away: three `refused` events, one too many.
    for _ in range(3):
        rig.gw.request(P.CMD_HOLD, 0)
    wait_for("the outbox to refuse an event", lambda: rig.gw.outbox.refused >= 1)
    cuttable.restore()
    alarm = rig.inbox.wait("events", lambda e: e["event"] == "outbox_full")
    assert "full with 2 unsent events" in alarm["detail"]


def test_a_rebirth_request_republishes_state_and_health(make_rig):
    rig = make_rig(health_period_s=1e9)  # health only on connect and on request
    st = rig.remote_green()
    assert sum(t == "health" for t, _ in rig.inbox.seen) == 1  # the one of the first connection
    op = rig.client("operator") if not rig.broker.users else Mqtt(
        rig.broker.url, f"op-{rig.site}", f"{rig.base}/op-availability",
        **creds(rig.broker, "operator"),
    )  # fmt: skip
    op.connect()
    try:
        op.publish(f"{rig.base}/cmd/rebirth", "", qos=1)
        # health has no period here, so only the rebirth can bring a second one
        h = rig.inbox.wait("health")
        assert h["session"] == rig.gw.outbox.session
        states = [m for t, m in rig.inbox.seen if t == "state"]
        assert states[-1]["signals"] == st["signals"] and states[-1] is not st  # said again
    finally:
        op.close(offline=False)
