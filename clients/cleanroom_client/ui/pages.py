"""The bodies of the local view's pages, from what this party holds: agreements, receipts, targets."""

from __future__ import annotations

from typing import Any

from cleanroom.crypto.signing import verify_json
from cleanroom_client.features.targets import ScoringConfig, csv_columns, csv_rows
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.agreements import verified_terms
from cleanroom_client.protocol.receipts import ReceiptLog, alert_row, release_body, release_of, upload_kind, verify_entries
from cleanroom_client.remote import Agreement
from cleanroom_client.ui.html import esc, heat_map, kv_table, targets_table


def latest_overlaps(receipts: ReceiptLog, public_pem: bytes | None) -> dict[str, dict[str, Any]]:
    """The latest overlap release recorded per agreement (receipts hold what we were given), among those whose
    coordinator signature verifies: an altered release is not shown (the receipts page names it)."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in receipts.entries():
        release = entry.get("release") or {}
        if entry.get("type") != "release" or "cells" not in release or release.get("kind") in ("reveal", "attribution"):
            continue
        if public_pem is None or not _signed(release, public_pem):
            continue
        if release["agreement_id"] not in latest or release["released_at"] >= latest[release["agreement_id"]]["released_at"]:
            latest[release["agreement_id"]] = release
    return latest


def _signed(release: dict[str, Any], public_pem: bytes) -> bool:
    try:
        return verify_json(public_pem, release_body(release), bytes.fromhex(str(release.get("signature", ""))))
    except ValueError:  # not hex
        return False


def overview_body(profile: Profile, agreements: list[Agreement], overlaps: dict[str, dict[str, Any]]) -> str:
    """One card per agreement (its latest overlap as a heat map), then overlaps of agreements no longer listed."""
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
        cards.append(
            f'<section class="card"><h2>{esc(view["other"])}</h2><p class="small muted">{esc(agreement_id)}</p>'
            f"{heat_map(view, pops[0], pops[1], profile.party, view['other'])}</section>"
        )
    return (
        f'<div class="grid">{"".join(cards)}</div>'
        if cards
        else '<p class="muted">No agreements yet: <code>cleanroom-client agreement propose --with PARTY ...</code></p>'
    )


def agreement_body(profile: Profile, agreement: Agreement, view: dict[str, Any] | None) -> tuple[str, str]:
    """The page's title and body: the overlap released to us, and the terms."""
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
        rows.append(
            (f"{viewer} sees accounts on", ", ".join(f"its {m} x {terms.other(viewer)}'s {t}" for m, t in pairs) or "counts only")
        )
    for party in terms.parties:
        rows.append((f"{party} shares", ", ".join(terms.shared_columns(party)) or "no columns"))
        rows.append((f"{party} key fingerprint", keys.get(party, "not given yet")))
    rows += [("approved by", ", ".join(agreement.approved_by) or "nobody yet"), ("terms hash", agreement.terms_hash)]
    body = (
        f'<section class="card"><h2>Overlap released to you</h2>{heat_map(view, list(terms.populations[profile.party]), list(terms.populations[other]), profile.party, other, terms.reveal_granted(profile.party))}</section>'
        f'<section class="card"><h2>Terms</h2>{kv_table(rows)}</section>'
    )
    return f"Agreement with {other}", body


def targets_body(targets: list[dict[str, Any]], scoring: ScoringConfig) -> str:
    if not targets:
        body = '<p class="muted">No account has been revealed to you yet.</p>'
    else:
        body = targets_table(targets, csv_columns(targets), csv_rows(targets))
    weights = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in scoring.weights.items())
    return body + (
        f'<p class="small muted">Score 0-100: weighted mean of {esc(weights)} (see <code>cleanroom-client targets --help</code>). '
        "Partner fields were sealed to your key; the coordinator could not read them.</p>"
    )


def receipts_body(entries: list[dict[str, Any]], key: bytes | None) -> tuple[list[tuple[str, str]], str]:
    """The banners (does every receipt verify?) and the table of receipts."""
    problems = verify_entries(entries, key) if key else [{"index": 0, "problem": "no coordinator-signing.pub in the profile"}]
    bad = {p["index"] for p in problems}
    banners = (
        [("ok", f"all {len(entries)} receipts verify: coordinator signatures valid, digests match what this client sent")]
        if not problems
        else [
            (
                "bad",
                f"{len(problems)} receipt(s) do NOT verify: " + "; ".join(f"#{p['index']}: {p['problem']}" for p in problems[:5]),
            )
        ]
    )
    rows = []
    for i, e in enumerate(entries, 1):
        direction, agreement, run, what, digest = _receipt_row(e)
        status = "does not verify" if i in bad else "our own note" if e["type"] == "alert" else "verified"
        rows.append(
            f'<tr><td class="num">{i}</td><td>{esc(e["recorded_at"])}</td><td>{direction}</td><td>{esc(agreement)}</td>'
            f'<td>{esc(run)}</td><td>{esc(what)}</td><td class="small"><code>{esc(str(digest)[:16])}</code></td><td>{status}</td></tr>'
        )
    body = (
        '<table><thead><tr><th class="num">#</th><th>recorded</th><th>direction</th><th>agreement</th><th>run</th><th>what</th>'
        f"<th>digest / signature</th><th>check</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return banners, body


def _receipt_row(e: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """(direction, agreement, run, what, digest or signature) of one receipt."""
    if e["type"] == "upload":
        r = e["receipt"]
        what = f"{upload_kind(r)} upload: {int(r['total_points']):,} points in {r['total_chunks']} chunks"
        return "sent", r["agreement_id"], r["run_id"], what, r["upload_digest"]
    if e["type"] == "alert":
        return ("alert", *alert_row(e["alert"]))
    rel = release_of(e)
    kind = rel.get("kind")
    what = (
        f"account-level reveal: {rel['rows']:,} accounts"
        if kind == "reveal"
        else f"attribution release ({rel.get('model')})"
        if kind == "attribution"
        else f"overlap release ({len(rel.get('cells', []))} cells)"
    )
    return "received", rel.get("agreement_id", ""), rel.get("run_id", ""), what, rel.get("signature", "")
