"""The coordinator's state in one DuckDB file.

Only pseudonymous material is ever written here: agreements and terms,
blinded points (one row a point, store.points; deleted after the run by the retention
rule), aggregate results, releases and the audit chain.

``Store`` is the public face: the open database (``connection``, migrated by
``schema``) and one repository per aggregate, each holding that aggregate's
SQL and returning typed records (``records``). Writes take the connection of
a ``transaction()``, so one request's writes and its audit entry commit together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import duckdb

from cleanroom.auditlog.heads import AuditHead
from cleanroom.coordinator.store.agreements import AgreementRepository
from cleanroom.coordinator.store.api_keys import ApiKeyRepository
from cleanroom.coordinator.store.audit import AuditLog, entry_hashes_at
from cleanroom.coordinator.store.connection import Database, Tx, now, time_text
from cleanroom.coordinator.store.enrolment import EnrolmentRepository
from cleanroom.coordinator.store.records import StoredBody
from cleanroom.coordinator.store.registrations import RegistrationRepository
from cleanroom.coordinator.store.releases import (
    INLINE_RELEASE_BYTES,
    NewRelease,
    ReleaseRepository,
    pack_body,
    release_text,
    with_head,
)
from cleanroom.coordinator.store.runs import RunRepository
from cleanroom.coordinator.store.standing import StandingRepository
from cleanroom.coordinator.store.tokens import TokenJoin, token_join
from cleanroom.coordinator.store.uploads import UploadRepository
from cleanroom.crypto.signing import Signer

__all__ = [
    "INLINE_RELEASE_BYTES",
    "NewRelease",
    "Store",
    "StoredBody",
    "TokenJoin",
    "Tx",
    "now",
    "pack_body",
    "release_text",
    "time_text",
    "with_head",
]


class Store:
    def __init__(self, path: Path, signer: Signer) -> None:
        self.db = Database(path)
        self.signer = signer
        self.agreements = AgreementRepository(self.db)
        self.runs = RunRepository(self.db)
        self.uploads = UploadRepository(self.db)
        self.releases = ReleaseRepository(self.db)
        self.api_keys = ApiKeyRepository(self.db)
        self.standing = StandingRepository(self.db)
        self.enrolment = EnrolmentRepository(self.db)
        self.registrations = RegistrationRepository(self.db)
        self.audit_log = AuditLog(signer)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def generation(self) -> int:
        """Bumped by every committed transaction: readers' caches compare it (cleanroom.coordinator.web)."""
        return self.db.generation

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[Tx]:
        """One atomic unit of work: every write of a request, or none of them."""
        return self.db.transaction()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.db.reading() as con:
            yield con

    def checkpoint(self) -> None:
        self.db.checkpoint()

    def checkpoint_soon(self) -> None:
        self.db.checkpoint_soon()

    def token_join(self) -> AbstractContextManager[TokenJoin]:
        """Both sides' tokens of a run, joined in this database (store.tokens)."""
        return token_join(self.db)

    def file_problem(self) -> str | None:
        """Why the store's file is damaged under the open database (truncated, overwritten); None when sound."""
        return self.db.file_problem()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Ad-hoc read as dicts, for tests only (the domain uses the repositories, the web ``store.reads``)."""
        return self.db.rows(sql, params)

    def row(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """One ad-hoc row as a dict, for tests only (None when there is none)."""
        found = self.db.rows(sql, params)
        return found[0] if found else None

    def audit(self, con: Tx, actor: str, action: str, agreement_id: str | None, details: dict[str, Any]) -> dict[str, Any]:
        """Append a signed, hash-chained entry inside the caller's transaction."""
        return self.audit_log.append(con, actor, action, agreement_id, details)

    def signed_head(self, entry: dict[str, Any]) -> AuditHead:
        """The signed audit head as of an entry ``audit`` just appended (given with the release or receipt it records)."""
        return self.audit_log.signed_head(entry)

    def current_head(self) -> tuple[AuditHead | None, dict[int, str]]:
        """The current head signed now, and nothing else (see ``heads_at``)."""
        return self.heads_at([])

    def heads_at(self, positions: list[int]) -> tuple[AuditHead | None, dict[int, str]]:
        """The current head signed now, and the entry hashes at ``positions``, read together (one snapshot)."""
        with self.reading() as con:
            return self.audit_log.current_head(con), entry_hashes_at(con, positions)

    def audit_now(self, actor: str, action: str, agreement_id: str | None, details: dict[str, Any]) -> None:
        """An audit entry on its own (e.g. a denied request, which changes nothing else)."""
        with self.transaction() as con:
            self.audit(con, actor, action, agreement_id, details)
