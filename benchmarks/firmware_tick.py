"""The control tick's cost on the MicroPython interpreter: `python -m benchmarks.firmware_tick`.

Compiles the firmware as the rig does (mpy-cross), runs benchmarks/mp_tick.py on
`micropython -X heapsize=<heap>` and prints its line (µs per tick: mean, p50, p99, max). The
design target is a tick well under 10 ms; this reports, it never asserts a time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from hil_tests.rig.build import build_firmware, tool

HERE = Path(__file__).resolve().parent


def tick_cost(ticks: int = 20000, heapsize: str = "1m") -> str:
    build = build_firmware()
    env = dict(os.environ, MICROPYPATH=f".frozen:{build}:{HERE.parent / 'tests' / 'firmware'}")
    r = subprocess.run(
        [tool("micropython"), "-X", f"heapsize={heapsize}", str(HERE / "mp_tick.py"), str(ticks)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        raise RuntimeError(f"mp_tick.py failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout.strip().splitlines()[-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.firmware_tick", description=__doc__)
    ap.add_argument("--ticks", type=int, default=20000)
    ap.add_argument("--heapsize", default="1m", help="room for the validator and the timings")
    args = ap.parse_args(argv)
    print(tick_cost(args.ticks, args.heapsize))
    return 0


if __name__ == "__main__":
    sys.exit(main())
