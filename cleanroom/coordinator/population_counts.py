"""Per-population counts the coordinator derives from the population masks it receives. Pure functions.

Two uses: the minimum population size of a population the terms define by a filter, and greenfield sizing (a side's accounts in a population that matched none of the other side's).
"""

from __future__ import annotations

import numpy as np

from cleanroom.errors import FailedPrecondition
from cleanroom.terms import Terms


def population_sizes(masks: np.ndarray, populations: int) -> list[int]:
    """Accounts in each population (bit j of an account's mask), from one uint16 mask per account label."""
    return [int(np.count_nonzero((masks >> j) & 1)) for j in range(populations)]


def unmatched_sizes(masks: np.ndarray, matched: np.ndarray, populations: int) -> list[int]:
    """Per population, its accounts whose label is not among ``matched`` (the labels in a matched pair)."""
    outside = np.ones(len(masks), dtype=bool)
    outside[matched.astype(np.int64)] = False
    return population_sizes(masks[outside], populations)


def check_population_sizes(terms: Terms, party: str, sizes: list[int]) -> None:
    """Refuse (the run fails, naming the party and the population) a population of ``party`` that the terms
    define by a filter (the other party's ICP) and that holds fewer accounts than the minimum set size, as the
    party's whole set must: a filter matching a handful of accounts would single them out. An empty one tells
    nothing and is allowed. A party's own custom populations cannot be told from its stage populations here
    (only names travel, and stage populations of a few accounts are ordinary): its client holds them to
    the same minimum."""
    filtered = terms.raw.get("population_filters", {}).get(party, {})
    for name, size in zip(terms.populations[party], sizes, strict=True):
        if name in filtered and 0 < size < terms.min_set_size:
            raise FailedPrecondition(
                f"{party}'s population {name!r} holds {size} account(s), below the agreement's minimum set size of "
                f"{terms.min_set_size}: a population that small may not be mapped; widen its filter or leave it out"
            )
