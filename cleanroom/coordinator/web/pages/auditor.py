"""Auditor pages: the audit trail (with the chain's verification) and disclosure reports."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from cleanroom.coordinator.web import audit_trail, models
from cleanroom.coordinator.web.agreements import agreement_detail, list_agreements
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.cursors import parse_time
from cleanroom.coordinator.web.pages.rendering import render
from cleanroom.coordinator.web.pages.session import page, same_origin, web

router = APIRouter(include_in_schema=False)


def _details_summary(details: dict[str, Any]) -> str:
    parts = []
    for key, value in details.items():
        if key in ("signature", "chunk_digests", "deals"):
            continue
        if isinstance(value, (dict, list)):
            text = json.dumps(value, separators=(",", ":"), default=str)
            value = text if len(text) <= 60 else text[:57] + "…"
        elif isinstance(value, str) and len(value) >= 40 and all(ch in "0123456789abcdef" for ch in value):
            value = value[:12] + "…"  # hashes and digests: the full value is in the expanded entry
        parts.append(f"{key}={value}")
    text = ", ".join(parts)
    return text if len(text) <= 160 else text[:157] + "…"


@router.get("/audit")
def audit(
    request: Request,
    agreement_id: str | None = None,
    party: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    cursor: str | None = None,
) -> Response:
    filters = {
        k: v
        for k, v in {"agreement_id": agreement_id, "party": party, "action": action, "since": since, "until": until}.items()
        if v
    }
    return page(request, "auditor", lambda p: _audit_page(request, p, filters, cursor, web(request).verifier.status()))


@router.post("/audit/heads")
async def audit_heads(request: Request) -> Response:
    """The audit page with the chain checked against the heads a party kept (its `export-heads` file, pasted)."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    text = (form.get("heads") or [""])[0]

    def view(p: Principal) -> Response:
        verifier = web(request).verifier
        if not same_origin(request):
            return _audit_page(request, p, {}, None, verifier.status(), "This form must be sent from this site.", 403)
        try:
            posted = models.HeadsExport.model_validate_json(text)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the text'}: {e['msg']}" for e in exc.errors()[:3])
            why = f"Not a heads export from `cleanroom-client receipts export-heads` ({problem}). Nothing was checked."
            return _audit_page(request, p, {}, None, verifier.status(), why, 400)
        return _audit_page(request, p, {}, None, verifier.against(audit_trail.posted_heads(posted)))

    return page(request, "auditor", view)


def _audit_page(
    request: Request,
    p: Principal,
    filters: dict[str, str],
    cursor: str | None,
    verification: dict[str, Any],
    heads_error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = web(request)
    entries = audit_trail.audit_entries(
        ctx.reads,
        p,
        agreement_id=filters.get("agreement_id"),
        party=filters.get("party"),
        action=filters.get("action"),
        since=parse_time(filters.get("since"), "from"),
        until=parse_time(filters.get("until"), "until"),
        limit=50,
        cursor=cursor or None,
    )
    for e in entries["items"]:
        e["summary"] = _details_summary(e["details"])
    next_url = "/audit?" + urlencode({**filters, "cursor": entries["next_cursor"]}) if entries["next_cursor"] else None
    return render(
        request,
        "audit.html",
        status,
        verification=verification,
        heads_error=heads_error,
        entries=entries["items"],
        filters=filters,
        agreements=list_agreements(ctx.reads, p, limit=500)["items"],
        actions=audit_trail.audit_actions(ctx.reads, p),
        next_url=next_url,
        first_url="/audit?" + urlencode(filters) if cursor else None,
    )


@router.get("/reports")
def reports(request: Request, agreement_id: str | None = None) -> Response:
    def view(p: Principal) -> Response:
        ctx = web(request)
        agreements = list_agreements(ctx.reads, p, limit=500)["items"]
        chosen = agreement_id or (agreements[-1]["agreement_id"] if agreements else None)
        report = audit_trail.disclosure_report(ctx.reads, p, chosen) if chosen else None
        detail = agreement_detail(ctx.reads, p, chosen) if chosen else None
        if report:
            for v in report["viewers"]:
                for r in v["releases"]:
                    r["summary"] = released_summary(r)
        return render(request, "reports.html", agreements=agreements, chosen=chosen, report=report, detail=detail)

    return page(request, "auditor", view)


_OWN_FIGURES = ("credited_won", "credited_open", "deals_sourced", "deals_influenced", "win_rate_influenced")
_SHOWN = ("cells", "totals", "dp", "partners", "deals", "deal_count", "metrics", "withheld")


def released_summary(release: dict[str, Any]) -> dict[str, Any]:
    """What a disclosure-report row shows: cells and totals, or attribution figures (deals counted, not listed)."""
    released = release.get("released", {})
    out: dict[str, Any] = {}
    if "cells" in released:
        out["cells"] = released["cells"]
        out["totals"] = released.get("totals") or {}
        out["dp"] = released.get("dp")
    if "partners" in released:
        out["partners"] = released["partners"]
    if "deals" in released:
        out["deal_count"] = len(released["deals"])
    elif "deal_count" in released:
        out["deal_count"] = released["deal_count"]
    for key in ("withheld", "metrics"):
        if key in released:
            out[key] = released[key]
    own = {k: released[k] for k in _OWN_FIGURES if k in released}
    if own:
        out["own"] = own
    rest = {k: v for k, v in released.items() if k not in (*_SHOWN, *own)}
    if rest:
        out["other"] = rest
    return out
