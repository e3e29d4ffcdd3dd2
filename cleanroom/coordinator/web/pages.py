"""Server-rendered pages for vendors (partner overview, attribution) and auditors (audit trail, disclosure reports).

No JavaScript and nothing from a CDN: HTML with inline CSS and SVG, so the
pages work offline and a strict Content-Security-Policy holds. They read
through ``WebService`` like the API does, so they show the API's numbers.

Login: the API key is posted once over a form; the server answers with a
random session token in a cookie that is
- HttpOnly (scripts cannot read it),
- SameSite=Strict (no other site can make the browser send it, which is
  also the CSRF defence; the two POST forms additionally check Origin),
- Secure whenever the request came over HTTPS (directly, or through a TLS
  proxy on this host that sets X-Forwarded-Proto). Over plain HTTP a Secure
  cookie would not be stored by most browsers, and plain HTTP is only ever
  served on loopback (see ``app.HttpServer``), where the traffic does not
  leave the machine.
The session lasts 8 hours at most, ends at logout and when the key is revoked.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cleanroom.errors import PermissionDenied, RequestError
from cleanroom.coordinator.web import charts
from cleanroom.coordinator.web.auth import SESSION_COOKIE, Principal

TEMPLATES = Path(__file__).parent / "templates"

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "svg"]), trim_blocks=True, lstrip_blocks=True)


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value:.1%}"


def _money(value: Any, currency: str | None = None) -> str:
    if isinstance(value, dict) and value.get("suppressed"):
        return "suppressed"
    amount = charts.amount(value)
    if amount is None:
        return "—"
    text = f"{amount:,.2f}" if amount == amount.quantize(Decimal("0.01")) else f"{amount:,}"
    return f"{text} {currency}" if currency else text


def _days(value: Any) -> str:
    return "—" if value is None else f"{value:,.1f} days"


def _when(value: Any) -> str:
    if not value:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(value: Any, n: int = 12) -> str:
    text = str(value or "")
    return text if len(text) <= n else text[:n] + "…"


env.filters.update(num=_num, pct=_pct, money=_money, days=_days, when=_when, short=_short,
                   tojson_pretty=lambda v: json.dumps(v, indent=2, sort_keys=True, default=str))

router = APIRouter(include_in_schema=False)

NAV = [
    ("partners", "/partners", "Partner overview", "analyst"),
    ("attribution", "/attribution", "Attribution", "analyst"),
    ("audit", "/audit", "Audit trail", "auditor"),
    ("reports", "/reports", "Disclosure reports", "auditor"),
]


def _ctx(request: Request):
    return request.app.state.web


def _principal(request: Request) -> Principal | None:
    web = _ctx(request)
    key_id = web.sessions.key_id(request.cookies.get(SESSION_COOKIE))
    principal = web.keys.principal(key_id) if key_id else None
    if principal is not None:
        request.state.principal = principal
    return principal


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    principal = values.pop("principal", None) or getattr(request.state, "principal", None)
    nav = [(k, href, label) for k, href, label, role in NAV if principal and (principal.role in (role, "admin"))]
    html = env.get_template(template).render(request_path=request.url.path, principal=principal, nav=nav, **values)
    return HTMLResponse(html, status_code=status)


def _error_page(request: Request, principal: Principal | None, exc: RequestError) -> HTMLResponse:
    if isinstance(exc, PermissionDenied) and principal is not None:
        _ctx(request).service.audit_denial(principal, f"PAGE GET {request.url.path}", exc)
        _ctx(request).metrics.http_denials.labels(exc.code).inc()
    return render(request, "error.html", exc.http_status, principal=principal, code=exc.code, message=str(exc))


def not_found(request: Request) -> HTMLResponse:
    return render(request, "error.html", 404, principal=_principal(request), code="NOT_FOUND", message=f"There is no page at {request.url.path}.")


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _home(principal: Principal) -> str:
    return "/audit" if principal.role == "auditor" else "/partners"


def _safe_next(value: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no '//'): never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # no Origin header (older clients, scripts): SameSite=Strict still protects the session
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin == expected


def _page(request: Request, role: str, view):
    """Run a page view for a logged-in principal with ``role`` (or admin); errors become error pages."""
    principal = _principal(request)
    if principal is None:
        return _login_redirect(request)
    try:
        if principal.role not in (role, "admin"):
            _ctx(request).service.require(principal, role, f"open {request.url.path}")
        return view(principal)
    except RequestError as exc:
        return _error_page(request, principal, exc)


# -- login -------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    principal = _principal(request)
    if principal is not None:
        return RedirectResponse(_safe_next(next) or _home(principal), status_code=303)
    return render(request, "login.html", next=_safe_next(next) or "", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    body = (await request.body())[:8192].decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    next_path = _safe_next(form.get("next"))
    if not _same_origin(request):
        return render(request, "login.html", 403, next=next_path or "", error="This form must be sent from this site.")
    web = _ctx(request)
    principal = web.keys.authenticate(form.get("api_key", ""))
    if principal is None:
        web.metrics.http_denials.labels("UNAUTHENTICATED").inc()
        return render(request, "login.html", 401, next=next_path or "", error="That API key is not valid, or it was revoked.")
    token = web.sessions.create(principal.key_id)
    response = RedirectResponse(next_path or _home(principal), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(web.sessions.lifetime),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if _same_origin(request):
        _ctx(request).sessions.drop(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/")
def home(request: Request) -> Response:
    principal = _principal(request)
    return RedirectResponse(_home(principal) if principal else "/login", status_code=303)


# -- vendor pages ------------------------------------------------------------------------------


def _viewer_choices(request: Request, principal: Principal) -> list[str]:
    """Parties an admin may view as (every party of an agreement); others see only their own."""
    if not principal.is_admin:
        return [principal.party]
    parties: set[str] = set()
    for a in _ctx(request).service.list_agreements(principal, limit=500)["items"]:
        parties.update(a["parties"])
    return sorted(parties)


def _admin_viewer(request: Request, principal: Principal, viewer: str | None) -> tuple[str | None, list[str]]:
    choices = _viewer_choices(request, principal)
    if not principal.is_admin:
        return viewer or principal.party, choices
    if not viewer:
        viewer = principal.party if principal.party in choices else (choices[0] if choices else None)
    return viewer, choices


@router.get("/partners")
def partners(request: Request, viewer: str | None = None, mine: str | None = None, theirs: str | None = None) -> Response:
    def view(p: Principal) -> Response:
        service = _ctx(request).service
        who, choices = _admin_viewer(request, p, viewer)
        if who is None:
            return render(request, "partners.html", viewer=None, choices=choices, ranking=None, agreements=[], totals={})
        pair = (mine, theirs) if mine and theirs else (None, None)
        ranking = service.ranking(p, viewer=who, mine=pair[0], theirs=pair[1])
        for r in ranking["partners"]:
            r["bar"] = charts.share_bar(r["share_of_mine"])
        agreements = []
        listed = service.list_agreements(p, party=who, limit=500)["items"]
        for a in listed:
            entry: dict[str, Any] = {"agreement": a, "partner": a["counterparty"] if a["proposer"] == who else a["proposer"]}
            try:
                overlap = service.overlap(p, a["agreement_id"], viewer=who)
                entry["overlap"] = overlap
                entry["heatmap"] = charts.heatmap(overlap["release"])
            except RequestError as exc:
                latest = service.latest_complete_run(a["agreement_id"])
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
                entry["error"] = str(exc)
            agreements.append(entry)
        released = [e for e in agreements if "overlap" in e]
        totals = {
            "agreements": len(agreements),
            "released": len(released),
            "overlap": sum((e["overlap"]["release"]["totals"].get("overlap") or 0) for e in released),
        }
        return render(request, "partners.html", viewer=who, choices=choices, ranking=ranking, agreements=agreements, totals=totals,
                      mine=pair[0], theirs=pair[1])

    return _page(request, "analyst", view)


@router.get("/attribution")
def attribution(request: Request, viewer: str | None = None, job: str | None = None) -> Response:
    def view(p: Principal) -> Response:
        service = _ctx(request).service
        who, choices = _admin_viewer(request, p, viewer)
        if who is None:
            return render(request, "attribution.html", viewer=None, choices=choices, jobs=[], current=None)
        jobs = service.attribution(p, viewer=who, limit=100)["items"]
        current = next((j for j in jobs if j["job_id"] == job), jobs[0] if jobs else None)
        chart = None
        if current is not None:
            body = current["body"]
            if current["view"] == "vendor":
                rows = body.get("partners", [])
                share = (body.get("metrics") or {}).get("partner_share") or {}
                for r in rows:
                    r["share"] = share.get(r["partner"])
                chart = charts.credit_bars(rows)
            else:
                numeric = charts.amount(body.get("credited_won")) is not None or charts.amount(body.get("credited_open")) is not None
                chart = charts.credit_bars([body]) if numeric else None
        return render(request, "attribution.html", viewer=who, choices=choices, jobs=jobs, current=current, chart=chart)

    return _page(request, "analyst", view)


# -- auditor pages -----------------------------------------------------------------------------


def _parse_time(value: str | None, name: str) -> dt.datetime | None:
    from cleanroom.coordinator.web.api import parse_time

    return parse_time(value or None, name)


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
    def view(p: Principal) -> Response:
        service = _ctx(request).service
        filters = {k: v for k, v in {"agreement_id": agreement_id, "party": party, "action": action, "since": since, "until": until}.items() if v}
        verification = service.verification(p)
        page = service.audit_entries(
            p, agreement_id=agreement_id or None, party=party or None, action=action or None,
            since=_parse_time(since, "from"), until=_parse_time(until, "until"), limit=50, cursor=cursor or None,
        )
        for e in page["items"]:
            e["summary"] = _details_summary(e["details"])
        agreements = service.list_agreements(p, limit=500)["items"]
        next_url = "/audit?" + urlencode({**filters, "cursor": page["next_cursor"]}) if page["next_cursor"] else None
        first_url = "/audit?" + urlencode(filters) if cursor else None
        return render(request, "audit.html", verification=verification, entries=page["items"], filters=filters,
                      agreements=agreements, actions=service.audit_actions(p), next_url=next_url, first_url=first_url)

    return _page(request, "auditor", view)


@router.get("/reports")
def reports(request: Request, agreement_id: str | None = None) -> Response:
    def view(p: Principal) -> Response:
        service = _ctx(request).service
        agreements = service.list_agreements(p, limit=500)["items"]
        chosen = agreement_id or (agreements[-1]["agreement_id"] if agreements else None)
        report = service.disclosure_report(p, chosen) if chosen else None
        detail = service.agreement(p, chosen) if chosen else None
        if report:
            for v in report["viewers"]:
                for r in v["releases"]:
                    r["summary"] = _released_summary(r)
        return render(request, "reports.html", agreements=agreements, chosen=chosen, report=report, detail=detail)

    return _page(request, "auditor", view)


def _released_summary(release: dict[str, Any]) -> dict[str, Any]:
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
    if "withheld" in released:
        out["withheld"] = released["withheld"]
    if "metrics" in released:
        out["metrics"] = released["metrics"]
    own = {k: released[k] for k in ("credited_won", "credited_open", "deals_sourced", "deals_influenced", "win_rate_influenced") if k in released}
    if own:
        out["own"] = own
    rest = {k: v for k, v in released.items() if k not in ("cells", "totals", "dp", "partners", "deals", "deal_count", "metrics", "withheld", *own)}
    if rest:
        out["other"] = rest
    return out
