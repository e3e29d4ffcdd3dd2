"""The agent's backoff: full jitter within [0, min(cap, base * 2**n)], doubling per failure, reset by a success."""

from __future__ import annotations

import random

import pytest

from cleanroom_client.features.backoff import Backoff


class Recorder:
    """A uniform draw that notes the range it was asked for and answers its top."""

    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []

    def __call__(self, lo: float, hi: float) -> float:
        self.ranges.append((lo, hi))
        return hi


def test_ceilings_double_from_base_up_to_the_cap():
    draws = Recorder()
    backoff = Backoff(base=0.5, cap=5.0, uniform=draws)
    delays = [backoff.next_delay() for _ in range(7)]
    assert draws.ranges == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 5.0), (0.0, 5.0), (0.0, 5.0)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert backoff.failures == 7


def test_jittered_delays_stay_in_range_and_spread_over_it():
    backoff = Backoff(base=1.0, cap=8.0, uniform=random.Random(7).uniform)
    for failures in range(6):
        ceiling = min(8.0, 2.0**failures)
        drawn = []
        for _ in range(400):
            backoff.failures = failures
            drawn.append(backoff.next_delay())
        assert all(0.0 <= d <= ceiling for d in drawn)
        # Full jitter: the whole range is used, not just its top (400 draws: the chance of missing a quarter is 0.75**400).
        assert min(drawn) < ceiling / 4 and max(drawn) > ceiling * 3 / 4


def test_a_success_resets_to_base():
    draws = Recorder()
    backoff = Backoff(base=0.2, cap=60.0, uniform=draws)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.failures == 0 and backoff.ceiling() == 0.2
    assert backoff.next_delay() == 0.2


def test_many_failures_never_overflow_past_the_cap():
    backoff = Backoff(base=1.0, cap=300.0)
    backoff.failures = 10_000  # 2.0**10000 would overflow a float
    assert backoff.ceiling() == 300.0
    assert 0.0 <= backoff.next_delay() <= 300.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_nonsense_bounds_are_refused(base, cap):
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base=base, cap=cap)
