"""Releases to a viewer: the overlap counts and the account-level reveal.

What a viewer may see is the release policy's call (``release``: pure
functions over the stored result); this module decides whether a release may
happen now (agreement state, privacy budget, current terms), signs it, stores
it and audits it. A release once made is stored: asking again returns it
unchanged, at no further privacy cost.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cleanroom.coordinator.agreements import Agreement, Agreements, new_id
from cleanroom.coordinator.continual import loss_after
from cleanroom.coordinator.release_policy import overlap_release, reveal_cells
from cleanroom.coordinator.runs import Runs
from cleanroom.coordinator.store import NewRelease, Store, now, with_head
from cleanroom.coordinator.store.records import RunRow
from cleanroom.crypto.sealed import reveal_digest
from cleanroom.errors import DataLoss, FailedPrecondition, NotFound, PermissionDenied, ResourceExhausted
from cleanroom.reveal import reveal_count_problems
from cleanroom.terms import Terms


def release_head(kind: str, run: RunRow, viewer: str, terms: Terms) -> dict[str, Any]:
    """What every signed release body starts with: what it is, of which run and terms, for whom, and when."""
    return {
        "kind": kind,
        "agreement_id": run.agreement_id,
        "run_id": run.run_id,
        "viewer": viewer,
        "other": terms.other(viewer),
        "terms_version": int(run.version),
        "terms_hash": run.terms_hash,
        "released_at": now(),
        "min_count": terms.min_count,
    }


class Releases:
    def __init__(self, store: Store, agreements: Agreements, runs: Runs) -> None:
        self._store = store
        self._agreements = agreements
        self._runs = runs

    # -- overlap -----------------------------------------------------------------------------

    def overlap(self, caller: str, agreement_id: str, run_id: str = "") -> dict[str, Any]:
        agreement = self._agreements.not_revoked(caller, agreement_id)
        result_run = self._result_run(caller, agreement_id, run_id)
        stored = self._store.releases.stored(result_run, caller, "overlap")
        if stored is not None:
            return with_head(json.loads(stored.text), stored.audit_head)  # the same numbers again, at no cost
        terms = agreement.terms
        run = self._runs.get(result_run)
        spent, epsilon, budget = self._budget(caller, agreement_id, terms, run.seq)
        body = overlap_release(terms, caller, json.loads(self._store.runs.result_json(result_run) or "{}"))
        if terms.dp_epsilon is not None:
            body["dp"] = {"epsilon_spent": epsilon, "budget": budget, "budget_remaining": round(budget - spent - epsilon, 12)}
        body.update(
            agreement_id=agreement_id,
            run_id=result_run,
            terms_version=int(run.version),
            terms_hash=run.terms_hash,
            released_at=now(),
        )
        body["signature"] = self._store.signer.sign_json(body).hex()
        with self._store.transaction() as con:
            released: dict[str, Any] = {k: body[k] for k in ("run_id", "viewer", "cells", "totals", "terms_hash") if k in body}
            if "dp" in body:
                released["dp"] = body["dp"]
            head = self._store.signed_head(self._store.audit(con, "coordinator", "release.overlap", agreement_id, released))
            head_json = json.dumps(head.to_dict())
            self._store.releases.insert(
                con,
                NewRelease(new_id("rel"), agreement_id, result_run, caller, "overlap", now(), epsilon),
                json.dumps(body, sort_keys=True),
                head_json,
            )
        return with_head(body, head_json)

    def _result_run(self, caller: str, agreement_id: str, run_id: str) -> str:
        """The run whose result is released: the one named, else the newest overlap result."""
        if run_id:
            if self._store.runs.result_json(run_id, agreement_id) is None:
                raise NotFound(f"run {run_id!r} of agreement {agreement_id} has no result")
            return run_id
        latest = self._store.runs.latest_overlap_result(agreement_id)
        if latest is None:
            waiting = self._runs.status(caller, agreement_id)["waiting_for"]
            raise FailedPrecondition(f"agreement {agreement_id} has no complete run yet (waiting for {', '.join(waiting)})")
        return str(latest)

    def budget(self, caller: str, agreement_id: str, terms: Terms, seq: int | None) -> tuple[float, float, float]:
        """``_budget`` for the other kinds of release (pipeline value): one budget per viewer and agreement."""
        return self._budget(caller, agreement_id, terms, seq)

    def _budget(self, caller: str, agreement_id: str, terms: Terms, seq: int | None) -> tuple[float, float, float]:
        """(epsilon spent so far, epsilon this release costs, budget); refuses when the budget cannot pay for it.

        A continuous agreement's releases are one stream through the tree counter (continual.py): release t
        costs what releases 1..t cost together beyond what the viewer has paid, so T releases cost
        O(log T) levels of epsilon, and the whole horizon exactly epsilon."""
        if terms.dp_epsilon is None or terms.dp_budget is None:  # parse_terms sets both or neither
            return 0.0, 0.0, 0.0
        epsilon, budget = terms.dp_epsilon, terms.dp_budget
        spent = self._store.releases.epsilon_spent(agreement_id, caller)
        if terms.continuous and terms.dp_horizon is not None and seq is not None:
            epsilon = max(0.0, loss_after(seq, terms.dp_epsilon, terms.dp_horizon) - spent)
        if spent + epsilon > budget + 1e-9:
            raise ResourceExhausted(
                f"privacy budget exhausted: {caller} has spent epsilon {spent:g} of {budget:g} on agreement "
                f"{agreement_id}, and a release costs {epsilon:g}; earlier releases can still be read at no cost"
            )
        return spent, epsilon, budget

    # -- reveal ------------------------------------------------------------------------------

    def reveal(self, caller: str, agreement_id: str, run_id: str = "") -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Account-level reveal to the caller: its own matched account labels on the pairs the terms grant
        it, with the other side's populations there and sealed fields. Stored: asking again returns it."""
        agreement = self._agreements.not_revoked(caller, agreement_id)
        if not agreement.terms.reveal_granted(caller):
            raise PermissionDenied(
                f"the terms of agreement {agreement_id} grant {caller} no account-level reveal; "
                "it may see the overlap counts only (`overlap`)"
            )
        run = self._reveal_run(caller, agreement_id, run_id)
        stored = self._store.releases.stored(run.run_id, caller, "reveal")
        if stored is not None:
            body = json.loads(stored.text)
            rows = body.pop("sealed_rows")
            return with_head(body, stored.audit_head), [{**r, "sealed": base64.b64decode(r["sealed"])} for r in rows]
        if agreement.state != "active" or run.terms_hash != agreement.terms_hash:
            raise FailedPrecondition(
                f"run {run.run_id} ran under terms {run.terms_hash[:12]}..., and the terms of {agreement_id} are now "
                f"{agreement.terms_hash[:12]}... ({agreement.state}); accounts are revealed only under the terms both "
                "parties approve now: map again under them"
            )
        return self._release_reveal(caller, agreement, run)

    def _reveal_run(self, caller: str, agreement_id: str, run_id: str) -> RunRow:
        """The complete overlap run revealed from: the one named, else the newest."""
        latest = self._runs.complete_overlap(agreement_id, run_id)
        if latest is None:
            status = self._runs.status(caller, agreement_id)
            why = (
                "nobody has mapped under it yet"
                if status["state"] == "none"
                else f"waiting for {', '.join(status['waiting_for'])}"
            )
            raise FailedPrecondition(f"agreement {agreement_id} has no complete run yet ({why})")
        return latest

    def _checked_reveal_rows(self, run: RunRow, caller: str, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The run's reveal rows for the caller, refused (DATA_LOSS, audited) when they reveal more than the
        counts allow (cleanroom.reveal): whatever altered them, nothing is released."""
        stored = self._store.runs.reveal_rows(run.run_id, caller)
        if any(r.component is None or r.mine is None for r in stored):
            raise FailedPrecondition(
                f"run {run.run_id} was completed by an older coordinator, whose reveal rows cannot be checked against the "
                "counts; map again for a reveal"
            )
        rows = [
            {
                "account": int(r.account),
                "their_account": int(r.their_account),
                "theirs": json.loads(r.theirs),
                "sealed": bytes(r.sealed) if r.sealed is not None else b"",
                "mine": json.loads(r.mine or "[]"),
                "component": int(r.component or 0),
            }
            for r in stored
        ]
        problems = reveal_count_problems(cells, rows)
        if problems:
            with self._store.transaction() as con:
                details = {"run_id": run.run_id, "viewer": caller, "problems": problems[:5]}
                self._store.audit(con, "coordinator", "reveal.refused", run.agreement_id, details)
            raise DataLoss(
                f"the reveal rows stored for run {run.run_id} disagree with its released counts ({problems[0]}); nothing was "
                "revealed. The store was altered or is damaged: tell the coordinator's operator"
            )
        return rows

    def _release_reveal(self, caller: str, agreement: Agreement, run: RunRow) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        terms, agreement_id = agreement.terms, agreement.agreement_id
        result = json.loads(self._store.runs.result_json(run.run_id) or "{}")
        cells = reveal_cells(terms, caller, result)
        rows = self._checked_reveal_rows(run, caller, cells)
        body: dict[str, Any] = {
            **release_head("reveal", run, caller, terms),
            "cells": cells,
            "rows": len(rows),
            "rows_digest": reveal_digest(rows),
        }
        body["signature"] = self._store.signer.sign_json(body).hex()
        sealed_rows = [{**r, "sealed": base64.b64encode(r["sealed"]).decode("ascii")} for r in rows]
        with self._store.transaction() as con:
            released = {k: body[k] for k in ("run_id", "viewer", "cells", "rows", "rows_digest", "terms_hash")}
            head = self._store.signed_head(self._store.audit(con, "coordinator", "release.reveal", agreement_id, released))
            head_json = json.dumps(head.to_dict())
            self._store.releases.insert(
                con,
                NewRelease(new_id("rel"), agreement_id, run.run_id, caller, "reveal", now()),
                json.dumps({**body, "sealed_rows": sealed_rows}, sort_keys=True),
                head_json,
            )
            # The release holds the rows now: one copy of the sealed bytes, not two.
            self._store.runs.delete_reveal_rows(con, run.run_id, caller)
        return with_head(body, head_json), rows
