"""Attribution jobs: one vendor's deals against every named partner's touches.

A job takes one complete attribution run per partner agreement (the vendor's
deal records identical in all), runs the model and releases:

- to the vendor: per-deal credit by its own deal references, per-partner
  aggregates and the ecosystem metrics;
- to each partner: its own aggregates under the agreed model, only the fields
  the terms let it see, each resting on at least k deals.

Every release is stored (asking again returns it unchanged) and audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import TYPE_CHECKING, Any

from cleanroom.attribution import credit_deals, ecosystem_metrics, partner_release, summarize_partners
from cleanroom.attribution.config import MODELS, AttributionConfig
from cleanroom.attribution.eligible_records import eligible_by_deal
from cleanroom.attribution.engine import DealCredit
from cleanroom.attribution.money import money_str
from cleanroom.attribution.recordio import decode_deals
from cleanroom.attribution.records import Deal, Touch
from cleanroom.coordinator.linkage import from_blobs
from cleanroom.coordinator.store import ReleaseBody, now, release_text
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from cleanroom.terms import Terms, canonical_json

if TYPE_CHECKING:
    from cleanroom.coordinator.core import Coordinator

# Parameters that must agree across a job's agreements (the model may differ per view).
_SHARED = ("lookback_days", "role_weights", "unassigned", "half_life_days", "fallback_model")


def _job_inputs(coord: "Coordinator", caller: str, run_ids: list[str]) -> list[tuple[dict, Terms, dict, dict]]:
    if not run_ids:
        raise InvalidArgument("name at least one attribution run")
    if len(set(run_ids)) != len(run_ids):
        raise InvalidArgument("a run is named twice")
    inputs, seen = [], set()
    for run_id in run_ids:
        run = coord.store.row("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if run is None:
            raise NotFound(f"run {run_id!r} does not exist")
        agreement = coord._agreement(caller, run["agreement_id"])
        if agreement["state"] == "revoked":
            raise FailedPrecondition(f"agreement {agreement['agreement_id']} was revoked; nothing more is released")
        terms = coord.terms_of(agreement)
        if run["purpose"] != "attribution" or terms.attribution is None:
            raise FailedPrecondition(f"run {run_id} is not an attribution run")
        if terms.vendor != caller:
            raise PermissionDenied(f"only the vendor of agreement {agreement['agreement_id']} ({terms.vendor}) runs its attribution")
        if agreement["agreement_id"] in seen:
            raise InvalidArgument(f"two runs of agreement {agreement['agreement_id']}; name one run per partner agreement")
        seen.add(agreement["agreement_id"])
        if run["state"] != "complete":
            waiting = coord.status(caller, agreement["agreement_id"], run_id)["waiting_for"]
            raise FailedPrecondition(f"run {run_id} of agreement {agreement['agreement_id']} is not complete (waiting for {', '.join(waiting)})")
        result = json.loads(coord.store.row("SELECT body_json FROM results WHERE run_id = ?", [run_id])["body_json"])
        stored = coord.store.row("SELECT deals, touches FROM attribution_links WHERE run_id = ?", [run_id])
        if stored is None:
            raise FailedPrecondition(f"run {run_id} was linked by an older coordinator; upload the deals and touches again")
        inputs.append((agreement, terms, run, {**result, "linked": from_blobs(bytes(stored["deals"]), bytes(stored["touches"]))}))
    digests = {r["deals_digest"] for *_, r in inputs}
    if len(digests) != 1:
        raise FailedPrecondition("the runs carry different deal records; upload the same deals file to every partner agreement")
    first = inputs[0][1].attribution.to_dict()
    for agreement, terms, _, _ in inputs[1:]:
        other = terms.attribution.to_dict()
        differ = [k for k in _SHARED if other[k] != first[k]]
        if differ:
            raise FailedPrecondition(
                f"agreement {agreement['agreement_id']} sets {', '.join(differ)} differently from {inputs[0][0]['agreement_id']}; "
                "one job credits every deal under one set of parameters"
            )
    return inputs


def _eligible_touches(inputs, lookback_days: int, today: dt.date) -> dict[int, list[Touch]]:
    """Every partner's eligible touches per deal ref, ordered (each run links by its own account labels)."""
    partners = [(terms.partner(), result["linked"].deals["account"], result["linked"].touches) for _, terms, _, result in inputs]
    return eligible_by_deal(inputs[0][3]["linked"].deals, partners, lookback_days, today)


def _as_of(text: str) -> dt.date:
    today = dt.datetime.now(dt.timezone.utc).date()
    if not text:
        return today
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"as_of {text!r} is not an ISO date (YYYY-MM-DD)") from None
    if day > today:
        raise InvalidArgument(f"as_of {text} is in the future; open deals are judged at a date that has passed")
    return day


def run_attribution(coord: "Coordinator", caller: str, run_ids: list[str], model: str = "", as_of: str = "") -> dict[str, Any]:
    inputs = _job_inputs(coord, caller, list(run_ids))
    config: AttributionConfig = inputs[0][1].attribution
    model = model or config.model
    if model not in MODELS:
        raise InvalidArgument(f"unknown model {model!r}; use one of: {', '.join(MODELS)}")
    refused = [a["agreement_id"] for a, t, _, _ in inputs if model not in t.attribution_models]
    if refused:
        raise FailedPrecondition(f"model {model!r} is not allowed by the terms of {', '.join(refused)}")
    today = _as_of(as_of)
    deals = decode_deals(inputs[0][3]["linked"].deals)
    touches = _eligible_touches(inputs, config.lookback_days, today)
    partners = [t.partner() for _, t, _, _ in inputs]
    credits = credit_deals(deals, touches, config, today, model, eligible=True)
    summaries = summarize_partners(deals, credits, partners=partners)
    job_id = f"job_{secrets.token_hex(8)}"
    released_at = now()
    vendor_body = {
        "kind": "attribution",
        "job_id": job_id,
        "viewer": caller,
        "model": model,
        "as_of": today.isoformat(),
        "agreements": [{"agreement_id": a["agreement_id"], "partner": t.partner(), "run_id": r["run_id"], "terms_hash": r["terms_hash"]}
                       for a, t, r, _ in inputs],
        "partners": [s.to_dict() for s in summaries],
        "deals": _per_deal(deals, credits),
        "metrics": ecosystem_metrics(deals, credits),
        "released_at": released_at,
    }
    vendor_release = _signed(coord, vendor_body)
    # Each partner sees its figures under the model its agreement names: each other model credits the deals once.
    by_model = {model: {s.partner: s for s in summaries}}
    partner_releases = []
    for agreement, terms, run, _ in inputs:
        agreed = terms.attribution
        if agreed.model not in by_model:
            credited = credit_deals(deals, touches, config, today, agreed.model, eligible=True)
            by_model[agreed.model] = {s.partner: s for s in summarize_partners(deals, credited, partners=partners)}
        summary = by_model[agreed.model][terms.partner()]
        body = {
            "kind": "attribution",
            "job_id": job_id,
            "viewer": terms.partner(),
            "agreement_id": agreement["agreement_id"],
            "run_id": run["run_id"],
            "terms_hash": run["terms_hash"],
            "model": agreed.model,
            "as_of": today.isoformat(),
            "released_at": released_at,
            **partner_release(summary, agreed),
        }
        partner_releases.append((agreement, run, terms.partner(), _signed(coord, body)))
    stored_vendor_release = ReleaseBody.of(json.dumps(vendor_release))  # one body under every agreement: compressed once
    with coord.store.transaction() as con:
        for agreement, _, run, _ in inputs:
            coord.store.insert_release(con, f"rel_{secrets.token_hex(8)}", agreement["agreement_id"], run["run_id"], caller, "attribution",
                                       stored_vendor_release, released_at)
            partner_row = next(s.to_dict() for s in summaries if s.partner == coord.terms_of(agreement).partner())
            coord.store.audit(con, "coordinator", "release.attribution", agreement["agreement_id"], {
                "viewer": caller, "job_id": job_id, "run_id": run["run_id"], "model": model, "as_of": today.isoformat(),
                "deals": len(deals), "partner": partner_row,
                "body_sha256": hashlib.sha256(vendor_release["body_json"].encode()).hexdigest(),
            })
        for agreement, run, partner, release in partner_releases:
            coord.store.insert_release(con, f"rel_{secrets.token_hex(8)}", agreement["agreement_id"], run["run_id"], partner, "attribution",
                                       json.dumps(release), released_at)
            coord.store.audit(con, "coordinator", "release.attribution", agreement["agreement_id"], json.loads(release["body_json"]))
    return vendor_release


def _per_deal(deals: list[Deal], credits: list[DealCredit]) -> list[dict[str, Any]]:
    """The vendor's per-deal section: each deal's credit beside its amount and currency."""
    entries = []
    for deal, credit in zip(deals, credits, strict=True):  # credit_deals keeps the order of the deals
        entry = credit.to_dict()
        entry["amount"] = money_str(deal.amount)
        entry["currency"] = deal.currency
        entries.append(entry)
    return entries


def _signed(coord: "Coordinator", body: dict[str, Any]) -> dict[str, Any]:
    body_json = canonical_json(body).decode("utf-8")
    return {"release_id": body["job_id"], "body_json": body_json, "signature": coord.store.signer.sign(body_json.encode("utf-8")).hex()}


def show_attribution(coord: "Coordinator", caller: str, agreement_id: str) -> dict[str, Any]:
    agreement = coord._agreement(caller, agreement_id)
    if agreement["state"] == "revoked":
        raise FailedPrecondition(f"agreement {agreement_id} was revoked; nothing more is released")
    if coord.terms_of(agreement).attribution is None:
        raise FailedPrecondition(f"agreement {agreement_id} does not include attribution")
    row = coord.store.row(
        "SELECT body_json, body_zlib FROM releases WHERE agreement_id = ? AND viewer = ? AND kind = 'attribution' ORDER BY released_at DESC LIMIT 1",
        [agreement_id, caller],
    )
    if row is None:
        raise FailedPrecondition(f"nothing has been released to {caller} under agreement {agreement_id} yet; the vendor runs `attribution run` first")
    return json.loads(release_text(row))
