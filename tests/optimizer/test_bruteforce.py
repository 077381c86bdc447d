"""The schedule optimiser against an independent brute force.

Nothing here uses the optimiser's own timing helpers (`block_start`, `serve_block`,
`_initial_entries`, `cluster_delay`): the checker below simulates the timing rules as
docs/optimizer.md states them, computes each cluster's delay by integrating its arrival and
departure curves piece by piece, finds a green's earliest start by bisection, and enumerates
every sequence of greens (which phase, how many of its next clusters) on small instances.

The rules, from the docs:
- a green of phase p starting at gs serves its first vehicle at gs + start-up lost time; it
  serves its clusters in arrival order, a cluster from b = max(arrival, phase free) at one
  vehicle per headway, never ahead of its arrivals; it is through at max(a + d, b + n h);
- a green lasts at least min green; from its start to the end of its service at most max
  green (idle green before its first arrival counts);
- between greens, the ending phase's yellow and all-red; a green may start later (the
  previous green rests); the running green started at -elapsed, serves within its max green,
  and may rest past max green only until another phase's first arrival;
- a phase gets a second green right after its own only when no other phase has clusters left.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import reference
from tests.optimizer.instances import CONTINUOUS, instances, run_kernel

INF = float("inf")


# ---------------------------------------------------------------- the independent model


def _arrived(a, d, n, t):
    if t < a:
        return 0.0
    if d == 0.0 or t >= a + d:
        return n
    return n * (t - a) / d


def delay_by_curves(a, d, n, h, b):
    """Vehicle-seconds between the arrival curve (n uniformly over [a, a + d]) and the
    departure curve min(arrived, (t - b) / h), integrated exactly over its linear pieces."""
    end = max(a + d, b + n * h)
    points = {a, min(a + d, end), min(max(b, a), end), end}
    if d > 0.0 and n / d != 1.0 / h:  # where the service line meets the arrival ramp
        t = (b / h - n * a / d) / (1.0 / h - n / d)
        if a < t < min(a + d, end):
            points.add(t)
    ts = sorted(points)

    def gap(t):
        return _arrived(a, d, n, t) - min(_arrived(a, d, n, t), max(0.0, (t - b) / h))

    return sum((t1 - t0) * (gap(t0) + gap(t1)) / 2.0 for t0, t1 in zip(ts, ts[1:], strict=False))


def simulate_green(rows, gs, slt, h):
    """Serve `rows` [(a, d, n)] in a green starting at gs: [(b, through)] per row."""
    free = gs + slt
    out = []
    for a, d, n in rows:
        b = max(a, free)
        free = max(a + d, b + n * h)
        out.append((b, free))
    return out


def earliest_start(rows, ready, slt, h, maxg):
    """Smallest gs >= ready at which the green's service ends within max green of gs, found
    by bisection (service end minus gs never grows with gs); None if it never fits."""

    def fits(gs):  # with a rounding allowance: (gs + x) - gs need not be x in floats
        return simulate_green(rows, gs, slt, h)[-1][1] - gs <= maxg + 1e-9

    if fits(ready):
        return ready
    hi = max(ready, max(a + d for a, d, _ in rows)) + 1.0
    if not fits(hi):
        return None
    lo = ready
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


class Instance:
    """An instance in the reference's layout, unpacked once."""

    def __init__(self, inst):
        cl_ptr, arr, dur, cnt, timing, current, elapsed = inst
        self.n_ph = len(cl_ptr) - 1
        self.rows = [
            [(arr[j], dur[j], cnt[j]) for j in range(cl_ptr[p], cl_ptr[p + 1])]
            for p in range(self.n_ph)
        ]
        self.ming, self.maxg, self.yel, self.ared, self.slt, self.hw = timing
        self.current, self.elapsed = current, elapsed

    def clear(self, p):
        return self.yel[p] + self.ared[p]

    def delay(self, p, first, service):
        return sum(
            delay_by_curves(*self.rows[p][first + j], self.hw[p], b)
            for j, (b, _) in enumerate(service)
        )

    def first_call(self):
        """Earliest arrival of a phase other than the running one (inf if none)."""
        return min(
            (r[0][0] for p, r in enumerate(self.rows) if p != self.current and r), default=INF
        )


def unseen_red(red_from, until, first, horizon):
    """The part of a red [red_from, until] inside [first, horizon] (first: when the unseen
    demand can first arrive)."""
    lo, hi = max(red_from, first), min(until, horizon)
    return hi - lo if hi > lo else 0.0


def unseen_delay(rate, red_from, until, horizon, first=0.0):
    """Unseen arrivals at `rate` during a red [red_from, until] (the part from `first` to the
    horizon): each waits from its arrival to the red's end, rate x red^2 / 2 in all."""
    return rate * unseen_red(red_from, until, first, horizon) ** 2 / 2.0


def unseen_green_end(m, p, rate, red_from, gs, horizon, first=0.0):
    """A green from gs lasts until its red's unseen queue has left (start-up lost time, one
    headway each), within max green."""
    queue = rate * unseen_red(red_from, gs, first, horizon)
    return min(gs + m.slt[p] + queue * m.hw[p], gs + m.maxg[p])


def cyclic_allows(m, served, last, ready, p):
    """In cyclic order, may phase p come after `last`? Only if every phase between them (in
    index order, wrapping round) has nothing left or has not arrived by `ready` (does not
    call), and p is not `last` while another phase has clusters left."""
    if last < 0:
        return True
    left = [i for i in range(m.n_ph) if served[i] < len(m.rows[i])]
    if p == last:
        return left == [last]
    between = [(last + s) % m.n_ph for s in range(1, (p - last) % m.n_ph)]
    return all(served[r] == len(m.rows[r]) or m.rows[r][served[r]][0] > ready for r in between)


def brute_force(inst, waits=(0.0,), rates=None, horizon=INF, first=None, cyclic=False):
    """Least total delay over every sequence of greens; each green starts at its earliest
    feasible moment plus each of `waits` (extra rest before it). Returns (delay, greens).

    rates: unseen demand per phase (veh/s); each green then also costs `unseen_delay` of the
    red it ends (from the end of the phase's last green, min green or service, or from 0).
    cyclic: only sequences in cyclic order (`cyclic_allows`)."""
    m = Instance(inst)
    n = [len(r) for r in m.rows]
    best = [INF, None]
    rates = rates or [0.0] * m.n_ph
    first = first or [0.0] * m.n_ph
    red = [0.0] * m.n_ph

    def rec(served, last, ready, limit, delay, greens):
        if served == n:
            if delay < best[0]:
                best[:] = [delay, list(greens)]
            return
        left = sum(served[i] < n[i] for i in range(m.n_ph))
        for p in range(m.n_ph):
            if p == last and left > 1:
                continue
            if cyclic and not cyclic_allows(m, served, last, ready, p):
                continue
            for k in range(1, n[p] - served[p] + 1):
                rows = m.rows[p][served[p] : served[p] + k]
                gs0 = earliest_start(rows, ready, m.slt[p], m.hw[p], m.maxg[p])
                if gs0 is None:
                    continue
                for w in waits:
                    gs = gs0 + w
                    if gs > limit:
                        continue
                    service = simulate_green(rows, gs, m.slt[p], m.hw[p])
                    if service[-1][1] - gs > m.maxg[p] + 1e-9:
                        continue
                    end = max(service[-1][1], gs + m.ming[p])
                    end = max(end, unseen_green_end(m, p, rates[p], red[p], gs, horizon, first[p]))
                    nxt = list(served)
                    nxt[p] += k
                    d = m.delay(p, served[p], service)
                    d += unseen_delay(rates[p], red[p], gs, horizon, first[p])
                    greens.append((p, gs, k))
                    was, red[p] = red[p], end
                    rec(nxt, p, end + m.clear(p), INF, delay + d, greens)
                    red[p] = was
                    greens.pop()

    if m.current < 0:
        rec([0] * m.n_ph, -1, 0.0, INF, 0.0, [])
        return best[0], best[1]
    c = m.current
    gs = -m.elapsed
    deadline = gs + m.maxg[c]
    for k in range(n[c] + 1):
        service = simulate_green(m.rows[c][:k], gs, m.slt[c], m.hw[c]) if k else []
        if k and service[-1][1] > deadline:
            break
        end = max(service[-1][1] if k else -INF, gs + m.ming[c], 0.0)
        limit = max(deadline, m.first_call(), end) + m.clear(c)
        served = [0] * m.n_ph
        served[c] = k
        red[c] = end
        rec(served, c, end + m.clear(c), limit, m.delay(c, 0, service), [(c, gs, k)])
    return best[0], best[1]


def resimulate(inst, plan, tol=1e-7, rates=None, horizon=INF, unseen_from=None):
    """Check a plan {greens: [(phase, start, end, clusters)], delay} against the rules by
    simulating it; returns the total delay the simulation gives (with `unseen_delay` of every
    red a green ends, given rates)."""
    m = Instance(inst)
    served = [0] * m.n_ph
    total = 0.0
    rates = rates or [0.0] * m.n_ph
    unseen_from = unseen_from or [0.0] * m.n_ph
    red = [0.0] * m.n_ph
    greens = plan["greens"]
    for g, (p, start, end, k) in enumerate(greens):
        running = g == 0 and m.current >= 0
        if running:
            assert (p, start) == (m.current, -m.elapsed), "the running green comes first"
        else:
            assert start >= -tol, "a planned green starts before now"
        if g + 1 < len(greens):
            assert greens[g + 1][1] == pytest.approx(end + m.clear(p), abs=tol), "clearance"
        if g > 0 and greens[g - 1][0] == p:
            assert all(served[i] == len(m.rows[i]) for i in range(m.n_ph) if i != p)
        assert end - start >= m.ming[p] - tol, "min green"
        rows = m.rows[p][served[p] : served[p] + k]
        service = simulate_green(rows, start, m.slt[p], m.hw[p])
        if service:
            assert service[-1][1] - start <= m.maxg[p] + tol, "max green"
            assert service[-1][1] <= end + tol, "served after the green"
        if running:
            limit = max(start + m.maxg[p], m.first_call(), 0.0)
            assert end <= limit + tol, "the running green rests past max green with a call"
        first = sum(len(r) for r in m.rows[:p]) + served[p]
        for j, (b, fin) in enumerate(service):
            assert plan["starts"][first + j] == pytest.approx(b, abs=tol)
            assert plan["ends"][first + j] == pytest.approx(fin, abs=tol)
        total += m.delay(p, served[p], service)
        floor = 0.0 if running else -INF
        if not running:
            total += unseen_delay(rates[p], red[p], start, horizon, unseen_from[p])
            floor = unseen_green_end(m, p, rates[p], red[p], start, horizon, unseen_from[p])
        # the red starts where the plan's green could end: service, min green or the unseen
        # queue's discharge (not its rest)
        red[p] = max(service[-1][1] if service else -INF, start + m.ming[p], floor)
        served[p] += k
    assert served == [len(r) for r in m.rows], "not every cluster served"
    assert plan["delay"] == pytest.approx(total, rel=1e-9, abs=1e-7)
    return total


# ---------------------------------------------------------------- the checker itself


def test_delay_by_curves_known_values():
    # A standing queue of 4 from t=0 served from t=10 at 2 s/veh: 4 * 10 + 4 * 4 * 2 / 2.
    assert delay_by_curves(0.0, 0.0, 4.0, 2.0, 10.0) == 56.0
    # A platoon no denser than saturation, served on arrival: no delay.
    assert delay_by_curves(5.0, 10.0, 5.0, 2.0, 5.0) == 0.0
    # 10 vehicles over 10 s, service 2 s/veh from their first arrival: the queue grows to 5 at
    # t=10 and clears at 20; the area is 10 * 10 / 2 + 5 * 10 / 2... = 50 veh-s.
    assert delay_by_curves(0.0, 10.0, 10.0, 2.0, 0.0) == pytest.approx(50.0)


def test_earliest_start_bisects_to_the_max_green_bound():
    # 5 vehicles at 30 s, 2 s/veh, start-up 2 s, max green 20 s: through at 40 s, so the green
    # may start at 20 s at the earliest.
    assert earliest_start([(30.0, 0.0, 5.0)], 0.0, 2.0, 2.0, 20.0) == pytest.approx(20.0)
    assert earliest_start([(0.0, 0.0, 5.0)], 3.0, 2.0, 2.0, 20.0) == 3.0
    assert earliest_start([(0.0, 0.0, 10.0)], 0.0, 2.0, 2.0, 20.0) is None


# ---------------------------------------------------------------- the optimiser against it


def _both(inst):
    return reference.schedule(*inst, capacity=64), run_kernel(inst, capacity=64)


@settings(max_examples=150, deadline=None)
@given(instances(max_phases=3, max_clusters=2))
def test_dp_finds_the_brute_force_optimum(inst):
    best, _ = brute_force(inst)
    for plan in _both(inst):
        assert plan is not None
        assert resimulate(inst, plan) == pytest.approx(best, rel=1e-9, abs=1e-7)


@settings(max_examples=80, deadline=None)
@given(instances(max_phases=3, max_clusters=2, draws=CONTINUOUS))
def test_dp_finds_the_brute_force_optimum_continuous_times(inst):
    best, _ = brute_force(inst)
    for plan in _both(inst):
        assert resimulate(inst, plan) == pytest.approx(best, rel=1e-9, abs=1e-7)


@settings(max_examples=25, deadline=None)
@given(instances(max_phases=4, max_clusters=2))
def test_dp_finds_the_brute_force_optimum_four_phases(inst):
    best, _ = brute_force(inst)
    plan = run_kernel(inst, capacity=64)
    assert resimulate(inst, plan) == pytest.approx(best, rel=1e-9, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(instances(max_phases=2, max_clusters=2))
def test_starting_a_green_later_never_lowers_the_delay(inst):
    # The DP only tries each green's earliest feasible start; resting longer before a green
    # (by any of these amounts) must never find a lower delay.
    earliest, _ = brute_force(inst)
    later, _ = brute_force(inst, waits=(0.0, 0.5, 2.0, 7.0))
    assert later == pytest.approx(earliest, rel=1e-9, abs=1e-7)


def test_running_green_past_max_green_ends_for_a_waiting_call():
    # Phase 0 is past max green with nothing left; phase 1 (max green 10 s) has 2 vehicles
    # waiting and 2 more at 14 s. One green for all four would have to start at 8 s, so
    # phase 0 would rest until 3 s with phase 1 calling: not allowed. Phase 1 gets two greens
    # (delay 18 + 12) instead of one (24 + 4).
    timing = [[5.0, 5.0], [20.0, 10.0], [3.5, 3.5], [1.5, 1.5], [2.0, 2.0], [2.0, 2.0]]
    inst = ([0, 0, 2], [0.0, 14.0], [0.0, 0.0], [2.0, 2.0], timing, 0, 30.0)
    best, greens = brute_force(inst)
    assert best == pytest.approx(30.0)
    assert [(p, k) for p, _, k in greens] == [(0, 0), (1, 1), (1, 1)]
    for plan in _both(inst):
        assert resimulate(inst, plan) == pytest.approx(30.0)


@st.composite
def with_tail(draw, max_phases=3, max_clusters=3):
    """An instance and dp_end: each phase's last 0.. clusters left to the greedy tail."""
    inst = draw(instances(max_phases=max_phases, max_clusters=max_clusters))
    cl_ptr = inst[0]
    dp_end = [draw(st.integers(cl_ptr[p], cl_ptr[p + 1])) for p in range(len(cl_ptr) - 1)]
    return inst, dp_end


@settings(max_examples=150, deadline=None)
@given(with_tail())
def test_plans_with_a_greedy_tail_are_valid_and_never_beat_the_optimum(case):
    inst, dp_end = case
    plan = reference.schedule(*inst, dp_end=dp_end)
    assert plan == run_kernel(inst, dp_end=dp_end)
    best, _ = brute_force(inst)
    assert plan is not None
    assert resimulate(inst, plan) >= best - 1e-7 * max(1.0, best)


# ---------------------------------------------------------------- unseen demand


@st.composite
def with_rates(draw, max_phases=3):
    inst = draw(instances(max_phases=max_phases, max_clusters=2))
    n_ph = len(inst[0]) - 1
    rates = draw(st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0]), min_size=n_ph, max_size=n_ph))
    first = draw(st.lists(st.sampled_from([0.0, 5.0, 11.5]), min_size=n_ph, max_size=n_ph))
    return inst, rates, draw(st.sampled_from([20.0, 120.0])), first


@settings(max_examples=150, deadline=None)
@given(with_rates())
def test_dp_with_unseen_rates_charges_what_it_says_and_never_beats_the_optimum(case):
    # With rates the DP is a heuristic (when each phase last went red is not part of its
    # dominance), so it is held to: a valid plan, the charge it reports is the charge of its
    # greens, and no plan cheaper than the brute force's optimum.
    inst, rates, horizon, first = case
    best, _ = brute_force(inst, rates=rates, horizon=horizon, first=first)
    args = {"capacity": 64, "rates": rates, "horizon": horizon, "rates_from": first}
    for plan in (reference.schedule(*inst, **args), run_kernel(inst, **args)):
        total = resimulate(inst, plan, rates=rates, horizon=horizon, unseen_from=first)
        assert total >= best - 1e-7 * max(1.0, best)


def test_brute_force_unseen_charge_known_value():
    # One phase red (phase 1, 0.5 veh/s) until its green at 5 s: 0.5 x 5^2 / 2 = 6.25 (and its
    # 2.5 unseen vehicles need 2 + 5 s of green: no more than its min green).
    timing = [[5.0, 5.0], [20.0, 20.0], [3.5, 3.5], [1.5, 1.5], [2.0, 2.0], [2.0, 2.0]]
    inst = ([0, 0, 1], [0.0], [0.0], [1.0], timing, 0, 30.0)
    best, greens = brute_force(inst, rates=[0.0, 0.5])
    assert best == pytest.approx(7.0 + 1.0 + 6.25)  # its car waits to 7 s, + h / 2
    for plan in _both(inst):
        assert plan["delay"] == pytest.approx(8.0)
    plan = run_kernel(inst, rates=[0.0, 0.5])
    assert plan["delay"] == pytest.approx(best)


# ---------------------------------------------------------------- cyclic order


def _cyclic(inst, **kw):
    return (
        reference.schedule(*inst, capacity=64, cyclic=True, **kw),
        run_kernel(inst, capacity=64, cyclic=True, **kw),
    )


def assert_cyclic(inst, plan):
    """Every green of the plan is one cyclic order allows after the one before it, `ready`
    being when that one could end (its service or min green) plus its clearance."""
    m = Instance(inst)
    served = [0] * m.n_ph
    last, ready = -1, 0.0
    for g, (p, start, _, k) in enumerate(plan["greens"]):
        assert served[p] < len(m.rows[p]) or k == 0
        assert cyclic_allows(m, served, last, ready, p), f"green {g} (phase {p}) out of order"
        service = simulate_green(m.rows[p][served[p] : served[p] + k], start, m.slt[p], m.hw[p])
        end = max(service[-1][1] if service else -INF, start + m.ming[p])
        if g == 0 and m.current >= 0:
            end = max(end, 0.0)
        served[p] += k
        last, ready = p, end + m.clear(p)


@settings(max_examples=150, deadline=None)
@given(instances(max_phases=3, max_clusters=2))
def test_cyclic_dp_finds_the_brute_force_optimum_over_cyclic_plans(inst):
    best, _ = brute_force(inst, cyclic=True)
    free, _ = brute_force(inst)
    assert best >= free - 1e-7 * max(1.0, free)  # a restriction never lowers the optimum
    for plan in _cyclic(inst):
        assert plan is not None
        assert_cyclic(inst, plan)
        assert resimulate(inst, plan) == pytest.approx(best, rel=1e-9, abs=1e-7)


@settings(max_examples=30, deadline=None)
@given(instances(max_phases=4, max_clusters=2))
def test_cyclic_dp_finds_the_brute_force_optimum_four_phases(inst):
    best, _ = brute_force(inst, cyclic=True)
    plan = run_kernel(inst, capacity=64, cyclic=True)
    assert_cyclic(inst, plan)
    assert resimulate(inst, plan) == pytest.approx(best, rel=1e-9, abs=1e-7)


@settings(max_examples=60, deadline=None)
@given(instances(max_phases=3, max_clusters=2, draws=CONTINUOUS))
def test_cyclic_dp_finds_the_brute_force_optimum_continuous_times(inst):
    best, _ = brute_force(inst, cyclic=True)
    for plan in _cyclic(inst):
        assert_cyclic(inst, plan)
        assert resimulate(inst, plan) == pytest.approx(best, rel=1e-9, abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(with_tail(max_phases=4))
def test_cyclic_plans_with_a_greedy_tail_stay_cyclic_and_never_beat_the_optimum(case):
    inst, dp_end = case
    plan = reference.schedule(*inst, dp_end=dp_end, cyclic=True)
    assert plan == run_kernel(inst, dp_end=dp_end, cyclic=True)
    assert plan is not None
    assert_cyclic(inst, plan)
    best, _ = brute_force(inst, cyclic=True)
    assert resimulate(inst, plan) >= best - 1e-7 * max(1.0, best)
