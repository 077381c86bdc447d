"""gateway.mqtt against the real test broker (Mosquitto with auth and ACL, or embedded amqtt)."""

import queue
import socket
import time
import uuid

import pytest

from edge.broker import free_port
from gateway.mqtt import Message, Mqtt, MqttError, MqttUnreachable, Tls, parse_url

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
    with pytest.raises(MqttError, match="refused") as refused:
        m.connect(timeout=TIMEOUT_S)
    # not worth retrying, and the caller can tell the operator to fix the secrets
    assert not isinstance(refused.value, MqttUnreachable)
    assert refused.value.credentials


def test_no_broker_at_the_address_is_an_error_naming_it():
    url = f"mqtt://127.0.0.1:{free_port('127.0.0.1')}"
    m = Mqtt(url, "t-nobody", "greenwave/x/y/availability")
    with pytest.raises(MqttUnreachable, match=f"cannot reach the broker at {url}") as e:
        m.connect(timeout=2)
    assert not e.value.credentials


def test_connect_can_be_tried_again_until_the_broker_is_there(broker, base):
    """The gateway's start-up retries `connect` on the same client; the broker appears late
    (here: the client first points at a dead port, then at the broker, as when it comes up)."""
    m = Mqtt(f"mqtt://127.0.0.1:{free_port('127.0.0.1')}", f"t-{uuid.uuid4().hex[:10]}",
             f"{base}/availability", **creds(broker))  # fmt: skip
    with pytest.raises(MqttUnreachable):
        m.connect(timeout=2)
    m.port = broker.port  # the same client object, now where a broker listens
    try:
        m.connect(timeout=TIMEOUT_S)
        assert m.connected and m.connected_since is not None
    finally:
        m.close(offline=False)


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


# --- TLS (a second Mosquitto with a TLS listener; certificates made at test time) -----------


def _tls_client(tls_broker, base, tls, user="gateway"):
    return Mqtt(
        tls_broker.url, f"t-{uuid.uuid4().hex[:10]}", f"{base}/availability",
        **creds(tls_broker, user), tls=tls,
    )  # fmt: skip


def test_tls_with_the_right_ca_and_a_client_certificate_connects(tls_broker, base):
    c = tls_broker.certs
    m = _tls_client(tls_broker, base, Tls(str(c.ca), str(c.client_cert), str(c.client_key)))
    m.connect(timeout=TIMEOUT_S)
    try:
        inbox = Inbox()
        m.subscribe(f"{base}/state", inbox)
        for _ in range(50):  # until the subscription is live
            m.publish(f"{base}/state", b"over tls", qos=1)
            try:
                inbox.expect(f"{base}/state", b"over tls", timeout=0.2)
                break
            except pytest.fail.Exception:
                continue
        else:
            pytest.fail("nothing came back over TLS")
    finally:
        m.close(offline=False)


def test_tls_refuses_a_broker_the_ca_did_not_sign(tls_broker, base):
    c = tls_broker.certs
    m = _tls_client(tls_broker, base, Tls(str(c.other_ca), str(c.client_cert), str(c.client_key)))
    with pytest.raises(MqttError, match="certificate verify failed") as e:
        m.connect(timeout=TIMEOUT_S)
    assert not isinstance(e.value, MqttUnreachable)  # no retrying into a wrong broker


def test_tls_without_a_client_certificate_is_refused_by_the_broker(tls_broker, base):
    m = _tls_client(tls_broker, base, Tls(str(tls_broker.certs.ca)))
    with pytest.raises(MqttError, match=str(tls_broker.port)):
        m.connect(timeout=TIMEOUT_S)


def test_tls_with_a_wrong_password_is_refused(tls_broker, base):
    c = tls_broker.certs
    m = Mqtt(
        tls_broker.url, f"t-{uuid.uuid4().hex[:10]}", f"{base}/availability",
        username="gateway", password="not-" + tls_broker.users["gateway"],
        tls=Tls(str(c.ca), str(c.client_cert), str(c.client_key)),
    )  # fmt: skip
    with pytest.raises(MqttError, match="refused the connection"):
        m.connect(timeout=TIMEOUT_S)


def test_tls_settings_with_a_plain_url_are_refused(base):
    with pytest.raises(ValueError, match="not an mqtts:// URL"):
        Mqtt("mqtt://127.0.0.1:1883", "t", f"{base}/availability", tls=Tls("ca.crt"))


def test_a_missing_ca_file_is_an_error_naming_it(base, tmp_path):
    missing = tmp_path / "no-ca.crt"
    with pytest.raises(MqttError, match="cannot set up TLS"):
        Mqtt("mqtts://127.0.0.1:8883", "t", f"{base}/availability", tls=Tls(str(missing)))


# --- MQTT 5 ---------------------------------------------------------------------------------


def test_mqtt5_response_topic_and_correlation_reach_the_subscriber(broker, clients, base):
    if not broker.mqtt5:
        pytest.skip(f"the {broker.kind} test broker speaks MQTT 3.1.1 only")
    got = queue.Queue()
    sub = clients(f"{base}/sub-availability", protocol=5).connect()
    sub.subscribe(f"{base}/cmd/+", got.put, full=True)
    pub = clients(f"{base}/availability", user="operator", protocol=5).connect()
    for _ in range(50):
        pub.publish(f"{base}/cmd/hold", b"{}", qos=1, response_topic=f"{base}/reply/x",
                    correlation=b"\x01\x02")  # fmt: skip
        try:
            msg = got.get(timeout=0.2)
            break
        except queue.Empty:
            continue
    else:
        pytest.fail("no command arrived")
    assert msg == Message(f"{base}/cmd/hold", b"{}", f"{base}/reply/x", b"\x01\x02")


def test_response_properties_need_mqtt5(clients, base):
    m = clients(f"{base}/availability")
    with pytest.raises(ValueError, match="need MQTT 5"):
        m.publish(f"{base}/x", b"", response_topic=f"{base}/reply")


def test_mqtt5_an_acl_refusal_is_an_error_naming_the_reason(broker, clients, base):
    if not broker.auth:
        pytest.skip(f"the {broker.kind} test broker has no ACL")
    viewer = clients(f"{base}/v-availability", user="viewer", protocol=5)
    viewer.will_topic = f"{base}/cmd/v-availability"  # a viewer may write nothing at all
    operator = clients(f"{base}/cmd/op-availability", user="operator", protocol=5).connect()
    with pytest.raises(MqttError, match="refused .*/state: Not authorized"):
        operator.publish_confirmed(f"{base}/state", b"forged")
    operator.publish_confirmed(f"{base}/cmd/hold", b"{}")  # its own kind of topic is fine
    assert operator.refused == 1


def test_mqtt5_to_a_broker_without_it_names_the_fix(base, tmp_path):
    from edge.broker import EmbeddedBroker  # amqtt: MQTT 3.1.1 only, as in the demo

    with EmbeddedBroker("127.0.0.1", 0, log_path=tmp_path / "amqtt.log") as b:
        m = Mqtt(f"mqtt://127.0.0.1:{b.port}", "t-v5", None, protocol=5)
        with pytest.raises(MqttError, match="--mqtt-version 3.1.1"):
            m.connect(timeout=TIMEOUT_S)


def test_subscribe_with_wait_returns_once_granted(broker, clients, base):
    inbox = Inbox()
    m = clients(f"{base}/availability", protocol=5 if broker.mqtt5 else 4).connect()
    m.subscribe(f"{base}/state", inbox, wait=TIMEOUT_S)
    m.publish(f"{base}/state", b"first try", qos=1)  # no warm-up loop needed
    inbox.expect(f"{base}/state", b"first try")
    # (Mosquitto 2.0 grants a subscription its ACL will not feed: no refusal to test here)
