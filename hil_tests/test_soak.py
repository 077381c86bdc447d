"""A virtual-clock soak on the rig with the real interpreter, recorded with --record.

CI runs two hours of controller time on `cross()` (about two minutes) and one hour on the
NEMA dual ring with walks and preemption (`nema8-peds`, about one minute). The full day is
marked `soak` and runs only when asked for: `pytest -m soak hil_tests/test_soak.py` (or
`python -m hil_tests.soak --hours 24 --record day.jsonl [--config nema8-peds]`). Both run in
the rig's heap (64 KiB) without the heap report, which itself takes about 1 KB: for heap
figures run the script with `--memreport 600 --heapsize 66k`.
"""

import pytest

from hil_tests.soak import soak


def _check(r):
    report = r.summary() + "".join(f"\n  {v}" for v in r.violations[:10])
    assert r.alive, report
    assert r.violations == [] and r.record_violations == [], report
    assert r.resets == [], report
    assert all(n > 0 for n in r.served.values()), (r.served, report)
    print(report)


def test_two_hours_of_random_demand_are_safe_within_the_heap(tmp_path, rig_kind):
    r = soak(2.0, tmp_path / "soak.jsonl", workdir=tmp_path, memreport_s=0)
    _check(r)
    assert r.changes > 500, r.summary()


def test_an_hour_of_the_dual_ring_with_walks_and_preemption_is_safe_within_the_heap(
    tmp_path, rig_kind
):
    # NEMA dual ring/barrier (firmware/rings.py) with pedestrian phases and a preempt input:
    # random detector bits press buttons and call preemption too
    r = soak(1.0, tmp_path / "nema8.jsonl", workdir=tmp_path, memreport_s=0, config="nema8-peds")
    _check(r)
    assert r.changes > 200, r.summary()


@pytest.mark.soak
def test_a_day_of_random_demand_is_safe_within_the_heap(tmp_path, rig_kind, request):
    if "soak" not in (request.config.getoption("-m") or ""):
        pytest.skip("the 24-hour soak runs only with -m soak")
    r = soak(24.0, tmp_path / "day.jsonl", workdir=tmp_path, memreport_s=0)
    _check(r)
