"""Releases: what was disclosed to whom, stored so that asking again returns it unchanged."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from cleanroom.coordinator.store.connection import Database, Tx
from cleanroom.coordinator.store.records import KeptRelease, StoredBody

# A release body above this size is stored zlib-compressed in releases.body_zlib (body_json left empty).
# DuckDB rewrites a table's open row group at each checkpoint: megabytes of text per attribution release
# there made every later commit that touched releases slower (seconds after a few dozen jobs).
INLINE_RELEASE_BYTES = 64 * 1024


def pack_body(text: str) -> StoredBody:
    """A release body as the releases table holds it: inline, or zlib-compressed when large."""
    if len(text) > INLINE_RELEASE_BYTES:
        return StoredBody("", zlib.compress(text.encode("utf-8"), 1))
    return StoredBody(text, None)


def release_text(body: StoredBody) -> str:
    """The stored JSON of a releases row."""
    return body.text


def with_head(release: dict[str, Any], head_json: str | None) -> dict[str, Any]:
    """The release as served: its signed fields, and beside them the signed audit head it was given with
    (``audit_head``, not covered by the release's signature; absent for a release made before migration 9)."""
    return {**release, "audit_head": json.loads(head_json)} if head_json else dict(release)


@dataclass(frozen=True)
class NewRelease:
    release_id: str
    agreement_id: str
    run_id: str
    viewer: str
    kind: str
    released_at: str
    epsilon: float = 0.0


class ReleaseRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def stored(self, run_id: str, viewer: str, kind: str) -> KeptRelease | None:
        """The release of ``kind`` a run already made to the viewer."""
        return self._db.record(KeptRelease, "FROM releases WHERE run_id = ? AND viewer = ? AND kind = ?", [run_id, viewer, kind])

    def latest(self, agreement_id: str, viewer: str, kind: str) -> KeptRelease | None:
        return self._db.record(
            KeptRelease,
            "FROM releases WHERE agreement_id = ? AND viewer = ? AND kind = ? ORDER BY released_at DESC LIMIT 1",
            [agreement_id, viewer, kind],
        )

    def epsilon_spent(self, agreement_id: str, viewer: str) -> float:
        """The privacy budget a viewer has spent on an agreement."""
        return float(
            self._db.value(
                "SELECT coalesce(sum(epsilon), 0) FROM releases WHERE agreement_id = ? AND viewer = ?", [agreement_id, viewer]
            )
        )

    @staticmethod
    def insert(con: Tx, release: NewRelease, text: str | StoredBody, audit_head: str | None = None) -> None:
        """One releases row; a large body goes compressed (see INLINE_RELEASE_BYTES). One body released
        under several agreements is given packed (``pack_body``), compressed once."""
        body = text if isinstance(text, StoredBody) else pack_body(text)
        con.execute(
            "INSERT INTO releases (release_id, agreement_id, run_id, viewer, kind, body_json, released_at, epsilon, body_zlib, "
            "audit_head) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                release.release_id,
                release.agreement_id,
                release.run_id,
                release.viewer,
                release.kind,
                body.body_json,
                release.released_at,
                release.epsilon,
                body.body_zlib,
                audit_head,
            ],
        )
