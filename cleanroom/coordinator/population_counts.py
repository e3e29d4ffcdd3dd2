"""Per-population counts the coordinator derives from the population masks it receives. Pure functions.

Two uses: the minimum population size of a population the terms define by a filter (too small: counted as empty), and greenfield sizing (a side's accounts in a population that matched none of the other side's).
"""

from __future__ import annotations

import numpy as np

from cleanroom.terms import Terms


def population_sizes(masks: np.ndarray, populations: int) -> list[int]:
    """Accounts in each population (bit j of an account's mask), from one uint16 mask per account label."""
    return [int(np.count_nonzero((masks >> j) & 1)) for j in range(populations)]


def unmatched_sizes(masks: np.ndarray, matched: np.ndarray, populations: int) -> list[int]:
    """Per population, its accounts whose label is not among ``matched`` (the labels in a matched pair)."""
    outside = np.ones(len(masks), dtype=bool)
    outside[matched.astype(np.int64)] = False
    return population_sizes(masks[outside], populations)


def too_small_populations(terms: Terms, party: str, sizes: list[int]) -> int:
    """The bit mask of ``party``'s populations that the terms define by a filter (the other party's ICP) and that
    hold 1 .. minimum set size - 1 accounts: a filter matching a handful of accounts would single them out.
    The coordinator counts such a population as empty rather than failing the run: a failure (or its message)
    is seen by the filter's author and would say, exactly and outside any noise, that the partner has those
    accounts; emptied, the release is the one an empty population gives. A party's own custom populations
    cannot be told from its stage populations here (only names travel, and stage populations of a few
    accounts are ordinary): its client holds them to the same minimum."""
    filtered = terms.raw.get("population_filters", {}).get(party, {})
    bits = 0
    for j, (name, size) in enumerate(zip(terms.populations[party], sizes, strict=True)):
        if name in filtered and 0 < size < terms.min_set_size:
            bits |= 1 << j
    return bits
