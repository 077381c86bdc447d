"""deploy/mosquitto/: the shipped broker config and ACL, run by a real Mosquitto.

Only the paths, the port and the log destination are substituted; everything else (TLS with
client certificates, no anonymous access, the pattern ACL) is the shipped text. Refusals show
as MQTT 5 PUBACK reason codes ("Not authorized") and as connections the broker turns away.
"""

import os
import pwd
import queue
import secrets
import uuid
from pathlib import Path

import pytest

from gateway.mqtt import Mqtt, MqttError, Tls
from tests.brokerfixture import (
    HOST,
    BrokerStartError,
    ci_requires_mosquitto,
    find_mosquitto,
    make_certs,
    start_mosquitto,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
USERS = ("demo/cross", "demo/other", "alice", "viewer")


def shipped_conf(workdir: Path, certs) -> "callable":
    text = (DEPLOY / "mosquitto.conf").read_text()
    subs = {
        "listener 8883": "listener {port} " + HOST,
        "/etc/mosquitto/certs/ca.crt": str(certs.ca),
        "/etc/mosquitto/certs/server.crt": str(certs.server_cert),
        "/etc/mosquitto/certs/server.key": str(certs.server_key),
        "/etc/mosquitto/greenwave.passwd": str(workdir / "passwd"),
        "/etc/mosquitto/greenwave.acl": str(workdir / "acl"),
        "/var/lib/mosquitto/": f"{workdir}/",
        "log_dest syslog": f"log_dest file {workdir / 'mosquitto.log'}",
    }
    for old, new in subs.items():
        assert text.count(old) == 1, f"{old!r} is not in the shipped mosquitto.conf once"
        text = text.replace(old, new)
    if os.geteuid() == 0:  # as root Mosquitto would switch to user "mosquitto"
        text += f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
    return lambda port: text.replace("{port}", str(port))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    if not find_mosquitto() and not ci_requires_mosquitto():
        pytest.skip("needs mosquitto")
    workdir = tmp_path_factory.mktemp("shipped-broker")
    users = {u: secrets.token_urlsafe(18) for u in USERS}
    try:
        certs = make_certs(workdir)
        with start_mosquitto(
            workdir, users, (DEPLOY / "acl").read_text(), certs=certs,
            conf=shipped_conf(workdir, certs),
        ) as info:  # fmt: skip
            yield info
    except BrokerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def connect(shipped):
    made = []

    def make(user, *, password=None, cert=True):
        c = shipped.certs
        tls = Tls(str(c.ca), str(c.client_cert), str(c.client_key)) if cert else Tls(str(c.ca))
        creds = {} if user is None else {
            "username": user, "password": password or shipped.users[user]}  # fmt: skip
        safe = (user or "anon").replace("/", "_")
        m = Mqtt(shipped.url, f"{safe}-{uuid.uuid4().hex[:6]}", f"greenwave/{user}/availability",
                 protocol=5, tls=tls, **creds)  # fmt: skip
        m.will_topic = f"greenwave/{user}/x/availability"  # written only where the user may
        made.append(m)
        return m.connect()

    yield make
    for m in made:
        m.close(offline=False)


def refused(client, topic):
    with pytest.raises(MqttError, match="Not authorized"):
        client.publish_confirmed(topic, b"x")
    return True


def test_anonymous_connections_are_refused(connect):
    with pytest.raises(MqttError, match="refused the connection: Not authorized"):
        connect(None)


def test_a_wrong_password_is_refused(connect):
    with pytest.raises(MqttError, match="refused the connection"):
        connect("alice", password="alice-" + secrets.token_urlsafe(18))


def test_a_client_without_a_certificate_is_turned_away(connect):
    with pytest.raises(MqttError, match="cannot reach|no answer"):
        connect("alice", cert=False)


def test_a_gateway_publishes_only_under_its_own_intersection(connect):
    gw = connect("demo/cross")
    gw.publish_confirmed("greenwave/demo/cross/state", b"{}")
    gw.publish_confirmed("greenwave/demo/cross/reply/hold", b"{}")
    assert refused(gw, "greenwave/demo/other/state")
    assert refused(gw, "greenwave/other-site/cross/state")
    assert refused(gw, "greenwave/demo")  # nor above it
    assert gw.refused == 3


def test_an_operator_may_only_send_commands(connect):
    op = connect("alice")
    op.publish_confirmed("greenwave/demo/cross/cmd/hold", b"{}")
    op.publish_confirmed("greenwave/any-site/any-ix/cmd/preempt", b"{}")
    assert refused(op, "greenwave/demo/cross/state")
    assert refused(op, "greenwave/demo/cross/reply/hold")  # cannot forge the gateway's answer
    assert refused(op, "greenwave/demo/cross/health")


def test_a_viewer_reads_everything_and_writes_nothing(connect):
    viewer = connect("viewer")
    got = queue.Queue()
    viewer.subscribe("greenwave/#", lambda t, p: got.put((t, p)))
    gw = connect("demo/cross")
    for _ in range(50):  # until the subscription is live
        gw.publish_confirmed("greenwave/demo/cross/state", b"seen")
        try:
            if got.get(timeout=0.2) == ("greenwave/demo/cross/state", b"seen"):
                break
        except queue.Empty:
            continue
    else:
        pytest.fail("the viewer saw nothing")
    assert refused(viewer, "greenwave/demo/cross/cmd/hold")
    assert refused(viewer, "greenwave/demo/cross/state")


def test_a_gateway_cannot_read_another_intersection(connect):
    got = queue.Queue()
    gw = connect("demo/cross")
    gw.subscribe("greenwave/demo/other/#", lambda t, p: got.put(("other", t, p)))
    gw.subscribe("greenwave/demo/cross/#", lambda t, p: got.put(("own", t, p)))
    other = connect("demo/other")
    for _ in range(50):
        other.publish_confirmed("greenwave/demo/other/state", b"secret plans")
        gw.publish_confirmed("greenwave/demo/cross/state", b"marker")  # routed after it
        try:
            first = got.get(timeout=0.2)
        except queue.Empty:
            continue
        assert first[0] == "own", first
        break
    else:
        pytest.fail("the gateway's own subscription never delivered")
    leftovers = [got.get_nowait() for _ in range(got.qsize())]
    assert all(kind == "own" for kind, _, _ in leftovers), leftovers
