"""Run one tests/firmware module on MicroPython (or CPython): `micropython mprun.py MODULE`.

Calls every `test_*` function of MODULE in name order, prints one line per failure (with the
traceback), the file every `firmware` module was loaded from (so the caller can check that the
compiled .mpy build ran, not the sources), and a last line `mp: N passed, M failed`.
Exits 1 on any failure. No pytest here: this file runs on the bare interpreter.
"""

import sys

# sys.path[0] is this script's directory; put it after the MICROPYPATH entries so the compiled
# firmware build listed there wins over anything beside the tests.
_here = sys.path.pop(0)
if _here not in sys.path:
    sys.path.append(_here)


def _print_exception(e):
    if hasattr(sys, "print_exception"):  # MicroPython
        sys.print_exception(e)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stdout)


def run(name):
    """Run the tests of module `name`; return (passed, failed)."""
    try:
        mod = __import__(name)
    except Exception as e:  # e.g. syntax MicroPython lacks: one failure, not a crash
        print(f"FAIL {name}: import: {type(e).__name__}: {e}")
        _print_exception(e)
        return 0, 1
    names = sorted(n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n)))
    passed = failed = 0
    for n in names:
        try:
            getattr(mod, n)()
        except Exception as e:  # report every failure, keep going
            failed += 1
            print(f"FAIL {name}.{n}: {type(e).__name__}: {e}")
            _print_exception(e)
        else:
            passed += 1
    return passed, failed


def main(argv):
    if len(argv) != 2:
        print("usage: micropython mprun.py MODULE")
        sys.exit(2)
    passed, failed = run(argv[1])
    for key in sorted(sys.modules):
        if key == "firmware" or key.startswith("firmware."):
            path = getattr(sys.modules[key], "__file__", "?")
            print(f"mp: loaded {key} from {path}")
    if not passed and not failed:
        print(f"FAIL {argv[1]}: no test_* functions")
    print(f"mp: {passed} passed, {failed} failed")
    if failed or not passed:
        sys.exit(1)


main(sys.argv)
