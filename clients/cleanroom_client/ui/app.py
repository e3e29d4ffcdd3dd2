"""The party's local web view (``cleanroom-client ui``): FastAPI on 127.0.0.1 only.

What it shows is this party's own: its agreements (from the coordinator), the
overlap matrices released to it (from its receipts, so viewing never asks
for a new release or spends a privacy budget), its co-sell targets (sealed
rows fetched from the coordinator and opened here, with its private key) and
its receipts.

Local hardening: the server binds the loopback interface only; every request
must carry the session token printed at start (as ``?token=`` once, then an
HttpOnly, SameSite=Strict cookie), so another local user or a web page in the
browser cannot read the data; the Host header must be the loopback address
(no DNS rebinding); pages are GET-only and sent with a strict
Content-Security-Policy (scripts only with a per-response nonce), so a
partner-supplied value that slipped past escaping still could not run.
"""

from __future__ import annotations

import csv
import hmac
import io
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cleanroom.errors import CleanroomError
from cleanroom_client.features.gather import collect
from cleanroom_client.features.targets import ScoringConfig, build_targets, csv_columns, csv_rows
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.remote import Agreement, Remote
from cleanroom_client.ui.html import esc, page
from cleanroom_client.ui.pages import agreement_body, latest_overlaps, overview_body, receipts_body, targets_body

__all__ = ["COOKIE", "create_app", "latest_overlaps", "new_token"]

COOKIE = "cleanroom_ui"


def create_app(profile: Profile, token: str, port: int, scoring: ScoringConfig | None = None) -> FastAPI:
    app = FastAPI(title="Cleanroom local view", docs_url=None, redoc_url=None, openapi_url=None)
    receipts = ReceiptLog.of(profile)
    chosen = scoring or ScoringConfig()
    app.middleware("http")(_guard(token, {f"127.0.0.1:{port}", f"localhost:{port}"}))

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> str:
        agreements, banners = _remote_agreements(profile)
        body = overview_body(profile, agreements, latest_overlaps(receipts, profile.signing_public_key))
        return page("Agreements and overlap", "overview", profile.party, body, request.state.nonce, banners)

    @app.get("/agreements/{agreement_id}", response_class=HTMLResponse)
    def agreement_page(request: Request, agreement_id: str) -> Response:
        try:
            with Remote(profile) as remote:
                agreement = remote.get(agreement_id)
        except CleanroomError as exc:
            return HTMLResponse(
                page("Agreement", "overview", profile.party, f"<p>{esc(exc)}</p>", request.state.nonce, [("bad", str(exc))]), 404
            )
        title, body = agreement_body(profile, agreement, latest_overlaps(receipts, profile.signing_public_key).get(agreement_id))
        return HTMLResponse(page(title, "overview", profile.party, body, request.state.nonce))

    @app.get("/targets", response_class=HTMLResponse)
    def targets_page(request: Request) -> Response:
        try:
            targets, banners = _current_targets(profile, receipts, chosen)
        except CleanroomError as exc:
            return HTMLResponse(
                page("Co-sell targets", "targets", profile.party, "", request.state.nonce, [("bad", str(exc))]), 409
            )
        body = targets_body(targets, chosen)
        return HTMLResponse(page("Co-sell targets", "targets", profile.party, body, request.state.nonce, banners))

    @app.get("/targets.csv")
    def targets_csv() -> Response:
        try:
            targets, _ = _current_targets(profile, receipts, chosen)
        except CleanroomError as exc:
            return Response(str(exc), status_code=409, media_type="text/plain")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(csv_columns(targets))
        writer.writerows(csv_rows(targets))
        return Response(
            "\ufeff" + buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="co-sell-targets.csv"'},
        )

    @app.get("/receipts", response_class=HTMLResponse)
    def receipts_page(request: Request) -> str:
        banners, body = receipts_body(receipts.entries(), profile.signing_public_key)
        return page("Receipts", "receipts", profile.party, body, request.state.nonce, banners)

    return app


Handler = Callable[[Request], Awaitable[Response]]


def _guard(token: str, allowed_hosts: set[str]) -> Callable[[Request, Handler], Awaitable[Response]]:
    """The middleware: loopback Host only, the session token (once in the URL, then a cookie), strict headers."""

    async def guard(request: Request, call_next: Handler) -> Response:
        if request.headers.get("host", "") not in allowed_hosts:
            return Response("this view answers on the loopback address only", status_code=421)
        given = request.query_params.get("token")
        if given is not None:
            if not hmac.compare_digest(given, token):
                return Response("wrong session token: open the link `cleanroom-client ui` printed", status_code=403)
            redirect = RedirectResponse(request.url.path, status_code=303)
            redirect.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return redirect
        if not hmac.compare_digest(request.cookies.get(COOKIE, ""), token):
            return Response(
                "no session: open the link `cleanroom-client ui` printed (it carries a one-time token)", status_code=403
            )
        nonce = secrets.token_urlsafe(16)
        request.state.nonce = nonce
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data:; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    return guard


def _remote_agreements(profile: Profile) -> tuple[list[Agreement], list[tuple[str, str]]]:
    try:
        with Remote(profile) as remote:
            return remote.list(), []
    except CleanroomError as exc:
        return [], [("warn", f"coordinator unreachable, showing what this machine holds: {exc}")]


def _current_targets(
    profile: Profile, receipts: ReceiptLog, scoring: ScoringConfig
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    with Remote(profile) as remote:
        revealed, notes = collect(remote, profile, receipts)
    return build_targets(revealed, scoring), [("warn", n) for n in notes]


def new_token() -> str:
    return secrets.token_urlsafe(24)
