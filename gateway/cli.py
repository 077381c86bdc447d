"""`greenwave gateway run`: one controller's serial link to MQTT, until Ctrl-C or SIGTERM.

Exit status: 0 after a clean stop; 2 for a bad config, secrets file or argument, or a broker that
refuses our credentials; 1 when the state directory or the controller's port cannot be used at
start-up, or the broker fails TLS verification. A broker that is not there (yet) is no reason to
stop: the gateway serves the controller, queues into the outbox and retries with back-off.
`greenwave gateway example-secrets` prints a secrets file to start from; `greenwave gateway
derive-key` prints an operator's gateway key (K_gw) for it, from the operator's own key.
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

from .planner import ALGORITHMS

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
        "Refuses to start on empty or sample secrets. Starts without the broker and connects "
        "when it appears. Exit 2 on a bad config, secrets file or URL or refused credentials, "
        "1 when the port or the state directory fails or the broker's certificate is refused.",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="intersection config (TOML)")
    p.add_argument("--port", help="serial device or pyserial URL (default: config link.port)")
    p.add_argument(
        "--broker",
        metavar="URL",
        help="mqtt://host:port or mqtts://host:port (default: config broker.url); no password "
        "here, it goes in the secrets file",
    )
    p.add_argument(
        "--secrets",
        metavar="FILE",
        default=os.environ.get("GREENWAVE_SECRETS"),
        help="broker credentials, TLS files and operator keys, mode 0600 (default: "
        "$GREENWAVE_SECRETS); `greenwave gateway example-secrets` prints one to start from",
    )
    p.add_argument(
        "--mqtt-version",
        choices=("5", "3.1.1"),
        default="5",
        help="MQTT protocol (default 5; 3.1.1 answers commands on reply/ topics only)",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help=f"where the outbox file lives (default: {default_state_dir()})",
    )
    p.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="schedule",
        help="the optimizer loop: schedule (the rolling-horizon plan over detector-built "
        "arrivals, default) or max-pressure (over the queue estimates)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debugging detail too")
    p.set_defaults(func=run)
    e = sub.add_parser(
        "example-secrets",
        help="print a sample secrets file",
        description="Print a secrets file to start from. Its values are samples that "
        "`gateway run` refuses: replace each one.",
    )
    e.set_defaults(func=_example_secrets)
    d = sub.add_parser(
        "derive-key",
        help="print an operator's gateway key for the secrets file",
        description="Print the [operators] line of a gateway's secrets file for one operator: "
        "the gateway key K_gw = HMAC(K, 'greenwave-gateway-key-1\\n<site>\\n<intersection>'), "
        "made from the operator's own key K. The gateway checks commands with K_gw and cannot "
        "sign them with it; K itself goes only to the operator and the controller.",
    )
    d.add_argument("--site", required=True, help="the site (as in the config's broker.site)")
    d.add_argument("--intersection", required=True, help="the intersection id")
    d.add_argument("--operator-key", metavar="FILE", default=os.environ.get("GREENWAVE_KEY_FILE"),
                   help="file holding 'KEY_ID:HEX_KEY' (else $GREENWAVE_KEY_FILE, or the key "
                        "itself in $GREENWAVE_OPERATOR_KEY)")  # fmt: skip
    d.set_defaults(func=_derive_key)
    parser.set_defaults(func=_usage(parser))


def _derive_key(args) -> int:
    from .ctl import CtlError, operator_key
    from .signing import gateway_key

    try:
        key_id, key = operator_key(args)
    except CtlError as e:
        return _fail(str(e), 2)
    print(f'{key_id} = "{gateway_key(key, args.site, args.intersection).hex()}"')
    return 0


def _example_secrets(args) -> int:
    from .secrets import EXAMPLE

    sys.stdout.write(EXAMPLE)
    return 0


def _usage(parser):
    def show(args) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _fail(message: str, status: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


_BROKER_FIRST_S = 1.0
_BROKER_MAX_S = 8.0


def _connect(mqtt, stop: threading.Event, outbox) -> bool:
    """Connect to the broker, retrying with bounded back-off (1, 2, 4, 8, 8... s) while it cannot
    be reached; False when `stop` came first. A refusal (credentials, certificate) raises."""
    from .mqtt import MqttUnreachable

    delay = _BROKER_FIRST_S
    log.info("connecting to the broker at %s", mqtt.url)
    while not stop.is_set():
        try:
            mqtt.connect()
            return True
        except MqttUnreachable as e:
            log.warning(
                "%s; retrying in %g s (back-off up to %g s); the controller is served and "
                "%d message(s) wait in the outbox",
                e, delay, _BROKER_MAX_S, outbox.depth(),
            )  # fmt: skip
            if stop.wait(delay):
                break
            delay = min(delay * 2, _BROKER_MAX_S)
    return False


def run(args: argparse.Namespace) -> int:
    """Run the gateway until a signal stops it; returns the exit status."""
    from urllib.parse import urlparse

    from edge.config import load
    from edge.model import ConfigError

    from .clock import ScaledClock
    from .link import LinkError
    from .mqtt import Mqtt, MqttError, Tls, parse_url
    from .outbox import Outbox
    from .secrets import Redactor, SecretsError, load_secrets
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
    if not args.secrets:
        return _fail(
            "no secrets file: give --secrets FILE or set GREENWAVE_SECRETS "
            "(`greenwave gateway example-secrets` prints one to start from)",
            2,
        )
    try:
        secrets = load_secrets(args.secrets)
    except SecretsError as e:
        for p in e.problems:
            print(f"{args.secrets}: {p}", file=sys.stderr)
        return 2
    for handler in logging.getLogger().handlers:  # belt and braces: no secret reaches a log
        handler.addFilter(Redactor(secrets.values()))
    port = args.port or ix.link.port
    url = args.broker or ix.broker.url
    try:
        _, _, use_tls = parse_url(url)
    except ValueError:
        return _fail(f"broker URL {redact(url)!r} is not mqtt://host:port or mqtts://host:port", 2)
    if urlparse(url).password is not None or urlparse(url).username is not None:
        return _fail(
            f"broker URL {redact(url)!r}: credentials go in the secrets file (broker.username, "
            "broker.password), not in a URL that configs and command lines show",
            2,
        )
    tls_files = (secrets.ca_file, secrets.cert_file, secrets.key_file)
    if any(tls_files) and not use_tls:
        return _fail(
            f"broker.ca_file / cert_file / key_file are set but the broker URL {url!r} is not "
            "mqtts://: TLS files without TLS would send the password in the clear",
            2,
        )
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
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        mqtt = Mqtt(
            url,
            f"greenwave-gateway-{ix.broker.site}-{ix.id}",
            topics.availability,
            username=secrets.username,
            password=secrets.password,
            protocol=5 if args.mqtt_version == "5" else 4,
            tls=Tls(*tls_files) if use_tls else None,
        )
        log.info("%d operator key(s): %s", len(secrets.operators), ", ".join(secrets.operators))
        if secrets.link_key is None:
            log.warning("no link key in %s: the gateway's requests go untagged, and a "
                        "controller with keys refuses them", args.secrets)  # fmt: skip
        gw = Gateway(ix, port, mqtt, ScaledClock(), outbox=outbox,
                     operator_keys=secrets.operators, link_key=secrets.link_key,
                     algorithm=args.algorithm)  # fmt: skip
        for sig in handlers:
            signal.signal(sig, lambda signum, frame: stop.set())
        gw.start()  # the controller is served, and the outbox filled, with or without a broker
        log.info("reading the controller on %s at %d baud", port, gw.link.baud)
        log.info("running; Ctrl-C or SIGTERM stops the gateway")
        if _connect(mqtt, stop, outbox):
            log.info("connected; publishing under %s/", topics.base)
        while not stop.wait(1.0):
            pass
        log.info("stopping")
        return 0
    except MqttError as e:
        if e.credentials:
            return _fail(f"{e}: check broker.username and broker.password in {args.secrets}", 2)
        return _fail(str(e), 1)
    except LinkError as e:
        return _fail(str(e), 1)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if gw is not None:
            gw.stop()
        if mqtt is not None:
            mqtt.close()
        left = outbox.depth()
        outbox.close()
        if gw is not None:
            log.info("stopped; %d message(s) wait in the outbox for the next run", left)
