"""The disclosure report: per viewer, everything released to it under an agreement."""

from __future__ import annotations

import json
from typing import Any

from cleanroom.audit.export import open_read_only
from cleanroom.coordinator.datadir import DataDir
from cleanroom.errors import InputError


def disclosure_report(data_dir: DataDir, agreement_id: str) -> dict[str, Any]:
    con = open_read_only(data_dir)
    try:
        agreement = con.execute(
            "SELECT proposer, counterparty, version, terms_hash, state FROM agreements WHERE agreement_id = ?", [agreement_id]
        ).fetchone()
        if agreement is None:
            raise InputError(f"agreement {agreement_id!r} does not exist in {data_dir.path}")
        rows = con.execute(
            "SELECT viewer, kind, run_id, released_at, body_json FROM releases WHERE agreement_id = ? ORDER BY released_at",
            [agreement_id],
        ).fetchall()
        denied = con.execute(
            "SELECT actor, logged_at, details_json FROM audit_log WHERE agreement_id = ? AND action = 'request.denied' ORDER BY seq",
            [agreement_id],
        ).fetchall()
    finally:
        con.close()
    proposer, counterparty, version, terms_hash, state = agreement
    viewers: dict[str, list[dict[str, Any]]] = {proposer: [], counterparty: []}
    for viewer, kind, run_id, released_at, body in rows:
        release = json.loads(body)
        viewers.setdefault(viewer, []).append(
            {
                "kind": kind,
                "run_id": run_id,
                "released_at": released_at,
                "terms_version": release.get("terms_version"),
                "terms_hash": release.get("terms_hash"),
                "released": {k: v for k, v in release.items() if k in ("cells", "totals", "partners", "deals", "metrics", "targets", "epsilon_spent")},
            }
        )
    return {
        "agreement_id": agreement_id,
        "parties": [proposer, counterparty],
        "state": state,
        "current_terms": {"version": version, "terms_hash": terms_hash},
        "viewers": [{"viewer": v, "releases": r} for v, r in viewers.items()],
        "denied_requests": [{"party": a, "at": at, **json.loads(d)} for a, at, d in denied],
    }
