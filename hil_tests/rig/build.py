"""Compile the firmware with mpy-cross, as `greenwave flash` will for a board.

The rig and the MicroPython test runner import the compiled `.mpy` files, so what runs in tests
is what a board would run. Output goes to build/firmware-<hash>/firmware/*.mpy; a build is reused
while the sources are unchanged.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
# Entry points stay as source so `micropython main.py` works on a board's filesystem too.
_SOURCE_ONLY = {"main.py"}
# The Unix port loads bytecode into the heap; line-number tables are ~7 % of the .mpy files and
# ~1 KB of a 64 KiB heap. Tracebacks keep file and function names, but every line reads as 1.
MPY_CROSS_OPTIONS = ("-X", "no-source-lines")


class BuildError(RuntimeError):
    """mpy-cross rejected a firmware file; the message has its output."""


def tool(name: str) -> str:
    """Path of a console script installed beside this interpreter (mpy-cross, micropython)."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise BuildError(f"{name!r} not found beside {sys.executable!r} or on PATH")
    return found


def sources() -> list[Path]:
    return sorted(p for p in FIRMWARE.glob("*.py"))


def build_firmware(out_root: Path | None = None) -> Path:
    """Compile every firmware module; return the directory to put on MicroPython's sys.path."""
    srcs = sources()
    digest = hashlib.sha256()
    digest.update(" ".join(MPY_CROSS_OPTIONS).encode())
    for p in srcs:
        digest.update(p.name.encode())
        digest.update(p.read_bytes())
    out = (out_root or ROOT / "build") / f"firmware-{digest.hexdigest()[:12]}"
    if (out / ".done").exists():
        return out
    # build beside, then rename into place: parallel test runs never see a half-built tree
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    pkg = tmp / "firmware"
    pkg.mkdir()
    mpy_cross = tool("mpy-cross")
    for p in srcs:
        if p.name in _SOURCE_ONLY or p.name == "__init__.py":
            shutil.copy(p, pkg / p.name)
            continue
        r = subprocess.run(
            [
                mpy_cross,
                *MPY_CROSS_OPTIONS,
                "-o",
                str(pkg / (p.stem + ".mpy")),
                "-s",
                f"firmware/{p.name}",
                str(p),
            ],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise BuildError(f"mpy-cross failed on {p}:\n{r.stdout}{r.stderr}")
    (tmp / ".done").write_text("ok\n")
    try:
        tmp.rename(out)
    except OSError:  # another run finished first; theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return out
