"""`greenwave ctl`'s side of the broker: the connection, topic bases, retained messages, output.

The connection options (broker URL, user, password file or $GREENWAVE_PASSWORD, TLS files, MQTT
version) become one gateway.mqtt session per action; `collect` and `retained_one` read what the
gateways keep retained. A usage or credentials problem is a `CtlError` (exit 2).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
import uuid

RETAINED_WAIT_S = 1.0
SUBACK_S = 10.0


class CtlError(Exception):
    """A usage or credentials problem (exit 2)."""


def _password(args) -> str | None:
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as e:
            raise CtlError(f"{args.password_file}: cannot read: {e.strerror or e}") from None
    return os.environ.get("GREENWAVE_PASSWORD")


def connect(args):
    """A connected gateway.mqtt session from the connection options (CtlError: bad URL, TLS)."""
    from .mqtt import Mqtt, Tls, parse_url

    try:
        _, _, use_tls = parse_url(args.broker)
    except ValueError as e:
        raise CtlError(str(e)) from None
    tls = None
    if use_tls:
        tls = Tls(args.ca_file, args.tls_cert, args.tls_key)
    elif args.ca_file or args.tls_cert:
        raise CtlError(f"TLS files given but {args.broker!r} is not an mqtts:// URL")
    m = Mqtt(
        args.broker, f"greenwave-ctl-{uuid.uuid4().hex[:10]}", None,
        username=args.user, password=_password(args),
        protocol=5 if args.mqtt_version == "5" else 4, tls=tls,
    )  # fmt: skip
    return m.connect()


def topic_base(args, intersection: str) -> str:
    """The topic base of `intersection` at --site; "+" for every intersection there."""
    from .topics import Topics

    try:
        if intersection == "+":  # every intersection at the site
            return Topics(args.site, "any").base.rsplit("/", 1)[0] + "/+"
        return Topics(args.site, intersection).base
    except ValueError as e:
        raise CtlError(str(e)) from None


def collect(args, topics: list[str], wait_s: float) -> list[tuple[str, bytes]]:
    """The (retained) messages on `topics` that arrive within `wait_s` seconds."""
    got: queue.Queue = queue.Queue()
    m = connect(args)
    try:
        for t in topics:
            m.subscribe(t, lambda topic, payload: got.put((topic, payload)), wait=SUBACK_S)
        time.sleep(wait_s)
    finally:
        m.close()
    return [got.get_nowait() for _ in range(got.qsize())]


def as_json(payload: bytes):
    """The payload as JSON, or as text when it is not JSON."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")


def out(line: str) -> None:
    """One line of output, at once (a script reads it as it comes)."""
    print(line, flush=True)


def retained_one(args, topic: str, what: str):
    """The newest retained message on the intersection's `topic`; None, said on stderr, if none."""
    msgs = collect(args, [f"{topic_base(args, args.intersection)}/{topic}"], RETAINED_WAIT_S)
    if not msgs:
        print(f"no {what} for {args.intersection!r} at site {args.site!r} (is its gateway "
              "running?)", file=sys.stderr)  # fmt: skip
        return None
    return as_json(msgs[-1][1])
