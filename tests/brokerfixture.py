"""The MQTT broker the tests talk to: a real Mosquitto when installed, else embedded amqtt.

Mosquitto runs with its own generated config: a free port on 127.0.0.1, no anonymous access,
a password file, an ACL and no persistence. The users:

- ``gateway``  reads and writes ``greenwave/#``;
- ``operator`` reads ``greenwave/#`` and writes only ``greenwave/+/+/cmd/#``;
- ``viewer``   reads ``greenwave/#``.

``tls_broker`` is a second Mosquitto with the same users on a TLS listener that verifies client
certificates: a CA, a server certificate for 127.0.0.1 and a client certificate are made at test
time with the ``openssl`` command (`make_certs`), plus a second, unrelated CA for the refusals.
``start_mosquitto`` runs one with any users, ACL text and TLS settings (the shipped ACL test).

Without Mosquitto the embedded amqtt broker (edge.broker) stands in: MQTT 3.1.1 only, anonymous,
no ACL, so `BrokerInfo.auth` is False there and the same user names and passwords are accepted
but not enforced. With ``CI`` set, a missing Mosquitto fails the run instead.

Both conftests use this module: ``from tests.brokerfixture import broker``.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.broker import (
    BrokerStartError,
    EmbeddedBroker,
    free_port,
    stop_process,
    wait_until_listening,
)

HOST = "127.0.0.1"
USERS = ("gateway", "operator", "viewer")
ACL = """\
user gateway
topic readwrite greenwave/#

user operator
topic read greenwave/#
topic write greenwave/+/+/cmd/#

user viewer
topic read greenwave/#
"""
_START_TIMEOUT_S = 20.0


@dataclass
class BrokerInfo:
    """What a test needs to reach the broker."""

    host: str
    port: int
    kind: str  # "mosquitto" | "amqtt"
    users: dict[str, str] = field(default_factory=dict)
    auth: bool = False  # True when users and the ACL are enforced
    mqtt5: bool = False  # True when the broker accepts MQTT 5 clients
    log_path: Path | None = None
    certs: Certs | None = None  # with a TLS listener on `port`

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.certs else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Certs:
    """PEM files made by `make_certs`: `ca` signed `server` (127.0.0.1) and `client`;
    `other_ca` signed nothing here (a broker it does not vouch for)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode:
        raise BrokerStartError(f"openssl {args[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")


def make_certs(workdir: Path) -> Certs:
    """A throw-away CA with a server certificate for 127.0.0.1 and a client certificate."""
    if not shutil.which("openssl"):
        raise BrokerStartError("the openssl command is needed to make test certificates")
    d = workdir / "certs"
    d.mkdir(exist_ok=True)
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-subj", f"/CN=greenwave test {ca}",
                 cwd=d)  # fmt: skip
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subject, ext in (("server", "/CN=127.0.0.1", ["-extfile", "server.ext"]),
                               ("client", "/CN=greenwave test client", [])):  # fmt: skip
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", "-subj", subject, cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", *ext, cwd=d)  # fmt: skip
    return Certs(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt",
                 d / "client.key", d / "other-ca.crt")  # fmt: skip


def find_mosquitto() -> str | None:
    """Path of the mosquitto executable, or None."""
    return shutil.which("mosquitto")


def mosquitto_version(path: str) -> str:
    """The version `mosquitto -h` reports, e.g. "2.0.11" ("unknown" if it says none)."""
    proc = subprocess.run([path, "-h"], capture_output=True, text=True, timeout=10)
    found = re.search(r"mosquitto version (\S+)", proc.stdout + proc.stderr)
    return found.group(1) if found else "unknown"


def ci_requires_mosquitto() -> bool:
    """True when the CI variable says this is a CI run (then amqtt is no substitute)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def describe_broker() -> str:
    """One line for the pytest report header: which broker this run uses."""
    path = find_mosquitto()
    if path:
        return f"broker: mosquitto {mosquitto_version(path)} ({path})"
    if ci_requires_mosquitto():
        return "broker: NONE - mosquitto not on PATH and CI is set (broker tests will fail)"
    return "broker: embedded amqtt (mosquitto not on PATH)"


def _mosquitto_conf(workdir: Path, port: int, certs: Certs | None = None) -> str:
    lines = [f"listener {port} {HOST}"]
    if certs is not None:  # the server proves itself with `ca`; clients must too
        lines += [
            f"cafile {certs.ca}",
            f"certfile {certs.server_cert}",
            f"keyfile {certs.server_key}",
            "require_certificate true",
            "tls_version tlsv1.2",
        ]
    lines += [
        "allow_anonymous false",
        f"password_file {workdir / 'passwd'}",
        f"acl_file {workdir / 'acl'}",
        "persistence false",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type all",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if os.geteuid() == 0:
        # As root Mosquitto would switch to user "mosquitto", who cannot read our 0700 tmp dir.
        lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
    return "\n".join(lines) + "\n"


def _started(log_path: Path):
    """Mosquitto's own word that it is up: its "running" line (a stranger may hold the port)."""

    def ready() -> bool:
        try:
            return " running" in log_path.read_text(errors="replace")
        except OSError:
            return False

    return ready


@contextmanager
def mosquitto_broker(workdir: Path, mosquitto: str) -> Iterator[BrokerInfo]:
    """Run Mosquitto with generated auth and ACL in `workdir` until the block exits."""
    users = {name: secrets.token_urlsafe(12) for name in USERS}
    with start_mosquitto(workdir, users, ACL, mosquitto=mosquitto) as info:
        yield info


@contextmanager
def start_mosquitto(
    workdir: Path,
    users: dict[str, str],
    acl: str,
    *,
    certs: Certs | None = None,
    mosquitto: str | None = None,
    conf: Callable[[int], str] | None = None,
    port: int | None = None,
) -> Iterator[BrokerInfo]:
    """Run Mosquitto with these users (name -> password) and ACL text until the block exits;
    with `certs`, its one listener is TLS and wants a client certificate. `conf(port)`, when
    given, is the whole config instead of the generated one (its log must go to
    `workdir/mosquitto.log`, its password and ACL files are `workdir/passwd` and `workdir/acl`).
    `port`, when given, is the one to listen on (a broker started again where clients expect it);
    else a free one is picked."""
    mosquitto = mosquitto or find_mosquitto()
    if not mosquitto:
        raise BrokerStartError("mosquitto is not on PATH (Debian puts it in /usr/sbin)")
    passwd_tool = shutil.which("mosquitto_passwd") or shutil.which(
        "mosquitto_passwd", path=str(Path(mosquitto).parent)
    )
    if not passwd_tool:
        raise BrokerStartError(f"mosquitto found at {mosquitto!r} but mosquitto_passwd is not")
    workdir.mkdir(parents=True, exist_ok=True)
    passwd = workdir / "passwd"
    passwd.write_text("")
    for name, password in users.items():
        subprocess.run([passwd_tool, "-b", str(passwd), name, password], check=True, timeout=30)
    (workdir / "acl").write_text(acl)
    log_path = workdir / "mosquitto.log"
    proc = None
    # A kernel-picked port may be taken again before Mosquitto binds it: try a few.
    chosen = port
    attempts = 1 if chosen else 3
    for attempt in range(attempts):
        port = chosen or free_port(HOST)
        conf_path = workdir / "mosquitto.conf"
        conf_path.write_text(conf(port) if conf else _mosquitto_conf(workdir, port, certs))
        with open(workdir / "mosquitto.stderr", "ab") as err:
            proc = subprocess.Popen(
                [mosquitto, "-c", str(conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            wait_until_listening(
                proc, HOST, port, _START_TIMEOUT_S, log_path, "mosquitto", ready=_started(log_path)
            )
            break
        except BrokerStartError:
            stop_process(proc)
            if attempt == attempts - 1:
                raise
    try:
        yield BrokerInfo(HOST, port, "mosquitto", dict(users), True, True, log_path, certs)
    finally:
        stop_process(proc)


@contextmanager
def embedded_broker(workdir: Path) -> Iterator[BrokerInfo]:
    """Run the embedded amqtt broker (anonymous, MQTT 3.1.1) until the block exits."""
    users = {name: secrets.token_urlsafe(12) for name in USERS}
    log_path = workdir / "amqtt.log"
    with EmbeddedBroker(HOST, 0, log_path=log_path) as b:
        yield BrokerInfo(b.host, b.port, "amqtt", users, False, False, log_path)


@contextmanager
def run_broker(workdir: Path) -> Iterator[BrokerInfo]:
    """Mosquitto if installed, else amqtt; with CI set, a missing Mosquitto is an error."""
    mosquitto = find_mosquitto()
    if mosquitto:
        with mosquitto_broker(workdir, mosquitto) as info:
            yield info
    elif ci_requires_mosquitto():
        raise BrokerStartError(
            "CI is set but mosquitto is not on PATH: install it (apt-get install mosquitto; "
            "Debian puts it in /usr/sbin); the embedded amqtt broker is not used in CI"
        )
    else:
        with embedded_broker(workdir) as info:
            yield info


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    """The session's MQTT broker (see the module docstring for users and ACL)."""
    workdir = tmp_path_factory.mktemp("broker")
    with ExitStack() as stack:
        try:
            info = stack.enter_context(run_broker(workdir))
        except BrokerStartError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield info


@pytest.fixture(scope="session")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    """Mosquitto with the usual users and ACL on a TLS listener that wants client certificates
    (``certs`` on the result); skipped without Mosquitto unless CI is set."""
    if not find_mosquitto() and not ci_requires_mosquitto():
        pytest.skip("TLS tests need mosquitto")
    workdir = tmp_path_factory.mktemp("tls-broker")
    users = {name: secrets.token_urlsafe(12) for name in USERS}
    try:
        certs = make_certs(workdir)
        with start_mosquitto(workdir, users, ACL, certs=certs) as info:
            yield info
    except BrokerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
