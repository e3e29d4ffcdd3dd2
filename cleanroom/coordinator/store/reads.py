"""The REST API's and the pages' read queries, over typed records (through the repositories where they ask the same).

``WebReads`` answers questions about what the store holds; it knows nothing of
callers, roles or parties' rights (``cleanroom.coordinator.web.access`` decides
those). Lists are paged in SQL (keyset: the last row's sort key), so a page
costs one page of rows. Release bodies are read, and decompressed, only for the
rows of the page asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb

from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.connection import columns
from cleanroom.coordinator.store.records import AgreementRow, AuditRow, StoredBody
from cleanroom.coordinator.store.registrations import ProgramRow, RegistrationRow
from cleanroom.errors import DataLoss


@dataclass(frozen=True)
class RunSummary:
    """A run as the API lists it."""

    run_id: str
    purpose: str
    state: str
    version: int
    terms_hash: str
    created_at: str
    completed_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ReleaseListing:
    """A release's metadata, without its body."""

    release_id: str
    kind: str
    viewer: str
    run_id: str
    released_at: str
    epsilon: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StoredRelease:
    """One release as stored; its body decompressed only when read (``body.text``)."""

    release_id: str
    agreement_id: str
    run_id: str
    released_at: str
    body: StoredBody


# The SELECT list of a StoredRelease (``_stored``), over releases aliased r.
_STORED_RELEASE = f"r.release_id, r.agreement_id, r.run_id, r.released_at, {columns(StoredBody, 'r')}"


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries: ``visible_to`` a party (None: every entry), filters, and the keyset page."""

    visible_to: str | None = None
    agreement_id: str | None = None
    party: str | None = None
    action: str | None = None  # an action, or a prefix ending in '*'
    program_id: str | None = None  # deal-registration entries name their program in their details, not as an agreement
    since: str | None = None  # store time text (UTC ISO 8601), inclusive
    until: str | None = None  # exclusive
    descending: bool = True
    after_seq: int | None = None
    limit: int = 50


def _visible_audit(party: str | None) -> tuple[str, list[Any]]:
    """Entries of the party's agreements, and its own entries that name no agreement."""
    if party is None:
        return "TRUE", []
    return (
        "(agreement_id IN (SELECT agreement_id FROM agreements WHERE proposer = ? OR counterparty = ?) "
        "OR (agreement_id IS NULL AND actor = ?))",
        [party, party, party],
    )


def _action_clause(action: str) -> tuple[str, str]:
    if not action.endswith("*"):
        return "action = ?", action
    prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "action LIKE ? ESCAPE '\\'", prefix + "%"


def _audit_where(q: AuditQuery) -> tuple[list[str], list[Any]]:
    visible, params = _visible_audit(q.visible_to)
    clauses, values = [visible], list(params)
    if q.agreement_id:
        clauses.append("agreement_id = ?")
        values.append(q.agreement_id)
    if q.program_id:
        clauses.append("json_extract_string(details_json, '$.program_id') = ?")
        values.append(q.program_id)
    if q.party:
        clauses.append(
            "(actor = ? OR json_extract_string(details_json, '$.viewer') = ? OR json_extract_string(details_json, '$.party') = ?)"
        )
        values += [q.party, q.party, q.party]
    if q.action:
        clause, value = _action_clause(q.action)
        clauses.append(clause)
        values.append(value)
    if q.since is not None:
        clauses.append("logged_at >= ?")
        values.append(q.since)
    if q.until is not None:
        clauses.append("logged_at < ?")
        values.append(q.until)
    if q.after_seq is not None:
        clauses.append("seq < ?" if q.descending else "seq > ?")
        values.append(q.after_seq)
    return clauses, values


class WebReads:
    """Read queries over the coordinator's store (its one connection, under its lock)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def generation(self) -> int:
        """Moves with every committed write (readers' caches compare it)."""
        return self._store.generation

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The store's connection, for readers that take one (the audit export and report)."""
        with self._store.reading() as con:
            yield con

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._store.reading() as con:
            return con.execute(sql, list(params)).fetchall()

    @property
    def signing_key(self) -> bytes:
        """The coordinator's public signing key: what every stored release is checked against before it is served."""
        return self._store.signer.public_pem

    def ping(self) -> None:
        """The store answers and its file is whole; DataLoss naming the damage otherwise."""
        self._fetch("SELECT 1")
        problem = self._store.file_problem()
        if problem:
            raise DataLoss(f"{problem}; stop the coordinator and restore the store from a backup")

    # -- deal registration: counts only (the labels need the vendor's secret) ----------------------

    def registration_program(self, program_id: str) -> ProgramRow | None:
        return self._store.registrations.program(program_id)

    def conflicted_registrations(self, program_id: str, at: str) -> list[RegistrationRow]:
        return self._store.registrations.conflicted(program_id, at)

    # -- agreements, runs, release listings ------------------------------------------------------

    def agreement(self, agreement_id: str) -> AgreementRow | None:
        return self._store.agreements.get(agreement_id)

    def agreements(
        self,
        *,
        member: str | None = None,
        party: str | None = None,
        state: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[AgreementRow]:
        """Agreements ordered by (created_at, agreement_id); ``member`` and ``party`` each keep those a party is in."""
        where: list[str] = []
        params: list[Any] = []
        for name in (member, party):
            if name is not None:
                where.append("(proposer = ? OR counterparty = ?)")
                params += [name, name]
        if state:
            where.append("state = ?")
            params.append(state)
        if after is not None:
            where.append("(created_at, agreement_id) > (?, ?)")
            params += list(after)
        sql = "FROM agreements"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, agreement_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._store.db.records(AgreementRow, sql, params)

    def current_approvals(self, agreements: Sequence[AgreementRow]) -> dict[str, list[str]]:
        """Per agreement, the parties that approved its current version and terms hash, in approval order."""
        return self._store.agreements.approvers_of(agreements)

    def runs(self, agreement_id: str) -> list[RunSummary]:
        return self._store.db.records(RunSummary, "FROM runs WHERE agreement_id = ? ORDER BY created_at", [agreement_id])

    def latest_complete_run(self, agreement_id: str, purpose: str = "overlap") -> str | None:
        found = self._store.runs.latest_complete(agreement_id, purpose)
        return found.run_id if found else None

    def release_listing(self, agreement_id: str, viewer: str | None = None) -> list[ReleaseListing]:
        """Releases under an agreement (all viewers', or one viewer's), oldest first, without bodies."""
        sql = "FROM releases WHERE agreement_id = ?"
        params = [agreement_id]
        if viewer is not None:
            sql += " AND viewer = ?"
            params.append(viewer)
        return self._store.db.records(ReleaseListing, sql + " ORDER BY released_at", params)

    # -- release bodies ----------------------------------------------------------------------------

    def latest_overlap(self, agreement_id: str, viewer: str, run_id: str | None = None) -> StoredRelease | None:
        sql = f"SELECT {_STORED_RELEASE} FROM releases r WHERE agreement_id = ? AND viewer = ? AND kind = 'overlap'"
        params = [agreement_id, viewer]
        if run_id:
            sql += " AND run_id = ?"
            params.append(run_id)
        rows = self._fetch(sql + " ORDER BY released_at DESC LIMIT 1", params)
        return _stored(rows[0]) if rows else None

    def latest_overlaps_of(self, viewer: str) -> dict[str, StoredRelease]:
        """Per agreement, the latest overlap released to ``viewer``."""
        rows = self._fetch(
            f"""SELECT {_STORED_RELEASE} FROM (
                   SELECT *, row_number() OVER (PARTITION BY agreement_id ORDER BY released_at DESC) AS n
                   FROM releases WHERE viewer = ? AND kind = 'overlap') r WHERE n = 1""",
            [viewer],
        )
        return {r[1]: _stored(r) for r in rows}

    def attribution_jobs(
        self,
        viewer: str,
        *,
        agreement_id: str | None = None,
        before: tuple[str, str] | None = None,
        limit: int = 20,
    ) -> list[StoredRelease]:
        """One release per attribution job released to ``viewer``, newest first; jobs under a revoked agreement left out.

        A job's releases are stamped with one ``released_at`` (``attribution_jobs.run_attribution``), and
        the vendor's is stored once per agreement of the job: so a viewer's job is its releases sharing a
        ``released_at``, hidden when any of their agreements was revoked (nothing more is served under
        one), shown by its first release (under ``agreement_id`` when given). Bodies are decompressed
        only when read (``StoredRelease.body.text``).
        """
        pick = "min(m.release_id)"
        params: list[Any] = [viewer]
        if agreement_id is not None:
            pick = "min(m.release_id) FILTER (WHERE m.agreement_id = ?)"
            params.insert(0, agreement_id)
        page = ""
        if before is not None:
            page = "AND (j.released_at, j.release_id) < (?, ?)"
            params += list(before)
        sql = f"""
            WITH jobs AS (
                SELECT m.released_at, {pick} AS release_id, bool_or(a.state = 'revoked') AS revoked
                FROM releases m JOIN agreements a ON a.agreement_id = m.agreement_id
                WHERE m.viewer = ? AND m.kind = 'attribution'
                GROUP BY m.released_at)
            SELECT {_STORED_RELEASE}
            FROM jobs j JOIN releases r ON r.release_id = j.release_id
            WHERE NOT j.revoked {page}
            ORDER BY j.released_at DESC, j.release_id DESC LIMIT ?"""
        return [_stored(r) for r in self._fetch(sql, [*params, limit])]

    # -- audit trail -------------------------------------------------------------------------------

    def audit_entries(self, q: AuditQuery) -> list[AuditRow]:
        clauses, values = _audit_where(q)
        return self._store.db.records(
            AuditRow,
            f"FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY seq {'DESC' if q.descending else 'ASC'} LIMIT ?",
            [*values, q.limit],
        )

    def audit_actions(self, visible_to: str | None) -> list[str]:
        where, params = _visible_audit(visible_to)
        return [r[0] for r in self._fetch(f"SELECT DISTINCT action FROM audit_log WHERE {where} ORDER BY action", params)]

    def chain_head(self) -> tuple[int, str]:
        """(entries, last entry's hash): changes whenever the chain grows."""
        count, head = self._fetch("SELECT count(*), coalesce(max_by(entry_hash, seq), '') FROM audit_log")[0]
        return int(count), str(head)

    # -- operations (metrics) ---------------------------------------------------------

    def counts(self, table: str) -> list[tuple[Any, ...]]:
        """Grouped counts for the metrics: runs by (state, purpose), releases by kind, agreements by state, keys by role."""
        sql = {
            "runs": "SELECT state, purpose, count(*) FROM runs GROUP BY ALL ORDER BY ALL",
            "releases": "SELECT kind, count(*) FROM releases GROUP BY ALL ORDER BY ALL",
            "agreements": "SELECT state, count(*) FROM agreements GROUP BY ALL ORDER BY ALL",
            "api_keys": "SELECT role, count(*) FROM api_keys WHERE revoked_at IS NULL GROUP BY ALL ORDER BY ALL",
        }[table]
        return self._fetch(sql)

    def audit_counts(self) -> tuple[int, int]:
        """(entries in the chain, of which denied requests)."""
        entries, denied = self._fetch("SELECT count(*), count(*) FILTER (WHERE action = 'request.denied') FROM audit_log")[0]
        return int(entries), int(denied)


def _stored(row: tuple[Any, ...]) -> StoredRelease:
    """A StoredRelease from a row selected by ``_STORED_RELEASE``."""
    release_id, agreement_id, run_id, released_at, body_json, body_zlib = row
    return StoredRelease(release_id, agreement_id, run_id, released_at, StoredBody(body_json, body_zlib))
