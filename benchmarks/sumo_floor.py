"""The floor and the long-arm copies of the SUMO study (docs/sim.md, *Look-ahead bound*).

    python -m benchmarks.sumo_floor                          # the floor, every scenario, seeds 1-3
    python -m benchmarks.sumo_floor --scenarios single-intersection --seeds 1
    python -m benchmarks.sumo_floor --long-arms --seeds 1 --controllers schedule,sumo-actuated

The floor: a scenario's demand on its network with every junction made `unregulated` (netconvert
plain output, node types replaced, signals dropped: nobody yields or stops at a junction), run
by plain `sumo` with the study's options and `--collision.action none`. What is left is
insertion, acceleration, turns, lane changes and driver imperfection: no controller removes it.

Long-arm copies (1,000 m fringe arms, the same demand files): `cross-mod-long` and
`art-mod-long` are the study's `netgenerate` networks with `--grid.attach-length 1000`;
`single-long` is single-intersection with its fringe nodes upstream of the light moved out to
1,000 m (netconvert plain output, rebuilt with netconvert's defaults, so the junction's corner
shape differs slightly from the sumo-rl original). `--long-arms` runs `--controllers` on them
with benchmarks.sumo_study's runs and table; their floor is `--scenarios single-long,...`
without `--long-arms`. Every network is built in a temporary directory.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks import sumo_study

ARM_M = 1000.0
FLOOR_ARGS = "--collision.action none"
# long-arm scenario -> the study scenario whose demand and window it takes
LONG = {
    "single-long": "single-intersection",
    "cross-mod-long": "cross-moderate",
    "art-mod-long": "arterial-moderate",
}
LONG_CONTROLLERS = (
    "schedule",
    "schedule-exact",
    "schedule-exact400",
    "schedule-exact800",
    *sumo_study.BASELINES,
)


def _netconvert(*args: str) -> None:
    from edge.sim import sumo

    cmd = [sumo.sumo_binary("netconvert"), *args, "--no-warnings", "true"]
    subprocess.run(cmd, check=True, capture_output=True)


def _plain(net: str, prefix: str) -> None:
    """netconvert plain output of `net`: prefix.nod.xml, .edg.xml, .con.xml, .tll.xml."""
    _netconvert("-s", net, "--plain-output-prefix", prefix)


def unregulated(net: str, out: str) -> None:
    """Write `net` with every junction (dead ends excepted) unregulated and no signals."""
    with tempfile.TemporaryDirectory(prefix="gw-floor-") as tmp:
        p = os.path.join(tmp, "plain")
        _plain(net, p)
        tree = ET.parse(p + ".nod.xml")
        for node in tree.getroot().iter("node"):
            if node.get("type") != "dead_end":
                node.set("type", "unregulated")
            node.attrib.pop("tl", None)
        tree.write(p + ".nod.xml")
        _netconvert("-n", p + ".nod.xml", "-e", p + ".edg.xml", "-x", p + ".con.xml", "-o", out)


def long_arms(net: str, out: str, arm_m: float = ARM_M) -> None:
    """Write `net` with each dead-end node that feeds a junction moved out to `arm_m` from it,
    along the same direction (the signals and connections kept)."""
    with tempfile.TemporaryDirectory(prefix="gw-long-") as tmp:
        p = os.path.join(tmp, "plain")
        _plain(net, p)
        tree = ET.parse(p + ".nod.xml")
        nodes = {n.get("id"): n for n in tree.getroot().iter("node")}
        for edge in ET.parse(p + ".edg.xml").getroot().iter("edge"):
            src, dst = nodes[edge.get("from")], nodes[edge.get("to")]
            if src.get("type") != "dead_end" or dst.get("type") == "dead_end":
                continue
            x0, y0 = float(dst.get("x")), float(dst.get("y"))
            dx, dy = float(src.get("x")) - x0, float(src.get("y")) - y0
            k = arm_m / math.hypot(dx, dy)
            src.set("x", f"{x0 + dx * k:.2f}")
            src.set("y", f"{y0 + dy * k:.2f}")
        tree.write(p + ".nod.xml")
        files = ["-n", p + ".nod.xml", "-e", p + ".edg.xml", "-x", p + ".con.xml"]
        if os.path.exists(p + ".tll.xml"):
            files += ["-i", p + ".tll.xml"]
        _netconvert(*files, "-o", out)


def build_long(name: str, tmp: str) -> tuple:
    """The sumo_study spec (net, routes, begin, end) of long-arm scenario `name`, built in tmp."""
    base = LONG[name]
    net, routes, begin, end = sumo_study.SCENARIOS[base]
    out = os.path.join(tmp, f"{name}.net.xml")
    if base == "single-intersection":
        long_arms(str(sumo_study.SC / net), out)
    else:
        sumo_study.make_net(Path(net).name.split(".")[0], Path(out), attach_m=ARM_M)
    return out, str(sumo_study.SC / routes), begin, end


def floor_one(net: str, routes: str, begin: float, end: float, seed: int) -> dict:
    """One plain-sumo run of `net` made unregulated: {"delay", "trips", "wall_s"}."""
    from edge.sim import metrics, sumo

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gw-floor-") as tmp:
        free = os.path.join(tmp, "free.net.xml")
        unregulated(net, free)
        tripinfo = os.path.join(tmp, "tripinfo.xml")
        cmd = [
            sumo.sumo_binary(), "-n", free, "-r", routes, "-b", f"{begin:g}", "-e", f"{end:g}",
            "--seed", str(seed), "--tripinfo-output", tripinfo,
            "--tripinfo-output.write-unfinished", "true",
            "--tripinfo-output.write-undeparted", "true",
            "--no-step-log", "true", "--no-warnings", "true",
            *FLOOR_ARGS.split(), *sumo_study.SUMO_ARGS.split(),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        d = metrics.read_delay(tripinfo)
    return {"delay": d.mean_delay_s, "trips": d.trips, "wall_s": time.perf_counter() - started}


def _spec(name: str, tmp: str) -> tuple:
    if name in LONG:
        return build_long(name, tmp)
    net, routes, begin, end = sumo_study.SCENARIOS[name]
    return str(sumo_study.SC / net), str(sumo_study.SC / routes), begin, end


def _floor(scenarios, seeds, end, pool, tmp) -> None:
    specs = {s: _spec(s, tmp) for s in scenarios}
    futures = {}
    for s in scenarios:
        net, routes, begin, stop = specs[s]
        for seed in seeds:
            args = (net, routes, begin, end if end is not None else stop, seed)
            futures[s, seed] = pool.submit(floor_one, *args)
    print(f"floor: every junction unregulated, SUMO options {FLOOR_ARGS} {sumo_study.SUMO_ARGS}")
    print(f"{'scenario':20} mean delay s/veh, seeds {' / '.join(map(str, seeds))} (finished trips)")
    for s in scenarios:
        rs = [futures[s, seed].result() for seed in seeds]
        cells = " / ".join(f"{r['delay']:.1f}" for r in rs)
        trips = " / ".join(str(r["trips"]) for r in rs)
        print(f"{s:20} {cells}  ({trips})", flush=True)


def _long(scenarios, controllers, seeds, end, pool, tmp) -> None:
    specs = {s: build_long(s, tmp) for s in scenarios}
    for seed in seeds:
        jobs = [(s, c) for s in scenarios for c in controllers]
        futures = {
            (s, c): pool.submit(sumo_study.run_one, s, c, seed, end, "", specs[s]) for s, c in jobs
        }
        results = {}
        for k, (s, c) in enumerate(jobs, 1):
            r = results[s, c] = futures[s, c].result()
            what = f"ERROR {r['error']}" if "error" in r else f"{r['delay']:.1f} s/veh"
            if r.get("violations"):
                what += f", {r['violations']} safety violations"
            print(f"  [{k}/{len(jobs)}] seed {seed} {s} {c}: {what}", file=sys.stderr, flush=True)
        print(f"seed {seed}, SUMO options {sumo_study.SUMO_ARGS!r}, {ARM_M:g} m arms")
        print(sumo_study.table(results, scenarios, controllers), flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--scenarios",
        help="comma-separated: the study's and the long-arm ones\n"
        f"(default: all for the floor, {','.join(LONG)} with --long-arms)",
    )
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated (default 1,2,3)")
    ap.add_argument(
        "--long-arms",
        action="store_true",
        help="run --controllers on the long-arm copies instead of measuring the floor",
    )
    ap.add_argument(
        "--controllers",
        default=",".join(LONG_CONTROLLERS),
        help="with --long-arms, comma-separated (default: %(default)s)",
    )
    ap.add_argument("--end", type=float, default=None, help="end of every run, s (default 3600)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel runs (default 1)")
    args = ap.parse_args(argv)
    known = [*sumo_study.SCENARIOS, *LONG] if not args.long_arms else [*LONG]
    default = ",".join(LONG) if args.long_arms else ",".join(known)
    scenarios = [s for s in (args.scenarios or default).split(",") if s]
    unknown = [s for s in scenarios if s not in known]
    if unknown:
        print(f"unknown scenarios {unknown}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    seeds = [int(x) for x in args.seeds.split(",") if x]
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="gw-floor-nets-") as tmp,
        ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool,
    ):
        if args.long_arms:
            controllers = [c for c in args.controllers.split(",") if c]
            _long(scenarios, controllers, seeds, args.end, pool, tmp)
        else:
            _floor(scenarios, seeds, args.end, pool, tmp)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
