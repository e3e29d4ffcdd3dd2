"""The disclosure report: per viewer, everything released to it under an agreement."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from cleanroom.coordinator.audit.export import open_read_only
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store.audit import agreement_of, denied_requests, releases_of
from cleanroom.coordinator.store.records import StoredBody
from cleanroom.errors import InputError

# What a release disclosed: overlap cells and totals (with DP spend), the vendor's attribution
# (partners, deals, metrics), a partner's own attribution figures, co-sell targets.
_RELEASED_FIELDS = (
    "cells",
    "totals",
    "dp",
    "partners",
    "deals",
    "metrics",
    "targets",
    "epsilon_spent",
    "credited_won",
    "credited_open",
    "deals_sourced",
    "deals_influenced",
    "win_rate_influenced",
)


def disclosure_report(data_dir: DataDir, agreement_id: str) -> dict[str, Any]:
    con = open_read_only(data_dir)
    try:
        report = disclosure_report_from(con, agreement_id)
    finally:
        con.close()
    if report is None:
        raise InputError(f"agreement {agreement_id!r} does not exist in {data_dir.path}")
    return report


def disclosure_report_from(con: duckdb.DuckDBPyConnection, agreement_id: str) -> dict[str, Any] | None:
    """The report read through an open connection (the REST API uses the running store's); None if no such agreement."""
    agreement = agreement_of(con, agreement_id)
    if agreement is None:
        return None
    rows = releases_of(con, agreement_id)  # a store from before body_zlib has no such column
    denied = denied_requests(con, agreement_id)
    viewers: dict[str, list[dict[str, Any]]] = {agreement.proposer: [], agreement.counterparty: []}
    for row in rows:
        viewer, kind, run_id, released_at = row["viewer"], row["kind"], row["run_id"], row["released_at"]
        release = json.loads(StoredBody(row["body_json"], row.get("body_zlib")).text)
        if "body_json" in release:  # attribution releases are stored signed: {release_id, body_json, signature}
            release = json.loads(release["body_json"])
        viewers.setdefault(viewer, []).append(
            {
                "kind": kind,
                "run_id": run_id,
                "released_at": released_at,
                "terms_version": release.get("terms_version"),
                "terms_hash": release.get("terms_hash"),
                "released": {k: v for k, v in release.items() if k in _RELEASED_FIELDS},
            }
        )
    return {
        "agreement_id": agreement_id,
        "parties": list(agreement.parties),
        "state": agreement.state,
        "current_terms": {"version": agreement.version, "terms_hash": agreement.terms_hash},
        "viewers": [{"viewer": v, "releases": r} for v, r in viewers.items()],
        "denied_requests": [{"party": a, "at": at, **json.loads(d)} for a, at, d in denied],
    }
