"""Rendering pages: the Jinja environment, its number and time filters, the navigation and the error page.

No JavaScript and nothing from a CDN: HTML with inline CSS and SVG, so the
pages work offline and a strict Content-Security-Policy holds.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cleanroom.coordinator.web import charts

TEMPLATES = Path(__file__).parent.parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "svg"]), trim_blocks=True, lstrip_blocks=True
)


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
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(value: Any, n: int = 12) -> str:
    text = str(value or "")
    return text if len(text) <= n else text[:n] + "…"


env.filters.update(
    num=_num,
    pct=_pct,
    money=_money,
    days=_days,
    when=_when,
    short=_short,
    tojson_pretty=lambda v: json.dumps(v, indent=2, sort_keys=True, default=str),
)

NAV = [
    ("partners", "/partners", "Partner overview", "analyst"),
    ("attribution", "/attribution", "Attribution", "analyst"),
    ("audit", "/audit", "Audit trail", "auditor"),
    ("reports", "/reports", "Disclosure reports", "auditor"),
]


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    principal = values.pop("principal", None) or getattr(request.state, "principal", None)
    nav = [(k, href, label) for k, href, label, role in NAV if principal and (principal.role in (role, "admin"))]
    html = env.get_template(template).render(request_path=request.url.path, principal=principal, nav=nav, **values)
    return HTMLResponse(html, status_code=status)
