"""`greenwave sim`: run a SUMO scenario with Greenwave controlling its traffic lights.

Prints mean delay per vehicle (tripinfo timeLoss + departDelay, vehicles still running and not
yet departed included: the RESCO definition), trips, teleports and wall time. Exit 0 when the
run finished without safety violations, 1 on violations, 2 on bad input or a SUMO failure.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from edge.sim import CONTROLLERS

    p.add_argument("--net", required=True, metavar="NET", help="SUMO network (.net.xml)")
    p.add_argument(
        "--routes", required=True, metavar="A[,B]", help="SUMO route files, comma-separated"
    )
    p.add_argument(
        "--additional",
        action="append",
        default=[],
        metavar="FILE",
        help="extra SUMO additional file (repeatable)",
    )
    p.add_argument("--begin", type=float, default=0.0, help="simulation begin, s (default 0)")
    p.add_argument("--end", type=float, default=3600.0, help="simulation end, s (default 3600)")
    p.add_argument("--seed", type=int, default=1, help="SUMO random seed (default 1)")
    p.add_argument(
        "--controller",
        choices=CONTROLLERS,
        default="schedule",
        help="who decides (default schedule); actuated = the firmware's own local control",
    )
    p.add_argument("--tripinfo", required=True, metavar="OUT.xml", help="SUMO tripinfo output")
    p.add_argument(
        "--sumo-args",
        default="",
        metavar='"OPTIONS"',
        help='extra SUMO options, passed untouched (e.g. "--step-length 1 --time-to-teleport 300")',
    )
    p.add_argument("--record", metavar="FILE", help="write the run record (JSON Lines)")
    p.add_argument("--tls", default="all", help="all (default) or comma-separated light ids")
    p.add_argument(
        "--sensing",
        choices=("detectors", "exact", "oracle"),
        default="detectors",
        help="detectors (default): loops and camera zones only; exact: vehicle positions, "
        "for measuring what detectors cost, never for control in the field; oracle, "
        "MEASUREMENT ONLY: exact plus every vehicle not inserted yet (from a first pass of the "
        "same scenario), for bounding what predicting demand is worth, never a default",
    )
    p.add_argument(
        "--reach",
        type=float,
        default=None,
        metavar="M",
        help="with --sensing exact or oracle only, MEASUREMENT ONLY: vehicles within M metres "
        "of the stop bar along their routes, through upstream junctions (default: the zones' "
        "200 m); "
        "for measuring what a longer look-ahead is worth, no field sensor gives it",
    )
    p.add_argument("--api", choices=("libsumo", "traci"), default="libsumo", help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from edge.sim.runner import SimError, SimOptions
    from edge.sim.runner import run as run_sim

    opts = SimOptions(
        net=args.net,
        routes=[r for r in args.routes.split(",") if r],
        additional=list(args.additional),
        begin=args.begin,
        end=args.end,
        seed=args.seed,
        controller=args.controller,
        tripinfo=args.tripinfo,
        sumo_args=args.sumo_args,
        record=args.record,
        tls="all" if args.tls == "all" else [t for t in args.tls.split(",") if t],
        sensing=args.sensing,
        reach_m=args.reach,
        progress=not args.no_progress and sys.stderr.isatty(),
        api=args.api,
    )
    try:
        result = run_sim(opts)
    except SimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(result.summary(opts))
    return 1 if result.violations else 0
