"""The add-one-account attack on a continuous agreement over 30 epochs, at the coordinator in-process.

Not a process test: it lives here because it is 62 complete runs over a real DuckDB file (several seconds
of store work), too slow for ``make test-fast``. Its parties are tests/standing_parties.py's.
"""

from __future__ import annotations

import json
import random
import time

from tests.inprocess import agree, coordinator
from tests.standing_parties import Party, epoch


def _attack(coord, agreement: dict, rng: random.Random, epochs: int = 30) -> tuple[list[int], list[bool], list[int]]:
    """The vendor adds one guessed account per epoch; the partner holds each guess with probability 1/2.
    Returns the released overlaps (t = 0 .. epochs), whether the partner held each guess, the exact overlaps."""
    base = {f"base{i}.example": 1 for i in range(10)}
    guesses = [f"guess{t}.example" for t in range(epochs)]
    held = [rng.random() < 0.5 for _ in guesses]
    partner_set = {**base, **{g: 1 for g, h in zip(guesses, held, strict=True) if h}}
    vendor, partner = Party("vendor"), Party("partner")
    mine = dict(base)
    released, exact = [], []
    for t in range(epochs + 1):
        if t:
            mine[guesses[t - 1]] = 1
        run_id = epoch(coord, agreement, (vendor, partner), (mine, partner_set), wait=False)
        released.append(coord.overlap("vendor", agreement["agreement_id"], run_id)["totals"]["overlap"])
        exact.append(len(mine.keys() & partner_set.keys()))
    return released, held, exact


def test_the_add_one_account_attack_over_30_epochs(tmp_path, monkeypatch):
    """Without DP, one release per epoch still lets a party that adds one guess per epoch learn each guess
    (documented): it wins all 30. Under DP the coordinator's releases are exactly the tree counter's
    (continual.py): each release's noise is the sum of its prefix nodes' stored noise, so the attack's
    success is bounded as tests/unit/test_continual_dp.py measures for the mechanism, e^eps/(1+e^eps)."""
    from cleanroom.coordinator import standing

    monkeypatch.setattr(standing, "_clock", lambda: time.time() + 10**9)  # every run lands in a later epoch
    coord, _ = coordinator(tmp_path)
    rng = random.Random(7)
    exact_terms = agree(coord, ("customer",), epoch_seconds=3600, min_set_size=1, min_count=1)
    released, held, exact = _attack(coord, exact_terms, rng)
    assert released == exact
    wins = [(released[t + 1] - released[t] >= 1) == h for t, h in enumerate(held)]
    assert sum(wins) == 30

    dp_terms = agree(coord, ("customer",), epoch_seconds=3600, min_set_size=1, min_count=1, dp_epsilon=1.0, dp_horizon=32)
    released, held, exact = _attack(coord, dp_terms, rng)
    nodes = {(r["level"], r["idx"]): json.loads(r["noise"]) for r in coord.store.rows(
        "SELECT level, idx, noise FROM dp_tree_nodes WHERE agreement_id = ?", [dp_terms["agreement_id"]])}  # fmt: skip
    partner_size = 10 + sum(held)
    for t, (noisy, true) in enumerate(zip(released, exact, strict=True), start=1):
        start, noise = 1, 0
        while start <= t:  # the dyadic blocks [1, t] is cut into, as the tree counter defines them
            level = max(lv for lv in range(6) if (start - 1) % 2**lv == 0 and start - 1 + 2**lv <= t)
            noise += nodes[(level, (start - 1) // 2**level)][-1]  # the overlap total is the last value
            start += 2**level
        # Release t (the t-th run) saw the vendor's 10 + (t - 1) accounts; counts are clamped to [0, min(set sizes)],
        # and one under the minimum count (1 here) is withheld.
        clamped = min(max(true + noise, 0), min(10 + t - 1, partner_size))
        assert noisy == (clamped if clamped >= 1 else None), t
