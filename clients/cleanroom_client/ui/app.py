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

import hmac
import io
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cleanroom.errors import CleanroomError
from cleanroom_client.protocol.mapping import verified_terms
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.receipts import ReceiptLog, release_of, verify_entries
from cleanroom_client.remote import Remote
from cleanroom_client.features.targets import ScoringConfig, build_targets, collect, csv_columns, csv_rows
from cleanroom_client.ui.html import esc, heat_map, kv_table, page, targets_table

COOKIE = "cleanroom_ui"


def latest_overlaps(receipts: ReceiptLog) -> dict[str, dict[str, Any]]:
    """The latest overlap release recorded per agreement (receipts hold what we were given)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in receipts.entries():
        release = entry.get("release") or {}
        if entry.get("type") == "release" and "cells" in release and release.get("kind") not in ("reveal", "attribution"):
            if release["agreement_id"] not in latest or release["released_at"] >= latest[release["agreement_id"]]["released_at"]:
                latest[release["agreement_id"]] = release
    return latest


def create_app(profile: Profile, token: str, port: int, scoring: ScoringConfig | None = None) -> FastAPI:
    app = FastAPI(title="Cleanroom local view", docs_url=None, redoc_url=None, openapi_url=None)
    receipts = ReceiptLog(profile.path / "receipts.jsonl")
    allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    scoring = scoring or ScoringConfig()

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.headers.get("host", "") not in allowed_hosts:
            return Response("this view answers on the loopback address only", status_code=421)
        given = request.query_params.get("token")
        if given is not None:
            if not hmac.compare_digest(given, token):
                return Response("wrong session token: open the link `cleanroom-client ui` printed", status_code=403)
            response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        if not hmac.compare_digest(request.cookies.get(COOKIE, ""), token):
            return Response("no session: open the link `cleanroom-client ui` printed (it carries a one-time token)", status_code=403)
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

    def remote_agreements() -> tuple[list, list[tuple[str, str]]]:
        try:
            with Remote(profile) as remote:
                return remote.list(), []
        except CleanroomError as exc:
            return [], [("warn", f"coordinator unreachable, showing what this machine holds: {exc}")]

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> str:
        agreements, banners = remote_agreements()
        overlaps = latest_overlaps(receipts)
        cards = []
        for agreement in agreements:
            terms = verified_terms(agreement)
            other = terms.other(profile.party)
            grants = sorted(terms.reveal_granted(profile.party))
            reveal = ", ".join(f"{m} x {t}" for m, t in grants) or "counts only"
            cards.append(
                f'<section class="card" data-agreement="{esc(agreement.agreement_id)}"><h2><a href="/agreements/{esc(agreement.agreement_id)}">'
                f'{esc(other)}</a> <span class="pill {esc(agreement.state)}">{esc(agreement.state)}</span></h2>'
                f'<p class="small muted">{esc(agreement.agreement_id)} v{agreement.version} &middot; you see accounts on: {esc(reveal)}'
                + (' &middot; <a href="/targets">co-sell targets</a>' if grants else "")
                + f"</p>{heat_map(overlaps.get(agreement.agreement_id), list(terms.populations[profile.party]), list(terms.populations[other]), profile.party, other, set(grants))}</section>"
            )
        for agreement_id in sorted(set(overlaps) - {a.agreement_id for a in agreements}):
            view = overlaps[agreement_id]
            pops = list(dict.fromkeys(c["mine"] for c in view["cells"])), list(dict.fromkeys(c["theirs"] for c in view["cells"]))
            cards.append(f'<section class="card"><h2>{esc(view["other"])}</h2><p class="small muted">{esc(agreement_id)}</p>'
                         f'{heat_map(view, pops[0], pops[1], profile.party, view["other"])}</section>')
        body = f'<div class="grid">{"".join(cards)}</div>' if cards else '<p class="muted">No agreements yet: <code>cleanroom-client agreement propose --with PARTY ...</code></p>'
        return page("Agreements and overlap", "overview", profile.party, body, request.state.nonce, banners)

    @app.get("/agreements/{agreement_id}", response_class=HTMLResponse)
    def agreement_page(request: Request, agreement_id: str) -> Response:
        try:
            with Remote(profile) as remote:
                agreement = remote.get(agreement_id)
        except CleanroomError as exc:
            return HTMLResponse(page("Agreement", "overview", profile.party, f"<p>{esc(exc)}</p>", request.state.nonce, [("bad", str(exc))]), 404)
        terms = verified_terms(agreement)
        other = terms.other(profile.party)
        keys = {e.party: e.fingerprint for e in agreement.encryption}
        rows = [
            ("state", f"{agreement.state} (version {agreement.version})"),
            ("parties", f"{agreement.proposer} (proposer), {agreement.counterparty}"),
            ("you bring", ", ".join(terms.populations[profile.party])),
            (f"{other} brings", ", ".join(terms.populations[other])),
            ("match keys", ", ".join(terms.key_kinds)),
            ("minimum cell count", str(terms.min_count)),
            ("differential privacy", f"epsilon {terms.dp_epsilon:g} per release" if terms.dp_epsilon else "off (exact counts)"),
        ]
        for viewer in terms.parties:
            pairs = sorted(terms.reveal_granted(viewer))
            rows.append((f"{viewer} sees accounts on", ", ".join(f"its {m} x {terms.other(viewer)}'s {t}" for m, t in pairs) or "counts only"))
        for party in terms.parties:
            rows.append((f"{party} shares", ", ".join(terms.shared_columns(party)) or "no columns"))
            rows.append((f"{party} key fingerprint", keys.get(party, "not given yet")))
        rows += [("approved by", ", ".join(agreement.approved_by) or "nobody yet"), ("terms hash", agreement.terms_hash)]
        view = latest_overlaps(receipts).get(agreement_id)
        body = (f'<section class="card"><h2>Overlap released to you</h2>{heat_map(view, list(terms.populations[profile.party]), list(terms.populations[other]), profile.party, other, terms.reveal_granted(profile.party))}</section>'
                f'<section class="card"><h2>Terms</h2>{kv_table(rows)}</section>')
        return HTMLResponse(page(f"Agreement with {other}", "overview", profile.party, body, request.state.nonce))

    def current_targets() -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        with Remote(profile) as remote:
            revealed, notes = collect(remote, profile, receipts)
        return build_targets(revealed, scoring), [("warn", n) for n in notes]

    @app.get("/targets", response_class=HTMLResponse)
    def targets_page(request: Request) -> Response:
        try:
            targets, banners = current_targets()
        except CleanroomError as exc:
            return HTMLResponse(page("Co-sell targets", "targets", profile.party, "", request.state.nonce, [("bad", str(exc))]), 409)
        if not targets:
            body = '<p class="muted">No account has been revealed to you yet.</p>'
        else:
            body = targets_table(targets, csv_columns(targets), csv_rows(targets))
        weights = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in scoring.weights.items())
        body += f'<p class="small muted">Score 0-100: weighted mean of {esc(weights)} (see <code>cleanroom-client targets --help</code>). Partner fields were sealed to your key; the coordinator could not read them.</p>'
        return HTMLResponse(page("Co-sell targets", "targets", profile.party, body, request.state.nonce, banners))

    @app.get("/targets.csv")
    def targets_csv() -> Response:
        try:
            targets, _ = current_targets()
        except CleanroomError as exc:
            return Response(str(exc), status_code=409, media_type="text/plain")
        import csv

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(csv_columns(targets))
        writer.writerows(csv_rows(targets))
        return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="co-sell-targets.csv"'})

    @app.get("/receipts", response_class=HTMLResponse)
    def receipts_page(request: Request) -> str:
        entries = receipts.entries()
        key = profile.signing_public_key
        problems = verify_entries(entries, key) if key else [{"index": 0, "problem": "no coordinator-signing.pub in the profile"}]
        bad = {p["index"] for p in problems}
        banners = [("ok", f"all {len(entries)} receipts verify: coordinator signatures valid, digests match what this client sent")] if not problems else \
                  [("bad", f"{len(problems)} receipt(s) do NOT verify: " + "; ".join(f"#{p['index']}: {p['problem']}" for p in problems[:5]))]
        rows = []
        for i, e in enumerate(entries, 1):
            if e["type"] == "upload":
                r = e["receipt"]
                what = f"{str(r['kind']).lower().replace('upload_kind_', '')} upload: {int(r['total_points']):,} points in {r['total_chunks']} chunks"
                agreement, run, digest, direction = r["agreement_id"], r["run_id"], r["upload_digest"], "sent"
            else:
                rel = release_of(e)
                kind = rel.get("kind")
                what = (f"account-level reveal: {rel['rows']:,} accounts" if kind == "reveal"
                        else f"attribution release ({rel.get('model')})" if kind == "attribution"
                        else f"overlap release ({len(rel.get('cells', []))} cells)")
                agreement, run, digest, direction = rel.get("agreement_id", ""), rel.get("run_id", ""), rel.get("signature", ""), "received"
            status = "does not verify" if i in bad else "verified"
            rows.append(f'<tr><td class="num">{i}</td><td>{esc(e["recorded_at"])}</td><td>{direction}</td><td>{esc(agreement)}</td>'
                        f'<td>{esc(run)}</td><td>{esc(what)}</td><td class="small"><code>{esc(str(digest)[:16])}</code></td><td>{status}</td></tr>')
        body = ('<table><thead><tr><th class="num">#</th><th>recorded</th><th>direction</th><th>agreement</th><th>run</th><th>what</th>'
                f'<th>digest / signature</th><th>check</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
        return page("Receipts", "receipts", profile.party, body, request.state.nonce, banners)

    return app


def new_token() -> str:
    return secrets.token_urlsafe(24)
