"""The coordinator's state in one DuckDB file.

Only pseudonymous material is ever written here: agreements and terms,
blinded points (as packed chunk blobs, deleted after the run by the retention
rule), aggregate results, releases and the audit chain. One connection behind
a lock: DuckDB serialises writers anyway, and the hot path (chunk inserts) is
one small transaction per chunk.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cleanroom.auditlog.chain import GENESIS_HASH, entry_body, entry_hash
from cleanroom.crypto.signing import Signer

# A release body above this size is stored zlib-compressed in releases.body_zlib (body_json left empty).
# DuckDB rewrites a table's open row group at each checkpoint: megabytes of text per attribution release
# there made every later commit that touched releases slower (seconds after a few dozen jobs).
INLINE_RELEASE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ReleaseBody:
    """A release body as the releases table holds it: inline, or zlib-compressed when large."""

    inline: str  # "" when packed
    packed: bytes | None

    @classmethod
    def of(cls, text: str) -> "ReleaseBody":
        if len(text) > INLINE_RELEASE_BYTES:
            return cls("", zlib.compress(text.encode("utf-8"), 1))
        return cls(text, None)


def release_text(row: dict[str, Any]) -> str:
    """The stored JSON of a releases row (selected with body_json and body_zlib)."""
    packed = row.get("body_zlib")
    return zlib.decompress(bytes(packed)).decode("utf-8") if packed is not None else row["body_json"]


SCHEMA = """
CREATE TABLE IF NOT EXISTS agreements (
    agreement_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    proposer TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    terms_json BLOB NOT NULL,
    terms_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    agreement_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    party TEXT NOT NULL,
    terms_hash TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    PRIMARY KEY (agreement_id, version, party)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    terms_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT,
    purpose TEXT NOT NULL DEFAULT 'overlap'
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    party TEXT NOT NULL,
    kind TEXT NOT NULL,
    total_points UBIGINT NOT NULL,
    total_chunks UINTEGER NOT NULL,
    total_accounts UBIGINT NOT NULL,
    upload_digest TEXT NOT NULL,
    of_upload TEXT,
    committed BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    committed_at TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    upload_id TEXT NOT NULL,
    seq UINTEGER NOT NULL,
    n_points UINTEGER NOT NULL,
    points BLOB NOT NULL,
    accounts BLOB,
    populations BLOB,
    digest TEXT NOT NULL,
    records BLOB,
    PRIMARY KEY (upload_id, seq)
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL,
    body_json TEXT NOT NULL,
    computed_at TEXT NOT NULL
);
-- An attribution run's link (cleanroom/coordinator/linkage.py): the vendor's DEAL records and the
-- partner's TOUCH records re-keyed to the vendor's account labels; pseudonymous, no token.
CREATE TABLE IF NOT EXISTS attribution_links (
    run_id TEXT PRIMARY KEY,
    deals BLOB NOT NULL,
    touches BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    release_id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    viewer TEXT NOT NULL,
    kind TEXT NOT NULL,
    body_json TEXT NOT NULL,
    released_at TEXT NOT NULL,
    epsilon DOUBLE NOT NULL DEFAULT 0
);
-- Account-level reveal (cleanroom/sealed.py): each party's X25519 public key per
-- agreement, as the party gave it with its proposal or approval (relayed, never used here).
CREATE TABLE IF NOT EXISTS encryption_keys (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    public_x25519 BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (agreement_id, party)
);
-- The rows a completed run may reveal to a viewer (matched, on a granted pair whose cell
-- reaches min_count), with the other side's sealed fields: kept from the run's completion
-- until the viewer's release takes them over (or the agreement is revoked).
CREATE TABLE IF NOT EXISTS reveal_rows (
    run_id TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    viewer TEXT NOT NULL,
    seq UBIGINT NOT NULL,
    account UBIGINT NOT NULL,
    their_account UBIGINT NOT NULL,
    theirs TEXT NOT NULL,
    sealed BLOB,
    PRIMARY KEY (run_id, viewer, seq)
);
ALTER TABLE chunks ADD COLUMN IF NOT EXISTS sealed BLOB;
ALTER TABLE releases ADD COLUMN IF NOT EXISTS body_zlib BLOB;
CREATE TABLE IF NOT EXISTS audit_log (
    seq UBIGINT PRIMARY KEY,
    logged_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    agreement_id TEXT,
    details_json TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    signature BLOB NOT NULL
);
-- REST/web API keys (cleanroom.coordinator.web.auth): only a SHA-256 of each key is kept.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    party TEXT NOT NULL,
    role TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


def now() -> str:
    """UTC time as ISO 8601 text (sortable; stored as TEXT to keep the store self-describing)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


class Store:
    def __init__(self, path: Path, signer: Signer) -> None:
        self.path = Path(path)
        self.signer = signer
        self._con = duckdb.connect(str(self.path))
        self._lock = threading.RLock()
        self._con.execute(SCHEMA)
        self.generation = 0  # bumped by every committed transaction: readers' caches compare it (cleanroom.coordinator.web)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One atomic unit of work: every write of a request, or none of them."""
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")
                self.generation += 1

    def insert_release(self, con: duckdb.DuckDBPyConnection, release_id: str, agreement_id: str, run_id: str, viewer: str, kind: str,
                       text: str | ReleaseBody, released_at: str, epsilon: float = 0.0) -> None:
        """One releases row; a large body goes compressed (see INLINE_RELEASE_BYTES). One body released
        under several agreements is given as a ReleaseBody, compressed once."""
        body = text if isinstance(text, ReleaseBody) else ReleaseBody.of(text)
        con.execute(
            "INSERT INTO releases (release_id, agreement_id, run_id, viewer, kind, body_json, released_at, epsilon, body_zlib) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [release_id, agreement_id, run_id, viewer, kind, body.inline, released_at, epsilon, body.packed],
        )

    def checkpoint(self) -> None:
        """Flush the WAL into the file and drop deleted rows' blocks from it."""
        with self._lock:
            self._con.execute("CHECKPOINT")

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            yield self._con

    def rows(self, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
        with self.reading() as con:
            cur = con.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def row(self, sql: str, params: list | tuple = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    # -- audit chain ---------------------------------------------------------

    def audit(
        self,
        con: duckdb.DuckDBPyConnection,
        actor: str,
        action: str,
        agreement_id: str | None,
        details: dict,
    ) -> dict:
        """Append a signed, hash-chained entry inside the caller's transaction."""
        last = con.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        at = now()
        body = entry_body(seq, at, actor, action, agreement_id, details, prev)
        digest = entry_hash(body)
        signature = self.signer.sign(bytes.fromhex(digest))
        con.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, at, actor, action, agreement_id, json.dumps(details, sort_keys=True), prev, digest, signature],
        )
        return {**body, "entry_hash": digest}

    def audit_now(self, actor: str, action: str, agreement_id: str | None, details: dict) -> None:
        """An audit entry on its own (e.g. a denied request, which changes nothing else)."""
        with self.transaction() as con:
            self.audit(con, actor, action, agreement_id, details)
