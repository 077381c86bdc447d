"""`greenwave ctl`: watch and command intersections over MQTT, as an operator.

Reads the gateways' retained `availability`, `state`, `health`, `plan` and `history` topics and
the live `state` and `events`; sends commands signed with the operator's key (docs/gateway.md,
"Signed commands") and prints the gateway's answer. Readable lines by default, `--json` for
scripts (one JSON object per line). Exit status: 0 done (command answered `ok`), 1 refused,
expired, unanswered or the broker failed, 2 a usage or credentials problem.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from datetime import datetime

from .ctl_command import command, operator_key
from .ctl_session import (
    RETAINED_WAIT_S,
    SUBACK_S,
    CtlError,
    as_json,
    collect,
    connect,
    out,
    retained_one,
    topic_base,
)

# gateway/cli.py takes CtlError and operator_key from here (`gateway run`'s key checks)
__all__ = ["SIGNED", "CtlError", "add_arguments", "operator_key"]

SIGNED = ("hold", "switch", "preempt", "flash", "clear-flash")


# --- the parser -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ctl actions and the connection options to the `ctl` parser."""
    env = os.environ.get
    c = parser.add_argument_group("connection (also from the environment)")
    c.add_argument("--broker", default=env("GREENWAVE_BROKER", "mqtt://localhost:1883"),
                   metavar="URL", help="mqtt:// or mqtts:// URL ($GREENWAVE_BROKER)")  # fmt: skip
    c.add_argument("--site", default=env("GREENWAVE_SITE", "demo"),
                   help="site in the topics ($GREENWAVE_SITE, default demo)")  # fmt: skip
    c.add_argument("--user", default=env("GREENWAVE_USER"), help="broker user ($GREENWAVE_USER)")
    c.add_argument("--password-file", metavar="FILE",
                   help="file holding the broker password (else $GREENWAVE_PASSWORD)")  # fmt: skip
    c.add_argument("--ca-file", default=env("GREENWAVE_CA_FILE"), metavar="FILE",
                   help="CA that signed the broker's certificate ($GREENWAVE_CA_FILE)")  # fmt: skip
    c.add_argument("--tls-cert", metavar="FILE", help="client certificate (TLS)")
    c.add_argument("--tls-key", metavar="FILE", help="client certificate's key (TLS)")
    c.add_argument("--mqtt-version", choices=("5", "3.1.1"), default="5",
                   help="MQTT protocol (default 5; 3.1.1 for the demo's broker)")  # fmt: skip
    sub = parser.add_subparsers(dest="ctl_command", metavar="ACTION")

    def action(name, helptext, func, many=False):
        p = sub.add_parser(name, help=helptext, description=helptext + ".")
        if many:
            p.add_argument("intersections", nargs="*", metavar="INTERSECTION",
                           help="intersection ids (default: all at the site)")  # fmt: skip
        else:
            p.add_argument("intersection", metavar="INTERSECTION", help="intersection id")
        p.add_argument("--json", action="store_true", help="JSON lines for scripts")
        p.set_defaults(func=_guarded(func))
        return p

    p = action("status", "show availability, mode, phase, signals and health", _status, True)
    p.add_argument("--wait", type=float, default=RETAINED_WAIT_S, metavar="S",
                   help="seconds to collect the retained topics (default 1)")  # fmt: skip
    p = action("watch", "print live signal strings and events until Ctrl-C", _watch, True)
    p.add_argument("--count", type=int, metavar="N", help="stop after N lines")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p = action("plan", "show the timing plan in force, or ask for another", _plan)
    p.add_argument("--set", metavar="PLAN", type=int,
                   help="put timing plan number PLAN in force (signed; 0 = the config's own "
                        "timing, 1.. its [[plans]])")  # fmt: skip
    _signing_options(p)
    p = action("history", "show the recent operator commands and their results", _history)
    p = action("hold", "hold the current green (signed); --release ends the hold", command)
    p.add_argument("--release", action="store_true", help="release the hold instead")
    _signing_options(p)
    p = action("switch", "switch to a phase (signed); the controller keeps its bounds", command)
    p.add_argument("phase", help="phase name or index")
    _signing_options(p)
    p = action("preempt", "preempt to a phase (signed); the controller keeps its clearances",
               command)  # fmt: skip
    p.add_argument("route", type=int, nargs="?", default=0,
                   help="the preempt phase's index (default 0); 255 ends it")  # fmt: skip
    _signing_options(p)
    for name, what in (("flash", "put the heads in flash"), ("clear-flash", "leave flash")):
        _signing_options(action(name, f"{what} (signed)", command))
    parser.set_defaults(func=_usage(parser))


def _signing_options(p) -> None:
    p.add_argument("--operator-key", metavar="FILE", default=os.environ.get("GREENWAVE_KEY_FILE"),
                   help="file holding 'KEY_ID:HEX_KEY' (else $GREENWAVE_KEY_FILE, or the key "
                        "itself in $GREENWAVE_OPERATOR_KEY)")  # fmt: skip
    p.add_argument("--ttl", type=int, default=30, metavar="S",
                   help="seconds the command stays valid (default 30)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=15.0, metavar="S",
                   help="seconds to wait for the answer (default 15)")  # fmt: skip


def _usage(parser):
    def show(args) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


# --- shared helpers -------------------------------------------------------------------------


# --- actions --------------------------------------------------------------------------------


def _status(args) -> int:
    ixs = args.intersections or ["+"]
    topics = [
        f"{topic_base(args, ix)}/{t}" for ix in ixs for t in ("availability", "state", "health")
    ]
    rows: dict[str, dict] = {}
    for topic, payload in collect(args, topics, args.wait):
        parts = topic.split("/")
        rows.setdefault(parts[2], {"intersection": parts[2]})[parts[3]] = as_json(payload)
    for ix in args.intersections:
        rows.setdefault(ix, {"intersection": ix})
    if not rows:
        print(f"no intersections seen at site {args.site!r}", file=sys.stderr)
        return 1
    for name in sorted(rows):
        r = rows[name]
        if args.json:
            out(json.dumps(r, sort_keys=True))
            continue
        st, h = r.get("state") or {}, r.get("health") or {}
        phase = "-" if st.get("phase") is None else f"{st['phase']} ({st.get('phase_name')})"
        auth = sum((h.get("auth_failures") or {}).values())
        out(f"{name:<16} {r.get('availability', 'unknown'):<8} {st.get('mode', '?'):<8} "
             f"phase {phase:<14} {st.get('signals', '?'):<12} queue {h.get('queue_depth', '?')} "
             f"auth failures {auth} link {'up' if h.get('link_up') else 'down?'}")  # fmt: skip
    return 0


def _watch(args) -> int:
    ixs = args.intersections or ["+"]
    got: queue.Queue = queue.Queue()
    m = connect(args)
    for ix in ixs:
        for t in ("state", "events", "availability"):
            m.subscribe(f"{topic_base(args, ix)}/{t}", lambda topic, p: got.put((topic, p)),
                        wait=SUBACK_S)  # fmt: skip
    end = None if args.duration is None else time.monotonic() + args.duration
    lines = 0
    try:
        while args.count is None or lines < args.count:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                topic, payload = got.get(timeout=0.5 if left is None else min(left, 0.5))
            except queue.Empty:
                continue
            _, _, ix, kind = topic.split("/", 3)
            body = as_json(payload)
            lines += 1
            if args.json:
                out(json.dumps({"intersection": ix, "topic": kind, "message": body}))
            else:
                out(_watch_line(ix, kind, body))
    except KeyboardInterrupt:
        pass
    finally:
        m.close()
    return 0


def _watch_line(ix: str, kind: str, body) -> str:
    now = datetime.now().strftime("%H:%M:%S.%f")[:-3]
    if kind == "state" and isinstance(body, dict):
        phase = body.get("phase_name") or "-"
        return f"{now} {ix:<12} {body.get('signals', '?'):<12} {body.get('mode')} phase {phase}"
    if kind == "events" and isinstance(body, dict):
        old = " (historical)" if body.get("historical") else ""
        return f"{now} {ix:<12} event {body.get('event')}: {body.get('detail')}{old}"
    return f"{now} {ix:<12} {kind} {body}"


def _plan(args) -> int:
    if args.set is not None:
        return command(args)
    plan = retained_one(args, "plan", "plan")
    if plan is None:
        return 1
    if args.json:
        out(json.dumps(plan, sort_keys=True))
        return 0
    out(f"{plan['intersection']}: groups {' '.join(plan['groups'])}")
    k = plan.get("plan", 0)  # a gateway from before plans says no number: its config's timing
    names = plan.get("plans", [])
    others = ", ".join(f"{i} {n}" for i, n in enumerate(["base"] + names))
    out(f"plan {k} {plan.get('plan_name') or 'base'} in force (plans: {others})")
    out(f"{'#':>2} {'phase':<12} {'groups':<20} min  max  gap  yel  red (s)")
    for p in plan["phases"]:
        out(f"{p['index']:>2} {p['name']:<12} {' '.join(p['groups']):<20} "
             f"{p['min_green_s']:>4g} {p['max_green_s']:>4g} {p['passage_s']:>4g} "
             f"{p['yellow_s']:>4g} {p['all_red_s']:>4g}")  # fmt: skip
    return 0


def _history(args) -> int:
    h = retained_one(args, "history", "history")
    if h is None:
        return 1
    for c in h.get("commands", []):
        if args.json:
            out(json.dumps(c, sort_keys=True))
        else:
            when = datetime.fromtimestamp(c["t"]).strftime("%Y-%m-%d %H:%M:%S")
            out(f"{when} {c['key']:<12} {c['cmd']} {c['arg']} -> {c['result']}")
    return 0


def _guarded(func):
    """`func` with its errors mapped onto the exit status and said in one line."""

    def run(args) -> int:
        from .mqtt import MqttError

        try:
            return func(args)
        except CtlError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except MqttError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    return run
