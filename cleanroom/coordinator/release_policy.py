"""Release policy: what a viewer may see of a run's result. Pure functions.

A cell below the minimum count k is released as suppressed, never as a number;
a cell the terms do not grant to the viewer is not released at all.

Suppression must survive subtraction. A viewer that sees the total overlap and
the other cells learns ``residual = total - sum(shown counts)``: when each
company lies in one population per side, that is exactly the sum of the hidden
cells (and of the cells not granted); when companies lie in several, it is a
lower bound on it. So whenever a count is suppressed, the residual must not
fall in [0, k): there it pins hidden counts below k (a negative residual says
nothing). Complementary suppression restores that: the smallest shown counts
are hidden too until the residual reaches k (it always does: with every cell
hidden it is the total, which is shown only when it is at least k). A count
is shown by an overlap cell or, as its number of revealed accounts, by a
reveal pair: both are decided together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cleanroom.coordinator.greenfield import greenfield_cells
from cleanroom.terms import Terms


@dataclass(frozen=True)
class _Pair:
    mine: str
    theirs: str
    count: int
    in_overlap: bool  # an overlap cell granted to the viewer
    in_reveal: bool  # a pair the viewer is granted account-level reveal on


def complementary_suppression(counts: list[int], total: int | None, min_count: int) -> tuple[set[int], bool]:
    """The counts (by index) to suppress, and whether to suppress the total, so none is recovered by subtraction.

    Counts below ``min_count`` are suppressed, and a total below it. With a shown total and a suppressed
    count, the residual of the shown counts (``total`` minus their sum) must not lie in [0, min_count):
    the smallest shown counts are suppressed as complements until it does not.
    """
    hidden = {i for i, count in enumerate(counts) if count < min_count}
    if total is None:
        return hidden, False
    if total < min_count:
        return hidden, True
    if hidden:
        shown = sorted((count, i) for i, count in enumerate(counts) if i not in hidden)
        residual = total - sum(count for count, _ in shown)
        while 0 <= residual < min_count:  # ends: with nothing left shown, the residual is the total (>= min_count)
            count, i = shown.pop(0)
            hidden.add(i)
            residual += count
    return hidden, False


def _decide(terms: Terms, viewer: str, result: dict[str, Any]) -> tuple[list[tuple[_Pair, bool]], bool]:
    """Every count the viewer would see (overlap cells and reveal pairs) with whether it is suppressed,
    and whether the total is (the total counts only when it is granted)."""
    a, _ = result["parties"]
    other = terms.other(viewer)
    cells, reveal = terms.cells_granted(viewer), terms.reveal_granted(viewer)
    pairs = []
    for i, mine in enumerate(terms.populations[viewer]):
        for j, theirs in enumerate(terms.populations[other]):
            if (mine, theirs) in cells or (mine, theirs) in reveal:
                count = result["matrix"][i][j] if viewer == a else result["matrix"][j][i]
                pairs.append(_Pair(mine, theirs, count, (mine, theirs) in cells, (mine, theirs) in reveal))
    total = result["overlap"] if terms.totals_granted(viewer) else None
    hidden, total_hidden = complementary_suppression([p.count for p in pairs], total, terms.min_count)
    return [(p, i in hidden) for i, p in enumerate(pairs)], total_hidden


def _cell(pair: _Pair, suppressed: bool) -> dict[str, Any]:
    return {"mine": pair.mine, "theirs": pair.theirs, "count": None if suppressed else pair.count, "suppressed": suppressed}


def overlap_release(terms: Terms, viewer: str, result: dict[str, Any]) -> dict[str, Any]:
    """The viewer-oriented overlap: cells (mine, theirs) and totals, guardrails applied.

    ``result`` is a run's stored result: ``matrix[i][j]`` counts companies in
    population i of ``parties[0]`` and population j of ``parties[1]``.
    """
    other = terms.other(viewer)
    decided, total_hidden = _decide(terms, viewer, result)
    if terms.totals_granted(viewer):
        overlap, overlap_suppressed = (None, True) if total_hidden else (result["overlap"], False)
    else:
        overlap, overlap_suppressed = None, False
    cells = [_cell(pair, suppressed) for pair, suppressed in decided if pair.in_overlap]
    extra = (
        {"greenfield": greenfield_cells(terms, viewer, result, cells, total_hidden)} if terms.greenfield_granted(viewer) else {}
    )
    return {
        **extra,
        "viewer": viewer,
        "other": other,
        "cells": cells,
        "totals": {
            "mine": result["accounts"][viewer],
            "theirs": result["accounts"][other],
            "overlap": overlap,
            "overlap_suppressed": overlap_suppressed,
        },
        "min_count": terms.min_count,
    }


def reveal_cells(terms: Terms, viewer: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The pairs on which the viewer is granted account-level reveal, with their matched counts.

    A suppressed pair (below the minimum, or a complement of one) reveals none of
    its accounts (an account still shows when it also lies on a released pair).
    """
    decided, _ = _decide(terms, viewer, result)
    return [_cell(pair, suppressed) for pair, suppressed in decided if pair.in_reveal]
