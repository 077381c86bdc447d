"""The MQTT broker the tests talk to: a real Mosquitto when installed, else embedded amqtt.

Mosquitto runs with its own generated config: a free port on 127.0.0.1, no anonymous access,
a password file, an ACL and no persistence. The users:

- ``gateway``  reads and writes ``greenwave/#``;
- ``operator`` reads ``greenwave/#`` and writes only ``greenwave/+/+/cmd/#``;
- ``viewer``   reads ``greenwave/#``.

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
from collections.abc import Iterator
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

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


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


def _mosquitto_conf(workdir: Path, port: int) -> str:
    lines = [
        f"listener {port} {HOST}",
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
    passwd_tool = shutil.which("mosquitto_passwd")
    if not passwd_tool:
        raise BrokerStartError(f"mosquitto found at {mosquitto!r} but mosquitto_passwd is not")
    users = {name: secrets.token_urlsafe(12) for name in USERS}
    passwd = workdir / "passwd"
    passwd.write_text("")
    for name, password in users.items():
        subprocess.run([passwd_tool, "-b", str(passwd), name, password], check=True, timeout=30)
    (workdir / "acl").write_text(ACL)
    log_path = workdir / "mosquitto.log"
    proc = None
    # A kernel-picked port may be taken again before Mosquitto binds it: try a few.
    for attempt in range(3):
        port = free_port(HOST)
        conf = workdir / "mosquitto.conf"
        conf.write_text(_mosquitto_conf(workdir, port))
        with open(workdir / "mosquitto.stderr", "ab") as err:
            proc = subprocess.Popen(
                [mosquitto, "-c", str(conf)],
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
            if attempt == 2:
                raise
    try:
        yield BrokerInfo(HOST, port, "mosquitto", users, True, True, log_path)
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
