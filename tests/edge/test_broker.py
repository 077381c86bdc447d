"""The test broker fixture (Mosquitto with auth and ACL, or amqtt) and edge.broker."""

import queue
import socket
import uuid

import paho.mqtt.client as mqtt
import pytest

from edge.broker import (
    BrokerStartError,
    EmbeddedBroker,
    parse_broker_url,
)

TIMEOUT_S = 10.0
PROTOCOLS = {"v311": mqtt.MQTTv311, "v5": mqtt.MQTTv5}


class Client:
    """A blocking paho client for tests: every call waits for the broker's answer."""

    def __init__(self, host, port, user=None, password=None, protocol=mqtt.MQTTv311):
        self.host, self.port = host, port
        self.paho = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, protocol=protocol, reconnect_on_failure=False
        )
        if user is not None:
            self.paho.username_pw_set(user, password)
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.paho.on_connect = lambda c, u, flags, rc, props: self.connacks.put(rc)
        self.paho.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(rcs)
        self.paho.on_message = lambda c, u, msg: self.messages.put(msg)

    def connect(self):
        """Connect and return the CONNACK reason code (success or not)."""
        self.paho.connect(self.host, self.port, keepalive=30)
        self.paho.loop_start()
        return self.connacks.get(timeout=TIMEOUT_S)

    def subscribe(self, topic, qos=1):
        self.paho.subscribe(topic, qos)
        codes = self.subacks.get(timeout=TIMEOUT_S)
        assert not any(rc.is_failure for rc in codes), f"subscribe {topic!r}: {codes}"

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.paho.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT_S)
        assert info.is_published()

    def next_message(self):
        return self.messages.get(timeout=TIMEOUT_S)

    def close(self):
        self.paho.disconnect()
        self.paho.loop_stop()


@pytest.fixture
def clients():
    made = []

    def make(broker, user=None, protocol=mqtt.MQTTv311, password=None):
        if user is not None and password is None:
            password = broker.users[user]
        c = Client(broker.host, broker.port, user, password, protocol)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def _protocol(broker, name):
    if name == "v5" and not broker.mqtt5:
        pytest.skip(f"{broker.kind} does not speak MQTT 5")
    return PROTOCOLS[name]


def _needs_auth(broker):
    if not broker.auth:
        pytest.skip(f"{broker.kind} runs without auth and ACL (mosquitto not installed)")


def _base():
    return f"greenwave/t{uuid.uuid4().hex[:8]}/ix"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_round_trip_as_gateway(broker, clients, proto):
    protocol = _protocol(broker, proto)
    base = _base()
    sub = clients(broker, "gateway", protocol)
    pub = clients(broker, "gateway", protocol)
    assert sub.connect().is_failure is False
    assert pub.connect().is_failure is False
    sub.subscribe(f"{base}/#")
    pub.publish(f"{base}/state", b'{"signals": "GGrr"}')
    msg = sub.next_message()
    assert (msg.topic, msg.payload) == (f"{base}/state", b'{"signals": "GGrr"}')


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_acl_operator_writes_only_commands(broker, clients, proto):
    _needs_auth(broker)
    protocol = _protocol(broker, proto)
    base = _base()
    gateway = clients(broker, "gateway", protocol)
    operator = clients(broker, "operator", protocol)
    assert not gateway.connect().is_failure
    assert not operator.connect().is_failure
    gateway.subscribe(f"{base}/#")
    # One connection's messages arrive in order: if the command comes first, the state was dropped.
    operator.publish(f"{base}/state", b"forged")
    operator.publish(f"{base}/cmd/hold", b"ok")
    assert gateway.next_message().topic == f"{base}/cmd/hold"
    assert gateway.messages.empty()


def test_acl_viewer_reads_but_cannot_write(broker, clients):
    _needs_auth(broker)
    base = _base()
    viewer = clients(broker, "viewer")
    gateway = clients(broker, "gateway")
    assert not viewer.connect().is_failure
    assert not gateway.connect().is_failure
    viewer.subscribe(f"{base}/#")
    gateway.subscribe(f"{base}/#")
    viewer.publish(f"{base}/cmd/hold", b"viewer")
    gateway.publish(f"{base}/state", b"gateway")
    assert viewer.next_message().payload == b"gateway"
    assert gateway.next_message().payload == b"gateway"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_wrong_password_is_refused(broker, clients, proto):
    _needs_auth(broker)
    rc = clients(broker, "gateway", _protocol(broker, proto), password="not-the-password").connect()
    assert rc.is_failure
    assert str(rc) in ("Not authorized", "Bad user name or password")


def test_anonymous_is_refused(broker, clients):
    _needs_auth(broker)
    assert clients(broker).connect().is_failure


def test_embedded_broker_retains_and_frees_its_port(clients):
    with EmbeddedBroker() as b:
        assert b.url == f"mqtt://127.0.0.1:{b.port}" and b.port > 0
        host, port, tls = parse_broker_url(b.url)
        info = type("Info", (), {"host": host, "port": port})
        pub = clients(info)
        assert not pub.connect().is_failure
        pub.publish("greenwave/demo/ix/availability", b"online", retain=True)
        late = clients(info)
        assert not late.connect().is_failure
        late.subscribe("greenwave/+/+/availability")
        msg = late.next_message()
        assert (msg.payload, msg.retain) == (b"online", True)
        assert "Listener 'default' bind to" in b.log_path.read_text()
    assert not b.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=TIMEOUT_S).close()


def test_embedded_broker_speaks_only_mqtt_311(clients):
    with EmbeddedBroker() as b:
        rc = clients(b, protocol=mqtt.MQTTv5).connect()
        assert str(rc) == "Unsupported protocol version"


def test_embedded_broker_start_failure_quotes_the_log():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        b = EmbeddedBroker(port=taken.getsockname()[1])
        with pytest.raises(
            BrokerStartError, match="(?s)exited with code 1.*address already in use"
        ):
            b.start()
        b.stop()


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mqtt://localhost", ("localhost", 1883, False)),
        ("mqtts://broker.example", ("broker.example", 8883, True)),
        ("mqtt://10.0.0.2:1884", ("10.0.0.2", 1884, False)),
        ("mqtts://[::1]:8884/", ("::1", 8884, True)),
        ("tcp://h:1", ("h", 1, False)),
    ],
)
def test_parse_broker_url(url, expected):
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize(
    "url, names",
    [
        ("http://x", "'http'"),
        ("x:1883", "'x:1883'"),
        ("mqtt://:1883", "no host"),
        ("mqtt://h:port", "'h:port'"),
        ("mqtt://h:70000", "'h:70000'"),
        ("mqtt://h:0", "port 0"),
        ("mqtt://h/topic", "'/topic'"),
        (None, "None"),
    ],
)
def test_parse_broker_url_names_the_bad_value(url, names):
    with pytest.raises(ValueError, match="broker url") as err:
        parse_broker_url(url)
    assert names in str(err.value)
