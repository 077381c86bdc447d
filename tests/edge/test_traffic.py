"""edge.traffic: seeded arrivals, queue discharge, detector pulses and delay."""

import math
from types import SimpleNamespace

import pytest

from edge.factories import cross
from edge.traffic import MIN_GAP_S, PULSE_S, TrafficModel


def one_lane(role_inputs=(("stop_bar", 0), ("advance", 1), ("count", 2))):
    """A one-group intersection stand-in with a detector per role."""
    group = SimpleNamespace(name="a", kind="vehicle", movement="thru")
    dets = [SimpleNamespace(input=i, calls=("a",), role=role) for role, i in role_inputs]
    return SimpleNamespace(groups=[group], detectors=dets)


def fixed_time(ix, green_s=15.0, yellow_s=4.0, all_red_s=2.0):
    """Signals of a fixed-time cycle through the intersection's phases, as a function of t."""
    names = [g.name for g in ix.groups]
    slot = green_s + yellow_s + all_red_s

    def signals(t):
        k, into = divmod(t, slot)
        phase = ix.phases[int(k) % len(ix.phases)]
        ch = "G" if into < green_s else "y" if into < green_s + yellow_s else "r"
        return "".join(ch if n in phase.groups else "r" for n in names)

    return signals


def run(model, duration_s, signals, dt_s=0.1, sample=None):
    """Step every dt_s up to duration_s; call sample(t, model) after each step."""
    n = round(duration_s / dt_s)
    for k in range(n + 1):
        t = k * dt_s
        model.step(t, signals(t) if callable(signals) else signals)
        if sample:
            sample(t, model)


def rising_edges(ix, model, duration_s, signals):
    """Rising edges per detector input, sampling every 0.1 s."""
    edges = {d.input: 0 for d in ix.detectors}
    prev = [0]

    def sample(t, m):
        levels = m.detector_levels()
        for bit in edges:
            if levels >> bit & 1 and not prev[0] >> bit & 1:
                edges[bit] += 1
        prev[0] = levels

    run(model, duration_s, signals, sample=sample)
    return edges


def conserved(model):
    s = model.stats()
    for name, g in s["groups"].items():
        assert g["arrived"] == g["served"] + g["queue"] + g["in_transit"], name
    return s


def test_same_seed_same_results_and_seed_matters():
    ix = cross()
    signals = fixed_time(ix)

    def trace(seed):
        levels = []
        model = TrafficModel(ix, seed=seed)
        run(model, 600, signals, sample=lambda t, m: levels.append(m.detector_levels()))
        return model.stats(), levels

    first, again, other = trace(7), trace(7), trace(8)
    assert first == again
    assert first[0]["arrived"] > 0 and first[0]["served"] > 0
    assert other != first


def test_default_rates_are_seeded_and_moderate():
    ix = cross()
    rates = TrafficModel(ix, seed=3).rates_vph
    assert rates == TrafficModel(ix, seed=3).rates_vph
    assert rates != TrafficModel(ix, seed=4).rates_vph
    for g in ix.groups:
        low, high = (60, 150) if g.movement == "left" else (150, 500)
        assert low <= rates[g.name] <= high, g.name
    assert TrafficModel(ix, seed=3, scale=2.0).rates_vph == {n: 2 * r for n, r in rates.items()}


def test_slicing_time_does_not_change_results_under_constant_signals():
    ix = cross()
    green = "G" * len(ix.groups)
    fine = TrafficModel(ix, seed=5)
    run(fine, 1800, green, dt_s=0.1)
    coarse = TrafficModel(ix, seed=5)
    run(coarse, 1800, green, dt_s=7.5)
    jump = TrafficModel(ix, seed=5)
    jump.step(0.0, green)
    jump.step(1800.0, green)
    assert fine.stats() == coarse.stats() == jump.stats()


@pytest.mark.parametrize("kwargs", [{"rates_vph": {}}, {"scale": 0.0}])
def test_zero_demand_gives_no_pulses_and_no_queues(kwargs):
    ix = cross()
    model = TrafficModel(ix, seed=1, **kwargs)
    seen = []
    run(model, 600, fixed_time(ix), sample=lambda t, m: seen.append(m.detector_levels()))
    assert set(seen) == {0}
    assert set(model.queues().values()) == {0}
    assert (model.arrived, model.served, model.mean_delay_s) == (0, 0, 0.0)


def test_all_red_forever_queues_grow_and_waiting_delay_is_counted():
    ix = cross()
    model = TrafficModel(ix, seed=2)
    red = "r" * len(ix.groups)
    stop_bar = {d.calls[0]: d.input for d in ix.detectors if d.role == "stop_bar"}
    queued_at = {}

    def sample(t, m):
        if t in (300.0, 900.0):
            queued_at[t] = sum(m.queues().values())
        levels = m.detector_levels()
        for name, q in m.queues().items():
            # Presence: a waiting vehicle holds its stop-bar detector high on red.
            assert bool(levels >> stop_bar[name] & 1) == (q > 0), (t, name)

    run(model, 900, red, sample=sample)
    assert 0 < queued_at[300.0] < queued_at[900.0]
    s = conserved(model)
    assert (s["served"], s["total_delay_s"], s["mean_delay_s"]) == (0, 0.0, 0.0)
    assert s["max_queue"] == max(model.queues().values())
    waiting = model.waiting_delay_s(900.0)
    queued = s["queued"]
    # Every queued vehicle reached the stop bar after travel_s, so waited less than 900 - 6 s.
    assert 0 < waiting < queued * (900.0 - 6.0)
    assert model.waiting_delay_s(960.0) == pytest.approx(waiting + 60.0 * queued)


def test_green_forever_serves_all_but_those_in_transit():
    ix = cross()
    model = TrafficModel(ix, seed=4)
    run(model, 3600, "G" * len(ix.groups), dt_s=0.5)
    s = conserved(model)
    # Arrivals are at least 1 s apart and discharge needs 2 s, so short queues can form.
    assert s["queued"] <= len(ix.groups)
    assert s["in_transit"] <= len(ix.groups) * (6.0 / MIN_GAP_S + 1)
    assert s["served"] >= s["arrived"] - s["in_transit"] - len(ix.groups)
    assert s["served"] > 1000
    assert s["mean_delay_s"] < 2.0


def test_rising_edges_count_arrivals_and_departures():
    ix = cross()
    model = TrafficModel(ix, seed=9)
    cycle = fixed_time(ix)
    all_green = "G" * len(ix.groups)
    # The final all-green lets every vehicle that held a stop-bar loop on red leave.
    edges = rising_edges(ix, model, 1260, lambda t: cycle(t) if t < 1200 else all_green)
    s = conserved(model)
    for d in ix.detectors:
        g = s["groups"][d.calls[0]]
        expected = g["arrived"] if d.role == "advance" else g["served"]
        assert edges[d.input] == expected, (d.name, edges[d.input], expected)
    assert s["served"] > 200 and s["max_queue"] > 3


def test_count_detector_pulses_on_departures_only():
    ix = one_lane()
    model = TrafficModel(ix, {"a": 600}, seed=1)
    edges = rising_edges(ix, model, 900, lambda t: "r" if t < 300 else "G" if t < 840 else "r")
    assert edges[2] == model.served > 0
    assert edges[1] == model.arrived
    # Vehicles waiting at the end hold the stop-bar loop: one more edge than departures.
    assert edges[0] == model.served + 1 and model.queues()["a"] > 0


def test_saturated_discharge_timing_and_yellow():
    ix = one_lane()
    headway, lost = 2.0, 2.0
    model = TrafficModel(ix, {"a": 1700}, seed=1, sat_headway_s=headway, lost_time_s=lost)
    green_at, yellow_at, red_at = 120.0, 181.5, 185.5
    served = {}

    def signals(t):
        return "r" if t <= green_at else "G" if t <= yellow_at else "y" if t <= red_at else "r"

    def sample(t, m):
        served[t] = m.served

    run(model, 300, signals, sample=sample)
    times = sorted(served)
    # Never more than one departure per headway, in any window.
    for i, t in enumerate(times):
        later = times[min(i + 100, len(times) - 1)]  # a 10 s window
        assert served[later] - served[t] <= math.floor((later - t) / headway) + 1
    # The queue is long, so discharge is saturated: departures at green + lost + k * headway.
    in_green = math.floor((yellow_at - green_at - lost) / headway) + 1
    assert served[yellow_at] == in_green
    # Yellow starts at 181.5: the departure due at 182 is in its first 2 s; the one due at 184
    # is not, and none goes on red.
    assert green_at + lost + in_green * headway < yellow_at + 2.0
    assert green_at + lost + (in_green + 1) * headway > yellow_at + 2.0
    assert served[red_at] == in_green + 1
    assert served[300.0] == served[red_at]
    assert model.queues()["a"] > 0


def test_held_vehicle_stays_one_pulse_until_it_leaves():
    ix = one_lane()
    model = TrafficModel(ix, {"a": 300}, seed=3)
    levels = []

    def signals(t):
        return "r" if t < 60 else "G"

    run(model, 120, signals, sample=lambda t, m: levels.append((t, m.detector_levels() & 1)))
    # At the green onset the head vehicle is still on the loop; it leaves after the lost time.
    at = dict(levels)
    assert model.stats()["groups"]["a"]["max_queue"] > 0
    assert at[60.0] == 1 and at[60.0 + 2.0] == 1
    assert at[60.0 + 2.0 + PULSE_S + 0.1] == 0


@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"rates_vph": {"nope": 100}}, "'nope'"),
        ({"rates_vph": {"n_thru": -1}}, "-1"),
        ({"rates_vph": {"n_thru": 3600}}, "3600"),
        ({"rates_vph": {"n_thru": 2000}, "scale": 2.0}, "4000"),
        ({"sat_headway_s": 0.5}, "0.5"),
        ({"travel_s": float("nan")}, "nan"),
        ({"scale": -1}, "-1"),
    ],
)
def test_bad_parameters_name_the_value(kwargs, names):
    with pytest.raises(ValueError) as err:
        TrafficModel(cross(), **kwargs)
    assert names in str(err.value)


def test_bad_steps_name_the_value():
    model = TrafficModel(cross())
    with pytest.raises(ValueError, match="'GG'"):
        model.step(0.0, "GG")
    with pytest.raises(ValueError, match="'X'"):
        model.step(0.0, "GGrrrrrX")
    model.step(5.0, "r" * 8)
    with pytest.raises(ValueError, match="4.0"):
        model.step(4.0, "r" * 8)
