"""The gateway's secrets file: broker credentials, TLS files and operator keys (TOML).

Kept apart from the intersection config, which is shared, versioned and printed; this file is
mode 0600 and read once at start-up. Every problem is reported together, naming the field but
never showing a secret value. Sample values (the shipped example's, "changeme" and the like),
empty values and short keys are refused: a gateway never runs on a default secret.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

MIN_PASSWORD_CHARS = 16
MIN_KEY_BYTES = 32  # HMAC-SHA256 keys: as long as the hash
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")

EXAMPLE = """\
# Greenwave gateway secrets for one cabinet (greenwave gateway run --secrets FILE).
# Keep it mode 0600, owned by the gateway's user. Every value below is a SAMPLE: the gateway
# refuses to start until each one is replaced (openssl rand -hex 32 makes a key).

[broker]
# The gateway's broker user. With the shipped ACL (deploy/mosquitto/) it is
# "<site>/<intersection>", which may publish only under greenwave/<site>/<intersection>/.
username = "demo/cross"
password = "sample-broker-password-replace-me"
# TLS (mqtts:// broker URL): the CA that signed the broker's certificate; leave out for the
# system's CAs. A client certificate and key are optional.
ca_file = "/etc/greenwave/ca.crt"
# cert_file = "/etc/greenwave/gateway.crt"
# key_file = "/etc/greenwave/gateway.key"

[operators]
# key id = "the operator's GATEWAY key in hex": K_gw, derived from the operator's own key K by
#   greenwave gateway derive-key --site demo --intersection cross --operator-key alice.key
# The gateway never holds K: K is provisioned on the controller, which checks the operator's
# own signature; the gateway checks only the second signature, made with K_gw.
alice = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

[link]
# The link key (32 random bytes in hex), also in the controller's keys file: it tags the
# gateway's own requests (the optimizer's holds and switches) for the controller.
key = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
"""

# Never accepted whatever the length: what people type when they mean "fill in later".
_WEAK = re.compile(
    r"(change[-_ ]?me|changeit|replace[-_ ]?me|password|passw0rd|secret|sample|example|default|"
    r"admin|letmein|qwerty|12345678|test|dummy|xxxxxxxx)",
    re.IGNORECASE,
)


class SecretsError(ValueError):
    """The secrets file cannot be used; `problems` lists every reason, field first."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Secrets:
    """What `load` read. `repr` shows no secret."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    operators: dict[str, bytes] = field(default_factory=dict, repr=False)
    link_key: bytes | None = field(default=None, repr=False)

    def values(self) -> list[str]:
        """Every secret value as text, for redaction and the canary test."""
        out = [self.password] if self.password else []
        out += [self.link_key.hex()] if self.link_key else []
        return out + [k.hex() for k in self.operators.values()]


def _sample_values() -> set[str]:
    raw = tomllib.loads(EXAMPLE)
    return {raw["broker"]["password"], *raw["operators"].values(), raw["link"]["key"]}


_SAMPLES = _sample_values()


def check_password(name: str, value) -> str | None:
    """Why `value` is not a usable password (never quoting it), or None."""
    if not isinstance(value, str) or not value:
        return f"{name}: empty; set a password of {MIN_PASSWORD_CHARS} characters or more"
    if value in _SAMPLES:
        return f"{name}: the sample value from the shipped example; replace it"
    if len(value) < MIN_PASSWORD_CHARS:
        return f"{name}: too short ({len(value)} characters, at least {MIN_PASSWORD_CHARS})"
    if _WEAK.search(value) or len(set(value)) < 6:
        return f"{name}: a placeholder or guessable value; replace it"
    return None


def check_key(name: str, value) -> tuple[bytes | None, str | None]:
    """(key bytes, None) or (None, why not) for a hex HMAC key, never quoting it."""
    if not isinstance(value, str) or not value:
        return None, f"{name}: empty; set {MIN_KEY_BYTES} random bytes in hex"
    if value.lower() in _SAMPLES:
        return None, f"{name}: the sample key from the shipped example; replace it"
    try:
        key = bytes.fromhex(value)
    except ValueError:
        return None, f"{name}: not hex; set {MIN_KEY_BYTES} random bytes in hex"
    if len(key) < MIN_KEY_BYTES:
        return None, f"{name}: too short ({len(key)} bytes, at least {MIN_KEY_BYTES})"
    if len(set(key)) < 8:
        return None, f"{name}: not random (repeated bytes); use openssl rand -hex 32"
    return key, None


def parse(text: str, source: str = "secrets") -> Secrets:
    """The secrets in `text`; raises SecretsError with every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SecretsError([f"{source}: not TOML: {e}"]) from None
    problems: list[str] = []
    for key in raw:
        if key not in ("broker", "operators", "link"):
            problems.append(f"{key}: unknown section; expected broker, operators, link")
    broker = raw.get("broker", {})
    operators = raw.get("operators", {})
    link = raw.get("link", {})
    if not all(isinstance(t, dict) for t in (broker, operators, link)):
        raise SecretsError([f"{source}: broker, operators and link must be tables"])
    link_key = None
    for key in link:
        if key != "key":
            problems.append(f"link.{key}: unknown key; expected key")
    if "key" in link:
        link_key, why = check_key("link.key", link["key"])
        if why:
            problems.append(why)
    known = ("username", "password", "ca_file", "cert_file", "key_file")
    for key in broker:
        if key not in known:
            problems.append(f"broker.{key}: unknown key; expected one of {', '.join(known)}")
    username = broker.get("username")
    if not isinstance(username, str) or not username or set(username) & set("+# "):
        problems.append(f"broker.username: {username!r} is not a broker user name")
    why = check_password("broker.password", broker.get("password"))
    if why:
        problems.append(why)
    files = {}
    for key in ("ca_file", "cert_file", "key_file"):
        value = broker.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not Path(value).is_file():
            problems.append(f"broker.{key}: {value!r} is not a readable file")
        files[key] = value
    if ("cert_file" in files) != ("key_file" in files):
        problems.append("broker.cert_file, broker.key_file: give both or neither")
    keys: dict[str, bytes] = {}
    for key_id, value in operators.items():
        if not KEY_ID.fullmatch(key_id):
            problems.append(f"operators.{key_id}: a key id is 1-32 of A-Z a-z 0-9 _ . -")
            continue
        key, why = check_key(f"operators.{key_id}", value)
        if why:
            problems.append(why)
        else:
            keys[key_id] = key
    seen: dict[bytes, str] = {}
    for key_id, key in keys.items():
        if key in seen:
            problems.append(f"operators.{key_id}: the same key as operators.{seen[key]}")
        seen[key] = key_id
    if link_key is not None and link_key in seen:
        problems.append(f"link.key: the same key as operators.{seen[link_key]}")
    if problems:
        raise SecretsError(problems)
    return Secrets(username, broker["password"], operators=keys, link_key=link_key, **files)


def load_secrets(path: str | os.PathLike) -> Secrets:
    """Read and check the secrets file; it must not be readable by group or others."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SecretsError([f"{p}: cannot read: {e.strerror or e}"]) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            [f"{p}: mode {stat.S_IMODE(mode):04o} lets others read it; chmod 600 {p}"]
        )
    return parse(text, str(p))


class Redactor(logging.Filter):
    """A log filter that replaces each secret value in a record's text with ***."""

    def __init__(self, values: list[str]):
        super().__init__()
        self.values = [v for v in values if v]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        hidden = text
        for v in self.values:
            hidden = hidden.replace(v, "***")
        if hidden != text:
            record.msg, record.args = hidden, None
        return True


# --- the controller's keys file ------------------------------------------------------------
# What a controller is provisioned with (the rig, or a technician's flashing tool, writes it to
# the controller's flash as `keys.json` with firmware.storage.save(dir, d, "keys")). Unlike the
# gateway's secrets it holds the operators' own keys K, and the link key. TOML:
#
#   site = "demo"
#   [operators]
#   alice = "<K in hex, 32 bytes or more>"
#   [link]
#   key = "<the link key in hex, as in the gateway's secrets>"


def controller_keys(site: str, operators: dict[str, bytes], link_key: bytes) -> dict:
    """The compact dict the controller reads from `keys.json` (firmware/boot.py load_keys)."""
    return {"v": 1, "site": site, "operators": {k: v.hex() for k, v in operators.items()},
            "link": link_key.hex()}  # fmt: skip


def load_controller_keys(path: str | os.PathLike) -> dict:
    """Read and check a controller keys file (TOML, mode 0600); the compact dict for flash."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SecretsError([f"{p}: cannot read: {e}"]) from None
    problems = []
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        problems.append(f"{p}: mode {stat.S_IMODE(mode):04o} lets others read it; chmod 600 {p}")
    site = raw.get("site")
    if not isinstance(site, str) or not re.fullmatch(r"[^+#/\s]{1,64}", site):
        problems.append(f"site: {site!r} is not a site id")
    ops = {}
    for key_id, value in (raw.get("operators") or {}).items():
        key, why = check_key(f"operators.{key_id}", value)
        if why or not KEY_ID.fullmatch(key_id):
            problems.append(why or f"operators.{key_id}: a key id is 1-32 of A-Z a-z 0-9 _ . -")
        else:
            ops[key_id] = key
    link, why = check_key("link.key", (raw.get("link") or {}).get("key"))
    if why:
        problems.append(why)
    if problems:
        raise SecretsError(problems)
    return controller_keys(site, ops, link)
