# cpython-only
"""Run every tests/firmware module on the real MicroPython interpreter against the compiled build.

Each `test_*.py` here (except this file and files whose first line is `# cpython-only`) runs as
`micropython -X heapsize=256k mprun.py <module>` with the mpy-cross build first on MICROPYPATH,
so the tests exercise the same .mpy bytecode a board would run.
"""

import os
import subprocess
from pathlib import Path

import pytest

from hil_tests.rig.build import build_firmware, tool

HERE = Path(__file__).resolve().parent
HEAPSIZE = "256k"
TIMEOUT_S = 120


def _modules():
    mods = []
    for p in sorted(HERE.glob("test_*.py")):
        with p.open(encoding="utf-8") as f:
            if f.readline().strip() == "# cpython-only":
                continue
        mods.append(p.stem)
    return mods


@pytest.fixture(scope="module")
def build_dir():
    return build_firmware()


@pytest.mark.parametrize("module", _modules())
def test_module_on_micropython(module, build_dir, tmp_path):
    # .frozen first, as on the rig: the interpreter's own asyncio (app.py imports it)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(build_dir), str(HERE)]))
    # cwd is empty so nothing but MICROPYPATH can supply `firmware` (never the .py sources).
    proc = subprocess.run(
        [tool("micropython"), "-X", f"heapsize={HEAPSIZE}", str(HERE / "mprun.py"), module],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    output = proc.stdout + proc.stderr
    report = f"micropython {module} (exit {proc.returncode}):\n{output}"
    assert proc.returncode == 0, report
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("mp: ") and last.endswith(" passed, 0 failed"), report

    loaded = [ln.split(" ", 2)[2] for ln in proc.stdout.splitlines() if ln.startswith("mp: loaded")]
    assert loaded, "no firmware module was imported:\n" + report
    for line in loaded:
        name, path = line.split(" from ", 1)
        assert Path(path).resolve().is_relative_to(build_dir.resolve()), report
        if name != "firmware":  # the package __init__ stays source; modules must be bytecode
            assert path.endswith(".mpy"), report


def test_every_firmware_test_file_is_collected():
    mods = _modules()
    assert "test_ticks" in mods and "test_protocol" in mods
    assert "test_on_micropython" not in mods
