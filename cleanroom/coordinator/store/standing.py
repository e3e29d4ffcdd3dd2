"""Continuous agreements' standing state: each side's double-blinded tokens, its accounts' masks, the matched pairs.

A side is the party whose accounts the tokens stand for (its points as the other party re-blinded them).
Tokens are kept as four 64-bit words so the join compares integers. Arrow tables passed in are registered
on the caller's transaction for the statement that reads them, then unregistered.
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom.coordinator.store.connection import Database, Tx
from cleanroom.coordinator.store.records import UploadChanges


@dataclass(frozen=True)
class StandingSide:
    """Where one party's standing tokens come from."""

    agreement_id: str
    party: str
    run_id: str
    terms_hash: str
    secret_tag: str
    accounts: int
    updated_at: str
    upload_id: str  # the party's own upload that made the side what it is


_TABLES = ("standing_tokens", "standing_accounts")


def token_table(tokens: bytes, labels: np.ndarray) -> pa.Table:
    """Packed 32-byte tokens and their labels as the four words the join compares."""
    words = np.frombuffer(tokens, dtype="<u8").reshape(-1, 4)
    return pa.table(
        {
            "t0": words[:, 0],
            "t1": words[:, 1],
            "t2": words[:, 2],
            "t3": words[:, 3],
            "label": labels.astype(np.uint32, copy=False),
        }
    )


def label_table(labels: np.ndarray) -> pa.Table:
    return pa.table({"label": np.asarray(labels, dtype=np.uint32)})


class StandingRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- sides -------------------------------------------------------------------------------

    def side(self, agreement_id: str, party: str) -> StandingSide | None:
        return self._db.record(StandingSide, "FROM standing_sides WHERE agreement_id = ? AND party = ?", [agreement_id, party])

    def sides(self, agreement_id: str) -> list[StandingSide]:
        return self._db.records(StandingSide, "FROM standing_sides WHERE agreement_id = ? ORDER BY party", [agreement_id])

    @staticmethod
    def put_side(con: Tx, side: StandingSide) -> None:
        done(con, "DELETE FROM standing_sides WHERE agreement_id = ? AND party = ?", [side.agreement_id, side.party])
        done(
            con,
            "INSERT INTO standing_sides (agreement_id, party, run_id, terms_hash, secret_tag, accounts, updated_at, upload_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            list(astuple(side)),  # the columns in the record's order
        )

    # -- labels ------------------------------------------------------------------------------

    def account_count(self, agreement_id: str, party: str) -> int:
        """How many accounts stand on the side."""
        with self._db.reading() as con:
            return _account_count(con, agreement_id, party)

    def held_labels(self, agreement_id: str, party: str, labels: np.ndarray) -> np.ndarray:
        """Which of ``labels`` stand on the side, sorted and distinct. The join reads only the asked labels back:
        a change names thousands, the side holds millions (reading and sorting them all cost seconds a run)."""
        with self._db.reading() as con:
            con.register("asked_labels", label_table(labels))
            try:
                found = con.execute(
                    """SELECT DISTINCT s.label FROM standing_accounts s JOIN asked_labels a ON s.label = a.label
                       WHERE s.agreement_id = ? AND s.party = ? ORDER BY s.label""",
                    [agreement_id, party],
                ).fetchnumpy()
            finally:
                con.unregister("asked_labels")
        return np.asarray(found["label"], dtype=np.uint32)

    # -- writes inside a run's completion ------------------------------------------------------

    @staticmethod
    def clear_side(con: Tx, agreement_id: str, party: str) -> None:
        """Drop a side's tokens and accounts, and every pair (each pair has an account on that side)."""
        for table in _TABLES:
            done(con, f"DELETE FROM {table} WHERE agreement_id = ? AND party = ?", [agreement_id, party])
        done(con, "DELETE FROM standing_pairs WHERE agreement_id = ?", [agreement_id])

    @staticmethod
    def remove_labels(con: Tx, agreement_id: str, party: str, labels: np.ndarray, a_side: bool) -> None:
        if len(labels) == 0:
            return
        con.register("removed_labels", label_table(labels))
        try:
            for table in _TABLES:
                done(
                    con,
                    f"DELETE FROM {table} WHERE agreement_id = ? AND party = ? AND label IN (SELECT label FROM removed_labels)",
                    [agreement_id, party],
                )
            column = "a_label" if a_side else "b_label"
            done(
                con,
                f"DELETE FROM standing_pairs WHERE agreement_id = ? AND {column} IN (SELECT label FROM removed_labels)",
                [agreement_id],
            )
        finally:
            con.unregister("removed_labels")

    @staticmethod
    def set_masks(con: Tx, agreement_id: str, party: str, labels: np.ndarray, masks: np.ndarray, a_side: bool) -> None:
        """New populations for some of a side's accounts, and for the pairs they are in."""
        if len(labels) == 0:
            return
        con.register("changed_masks", pa.table({"label": labels.astype(np.uint32), "populations": masks.astype(np.uint16)}))
        mine = "a" if a_side else "b"
        try:
            done(
                con,
                """UPDATE standing_accounts SET populations = c.populations FROM changed_masks c
                   WHERE standing_accounts.agreement_id = ? AND standing_accounts.party = ?
                     AND standing_accounts.label = c.label""",
                [agreement_id, party],
            )
            done(
                con,
                f"""UPDATE standing_pairs SET {mine}_mask = c.populations FROM changed_masks c
                    WHERE standing_pairs.agreement_id = ? AND standing_pairs.{mine}_label = c.label""",
                [agreement_id],
            )
        finally:
            con.unregister("changed_masks")

    @staticmethod
    def repeated_tokens(con: Tx, agreement_id: str, party: str, tokens: pa.Table) -> int:
        """How many of ``tokens`` the side already holds (an honest change adds only new accounts' tokens)."""
        return len(_held_rows(con, "standing_tokens", agreement_id, party, tokens))

    @staticmethod
    def add(con: Tx, agreement_id: str, party: str, tokens: pa.Table, masks: pa.Table) -> None:
        """Add tokens (t0..t3, label) and accounts (label, populations) to a side."""
        con.register("new_tokens", tokens)
        con.register("new_accounts", masks)
        try:
            done(con, "INSERT INTO standing_tokens SELECT ?, ?, t0, t1, t2, t3, label FROM new_tokens", [agreement_id, party])
            done(con, "INSERT INTO standing_accounts SELECT ?, ?, label, populations FROM new_accounts", [agreement_id, party])
        finally:
            con.unregister("new_tokens")
            con.unregister("new_accounts")

    @staticmethod
    def match_new(con: Tx, agreement_id: str, parties: tuple[str, str], new_a: pa.Table | None, new_b: pa.Table | None) -> None:
        """Add the pairs the new tokens make, with both accounts' masks: every pair when both are None (a side
        was replaced), else new A tokens against all of B and all of A against new B tokens (both sides, their
        tokens and accounts, already updated)."""
        side = "(SELECT t0, t1, t2, t3, label FROM standing_tokens WHERE agreement_id = $1 AND party = ${party})"
        if new_a is None and new_b is None:
            _insert_pairs(con, agreement_id, parties, _matched(side.format(party=2), side.format(party=3)))
            return
        con.register("new_a", new_a if new_a is not None else token_table(b"", np.zeros(0, np.uint32)))
        con.register("new_b", new_b if new_b is not None else token_table(b"", np.zeros(0, np.uint32)))
        try:
            # New on A x all B, then old A x new B (new A x new B was in the first statement already).
            _insert_pairs(con, agreement_id, parties, _matched("new_a", side.format(party=3)))
            _insert_pairs(
                con, agreement_id, parties, _matched(side.format(party=2), "new_b", "x.label NOT IN (SELECT label FROM new_a)")
            )
        finally:
            con.unregister("new_a")
            con.unregister("new_b")

    @staticmethod
    def pair_masks(con: Tx, agreement_id: str, parties: tuple[str, str]) -> dict[str, np.ndarray]:
        """Every matched pair (``a_label``, ``b_label``, in no order) with both accounts' population masks
        (``a_mask``, ``b_mask``), and each side's account count (``accounts``). A release counts every pair by
        its masks: the pairs carry them (``set_masks`` keeps them current), so a million accounts a side are
        not joined again every epoch (0.1 CPU s)."""
        _fill_pair_masks(con, agreement_id, parties)
        found = con.execute(
            "SELECT a_label, b_label, a_mask, b_mask FROM standing_pairs WHERE agreement_id = $1", [agreement_id]
        ).fetchnumpy()
        out = {k: np.asarray(found[k], dtype=np.int64 if k.endswith("label") else np.uint16) for k in found}
        out["accounts"] = np.array([_account_count(con, agreement_id, party) for party in parties], dtype=np.int64)
        return out

    # -- the whole agreement -----------------------------------------------------------------

    def counts(self, agreement_id: str) -> dict[str, int]:
        """Rows held per table, for the audit entry of a deletion and for tests."""
        with self._db.reading() as con:
            return _counts(con, agreement_id)

    @staticmethod
    def purge(con: Tx, agreement_id: str, with_noise: bool = False) -> dict[str, int]:
        """Delete every standing row of an agreement; returns what went. The DP tree's node noise goes only
        ``with_noise`` (revocation): while releases go on, a node once drawn is never drawn again, or a party
        could have released noise redrawn and average it away; nor do the tokens that left the DP stream."""
        held = _counts(con, agreement_id)
        tables = ["standing_tokens", "standing_accounts", "standing_pairs", "standing_sides"]
        for table in tables + (["dp_tree_nodes", "dp_spent_tokens", "dp_token_events"] if with_noise else []):
            done(con, f"DELETE FROM {table} WHERE agreement_id = ?", [agreement_id])
        return held

    # -- continual DP --------------------------------------------------------------------------

    def tree_nodes(self, agreement_id: str) -> dict[tuple[int, int], list[int]]:
        with self._db.reading() as con:
            found = con.execute("SELECT level, idx, noise FROM dp_tree_nodes WHERE agreement_id = ?", [agreement_id]).fetchall()
        return {(int(level), int(idx)): json.loads(noise) for level, idx, noise in found}

    @staticmethod
    def insert_tree_nodes(con: Tx, agreement_id: str, nodes: dict[tuple[int, int], list[int]]) -> None:
        for (level, idx), noise in nodes.items():
            done(
                con,
                "INSERT INTO dp_tree_nodes (agreement_id, level, idx, noise) VALUES (?, ?, ?, ?)",
                [agreement_id, level, idx, json.dumps(noise)],
            )

    # -- upload changes ----------------------------------------------------------------------

    def changes(self, upload_id: str) -> UploadChanges | None:
        return self._db.record(UploadChanges, "FROM upload_changes WHERE upload_id = ?", [upload_id])

    @staticmethod
    def insert_changes(con: Tx, upload_id: str, changes: UploadChanges) -> None:
        done(
            con,
            "INSERT INTO upload_changes (upload_id, base_run_id, secret_tag, removed, changed_labels, changed_populations) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [upload_id, *astuple(changes)],
        )


def _held_rows(con: Tx, table: str, agreement_id: str, party: str, tokens: pa.Table) -> np.ndarray:
    """The rows of ``tokens`` that the side's rows of ``table`` (a table of t0..t3 words) hold."""
    asked = tokens.append_column("row", pa.array(np.arange(tokens.num_rows, dtype=np.int64)))
    con.register("asked_tokens", asked)
    try:
        found = con.execute(
            f"""SELECT DISTINCT n.row FROM asked_tokens n JOIN {table} s
                ON n.t0 = s.t0 AND n.t1 = s.t1 AND n.t2 = s.t2 AND n.t3 = s.t3
                WHERE s.agreement_id = ? AND s.party = ?""",
            [agreement_id, party],
        ).fetchnumpy()
    finally:
        con.unregister("asked_tokens")
    return np.asarray(found["row"], dtype=np.int64)


def _insert_pairs(con: Tx, agreement_id: str, parties: tuple[str, str], pairs: str) -> None:
    """Insert the pairs a query gives (``a_label``, ``b_label``), with both accounts' masks."""
    done(
        con,
        f"""INSERT INTO standing_pairs (agreement_id, a_label, b_label, a_mask, b_mask)
            SELECT $1, p.a_label, p.b_label, ma.populations, mb.populations FROM ({pairs}) p
            JOIN standing_accounts ma ON ma.agreement_id = $1 AND ma.party = $2 AND ma.label = p.a_label
            JOIN standing_accounts mb ON mb.agreement_id = $1 AND mb.party = $3 AND mb.label = p.b_label""",
        [agreement_id, *parties],
    )


def _matched(x: str, y: str, where: str = "true") -> str:
    """The pairs (``a_label``, ``b_label``) of equal A tokens ``x`` and B tokens ``y``."""
    return f"""SELECT DISTINCT x.label AS a_label, y.label AS b_label FROM {x} x JOIN {y} y
               ON x.t0 = y.t0 AND x.t1 = y.t1 AND x.t2 = y.t2 AND x.t3 = y.t3 WHERE {where}"""


def _fill_pair_masks(con: Tx, agreement_id: str, parties: tuple[str, str]) -> None:
    """Pairs a store held before pairs carried masks (migration 20 adds them empty) are given theirs, once:
    rewritten whole, which DuckDB does far faster than updating 250,000 rows in place."""
    (missing,) = con.execute(
        "SELECT count(*) FROM standing_pairs WHERE agreement_id = ? AND (a_mask IS NULL OR b_mask IS NULL)", [agreement_id]
    ).fetchall()[0]
    if not missing:
        return
    done(con, "CREATE TEMP TABLE old_pairs AS SELECT a_label, b_label FROM standing_pairs WHERE agreement_id = ?", [agreement_id])
    try:
        done(con, "DELETE FROM standing_pairs WHERE agreement_id = ?", [agreement_id])
        _insert_pairs(con, agreement_id, parties, "SELECT a_label, b_label FROM old_pairs")
    finally:
        done(con, "DROP TABLE old_pairs")


def done(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> None:
    """Run a statement and finish its result: DuckDB refuses to unregister a table under an unfinished one."""
    con.execute(sql, params or []).fetchall()


def _account_count(con: duckdb.DuckDBPyConnection, agreement_id: str, party: str) -> int:
    found = con.execute(
        "SELECT count(*) FROM standing_accounts WHERE agreement_id = ? AND party = ?", [agreement_id, party]
    ).fetchall()
    return int(found[0][0])


def _counts(con: duckdb.DuckDBPyConnection, agreement_id: str) -> dict[str, int]:
    out = {}
    for table, key in (("standing_tokens", "tokens"), ("standing_accounts", "accounts"), ("standing_pairs", "pairs")):
        found = con.execute(f"SELECT count(*) FROM {table} WHERE agreement_id = ?", [agreement_id]).fetchall()[0]
        out[key] = int(found[0]) if found else 0
    return out
