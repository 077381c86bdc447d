"""The `greenwave` command: config validate/example, record check, demo, gateway run, sim."""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

from edge import config, factories, safety
from edge.model import ConfigError
from edge.record import RecordError, read_record


def _version() -> str:
    try:
        return metadata.version("greenwave")
    except metadata.PackageNotFoundError:
        return "unknown"


def _config_validate(args) -> int:
    name = "<stdin>" if args.file == "-" else args.file
    try:
        if args.file == "-":  # `greenwave config example nema8 | greenwave config validate -`
            ix = config.loads(sys.stdin.buffer.read().decode("utf-8"), source=name)
        else:
            ix = config.load(args.file)
    except ConfigError as e:
        for p in e.problems:
            print(f"{name}: {p}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{name}: cannot read: {e.strerror or e}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as e:  # stdin only: config.load reports a file's as a problem
        print(f"{name}: not UTF-8 text: {e}", file=sys.stderr)
        return 1
    rings = f", {len(ix.rings)} rings" if ix.rings else ""
    print(f"ok: {ix.id}, {len(ix.groups)} groups, {len(ix.phases)} phases{rings}")
    return 0


def _config_example(args) -> int:
    sys.stdout.write(factories.example_toml(args.name))
    return 0


def _config_import_sumo(args) -> int:
    # Imported here: sumolib is an optional dependency of the import only.
    from pathlib import Path

    from edge import sumo_import

    tls = "all" if args.tls == "all" else [t for t in args.tls.split(",") if t]
    try:
        imported = sumo_import.import_net(args.net, tls)
    except sumo_import.SumoImportError as e:
        for p in e.problems:
            print(f"{args.net}: {p}", file=sys.stderr)
        return 1
    if args.out_dir is None and len(imported) > 1:
        ids = ", ".join(i.intersection.id for i in imported)
        print(
            f"{args.net}: {len(imported)} traffic lights ({ids}): give --out-dir DIR or --tls ID",
            file=sys.stderr,
        )
        return 1
    for imp in imported:
        for w in imp.warnings:
            print(f"{args.net}: traffic light {imp.intersection.id!r}: {w}", file=sys.stderr)
    source = Path(args.net).name
    if args.out_dir is None:
        sys.stdout.write(sumo_import.to_toml(imported[0], source))
        return 0
    out_dir = Path(args.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for imp in imported:
            path = out_dir / f"{imp.intersection.id}.toml"
            path.write_text(sumo_import.to_toml(imp, source), encoding="utf-8")
            print(f"wrote {path}")
    except OSError as e:
        print(f"{args.out_dir}: cannot write: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def _record_check(args) -> int:
    try:
        headers, rows = read_record(args.file)
        found = safety.check_rows(headers, rows, source=args.file)
    except RecordError as e:
        print(str(e), file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{args.file}: cannot read: {e.strerror or e}", file=sys.stderr)
        return 2
    bad = 0
    for ident, violations in found.items():
        for v in violations:
            print(f"{ident}: {v}")
            bad += 1
    if bad:
        print(f"{args.file}: {bad} safety violation(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(headers)} intersection(s), {len(rows)} signal changes, no violations")
    return 0


def _demo_unavailable(reason):
    def run(args) -> int:
        print(f"greenwave demo is unavailable: {reason}", file=sys.stderr)
        return 1

    return run


def _run_demo(args) -> int:
    # Imported only when the demo runs: it pulls in the broker, the rig and the gateway.
    return importlib.import_module("edge.demo").run(args)


def _add_demo(sub) -> None:
    try:
        demo = importlib.import_module("edge.demo")
    except ImportError as e:
        reason = str(e) or type(e).__name__
        p = sub.add_parser(
            "demo",
            help="run the demo (unavailable)",
            description=f"The demo is unavailable: {reason}",
        )
        p.set_defaults(func=_demo_unavailable(reason))
        return
    p = sub.add_parser("demo", help="run an intersection demo", description=demo.__doc__)
    demo.add_arguments(p)
    p.set_defaults(func=_run_demo)


def _add_gateway(sub) -> None:
    # Imported when the parser is built, like the demo; gateway.cli itself imports paho and
    # pyserial only when `gateway run` runs.
    try:
        gw = importlib.import_module("gateway.cli")
    except ImportError as e:
        reason = str(e) or type(e).__name__

        def unavailable(args) -> int:
            print(f"greenwave gateway is unavailable: {reason}", file=sys.stderr)
            return 1

        p = sub.add_parser("gateway", help="run the gateway (unavailable)")
        p.set_defaults(func=unavailable)
        return
    p = sub.add_parser("gateway", help="bridge a controller to MQTT", description=gw.__doc__)
    gw.add_arguments(p)


def _add_ctl(sub) -> None:
    # gateway.ctl imports paho only when an action runs
    ctl = importlib.import_module("gateway.ctl")
    p = sub.add_parser("ctl", help="watch and command intersections (operators)",
                       description=ctl.__doc__)  # fmt: skip
    ctl.add_arguments(p)


def _add_sim(sub) -> None:
    # edge.sim.cli imports SUMO only when a simulation runs
    sim = importlib.import_module("edge.sim.cli")
    p = sub.add_parser("sim", help="simulate SUMO traffic under Greenwave control",
                       description=sim.__doc__)  # fmt: skip
    sim.add_arguments(p)
    p.set_defaults(func=sim.run)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `greenwave` command."""
    parser = argparse.ArgumentParser(
        prog="greenwave",
        description="Greenwave: open toolkit for the edge of smart intersections.",
    )
    parser.add_argument("--version", action="version", version=f"greenwave {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cfg = sub.add_parser("config", help="check and start intersection configs (TOML)")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    p = cfg_sub.add_parser(
        "validate",
        help="check a config file and list every problem",
        description="Check a config file; print every problem as FILE: field = value: "
        "message and exit 1, or print a one-line summary.",
    )
    p.add_argument("file", metavar="FILE", help="intersection config (TOML), - for stdin")
    p.set_defaults(func=_config_validate)
    p = cfg_sub.add_parser(
        "example",
        help="print a commented example config",
        description="Print a commented example config to start from (see docs/config.md).",
    )
    p.add_argument("name", choices=factories.EXAMPLES, help="which intersection")
    p.set_defaults(func=_config_example)
    p = cfg_sub.add_parser(
        "import-sumo",
        help="import SUMO traffic lights as configs",
        description="Import the traffic lights of a SUMO network (.net.xml) as intersection "
        "configs (see docs/config.md). One light prints to stdout; several need --out-dir. "
        "Exit 1 listing every problem when a light cannot be imported.",
    )
    p.add_argument("net", metavar="NET", help="SUMO network (.net.xml)")
    p.add_argument("--tls", default="all", help="all (default) or comma-separated light ids")
    p.add_argument("--out-dir", metavar="DIR", help="write DIR/<id>.toml per traffic light")
    p.set_defaults(func=_config_import_sumo)

    rec = sub.add_parser("record", help="work with run records (JSON Lines)")
    rec_sub = rec.add_subparsers(dest="record_command", metavar="ACTION")
    p = rec_sub.add_parser(
        "check",
        help="check a run record against the safety rules",
        description="Run the independent safety oracle over a run record. Exit 0 when safe, "
        "1 on safety violations, 2 when the record cannot be read.",
    )
    p.add_argument("file", metavar="FILE", help="run record (JSON Lines) from --record")
    p.set_defaults(func=_record_check)

    _add_demo(sub)
    _add_gateway(sub)
    _add_ctl(sub)
    _add_sim(sub)
    for group in (cfg, rec):
        group.set_defaults(func=_usage(group))
    parser.set_defaults(func=_usage(parser))
    return parser


def _usage(parser):
    def run(args) -> int:
        parser.print_help(sys.stderr)
        return 2

    return run


def main(argv=None) -> int:
    """Entry point of the `greenwave` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
