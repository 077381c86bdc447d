"""Signed operator commands: the canonical bytes, HMAC-SHA256, and the gateway's checks.

Pure logic: no MQTT, no clock of its own (`now` is passed in). The canonical bytes are UTF-8
lines (plain ASCII for ASCII ids) so a controller with only `hashlib.sha256` (MicroPython has
no `hmac`) computes the same signature with the textbook HMAC (docs/gateway.md, "Signed
commands"):

    greenwave-cmd-1\\n<site>\\n<intersection>\\n<cmd>\\n<arg>\\n<key id>\\n<ts>\\n<exp>\\n<nonce>

`arg`, `ts` and `exp` are decimal integers (`ts`, `exp`: Unix seconds); `nonce` is 16 to 64
lowercase hex digits. The command on the wire is JSON:
`{"cmd", "arg", "key", "ts", "exp", "nonce", "sig", "gw_sig"}`, both signatures in lowercase hex.

An operator signs twice. `sig` uses the operator's key K, which only the operator and the
controller hold; the controller checks it. `gw_sig` uses K_gw = HMAC(K, "greenwave-gateway-key-1
\\n<site>\\n<intersection>"), which is what the gateway's secrets file holds: the gateway checks
`gw_sig` and forwards `sig` unchanged. With symmetric keys whoever can check a signature can make
one, so a gateway holding K could forge commands; holding K_gw it cannot make `sig`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

VERSION = "greenwave-cmd-1"
GATEWAY_KEY_LABEL = "greenwave-gateway-key-1"
MAX_PAYLOAD = 1024  # bytes; anything longer is malformed before it is parsed
MAX_LIFETIME_S = 300  # exp - ts; bounds how long a nonce must be remembered
MAX_SKEW_S = 30  # a ts this far ahead of the gateway's clock is still taken
MAX_NONCES = 10_000  # live nonces remembered; beyond it new commands are refused, not forgotten
COMMANDS = ("hold", "release", "switch", "plan", "preempt", "flash", "clear-flash")
_FIELDS = {"cmd": str, "arg": int, "key": str, "ts": int, "exp": int, "nonce": str, "sig": str,
           "gw_sig": str}  # fmt: skip
NONCE = re.compile(r"[0-9a-f]{16,64}")
_SIG = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_LEVEL = re.compile(r"[^+#/\s]{1,64}")


def canonical(
    site: str, intersection: str, cmd: str, arg: int, key_id: str, ts: int, exp: int, nonce: str
) -> bytes:
    """The bytes an operator signs (see the module docstring)."""
    fields = (VERSION, site, intersection, cmd, str(arg), key_id, str(ts), str(exp), nonce)
    return "\n".join(fields).encode()  # UTF-8, as the controller's str.encode()


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104): sha256((K^opad) + sha256((K^ipad) + message))."""
    return hmac.new(key, message, hashlib.sha256).digest()


def gateway_key(key: bytes, site: str, intersection: str) -> bytes:
    """K_gw, the key a gateway checks `gw_sig` with, from the operator's key K: it cannot be
    turned back into K, and it is bound to one intersection."""
    label = f"{GATEWAY_KEY_LABEL}\n{site}\n{intersection}".encode()
    return hmac_sha256(key, label)


def sign(
    key_id: str,
    key: bytes,
    site: str,
    intersection: str,
    cmd: str,
    arg: int = 0,
    *,
    now: float,
    ttl_s: int = 30,
    nonce: str | None = None,
) -> dict:
    """A signed command payload, valid from `now` for `ttl_s` seconds."""
    if cmd not in COMMANDS:
        raise ValueError(f"unknown command {cmd!r}; expected one of {', '.join(COMMANDS)}")
    if not 0 < ttl_s <= MAX_LIFETIME_S:
        raise ValueError(f"ttl_s {ttl_s!r} must be 1..{MAX_LIFETIME_S} s")
    if not 0 <= arg < 256:
        raise ValueError(f"arg {arg!r} does not fit the wire (0..255)")
    ts = int(now)
    exp = ts + ttl_s
    nonce = nonce or secrets.token_hex(16)
    msg = canonical(site, intersection, cmd, arg, key_id, ts, exp, nonce)
    return {"cmd": cmd, "arg": arg, "key": key_id, "ts": ts, "exp": exp, "nonce": nonce,
            "sig": hmac_sha256(key, msg).hex(),
            "gw_sig": hmac_sha256(gateway_key(key, site, intersection), msg).hex()}  # fmt: skip


class Refused(Exception):
    """A command the gateway will not forward. `counter` names the health count it adds to;
    `answer` is what the operator is told (`expired` or `refused: <reason>`)."""

    def __init__(self, counter: str, reason: str):
        super().__init__(reason)
        self.counter = counter
        self.answer = "expired" if counter == "expired" else f"refused: {reason}"


@dataclass(frozen=True)
class Command:
    """A command whose gateway signature, time window and nonce passed; `sig` (the operator's
    signature for the controller, not checked here) is forwarded unchanged with key, ts, exp
    and nonce so the controller can check it itself; `raw` is the payload as received."""

    cmd: str
    arg: int
    key: str
    ts: int
    exp: int
    nonce: str
    sig: str
    raw: bytes


class Verifier:
    """Checks signed commands for one intersection and remembers nonces until they expire.
    `keys` are the gateway keys (K_gw, see `gateway_key`), by operator key id."""

    def __init__(self, keys: dict[str, bytes], site: str, intersection: str):
        for name, value in (("site", site), ("intersection", intersection)):
            if not _LEVEL.fullmatch(value):
                raise ValueError(f"{name} {value!r} cannot be signed")
        self._keys = dict(keys)
        self.site = site
        self.intersection = intersection
        self._nonces: dict[str, int] = {}  # nonce -> exp

    def check(self, topic_cmd: str, payload: bytes, now: float) -> Command:
        """The command in `payload`, published on `cmd/<topic_cmd>`; raises Refused."""
        if len(payload) > MAX_PAYLOAD:
            raise Refused("malformed", f"malformed: longer than {MAX_PAYLOAD} bytes")
        try:
            d = json.loads(payload)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise Refused("malformed", "malformed: not JSON") from None
        if not isinstance(d, dict):
            raise Refused("malformed", "malformed: not a JSON object")
        for name, kind in _FIELDS.items():
            value = d.get(name)
            if type(value) is not kind:  # bool is not an int here
                raise Refused("malformed", f"malformed: {name} missing or not {kind.__name__}")
        extra = set(d) - set(_FIELDS)
        if extra:
            raise Refused("malformed", f"malformed: unknown field {sorted(extra)[0]!r}")
        if d["cmd"] != topic_cmd:
            raise Refused("malformed", f"malformed: cmd {d['cmd']!r} on topic cmd/{topic_cmd}")
        if not _KEY_ID.fullmatch(d["key"]):
            raise Refused("malformed", "malformed: key id")
        if not NONCE.fullmatch(d["nonce"]) or not all(
            _SIG.fullmatch(d[k]) for k in ("sig", "gw_sig")
        ):
            raise Refused("malformed", "malformed: nonce, sig or gw_sig is not lowercase hex")
        if not 0 <= d["arg"] < 256:
            raise Refused("malformed", f"malformed: arg {d['arg']!r} not 0..255")
        key = self._keys.get(d["key"])
        if key is None:
            raise Refused("unknown_key", f"unknown key {d['key']!r}")
        msg = canonical(self.site, self.intersection, d["cmd"], d["arg"], d["key"], d["ts"],
                        d["exp"], d["nonce"])  # fmt: skip
        if not hmac.compare_digest(hmac_sha256(key, msg).hex(), d["gw_sig"]):
            raise Refused("bad_signature", "bad signature")
        if not d["ts"] < d["exp"] <= d["ts"] + MAX_LIFETIME_S:
            raise Refused("malformed", f"malformed: exp must be 1..{MAX_LIFETIME_S} s after ts")
        if now >= d["exp"]:
            raise Refused("expired", "expired")
        if d["ts"] > now + MAX_SKEW_S:
            raise Refused("future", f"ts is {d['ts'] - now:.0f} s ahead of the gateway's clock")
        self._forget(now)
        if d["nonce"] in self._nonces:
            raise Refused("replayed", "replayed nonce")
        if len(self._nonces) >= MAX_NONCES:
            raise Refused("busy", f"more than {MAX_NONCES} live commands; try again")
        self._nonces[d["nonce"]] = d["exp"]
        return Command(d["cmd"], d["arg"], d["key"], d["ts"], d["exp"], d["nonce"], d["sig"],
                       bytes(payload))  # fmt: skip

    def _forget(self, now: float) -> None:
        for nonce in [n for n, exp in self._nonces.items() if exp <= now]:
            del self._nonces[nonce]
