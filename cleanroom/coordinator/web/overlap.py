"""Released overlap: one agreement's latest release to a viewer (``ranking`` ranks the viewer's partners by it).

Released numbers only. The gRPC ``overlap`` call makes a release the first
time a party asks for a run's result (and, under differential privacy, debits
the party's budget). Nothing here does that: the REST layer serves the
releases the coordinator already made and stored, and answers 404 when there
is none yet, naming the client command that makes it. So no dashboard
refresh, script or crawler can spend a privacy budget.
"""

from __future__ import annotations

import threading
from typing import Any

from cleanroom.coordinator.store.reads import WebReads
from cleanroom.coordinator.web.access import agreement_for, viewer_for
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.integrity import checked_overlap
from cleanroom.errors import FailedPrecondition, NotFound

CACHE_ENTRIES = 4096


class OverlapCache:
    """Answers kept per caller and arguments until the store changes (dashboards poll this path).

    A new release, a completed run or a revocation each commit a transaction, which
    moves the store's generation, so a cached answer never outlives what it was read from.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], generation: int) -> dict[str, Any] | None:
        with self._lock:
            hit = self._entries.get(key)
        return hit[1] if hit is not None and hit[0] == generation else None

    def put(self, key: tuple[Any, ...], generation: int, value: dict[str, Any]) -> None:
        with self._lock:
            if len(self._entries) >= CACHE_ENTRIES:
                self._entries.clear()
            self._entries[key] = (generation, value)


def overlap(
    reads: WebReads, cache: OverlapCache, p: Principal, agreement_id: str, viewer: str | None = None, run_id: str | None = None
) -> dict[str, Any]:
    """The latest overlap released to the viewer under the agreement (or the one of ``run_id``)."""
    key = (p.role, p.party, agreement_id, viewer, run_id)
    generation = reads.generation
    found = cache.get(key, generation)
    if found is None:
        found = _read_overlap(reads, p, agreement_id, viewer, run_id)
        cache.put(key, generation, found)
    return found


def _read_overlap(reads: WebReads, p: Principal, agreement_id: str, viewer: str | None, run_id: str | None) -> dict[str, Any]:
    agreement = agreement_for(reads, p, agreement_id)
    viewer = viewer_for(p, viewer, agreement)
    if agreement.state == "revoked":
        raise FailedPrecondition(
            f"agreement {agreement_id} was revoked; nothing more is released under it (its disclosure report still lists what was)"
        )
    stored = reads.latest_overlap(agreement_id, viewer, run_id)
    latest = reads.latest_complete_run(agreement_id)
    if stored is None:
        if run_id:
            raise NotFound(f"nothing from run {run_id!r} of agreement {agreement_id} has been released to {viewer}")
        how = (
            f"run {latest} is complete; {viewer}'s client makes the release with `cleanroom-client overlap {agreement_id}`"
            if latest
            else "no run of it has completed yet"
        )
        raise NotFound(
            f"no overlap has been released to {viewer} under agreement {agreement_id}: {how}. "
            "This API serves only numbers already released, so it never spends a privacy budget."
        )
    release = checked_overlap(stored, reads.signing_key)
    return {
        "agreement_id": agreement_id,
        "viewer": viewer,
        "partner": release.get("other"),
        "release": release,
        "latest_complete_run_id": latest,
        "newer_run_unreleased": latest is not None and latest != stored.run_id and not run_id,
    }
