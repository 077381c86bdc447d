"""`greenwave gateway run`: one controller's serial link to MQTT, until Ctrl-C or SIGTERM.

Exit status: 0 after a clean stop, 2 for a bad config or argument, 1 when the state directory,
the broker or the controller's port cannot be used at start-up.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("greenwave.gateway")


def default_state_dir() -> Path:
    """Where the outbox lives unless --state-dir says: systemd's StateDirectory, else XDG."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "greenwave"


def redact(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    return re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `run` action (and its options) to the `gateway` parser."""
    sub = parser.add_subparsers(dest="gateway_command", metavar="ACTION")
    p = sub.add_parser(
        "run",
        help="run the gateway for one intersection",
        description="Bridge one controller's serial link to MQTT until Ctrl-C or SIGTERM. "
        "Telemetry and events wait in an on-disk outbox until the broker acknowledges them. "
        "Exit 2 on a bad config, 1 when the port, the broker or the state directory fails.",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="intersection config (TOML)")
    p.add_argument("--port", help="serial device or pyserial URL (default: config link.port)")
    p.add_argument("--broker", metavar="URL", help="mqtt://host:port (default: config broker.url)")
    p.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help=f"where the outbox file lives (default: {default_state_dir()})",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debugging detail too")
    p.set_defaults(func=run)
    parser.set_defaults(func=_usage(parser))


def _usage(parser):
    def show(args) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _fail(message: str, status: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    """Run the gateway until a signal stops it; returns the exit status."""
    from edge.config import load
    from edge.model import ConfigError

    from .clock import ScaledClock
    from .link import LinkError
    from .mqtt import Mqtt, MqttError, parse_url
    from .outbox import Outbox
    from .service import Gateway
    from .topics import Topics

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        ix = load(args.config)
    except ConfigError as e:
        for p in e.problems:
            print(f"{args.config}: {p}", file=sys.stderr)
        return 2
    except OSError as e:
        return _fail(f"{args.config}: cannot read: {e.strerror or e}", 2)
    port = args.port or ix.link.port
    url = args.broker or ix.broker.url
    try:
        parse_url(url)
    except ValueError:
        return _fail(f"broker URL {redact(url)!r} is not mqtt://host:port or mqtts://host:port", 2)
    topics = Topics(ix.broker.site, ix.id)
    log.info("config %s: intersection %r, %d groups, %d phases",
             args.config, ix.id, len(ix.groups), len(ix.phases))  # fmt: skip

    state_dir = args.state_dir or default_state_dir()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        outbox = Outbox(state_dir / f"{ix.broker.site}-{ix.id}.outbox.sqlite3")
    except OSError as e:
        return _fail(f"cannot use the state directory {str(state_dir)!r}: {e}", 1)

    mqtt = gw = None
    stop = threading.Event()
    try:
        mqtt = Mqtt(url, f"greenwave-gateway-{ix.broker.site}-{ix.id}", topics.availability)
        log.info("connecting to the broker at %s", mqtt.url)
        mqtt.connect()
        log.info("connected; publishing under %s/", topics.base)
        gw = Gateway(ix, port, mqtt, ScaledClock(), outbox=outbox)
        gw.start()
        log.info("reading the controller on %s at %d baud", port, gw.link.baud)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stop.set())
        log.info("running; Ctrl-C or SIGTERM stops the gateway")
        while not stop.wait(1.0):
            pass
        log.info("stopping")
        return 0
    except MqttError as e:
        return _fail(str(e), 1)
    except LinkError as e:
        return _fail(str(e), 1)
    finally:
        if gw is not None:
            gw.stop()
        if mqtt is not None:
            mqtt.close()
        left = outbox.depth()
        outbox.close()
        if gw is not None:
            log.info("stopped; %d message(s) wait in the outbox for the next run", left)
