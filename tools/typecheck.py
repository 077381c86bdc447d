"""Type-check firmware/ with pyright against the MicroPython stubs of each target.

Run from anywhere: `python tools/typecheck.py` (all targets) or
`python tools/typecheck.py --target esp32 [FILE ...]`. On first use it installs the pinned stub
packages into typings/<target>/ (gitignored), so a clean clone needs nothing else but the
`pyright` package. Exit status: 0 clean, 1 type errors (or pyright failed), 2 the check could not
run at all (no pyright, no node, stubs not installable); the message says which.

Targets: `esp32` and `rp2` are the boards (hal_emulated.py never runs there and is excluded);
`unix` is the MicroPython Unix port the HIL rig runs, which checks hal_emulated.py and main.py
and excludes hal_board.py. The settings live in typecheck/<target>/pyrightconfig.json.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPINGS = ROOT / "typings"
CONFIGS = ROOT / "typecheck"

# The stdlib stubs are pinned too: the board packages only ask for ~=1.29.0.
_STDLIB = "micropython-stdlib-stubs==1.29.0.post2"
STUBS = {
    "esp32": ("micropython-esp32-stubs==1.29.0.post1", _STDLIB),
    "rp2": ("micropython-rp2-rpi-pico-stubs==1.29.0.post1", _STDLIB),
    "unix": ("micropython-unix-stubs==1.29.0.post1", _STDLIB),
}
# An empty "venv" the configs point at, so imports never resolve into CPython's site-packages
# or standard library (a module CPython has and MicroPython lacks must fail to import).
NO_SITE_PACKAGES = TYPINGS / "no-site-packages" / "lib" / "site-packages"
_STAMP = ".requirements"
_PIP_TIMEOUT_S = 300
_PYRIGHT_TIMEOUT_S = 300
_pyright_cmd = None  # set once pyright has started


class SetupError(Exception):
    """The check cannot run here (pyright, node or the stubs are missing)."""


def config_path(target):
    """The pyright config file of a target."""
    if target not in STUBS:
        raise ValueError(f"unknown target {target!r}; expected one of {sorted(STUBS)}")
    return CONFIGS / target / "pyrightconfig.json"


def ensure_stubs(target):
    """Install the target's pinned stubs into typings/<target> unless they are there already.

    Returns the folder. Installs into a temporary folder first and renames it, so an
    interrupted install never leaves a half-filled folder that looks complete.
    """
    reqs = STUBS[target]
    dest = TYPINGS / target
    wanted = "\n".join(reqs) + "\n"
    stamp = dest / _STAMP
    NO_SITE_PACKAGES.mkdir(parents=True, exist_ok=True)
    if stamp.is_file() and stamp.read_text() == wanted:
        return dest
    TYPINGS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target}-", dir=TYPINGS))
    try:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        cmd += ["--no-compile", "--no-deps", "--target", str(tmp), *reqs]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            raise SetupError(f"pip install of {' '.join(reqs)} took over {e.timeout} s") from e
        if done.returncode != 0:
            raise SetupError(
                f"pip could not install {' '.join(reqs)} (exit {done.returncode}):\n"
                + (done.stdout + done.stderr).strip()
            )
        (tmp / _STAMP).write_text(wanted)
        if dest.exists():
            shutil.rmtree(dest)
        try:
            tmp.rename(dest)
        except OSError:
            # Another run installed the same stubs meanwhile: theirs will do.
            if not (stamp.is_file() and stamp.read_text() == wanted):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def pyright_command():
    """The command that runs pyright (the `pyright` PyPI package of this interpreter), once it
    has shown it can start: its `--version` goes through node like a real run."""
    global _pyright_cmd
    if _pyright_cmd is not None:
        return _pyright_cmd
    try:
        import pyright  # noqa: F401
    except ImportError as e:
        raise SetupError(
            f"the Python package 'pyright' is not installed for {sys.executable} "
            "(pip install 'pyright[nodejs]==1.1.414', or `pip install -e '.[test]'`)"
        ) from e
    cmd = [sys.executable, "-m", "pyright"]
    try:
        done = subprocess.run(
            cmd + ["--version"], env=_env(), capture_output=True, text=True, timeout=_PIP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as e:
        raise SetupError(f"`pyright --version` took over {e.timeout} s") from e
    if done.returncode != 0 or "pyright" not in done.stdout:
        raise SetupError(
            f"pyright does not start (exit {done.returncode}); it needs node on PATH or the "
            f"'pyright[nodejs]' extra:\n{(done.stdout + done.stderr).strip()}"
        )
    _pyright_cmd = cmd
    return cmd


def _env():
    env = dict(os.environ)
    # The wrapper otherwise asks PyPI for a newer version on every run.
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"
    return env


def check(target, files=()):
    """Run pyright for one target; returns (ok, output). `files` overrides the config's include.

    Raises SetupError when pyright cannot be started at all.
    """
    ensure_stubs(target)
    cmd = pyright_command() + ["--project", str(config_path(target))]
    cmd += [str(Path(f).resolve()) for f in files]
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=_PYRIGHT_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as e:
        raise SetupError(f"pyright took over {e.timeout} s for {target!r}") from e
    output = (done.stdout + done.stderr).strip()
    if done.returncode not in (0, 1):  # 2 fatal, 3 config error, 4 bad command line
        output += f"\n(pyright exited {done.returncode})"
    return done.returncode == 0, output


def main(argv=None):
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted(STUBS),
        help="check only this target (repeatable); default: all",
    )
    parser.add_argument("--install-only", action="store_true", help="install the stubs, no check")
    parser.add_argument("files", nargs="*", help="check these files instead of firmware/")
    args = parser.parse_args(argv)
    targets = args.target or list(STUBS)
    failed = []
    try:
        for target in targets:
            if args.install_only:
                print(f"typecheck: {target}: stubs in {ensure_stubs(target)}")
                continue
            ok, output = check(target, args.files)
            print(f"typecheck: {target}: {'ok' if ok else 'FAILED'}\n{output}\n", flush=True)
            if not ok:
                failed.append(target)
    except SetupError as e:
        print(f"typecheck: cannot run: {e}", file=sys.stderr)
        return 2
    if failed:
        print(f"typecheck: errors for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
