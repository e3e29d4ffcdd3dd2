"""The audit chain: appending signed, hash-chained entries, and the reads of exports and reports.

The reads take a connection (the running store's, or a read-only one on a
stopped coordinator's file: ``cleanroom.coordinator.audit``).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from cleanroom.auditlog.chain import GENESIS_HASH, entry_body, entry_hash
from cleanroom.auditlog.heads import AuditHead, sign_head
from cleanroom.coordinator.store.connection import Tx, columns, now
from cleanroom.coordinator.store.records import AgreementRow, AuditRow
from cleanroom.crypto.signing import Signer

# The newest entry, found through max(seq) rather than "ORDER BY seq DESC LIMIT 1", which DuckDB 2.0.1 answered
# from stale statistics after a rollback (store/connection.py turns that optimizer off for every connection).
_NEWEST = "SELECT {} FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"


class AuditLog:
    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def append(self, con: Tx, actor: str, action: str, agreement_id: str | None, details: dict[str, Any]) -> dict[str, Any]:
        """Append an entry inside the caller's transaction (so it commits with what it records)."""
        last = con.execute(_NEWEST.format("seq, entry_hash")).fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        at = now()
        body = entry_body(seq, at, actor, action, agreement_id, details, prev)
        digest = entry_hash(body)
        signature = self._signer.sign(bytes.fromhex(digest))
        con.execute(
            "INSERT INTO audit_log (seq, logged_at, actor, action, agreement_id, details_json, prev_hash, entry_hash, signature) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, at, actor, action, agreement_id, json.dumps(details, sort_keys=True), prev, digest, signature],
        )
        return {**body, "entry_hash": digest}

    def signed_head(self, entry: dict[str, Any]) -> AuditHead:
        """The head as of ``entry`` (as ``append`` returned it): the log held ``seq`` entries, ending with this one."""
        return sign_head(self._signer, int(entry["seq"]), str(entry["entry_hash"]), str(entry["at"]))

    def current_head(self, con: duckdb.DuckDBPyConnection) -> AuditHead | None:
        """The newest entry's head, signed now (None while the log is empty)."""
        last = con.execute(_NEWEST.format("seq, entry_hash, logged_at")).fetchone()
        return sign_head(self._signer, int(last[0]), str(last[1]), str(last[2])) if last else None


def entry_hashes_at(con: duckdb.DuckDBPyConnection, positions: list[int]) -> dict[int, str]:
    """The hashes of the entries at these positions (sequence numbers) that the log holds."""
    if not positions:
        return {}
    found = con.execute("SELECT seq, entry_hash FROM audit_log WHERE seq IN (SELECT unnest(?))", [positions]).fetchall()
    return {int(seq): str(digest) for seq, digest in found}


def chain(con: duckdb.DuckDBPyConnection) -> list[AuditRow]:
    """Every entry of the chain, in order."""
    return [AuditRow(*row) for row in con.execute(f"SELECT {columns(AuditRow)} FROM audit_log ORDER BY seq").fetchall()]


def agreement_exists(con: duckdb.DuckDBPyConnection, agreement_id: str) -> bool:
    return con.execute("SELECT 1 FROM agreements WHERE agreement_id = ?", [agreement_id]).fetchone() is not None


def agreement_of(con: duckdb.DuckDBPyConnection, agreement_id: str) -> AgreementRow | None:
    found = con.execute(f"SELECT {columns(AgreementRow)} FROM agreements WHERE agreement_id = ?", [agreement_id]).fetchone()
    return AgreementRow(*found) if found else None


def releases_of(con: duckdb.DuckDBPyConnection, agreement_id: str) -> list[dict[str, Any]]:
    """An agreement's releases as dicts, oldest first (all columns: a store opened read-only is not migrated)."""
    cursor = con.execute("SELECT * FROM releases WHERE agreement_id = ? ORDER BY released_at", [agreement_id])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def denied_requests(con: duckdb.DuckDBPyConnection, agreement_id: str) -> list[tuple[str, str, str]]:
    """(actor, logged_at, details_json) of the agreement's refused requests, in order."""
    return [
        (a, at, d)
        for a, at, d in con.execute(
            "SELECT actor, logged_at, details_json FROM audit_log WHERE agreement_id = ? AND action = 'request.denied' ORDER BY seq",
            [agreement_id],
        ).fetchall()
    ]
