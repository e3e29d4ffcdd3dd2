"""Pipeline-value releases: the encrypted sums a run computed (value_sums.py), signed, stored and audited.

A release shows, per cell of the viewer's grant, the count the overlap release shows there (suppressed
cells: no count, no sum) and the sum of the viewer's own amounts as a ciphertext only the viewer can
decrypt. Under DP it debits the viewer's budget like any release; asking again returns the stored one.
"""

from __future__ import annotations

import json
from typing import Any

from cleanroom.coordinator.agreements import Agreements, new_id
from cleanroom.coordinator.release_policy import overlap_release
from cleanroom.coordinator.releases import Releases, release_head
from cleanroom.coordinator.runs import Runs
from cleanroom.coordinator.store import NewRelease, Store, now, with_head
from cleanroom.coordinator.value_sums import grant_of
from cleanroom.errors import FailedPrecondition, PermissionDenied
from cleanroom.terms import canonical_json

KIND = "pipeline_value"


class ValueReleases:
    def __init__(self, store: Store, agreements: Agreements, runs: Runs, releases: Releases) -> None:
        self._store = store
        self._agreements = agreements
        self._runs = runs
        self._releases = releases

    def release(self, caller: str, agreement_id: str, run_id: str = "") -> dict[str, Any]:
        """{"body_json", "signature" (hex), "audit_head"}: the caller's pipeline value from a complete run."""
        agreement = self._agreements.not_revoked(caller, agreement_id)
        terms = agreement.terms
        grant = grant_of(terms, caller)
        if grant is None:
            raise PermissionDenied(f"the terms of agreement {agreement_id} grant {caller} no pipeline value")
        run = self._run(agreement_id, run_id)
        stored = self._store.releases.stored(run.run_id, caller, KIND)
        if stored is not None:
            return with_head(json.loads(stored.text), stored.audit_head)  # the same sums again, at no cost
        result = json.loads(self._store.runs.result_json(run.run_id) or "{}")
        sums = result.get("pipeline_value", {}).get(caller)
        if sums is None:
            raise FailedPrecondition(
                f"run {run.run_id} computed no pipeline value for {caller} (it ran under other terms); map again"
            )
        spent, epsilon, budget = self._releases.budget(caller, agreement_id, terms, run.seq)
        ciphertexts = {(c["mine"], c["theirs"]): c["ciphertext"] for c in sums["cells"]}
        counts = {(c["mine"], c["theirs"]): c for c in overlap_release(terms, caller, result)["cells"]}
        cells = []
        for mine, theirs in grant.cells:
            cell = counts[(mine, theirs)]
            shown = not cell["suppressed"] and (mine, theirs) in ciphertexts
            cells.append({**cell, "ciphertext": ciphertexts[(mine, theirs)] if shown else None})
        body: dict[str, Any] = {
            **release_head(KIND, run, caller, terms),
            "value_kind": grant.kind,
            "cap": grant.cap,
            "cells": cells,
            "dp": None,
        }
        if "dp" in sums:
            body["dp"] = {
                **sums["dp"],
                "epsilon_spent": epsilon,
                "budget": budget,
                "budget_remaining": round(budget - spent - epsilon, 12),
            }
        body_json = canonical_json(body).decode("utf-8")
        signed = {"body_json": body_json, "signature": self._store.signer.sign(body_json.encode("utf-8")).hex()}
        with self._store.transaction() as con:
            audited = {k: body[k] for k in ("run_id", "viewer", "cells", "cap", "value_kind", "terms_hash", "dp")}
            head = self._store.signed_head(self._store.audit(con, "coordinator", "release.pipeline_value", agreement_id, audited))
            head_json = json.dumps(head.to_dict())
            self._store.releases.insert(
                con,
                NewRelease(new_id("rel"), agreement_id, run.run_id, caller, KIND, now(), epsilon),
                json.dumps(signed, sort_keys=True),
                head_json,
            )
        return with_head(signed, head_json)

    def _run(self, agreement_id: str, run_id: str) -> Any:
        latest = self._runs.complete_overlap(agreement_id, run_id)
        if latest is None:
            raise FailedPrecondition(f"agreement {agreement_id} has no complete run yet: map first")
        return latest
