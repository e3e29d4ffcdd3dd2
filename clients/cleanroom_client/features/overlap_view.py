"""The overlap released to us, as the coordinator signed it: for the receipts, --json and the table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cleanroom_client.remote import Cell, OverlapRelease


def cells_list(cells: Iterable[Cell]) -> list[dict[str, Any]]:
    """Release cells as the coordinator signs them (overlap and reveal releases alike)."""
    return [{"mine": c.mine, "theirs": c.theirs, "count": c.count, "suppressed": c.suppressed} for c in cells]


def overlap_dict(release: OverlapRelease) -> dict[str, Any]:
    totals = release.totals
    view: dict[str, Any] = {
        "agreement_id": release.agreement_id,
        "run_id": release.run_id,
        "viewer": release.viewer,
        "other": release.other,
        "cells": cells_list(release.cells),
        "totals": {
            "mine": totals.mine,
            "theirs": totals.theirs,
            "overlap": totals.overlap,
            "overlap_suppressed": totals.overlap_suppressed,
        },
        "min_count": release.min_count,
        "terms_version": release.terms_version,
        "terms_hash": release.terms_hash,
        "released_at": release.released_at,
        # The coordinator's Ed25519 signature over all of the above (receipts verify it).
        "signature": release.signature.hex(),
    }
    if release.dp is not None:
        view["dp"] = {
            "epsilon_spent": release.dp.epsilon_spent,
            "budget": release.dp.budget,
            "budget_remaining": release.dp.budget_remaining,
        }
    return view
