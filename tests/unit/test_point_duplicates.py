"""The coordinator's duplicate-point check (canaries.has_duplicates) against a set of the points' bytes:
random points, exact repeats, and points an uploader shaped to share their first 8 bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom.coordinator.canaries import has_duplicates

POINT = 32


@st.composite
def _points(draw: st.DrawFn) -> list[bytes]:
    prefixes = draw(st.lists(st.binary(min_size=8, max_size=8), min_size=1, max_size=3))
    # Few distinct prefixes and tails: repeats, shared prefixes with other tails, and distinct points all occur.
    tails = draw(st.lists(st.binary(min_size=24, max_size=24), min_size=1, max_size=3))
    picks = draw(st.lists(st.tuples(st.integers(0, len(prefixes) - 1), st.integers(0, len(tails) - 1)), max_size=12))
    unrelated = draw(st.lists(st.binary(min_size=POINT, max_size=POINT), max_size=6))
    return [prefixes[p] + tails[t] for p, t in picks] + unrelated


@settings(max_examples=300, deadline=None)
@given(_points(), st.randoms(use_true_random=False))
def test_duplicates_are_found_exactly_when_two_points_are_equal(points, rng):
    rng.shuffle(points)
    assert has_duplicates(b"".join(points)) == (len(set(points)) != len(points))


def test_points_sharing_their_first_eight_bytes_but_not_the_rest_are_distinct():
    same_head = [b"\x07" * 8 + bytes([i]) * 24 for i in range(50)]
    assert not has_duplicates(b"".join(same_head))
    assert has_duplicates(b"".join([*same_head, same_head[17]]))
