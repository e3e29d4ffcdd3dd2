"""The powers-of-two attack on pipeline value, played against the coordinator's own noise and sum.

The viewer picks its amounts, so it can give its k accounts the amounts 1, 2, 4, ..., 2^(k-1) (all within
the cap) and read which of them matched from the bits of the sum. Without DP that recovers the matched set
exactly; with DP (noise calibrated to the cap: cleanroom.coordinator.value_sums) each account's membership
is epsilon-DP with respect to the partner's account, so no test of it can be right more often than
e^eps / (1 + e^eps) on a fair coin. The matched sets are drawn here (the independent ground truth);
encryption, the homomorphic sum, the noise and the decryption are the real ones.
"""

from __future__ import annotations

import math
import random

from cleanroom.coordinator.noise import noisy, scale_for
from cleanroom.coordinator.value_sums import value_sensitivity
from cleanroom.homomorphic import CIPHERTEXT_SIZE, Ciphertext, add, decrypt, encrypt, encrypt_many, generate, sum_ciphertexts
from cleanroom.terms_value import ValueGrant

K = 10
CAP = 1 << (K - 1)  # the largest planted amount is the cap itself: clamping leaves every amount as chosen


def _planted():
    keys = generate()
    blob = encrypt_many(keys.public, [1 << i for i in range(K)])
    cts = [Ciphertext.from_bytes(blob[i * CIPHERTEXT_SIZE : (i + 1) * CIPHERTEXT_SIZE]) for i in range(K)]
    return keys, cts


def _attack(epsilon: float | None, trials: int, seed: int) -> tuple[list[int], int]:
    """Per account, how often the bit decoding guessed its membership right; and how often the whole set."""
    keys, cts = _planted()
    grant = ValueGrant((("opportunity", "customer"),), CAP, "open", epsilon is not None)
    scale = scale_for(epsilon, value_sensitivity(grant, 1)) if epsilon is not None else None
    margin = math.ceil(50 * scale) if scale else 0
    rng = random.Random(seed)
    right, exact = [0] * K, 0
    for _ in range(trials):
        matched = {i for i in range(K) if rng.random() < 0.5}
        noise = noisy([0], scale)[0] if scale else 0
        released = add(sum_ciphertexts(cts[i] for i in matched), encrypt(keys.public, noise))
        value = min(max(decrypt(keys, released, -margin, (1 << K) - 1 + margin), 0), (1 << K) - 1)
        guessed = {i for i in range(K) if value >> i & 1}
        right = [r + ((i in guessed) == (i in matched)) for i, r in enumerate(right)]
        exact += guessed == matched
    return right, exact


def test_without_dp_the_attack_recovers_the_matched_set_exactly():
    right, exact = _attack(None, trials=40, seed=1)
    assert exact == 40 and right == [40] * K


def test_with_dp_no_account_is_guessed_better_than_the_epsilon_bound():
    epsilon, trials = 1.0, 400
    right, exact = _attack(epsilon, trials, seed=2)
    bound = math.exp(epsilon) / (1 + math.exp(epsilon))  # 0.731
    slack = 4 * math.sqrt(0.25 / trials)  # four standard deviations of a rate over `trials` draws
    rates = [r / trials for r in right]
    assert max(rates) <= bound + slack, rates
    assert sum(right) / (K * trials) <= bound + 4 * math.sqrt(0.25 / (K * trials)), rates
    # Recovering the whole set, as without DP, all but never happens (a coin per account: 1/1024).
    assert exact / trials <= 0.05, exact
