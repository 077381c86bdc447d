"""Property tests (CPython only) of dual-ring/barrier operation (firmware/rings.py): random ring
configs (1-3 rings, 1-3 barrier groups, random orders, conflicts, overlaps, timings, recalls)
and the NEMA 8-phase factory with random timings, walks, preemption and diagnostics, driven by
random detector traces and hostile gateway requests. Every change of the heads goes to the
firmware Monitor and to the rig's independent oracle (edge.safety); on top, the barrier holds
(never two barrier groups green or yellow at once) and every phase with demand is served
within the max cycle."""

import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import factories
from edge.safety import SafetyOracle
from firmware import config, ticks
from firmware.detectors import Detectors
from firmware.monitor import Monitor
from firmware.sequencer import PREEMPT, Sequencer
from tests.property.test_controller_properties import PedCheck, _hostile
from tests.property.test_sequencer_properties import random_plan

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_GAP = 200  # ms between control ticks, at most


@st.composite
def ring_configs(draw):
    """A valid compact config with rings: per ring and barrier group 0-2 phases of 1-2 fresh
    groups each (sometimes one overlap group shared with the next phase of the same ring and
    side); groups of different barrier groups conflict at random, and so do groups of one ring
    and side; groups of one side in different rings never do (the rule config.py checks)."""
    n_rings = draw(st.integers(1, 3))
    n_sides = draw(st.integers(1, 3))
    cells = [[draw(st.integers(0, 2)) for _ in range(n_sides)] for _ in range(n_rings)]
    for b in range(n_sides):  # every barrier group and every ring holds a phase
        if not any(cells[r][b] for r in range(n_rings)):
            cells[draw(st.integers(0, n_rings - 1))][b] = 1
    for r in range(n_rings):
        if not any(cells[r]):
            cells[r][draw(st.integers(0, n_sides - 1))] = 1
    rings, phases, where = [], [], []  # where[g] = (ring, side)
    for r in range(n_rings):
        ring = []
        for b in range(n_sides):
            grp = []
            for _ in range(cells[r][b]):
                gs = []
                for _ in range(draw(st.integers(1, 2))):
                    gs.append(len(where))
                    where.append((r, b))
                if grp and draw(st.integers(0, 3)) == 0:
                    gs.append(phases[grp[-1]][0])  # overlap with the previous phase
                grp.append(len(phases))
                phases.append(sorted(gs))
            ring.append(grp)
        rings.append(ring)
    n = len(where)
    shared = {g for p in phases for g in p if sum(g in q for q in phases) > 1}
    conflicts = []
    for i in range(n):
        for j in range(i + 1, n):
            (ri, bi), (rj, bj) = where[i], where[j]
            if bi == bj and ri != rj:
                continue  # concurrent: never a conflict
            if bi != bj and (draw(st.integers(0, 3)) or i in shared or j in shared):
                conflicts.append([i, j])  # across the barrier: mostly conflicting
            elif bi == bj and not any(i in p and j in p for p in phases) and draw(st.booleans()):
                conflicts.append([i, j])
    timing = []
    for _ in phases:
        mn = draw(st.integers(1000, 4000))
        timing.append([mn, draw(st.integers(mn, mn + 8000)), draw(st.integers(0, 3000)),
                       draw(st.integers(3000, 4000)), draw(st.integers(0, 1500))])  # fmt: skip
    d = {
        "v": 1,
        "id": "rings",
        "groups": ["g" + str(i) for i in range(n)],
        "ped": [0] * n,
        "conflicts": conflicts,
        "phases": phases,
        "timing": timing,
        "detectors": [[p] for p in range(len(phases))],
        "startup_flash": draw(st.integers(0, 3000)),
        "startup_all_red": max(t[4] for t in timing) + draw(st.integers(0, 1000)),
        "rings": rings,
    }
    if draw(st.booleans()):
        d["recall"] = [draw(st.sampled_from((0, 0, 1, 2))) for _ in phases]
    return d


def _header(d, cfg):
    names = d["groups"]
    return {
        "type": "header",
        "intersection": d["id"],
        "groups": names,
        "conflicts": [sorted(p) for p in d["conflicts"]],
        "min_green": {g: cfg.g_min_green[i] / 1000 for i, g in enumerate(names)},
        "yellow": {g: cfg.g_yellow[i] / 1000 for i, g in enumerate(names)},
        "all_red": {g: cfg.g_all_red[i] / 1000 for i, g in enumerate(names)},
    }


class RingCheck:
    """From the config alone: the barrier (groups of two barrier groups never G/g/y together)
    and service (a phase with demand is green, all its groups G, within the bound)."""

    def __init__(self, d, bound, slack):
        self.side = {}
        for ring in d["rings"]:
            for b, grp in enumerate(ring):
                for p in grp:
                    for g in d["phases"][p]:
                        self.side.setdefault(g, set()).add(b)
        self.vehicle = [[g for g in ph if not d["ped"][g]] for ph in d["phases"]]
        self.bound = bound + slack
        self.pending = {}

    def heads(self, t, s):
        shown = set()
        for g, sides in self.side.items():
            if s[g] in "Ggy" and len(sides) == 1:
                shown |= sides
        assert len(shown) <= 1, ("two barrier groups at once", t, s)

    def served(self, t, s, demand, counting):
        for p, gs in enumerate(self.vehicle):
            if gs and all(s[g] == "G" for g in gs):
                self.pending.pop(p, None)
            elif demand >> p & 1 and p not in self.pending:
                self.pending[p] = t
        if counting is not None:
            for p, since in self.pending.items():
                waited = t - max(since, counting)
                assert waited <= self.bound, ("starved", p, waited, self.bound)


def _run(
    d, seed, toggle, req_rate, pre_rate, header=None, ix=None, debounce=0, before_wrap=0,
    plan_rate=0.0,
):  # fmt: skip
    rnd = random.Random(seed)
    cfg = config.load(d)
    n_ph = cfg.n_phases
    if plan_rate:
        cfg.plans = list(cfg.max_green)  # plan 0, the base, as config.load keeps it
    t0 = ticks.PERIOD - before_wrap
    det = Detectors(cfg.n_detectors, debounce, diag=cfg.det_diag, fail_none=cfg.fail_none)
    seq = Sequencer(cfg, t0)
    assert type(seq).__name__ == "RingSequencer"
    mon = Monitor(cfg, t0, seq.signals)
    oracle = SafetyOracle(header or _header(d, cfg))
    oracle.feed(0.0, bytes(seq.signals).decode())
    peds = PedCheck(ix) if ix is not None else None
    bound = seq.call_bound
    slack = 4 * (n_ph + 2) * MAX_GAP + debounce  # each transition may happen a tick late
    check = RingCheck(d, bound, slack)
    end = d["startup_flash"] + d["startup_all_red"] + 3 * (bound + slack)
    quiet = end - 2 * (bound + slack)  # no more preemption from here
    dp = cfg.det_phases
    veh_sel = ~(cfg.ped_dets | cfg.pre_dets)
    pre_inputs = [i for i in range(cfg.n_detectors) if cfg.pre_dets >> i & 1]
    other = [i for i in range(cfg.n_detectors) if not (cfg.pre_dets | cfg.ped_dets) >> i & 1]
    buttons = [i for i in range(cfg.n_detectors) if cfg.ped_dets >> i & 1]
    levels = 0
    pre_cmd = False
    first_green = pre_since = pre_end = None
    rel = 0
    while rel < end:
        rel += rnd.randint(1, MAX_GAP)
        now = ticks.add(t0, rel)
        if other and rnd.random() < toggle:
            levels ^= 1 << rnd.choice(other)
        if buttons and rnd.random() < 0.02:
            levels ^= 1 << rnd.choice(buttons)
        if pre_inputs and rnd.random() < pre_rate and rel < quiet:
            levels ^= 1 << rnd.choice(pre_inputs)
        if rel >= quiet:
            for i in pre_inputs:
                levels &= ~(1 << i)
        pre_now = 0
        if rnd.random() < req_rate:
            code, arg = _hostile(rnd, n_ph)
            result, reason = seq.request(code, arg, now)
            assert result in (0, 1, 2) and isinstance(reason, str)
            if code == PREEMPT and rnd.random() < 0.9:
                seq.request(PREEMPT, 255, now)
        if pre_rate and rnd.random() < pre_rate / 3 and rel < quiet and not pre_cmd:
            pre_now = 1 << rnd.randrange(n_ph)  # a preempt input that calls a random phase
        if rel >= quiet and seq.pre_cmd:
            seq.request(PREEMPT, 255, now)
        if plan_rate and rnd.random() < plan_rate:
            random_plan(rnd, cfg)  # as the controller's PLAN, at any moment of any state
        det.sample(now, levels)
        calls, ped = det.calls(dp, veh_sel), det.calls(dp, cfg.ped_dets)
        pre = det.calls(dp, cfg.pre_dets) | pre_now
        changed = seq.step(now, calls, ped, pre)
        heads = bytes(seq.signals).decode()
        if changed:
            found = oracle.feed(rel / 1000, heads)
            assert not found, [str(v) for v in found]
            check.heads(rel, heads)
            if peds:
                peds.feed(rel / 1000, heads)
        assert mon.check(now, seq.signals) == 0, mon.fault_detail
        if seq.pre:
            pre_since = pre_since if pre_since is not None else rel
        elif pre_since is not None:
            pre_since, pre_end = None, rel
        if first_green is None and "G" in heads:
            first_green = rel
        counting = None
        if first_green is not None and pre_since is None:
            counting = max(first_green, pre_end or 0)
        check.served(rel, heads, calls | ped, counting)
    assert first_green is not None
    assert oracle.violations == []


@SETTINGS
@given(
    d=ring_configs(),
    seed=st.integers(0, 2**32 - 1),
    toggle=st.sampled_from((0.01, 0.05, 0.3)),
    req_rate=st.sampled_from((0.0, 0.02, 0.3)),
    pre_rate=st.sampled_from((0.0, 0.0, 0.01)),
    before_wrap=st.integers(0, 10000),
    plan_rate=st.sampled_from((0.0, 0.0, 0.005, 0.05)),
)
def test_random_ring_configs_traces_and_requests_are_safe_keep_the_barrier_and_serve(
    d, seed, toggle, req_rate, pre_rate, before_wrap, plan_rate
):
    _run(d, seed, toggle, req_rate, pre_rate, before_wrap=before_wrap, plan_rate=plan_rate)


@st.composite
def nema8s(draw):
    """The NEMA 8-phase factory with random timings, recalls, walks, preemption, diagnostics,
    and random orders inside each ring's barrier groups (lead/lag lefts)."""
    ix = factories.nema8(peds=draw(st.booleans()), preempt=draw(st.booleans()))
    s = st.integers
    phases = []
    for ph in ix.phases:
        mn = draw(s(1, 8))
        yellow = draw(s(30, 50)) / 10
        kw = dict(min_green_s=float(mn), max_green_s=float(mn + draw(s(0, 30))),
                  passage_s=draw(s(1, 40)) / 10, yellow_s=yellow, all_red_s=draw(s(1, 25)) / 10,
                  recall=draw(st.sampled_from(("none", "none", "min", "max"))))  # fmt: skip
        if ph.walk_s:
            walk, clear = float(draw(s(1, 10))), max(yellow, float(draw(s(3, 15))))
            kw.update(walk_s=walk, ped_clear_s=clear)
            kw["max_green_s"] = max(kw["max_green_s"], max(walk, mn) + clear)
            if draw(st.booleans()):
                kw["recall"] = "pedestrian"
        phases.append(replace(ph, **kw))
    dets = []
    for det in ix.detectors:
        on = draw(st.booleans())
        dets.append(replace(
            det,
            no_activity_s=float(draw(s(5, 60))) if on else 0.0,
            max_presence_s=float(draw(s(5, 60))) if on else 0.0,
            erratic_per_min=draw(s(5, 100)) if on else 0,
            fail_action=draw(st.sampled_from(("call", "none"))),
        ))  # fmt: skip
    rings = tuple(tuple(tuple(draw(st.permutations(g))) for g in ring) for ring in ix.rings)
    return replace(ix, phases=tuple(phases), detectors=tuple(dets), rings=rings)


@SETTINGS
@given(
    ix=nema8s(),
    seed=st.integers(0, 2**32 - 1),
    toggle=st.sampled_from((0.01, 0.05, 0.3)),
    req_rate=st.sampled_from((0.0, 0.02, 0.3)),
    pre_rate=st.sampled_from((0.0, 0.003, 0.03)),
    debounce=st.sampled_from((0, 50)),
    before_wrap=st.integers(0, 10000),
)
def test_nema8_with_random_timings_peds_preemption_and_requests(
    ix, seed, toggle, req_rate, pre_rate, debounce, before_wrap
):
    _run(ix.to_compact(), seed, toggle, req_rate, pre_rate, ix.record_header(), ix, debounce,
         before_wrap)  # fmt: skip
