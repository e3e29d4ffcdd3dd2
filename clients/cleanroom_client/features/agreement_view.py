"""An agreement as people and machines see it: its terms as a table, or its record and terms as JSON."""

from __future__ import annotations

from typing import Any

from cleanroom.terminal.console import print_table
from cleanroom.terms import Terms
from cleanroom_client.protocol.agreements import verified_terms
from cleanroom_client.remote import Agreement


def agreement_dict(agreement: Agreement) -> dict[str, Any]:
    """An agreement for machines: its record and its terms, checked against their hash."""
    terms = verified_terms(agreement)
    return {
        "agreement_id": agreement.agreement_id,
        "version": agreement.version,
        "state": agreement.state,
        "proposer": agreement.proposer,
        "counterparty": agreement.counterparty,
        "approved_by": list(agreement.approved_by),
        "terms_hash": agreement.terms_hash,
        "terms": terms.raw,
        # Each party's encryption key fingerprint (compare them out of band before the first run).
        "encryption": {e.party: e.fingerprint for e in agreement.encryption},
        # Each party's upload-signing key fingerprint: a party re-blinds only points its partner signed.
        "signing": [{"party": k.party, "fingerprint": k.fingerprint} for k in agreement.signing],
    }


def print_terms(agreement: Agreement, terms: Terms) -> None:
    a, b = terms.parties
    print_table(
        f"Agreement {agreement.agreement_id} v{agreement.version} ({agreement.state})",
        ["term", "value"],
        [
            ["parties", f"{a} (proposer), {b}"],
            [f"{a} brings", ", ".join(terms.populations[a])],
            [f"{b} brings", ", ".join(terms.populations[b])],
            ["match keys", ", ".join(terms.key_kinds)],
            ["minimum cell count", terms.min_count],
            ["minimum set size", terms.min_set_size],
            ["retention after run", f"{terms.retention_seconds} s"],
            ["runs", _runs_row(terms)],
            ["differential privacy", _dp_row(terms)],
            *_attribution_rows(terms),
            *_reveal_rows(agreement, terms),
            *_greenfield_rows(terms),
            *_signing_rows(agreement, terms),
            ["approved by", ", ".join(agreement.approved_by) or "nobody yet"],
            ["terms hash", agreement.terms_hash],
        ],
    )


def _runs_row(terms: Terms) -> str:
    if not terms.continuous:
        return "one-off (each map sends everything; points deleted after the run)"
    return (
        f"continuous: at most one release every {terms.epoch_seconds:,} s; the coordinator keeps the double-blinded "
        "tokens until revocation and each map sends only what changed"
    )


def _dp_row(terms: Terms) -> str:
    if not terms.dp_epsilon:
        return "off (exact counts)"
    if terms.continuous:
        return (
            f"epsilon {terms.dp_epsilon:g} over {terms.dp_horizon:,} releases (continual tree counter), "
            f"budget {terms.dp_budget:g}"
        )
    return f"epsilon {terms.dp_epsilon:g} per release, budget {terms.dp_budget:g}"


def _reveal_rows(agreement: Agreement, terms: Terms) -> list[list[Any]]:
    if not terms.reveals():
        return [["account-level reveal", "off (counts only)"]]
    rows = []
    for viewer in terms.parties:
        pairs = sorted(terms.reveal_granted(viewer))
        shown = ", ".join(f"its {m} x {terms.other(viewer)}'s {t}" for m, t in pairs) or "nothing (counts only)"
        rows.append([f"{viewer} sees accounts", shown])
    for party in terms.parties:
        rows.append([f"{party} shares", ", ".join(terms.shared_columns(party)) or "no columns"])
    keys = {e.party: e.fingerprint for e in agreement.encryption}
    for party in terms.parties:
        rows.append([f"{party} key fingerprint", keys.get(party, "not given yet")])
    return rows


def _greenfield_rows(terms: Terms) -> list[list[Any]]:
    """The filters the other party wrote that run on a party's machine (shown in full: approving the terms
    approves them), and who counts the other's accounts it does not have."""
    rows: list[list[Any]] = []
    for party, defined in sorted(terms.raw.get("population_filters", {}).items()):
        for name, text in sorted(defined.items()):
            rows.append([f"{party}'s {name} (filter {terms.other(party)} wrote, run on {party}'s file)", text])
    for viewer in terms.parties:
        granted = terms.greenfield_granted(viewer)
        if granted:
            rows.append(
                [f"{viewer} counts greenfield", f"{terms.other(viewer)}'s accounts in {', '.join(granted)} it does not have"]
            )
    return rows


def _signing_rows(agreement: Agreement, terms: Terms) -> list[list[Any]]:
    keys = {k.party: k.fingerprint for k in agreement.signing}
    return [[f"{party} upload-signing key", keys.get(party, "not given yet")] for party in terms.parties]


def _attribution_rows(terms: Terms) -> list[list[Any]]:
    if terms.attribution is None:
        return [["attribution", "off"]]
    c = terms.attribution
    weights = ", ".join(f"{r} {w}" for r, w in c.role_weights.items())
    return [
        ["attribution", f"{terms.vendor}'s deals credited to {terms.partner()} by {c.model}"],
        ["models allowed", ", ".join(terms.attribution_models)],
        ["lookback", f"{c.lookback_days} days"],
        ["role weights", f"{weights} ({c.unassigned} absent roles)"],
        ["partner sees", f"{', '.join(c.partner_sees)} (from {c.min_deals} deals)"],
    ]
