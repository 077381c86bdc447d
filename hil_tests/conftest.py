# The HIL suite. The rig is an option: `--rig=emulated` (default) runs the real firmware on the
# MicroPython interpreter; a bench board would plug in as `--rig=serial:///dev/ttyUSB0` later.
import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--rig",
        default="emulated",
        help="emulated (default); a serial:// bench board is not supported yet",
    )


@pytest.fixture(scope="session")
def rig_kind(request):
    kind = request.config.getoption("--rig")
    if kind != "emulated":
        pytest.fail(f"--rig={kind!r}: only the emulated rig exists so far")
    return kind


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: the 24-hour virtual-clock soak (run with -m soak)")


def pytest_collection_modifyitems(items):
    for item in items:
        if "hil_tests" in str(item.fspath):
            item.add_marker(pytest.mark.hil)
