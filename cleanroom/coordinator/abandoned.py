"""Uploads begun and never committed are deleted, with their chunks, once idle for a while.

An upload left by a client that gave up, or refused at commit and not begun again, would otherwise
keep its points in the store for good. Idle means: no chunk since ``Limits.upload_idle_seconds``
(an upload's activity is its begin and its latest chunk). Each sweep is audited once, by the
coordinator. The run stays as it was: a party whose upload was swept begins it again (the run
waits for "your upload"), and a partner's re-blinding, swept, is begun again from ``sync``.
"""

from __future__ import annotations

import datetime as dt

from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.connection import time_text


def sweep_abandoned(store: Store, idle_seconds: float, at: dt.datetime | None = None) -> list[str]:
    """Delete the uploads idle since before ``at - idle_seconds``; returns their ids."""
    at = at or dt.datetime.now(dt.UTC)
    before = time_text(at - dt.timedelta(seconds=idle_seconds))
    swept: list[str] = []
    for upload in store.uploads.idle(before):
        run = store.runs.get(upload.run_id)
        with store.transaction() as con:
            gone = store.uploads.sweep(con, upload.upload_id, before)  # None: a chunk arrived since the read above
            if gone is None:
                continue
            store.audit(
                con,
                "coordinator",
                "upload.abandoned",
                run.agreement_id if run else None,
                {
                    "cause": "idle",
                    "idle_seconds": idle_seconds,
                    "upload_id": upload.upload_id,
                    "run_id": upload.run_id,
                    "party": upload.party,
                    "kind": upload.kind,
                    **gone,
                },
            )
        swept.append(upload.upload_id)
    if swept:
        store.checkpoint()  # the chunks leave the WAL and the file's live blocks now, not at the next write
    return swept
