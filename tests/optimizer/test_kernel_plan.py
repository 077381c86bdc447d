"""The planning kernels' own parts: the batch's packing, sizing and decisions equal what the
single-call path computes (the plans themselves: test_batch.py, test_api.py)."""

import math
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import kernel_budget, kernel_plan
from edge.optimizer.clusters import pack_rows
from edge.optimizer.results import decision_from
from tests.optimizer.instances import arrays, instances


def test_batch_packs_clusters_as_cluster_table_does():
    """Zero-vehicle rows dropped, each phase sorted by arrival, ties kept in input order."""
    rng = random.Random(5)
    lens = [rng.randint(0, 6) for _ in range(40)]
    rows = np.array(
        [
            (rng.choice([0.0, 5.0, rng.uniform(0, 60)]), rng.choice([0.0, 3.0]), rng.choice([0, 2]))
            for _ in range(sum(lens))
        ],
        dtype=np.float64,
    ).reshape(-1, 3)
    want_ptr, want_rows = pack_rows(lens, rows)
    ptr = np.empty(len(lens) + 1, np.int64)
    out = np.empty_like(rows)
    n = kernel_plan._pack(np.array(lens, np.int64), rows, ptr, out)
    assert np.array_equal(ptr, want_ptr) and np.array_equal(out[:n], want_rows)


@settings(max_examples=40, deadline=None)
@given(st.lists(instances(max_phases=4, max_clusters=4), min_size=1, max_size=12), st.booleans())
def test_split_batch_sums_each_intersections_split_rows(inst, longer):
    parts = [arrays(i) for i in inst]
    ph_ptr = np.cumsum([0] + [tim.shape[0] for _, _, tim in parts]).astype(np.int64)
    in_off = np.cumsum([0] + [cl.shape[0] for _, cl, _ in parts]).astype(np.int64)
    in_ptr = np.concatenate([ptr for ptr, _, _ in parts])
    cl = np.concatenate([c for _, c, _ in parts]).reshape(-1, 3)
    if longer:
        cl[:, 1] *= 4.0  # some clusters now need splitting
    tim = np.concatenate([t for _, _, t in parts])
    fit_off = np.zeros(len(parts) + 1, np.int64)
    kernel_plan._split_batch(ph_ptr, in_ptr, in_off, cl, tim, fit_off)
    for m, (ptr, _, t) in enumerate(parts):
        mine = cl[in_off[m] : in_off[m + 1]]
        assert fit_off[m + 1] - fit_off[m] == kernel_budget._split_rows(ptr, mine, t)


def test_decisions_kernel_equals_decision_from():
    rng = random.Random(8)
    n_int = 300
    n_g = np.array([rng.randint(0, 4) for _ in range(n_int)], np.int64)
    g_off = np.cumsum(np.concatenate([[0], n_g[:-1] + 1])).astype(np.int64)
    size = int(g_off[-1] + n_g[-1] + 1)
    g_ph = np.array([rng.randint(0, 2) for _ in range(size)], np.int64)
    g_t = np.array([[0.0, rng.choice([-1.0, 0.0, 0.5, 2.0, 30.0])] for _ in range(size)])
    current = np.array([rng.randint(-1, 2) for _ in range(n_int)], np.int64)
    switch_at = np.array([rng.choice([-1.0, 0.0, 0.5, 1.0, 7.0, math.inf]) for _ in range(n_int)])
    dec_i, dec_t = np.empty((n_int, 3), np.int64), np.empty(n_int)
    kernel_plan._decisions(g_ph, g_t, g_off, n_g, current, switch_at, 1.0, dec_i, dec_t)
    for m in range(n_int):
        cur, g0, k = int(current[m]), int(g_off[m]), int(n_g[m])
        want = decision_from(g_ph, g_t, g0, k, cur, float(switch_at[m]), 1.0)
        got = (int(dec_i[m, 0]), bool(dec_i[m, 1]), int(dec_i[m, 2]), float(dec_t[m]))
        assert got == (want.phase, want.switch, want.next_phase, want.switch_in_s), m
