"""Vendor pages: the partner overview (ranking, one heatmap per agreement) and attribution results.

They read through the same functions as the API, so they show the API's numbers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cleanroom.coordinator.web import charts
from cleanroom.coordinator.web.agreements import list_agreements
from cleanroom.coordinator.web.attribution import attribution as released_attribution
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.context import WebContext
from cleanroom.coordinator.web.overlap import overlap
from cleanroom.coordinator.web.pages.rendering import render
from cleanroom.coordinator.web.pages.session import page, web
from cleanroom.coordinator.web.ranking import ranking
from cleanroom.errors import RequestError

router = APIRouter(include_in_schema=False)


def _viewer_choices(ctx: WebContext, principal: Principal) -> list[str]:
    """Parties an admin may view as (every party of an agreement); others see only their own."""
    if not principal.is_admin:
        return [principal.party]
    parties: set[str] = set()
    for a in list_agreements(ctx.reads, principal, limit=500)["items"]:
        parties.update(a["parties"])
    return sorted(parties)


def _admin_viewer(ctx: WebContext, principal: Principal, viewer: str | None) -> tuple[str | None, list[str]]:
    choices = _viewer_choices(ctx, principal)
    if not principal.is_admin:
        return viewer or principal.party, choices
    if not viewer:
        viewer = principal.party if principal.party in choices else (choices[0] if choices else None)
    return viewer, choices


def _unreleased(ctx: WebContext, a: dict[str, Any], who: str, entry: dict[str, Any]) -> None:
    """Why an agreement shows no overlap to ``who``, and the command that would release it."""
    latest = ctx.reads.latest_complete_run(a["agreement_id"])
    if a["state"] == "revoked":
        entry["status"] = "revoked: nothing more is released"
    elif latest:
        entry["status"] = f"run {latest} is complete but not released to {who} yet"
        entry["command"] = f"cleanroom-client overlap {a['agreement_id']}"
    elif a["state"] != "active":
        entry["status"] = "waiting for approval"
    elif a["attribution"]:
        entry["status"] = "attribution agreement; no overlap run"
    else:
        entry["status"] = "no overlap run has completed yet"


def _agreement_entry(ctx: WebContext, p: Principal, a: dict[str, Any], who: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"agreement": a, "partner": a["counterparty"] if a["proposer"] == who else a["proposer"]}
    try:
        found = overlap(ctx.reads, ctx.overlaps, p, a["agreement_id"], viewer=who)
        entry["overlap"] = found
        entry["heatmap"] = charts.heatmap(found["release"])
    except RequestError as exc:
        _unreleased(ctx, a, who, entry)
        entry["error"] = str(exc)
    return entry


@router.get("/partners")
def partners(request: Request, viewer: str | None = None, mine: str | None = None, theirs: str | None = None) -> Response:
    def view(p: Principal) -> Response:
        ctx = web(request)
        who, choices = _admin_viewer(ctx, p, viewer)
        if who is None:
            return render(request, "partners.html", viewer=None, choices=choices, ranking=None, agreements=[], totals={})
        pair = (mine, theirs) if mine and theirs else (None, None)
        ranked = ranking(ctx.reads, p, viewer=who, mine=pair[0], theirs=pair[1])
        for r in ranked["partners"]:
            r["bar"] = charts.share_bar(r["share_of_mine"])
        listed = list_agreements(ctx.reads, p, party=who, limit=500)["items"]
        agreements = [_agreement_entry(ctx, p, a, who) for a in listed]
        released = [e for e in agreements if "overlap" in e]
        totals = {
            "agreements": len(agreements),
            "released": len(released),
            "overlap": sum((e["overlap"]["release"]["totals"].get("overlap") or 0) for e in released),
        }
        return render(
            request,
            "partners.html",
            viewer=who,
            choices=choices,
            ranking=ranked,
            agreements=agreements,
            totals=totals,
            mine=pair[0],
            theirs=pair[1],
        )

    return page(request, "analyst", view)


def _credit_chart(current: dict[str, Any]) -> Any:
    body = current["body"]
    if current["view"] == "vendor":
        rows = body.get("partners", [])
        share = (body.get("metrics") or {}).get("partner_share") or {}
        for r in rows:
            r["share"] = share.get(r["partner"])
        return charts.credit_bars(rows)
    numeric = charts.amount(body.get("credited_won")) is not None or charts.amount(body.get("credited_open")) is not None
    return charts.credit_bars([body]) if numeric else None


@router.get("/attribution")
def attribution(request: Request, viewer: str | None = None, job: str | None = None) -> Response:
    def view(p: Principal) -> Response:
        ctx = web(request)
        who, choices = _admin_viewer(ctx, p, viewer)
        if who is None:
            return render(request, "attribution.html", viewer=None, choices=choices, jobs=[], current=None)
        jobs = released_attribution(ctx.reads, p, viewer=who, limit=100)["items"]
        current = next((j for j in jobs if j["job_id"] == job), jobs[0] if jobs else None)
        chart = _credit_chart(current) if current is not None else None
        return render(request, "attribution.html", viewer=who, choices=choices, jobs=jobs, current=current, chart=chart)

    return page(request, "analyst", view)
