"""gateway.ctl_session: `greenwave ctl`'s connection to the broker, topic bases and output."""

import pytest

from edge.cli import main
from gateway import ctl_session as S


def test_ctl_over_tls_verifies_the_broker(tls_broker, monkeypatch, capsys):
    c = tls_broker.certs
    monkeypatch.setenv("GREENWAVE_PASSWORD", tls_broker.users["viewer"])
    conn = ["ctl", "--broker", tls_broker.url, "--user", "viewer", "--site", "nobody-here",
            "--tls-cert", str(c.client_cert), "--tls-key", str(c.client_key)]  # fmt: skip
    code = main([*conn, "--ca-file", str(c.ca), "status", "--wait", "0.2"])
    assert (code, capsys.readouterr().err) == (1, "no intersections seen at site 'nobody-here'\n")
    code = main([*conn, "--ca-file", str(c.other_ca), "status", "--wait", "0.2"])
    assert code == 1 and "certificate verify failed" in capsys.readouterr().err


class Args:
    """The connection options as `greenwave ctl` parses them."""

    broker = "mqtt://127.0.0.1:1"
    site = "demo"
    intersection = "cross"
    user = None
    password_file = None
    ca_file = tls_cert = tls_key = None
    mqtt_version = "5"

    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_a_bad_broker_url_or_tls_files_without_mqtts_are_usage_errors():
    with pytest.raises(S.CtlError, match="mqtt://host:port, not 'http://x'"):
        S.connect(Args(broker="http://x"))
    with pytest.raises(S.CtlError, match="TLS files given but 'mqtt://h:1' is not an mqtts://"):
        S.connect(Args(broker="mqtt://h:1", ca_file="ca.pem"))


def test_an_unreadable_password_file_is_a_usage_error(tmp_path):
    with pytest.raises(S.CtlError, match="cannot read"):
        S.connect(Args(password_file=str(tmp_path / "missing")))


def test_topic_bases_of_one_intersection_and_of_every_one_at_the_site():
    assert S.topic_base(Args(), "cross") == "greenwave/demo/cross"
    assert S.topic_base(Args(), "+") == "greenwave/demo/+"
    with pytest.raises(S.CtlError, match="cannot be an MQTT topic level"):
        S.topic_base(Args(site="de/mo"), "cross")


def test_payloads_read_as_json_else_as_text(capsys):
    assert S.as_json(b'{"plan": 1}') == {"plan": 1}
    assert S.as_json(b"online") == "online"
    assert S.as_json(b"\xff") == "\ufffd"
    S.out("a line")
    assert capsys.readouterr().out == "a line\n"
