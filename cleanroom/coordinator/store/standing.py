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


def _label_table(labels: np.ndarray) -> pa.Table:
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
        _done(con, "DELETE FROM standing_sides WHERE agreement_id = ? AND party = ?", [side.agreement_id, side.party])
        _done(
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
            con.register("asked_labels", _label_table(labels))
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
            _done(con, f"DELETE FROM {table} WHERE agreement_id = ? AND party = ?", [agreement_id, party])
        _done(con, "DELETE FROM standing_pairs WHERE agreement_id = ?", [agreement_id])

    @staticmethod
    def remove_labels(con: Tx, agreement_id: str, party: str, labels: np.ndarray, a_side: bool) -> None:
        if len(labels) == 0:
            return
        con.register("removed_labels", _label_table(labels))
        try:
            for table in _TABLES:
                _done(
                    con,
                    f"DELETE FROM {table} WHERE agreement_id = ? AND party = ? AND label IN (SELECT label FROM removed_labels)",
                    [agreement_id, party],
                )
            column = "a_label" if a_side else "b_label"
            _done(
                con,
                f"DELETE FROM standing_pairs WHERE agreement_id = ? AND {column} IN (SELECT label FROM removed_labels)",
                [agreement_id],
            )
        finally:
            con.unregister("removed_labels")

    @staticmethod
    def spend_leaving(con: Tx, agreement_id: str, party: str, labels: np.ndarray | None, arriving: pa.Table) -> None:
        """Record the tokens about to leave a side: those of ``labels`` (every token, for a side being replaced)
        that do not arrive again in the same upload (a key moving from one account to another stays)."""
        if labels is not None and len(labels) == 0:
            return
        con.register("leaving", _label_table(labels if labels is not None else np.zeros(0, np.uint32)))
        con.register("arriving", arriving)
        chosen = "" if labels is None else "AND label IN (SELECT label FROM leaving)"
        try:
            _done(
                con,
                f"""INSERT INTO dp_spent_tokens SELECT agreement_id, party, t0, t1, t2, t3 FROM standing_tokens s
                    WHERE agreement_id = ? AND party = ? {chosen} AND NOT EXISTS (
                        SELECT 1 FROM arriving a WHERE a.t0 = s.t0 AND a.t1 = s.t1 AND a.t2 = s.t2 AND a.t3 = s.t3)""",
                [agreement_id, party],
            )
        finally:
            con.unregister("leaving")
            con.unregister("arriving")

    @staticmethod
    def spent_among(con: Tx, agreement_id: str, party: str, tokens: pa.Table) -> np.ndarray:
        """Which of ``tokens`` (a bool per row) left the side earlier in the agreement's DP stream."""
        spent = np.zeros(tokens.num_rows, dtype=bool)
        spent[_held_rows(con, "dp_spent_tokens", agreement_id, party, tokens)] = True
        return spent

    @staticmethod
    def arriving_events(con: Tx, agreement_id: str, party: str, arriving: pa.Table) -> dict[str, np.ndarray]:
        """For each row of ``arriving`` (t0..t3, label, mask): whether it left the stream before (``spent``),
        the label and mask it stands under now (``old_label`` -1 when it does not stand) and the events it has
        used (``events``)."""
        asked = arriving.append_column("row", pa.array(np.arange(arriving.num_rows, dtype=np.int64)))
        con.register("arriving_tokens", asked)
        same = "a.t0 = {x}.t0 AND a.t1 = {x}.t1 AND a.t2 = {x}.t2 AND a.t3 = {x}.t3"
        try:
            found = con.execute(
                f"""SELECT a.row, sp.t0 IS NOT NULL AS spent, coalesce(o.label, -1) AS old_label,
                           coalesce(o.mask, 0) AS old_mask, coalesce(e.events, 0) AS events
                    FROM arriving_tokens a
                    LEFT JOIN (SELECT * FROM dp_spent_tokens WHERE agreement_id = $1 AND party = $2) sp ON {same.format(x="sp")}
                    LEFT JOIN (SELECT t.t0, t.t1, t.t2, t.t3, t.label, s.populations AS mask
                               FROM standing_tokens t JOIN standing_accounts s
                                 ON t.agreement_id = s.agreement_id AND t.party = s.party AND t.label = s.label
                               WHERE t.agreement_id = $1 AND t.party = $2) o ON {same.format(x="o")}
                    LEFT JOIN (SELECT * FROM dp_token_events WHERE agreement_id = $1 AND party = $2) e ON {same.format(x="e")}
                    ORDER BY a.row""",
                [agreement_id, party],
            ).fetchnumpy()
        finally:
            con.unregister("arriving_tokens")
        return {k: np.asarray(v) for k, v in found.items()}

    @staticmethod
    def label_events(con: Tx, agreement_id: str, party: str, labels: np.ndarray) -> np.ndarray:
        """The most events any standing token of each of ``labels`` has used (in the order given)."""
        con.register("asked_labels", pa.table({"label": labels.astype(np.uint32), "at": np.arange(len(labels))}))
        try:
            found = con.execute(
                """SELECT l.at, max(coalesce(e.events, 0)) AS events FROM asked_labels l
                   JOIN standing_tokens t ON t.label = l.label AND t.agreement_id = $1 AND t.party = $2
                   LEFT JOIN dp_token_events e ON e.agreement_id = $1 AND e.party = $2
                     AND e.t0 = t.t0 AND e.t1 = t.t1 AND e.t2 = t.t2 AND e.t3 = t.t3
                   GROUP BY l.at ORDER BY l.at""",
                [agreement_id, party],
            ).fetchnumpy()
        finally:
            con.unregister("asked_labels")
        events = np.zeros(len(labels), dtype=np.int64)
        events[np.asarray(found["at"], dtype=np.int64)] = np.asarray(found["events"], dtype=np.int64)
        return events

    @staticmethod
    def count_events(con: Tx, agreement_id: str, party: str, tokens: pa.Table | None, labels: np.ndarray | None) -> None:
        """One more event for each of ``tokens`` (t0..t3) and each standing token of ``labels``."""
        if labels is not None and len(labels):
            con.register("event_labels", _label_table(labels))
            try:
                words = con.execute(
                    """SELECT t0, t1, t2, t3 FROM standing_tokens WHERE agreement_id = ? AND party = ?
                       AND label IN (SELECT label FROM event_labels)""",
                    [agreement_id, party],
                ).fetchnumpy()
            finally:
                con.unregister("event_labels")
            found = pa.table({k: np.asarray(words[k], dtype=np.uint64) for k in ("t0", "t1", "t2", "t3")})
            tokens = found if tokens is None else pa.concat_tables([tokens.select(["t0", "t1", "t2", "t3"]), found])
        if tokens is None or tokens.num_rows == 0:
            return
        con.register("event_tokens", tokens.select(["t0", "t1", "t2", "t3"]))
        try:
            _done(
                con,
                """CREATE TEMP TABLE counted AS SELECT n.t0, n.t1, n.t2, n.t3, coalesce(max(e.events), 0) + 1 AS events
                   FROM event_tokens n LEFT JOIN dp_token_events e ON e.agreement_id = ? AND e.party = ?
                     AND e.t0 = n.t0 AND e.t1 = n.t1 AND e.t2 = n.t2 AND e.t3 = n.t3
                   GROUP BY n.t0, n.t1, n.t2, n.t3""",
                [agreement_id, party],
            )
            _done(
                con,
                """DELETE FROM dp_token_events USING counted c WHERE dp_token_events.agreement_id = ?
                   AND dp_token_events.party = ? AND dp_token_events.t0 = c.t0 AND dp_token_events.t1 = c.t1
                   AND dp_token_events.t2 = c.t2 AND dp_token_events.t3 = c.t3""",
                [agreement_id, party],
            )
            _done(con, "INSERT INTO dp_token_events SELECT ?, ?, t0, t1, t2, t3, events FROM counted", [agreement_id, party])
            _done(con, "DROP TABLE counted")
        finally:
            con.unregister("event_tokens")

    @staticmethod
    def set_masks(con: Tx, agreement_id: str, party: str, labels: np.ndarray, masks: np.ndarray) -> None:
        if len(labels) == 0:
            return
        con.register("changed_masks", pa.table({"label": labels.astype(np.uint32), "populations": masks.astype(np.uint16)}))
        try:
            _done(
                con,
                """UPDATE standing_accounts SET populations = c.populations FROM changed_masks c
                   WHERE standing_accounts.agreement_id = ? AND standing_accounts.party = ?
                     AND standing_accounts.label = c.label""",
                [agreement_id, party],
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
            _done(con, "INSERT INTO standing_tokens SELECT ?, ?, t0, t1, t2, t3, label FROM new_tokens", [agreement_id, party])
            _done(con, "INSERT INTO standing_accounts SELECT ?, ?, label, populations FROM new_accounts", [agreement_id, party])
        finally:
            con.unregister("new_tokens")
            con.unregister("new_accounts")

    @staticmethod
    def match_new(con: Tx, agreement_id: str, parties: tuple[str, str], new_a: pa.Table | None, new_b: pa.Table | None) -> None:
        """Add the pairs the new tokens make: every pair when both are None (a side was replaced), else new
        A tokens against all of B and all of A against new B tokens (both sides already updated)."""
        a, b = parties
        pairs = """INSERT INTO standing_pairs SELECT DISTINCT ?, x.label, y.label FROM {x} x JOIN {y} y
                   ON x.t0 = y.t0 AND x.t1 = y.t1 AND x.t2 = y.t2 AND x.t3 = y.t3 WHERE {where}"""
        side = "(SELECT t0, t1, t2, t3, label FROM standing_tokens WHERE agreement_id = ? AND party = ?)"
        if new_a is None and new_b is None:
            _done(con, pairs.format(x=side, y=side, where="true"), [agreement_id, agreement_id, a, agreement_id, b])
            return
        con.register("new_a", new_a if new_a is not None else token_table(b"", np.zeros(0, np.uint32)))
        con.register("new_b", new_b if new_b is not None else token_table(b"", np.zeros(0, np.uint32)))
        try:
            # New on A x all B, then old A x new B (new A x new B was in the first statement already).
            _done(con, pairs.format(x="new_a", y=side, where="true"), [agreement_id, agreement_id, b])
            _done(
                con,
                pairs.format(x=side, y="new_b", where="x.label NOT IN (SELECT label FROM new_a)"),
                [agreement_id, agreement_id, a],
            )
        finally:
            con.unregister("new_a")
            con.unregister("new_b")

    @staticmethod
    def pair_masks(con: Tx, agreement_id: str, parties: tuple[str, str]) -> dict[str, np.ndarray]:
        """Every matched pair (``a_label``, ``b_label``, sorted) with both accounts' population masks (``a_mask``,
        ``b_mask``), and each side's account count (``accounts``): the join reads the pairs' accounts only."""
        found = con.execute(
            """SELECT p.a_label, p.b_label, x.populations AS a_mask, y.populations AS b_mask FROM standing_pairs p
               JOIN standing_accounts x ON x.agreement_id = p.agreement_id AND x.party = $2 AND x.label = p.a_label
               JOIN standing_accounts y ON y.agreement_id = p.agreement_id AND y.party = $3 AND y.label = p.b_label
               WHERE p.agreement_id = $1 ORDER BY p.a_label, p.b_label""",
            [agreement_id, *parties],
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
            _done(con, f"DELETE FROM {table} WHERE agreement_id = ?", [agreement_id])
        return held

    # -- continual DP --------------------------------------------------------------------------

    def tree_nodes(self, agreement_id: str) -> dict[tuple[int, int], list[int]]:
        with self._db.reading() as con:
            found = con.execute("SELECT level, idx, noise FROM dp_tree_nodes WHERE agreement_id = ?", [agreement_id]).fetchall()
        return {(int(level), int(idx)): json.loads(noise) for level, idx, noise in found}

    @staticmethod
    def insert_tree_nodes(con: Tx, agreement_id: str, nodes: dict[tuple[int, int], list[int]]) -> None:
        for (level, idx), noise in nodes.items():
            _done(
                con,
                "INSERT INTO dp_tree_nodes (agreement_id, level, idx, noise) VALUES (?, ?, ?, ?)",
                [agreement_id, level, idx, json.dumps(noise)],
            )

    # -- upload changes ----------------------------------------------------------------------

    def changes(self, upload_id: str) -> UploadChanges | None:
        return self._db.record(UploadChanges, "FROM upload_changes WHERE upload_id = ?", [upload_id])

    @staticmethod
    def insert_changes(con: Tx, upload_id: str, changes: UploadChanges) -> None:
        _done(
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


def _done(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> None:
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
