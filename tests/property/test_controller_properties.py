"""Property tests (CPython only) of the firmware's detectors + sequencer on the canonical
intersections of edge.factories with random timings, recalls, pedestrian timing, preemption and
detector diagnostics; random detector traces and hostile gateway requests. Every change of the
heads goes to the rig's independent oracle (edge.safety), and every phase with demand must be
served within the max cycle (counted from the end of any preemption)."""

import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import factories
from edge.safety import SafetyOracle
from firmware import config, ticks
from firmware.detectors import Detectors
from firmware.monitor import Monitor
from firmware.sequencer import GREEN, PREEMPT, Sequencer

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_GAP = 200  # ms between control ticks, at most
# pedestrians and preemption weigh more: they have the most ways to go wrong
BASES = ("cross", "cross_peds", "cross_peds", "cross_preempt", "cross_preempt", "tee", "corridor1",
         "corridor2")  # fmt: skip


def _base(name):
    if name.startswith("cross"):
        return factories.cross(peds=name != "cross", preempt=name == "cross_preempt")
    if name == "tee":
        return factories.tee()
    return factories.corridor(2)[int(name[-1]) - 1]


@st.composite
def intersections(draw):
    """A factory intersection with random NTCIP timings, recalls, walks and diagnostics."""
    ix = _base(draw(st.sampled_from(BASES)))
    kinds = {g.name: g.kind for g in ix.groups}
    s = st.integers
    phases = []
    for ph in ix.phases:
        mn = draw(s(1, 8))
        yellow = draw(s(30, 50)) / 10
        kw = dict(min_green_s=float(mn), max_green_s=float(mn + draw(s(0, 30))),
                  passage_s=draw(s(1, 40)) / 10, yellow_s=yellow, all_red_s=draw(s(1, 25)) / 10,
                  recall=draw(st.sampled_from(("none", "none", "min", "max"))),
                  walk_s=0.0, ped_clear_s=0.0)  # fmt: skip
        if any(kinds[g] == "pedestrian" for g in ph.groups) and draw(s(0, 3)):
            walk = float(draw(s(1, 10)))
            clear = max(yellow, float(draw(s(3, 15))))
            kw.update(walk_s=walk, ped_clear_s=clear)
            kw["max_green_s"] = max(kw["max_green_s"], max(walk, mn) + clear)
            if draw(st.booleans()):
                kw["recall"] = "pedestrian"
        phases.append(replace(ph, **kw))
    dets = []
    for d in ix.detectors:
        on = draw(st.booleans())
        dets.append(replace(
            d,
            no_activity_s=float(draw(s(5, 60))) if on else 0.0,
            max_presence_s=float(draw(s(5, 60))) if on else 0.0,
            erratic_per_min=draw(s(5, 100)) if on else 0,
            fail_action=draw(st.sampled_from(("call", "none"))),
        ))  # fmt: skip
    return replace(ix, phases=tuple(phases), detectors=tuple(dets))


class PedCheck:
    """The pedestrian rule, from the model alone: walk (G) lasts at least walk_s, clearance (y)
    at least ped_clear_s, and a clearance never overlaps its phase's vehicle yellow."""

    def __init__(self, ix):
        names = [g.name for g in ix.groups]
        self.walk = {}
        self.clear = {}
        self.pairs = []  # (ped group indices, vehicle group indices) per phase with a walk
        for ph in ix.phases:
            idx = [names.index(g) for g in ph.groups]
            peds = [i for i in idx if ix.groups[i].kind == "pedestrian"]
            if not ph.walk_s:
                for i in peds:
                    self.walk[i] = self.clear[i] = 0.0  # a walk-less phase: a plain yellow
                continue
            self.pairs.append((peds, [i for i in idx if i not in peds]))
            for i in peds:
                self.walk[i] = min(self.walk.get(i, 1e9), max(ph.walk_s, ph.min_green_s))
                self.clear[i] = min(self.clear.get(i, 1e9), ph.ped_clear_s)
        self.last = None
        self.since = {}

    def feed(self, t, s):
        for peds, veh in self.pairs:
            if any(s[i] == "y" for i in peds):
                assert not any(s[i] == "y" for i in veh), ("ped clearance in the yellow", t, s)
        for i in self.walk:
            old = self.last[i] if self.last else None
            if old == s[i]:
                continue
            lasted = t - self.since.get(i, t)
            if old == "G" and s[i] == "y":
                assert lasted >= self.walk[i] - 0.0005, ("short walk", i, lasted, t, s)
            if old == "y" and s[i] == "r":
                assert lasted >= self.clear[i] - 0.0005, ("short ped clearance", i, lasted, t, s)
            self.since[i] = t
        self.last = s


def _hostile(rnd, n_ph):
    code = rnd.choice((1, 2, 2, 3, 4, 5, 5, 6, 0, 7, 255))
    arg = rnd.choice((rnd.randrange(n_ph), rnd.randrange(n_ph), 255, -1, n_ph, "x"))
    return code, arg


@SETTINGS
@given(
    ix=intersections(),
    seed=st.integers(0, 2**32 - 1),
    toggle=st.sampled_from((0.01, 0.05, 0.3)),
    req_rate=st.sampled_from((0.0, 0.02, 0.3)),
    pre_rate=st.sampled_from((0.0, 0.003, 0.03)),
    debounce=st.sampled_from((0, 50)),
    before_wrap=st.integers(0, 10000),
)
def test_random_intersections_traces_and_requests_stay_safe_and_serve_every_call(
    ix, seed, toggle, req_rate, pre_rate, debounce, before_wrap
):
    rnd = random.Random(seed)
    d = ix.to_compact()
    cfg = config.load(d)
    n_ph = cfg.n_phases
    t0 = ticks.PERIOD - before_wrap
    det = Detectors(cfg.n_detectors, debounce, diag=cfg.det_diag, fail_none=cfg.fail_none)
    seq = Sequencer(cfg, t0)
    mon = Monitor(cfg, t0, seq.signals)
    oracle = SafetyOracle(ix.record_header())
    oracle.feed(0.0, bytes(seq.signals).decode())
    peds = PedCheck(ix)
    dp = cfg.det_phases
    veh_sel = ~(cfg.ped_dets | cfg.pre_dets)
    bound = seq.call_bound
    slack = 3 * (n_ph + 2) * MAX_GAP + debounce  # each transition may happen a tick late
    end = d["startup_flash"] + d["startup_all_red"] + 3 * (bound + slack)
    levels = 0
    pre_inputs = [i for i in range(cfg.n_detectors) if cfg.pre_dets >> i & 1]
    other = [i for i in range(cfg.n_detectors) if not (cfg.pre_dets | cfg.ped_dets) >> i & 1]
    buttons = [i for i in range(cfg.n_detectors) if cfg.ped_dets >> i & 1]
    pending = {}  # phase -> when its call started waiting
    first_green = pre_end = None
    pre_since = None
    rel = 0
    while rel < end:
        rel += rnd.randint(1, MAX_GAP)
        now = ticks.add(t0, rel)
        if other and rnd.random() < toggle:
            levels ^= 1 << rnd.choice(other)
        if buttons and rnd.random() < 0.02:
            levels ^= 1 << rnd.choice(buttons)
        if pre_inputs and rnd.random() < pre_rate and rel < end - 2 * (bound + slack):
            levels ^= 1 << rnd.choice(pre_inputs)  # preempt calls come and go, but stop in time
        if rel >= end - 2 * (bound + slack):
            for i in pre_inputs:
                levels &= ~(1 << i)
        if rnd.random() < req_rate:
            code, arg = _hostile(rnd, n_ph)
            result, reason = seq.request(code, arg, now)
            assert result in (0, 1, 2) and isinstance(reason, str)
            if code == PREEMPT and rnd.random() < 0.9:
                seq.request(PREEMPT, 255, now)  # a command preempt, mostly short
        if rel >= end - 2 * (bound + slack) and seq.pre_cmd:
            seq.request(PREEMPT, 255, now)
        det.sample(now, levels)
        calls, ped = det.calls(dp, veh_sel), det.calls(dp, cfg.ped_dets)
        if seq.step(now, calls, ped, det.calls(dp, cfg.pre_dets)):
            heads = bytes(seq.signals).decode()
            found = oracle.feed(rel / 1000, heads)
            assert not found, [str(v) for v in found]
            peds.feed(rel / 1000, heads)
        assert mon.check(now, seq.signals) == 0, mon.fault_detail
        if seq.pre:
            pre_since = pre_since if pre_since is not None else rel
            pre_end = None
        elif pre_since is not None:
            pre_since = None
            pre_end = rel
        green = seq.phase if seq.state == GREEN else -1
        if green >= 0 and first_green is None:
            first_green = rel
        pending.pop(green, None)
        demand = calls | ped
        for p in range(n_ph):
            if demand >> p & 1 and p != green and p not in pending:
                pending[p] = rel
        if first_green is not None and pre_since is None:
            start = max(first_green, pre_end or 0)
            for p, since in pending.items():
                waited = rel - max(since, start)
                assert waited <= bound + slack, ("starved", p, waited, bound)
    assert first_green is not None
    assert oracle.violations == []
