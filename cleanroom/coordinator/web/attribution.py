"""Attribution results released to a viewer: one item per job, newest first, paged in SQL."""

from __future__ import annotations

import json
from typing import Any

from cleanroom.coordinator.store.reads import StoredRelease, WebReads
from cleanroom.coordinator.web.access import agreement_for, viewer_for
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.cursors import decode_cursor, encode_cursor
from cleanroom.errors import FailedPrecondition, NotFound
from cleanroom.terms import parse_terms


def _release_body(text: str) -> dict[str, Any]:
    """A stored release's body: attribution releases are stored signed ({release_id, body_json, signature})."""
    stored: dict[str, Any] = json.loads(text)
    if isinstance(stored, dict) and "body_json" in stored:
        body: dict[str, Any] = json.loads(stored["body_json"])
        body["signature"] = stored.get("signature")
        return body
    return stored


def job_item(stored: StoredRelease, viewer: str, include_deals: bool) -> dict[str, Any]:
    """The API's item for one job, from the release that shows it (the vendor's view names every agreement)."""
    body = _release_body(stored.body.text)
    vendor_view = "agreements" in body
    ids = [a["agreement_id"] for a in body["agreements"]] if vendor_view else [body.get("agreement_id") or stored.agreement_id]
    deals = body.pop("deals", None)
    signature = body.pop("signature", None)
    if include_deals and deals is not None:
        body["deals"] = deals
    return {
        "job_id": body.get("job_id") or stored.agreement_id,
        "viewer": viewer,
        "view": "vendor" if vendor_view else "partner",
        "model": body.get("model"),
        "as_of": body.get("as_of"),
        "released_at": body.get("released_at") or stored.released_at,
        "agreement_ids": ids,
        "deal_count": len(deals) if deals is not None else None,
        "body": body,
        "signature": signature,
    }


def attribution(
    reads: WebReads,
    p: Principal,
    *,
    viewer: str | None = None,
    agreement_id: str | None = None,
    include_deals: bool = False,
    limit: int = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Attribution results released to the viewer, newest first, one item per job (none under a revoked agreement)."""
    agreement = agreement_for(reads, p, agreement_id) if agreement_id else None
    viewer = viewer_for(p, viewer, agreement)
    after = decode_cursor(cursor, (str, str))
    rows = reads.attribution_jobs(
        viewer, agreement_id=agreement_id, before=(after[0], after[1]) if after else None, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    return {
        "viewer": viewer,
        "items": [job_item(r, viewer, include_deals) for r in page],
        "next_cursor": encode_cursor(page[-1].released_at, page[-1].release_id) if more else None,
    }


def agreement_attribution(
    reads: WebReads, p: Principal, agreement_id: str, viewer: str | None = None, include_deals: bool = False
) -> dict[str, Any]:
    """The latest attribution result released to the viewer under one agreement."""
    agreement = agreement_for(reads, p, agreement_id)
    viewer = viewer_for(p, viewer, agreement)
    if agreement.state == "revoked":
        raise FailedPrecondition(f"agreement {agreement_id} was revoked; nothing more is released under it")
    if parse_terms(agreement.terms_json).attribution is None:
        raise FailedPrecondition(f"agreement {agreement_id} does not include attribution")
    found = attribution(reads, p, viewer=viewer, agreement_id=agreement_id, include_deals=include_deals, limit=1)
    if not found["items"]:
        raise NotFound(f"no attribution result has been released to {viewer} under agreement {agreement_id} yet")
    item: dict[str, Any] = found["items"][0]
    return item
