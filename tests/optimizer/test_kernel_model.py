"""The kernels' delay model equals the reference's, bit for bit: a cluster's delay, and serving
a block of clusters in one green."""

import random

import numpy as np

from edge.optimizer import kernel_model, reference_model


def test_cluster_delay_kernel_equals_reference():
    rng = random.Random(11)
    for _ in range(500):
        arr = rng.choice([0.0, rng.uniform(0, 40)])
        dur = rng.choice([0.0, 4.0, rng.uniform(0, 30)])
        n = rng.choice([1.0, 3.0, rng.uniform(0.1, 12)])
        h = rng.choice([1.0, 2.0, 2.5])
        b = arr + rng.choice([0.0, rng.uniform(0, 40)])
        want = reference_model.cluster_delay(arr, dur, n, h, b)
        assert kernel_model._cluster_delay(arr, dur, n, h, b) == want, (arr, dur, n, h, b)


def test_serve_kernel_equals_serve_block():
    rng = random.Random(12)
    for _ in range(200):
        k = rng.randint(1, 4)
        arr = sorted(rng.uniform(0, 30) for _ in range(k + 1))
        dur = [rng.choice([0.0, rng.uniform(0, 8)]) for _ in range(k + 1)]
        cnt = [rng.uniform(0.5, 5) for _ in range(k + 1)]
        h, slt, gs = rng.choice([1.0, 2.0]), rng.choice([0.0, 2.0]), rng.uniform(0, 30)
        cl = np.array([arr, dur, cnt]).T.copy()
        starts, ends = np.zeros(k + 1), np.zeros(k + 1)
        first, m = rng.randint(0, 1), rng.randint(1, k)
        got = kernel_model._serve(cl, first, m, h, slt, gs, starts, ends, True)
        delay, fin, st, en = reference_model.serve_block(arr, dur, cnt, first, m, h, slt, gs)
        assert got == (delay, fin)
        assert starts[first : first + m].tolist() == st and ends[first : first + m].tolist() == en


def test_drop_stale_cache_keeps_code_of_the_same_sources_and_drops_it_on_any_change(tmp_path):
    (tmp_path / "kernel_a.py").write_text("A = 1\n")
    (tmp_path / "kernel_b.py").write_text("B = 1\n")
    (tmp_path / "reference.py").write_text("R = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()

    def cached():
        for name in ("kernel_a._f-3.py311.nbi", "kernel_a._f-3.py311.1.nbc", "api.cpython-311.pyc"):
            (cache / name).write_bytes(b"x")

    cached()
    assert kernel_model.drop_stale_cache(tmp_path)  # no stamp yet: nothing is trusted
    assert sorted(p.name for p in cache.iterdir()) == ["api.cpython-311.pyc", kernel_model.STAMP]
    cached()
    assert not kernel_model.drop_stale_cache(tmp_path)  # same sources: the cache stays
    assert (cache / "kernel_a._f-3.py311.1.nbc").exists()
    (tmp_path / "reference.py").write_text("R = 2\n")  # not a kernel: no effect
    assert not kernel_model.drop_stale_cache(tmp_path)
    (tmp_path / "kernel_b.py").write_text("B = 2\n")  # the callee's file, not kernel_a's
    assert kernel_model.drop_stale_cache(tmp_path)
    assert not (cache / "kernel_a._f-3.py311.nbi").exists()
    assert not (cache / "kernel_a._f-3.py311.1.nbc").exists()
    assert (cache / "api.cpython-311.pyc").exists()
    assert not kernel_model.drop_stale_cache(tmp_path)
