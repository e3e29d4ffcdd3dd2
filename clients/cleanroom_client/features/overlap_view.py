"""The overlap released to us, as the coordinator signed it: for the receipts, --json and the table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cleanroom.crypto.signing import verify_json
from cleanroom.errors import ProtocolError
from cleanroom_client.protocol.heads import verified_head
from cleanroom_client.protocol.receipts import release_body
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
    if release.greenfield:  # signed only when granted: the key is there exactly when the coordinator signed it
        view["greenfield"] = [{"theirs": g.theirs, "count": g.count, "suppressed": g.suppressed} for g in release.greenfield]
    if release.dp is not None:
        view["dp"] = {
            "epsilon_spent": release.dp.epsilon_spent,
            "budget": release.dp.budget,
            "budget_remaining": release.dp.budget_remaining,
        }
    return view


def verified_overlap(release: OverlapRelease, public_pem: bytes) -> dict[str, Any]:
    """The release as a view, once the coordinator's signature over it verifies; ProtocolError (nothing shown) if not."""
    view = overlap_dict(release)
    if not verify_json(public_pem, release_body(view), release.signature):
        raise ProtocolError(
            f"the overlap release of agreement {release.agreement_id} (run {release.run_id}) does not verify against "
            "the coordinator's signing key: it was altered after it was signed; refusing to show it"
        )
    verified_head(
        release.audit_head, public_pem, f"the overlap release of agreement {release.agreement_id} (run {release.run_id})"
    )
    return view
