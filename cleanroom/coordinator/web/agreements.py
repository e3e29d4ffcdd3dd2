"""Agreements as the API and the pages show them: a summary per agreement, and one agreement's detail."""

from __future__ import annotations

import json
from typing import Any

from cleanroom.coordinator.store.reads import WebReads
from cleanroom.coordinator.store.records import AgreementRow
from cleanroom.coordinator.web.access import agreement_for
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.cursors import decode_cursor, encode_cursor
from cleanroom.terms import parse_terms


def summary(row: AgreementRow, approved_by: list[str]) -> dict[str, Any]:
    terms = parse_terms(row.terms_json)
    return {
        "agreement_id": row.agreement_id,
        "version": row.version,
        "state": row.state,
        "proposer": row.proposer,
        "counterparty": row.counterparty,
        "parties": [row.proposer, row.counterparty],
        "terms_hash": row.terms_hash,
        "created_at": row.created_at,
        "approved_by": approved_by,
        "populations": {party: list(pops) for party, pops in terms.populations.items()},
        "min_count": terms.min_count,
        "min_set_size": terms.min_set_size,
        "dp": None if terms.dp_epsilon is None else {"epsilon": terms.dp_epsilon, "budget": terms.dp_budget},
        "attribution": terms.attribution is not None,
        "vendor": terms.vendor,
    }


def list_agreements(
    reads: WebReads,
    p: Principal,
    *,
    state: str | None = None,
    party: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The agreements the caller's party is in (an admin: all), oldest first, a page at a time."""
    after = decode_cursor(cursor, (str, str))
    rows = reads.agreements(
        member=None if p.is_admin else p.party,
        party=party or None,
        state=state or None,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    approvals = reads.current_approvals(page)
    return {
        "items": [summary(r, approvals[r.agreement_id]) for r in page],
        "next_cursor": encode_cursor(page[-1].created_at, page[-1].agreement_id) if more else None,
    }


def agreement_detail(reads: WebReads, p: Principal, agreement_id: str) -> dict[str, Any]:
    """One agreement: its summary, terms, runs and releases (an analyst sees its own party's listed)."""
    row = agreement_for(reads, p, agreement_id)
    detail = summary(row, reads.current_approvals([row])[agreement_id])
    detail["terms"] = json.loads(row.terms_json)
    detail["runs"] = [r.to_dict() for r in reads.runs(agreement_id)]
    viewer = p.party if p.role == "analyst" else None
    detail["releases"] = [r.to_dict() for r in reads.release_listing(agreement_id, viewer)]
    return detail
