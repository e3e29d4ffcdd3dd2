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
from dataclasses import dataclass
from typing import Any, Protocol

from cleanroom.attribution import credit_deals, ecosystem_metrics, partner_release, summarize_partners
from cleanroom.attribution.config import MODELS, AttributionConfig
from cleanroom.attribution.eligible_records import eligible_by_deal
from cleanroom.attribution.engine import DealCredit
from cleanroom.attribution.money import money_str
from cleanroom.attribution.recordio import decode_deals
from cleanroom.attribution.records import Deal, Touch
from cleanroom.attribution.summary import PartnerSummary
from cleanroom.coordinator.agreements import Agreement, Agreements, new_id
from cleanroom.coordinator.linkage import Linked, from_blobs
from cleanroom.coordinator.runs import Runs
from cleanroom.coordinator.store import NewRelease, Store, Tx, now, pack_body, with_head
from cleanroom.coordinator.store.records import RunRow
from cleanroom.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from cleanroom.terms import canonical_json

# Parameters that must agree across a job's agreements (the model may differ per view).
_SHARED = ("lookback_days", "role_weights", "unassigned", "half_life_days", "fallback_model")


@dataclass(frozen=True)
class JobInput:
    """One partner agreement's part of a job: its complete attribution run and what that run linked."""

    agreement: Agreement
    run: RunRow
    config: AttributionConfig  # the agreement's attribution terms
    partner: str
    deals_digest: str
    linked: Linked


@dataclass(frozen=True)
class Credited:
    """A job's crediting under its chosen model."""

    job_id: str
    model: str
    today: dt.date
    released_at: str
    deals: list[Deal]
    touches: dict[int, list[Touch]]
    credits: list[DealCredit]
    summaries: list[PartnerSummary]


class AttributionJobs:
    def __init__(self, store: Store, agreements: Agreements, runs: Runs) -> None:
        self._store = store
        self._agreements = agreements
        self._runs = runs

    def run(self, caller: str, run_ids: list[str], model: str = "", as_of: str = "") -> dict[str, Any]:
        inputs = self._inputs(caller, list(run_ids))
        config = inputs[0].config
        model = model or config.model
        if model not in MODELS:
            raise InvalidArgument(f"unknown model {model!r}; use one of: {', '.join(MODELS)}")
        refused = [i.agreement.agreement_id for i in inputs if model not in i.agreement.terms.attribution_models]
        if refused:
            raise FailedPrecondition(f"model {model!r} is not allowed by the terms of {', '.join(refused)}")
        job = _credit(inputs, config, model, _as_of(as_of))
        vendor_release = self._signed(_vendor_body(caller, inputs, job))
        partner_releases = [self._signed(body) for body in _partner_bodies(inputs, config, job)]
        with self._store.transaction() as con:
            entries = self._audit_vendor_release(con, caller, inputs, job, vendor_release)
            for one, release in zip(inputs, partner_releases, strict=True):
                details = json.loads(release["body_json"])
                entries.append(self._store.audit(con, "coordinator", "release.attribution", one.agreement.agreement_id, details))
            # One head for the job, as of its last entry: it covers the entry of every release the job made.
            head_json = json.dumps(self._store.signed_head(entries[-1]).to_dict())
            stored = pack_body(json.dumps(vendor_release))  # one body under every agreement: compressed once
            for one, release in zip(inputs, partner_releases, strict=True):
                agreement_id, run_id = one.agreement.agreement_id, one.run.run_id
                self._store.releases.insert(
                    con,
                    NewRelease(new_id("rel"), agreement_id, run_id, caller, "attribution", job.released_at),
                    stored,
                    head_json,
                )
                self._store.releases.insert(
                    con,
                    NewRelease(new_id("rel"), agreement_id, run_id, one.partner, "attribution", job.released_at),
                    json.dumps(release),
                    head_json,
                )
        return with_head(vendor_release, head_json)

    def show(self, caller: str, agreement_id: str) -> dict[str, Any]:
        agreement = self._agreements.not_revoked(caller, agreement_id)
        if agreement.terms.attribution is None:
            raise FailedPrecondition(f"agreement {agreement_id} does not include attribution")
        stored = self._store.releases.latest(agreement_id, caller, "attribution")
        if stored is None:
            raise FailedPrecondition(
                f"nothing has been released to {caller} under agreement {agreement_id} yet; the vendor runs `attribution run` first"
            )
        return with_head(json.loads(stored.text), stored.audit_head)

    # -- inputs ------------------------------------------------------------------------------

    def _inputs(self, caller: str, run_ids: list[str]) -> list[JobInput]:
        if not run_ids:
            raise InvalidArgument("name at least one attribution run")
        if len(set(run_ids)) != len(run_ids):
            raise InvalidArgument("a run is named twice")
        inputs: list[JobInput] = []
        for run_id in run_ids:
            agreement, run = self._named(caller, run_id)
            if any(i.agreement.agreement_id == agreement.agreement_id for i in inputs):
                raise InvalidArgument(f"two runs of agreement {agreement.agreement_id}; name one run per partner agreement")
            if run.state != "complete":
                waiting = self._runs.status(caller, agreement.agreement_id, run_id)["waiting_for"]
                raise FailedPrecondition(
                    f"run {run_id} of agreement {agreement.agreement_id} is not complete (waiting for {', '.join(waiting)})"
                )
            inputs.append(self._linked(agreement, run))
        _check_one_job(inputs)
        return inputs

    def _named(self, caller: str, run_id: str) -> tuple[Agreement, RunRow]:
        """A named run and its agreement, checked: an attribution run the caller runs as vendor."""
        run = self._runs.get(run_id)
        agreement = self._agreements.not_revoked(caller, run.agreement_id)
        terms = agreement.terms
        if run.purpose != "attribution" or terms.attribution is None:
            raise FailedPrecondition(f"run {run_id} is not an attribution run")
        if terms.vendor != caller:
            raise PermissionDenied(f"only the vendor of agreement {agreement.agreement_id} ({terms.vendor}) runs its attribution")
        return agreement, run

    def _linked(self, agreement: Agreement, run: RunRow) -> JobInput:
        """The job's input from one complete run: what its completion linked."""
        run_id = run.run_id
        result = json.loads(self._store.runs.result_json(run_id) or "{}")
        blobs = self._store.runs.link(run_id)
        if blobs is None:
            raise FailedPrecondition(f"run {run_id} was linked by an older coordinator; upload the deals and touches again")
        terms = agreement.terms
        assert terms.attribution is not None  # checked by _named
        return JobInput(agreement, run, terms.attribution, terms.partner(), str(result["deals_digest"]), from_blobs(*blobs))

    # -- releases ----------------------------------------------------------------------------

    def _signed(self, body: dict[str, Any]) -> dict[str, Any]:
        body_json = canonical_json(body).decode("utf-8")
        return {
            "release_id": body["job_id"],
            "body_json": body_json,
            "signature": self._store.signer.sign(body_json.encode("utf-8")).hex(),
        }

    def _audit_vendor_release(
        self, con: Tx, caller: str, inputs: list[JobInput], job: Credited, release: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The vendor's release audited under every agreement of the job, one entry each; returns the entries."""
        body_sha256 = hashlib.sha256(release["body_json"].encode()).hexdigest()
        entries = []
        for one in inputs:
            partner_row = next(s.to_dict() for s in job.summaries if s.partner == one.partner)
            details = {
                "viewer": caller,
                "job_id": job.job_id,
                "run_id": one.run.run_id,
                "model": job.model,
                "as_of": job.today.isoformat(),
                "deals": len(job.deals),
                "partner": partner_row,
                "body_sha256": body_sha256,
            }
            entries.append(self._store.audit(con, "coordinator", "release.attribution", one.agreement.agreement_id, details))
        return entries


def _check_one_job(inputs: list[JobInput]) -> None:
    """The runs carry the same deals, and their agreements the same crediting parameters."""
    if len({i.deals_digest for i in inputs}) != 1:
        raise FailedPrecondition("the runs carry different deal records; upload the same deals file to every partner agreement")
    first = inputs[0].config.to_dict()
    for one in inputs[1:]:
        other = one.config.to_dict()
        differ = [k for k in _SHARED if other[k] != first[k]]
        if differ:
            raise FailedPrecondition(
                f"agreement {one.agreement.agreement_id} sets {', '.join(differ)} differently from {inputs[0].agreement.agreement_id}; "
                "one job credits every deal under one set of parameters"
            )


def _as_of(text: str) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    if not text:
        return today
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"as_of {text!r} is not an ISO date (YYYY-MM-DD)") from None
    if day > today:
        raise InvalidArgument(f"as_of {text} is in the future; open deals are judged at a date that has passed")
    return day


def _credit(inputs: list[JobInput], config: AttributionConfig, model: str, today: dt.date) -> Credited:
    deals = decode_deals(inputs[0].linked.deals)
    # Every partner's eligible touches per deal ref, ordered (each run links by its own account labels).
    partners = [(i.partner, i.linked.deals["account"], i.linked.touches) for i in inputs]
    touches = eligible_by_deal(inputs[0].linked.deals, partners, config.lookback_days, today)
    credits = credit_deals(deals, touches, config, today, model, eligible=True)
    summaries = summarize_partners(deals, credits, partners=[i.partner for i in inputs])
    return Credited(new_id("job"), model, today, now(), deals, touches, credits, summaries)


def _vendor_body(caller: str, inputs: list[JobInput], job: Credited) -> dict[str, Any]:
    return {
        "kind": "attribution",
        "job_id": job.job_id,
        "viewer": caller,
        "model": job.model,
        "as_of": job.today.isoformat(),
        "agreements": [
            {
                "agreement_id": i.agreement.agreement_id,
                "partner": i.partner,
                "run_id": i.run.run_id,
                "terms_hash": i.run.terms_hash,
            }
            for i in inputs
        ],
        "partners": [s.to_dict() for s in job.summaries],
        "deals": _per_deal(job.deals, job.credits),
        "metrics": ecosystem_metrics(job.deals, job.credits),
        "released_at": job.released_at,
    }


def _partner_bodies(inputs: list[JobInput], config: AttributionConfig, job: Credited) -> list[dict[str, Any]]:
    """Each partner's figures under the model its agreement names: each other model credits the deals once."""
    by_model = {job.model: {s.partner: s for s in job.summaries}}
    partners = [i.partner for i in inputs]
    bodies = []
    for one in inputs:
        agreed = one.config
        if agreed.model not in by_model:
            credited = credit_deals(job.deals, job.touches, config, job.today, agreed.model, eligible=True)
            by_model[agreed.model] = {s.partner: s for s in summarize_partners(job.deals, credited, partners=partners)}
        bodies.append(
            {
                "kind": "attribution",
                "job_id": job.job_id,
                "viewer": one.partner,
                "agreement_id": one.agreement.agreement_id,
                "run_id": one.run.run_id,
                "terms_hash": one.run.terms_hash,
                "model": agreed.model,
                "as_of": job.today.isoformat(),
                "released_at": job.released_at,
                **partner_release(by_model[agreed.model][one.partner], agreed),
            }
        )
    return bodies


def _per_deal(deals: list[Deal], credits: list[DealCredit]) -> list[dict[str, Any]]:
    """The vendor's per-deal section: each deal's credit beside its amount and currency."""
    entries = []
    for deal, credit in zip(deals, credits, strict=True):  # credit_deals keeps the order of the deals
        entry = credit.to_dict()
        entry["amount"] = money_str(deal.amount)
        entry["currency"] = deal.currency
        entries.append(entry)
    return entries


class _HasJobs(Protocol):
    attribution: AttributionJobs


def run_attribution(coord: _HasJobs, caller: str, run_ids: list[str], model: str = "", as_of: str = "") -> dict[str, Any]:
    """Run an attribution job (``Coordinator.run_attribution``)."""
    return coord.attribution.run(caller, run_ids, model, as_of)


def show_attribution(coord: _HasJobs, caller: str, agreement_id: str) -> dict[str, Any]:
    """The newest attribution release to the caller under an agreement (``Coordinator.show_attribution``)."""
    return coord.attribution.show(caller, agreement_id)
