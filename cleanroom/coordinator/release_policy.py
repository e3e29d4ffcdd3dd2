"""Release policy: what a viewer may see of a run's result. Pure functions.

A cell below the minimum count is released as suppressed, never as a number;
a cell the terms do not grant to the viewer is not released at all.
"""

from __future__ import annotations

from typing import Any

from cleanroom.terms import Terms


def _guard(count: int, min_count: int) -> tuple[int | None, bool]:
    return (None, True) if count < min_count else (count, False)


def overlap_release(terms: Terms, viewer: str, result: dict[str, Any]) -> dict[str, Any]:
    """The viewer-oriented overlap: cells (mine, theirs) and totals, guardrails applied.

    ``result`` is a run's stored result: ``matrix[i][j]`` counts companies in
    population i of ``parties[0]`` and population j of ``parties[1]``.
    """
    a, b = result["parties"]
    other = b if viewer == a else a
    mine_pops, their_pops = terms.populations[viewer], terms.populations[other]
    granted = terms.cells_granted(viewer)
    cells = []
    for i, mine in enumerate(mine_pops):
        for j, theirs in enumerate(their_pops):
            if (mine, theirs) not in granted:
                continue
            raw = result["matrix"][i][j] if viewer == a else result["matrix"][j][i]
            count, suppressed = _guard(raw, terms.min_count)
            cells.append({"mine": mine, "theirs": theirs, "count": count, "suppressed": suppressed})
    if terms.totals_granted(viewer):
        overlap, overlap_suppressed = _guard(result["overlap"], terms.min_count)
    else:
        overlap, overlap_suppressed = None, False
    return {
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

    A pair whose count is below the minimum is suppressed: none of its accounts
    is revealed (an account still shows when it also lies on a released pair).
    """
    a, _ = result["parties"]
    other = terms.other(viewer)
    granted = terms.reveal_granted(viewer)
    cells = []
    for i, mine in enumerate(terms.populations[viewer]):
        for j, theirs in enumerate(terms.populations[other]):
            if (mine, theirs) not in granted:
                continue
            raw = result["matrix"][i][j] if viewer == a else result["matrix"][j][i]
            count, suppressed = _guard(raw, terms.min_count)
            cells.append({"mine": mine, "theirs": theirs, "count": count, "suppressed": suppressed})
    return cells
