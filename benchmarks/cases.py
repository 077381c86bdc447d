"""Benchmark inputs: realistic demand on canonical intersection shapes, from a seed."""

import math
import random

from edge.optimizer import flow_cluster, phase_clusters, phase_timing

HORIZON_S = 120.0

# (left-turn stage?, flow veh/h, saturation headway s/veh) per phase of each shape
SHAPES = {
    # 8 NEMA-style stages: protected lefts (1 lane) and throughs (2 lanes) per approach pair.
    "8-phase": [(True, 180), (False, 750), (True, 140), (False, 650)] * 2,
    "4-phase": [(True, 160), (False, 700), (True, 120), (False, 600)],
    "3-phase": [(False, 650), (True, 150), (False, 350)],
    "2-phase": [(False, 700), (False, 500)],
}


def timing_for(shape):
    """Timing bounds of a shape: lefts 5-20 s green, throughs 7-40 s, 2 s start-up lost."""
    lefts = [left for left, _ in SHAPES[shape]]
    return phase_timing(
        min_green_s=[5.0 if left else 7.0 for left in lefts],
        max_green_s=[20.0 if left else 40.0 for left in lefts],
        yellow_s=[3.5 if left else 4.0 for left in lefts],
        all_red_s=[1.5 if left else 2.0 for left in lefts],
        startup_lost_s=2.0,
        sat_headway_s=[2.0 if left else 1.0 for left in lefts],
    )


def _poisson(rng, mean):
    # Knuth's method: means here are small.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def demand(shape, rng, level=1.0):
    """Clusters per phase as the gateway would build them from detector data.

    A stop-bar queue from the last red, vehicles seen by the advance detectors (next 8 s),
    for through stages one or two platoons announced by the upstream neighbour, and the
    remaining horizon at the recent average flow. `level` scales every flow.
    """
    out = []
    for left, flow in SHAPES[shape]:
        flow *= level * rng.uniform(0.7, 1.3)
        headway = 2.0 if left else 1.0
        if flow <= 0:
            out.append([])
            continue
        queue = _poisson(rng, flow * rng.uniform(10, 60) / 3600.0)
        seen, t = [], rng.expovariate(flow / 3600.0)
        while t < 8.0:
            seen.append(t)
            t += rng.expovariate(flow / 3600.0)
        clusters = phase_clusters(queue, seen, sat_headway_s=headway)
        background = flow
        if not left:
            for _ in range(rng.randint(1, 2)):
                size = rng.randint(6, 16)
                clusters.append((rng.uniform(15, 90), size * rng.uniform(1.2, 2.0), float(size)))
            background *= 0.4  # most through traffic comes in platoons
        clusters += flow_cluster(background, 8.0, HORIZON_S)
        out.append(clusters)
    return out


def problems(shape, n, seed, level=1.0):
    """n (clusters, timing, current, elapsed_s) problems of one shape."""
    rng = random.Random(seed)
    timing = timing_for(shape)
    n_ph = timing.n_phases
    return [
        (demand(shape, rng, level), timing, rng.randrange(n_ph), rng.choice([3.0, 8.0, 15.0, 30.0]))
        for _ in range(n)
    ]


def city(n, seed):
    """A city batch: 40 % 2-phase, 20 % 3-phase, 30 % 4-phase, 10 % 8-phase intersections."""
    rng = random.Random(seed)
    mix = ["2-phase"] * 4 + ["3-phase"] * 2 + ["4-phase"] * 3 + ["8-phase"]
    return [problems(rng.choice(mix), 1, rng.randrange(1 << 30))[0] for _ in range(n)]


def queues_for(shape, rng, level=1.0):
    """Per-group queue estimates for max-pressure: two groups per phase."""
    return [
        float(_poisson(rng, 2 * flow * level / 120.0)) for _, flow in SHAPES[shape] for _ in "ab"
    ]
