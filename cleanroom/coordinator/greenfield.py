"""Greenfield cells of a release: the other side's accounts in a granted population the viewer does not have.

Pure functions over a run's stored result (``result["greenfield"][party][population]``, exact or noisy as
the terms say). A greenfield count g_j = total_j - matched_j is a difference: with the other side's set size
public and the overlap cells and total shown, it could rebuild a suppressed count (a partner with one
population: matched_j is the overlap total, or the one cell of its column). So it is suppressed below the
minimum count, and also whenever a cell of its column or the overlap total is; the terms grant it only
beside the full overlap grant (terms_greenfield.py).
"""

from __future__ import annotations

from typing import Any

from cleanroom.terms import Terms


def greenfield_cells(
    terms: Terms, viewer: str, result: dict[str, Any], cells: list[dict[str, Any]], total_hidden: bool
) -> list[dict[str, Any]]:
    """One entry per granted population of the other side: its count of accounts the viewer does not have,
    or suppressed. ``cells`` are the viewer's overlap cells as released (with their suppression)."""
    other = terms.other(viewer)
    counts = result.get("greenfield", {}).get(other, {})
    out = []
    for theirs in terms.greenfield_granted(viewer):
        count = int(counts.get(theirs, 0))
        column_hidden = any(c["suppressed"] for c in cells if c["theirs"] == theirs)
        suppressed = count < terms.min_count or column_hidden or total_hidden
        out.append({"theirs": theirs, "count": None if suppressed else count, "suppressed": suppressed})
    return out
