"""A virtual-clock soak of the real firmware on the rig: `python -m hil_tests.soak`.

The stepped clock runs the controller as fast as the CPU allows through random detector
demand; every change of the heads goes to a run record (`--record`) and to the rig's oracle;
the emulated HAL reports the heap (GW_MEMREPORT). Prints the wall time, the heap peak and the
violations; exits 1 on any violation, reset or memory error. hil_tests/test_soak.py runs it.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.factories import cross, nema8
from edge.record import RecordWriter
from edge.safety import check_record
from hil_tests.rig.emulator import EmulatedController

# the configs a soak can run: free phase order and the NEMA dual ring, with walks and preemption
CONFIGS = {
    "cross": cross,
    "cross-peds": lambda: cross(peds=True, preempt=True),
    "nema8": nema8,
    "nema8-peds": lambda: nema8(peds=True, preempt=True),
}

_MEM = re.compile(rb"^M (\d+) alloc (\d+) live (\d+) free (\d+) peak (\d+)$", re.M)


@dataclass
class SoakResult:
    hours: float
    wall_s: float
    changes: int
    violations: list = field(default_factory=list)  # the rig's oracle, live
    record_violations: list = field(default_factory=list)  # `greenwave record check` on the file
    resets: list = field(default_factory=list)
    peak_live: int = 0  # bytes in use after a collection, highest seen
    min_free: int = 0  # free bytes after a collection, lowest seen
    served: dict = field(default_factory=dict)  # phase name -> greens seen
    alive: bool = False

    def summary(self) -> str:
        return (
            f"soak {self.hours:g} h of controller time in {self.wall_s:.0f} s wall: "
            f"{self.changes} changes of the heads, {len(self.violations)} violations "
            f"(record check: {len(self.record_violations)}), resets {self.resets}, "
            f"heap peak live {self.peak_live} B, min free {self.min_free} B"
        )


def soak(
    hours: float,
    record: Path,
    heapsize: str | None = None,
    seed: int = 1,
    memreport_s: int = 600,
    workdir: Path | None = None,
    config: str = "cross",
) -> SoakResult:
    """Run `hours` of controller time with random demand on a config of CONFIGS; see
    SoakResult."""
    ix = CONFIGS[config]()
    rng = random.Random(seed)
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="greenwave-soak-")
        workdir = Path(tmp.name)
    writer = RecordWriter(str(record))
    writer.header(ix)
    rig = EmulatedController(
        ix, clock="stepped", heapsize=heapsize, workdir=workdir, memreport_s=memreport_s
    )
    rig.listeners.append(lambda t, s: writer.change(t, ix.id, s))
    end_ms = int(hours * 3600_000)
    t0 = time.monotonic()
    try:
        rig.start()
        t = 0
        n_det = len(ix.detectors)
        while t < end_ms:
            # quiet spells, single calls and rush hours; each lasts a few seconds
            busy = rng.random()
            bits = rng.getrandbits(n_det)
            if busy < 0.3:
                bits &= rng.getrandbits(n_det)
            elif busy > 0.8:
                bits |= rng.getrandbits(n_det)
            rig.set_detectors(bits)
            t = min(end_ms, t + rng.choice((500, 1000, 2000, 4000, 8000)))
            rig.advance(t, timeout=300)
        wall = time.monotonic() - t0
        alive = rig.alive
    finally:
        rig.stop()
        writer.close()
    log = rig.log_path.read_bytes()
    mems = [tuple(int(x) for x in m) for m in _MEM.findall(log)]
    served = {}
    for p in ix.phases:
        idx = [ix.group_index(g) for g in p.groups]
        served[p.name] = sum(1 for _, s in rig.changes if all(s[i] == "G" for i in idx))
    result = SoakResult(
        hours=hours,
        wall_s=wall,
        changes=len(rig.changes),
        violations=list(rig.oracle.violations),
        record_violations=check_record(record)[ix.id],
        resets=list(rig.resets),
        peak_live=max((m[4] for m in mems), default=0),
        min_free=min((m[3] for m in mems), default=0),
        served=served,
        alive=alive and b"MemoryError" not in log,
    )
    if tmp is not None:
        tmp.cleanup()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hil_tests.soak", description=__doc__)
    ap.add_argument("--hours", type=float, default=24.0, help="controller time to run")
    ap.add_argument("--record", type=Path, required=True, help="run record (JSON Lines)")
    ap.add_argument("--heapsize", default=None, help="MicroPython heap (default 64k)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--memreport", type=int, default=600, help="heap report every N s")
    ap.add_argument(
        "--config",
        choices=sorted(CONFIGS),
        default="cross",
        help="intersection to run (default cross: free phase order; nema8: dual ring)",
    )
    args = ap.parse_args(argv)
    r = soak(args.hours, args.record, args.heapsize, args.seed, args.memreport, config=args.config)
    print(r.summary())
    for v in r.violations[:10]:
        print(f"  {v}")
    ok = r.alive and not r.violations and not r.record_violations and not r.resets
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
