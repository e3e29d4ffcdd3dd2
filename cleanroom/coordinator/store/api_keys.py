"""REST/web API keys: only a SHA-256 of each key is kept."""

from __future__ import annotations

from cleanroom.coordinator.store.connection import Database, Tx
from cleanroom.coordinator.store.records import ApiKeyRow


class ApiKeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key_id: str) -> ApiKeyRow | None:
        return self._db.record(ApiKeyRow, "FROM api_keys WHERE key_id = ?", [key_id])

    def list(self, include_revoked: bool = False) -> list[ApiKeyRow]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        return self._db.records(ApiKeyRow, f"FROM api_keys {where} ORDER BY created_at, key_id")

    @staticmethod
    def insert(con: Tx, key: ApiKeyRow) -> None:
        con.execute(
            "INSERT INTO api_keys (key_id, key_hash, party, role, label, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [key.key_id, key.key_hash, key.party, key.role, key.label, key.created_at, key.revoked_at],
        )

    @staticmethod
    def revoke(con: Tx, key_id: str, at: str) -> None:
        con.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [at, key_id])
