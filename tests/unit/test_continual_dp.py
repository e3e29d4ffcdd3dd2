"""The binary-tree counter for continual releases: its dyadic bookkeeping, its
noise (stored once per node, with the spread the closed form says), what it
costs, and the 30-epoch differencing attack it exists for.

OpenDP's noise cannot be seeded, so every statistical check compares with a
closed-form expectation and allows 4.5 standard deviations, that standard
deviation also from a closed form (a failure rate near 7e-6 per check)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import opendp.prelude as dp
import pytest

from cleanroom.coordinator.continual import (
    continual_privatise,
    levels,
    loss_after,
    node_scale,
    prefix_nodes,
)
from cleanroom.coordinator.noise import scale_for, sensitivity
from cleanroom.errors import FailedPrecondition, InvalidArgument

dp.enable_features("contrib")

SIGMAS = 4.5
BIG = 10**9  # account counts so large the clamp never bites


# Independent ground truth: the dyadic intervals and the discrete Laplace, from their definitions.


def node_interval(node: tuple[int, int]) -> tuple[int, int]:
    level, index = node
    return index * 2**level + 1, (index + 1) * 2**level


def greedy_partition(t: int) -> list[tuple[int, int]]:
    """[1, t] cut left to right into the largest aligned power-of-two blocks that fit."""
    blocks, start = [], 1
    while start <= t:
        size = 1
        while (start - 1) % (2 * size) == 0 and start + 2 * size - 1 <= t:
            size *= 2
        blocks.append((start, start + size - 1))
        start += size
    return blocks


@lru_cache(maxsize=64)  # the attack's closed form asks for the same few sums many times
def dl_pmf(scale: float, m: int = 1) -> tuple[np.ndarray, int]:
    """P(k) of the sum of m iid discrete Laplace (P(k) ~ exp(-|k|/scale)) on -K..K, and K."""
    half = int(60 * scale) + 10  # the tail beyond is below e^-60
    k = np.arange(-half, half + 1)
    q = math.exp(-1.0 / scale)
    one = (1 - q) / (1 + q) * q ** np.abs(k)
    pmf, width = one, half
    for _ in range(m - 1):
        pmf, width = np.convolve(pmf, one), width + half
    return pmf, width


def dl_variance(scale: float) -> float:
    q = math.exp(-1.0 / scale)
    return 2 * q / (1 - q) ** 2


def dl_fourth_cumulant(scale: float) -> float:
    """The difference of two iid geometrics: twice a geometric's fourth cumulant q(1+4q+q^2)/(1-q)^4."""
    q = math.exp(-1.0 / scale)
    return 2 * q * (1 + 4 * q + q * q) / (1 - q) ** 4


def test_the_closed_forms_match_the_distribution():
    for scale in (0.7, 3.0, 12.0):
        pmf, half = dl_pmf(scale)
        k = np.arange(-half, half + 1)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
        var = float((pmf * k**2).sum())
        assert var == pytest.approx(dl_variance(scale), rel=1e-9)
        assert float((pmf * k**4).sum()) - 3 * var**2 == pytest.approx(dl_fourth_cumulant(scale), rel=1e-9)


# The dyadic bookkeeping.


def test_prefix_nodes_partition_every_prefix_exactly():
    for t in range(1, 1001):
        intervals = [node_interval(n) for n in prefix_nodes(t)]
        assert intervals == greedy_partition(t), t
        covered = [e for first, last in intervals for e in range(first, last + 1)]
        assert covered == list(range(1, t + 1))  # disjoint, in order, nothing missing
        assert len(intervals) == bin(t).count("1")


@pytest.mark.parametrize("horizon", [1, 2, 3, 7, 8, 30, 31, 32, 33, 100, 1000])
def test_every_epoch_lies_in_at_most_levels_nodes_of_the_tree(horizon):
    assert levels(horizon) == math.floor(math.log2(horizon)) + 1
    tree = {node for t in range(1, horizon + 1) for node in prefix_nodes(t)}
    assert all(len(prefix_nodes(t)) <= levels(horizon) for t in range(1, horizon + 1))
    depth = [sum(first <= e <= last for first, last in map(node_interval, tree)) for e in range(1, horizon + 1)]
    assert max(depth) == levels(horizon)  # at most L, and L is not wasted: epoch 1 is in L nodes


def stream(epochs: int, horizon: int, exact_at, epsilon: float = 1.0, stored=None):
    stored = {} if stored is None else stored
    releases = []
    for t in range(1, epochs + 1):
        matrix, total = exact_at(t)
        release = continual_privatise(matrix, total, t, epsilon, horizon, BIG, BIG, stored)
        assert not set(release.new_nodes) & set(stored)
        stored.update(release.new_nodes)
        releases.append(release)
    return releases, stored


def exact_2x2(t: int) -> tuple[list[list[int]], int]:
    return [[10**6 + t, 10**6 + 3 * t], [10**6 - t, 10**6]], 10**6 + 7 * t


def released_minus_exact(release, t: int) -> list[int]:
    matrix, total = exact_2x2(t)
    flat = [v for row in release.matrix for v in row] + [release.overlap]
    return [a - b for a, b in zip(flat, [v for row in matrix for v in row] + [total], strict=True)]


def test_node_noise_is_drawn_once_and_reused():
    releases, stored = stream(40, 64, exact_2x2)
    for t, release in enumerate(releases, start=1):
        # Exactly one new node per epoch: the one ending at t, at the level of t's trailing zeros.
        [(node, noise)] = release.new_nodes.items()
        trailing = (t & -t).bit_length() - 1
        assert node_interval(node) == (t - 2**trailing + 1, t)
        assert len(noise) == 5
        # The release's noise is the stored noise of [1, t]'s nodes, nothing else.
        nodes = [n for n in stored if node_interval(n) in greedy_partition(t)]
        assert released_minus_exact(release, t) == [sum(stored[n][i] for n in nodes) for i in range(5)]
    for t in range(2, 41):
        # Consecutive releases differ by the exact change, the new node, minus the nodes it replaced.
        now, before = set(greedy_partition(t)), set(greedy_partition(t - 1))
        added = [n for n in stored if node_interval(n) in now - before]
        dropped = [n for n in stored if node_interval(n) in before - now]
        change = [
            a - b
            for a, b in zip(released_minus_exact(releases[t - 1], t), released_minus_exact(releases[t - 2], t - 1), strict=True)
        ]
        assert change == [sum(stored[n][i] for n in added) - sum(stored[n][i] for n in dropped) for i in range(5)]
    assert len({tuple(v) for v in stored.values()}) > 30  # really random, not one vector reused everywhere
    # Asking again for an epoch already released draws nothing and gives the same numbers.
    again = continual_privatise(*exact_2x2(29), 29, 1.0, 64, BIG, BIG, stored)
    assert again.new_nodes == {} and (again.matrix, again.overlap) == (releases[28].matrix, releases[28].overlap)


def test_a_release_with_nothing_stored_draws_every_node_of_its_prefix():
    release = continual_privatise(*exact_2x2(23), 23, 1.0, 30, BIG, BIG, {})
    assert sorted(map(node_interval, release.new_nodes)) == greedy_partition(23)


def test_refusals_say_what_to_do():
    with pytest.raises(FailedPrecondition, match=r"horizon of 30 epochs is spent.*propose a new agreement"):
        continual_privatise([[1]], 1, 31, 1.0, 30, 10, 10, {})
    with pytest.raises(FailedPrecondition, match="horizon of 30 epochs is spent"):
        loss_after(31, 1.0, 30)
    with pytest.raises(InvalidArgument, match="no epoch 0"):
        continual_privatise([[1]], 1, 0, 1.0, 30, 10, 10, {})
    with pytest.raises(InvalidArgument, match="horizon must be at least 1"):
        continual_privatise([[1]], 1, 1, 1.0, 0, 10, 10, {})
    with pytest.raises(InvalidArgument, match="epsilon must be a positive number"):
        continual_privatise([[1]], 1, 1, 0.0, 30, 10, 10, {})
    with pytest.raises(InvalidArgument, match="same number of cells"):
        continual_privatise([[1, 2], [3]], 1, 1, 1.0, 30, 10, 10, {})
    with pytest.raises(FailedPrecondition, match="matrix shape changed"):
        continual_privatise([[1, 2]], 3, 3, 1.0, 30, 10, 10, {(1, 0): [0, 0]})


# What it costs.


def test_loss_grows_with_the_levels_reached_and_ends_at_epsilon():
    expected = {0: 0.0, 1: 0.2, 2: 0.4, 3: 0.4, 4: 0.6, 7: 0.6, 8: 0.8, 15: 0.8, 16: 1.0, 30: 1.0}  # L = 5
    for t, loss in expected.items():
        assert loss_after(t, 1.0, 30) == pytest.approx(loss)
    assert loss_after(30, 0.3, 30) == 0.3  # exactly: the ledger's sum of charges meets the budget
    charges, spent = [], 0.0
    for t in range(1, 31):
        charges.append(max(0.0, loss_after(t, 0.3, 30) - spent))
        spent += charges[-1]
    assert spent == pytest.approx(0.3) and sum(c > 0 for c in charges) == 5  # charged at t = 1, 2, 4, 8, 16


@pytest.mark.parametrize(("epsilon", "horizon", "delta"), [(1.0, 30, 2), (0.3, 1000, 21), (2.0, 1, 5)])
def test_node_scale_is_what_opendp_charges_epsilon_for(epsilon, horizon, delta):
    scale = node_scale(epsilon, horizon, delta)
    assert scale == pytest.approx(levels(horizon) * delta / epsilon)
    mechanism = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale)
    # The L nodes an event touches move by delta each; releases 1..t touch only min(L, bits of t) of them.
    assert mechanism.map(levels(horizon) * delta) <= epsilon
    for t in range(1, horizon + 1):
        assert mechanism.map(min(levels(horizon), t.bit_length()) * delta) <= loss_after(t, epsilon, horizon) * (1 + 1e-12)


# The noise has the spread the closed form says.


@pytest.mark.parametrize("t", [16, 7, 30])  # 1, 3 and 4 nodes
def test_release_noise_has_the_closed_form_variance(t):
    trials, horizon, epsilon = 1500, 30, 1.0
    matrix = [[10**6 + 13 * i + j for j in range(5)] for i in range(4)]
    exact = np.array([v for row in matrix for v in row] + [3 * 10**6])
    noise = np.array(
        [
            np.array([v for row in r.matrix for v in row] + [r.overlap]) - exact
            for r in (continual_privatise(matrix, 3 * 10**6, t, epsilon, horizon, BIG, BIG, {}) for _ in range(trials))
        ]
    ).ravel()  # every value of every trial: independent draws
    scale = 5 * 21 / epsilon  # L = 5 levels cover 30 epochs; one account moves 20 cells and the total
    nodes = bin(t).count("1")
    var, kappa4 = nodes * dl_variance(scale), nodes * dl_fourth_cumulant(scale)
    n = noise.size
    assert abs(noise.mean()) < SIGMAS * math.sqrt(var / n)
    # The mean of squares (the mean is known: 0) has variance (mu4 - var^2) / n = (kappa4 + 2 var^2) / n.
    assert abs(float((noise.astype(float) ** 2).mean()) - var) < SIGMAS * math.sqrt((kappa4 + 2 * var**2) / n)


# The 30-epoch differencing attack.

EPOCHS = 30
STREAMS = 600
BASE = 10**5  # the overlap before the first guess; the attacker knows it exactly (a stronger attacker)


def attack_streams(release_overlap, streams: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per stream: the partner's answers (one fair coin per guessed account) and the rises the attacker sees.

    In epoch t the attacker's set has gained its t-th guess; the overlap counts the
    guesses the partner has. ``release_overlap(exact_overlaps)`` plays one stream."""
    has = rng.random((streams, EPOCHS)) < 0.5
    rises = np.empty((streams, EPOCHS), dtype=np.int64)
    for s in range(streams):
        exact = BASE + np.cumsum(has[s])
        seen = np.array([BASE, *release_overlap([int(v) for v in exact])])
        rises[s] = np.diff(seen)
    return has, rises


def tree_stream(epsilon: float):
    def play(exact: list[int]) -> list[int]:
        stored: dict = {}
        out = []
        for t, overlap in enumerate(exact, start=1):
            release = continual_privatise([[overlap]], overlap, t, epsilon, EPOCHS, BIG, BIG, stored)
            stored.update(release.new_nodes)
            out.append(release.overlap)
        return out

    return play


def success(has: np.ndarray, rises: np.ndarray, threshold: int) -> float:
    return float(((rises >= threshold) == has).mean())


def expected_success(scale: float, threshold: int) -> tuple[float, float]:
    """The attack's success rate and its standard deviation over STREAMS streams, by closed form.

    The rise at epoch t is the partner's answer plus D_t, the new node's noise minus
    the noise of the nodes it replaced: 1 + (trailing zeros of t) iid discrete
    Laplace, symmetric. Given D, guess t wins surely when D_t = threshold - 1 and
    otherwise on the fair coin alone, so it wins with p_t = (1 + pi_t) / 2,
    pi_t = P(D_t = threshold - 1); guesses are independent given D, so they
    covary only through Cov(Z_t, Z_u) / 4 with Z_t = [D_t = threshold - 1],
    bounded by Cauchy-Schwarz."""
    pis = []
    for t in range(1, EPOCHS + 1):
        pmf, half = dl_pmf(scale, 1 + (t & -t).bit_length() - 1)
        pis.append(float(pmf[half + threshold - 1]) if abs(threshold - 1) <= half else 0.0)
    pi = np.array(pis)
    p = (1 + pi) / 2
    spread = np.sqrt(pi * (1 - pi))
    per_stream_var = float((p * (1 - p)).sum() + (spread.sum() ** 2 - (spread**2).sum()) / 4)
    return float(p.mean()), math.sqrt(per_stream_var / STREAMS) / EPOCHS


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 2.0])
def test_the_tree_bounds_the_30_epoch_differencing_attack(epsilon):
    """(a) One guess is one event, so against the tree each guess is won with
    probability at most e^eps / (1 + e^eps), however the attacker reads the 30
    releases. The measured rate also matches the closed form two-sided (so
    noise reused wrongly, or too little of it, fails here, not just no noise)."""
    has, rises = attack_streams(tree_stream(epsilon), STREAMS, np.random.default_rng(30))
    scale = 5 * 2 / epsilon  # L = 5 levels cover 30 epochs; one account moves the cell and the total
    bound = math.exp(epsilon) / (1 + math.exp(epsilon))
    expected, sd = expected_success(scale, 1)
    assert 0.5 < expected <= bound
    assert abs(success(has, rises, 1) - expected) < SIGMAS * sd
    # The best threshold in hindsight (the closed form says 1 is best: the noise is symmetric and unimodal).
    thresholds = range(-6, 9)
    best = max(thresholds, key=lambda c: success(has, rises, c))
    assert success(has, rises, best) < bound + SIGMAS * max(expected_success(scale, c)[1] for c in thresholds)
    assert max(thresholds, key=lambda c: expected_success(scale, c)[0]) == 1


def test_the_tree_adds_less_noise_than_fresh_noise_at_the_same_total_budget():
    """(b) Same total loss over 30 releases. Fresh noise at eps/30 per release vs
    the tree at eps over a horizon of 30 (L = 5 levels, at most 4 nodes per
    release), 1x1 matrix plus total (sensitivity 2), noise std of one release:

        eps   fresh (eps/30)   tree, worst release   tree, mean over 30
        0.5   169.7            56.6                  43.8
        1.0    84.9            28.3                  21.9
        2.0    42.4            14.1                  10.9
    """
    delta = sensitivity(1, 1)
    for epsilon, (fresh_sd, worst_sd, mean_sd) in {
        0.5: (169.7, 56.6, 43.8),
        1.0: (84.9, 28.3, 21.9),
        2.0: (42.4, 14.1, 10.9),
    }.items():
        fresh = math.sqrt(dl_variance(scale_for(epsilon / EPOCHS, delta)))
        per_release = [
            math.sqrt(bin(t).count("1") * dl_variance(node_scale(epsilon, EPOCHS, delta))) for t in range(1, EPOCHS + 1)
        ]
        assert (round(fresh, 1), round(max(per_release), 1), round(sum(per_release) / EPOCHS, 1)) == (fresh_sd, worst_sd, mean_sd)
        assert max(per_release) < fresh
        assert loss_after(EPOCHS, epsilon, EPOCHS) == pytest.approx(EPOCHS * (epsilon / EPOCHS))  # the same total


def test_without_noise_the_attack_wins_every_guess():
    """(c) Exact releases: every rise is the partner's answer, 30 of 30 in every stream."""
    has, rises = attack_streams(lambda exact: exact, 200, np.random.default_rng(3))
    assert (((rises >= 1) == has).sum(axis=1) == EPOCHS).all()
