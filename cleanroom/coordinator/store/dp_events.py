"""A continuous agreement's DP event budget per standing token (cleanroom.coordinator.standing._dp_budget).

Under DP each token may enter the stream, move and leave a bounded number of times: which tokens left a
side (``dp_spent_tokens``), and how many events each has used (``dp_token_events``). Functions of the
completion's transaction, as store/standing.py's writes are.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cleanroom.coordinator.store.connection import Tx
from cleanroom.coordinator.store.standing import done, label_table


def spend_leaving(con: Tx, agreement_id: str, party: str, labels: np.ndarray | None, arriving: pa.Table) -> None:
    """Record the tokens about to leave a side: those of ``labels`` (every token, for a side being replaced)
    that do not arrive again in the same upload (a key moving from one account to another stays)."""
    if labels is not None and len(labels) == 0:
        return
    con.register("leaving", label_table(labels if labels is not None else np.zeros(0, np.uint32)))
    con.register("arriving", arriving)
    chosen = "" if labels is None else "AND label IN (SELECT label FROM leaving)"
    try:
        done(
            con,
            f"""INSERT INTO dp_spent_tokens SELECT agreement_id, party, t0, t1, t2, t3 FROM standing_tokens s
                WHERE agreement_id = ? AND party = ? {chosen} AND NOT EXISTS (
                    SELECT 1 FROM arriving a WHERE a.t0 = s.t0 AND a.t1 = s.t1 AND a.t2 = s.t2 AND a.t3 = s.t3)""",
            [agreement_id, party],
        )
    finally:
        con.unregister("leaving")
        con.unregister("arriving")


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


def count_events(con: Tx, agreement_id: str, party: str, tokens: pa.Table | None, labels: np.ndarray | None) -> None:
    """One more event for each of ``tokens`` (t0..t3) and each standing token of ``labels``."""
    if labels is not None and len(labels):
        con.register("event_labels", label_table(labels))
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
        done(
            con,
            """CREATE TEMP TABLE counted AS SELECT n.t0, n.t1, n.t2, n.t3, coalesce(max(e.events), 0) + 1 AS events
               FROM event_tokens n LEFT JOIN dp_token_events e ON e.agreement_id = ? AND e.party = ?
                 AND e.t0 = n.t0 AND e.t1 = n.t1 AND e.t2 = n.t2 AND e.t3 = n.t3
               GROUP BY n.t0, n.t1, n.t2, n.t3""",
            [agreement_id, party],
        )
        done(
            con,
            """DELETE FROM dp_token_events USING counted c WHERE dp_token_events.agreement_id = ?
               AND dp_token_events.party = ? AND dp_token_events.t0 = c.t0 AND dp_token_events.t1 = c.t1
               AND dp_token_events.t2 = c.t2 AND dp_token_events.t3 = c.t3""",
            [agreement_id, party],
        )
        done(con, "INSERT INTO dp_token_events SELECT ?, ?, t0, t1, t2, t3, events FROM counted", [agreement_id, party])
        done(con, "DROP TABLE counted")
    finally:
        con.unregister("event_tokens")
