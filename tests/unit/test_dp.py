"""Differential privacy: OpenDP's noise has the promised spread, the differencing
attack it exists for is bounded by epsilon, and the budget stops repeated asking."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from cleanroom.coordinator.noise import privatise, sensitivity
from cleanroom.errors import ResourceExhausted

from inprocess import agree, coordinator, domains, run


def discrete_laplace_variance(scale: float) -> float:
    """Variance of the discrete Laplace with P(k) ~ exp(-|k|/scale), by its closed form."""
    q = math.exp(-1.0 / scale)
    return 2 * q / (1 - q) ** 2


def test_noise_is_unbiased_with_the_reported_spread():
    matrix, total, epsilon = [[400, 250], [300, 120]], 700, 1.0
    draws = [privatise(matrix, total, epsilon, 5000, 5000) for _ in range(3000)]
    scale = draws[0]["scale"]
    assert scale == pytest.approx(sensitivity(2, 2) / epsilon)  # 5 numbers, one company moves each by 1
    sd = math.sqrt(discrete_laplace_variance(scale))
    totals = [d["overlap"] for d in draws]
    cell = [d["matrix"][0][1] for d in draws]
    for values, truth in ((totals, total), (cell, 250)):
        assert abs(statistics.fmean(values) - truth) < 4 * sd / math.sqrt(len(values))
        assert statistics.pstdev(values) == pytest.approx(sd, rel=0.08)
    assert len({d["overlap"] for d in draws}) > 20  # really random


def test_post_processing_clamps_into_the_possible_range():
    for _ in range(200):
        out = privatise([[0, 1], [2, 0]], 3, 0.2, 10, 8)
        assert all(0 <= v <= 8 for row in out["matrix"] for v in row) and 0 <= out["overlap"] <= 8


def _attack(epsilon: float | None, trials: int, rng: random.Random) -> float:
    """The differencing attack: run once without the target, once with it; guess 'present' if the total grew."""
    wins = 0
    for _ in range(trials):
        present = rng.random() < 0.5
        base = 500
        exact = (base, base + present)
        released = exact if epsilon is None else tuple(privatise([[c]], c, epsilon, 5000, 5000)["overlap"] for c in exact)
        guess = released[1] - released[0] >= 1
        wins += guess == present
    return wins / trials


def test_exact_counts_let_a_partner_learn_membership():
    assert _attack(None, 200, random.Random(1)) == 1.0


def _attack_success_exactly(scale: float) -> float:
    """The attack's success rate, by closed form: with Z the difference of two
    independent discrete Laplace draws, it wins on a fair coin with probability
    (1 + P(Z = 0)) / 2, and P(Z = 0) = sum_k P(k)^2 = (1-q)(1+q^2)/(1+q)^3."""
    q = math.exp(-1.0 / scale)
    return (1 + (1 - q) * (1 + q * q) / (1 + q) ** 3) / 2


@pytest.mark.parametrize("epsilon", [0.25, 1.0])
def test_dp_bounds_the_differencing_attack(epsilon):
    trials = 8000
    rate = _attack(epsilon, trials, random.Random(2))
    expected = _attack_success_exactly(sensitivity(1, 1) / epsilon)
    # An epsilon-DP release lets any test tell "in" from "out" with success at
    # most e^eps / (1 + e^eps) on a fair coin (the second release is the only
    # one that depends on the target). The attack gains a little, as epsilon
    # allows, and the measured rate is that gain (a 4.5-sigma sampling margin:
    # the noise is OpenDP's, not seeded, so the margin is what keeps this exact).
    bound = math.exp(epsilon) / (1 + math.exp(epsilon))
    assert 0.5 < expected <= bound
    assert abs(rate - expected) < 4.5 * math.sqrt(expected * (1 - expected) / trials)


def test_budget_stops_repeated_releases_and_repeats_are_free(tmp_path):
    coord, _ = coordinator(tmp_path)
    agreement = agree(coord, min_set_size=5, min_count=1, dp_epsilon=0.5, dp_budget=1.0)
    agreement_id = agreement["agreement_id"]
    sets = {"vendor": domains("a", 40), "partner": domains("a", 25) + domains("b", 5)}
    first = run(coord, agreement, sets)
    r1 = coord.overlap("partner", agreement_id, first)
    assert r1["dp"] == {"epsilon_spent": 0.5, "budget": 1.0, "budget_remaining": 0.5}
    assert coord.overlap("partner", agreement_id, first) == r1  # stored: the same numbers, no cost
    second = run(coord, agreement, {**sets, "partner": sets["partner"] + ["target.example"]})
    coord.overlap("partner", agreement_id, second)
    third = run(coord, agreement, sets)
    with pytest.raises(ResourceExhausted, match="privacy budget exhausted"):
        coord.overlap("partner", agreement_id, third)
    # The vendor's budget is its own.
    assert coord.overlap("vendor", agreement_id, third)["dp"]["epsilon_spent"] == 0.5
    # The exact count never reached the store when DP is on.
    stored = coord.store.rows("SELECT body_json FROM results WHERE run_id = ?", [first])[0]["body_json"]
    assert '"dp"' in stored
