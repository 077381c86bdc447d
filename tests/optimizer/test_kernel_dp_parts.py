"""The DP's once-per-call parts: the running green's entries equal the reference's, and each
row's block sizes and earliest ends agree with `reference_model.block_start`. (The read-out,
`_tail_start` and `_unwind`, is checked through every DP plan: test_kernel_dp.py.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import kernel_dp_parts, reference_model
from tests.optimizer.instances import CONTINUOUS, arrays, instances


def _running_green_cases(draws=None):
    return instances(max_phases=3, max_clusters=4, **({"draws": draws} if draws else {}))


@settings(max_examples=150, deadline=None)
@given(_running_green_cases() | _running_green_cases(CONTINUOUS))
def test_running_green_entries_equal_the_reference(inst):
    cl_ptr, cl, tim = arrays(inst)
    current, elapsed = inst[5], inst[6]
    init, n_init, clear0 = kernel_dp_parts._running_green(
        cl_ptr, cl_ptr[1:].copy(), cl, tim, current, elapsed
    )
    clear, want = reference_model.initial_entries(*inst)
    assert clear0 == clear
    assert [(k, *init[k].tolist()) for k in range(n_init)] == want


@settings(max_examples=150, deadline=None)
@given(instances(max_phases=3, max_clusters=4), st.booleans())
def test_row_parts_block_sizes_and_ends_agree_with_block_start(inst, cut):
    cl_ptr, cl, tim = arrays(inst)
    arr, dur, cnt, timing = inst[1:5]
    dp_end = cl_ptr[1:].copy()
    if cut:  # the last row of each phase with two or more goes to the tail
        dp_end -= (np.diff(cl_ptr) >= 2).astype(np.int64)
    pre, kmax, alp = kernel_dp_parts._row_parts(cl_ptr, dp_end, cl, tim)
    far = -1e6  # ready so early that a block's start is its earliest end less max green
    for p in range(tim.shape[0]):
        h, slt, maxg = timing[5][p], timing[4][p], timing[1][p]
        for s in range(cl_ptr[p], dp_end[p]):
            assert pre[s].tolist()[:4] == [arr[s], arr[s] + dur[s], cnt[s] * h, cnt[s]]
            for k in range(1, dp_end[p] - s + 1):
                gs = reference_model.block_start(arr, dur, cnt, s, k, h, slt, maxg, far)
                assert (gs is None) == (k > kmax[s])
                if gs is not None:
                    assert alp[s, k - 1] == pytest.approx(gs + maxg, abs=1e-9)
