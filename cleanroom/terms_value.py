"""The pipeline-value grant of agreement terms: which cells' deal-amount sums a viewer learns, capped how.

``release[viewer]["pipeline_value"] = {"cells": [[mine, theirs], ...], "cap": N, "kind": "open"|"won", "dp": bool}``.
The viewer learns, per cell, the sum of ITS OWN deal amounts (open pipeline or won revenue, each account's
total clamped to ``cap`` whole currency units) over its accounts the other side also has there.

The viewer picks its own amounts, so it could encode which accounts matched in them (1, 2, 4, 8, ...):
differential privacy is the default for this grant (``dp`` true needs the terms' dp epsilon), and releasing
exact sums takes an explicit opt-out (``dp`` false, ``--no-dp-for-value``). Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cleanroom.terms_checks import require

VALUE_KINDS = ("open", "won")
MAX_VALUE_CAP = 1_000_000_000  # whole currency units per account: sums of 10^5 accounts still decrypt (2^40 range)
_FIELDS = {"cells", "cap", "kind", "dp"}


@dataclass(frozen=True)
class ValueGrant:
    cells: tuple[tuple[str, str], ...]  # (viewer's population, other's population)
    cap: int
    kind: str
    dp: bool  # noise calibrated to the cap (False only by explicit opt-out)


def value_grant_json(cells: list[tuple[str, str]], cap: int, kind: str = "open", dp: bool = True) -> dict[str, Any]:
    """The grant as terms carry it (validated when the whole terms are)."""
    pairs = [list(p) for p in dict.fromkeys(tuple(p) for p in cells)]
    return {"cells": pairs, "cap": cap, "kind": kind, "dp": dp}


def value_grant(release: dict[str, dict[str, Any]], viewer: str) -> ValueGrant | None:
    """The viewer's pipeline-value grant in validated terms' release, if any."""
    grant = release.get(viewer, {}).get("pipeline_value")
    if grant is None:
        return None
    return ValueGrant(tuple((m, t) for m, t in grant["cells"]), int(grant["cap"]), str(grant["kind"]), bool(grant["dp"]))


def check_value_grants(
    release: dict[str, dict[str, Any]],
    cells_granted: dict[str, set[tuple[str, str]]],
    dp_epsilon: float | None,
    continuous: bool,
) -> None:
    """Every pipeline-value grant well formed, on cells whose counts the viewer is granted, DP unless opted out."""
    for viewer, grant in release.items():
        value = grant.get("pipeline_value")
        if value is None:
            continue
        require(
            isinstance(value, dict) and set(value) == _FIELDS, "pipeline_value must be an object with cells, cap, kind and dp"
        )
        cells = value["cells"]
        require(
            isinstance(cells, list) and bool(cells) and all(isinstance(c, list) and len(c) == 2 for c in cells),
            f"pipeline_value of {viewer} must list [its population, the other's population] cells",
        )
        require(len({tuple(c) for c in cells}) == len(cells), f"pipeline_value of {viewer} repeats a cell")
        outside = [f"{m}:{t}" for m, t in cells if (m, t) not in cells_granted[viewer]]
        require(not outside, f"pipeline_value of {viewer} names cells whose counts it is not granted: {', '.join(outside)}")
        cap = value["cap"]
        require(
            isinstance(cap, int) and not isinstance(cap, bool) and 1 <= cap <= MAX_VALUE_CAP,
            f"pipeline_value cap must be a whole number of currency units in [1, {MAX_VALUE_CAP:,}]",
        )
        require(value["kind"] in VALUE_KINDS, f"pipeline_value kind must be one of {', '.join(VALUE_KINDS)}")
        require(isinstance(value["dp"], bool), "pipeline_value dp must be true or false")
        require(
            not value["dp"] or dp_epsilon is not None,
            "pipeline value needs differential privacy: the viewer picks its own amounts and could encode which accounts "
            "matched in them (1, 2, 4, ...). Set --dp-epsilon, or release exact sums with --no-dp-for-value",
        )
        require(not continuous, "pipeline value is for one-off agreements (each run sends every account's amount)")
