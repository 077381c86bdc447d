"""benchmarks/firmware_heap.py without the interpreter: the bisection on a fake predicate, the
arguments, the table."""

import pytest

from benchmarks.firmware_heap import Row, bisect_heap, parse_args, table


def _threshold(smallest, tried):
    def runs(heap):
        tried.append(heap)
        return heap >= smallest

    return runs


@pytest.mark.parametrize("smallest", [56_250, 61_750, 62_000, 68_750, 79_750])
def test_bisection_finds_the_boundary_on_steps(smallest):
    tried = []
    assert bisect_heap(_threshold(smallest, tried), 56_000, 80_000, 250) == (
        smallest,
        smallest - 250,
    )
    assert tried[0] == 80_000  # the top is checked first
    assert all(h % 250 == 0 for h in tried)
    assert len(tried) <= 1 + 7  # log2(96 steps) rounded up, plus the top


def test_bisection_says_when_the_range_is_wrong():
    said = []
    assert bisect_heap(_threshold(90_000, []), 56_000, 80_000, 250, said.append) == (None, 80_000)
    assert "raise --hi" in said[0]
    said.clear()
    tried = []
    assert bisect_heap(_threshold(0, tried), 56_000, 80_000, 250, said.append) == (56_000, None)
    assert tried[-1] == 56_000 and "lower --lo" in said[0]
    with pytest.raises(ValueError, match="lo < hi"):
        bisect_heap(_threshold(0, []), 60_000, 60_100, 250)


def test_bisection_rounds_the_range_onto_steps():
    tried = []
    assert bisect_heap(_threshold(61_000, tried), 55_900, 80_100, 500) == (61_000, 60_500)
    assert tried[0] == 80_000 and all(h % 500 == 0 for h in tried)


def test_arguments():
    a = parse_args([])
    assert a.config == ["cross", "cross-peds", "nema8", "nema8-peds"]
    assert (a.keys, a.virtual_s, a.step, a.seeds, a.json) == (False, 60.0, 250, 3, None)
    a = parse_args(["--config", "cross", "--config", "nema8-peds", "--keys", "--virtual-s", "10",
                    "--step", "0.5k", "--hi", "70k", "--json", "out.json"])  # fmt: skip
    assert a.config == ["cross", "nema8-peds"] and a.keys and a.virtual_s == 10.0
    assert (a.step, a.hi, a.json) == (512, 71_680, "out.json")
    bad_args = (
        ["--config", "tee"],
        ["--step", "0"],
        ["--hi", "lots"],
        ["--seeds", "0"],
        ["--lo", "65k", "--hi", "66250"],  # 65k is 66,560 bytes
    )
    for bad in bad_args:
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_table():
    rows = [
        Row("cross", False, 61_750, 61_500, 59_936, 506, [], []),
        Row("nema8", True, None, 80_000, None, None, [], []),
    ]
    lines = table(rows).splitlines()
    assert lines[0].split()[:2] == ["config", "keys"]
    assert lines[1].split() == ["cross", "no", "61,750", "61,500", "59,936", "506"]
    assert lines[2].split() == ["nema8", "yes", "-", "80,000", "-", "-"]
