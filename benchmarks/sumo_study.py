"""The SUMO comparison: Greenwave's controllers against SUMO's own, on one scenario set.

    python -m benchmarks.sumo_study                 # the default study (a few minutes, 2 cores)
    python -m benchmarks.sumo_study --scenarios cross-moderate --controllers schedule,sumo-actuated
    python -m benchmarks.sumo_study --make-scenarios   # regenerate scenarios/generated/

Every run uses one protocol: the same network, demand, window, seed and SUMO options; only the
signals change. Controllers:
- `schedule`, `max-pressure`, `webster`, `actuated`, `fixed`: `greenwave sim` (the firmware's
  controller in the loop, detector data only; `schedule-exact` is schedule fed vehicle
  positions, for measuring what detectors cost; `schedule-exact800` the same over 800 m
  upstream along the vehicles' routes, for measuring what look-ahead is worth: both
  measurement only, no field sensor gives them; `schedule-oracle` (and `schedule-oracleM`)
  is schedule-exact told the future demand too, `--sensing oracle`: a clairvoyant bound,
  measurement only; it runs its first pass itself, in the run's temporary directory);
- `sumo-actuated`, `sumo-delay_based`: plain `sumo` running its own controller types on a program
  built from the same imported intersection (edge.sim.programs), so min/max greens, yellows
  and all-reds are the same as Greenwave's.
Delay per vehicle is tripinfo timeLoss + departDelay with running and undeparted vehicles
included (RESCO). The table prints mean delay (s), finished trips and teleports per cell, and
schedule's delay over the best of the SUMO controllers, max-pressure and Webster.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SC = ROOT / "scenarios"
SUMO_ARGS = "--time-to-teleport 300"
BASELINES = ("sumo-actuated", "sumo-delay_based", "max-pressure", "webster")
DEFAULT_CONTROLLERS = ("schedule", *BASELINES)

# name -> (net, routes, begin, end); demand levels are stated in scenarios/generated/README.md
SCENARIOS = {
    "single-intersection": (
        "sumo-rl/single-intersection/single-intersection.net.xml",
        "sumo-rl/single-intersection/single-intersection.rou.xml",
        0,
        3600,
    ),
    "2way-single": (
        "sumo-rl/2way-single-intersection/single-intersection.net.xml",
        "sumo-rl/2way-single-intersection/single-intersection-vhvh.rou.xml",
        0,
        3600,
    ),
    "2x2grid": ("sumo-rl/2x2grid/2x2.net.xml", "sumo-rl/2x2grid/2x2.rou.xml", 0, 3600),
    "cross-moderate": ("generated/cross.net.xml", "generated/cross-moderate.rou.xml", 0, 3600),
    "cross-saturated": ("generated/cross.net.xml", "generated/cross-saturated.rou.xml", 0, 3600),
    "arterial-moderate": (
        "generated/arterial.net.xml",
        "generated/arterial-moderate.rou.xml",
        0,
        3600,
    ),
    "arterial-saturated": (
        "generated/arterial.net.xml",
        "generated/arterial-saturated.rou.xml",
        0,
        3600,
    ),
}

# generated scenarios: net -> netgenerate options; demand -> (net, mean period s, seed)
_NETS = {
    "cross": ["--grid.x-number", "1", "--grid.y-number", "1"],
    "arterial": ["--grid.x-number", "3", "--grid.y-number", "1", "--grid.length", "300"],
}
_DEMAND = {
    "cross-moderate": ("cross", 2.4, 11),
    "cross-saturated": ("cross", 1.45, 12),
    "arterial-moderate": ("arterial", 2.0, 13),
    "arterial-saturated": ("arterial", 1.3, 14),
}


def make_scenarios(out: Path = SC / "generated") -> None:
    """Regenerate the generated networks and demand with SUMO's own tools (deterministic)."""
    from edge.sim import sumo

    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SUMO_HOME": sumo.sumo_home() or ""}
    for name in _NETS:
        make_net(name, out / f"{name}.net.xml")
    tools = Path(sumo.sumo_home() or "") / "tools" / "randomTrips.py"
    for name, (net, period, seed) in _DEMAND.items():
        cmd = [
            sys.executable, str(tools), "-n", str(out / f"{net}.net.xml"),
            "-o", str(out / f"{name}.rou.xml"), "--flows", "40", "--poisson",
            "--period", f"{period}", "--fringe-factor", "max", "--min-distance", "300",
            "--seed", str(seed), "-b", "0", "-e", "3600",
        ]  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:  # randomTrips leaves routes.rou.xml in cwd
            subprocess.run(cmd, check=True, env=env, capture_output=True, cwd=tmp)
    print(f"wrote {out}")


def make_net(name: str, path: Path, attach_m: float = 250.0) -> None:
    """Write the generated network `name` (a key of _NETS) with `attach_m` fringe arms."""
    from edge.sim import sumo

    cmd = [
        sumo.sumo_binary("netgenerate"), "--grid", *_NETS[name],
        "--grid.attach-length", f"{attach_m:g}", "--default.lanenumber", "2",
        "--default.speed", "13.89", "--default-junction-type", "traffic_light",
        "--no-turnarounds", "true", "--no-warnings", "true",
        "--output-file", str(path),
    ]  # fmt: skip
    env = {**os.environ, "SUMO_HOME": sumo.sumo_home() or ""}
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def _schedule_options(pairs: str) -> dict:
    """`--schedule NAME=VALUE,...` as keyword arguments of edge.sim.controllers.Schedule."""
    out = {}
    for pair in (p for p in pairs.split(",") if p):
        name, _, value = pair.partition("=")
        low = value.strip().lower()
        if low in ("true", "false"):
            out[name.strip()] = low == "true"
        else:
            out[name.strip()] = float(value)
    return out


def run_one(
    scenario: str,
    controller: str,
    seed: int,
    end: float | None,
    options: str = "",
    spec: tuple | None = None,
) -> dict:
    """One cell of the table: {"delay", "trips", "teleports", "wall_s"} (or "error").

    options: `Schedule` settings for this run (`--schedule`), e.g. "unseen=false".
    spec: (net, routes, begin, end) of a scenario not in SCENARIOS (benchmarks.sumo_floor)."""
    from functools import partial

    from edge.sim import controllers, metrics, programs, runner, sumo

    if options:  # this worker process only: every schedule light of the run gets them
        opts = _schedule_options(options)
        controllers._BY_NAME["schedule"] = partial(controllers.Schedule, **opts)

    net, routes, begin, stop = spec or SCENARIOS[scenario]
    net, routes = str(SC / net), str(SC / routes)
    stop = end if end is not None else stop
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gw-study-") as tmp:
        tripinfo = os.path.join(tmp, "tripinfo.xml")
        try:
            if controller.startswith("sumo-"):
                kind = controller[len("sumo-") :]
                add = os.path.join(tmp, "program.add.xml")
                Path(add).write_text(programs.program_xml(runner.import_lights(net), kind))
                stats = os.path.join(tmp, "stats.xml")
                cmd = [
                    sumo.sumo_binary(), "-n", net, "-r", routes, "-a", add,
                    "-b", f"{begin:g}", "-e", f"{stop:g}", "--seed", str(seed),
                    "--tripinfo-output", tripinfo,
                    "--tripinfo-output.write-unfinished", "true",
                    "--tripinfo-output.write-undeparted", "true",
                    "--statistic-output", stats, "--no-step-log", "true",
                    "--no-warnings", "true", *SUMO_ARGS.split(),
                ]  # fmt: skip
                subprocess.run(cmd, check=True, capture_output=True)
                d = metrics.read_delay(tripinfo)
                teleports = sumo.teleports(stats)
                violations = 0
            else:
                name, sensing, reach = controller, "detectors", None
                for kind in ("exact", "oracle"):  # NAME-exact, NAME-exactMETRES, NAME-oracle...
                    head, _, tail = controller.rpartition(f"-{kind}")
                    if head and (not tail or tail.isdigit()):
                        name, sensing, reach = head, kind, float(tail) if tail else None
                res = runner.run(
                    runner.SimOptions(
                        net=net,
                        routes=[routes],
                        tripinfo=tripinfo,
                        begin=begin,
                        end=stop,
                        seed=seed,
                        controller=name,
                        sumo_args=SUMO_ARGS,
                        sensing=sensing,
                        reach_m=reach,
                    )
                )
                d, teleports, violations = res.delay, res.teleports, len(res.violations)
        except (runner.SimError, subprocess.CalledProcessError, OSError, ValueError) as e:
            return {"error": str(e).splitlines()[0]}
    return {
        "delay": d.mean_delay_s,
        "trips": d.trips,
        "undeparted": d.undeparted,
        "teleports": teleports,
        "violations": violations,
        "wall_s": time.perf_counter() - started,
    }


def _cell(r) -> str:
    if "error" in r:
        return "error"
    return f"{r['delay']:7.1f} {r['trips']:5d} {r['teleports']:3d}"


def table(results, scenarios, controllers) -> str:
    width = 19
    lines = [
        "cells: mean delay s/veh (timeLoss + departDelay, RESCO) | finished trips | teleports",
        f"{'scenario':20}" + "".join(f"{c:>{width}}" for c in controllers) + "  schedule/best",
    ]
    for s in scenarios:
        row = f"{s:20}"
        for c in controllers:
            row += f"{_cell(results[s, c]):>{width}}"
        base = [results[s, c]["delay"] for c in BASELINES if "delay" in results.get((s, c), {})]
        sched = results.get((s, "schedule"), {})
        if base and "delay" in sched:
            row += f"  {sched['delay'] / min(base):.2f}"
        lines.append(row)
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    ap.add_argument("--controllers", default=",".join(DEFAULT_CONTROLLERS), help="comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--end", type=float, default=None, help="end of every run, s (default 3600)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel runs (default 2)")
    ap.add_argument("--make-scenarios", action="store_true", help="regenerate generated/")
    ap.add_argument(
        "--schedule",
        default="",
        metavar="NAME=VALUE,...",
        help="settings of edge.sim.controllers.Schedule for the schedule runs (schedule-exact and "
        "schedule-oracle too; horizon_s also sets the oracle's reach), e.g. unseen=false",
    )
    args = ap.parse_args(argv)
    if args.make_scenarios:
        make_scenarios()
        return 0
    scenarios = [s for s in args.scenarios.split(",") if s]
    ctrls = [c for c in args.controllers.split(",") if c]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    jobs = [(s, c) for s in scenarios for c in ctrls]
    started = time.perf_counter()
    results = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {
            job: pool.submit(run_one, *job, args.seed, args.end, args.schedule) for job in jobs
        }
        for job, fut in futures.items():
            results[job] = fut.result()
            r = results[job]
            if "error" in r:
                print(f"  {job[0]} {job[1]}: ERROR {r['error']}", file=sys.stderr, flush=True)
            elif r["violations"]:
                print(f"  {job[0]} {job[1]}: {r['violations']} safety violations", file=sys.stderr)
    print(f"seed {args.seed}, SUMO options {SUMO_ARGS!r}, window 0-{args.end or 3600:g} s")
    if args.schedule:
        print(f"schedule settings: {args.schedule}")
    print(table(results, scenarios, ctrls))
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
