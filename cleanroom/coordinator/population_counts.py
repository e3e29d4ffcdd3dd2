"""Per-population counts the coordinator derives from the population masks it receives. Pure functions.

Two uses: the minimum population size (a population of one account must not be mappable, whoever defined
it), and greenfield sizing (a side's accounts in a population that matched none of the other side's).
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
    """Refuse (the run fails, naming the party and the population) a population of ``party`` that holds a few
    accounts: below the minimum count, every cell it makes would be suppressed, so it can only serve to probe
    those few. A population the terms define by a filter (the other party's ICP) is held to the minimum set
    size, as the party's whole set is. An empty population tells nothing and is allowed."""
    filtered = terms.raw.get("population_filters", {}).get(party, {})
    for name, size in zip(terms.populations[party], sizes, strict=True):
        minimum, what = (terms.min_set_size, "minimum set size") if name in filtered else (terms.min_count, "minimum count")
        if 0 < size < minimum:
            raise FailedPrecondition(
                f"{party}'s population {name!r} holds {size} account(s), below the agreement's {what} of {minimum}: "
                "a population that small may not be mapped; widen it or leave it out of the terms"
            )
