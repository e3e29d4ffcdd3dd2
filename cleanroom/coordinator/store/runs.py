"""Runs and what their completion leaves: results, attribution links, reveal rows."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from cleanroom.coordinator.store.connection import Database, Tx
from cleanroom.coordinator.store.records import ExpiredCandidate, RevealRow, RunRow


# One reveal row as completion computes it: (viewer's account, the other's account, the other's
# populations on granted pairs, the other's sealed fields or b"").
class RunNotCollecting(Exception):
    """A run was to be completed but no longer collects (revoked or failed while its completion ran)."""


class RevealTuple(NamedTuple):
    """One matched pair a completed run may reveal to a viewer (cleanroom.reveal says what it may hold)."""

    account: int
    their_account: int
    theirs: list[str]
    sealed: bytes
    mine: list[str]
    component: int


class RunRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- runs --------------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRow | None:
        return self._db.record(RunRow, "FROM runs WHERE run_id = ?", [run_id])

    def open_run(self, agreement_id: str, purpose: str) -> RunRow | None:
        """The run of this purpose still collecting uploads, if any."""
        return self._db.record(
            RunRow,
            "FROM runs WHERE agreement_id = ? AND purpose = ? AND state = 'collecting' ORDER BY created_at DESC LIMIT 1",
            [agreement_id, purpose],
        )

    def latest(self, agreement_id: str, purpose: str) -> RunRow | None:
        return self._db.record(
            RunRow, "FROM runs WHERE agreement_id = ? AND purpose = ? ORDER BY created_at DESC LIMIT 1", [agreement_id, purpose]
        )

    def latest_complete(self, agreement_id: str, purpose: str) -> RunRow | None:
        return self._db.record(
            RunRow,
            "FROM runs WHERE agreement_id = ? AND purpose = ? AND state = 'complete' ORDER BY completed_at DESC LIMIT 1",
            [agreement_id, purpose],
        )

    def agreements_of(self, run_ids: Sequence[str]) -> dict[str, str]:
        """run_id -> agreement_id for the runs that exist among ``run_ids``."""
        with self._db.reading() as con:
            found = con.execute(
                "SELECT run_id, agreement_id FROM runs WHERE run_id IN (SELECT unnest(?))", [list(run_ids)]
            ).fetchall()
        return dict(found)

    def expired_candidates(self) -> list[ExpiredCandidate]:
        """Complete runs that still hold points (whether their retention has passed is the terms' call)."""
        return self._db.records(
            ExpiredCandidate,
            """FROM runs r
               WHERE r.state = 'complete' AND EXISTS (
                   SELECT 1 FROM chunks c JOIN uploads u USING (upload_id) WHERE u.run_id = r.run_id)""",
        )

    @staticmethod
    def insert(con: Tx, run: RunRow) -> None:
        con.execute(
            "INSERT INTO runs (run_id, agreement_id, version, terms_hash, state, created_at, completed_at, purpose) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run.run_id, run.agreement_id, run.version, run.terms_hash, run.state, run.created_at, run.completed_at, run.purpose],
        )

    @staticmethod
    def complete(con: Tx, run_id: str, at: str, seq: int | None = None) -> None:
        """Mark a collecting run complete; RunNotCollecting (the caller's transaction then rolls back, its result
        with it) when it was revoked or failed meanwhile: a revocation does not wait for a completion's join."""
        done = con.execute(
            "UPDATE runs SET state = 'complete', completed_at = ?, seq = ? WHERE run_id = ? AND state = 'collecting' "
            "RETURNING run_id",
            [at, seq, run_id],
        ).fetchall()
        if not done:
            raise RunNotCollecting(f"run {run_id} no longer collects: nothing of it is released")

    def completed_count(self, agreement_id: str, purpose: str) -> int:
        """How many runs of this purpose completed (a continuous agreement's releases so far)."""
        return int(
            self._db.value(
                "SELECT count(*) FROM runs WHERE agreement_id = ? AND purpose = ? AND state = 'complete'", [agreement_id, purpose]
            )
        )

    @staticmethod
    def fail(con: Tx, run_id: str, failure: str, at: str) -> None:
        con.execute(
            "UPDATE runs SET state = 'failed', failure = ?, completed_at = ? WHERE run_id = ? AND state = 'collecting'",
            [failure, at, run_id],
        )

    def collecting(self) -> list[str]:
        """Every run still collecting, oldest first (start-up completes those whose uploads are all in)."""
        return [str(v) for v in self._db.values("SELECT run_id FROM runs WHERE state = 'collecting' ORDER BY created_at")]

    @staticmethod
    def revoke_collecting(con: Tx, agreement_id: str) -> None:
        con.execute("UPDATE runs SET state = 'revoked' WHERE agreement_id = ? AND state = 'collecting'", [agreement_id])

    # -- results -----------------------------------------------------------------------------

    def result_json(self, run_id: str, agreement_id: str | None = None) -> str | None:
        if agreement_id is None:
            return self._db.text("SELECT body_json FROM results WHERE run_id = ?", [run_id])
        return self._db.text("SELECT body_json FROM results WHERE run_id = ? AND agreement_id = ?", [run_id, agreement_id])

    def latest_overlap_result(self, agreement_id: str) -> str | None:
        """The run id of the agreement's newest overlap result."""
        return self._db.text(
            """SELECT s.run_id FROM results s JOIN runs r USING (run_id)
               WHERE s.agreement_id = ? AND r.purpose = 'overlap' ORDER BY s.computed_at DESC LIMIT 1""",
            [agreement_id],
        )

    @staticmethod
    def insert_result(con: Tx, run_id: str, agreement_id: str, body: Mapping[str, Any], at: str) -> None:
        con.execute(
            "INSERT INTO results (run_id, agreement_id, body_json, computed_at) VALUES (?, ?, ?, ?)",
            [run_id, agreement_id, json.dumps(body, sort_keys=True), at],
        )

    # -- attribution links -------------------------------------------------------------------

    def link(self, run_id: str) -> tuple[bytes, bytes] | None:
        """An attribution run's linked (deals, touches) blobs."""
        with self._db.reading() as con:
            found = con.execute("SELECT deals, touches FROM attribution_links WHERE run_id = ?", [run_id]).fetchone()
        return (bytes(found[0]), bytes(found[1])) if found else None

    @staticmethod
    def insert_link(con: Tx, run_id: str, deals: bytes, touches: bytes) -> None:
        con.execute("INSERT INTO attribution_links (run_id, deals, touches) VALUES (?, ?, ?)", [run_id, deals, touches])

    # -- reveal rows -------------------------------------------------------------------------

    def reveal_rows(self, run_id: str, viewer: str) -> list[RevealRow]:
        return self._db.records(RevealRow, "FROM reveal_rows WHERE run_id = ? AND viewer = ? ORDER BY seq", [run_id, viewer])

    @staticmethod
    def insert_reveal_rows(con: Tx, run_id: str, agreement_id: str, viewer: str, rows: list[RevealTuple]) -> None:
        if rows:
            con.executemany(
                "INSERT INTO reveal_rows (run_id, agreement_id, viewer, seq, account, their_account, theirs, sealed, mine, component) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [run_id, agreement_id, viewer, i, r.account, r.their_account, json.dumps(r.theirs), r.sealed or None, *extra]
                    for i, r in enumerate(rows)
                    for extra in [(json.dumps(r.mine), r.component)]
                ],
            )

    @staticmethod
    def delete_reveal_rows(con: Tx, run_id: str, viewer: str) -> None:
        con.execute("DELETE FROM reveal_rows WHERE run_id = ? AND viewer = ?", [run_id, viewer])

    @staticmethod
    def delete_reveal_rows_of_agreement(con: Tx, agreement_id: str) -> int:
        """Drop every unreleased reveal row of an agreement; returns how many there were."""
        found = con.execute("SELECT count(*) FROM reveal_rows WHERE agreement_id = ?", [agreement_id]).fetchone()
        count = int(found[0]) if found else 0
        if count:
            con.execute("DELETE FROM reveal_rows WHERE agreement_id = ?", [agreement_id])
        return count
