"""The smallest heap the firmware runs in: `python -m benchmarks.firmware_heap`.

For each config, bisects the smallest `micropython -X heapsize=<bytes>` at which the real
firmware (compiled as the rig compiles it) runs --virtual-s of random detector demand on the
rig's stepped clock with no MemoryError, no reset, no safety violation, and heads that serve
greens. With --keys the controller also has keys provisioned (one operator and the link key), a
gateway.link.SerialLink on its serial port keeps the link up (benchmarks/firmware_heap_link.py),
and --commands requests go out during the run, operator-signed PREEMPT releases and link-tagged
HOLDs in turn: each must be CHECKED, answered by the controller's own verdict (accepted, or
refused by the sequencer), not "out of memory" nor an auth refusal, and none may go unanswered.

Then one more run at --report-heap with GW_MEMREPORT gives the live heap after the run (bytes in
use after a collection; the report's own ~1 KB included) and the interned names (qstrs).

Each heap is tried with --seeds random demands (a new interpreter each) and runs only if all
do: a heap this full fails or not by fragmentation, which the demand moves, so one demand can
put the boundary a step lower. A config takes about nine heaps, under a minute without keys and
a few minutes with them (the commands wait for a real-time serial wire); more on a busy machine.
The answer can still move by a step between invocations. Exits 1 if a config ran at no heap.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from benchmarks.firmware_heap_link import KeyedLink
from edge.factories import cross, nema8
from hil_tests.rig.emulator import EmulatedController, RigError

CONFIGS: dict[str, Callable] = {
    "cross": cross,
    "cross-peds": lambda: cross(peds=True, preempt=True),
    "nema8": nema8,
    "nema8-peds": lambda: nema8(peds=True, preempt=True),
}
DEFAULT_CONFIGS = tuple(CONFIGS)
_STEPS_MS = (100, 500, 1000)
_MEM = re.compile(rb"^M \d+ alloc \d+ live (\d+) free \d+ peak \d+$", re.M)
_QSTR = re.compile(rb"n_qstr=(\d+)")
_WHERE = re.compile(rb'File "(?:firmware/)?([^"]+)", line \d+, in (\S+)')


@dataclass
class Run:
    """One interpreter run at one heap size."""

    heap: int
    seed: int
    ok: bool
    why: str = ""  # the first reason it failed ("" when ok)
    answers: list = field(default_factory=list)  # (command, result, reason) with --keys
    live: int | None = None  # GW_MEMREPORT's last `live`, when the run reported
    qstrs: int | None = None
    wall_s: float = 0.0


def bisect_heap(
    runs: Callable[[int], bool],
    lo: int,
    hi: int,
    step: int,
    progress: Callable[[str], None] = lambda s: None,
) -> tuple[int | None, int | None]:
    """(smallest heap that runs, largest that fails) to within `step` bytes, heaps on multiples
    of `step` in [lo, hi]. `hi` is tried first: (None, hi) if it fails. `lo` is assumed to
    fail and tried last if nothing else failed: (lo, None) if it runs."""
    lo, hi = -(-lo // step) * step, hi // step * step
    if lo >= hi:
        raise ValueError(f"need lo < hi on {step}-byte steps, got lo={lo!r} hi={hi!r}")
    if not runs(hi):
        progress(f"nothing runs up to {hi} bytes: raise --hi")
        return None, hi
    failed = None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if runs(mid):
            hi = mid
        else:
            lo = failed = mid
    if failed is None:
        if runs(lo):
            progress(f"{lo} bytes runs too: lower --lo")
            return lo, None
        failed = lo
    return hi, failed


def trial(
    config: str,
    heap: int | str,
    keys: bool = False,
    virtual_s: float = 60.0,
    seed: int = 1,
    commands: int = 8,
    memreport: bool = False,
) -> Run:
    """Run `config` once in `heap` bytes; see the module's docstring for what `ok` needs."""
    ix = CONFIGS[config]()
    rng = random.Random(seed)
    end_ms = int(virtual_s * 1000)
    n_det = len(ix.detectors)
    t0 = time.monotonic()
    run = Run(heap=heap if isinstance(heap, int) else 0, seed=seed, ok=False)
    with tempfile.TemporaryDirectory(prefix="greenwave-heap-") as tmp:
        rig = EmulatedController(
            ix,
            clock="stepped",
            heapsize=str(heap),
            workdir=tmp,
            memreport_s=max(1, round(virtual_s)) if memreport else 0,
        )
        rig.provision()
        gw = None
        if keys:
            gw = KeyedLink(rig, ix, commands, end_ms)
        try:
            rig.start()
            if gw is not None:
                gw.open()
            t = 0
            while t < end_ms:
                rig.set_detectors(rng.getrandbits(n_det) & rng.getrandbits(n_det))
                t = min(end_ms, t + rng.choice(_STEPS_MS))
                rig.advance(t, timeout=60)
                if gw is not None:
                    t = gw.after_step(t)
            if gw is not None:
                t = gw.finish(t)
            if memreport:  # the report falls due at the end of the run
                rig.advance(t + 1000, timeout=60)
        except RigError as e:
            run.why = "rig: " + str(e).splitlines()[0]
        finally:
            if gw is not None:
                gw.close()
            rig.stop()
        log = rig.log_path.read_bytes()
        if not run.why or b"MemoryError" in log:  # a MemoryError says more than the rig's error
            run.why = _failure(rig, log, gw)
        run.ok = not run.why
        if gw is not None:
            run.answers = gw.answers
        lives, qstrs = _MEM.findall(log), _QSTR.findall(log)
        if lives:
            run.live = int(lives[-1])
        if qstrs:
            run.qstrs = int(qstrs[-1])
    run.wall_s = time.monotonic() - t0
    return run


def _failure(rig: EmulatedController, log: bytes, gw: KeyedLink | None) -> str:
    if b"MemoryError" in log:
        where = _WHERE.findall(log[: log.index(b"MemoryError")])
        if not where:
            return "MemoryError"
        module, function = where[-1]  # the innermost frame
        return f"MemoryError in {module.decode()} {function.decode()}"
    if rig.resets:
        return f"reset {rig.resets[0][1]} at {rig.resets[0][0]:g} s"
    if rig.oracle.violations:
        return f"safety: {rig.oracle.violations[0]}"
    if not any("G" in s for _, s in rig.changes):
        return "never served a green"
    if gw is not None:
        return gw.failure()
    return ""


@dataclass
class Row:
    config: str
    keys: bool
    smallest_ok: int | None
    largest_fail: int | None
    live: int | None
    qstrs: int | None
    answers: list
    runs: list


def measure(config: str, keys: bool, args, say: Callable[[str], None] = print) -> Row:
    label = config + (" +keys" if keys else "")
    runs: list[Run] = []

    def runs_in(heap: int) -> bool:
        t0 = time.monotonic()
        for seed in range(args.seed, args.seed + args.seeds):
            r = trial(config, heap, keys, args.virtual_s, seed, args.commands)
            runs.append(r)
            if not r.ok:
                say(f"  {label}: {heap:,} bytes fails (seed {seed}: {r.why}) "
                    f"[{time.monotonic() - t0:.1f} s]")  # fmt: skip
                return False
        say(f"  {label}: {heap:,} bytes runs [{time.monotonic() - t0:.1f} s]")
        return True

    smallest, fail = bisect_heap(runs_in, args.lo, args.hi, args.step, lambda s: say("  " + s))
    live = qstrs = None
    answers = next((r.answers for r in runs if r.heap == smallest), [])
    if args.report_heap:
        r = trial(config, args.report_heap, keys, args.virtual_s, args.seed, args.commands, True)
        live, qstrs = r.live, r.qstrs
        failed = "" if r.ok else f" (the run failed: {r.why})"
        say(f"  {label}: at {args.report_heap} with GW_MEMREPORT: live {live} bytes, "
            f"{qstrs} qstrs{failed} [{r.wall_s:.1f} s]")  # fmt: skip
    return Row(config, keys, smallest, fail, live, qstrs, answers, [asdict(r) for r in runs])


def table(rows: list[Row]) -> str:
    def num(v):
        return "-" if v is None else f"{v:,}"

    head = ("config", "keys", "smallest that runs", "largest that fails", "live after", "qstrs")
    lines = [head] + [
        (
            r.config,
            "yes" if r.keys else "no",
            num(r.smallest_ok),
            num(r.largest_fail),
            num(r.live),
            num(r.qstrs),
        )  # fmt: skip
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _heap(text: str) -> int:
    """'62000', '62_000', '60.5k' -> bytes (k = 1024, as MicroPython's -X heapsize reads it)."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    try:
        return round(float(t[:-1]) * 1024) if t.endswith("k") else int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a heap size: {text!r}") from None


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.firmware_heap",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--config", action="append", choices=sorted(CONFIGS),
                    help=f"a config to measure, repeatable (default: {' '.join(DEFAULT_CONFIGS)}; "
                    "-peds: with pedestrians and preemption)")  # fmt: skip
    ap.add_argument("--keys", action="store_true",
                    help="provision keys and send signed and link-tagged commands; each must be "
                    "checked")  # fmt: skip
    ap.add_argument("--both", action="store_true", help="each config without and with --keys")
    ap.add_argument("--virtual-s", type=float, default=60.0, help="controller time per run")
    ap.add_argument("--step", type=_heap, default=250, help="bisect to this many bytes")
    ap.add_argument("--lo", type=_heap, default=56_000, help="a heap assumed to fail (bytes)")
    ap.add_argument("--hi", type=_heap, default=80_000, help="a heap that must run (bytes)")
    ap.add_argument("--commands", type=int, default=8, help="commands per run with --keys")
    ap.add_argument("--seed", type=int, default=1, help="the first random demand's seed")
    ap.add_argument("--seeds", type=int, default=3,
                    help="demands per heap (seeds --seed, --seed+1, ...): a heap runs only if "
                    "every one runs")  # fmt: skip
    ap.add_argument("--report-heap", default="200k",
                    help="heap of the GW_MEMREPORT run that measures the live heap after the run "
                    "('' skips it)")  # fmt: skip
    ap.add_argument("--json", metavar="FILE", help="also write every run as JSON")
    args = ap.parse_args(argv)
    if args.step <= 0 or args.virtual_s <= 0 or args.seeds <= 0 or args.commands < 0:
        ap.error("--step, --virtual-s and --seeds must be positive, --commands not negative")
    if -(-args.lo // args.step) >= args.hi // args.step:
        ap.error(f"--lo {args.lo} must be below --hi {args.hi} by a --step (k = 1024 bytes)")
    args.config = args.config or list(DEFAULT_CONFIGS)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    plan = [(c, k) for c in args.config for k in ((False, True) if args.both else (args.keys,))]
    rows = []
    for config, keys in plan:
        print(f"{config}{' +keys' if keys else ''}: bisecting {args.lo:,}..{args.hi:,} bytes "
              f"in {args.step}-byte steps, {args.seeds} x {args.virtual_s:g} s of demand per "
              "heap", flush=True)  # fmt: skip
        rows.append(measure(config, keys, args, lambda s: print(s, flush=True)))
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": [asdict(r) for r in rows]}, f, indent=1)
    return 0 if all(r.smallest_ok is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
