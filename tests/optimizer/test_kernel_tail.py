"""The greedy tail kernel equals `reference_tail.finish`, bit for bit: its delay and its greens,
in free and in cyclic order, from all-red and after a green."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import kernel_tail, reference_tail
from tests.optimizer.instances import CONTINUOUS, arrays, instances

INF = float("inf")


def run_finish(inst, last, ready, limit, cyclic):
    """kernel_tail._finish from nothing served; (delay, greens) like reference_tail.finish."""
    cl_ptr, cl, tim = arrays(inst)
    n_ph, n = tim.shape[0], cl.shape[0]
    served, nxa = np.zeros(n_ph, np.int64), np.empty(n_ph)
    g_ph, g_t, g_k = np.empty(n + 1, np.int64), np.empty((n + 1, 2)), np.empty(n + 1, np.int64)
    red, zeros = np.zeros(n_ph), np.zeros(n_ph)
    args = (g_ph, g_t, g_k, 0, True, 0.0, INF, red, zeros, zeros, INF, False, cyclic)
    delay, n_g = kernel_tail._finish(cl_ptr, cl, tim, served, nxa, last, ready, limit, *args)
    greens = [(int(g_ph[g]), float(g_t[g, 0]), float(g_t[g, 1]), int(g_k[g])) for g in range(n_g)]
    return delay, greens


@st.composite
def starts(draw, draws=None):
    inst = draw(instances(max_phases=4, max_clusters=3, **({"draws": draws} if draws else {})))
    last = draw(st.integers(-1, len(inst[0]) - 2))
    ready = draw(st.sampled_from([0.0, 3.0, 12.5]))
    limit = draw(st.sampled_from([INF, INF, 0.0, 20.0]))
    return inst, last, ready, limit


@settings(max_examples=200, deadline=None)
@given(starts(), st.booleans())
def test_finish_kernel_equals_reference(case, cyclic):
    inst, last, ready, limit = case
    want = reference_tail.finish(
        *inst[:5], [0] * (len(inst[0]) - 1), last, ready, limit, None, None, cyclic
    )
    assert run_finish(inst, last, ready, limit, cyclic) == want


@settings(max_examples=80, deadline=None)
@given(starts(draws=CONTINUOUS), st.booleans())
def test_finish_kernel_equals_reference_continuous(case, cyclic):
    inst, last, ready, limit = case
    want = reference_tail.finish(
        *inst[:5], [0] * (len(inst[0]) - 1), last, ready, limit, None, None, cyclic
    )
    assert run_finish(inst, last, ready, limit, cyclic) == want
