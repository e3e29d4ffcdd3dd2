"""Releases: what was disclosed to whom, stored so that asking again returns it unchanged."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleanroom.coordinator.store.connection import Database, Tx
from cleanroom.coordinator.store.records import StoredBody

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
    def of(cls, text: str) -> ReleaseBody:
        if len(text) > INLINE_RELEASE_BYTES:
            return cls("", zlib.compress(text.encode("utf-8"), 1))
        return cls(text, None)


def release_text(row: Mapping[str, Any] | StoredBody) -> str:
    """The stored JSON of a releases row (a record, or a dict selected with body_json and body_zlib)."""
    if isinstance(row, StoredBody):
        packed, inline = row.body_zlib, row.body_json
    else:
        packed, inline = row.get("body_zlib"), row["body_json"]
    return zlib.decompress(bytes(packed)).decode("utf-8") if packed is not None else str(inline)


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

    def stored(self, run_id: str, viewer: str, kind: str) -> str | None:
        """The text of the release of ``kind`` a run already made to the viewer."""
        found = self._db.record(StoredBody, "FROM releases WHERE run_id = ? AND viewer = ? AND kind = ?", [run_id, viewer, kind])
        return release_text(found) if found else None

    def latest(self, agreement_id: str, viewer: str, kind: str) -> str | None:
        found = self._db.record(
            StoredBody,
            "FROM releases WHERE agreement_id = ? AND viewer = ? AND kind = ? ORDER BY released_at DESC LIMIT 1",
            [agreement_id, viewer, kind],
        )
        return release_text(found) if found else None

    def epsilon_spent(self, agreement_id: str, viewer: str) -> float:
        """The privacy budget a viewer has spent on an agreement."""
        return float(
            self._db.value(
                "SELECT coalesce(sum(epsilon), 0) FROM releases WHERE agreement_id = ? AND viewer = ?", [agreement_id, viewer]
            )
        )

    @staticmethod
    def insert(con: Tx, release: NewRelease, text: str | ReleaseBody) -> None:
        """One releases row; a large body goes compressed (see INLINE_RELEASE_BYTES). One body released
        under several agreements is given as a ReleaseBody, compressed once."""
        body = text if isinstance(text, ReleaseBody) else ReleaseBody.of(text)
        con.execute(
            "INSERT INTO releases (release_id, agreement_id, run_id, viewer, kind, body_json, released_at, epsilon, body_zlib) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                release.release_id,
                release.agreement_id,
                release.run_id,
                release.viewer,
                release.kind,
                body.inline,
                release.released_at,
                release.epsilon,
                body.packed,
            ],
        )
