"""firmware/build.py: the controller's start-up, run once by app.main and then unloaded."""

import sys

from configs import two
from test_app import FakeHal, _load

from firmware import build
from firmware import protocol as P
from firmware import protocol_gateway as G


def _events(data):
    frames = G.Decoder().feed(data)
    return [G.unpack_event(p) for t, _, p in frames if t == P.T_EVENT]


def test_start_builds_the_controller_shows_start_up_flash_and_reports_the_boot():
    hal = FakeHal(ticks=1)
    hal.t = 5000
    ctl, beats = build.start(hal, _load(two()), "reset wdt", None, 7, 41)
    assert beats == [5000, 5000, 5000]  # every critical task counts from now
    assert hal.heads == [(5000, "ff")]  # start-up runs flash first
    assert ctl.floor == 41  # commands accepted before this boot are stale
    assert ctl.keys is None
    events = _events(ctl.take_output() or b"")
    assert [(code, detail) for code, _, detail in events] == [
        (G.EV_BOOT, "boot two"),  # the controller's own, with its config's id
        (G.EV_BOOT, "reset wdt"),  # and why it started
    ]


def test_start_without_a_boot_detail_sends_only_the_boot_and_the_controller_runs():
    hal = FakeHal(ticks=1)
    ctl, _ = build.start(hal, _load(two()), None, None, 1, 0)
    events = _events(ctl.take_output() or b"")
    assert [(code, detail) for code, _, detail in events] == [(G.EV_BOOT, "boot two")]
    # from start-up flash through all-red to the first phase, as any controller
    seen = set()
    for t in range(0, 4000, 10):
        ctl.step(t, 0)
        seen.add(bytes(ctl.signals).decode())
    assert {"ff", "rr"} <= seen and any("G" in s for s in seen)


def test_parts_are_built_before_controller_py_is_loaded():
    # start() imports controller.py only after the parts: the peak is the larger of the two
    saved = sys.modules.pop("firmware.controller", None)
    try:
        p = build.parts(_load(two()), 0)
        assert "firmware.controller" not in sys.modules
        seq, mon = p[0], p[1]
        assert mon.fault_code == 0 and bytes(seq.signals) == b"ff"
    finally:
        if saved is not None:
            sys.modules["firmware.controller"] = saved
