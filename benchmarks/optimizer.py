"""Optimizer benchmarks outside pytest: `python -m benchmarks.optimizer [--json FILE]`.

Every case is checked against the plain-Python reference before it is timed. Decision times
are per call through the public API (validation and cluster preparation included) on one
thread; the reference runs the same algorithm on the same (prepared) input.
"""

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time

from benchmarks import cases
from edge import optimizer
from edge.optimizer import reference

GROUPS_8 = [[2 * p, 2 * p + 1] for p in range(8)]  # two signal groups per phase


def _reference_args(plan, timing, current, elapsed):
    t = plan.clusters
    cols = [t.rows[:, c].tolist() for c in range(3)]
    timing = [c.tolist() for c in timing.array.T]
    cap = reference.capacity_for(plan.states)
    return (t.ptr.tolist(), *cols, timing, current, elapsed, cap, plan.tail_from.tolist())


def _same_schedule(plan, problem):
    want = reference.schedule(*_reference_args(plan, *problem[1:]))
    return (
        want is not None
        and want["delay"] == plan.delay_veh_s
        and want["greens"] == [(g.phase, g.start_s, g.end_s, g.clusters) for g in plan.greens]
        and want["starts"] == plan.cluster_start_s.tolist()
        and want["ends"] == plan.cluster_end_s.tolist()
        and want["rollout"] == plan.rollout
    )


def lookahead(plan, problem, horizon_s=cases.HORIZON_S, dp_only=False):
    """The shortest per-phase look-ahead the plan kept: over the phases given traffic before
    the horizon, the latest end of a planned cluster (0 if none); the horizon if no phase was
    given any. dp_only: only the clusters the DP planned (not the greedy tail)."""
    given, t = problem[0], plan.clusters
    ends = []
    for p, rows in enumerate(given):
        if any(a < horizon_s and n > 0 for a, _, n in rows):
            last = plan.tail_from[p] if dp_only else t.ptr[p + 1]
            mine = t.rows[t.ptr[p] : last]
            ends.append(min(float((mine[:, 0] + mine[:, 1]).max(initial=0.0)), horizon_s))
    return min(ends, default=horizon_s)


def plan_stats(plans, problems):
    """How much of the given problem the plans kept (all of it, since the greedy tail) and
    how much of it the DP planned: vehicle shares, look-ahead, pruning."""
    given = sum(
        n * (min(1.0, (cases.HORIZON_S - a) / d) if d else 1.0)
        for p in problems
        for rows in p[0]
        for a, d, n in rows
        if a < cases.HORIZON_S
    )
    kept = sum(float(plan.clusters.rows[:, 2].sum()) for plan in plans)
    tail = sum(plan.tail_veh for plan in plans)
    return {
        "kept_vehicle_share": kept / given if given else 1.0,
        "dp_vehicle_share": (kept - tail) / given if given else 1.0,
        "lookahead_s": statistics.median(map(lookahead, plans, problems)),
        "dp_lookahead_s": statistics.median(
            lookahead(plan, p, dp_only=True) for plan, p in zip(plans, problems, strict=True)
        ),
        "pruned": statistics.mean(plan.pruned for plan in plans),
        "delay_veh_s": statistics.mean(plan.delay_veh_s for plan in plans),
        "rollout_share": statistics.mean(plan.rollout for plan in plans),
    }


def schedule_case(name, problems):
    """(algorithm, name, api calls, reference calls, validator, plan stats) for the schedule
    optimiser."""
    plans = [optimizer.schedule(*p) for p in problems]
    api = [(optimizer.schedule, p) for p in problems]
    ref = [
        (reference.schedule, _reference_args(plan, *p[1:]))
        for plan, p in zip(plans, problems, strict=True)
    ]

    def same():
        return all(map(_same_schedule, plans, problems))

    return ("schedule", name, api, ref, same, plan_stats(plans, problems))


def max_pressure_case(n, seed):
    rng = random.Random(seed)
    inputs = [(cases.queues_for("8-phase", rng), GROUPS_8, rng.randrange(8), 1.0) for _ in range(n)]
    api = [(optimizer.max_pressure, args) for args in inputs]
    ref = [(reference.max_pressure, args) for args in inputs]

    def same():
        return all(optimizer.max_pressure(*a) == reference.max_pressure(*a)[0] for a in inputs)

    return ("max-pressure", "8-phase", api, ref, same, {})


def webster_case(n, seed):
    rng = random.Random(seed)
    timing = cases.timing_for("8-phase")
    cols = [c.tolist() for c in timing.array.T]
    inputs = []
    for _ in range(n):
        flows = [flow * rng.uniform(0.5, 1.5) for _, flow in cases.SHAPES["8-phase"] for _ in "ab"]
        sat = [1800.0 if left else 3600.0 for left, _ in cases.SHAPES["8-phase"] for _ in "ab"]
        inputs.append((flows, sat))
    api = [(optimizer.webster, (f, s, GROUPS_8, timing)) for f, s in inputs]
    ref = [(reference.webster, (f, s, GROUPS_8, cols, 30.0, 120.0)) for f, s in inputs]

    def same():
        for f, s in inputs:
            plan = optimizer.webster(f, s, GROUPS_8, timing)
            cycle, greens, _ = reference.webster(f, s, GROUPS_8, cols, 30.0, 120.0)
            if plan.cycle_s != cycle or list(plan.green_s) != greens:
                return False
        return True

    return ("webster", "8-phase", api, ref, same, {})


def all_cases(scale=1):
    """The benchmark cases; `scale` multiplies the number of distinct inputs."""
    return [
        max_pressure_case(200 * scale, 1),
        webster_case(200 * scale, 2),
        schedule_case("8-phase, 120 s", cases.problems("8-phase", 100 * scale, 3)),
        schedule_case("8-phase, saturated", cases.problems("8-phase", 50 * scale, 4, level=2.5)),
        schedule_case("8-phase, nothing arriving", cases.problems("8-phase", 20, 5, level=0.0)),
        schedule_case("4-phase, 120 s", cases.problems("4-phase", 100 * scale, 6)),
        schedule_case("2-phase, 120 s", cases.problems("2-phase", 100 * scale, 7)),
    ]


def _times(calls, n):
    """Per-call wall times (s) of n calls cycling through `calls`, GC paused."""
    out = []
    gc.collect()
    gc.disable()
    try:
        for i in range(n):
            fn, args = calls[i % len(calls)]
            t0 = time.perf_counter_ns()
            fn(*args)
            out.append((time.perf_counter_ns() - t0) * 1e-9)
    finally:
        gc.enable()
    return out


def p99(times):
    return sorted(times)[min(len(times) - 1, int(0.99 * len(times)))]


def measure(case, calls=3000, ref_seconds=2.0, log=print):
    """Validate, then time one case. Returns the JSON row."""
    algorithm, name, api, ref, same, stats = case
    log(f"  {algorithm} / {name}: checking against the reference ...")
    ok = same()
    _times(api, min(len(api), 50))  # warm caches and branch predictors
    api_t = _times(api, calls)
    first = _times(ref, 1)[0]
    ref_t = [first] + _times(ref, max(2, min(len(ref) * 3, int(ref_seconds / max(first, 1e-6)))))
    row = {
        "algorithm": algorithm,
        "case": name,
        "median_s": statistics.median(api_t),
        "p99_s": p99(api_t),
        "reference_median_s": statistics.median(ref_t),
        "same_answer": ok,
        **stats,
    }
    log(f"    median {row['median_s'] * 1e3:.3f} ms, p99 {row['p99_s'] * 1e3:.3f} ms")
    return row


def measure_batch(problems, runs=15, log=print):
    """Validate a batch against one call per intersection, then time the batch call."""
    batch = optimizer.schedule_batch(problems)
    sample = range(0, len(problems), max(1, len(problems) // 50))
    ok = all(batch[i].decision == optimizer.schedule(*problems[i]).decision for i in sample)
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        optimizer.schedule_batch(problems)
        times.append(time.perf_counter() - t0)
    log(f"    median {statistics.median(times) * 1e3:.1f} ms over {runs} runs")
    return {"intersections": len(problems), "median_s": statistics.median(times), "same": ok}


def work_sweep(problems, budgets, runs=3, log=print):
    """Median call time and plan stats of the schedule optimiser per max_work budget."""
    rows = []
    for w in budgets:
        plans = [optimizer.schedule(*p, max_work=w) for p in problems]
        times = []
        for _ in range(runs):
            for p in problems:
                t0 = time.perf_counter()
                optimizer.schedule(*p, max_work=w)
                times.append(time.perf_counter() - t0)
        row = {
            "max_work": w,
            "median_s": statistics.median(times),
            "p99_s": p99(times),
            **plan_stats(plans, problems),
        }
        log(
            f"  max_work {w:>8}: median {row['median_s'] * 1e3:8.3f} ms, p99 "
            f"{row['p99_s'] * 1e3:8.3f} ms, kept {row['kept_vehicle_share']:.0%}, DP "
            f"{row['dp_vehicle_share']:.0%}, DP look-ahead {row['dp_lookahead_s']:.1f} s, "
            f"pruned {row['pruned']:.1f}, plan delay {row['delay_veh_s']:.0f} veh-s, rollout "
            f"{row['rollout_share']:.0%}"
        )
        rows.append(row)
    return rows


def cold_start():
    """Import + first call in a fresh interpreter (Numba's on-disk cache already warm)."""
    code = (
        "import time; t=time.perf_counter(); import edge.optimizer as o; t1=time.perf_counter();"
        "tm=o.phase_timing([5,5],[40,40],3.5,1.5); o.schedule([[(0,0,3)],[]], tm, 0, 1.0);"
        "t2=time.perf_counter(); print(t1-t, t2-t1)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    imp, first = (float(v) for v in out.stdout.split())
    return {"import_s": imp, "first_call_s": first}


def table(rows):
    """The algorithm x case table as text."""
    head = (
        f"{'algorithm':<13} {'case':<26} {'median':>10} {'p99':>10} {'reference':>11} {'ratio':>7}"
        f" {'kept veh':>8} {'look-ahead':>10} {'DP veh':>6} {'DP look':>7} {'pruned':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = r["reference_median_s"] / r["median_s"]
        lines.append(
            f"{r['algorithm']:<13} {r['case']:<26} {r['median_s'] * 1e3:>8.3f}ms "
            f"{r['p99_s'] * 1e3:>8.3f}ms {r['reference_median_s'] * 1e3:>9.3f}ms "
            + (f"{ratio:>6.0f}x" if ratio >= 10 else f"{ratio:>6.2f}x")
            + (
                f" {r['kept_vehicle_share']:>8.0%} {r['lookahead_s']:>9.1f}s"
                f" {r['dp_vehicle_share']:>6.0%} {r['dp_lookahead_s']:>6.1f}s {r['pruned']:>6.1f}"
                if "kept_vehicle_share" in r
                else ""
            )
            + ("" if r["same_answer"] else "  DIFFERENT ANSWER")
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.optimizer", description=__doc__)
    parser.add_argument("--json", metavar="FILE", help="write the measurements to FILE")
    parser.add_argument("--calls", type=int, default=5000, help="timed calls per case")
    parser.add_argument(
        "--work-sweep",
        metavar="W",
        type=int,
        nargs="+",
        help="only time the 8-phase, 120 s case at these max_work budgets (30 problems)",
    )
    args = parser.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if args.work_sweep:
        log("8-phase, 120 s: max_work sweep ...")
        sweep = work_sweep(cases.problems("8-phase", 30, 3), args.work_sweep, log=log)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"work_sweep": sweep}, f, indent=2)
        return 0

    log("cold start (fresh interpreter, warm cache) ...")
    cold = cold_start()
    log(f"  import {cold['import_s'] * 1e3:.0f} ms, first call {cold['first_call_s'] * 1e3:.0f} ms")
    log("building cases (compiles on a cold cache) ...")
    rows = [measure(c, calls=args.calls, log=log) for c in all_cases()]
    log("batch: city of 1000 (40% 2-phase, 20% 3-phase, 30% 4-phase, 10% 8-phase) ...")
    city = measure_batch(cases.city(1000, 8), log=log)
    log("batch: 1000 x 8-phase ...")
    eight = measure_batch(cases.problems("8-phase", 1000, 9), log=log)
    print(table(rows))
    print(
        f"\nbatch, city of 1000: {city['median_s'] * 1e3:.1f} ms   "
        f"1000 x 8-phase: {eight['median_s'] * 1e3:.1f} ms"
    )
    print(
        f"cold start: import {cold['import_s'] * 1e3:.0f} ms, "
        f"first call {cold['first_call_s'] * 1e3:.0f} ms"
    )
    ok = all(r["same_answer"] for r in rows) and city["same"] and eight["same"]
    if args.json:
        result = {
            "cases": rows,
            "batch": {"intersections": city["intersections"], "median_s": city["median_s"]},
            "batch_8_phase": {"intersections": 1000, "median_s": eight["median_s"]},
            "cold_start": cold,
        }
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        log(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
