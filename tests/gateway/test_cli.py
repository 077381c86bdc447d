"""`greenwave gateway run`: the start-up failures exit non-zero and say what is wrong.

The run itself under an outage (and a `kill -9` of it) is in test_outage.py; a start before the
broker is here, with the helpers from there."""

import os
import re
import secrets as pysecrets

import pytest

from edge import factories
from edge.cli import main
from gateway.cli import redact


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "cross.toml"
    path.write_text(factories.example_toml("cross"))
    return path


def write_secrets(path, username="gateway", password=None, **broker):
    """A secrets file (mode 0600) with one random operator key; returns the path."""
    lines = ["[broker]", f'username = "{username}"',
             f'password = "{password or pysecrets.token_urlsafe(18)}"']  # fmt: skip
    lines += [f'{k} = "{v}"' for k, v in broker.items()]
    lines += ["[operators]", f'alice = "{pysecrets.token_hex(32)}"']
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def secrets_file(tmp_path):
    return write_secrets(tmp_path / "secrets.toml")


def run(capsys, *args):
    code = main(["gateway", "run", *map(str, args)])
    return code, capsys.readouterr().err


def test_an_unknown_algorithm_is_refused_by_the_parser_naming_the_choices(config, capsys):
    with pytest.raises(SystemExit) as e:
        main(["gateway", "run", "--config", str(config), "--algorithm", "webster"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --algorithm: invalid choice: 'webster'" in err
    assert "'schedule', 'max-pressure'" in err


def test_the_algorithm_is_listed_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["gateway", "run", "--help"])
    out = capsys.readouterr().out
    assert "--algorithm {schedule,max-pressure}" in out


def test_a_bad_config_exits_2_naming_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(factories.example_toml("cross").replace("baud = 115200", "baud = -5"))
    code, err = run(capsys, "--config", bad)
    assert code == 2
    assert "link.baud" in err and "-5" in err


def test_a_missing_config_exits_2(tmp_path, capsys):
    code, err = run(capsys, "--config", tmp_path / "nope.toml")
    assert code == 2 and "nope.toml: cannot read" in err


def test_a_bad_broker_url_exits_2_without_showing_the_password(
    config, secrets_file, tmp_path, capsys
):
    code, err = run(capsys, "--config", config, "--secrets", secrets_file,
                    "--broker", "http://gw:s3cret@host", "--state-dir", tmp_path)  # fmt: skip
    assert code == 2
    assert "http://gw:***@host" in err and "s3cret" not in err


def test_a_password_in_the_broker_url_is_refused_for_the_secrets_file(
    config, secrets_file, tmp_path, capsys
):
    code, err = run(capsys, "--config", config, "--secrets", secrets_file,
                    "--broker", "mqtt://gw:s3cret@host:1883", "--state-dir", tmp_path)  # fmt: skip
    assert code == 2
    assert "credentials go in the secrets file" in err and "s3cret" not in err


def test_without_a_secrets_file_the_gateway_does_not_start(config, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GREENWAVE_SECRETS", raising=False)
    code, err = run(capsys, "--config", config, "--state-dir", tmp_path)
    assert code == 2 and "no secrets file" in err and "example-secrets" in err


def test_the_shipped_example_secrets_are_refused_naming_each_field(
    config, tmp_path, capsys, monkeypatch
):
    assert main(["gateway", "example-secrets"]) == 0
    example = tmp_path / "example.toml"
    example.write_text(capsys.readouterr().out)
    os.chmod(example, 0o600)
    monkeypatch.setenv("GREENWAVE_SECRETS", str(example))  # the environment works too
    code, err = run(capsys, "--config", config, "--state-dir", tmp_path)
    assert code == 2
    assert f"{example}: broker.password: the sample value from the shipped example" in err
    assert f"{example}: operators.alice: the sample key from the shipped example" in err
    assert f"{example}: broker.ca_file: '/etc/greenwave/ca.crt' is not a readable file" in err


@pytest.mark.parametrize("password", ["changeme", "changeme-changeme-changeme", ""])
def test_a_default_broker_password_is_refused(config, tmp_path, capsys, password):
    path = tmp_path / "s.toml"
    write_secrets(path)
    path.write_text(path.read_text().replace(path.read_text().split('"')[3], password, 1))
    code, err = run(capsys, "--config", config, "--secrets", path, "--state-dir", tmp_path)
    assert code == 2 and f"{path}: broker.password: " in err
    assert all(password not in line.split(": ", 2)[-1] for line in err.splitlines() if password)


def test_tls_files_with_a_plain_broker_url_are_refused(config, tmp_path, capsys):
    ca = tmp_path / "ca.crt"
    ca.write_text("not really a CA\n")
    path = write_secrets(tmp_path / "s.toml", ca_file=ca)
    code, err = run(capsys, "--config", config, "--secrets", path, "--state-dir", tmp_path,
                    "--broker", "mqtt://127.0.0.1:1883")  # fmt: skip
    assert code == 2 and "not mqtts://" in err


@pytest.fixture
def tty_path():
    """A serial port with nothing on the far end (a pty whose master nobody reads)."""
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_a_broker_that_refuses_the_credentials_exits_2_naming_the_secrets_file(
    config, tmp_path, capsys, broker, tty_path
):
    if not broker.auth:
        pytest.skip(f"the {broker.kind} test broker does not check passwords")
    wrong = "not-" + broker.users["gateway"]
    path = write_secrets(tmp_path / "s.toml", "gateway", wrong)
    code, err = run(capsys, "--config", config, "--secrets", path, "--broker", broker.url,
                    "--port", tty_path, "--state-dir", tmp_path,
                    "--mqtt-version", "5" if broker.mqtt5 else "3.1.1")  # fmt: skip
    assert code == 2  # not retried: waiting will not make the password right
    assert f"the broker at {broker.url} refused the connection" in err
    assert f"check broker.username and broker.password in {path}" in err
    assert wrong not in err


def test_a_gateway_started_before_the_broker_queues_and_connects_when_it_appears(tmp_path):
    """`gateway run` with no broker at its address: it keeps running, reads the controller,
    queues on disk and says it is retrying with back-off; a Mosquitto started later on that
    port gets the backlog (marked historical) and then live telemetry."""
    import time
    import uuid

    from edge.factories import cross
    from gateway.clock import ScaledClock
    from gateway.planner import warm_up
    from tests.gateway.test_outage import (
        Broker,
        Consumer,
        GatewayRun,
        first_arrivals,
        need_mosquitto,
        on_disk,
        site_files,
    )
    from tests.gateway.test_service import SPEED, Peer, wait_for

    need_mosquitto()
    warm_up("schedule")  # a cold Numba cache is compiled (and saved) here, not by the gateway
    users = {"gateway": pysecrets.token_urlsafe(18), "viewer": pysecrets.token_urlsafe(18)}
    site = f"late-{uuid.uuid4().hex[:6]}"
    ix = cross()
    # The consumer's persistent session is made first, so it misses nothing whenever it and the
    # gateway come back; then the broker goes away before the gateway starts.
    broker = Broker(tmp_path, users).start()
    consumer = Consumer(broker, f"greenwave/{site}/{ix.id}")
    broker.stop()
    cfg, secrets = site_files(tmp_path, site, users["gateway"])
    db = tmp_path / "state" / f"{site}-{ix.id}.outbox.sqlite3"
    peer = Peer(ix, ScaledClock(time.time_ns(), SPEED))
    peer.pulse = 1
    gw = GatewayRun(tmp_path, "late", cfg, secrets, peer.path, broker.url)
    try:
        peer.start()
        gw.start()
        gw.wait_log(r"retrying in 2 s")  # the second failed attempt, with a longer wait
        assert f"cannot reach the broker at {broker.url}" in gw.log()
        wait_for("telemetry queued on disk", lambda: len(on_disk(db).get(("telemetry", 1), []))
                 >= 5, timeout=20)  # fmt: skip
        assert gw.proc.poll() is None
        broker.start()
        gw.wait_log("connected; publishing under", timeout=20)
        wait_for("the backlog to drain and live telemetry to follow", lambda: not on_disk(db)
                 and any(not m.get("historical") for m in consumer.on("telemetry")),
                 timeout=20)  # fmt: skip
        assert gw.stop() == 0
    finally:
        gw.kill()
        consumer.close()
        peer.stop()
        broker.stop()
    tel = first_arrivals(consumer.on("telemetry"))
    assert [m["seq"] for m in tel] == list(range(1, len(tel) + 1))  # from the first, no gap
    flags = [bool(m.get("historical")) for m in tel]
    assert flags[:5] == [True] * 5  # queued while there was no broker
    assert flags == sorted(flags, reverse=True)  # then live, and never historical again
    log = gw.log()
    assert "back-off up to 8 s" in log and "stopping" in log
    assert "optimizer: schedule-driven rolling horizon" in log  # the default, said at start
    assert re.search(r"optimizer schedule ready: kernels loaded in \d+\.\d\d s", log), log
    assert log.index("reading the controller") < log.index("cannot reach the broker")


def test_a_bad_port_exits_1_naming_it(config, tmp_path, capsys, broker):
    password = broker.users.get("gateway") or pysecrets.token_urlsafe(18)
    path = write_secrets(tmp_path / "s.toml", "gateway", password)
    port = tmp_path / "no-such-tty"
    code, err = run(capsys, "--config", config, "--secrets", path, "--broker", broker.url,
                    "--port", port, "--state-dir", tmp_path,
                    "--mqtt-version", "5" if broker.mqtt5 else "3.1.1")  # fmt: skip
    assert code == 1
    assert f"cannot open the controller port {str(port)!r}" in err
    assert password not in err  # the password is never printed


def test_an_unusable_state_dir_exits_1_naming_it(config, secrets_file, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run(capsys, "--config", config, "--secrets", secrets_file,
                    "--state-dir", blocker / "sub")  # fmt: skip
    assert code == 1 and "state directory" in err and "file/sub" in err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtt://u:p@h:1", "mqtt://u:***@h:1"),
        ("mqtts://user:pa:ss@host", "mqtts://user:***@host"),
        ("mqtt://host:1883", "mqtt://host:1883"),
    ],
)
def test_redact_hides_only_the_password(url, shown):
    assert redact(url) == shown


def test_no_secret_reaches_a_log_or_the_broker(tmp_path):
    """Run `greenwave gateway run -v` over TLS with a canary password and operator key, drive
    it (telemetry, a signed command, forged and malformed ones, a stop), then search the
    gateway's log, Mosquitto's log, the outbox file and everything published for them."""
    import signal
    import subprocess
    import sys
    import time
    import uuid

    from gateway import signing
    from gateway.clock import ScaledClock
    from gateway.mqtt import Mqtt, Tls
    from tests.brokerfixture import (
        ACL,
        BrokerStartError,
        ci_requires_mosquitto,
        find_mosquitto,
        make_certs,
        start_mosquitto,
    )
    from tests.gateway.test_service import SPEED, Inbox, Peer

    if not find_mosquitto() and not ci_requires_mosquitto():
        pytest.skip("needs mosquitto")
    canary_password = "Cnry" + pysecrets.token_urlsafe(24)
    canary_key = pysecrets.token_bytes(32)
    site = f"canary-{uuid.uuid4().hex[:6]}"
    base = f"greenwave/{site}/cross"
    users = {"gateway": canary_password, "operator": pysecrets.token_urlsafe(18),
             "spy": pysecrets.token_urlsafe(18)}  # fmt: skip
    acl = ACL + "\nuser spy\ntopic read #\n"
    workdir = tmp_path / "broker"
    workdir.mkdir()
    try:
        certs = make_certs(workdir)
        broker_cm = start_mosquitto(workdir, users, acl, certs=certs)
        broker = broker_cm.__enter__()
    except BrokerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    tls = Tls(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    cfg = tmp_path / "cross.toml"
    cfg.write_text(factories.example_toml("cross").replace('site = "demo"', f'site = "{site}"'))
    secrets_path = tmp_path / "secrets.toml"
    secrets_path.write_text(
        f'[broker]\nusername = "gateway"\npassword = "{canary_password}"\n'
        f'ca_file = "{certs.ca}"\ncert_file = "{certs.client_cert}"\n'
        f'key_file = "{certs.client_key}"\n[operators]\nalice = "{canary_key.hex()}"\n'
    )
    os.chmod(secrets_path, 0o600)
    captured = []
    spy = Mqtt(broker.url, "spy", None, username="spy", password=users["spy"], protocol=5,
               tls=tls)  # fmt: skip
    spy.subscribe("#", lambda t, p: captured.append((t, p)))
    spy.connect()
    inbox = Inbox(base)
    spy.subscribe(base + "/#", inbox)
    op = Mqtt(broker.url, "op", None, username="operator", password=users["operator"],
              protocol=5, tls=tls).connect()  # fmt: skip
    from edge.factories import cross

    peer = Peer(cross(), ScaledClock(time.time_ns(), SPEED))
    peer.pulse = 1
    log_path = tmp_path / "gateway.log"
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "edge.cli", "gateway", "run", "-v", "--config", str(cfg),
           "--secrets", str(secrets_path), "--port", peer.path, "--broker", broker.url,
           "--state-dir", str(state)]  # fmt: skip
    proc = None
    try:
        peer.start()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            inbox.wait("telemetry", timeout=30)
            inbox.wait("health", timeout=30)
            good = signing.sign("alice", canary_key, site, "cross", "hold", now=time.time())
            forged = signing.sign("alice", pysecrets.token_bytes(32), site, "cross", "hold",
                                  now=time.time())  # fmt: skip
            for payload in (good, good, forged, b"junk", {**good, "arg": "x"}):
                op.publish_confirmed(f"{base}/cmd/hold", payload, response_topic=f"{base}/reply/c",
                                     correlation=b"c")  # fmt: skip
            replies = [inbox.wait("reply/c") for _ in range(5)]
            assert [r["result"].split(":")[0] for r in replies].count("refused") >= 3, replies
            op.publish_confirmed(f"{base}/cmd/rebirth", b"")
            inbox.wait("health")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        peer.stop()
        for m in (spy, op):
            m.close(offline=False)
        broker_cm.__exit__(None, None, None)
    texts = {
        "gateway log": log_path.read_bytes(),
        "mosquitto log": broker.log_path.read_bytes(),
        "broker capture": b"\n".join(t.encode() + b" " + p for t, p in captured),
    }
    texts.update({f"state file {p.name}": p.read_bytes() for p in state.iterdir()})
    assert len(captured) > 10 and b"operator command hold refused" in texts["gateway log"]
    for name, blob in texts.items():
        for what, canary in (("password", canary_password.encode()),
                             ("key (hex)", canary_key.hex().encode()),
                             ("key (HEX)", canary_key.hex().upper().encode()),
                             ("key (bytes)", canary_key)):  # fmt: skip
            assert canary not in blob, f"the canary {what} is in the {name}"


def test_derive_key_prints_the_gateway_key_line_and_never_the_operators_key(tmp_path, capsys):
    from gateway.secrets import parse
    from gateway.signing import gateway_key

    key = pysecrets.token_bytes(32)
    key_file = tmp_path / "alice.key"
    key_file.write_text(f"alice:{key.hex()}\n")
    args = ["--site", "demo", "--intersection", "cross", "--operator-key", key_file]
    assert main(["gateway", "derive-key", *map(str, args)]) == 0
    out = capsys.readouterr().out
    assert out == f'alice = "{gateway_key(key, "demo", "cross").hex()}"\n'
    assert key.hex() not in out
    # the line goes straight into a secrets file's [operators] table
    text = f'[broker]\nusername = "demo/cross"\npassword = "{pysecrets.token_urlsafe(18)}"\n'
    assert parse(text + "[operators]\n" + out).operators == {
        "alice": gateway_key(key, "demo", "cross")
    }
    key_file.write_text("alice:00\n")
    assert main(["gateway", "derive-key", *map(str, args)]) == 2
    assert "too short" in capsys.readouterr().err
