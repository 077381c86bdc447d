"""gateway.mqtt against the real test broker (Mosquitto with auth and ACL, or embedded amqtt)."""

import queue
import socket
import time
import uuid

import pytest

from edge.broker import free_port
from gateway.mqtt import Mqtt, MqttError, parse_url

TIMEOUT_S = 10.0


# --- parse_url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.local", ("broker.local", 1883, False)),
        ("mqtts://broker.local", ("broker.local", 8883, True)),
        ("mqtt://127.0.0.1:18830", ("127.0.0.1", 18830, False)),
        ("mqtts://[::1]:8884", ("::1", 8884, True)),
    ],
)
def test_parse_url(url, expected):
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    "url", ["http://broker:1883", "broker:1883", "mqtt://", "mqtt://:1883", "", "tcp://x"]
)
def test_parse_url_refuses_what_is_not_a_broker_url(url):
    with pytest.raises(ValueError, match=f"not {url!r}"):
        parse_url(url)


@pytest.mark.parametrize("url", ["mqtt://host:port", "mqtt://host:70000"])
def test_parse_url_names_a_bad_port(url):
    with pytest.raises(ValueError, match=f"bad port: {url!r}"):
        parse_url(url)


# --- against the broker ---------------------------------------------------------------------


def creds(broker, user="gateway"):
    """Username and password for `user` (amqtt accepts them without checking)."""
    if not broker.users:
        return {}
    return {"username": user, "password": broker.users[user]}


class Inbox:
    """A subscription handler that queues (topic, payload) for the test thread."""

    def __init__(self):
        self.q = queue.Queue()
        self.seen = []

    def __call__(self, topic, payload):
        self.q.put((topic, payload))

    def expect(self, topic, payload=None, timeout=TIMEOUT_S):
        """The next message on `topic` (with `payload`, if given); fail with what came instead."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                t, p = self.q.get(timeout=max(left, 0.001))
            except queue.Empty:
                pytest.fail(f"no {payload!r} on {topic!r} in {timeout} s; saw {self.seen!r}")
            self.seen.append((t, p))
            if t == topic and (payload is None or p == payload):
                return p


@pytest.fixture
def base():
    return f"greenwave/test-{uuid.uuid4().hex[:8]}/cross"


@pytest.fixture
def clients(broker):
    """Factory for connected-later Mqtt clients; every one is closed at the end."""
    made = []

    def make(will_topic, user="gateway", **kw):
        m = Mqtt(broker.url, f"t-{uuid.uuid4().hex[:10]}", will_topic, **creds(broker, user), **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        try:
            m.close(offline=False)
        except Exception:  # already dead on purpose in some tests
            pass


def test_publish_and_subscribe(clients, base):
    inbox = Inbox()
    sub = clients(f"{base}/sub-availability").connect()
    sub.subscribe(f"{base}/telemetry", inbox)
    pub = clients(f"{base}/availability").connect()
    # The SUBACK is not awaited by subscribe(): repeat until the subscription is live.
    for _ in range(50):
        pub.publish(f"{base}/telemetry", b"warmup")
        try:
            inbox.q.get(timeout=0.1)
            break
        except queue.Empty:
            continue
    pub.publish(f"{base}/telemetry", {"seq": 1, "queues": {"n": 2.0}}, qos=1)
    pub.publish(f"{base}/telemetry", "plain text")
    assert inbox.expect(f"{base}/telemetry") == b'{"seq":1,"queues":{"n":2.0}}'
    assert inbox.expect(f"{base}/telemetry") == b"plain text"
    assert pub.published >= 3


def test_retained_reaches_a_later_subscriber_and_non_retained_does_not(clients, base):
    pub = clients(f"{base}/availability").connect()
    pub.publish(f"{base}/events", "before anyone listened", qos=1)
    pub.publish(f"{base}/state", {"signals": "GGrr"}, qos=1, retain=True)
    inbox = Inbox()
    sub = clients(f"{base}/sub-availability")
    sub.subscribe(f"{base}/#", inbox)  # before connect: subscribed on connect
    sub.connect()
    assert inbox.expect(f"{base}/state") == b'{"signals":"GGrr"}'
    pub.publish(f"{base}/events", "marker", qos=1)
    # The first message the late subscriber gets on events is the marker, not the earlier one.
    assert inbox.expect(f"{base}/events") == b"marker"


def test_wildcard_handler_sees_the_topic(clients, base):
    inbox = Inbox()
    sub = clients(f"{base}/sub-availability")
    sub.subscribe(f"{base}/cmd/+", inbox)
    sub.connect()
    pub = clients(f"{base}/availability").connect()
    pub.publish(f"{base}/cmd/hold", "retained hold", qos=1, retain=True)
    assert inbox.expect(f"{base}/cmd/hold") == b"retained hold"
    pub.publish(f"{base}/cmd/hold", b"", qos=1, retain=True)  # clear the retained message


def test_publish_before_connect_is_an_error_naming_the_topic(clients, base):
    m = clients(f"{base}/availability")
    with pytest.raises(MqttError, match=f"{base}/state"):
        m.publish(f"{base}/state", "x")


def test_last_will_says_offline_when_the_connection_dies(clients, base):
    will = f"{base}/availability"
    inbox = Inbox()
    watcher = clients(f"{base}/watcher-availability")
    watcher.subscribe(will, inbox)
    watcher.connect()
    gw = clients(will).connect()
    gw.publish(will, "online", qos=1, retain=True)
    inbox.expect(will, b"online")
    # paho has no public way to drop a connection without sending DISCONNECT (which cancels
    # the will), so stop its network thread and close the socket under it: a crash, as the
    # broker sees it.
    gw._c.loop_stop()
    sock = gw._c._sock
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    inbox.expect(will, b"offline")
    late = Inbox()
    clients(f"{base}/late-availability").connect().subscribe(will, late)
    assert late.expect(will) == b"offline"  # retained


def test_close_publishes_offline_retained(clients, base):
    will = f"{base}/availability"
    inbox = Inbox()
    watcher = clients(f"{base}/watcher-availability")
    watcher.subscribe(will, inbox)
    watcher.connect()
    gw = clients(will).connect()
    gw.publish(will, "online", qos=1, retain=True)
    inbox.expect(will, b"online")
    gw.close()
    inbox.expect(will, b"offline")
    late = Inbox()
    clients(f"{base}/late-availability").connect().subscribe(will, late)
    assert late.expect(will) == b"offline"


def test_reconnects_by_itself_and_subscriptions_come_back(clients, base):
    inbox = Inbox()
    m = clients(f"{base}/availability")
    m.subscribe(f"{base}/plan", inbox)
    m.connect()
    m.publish(f"{base}/plan", "first", qos=1)
    inbox.expect(f"{base}/plan", b"first")
    m._c._sock.shutdown(socket.SHUT_RDWR)  # the network drops us; paho's thread notices
    deadline = time.monotonic() + TIMEOUT_S
    while m.reconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert m.reconnects == 1
    other = clients(f"{base}/other-availability").connect()
    other.publish(f"{base}/plan", "after", qos=1)
    inbox.expect(f"{base}/plan", b"after")


def test_wrong_password_is_refused(broker, base):
    if not broker.auth:
        pytest.skip(f"the {broker.kind} test broker does not check passwords")
    m = Mqtt(
        broker.url,
        f"t-{uuid.uuid4().hex[:10]}",
        f"{base}/availability",
        username="gateway",
        password="not-" + broker.users["gateway"],
    )
    with pytest.raises(MqttError, match="refused"):
        m.connect(timeout=TIMEOUT_S)


def test_no_broker_at_the_address_is_an_error_naming_it():
    url = f"mqtt://127.0.0.1:{free_port('127.0.0.1')}"
    m = Mqtt(url, "t-nobody", "greenwave/x/y/availability")
    with pytest.raises(MqttError, match=f"cannot reach the broker at {url}"):
        m.connect(timeout=2)


def test_a_bad_url_is_refused_before_any_network_use():
    with pytest.raises(ValueError, match="'mqtt//nope'"):
        Mqtt("mqtt//nope", "t", "greenwave/x/y/availability")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_failing_handler_does_not_stop_the_session(clients, base):
    inbox = Inbox()

    def fragile(topic, payload):
        if payload == b"boom":
            raise RuntimeError("handler bug")
        inbox(topic, payload)

    m = clients(f"{base}/availability")
    m.subscribe(f"{base}/cmd/#", fragile)
    m.connect()
    pub = clients(f"{base}/pub-availability").connect()
    pub.publish(f"{base}/cmd/x", "boom", qos=1, retain=True)  # retained: no subscribe race
    pub.publish(f"{base}/cmd/x", "after", qos=1)
    inbox.expect(f"{base}/cmd/x", b"after", timeout=1.5)
    pub.publish(f"{base}/cmd/x", b"", qos=1, retain=True)


# --- acknowledgements (the outbox deletes a row only on the broker's PUBACK) ----------------


def test_on_ack_runs_once_per_message_when_the_broker_acknowledges_it(clients, base):
    m = clients(f"{base}/availability").connect()
    acked = queue.Queue()
    for i in range(30):  # more than paho keeps in flight at once (20)
        m.publish(f"{base}/telemetry", {"seq": i}, qos=1, on_ack=lambda i=i: acked.put(i))
    got = [acked.get(timeout=TIMEOUT_S) for _ in range(30)]
    assert sorted(got) == list(range(30))
    with pytest.raises(queue.Empty):
        acked.get(timeout=0.2)  # and no second call for any of them


def test_on_ack_is_refused_for_qos_0(clients, base):
    m = clients(f"{base}/availability").connect()
    with pytest.raises(ValueError, match="QoS 1 or 2"):
        m.publish(f"{base}/telemetry", "x", on_ack=lambda: None)


def test_on_ack_while_disconnected_is_an_error_and_never_acknowledged(clients, base):
    m = clients(f"{base}/availability").connect()
    assert m.connected and m.connected_since is not None
    m.close(offline=False)
    assert not m.connected
    acked = []
    with pytest.raises(MqttError, match=f"not connected.*{base}/events"):
        m.publish(f"{base}/events", "x", qos=1, on_ack=lambda: acked.append(1))
    time.sleep(0.2)
    assert acked == []
