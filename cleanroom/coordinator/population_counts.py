"""Per-population counts the coordinator derives from the population masks it receives. Pure functions.

Two uses: the guardrails on a population the terms define by a filter (too small, or too close to another
population: counted as empty), and greenfield sizing (a side's accounts in a population that matched none
of the other side's).
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


def close_to_another(terms: Terms, party: str, masks: np.ndarray) -> int:
    """The bit mask of ``party``'s non-empty filter-defined populations that differ from another of its
    populations, or from its whole set, by fewer than the minimum set size accounts (0 included). A filter
    "another population but the target" passes the size check, yet the difference between the two
    populations' counts (cells, greenfield) would say whether the partner has the target. 0 is included so
    that the outcome does not depend on whether the target is there (with it absent the two are equal)."""
    filtered = terms.raw.get("population_filters", {}).get(party, {})
    pops = terms.populations[party]
    members = [((masks >> j) & 1).astype(bool) for j in range(len(pops))]
    bits = 0
    for j, name in enumerate(pops):
        if name not in filtered or not members[j].any():
            continue
        gaps = [int(np.count_nonzero(members[j] ^ members[k])) for k in range(len(pops)) if k != j]
        gaps.append(int(np.count_nonzero(~members[j])))  # the whole set (its size is released)
        if min(gaps) < terms.min_set_size:
            bits |= 1 << j
    return bits
