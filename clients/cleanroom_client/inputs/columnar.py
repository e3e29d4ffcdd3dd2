"""A clean CSV file's accounts straight from its rows' records, as columns (account_table.AccountTable).

The same accounts ``accounts.load_accounts`` builds row by row: rows that share a key are one
account (any shared key merges, transitively; the earliest row represents it), accounts in
first-row order, rejected rows with their reasons. Here rows are grouped by their domain identity
(one sort), and where name keys chain domains together by a min-label propagation over integer key
codes (NumPy), which reaches the union-find's groups and roots at its fixed point. No row becomes a
Python object, and no string is copied: the records' cells stay where they are (records.py).

A clean CSV file is read by lines where it can be (``load_lines``, csvlines.py): only lines the row
cache has not seen are parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom.terminal.malloc_arenas import trim_heap
from cleanroom_client.inputs.account_ids import ID_SIZE, id_words
from cleanroom_client.inputs.account_table import AccountTable, RejectedRows, Rows
from cleanroom_client.inputs.arrowcsv import ArrowCsv, read_clean_csv
from cleanroom_client.inputs.csvlines import CsvLines, NotByLines
from cleanroom_client.inputs.readers import Row
from cleanroom_client.inputs.records import Picked, joined, row_cells
from cleanroom_client.inputs.rowdigest import digest_columns, row_digests
from cleanroom_client.inputs.rowoutcomes import RowOutcomes, rows_of

# More of a file's lines than this new (a first read, a changed header): it is parsed whole, from its path.
WHOLE_READ_SHARE = 0.25


def load_table(csv: ArrowCsv, outcomes: RowOutcomes, name_column: int | None) -> tuple[AccountTable, RejectedRows, int]:
    """The file's accounts, its rejected rows and its row count; only rows the cache misses are normalised.

    ``csv.table`` is emptied once its cells are read (the peak of a million-row read: 798 -> 738 MB).
    """
    where = digest_columns(outcomes.columns)
    digests = row_digests([csv.table.column(i) for i in where], outcomes.salt)
    width = csv.table.num_columns
    used = sorted({*where, *([] if name_column is None else [name_column])})
    table = csv.table = csv.table.select(used)
    parts, rows = outcomes.digested_records(digests, lambda at: rows_of(table, at, used, width))
    # The file's cells are not read again: let them go before the accounts are built and the cache is saved.
    csv.table = table = table.slice(0, 0)
    accounts, rejected = accounts_of(parts, rows, name_column is not None)
    return accounts, rejected, len(rows)


def load_lines(lines: CsvLines, outcomes: RowOutcomes) -> tuple[AccountTable, RejectedRows, int]:
    """``load_table`` for a file read by lines: only lines the row cache has not seen are parsed. Raises
    csvlines.NotByLines, before the row cache is saved, when one of them is not a clean row; saves it
    (``outcomes.finish``) otherwise. The file's bytes are let go once they are read."""
    columns = outcomes.columns
    where = digest_columns(columns)
    read = sorted({0, *where})  # the columns a parse returns, in this order

    def parse(at: np.ndarray) -> tuple[np.ndarray, Callable[[list[int]], Sequence[Row]]]:
        table = _parsed(lines, at, where)
        digests = row_digests([table.column(read.index(i)) for i in where], outcomes.salt)
        return digests, lambda rows: rows_of(table, rows, read, len(columns.names))

    parts, rows = outcomes.lined_records(lines.digests(), lines.header_digest, parse)
    lines.release()
    if outcomes.normalised > WHOLE_READ_SHARE * len(lines):
        trim_heap()  # a cold read: the millions of rows normalised leave the arenas holding ~50 MB free
    outcomes.finish()  # before the accounts exist: the cache's copies of the records then do not add to them
    accounts, rejected = accounts_of(parts, rows, columns.name_column is not None)
    return accounts, rejected, len(rows)


def _parsed(lines: CsvLines, at: np.ndarray, where: Sequence[int]) -> pa.Table:
    """The lines at ``at`` parsed (``CsvLines.parse``'s columns). Most of a file (a first read): the whole file
    by arrowcsv, once its bytes are let go, and only if it is still the file they were."""
    if len(at) <= WHOLE_READ_SHARE * len(lines):
        table = lines.parse(at, where)
        lines.release()
        return table
    lines.release()
    csv = read_clean_csv(lines.path, lambda names: where)
    if csv is None or csv.columns != lines.columns or csv.table.num_rows != len(lines) or not lines.unchanged():
        raise NotByLines("the file changed while it was read, or is not clean")
    table = csv.table.select(sorted({0, *where}))
    return table if len(at) == len(lines) else table.take(pa.array(at, type=pa.int64()))


def accounts_of(parts: Sequence[Picked], rows: np.ndarray, has_names: bool) -> tuple[AccountTable, RejectedRows]:
    """Accounts of rows' records (rowcache.RECORDS, picked in ``parts``, of the 0-based ``rows``: each row of the
    file once, in any order), with their name cells where the file has a name column; the rejected rows, in row
    order. Built from the records' fixed-width values: their string cells stay where they are until asked for
    (records.py)."""
    ids = joined([part.domain_ids() for part in parts], f"S{ID_SIZE}")
    has_domain = joined([part.non_empty("domain") for part in parts], bool)
    has_name = joined([part.non_empty("name") for part in parts], bool)
    codes, words = _text_codes(parts)
    cells = row_cells(parts)
    accepted = has_domain | has_name
    record_of_row = np.empty(len(rows), dtype=np.int64)
    record_of_row[rows] = np.arange(len(rows))
    refused = _in_row_order(~accepted, record_of_row)
    rejected = RejectedRows(rows[refused] + 1, codes[refused], words)
    # Each record's group, by the row its account starts at. One domain, one identity: the domain's digest
    # tells domains apart. Name keys too: any shared key merges, transitively.
    domains, label, by_identity = identity_groups(ids, has_domain, rows)
    name_keyed = bool(has_name.any())
    if name_keyed:
        label = group_roots([domains, _codes(cells.column("name"), has_name)], rows)
    first = _in_row_order(accepted & (label == rows), record_of_row)  # accounts in first-row order
    size = np.bincount(label[accepted], minlength=len(rows))
    several = size[rows[first]] > 1
    members = np.flatnonzero(accepted & (size[label] > 1))
    members = members[np.lexsort((rows[members], label[members]))]  # grouped by account, each in row order

    def of(at: np.ndarray) -> Rows:
        return Rows(rows[at] + 1, codes[at], ids[at], cells.take(at), has_names)

    id_order = None
    if not name_keyed:  # each account is the records of one identity: its first record's place in their sort
        account_of = np.full(len(rows), -1, dtype=np.int64)
        account_of[first] = np.arange(len(first))
        placed = account_of[by_identity]
        id_order = placed[placed >= 0]

    table = AccountTable(
        first=of(first),
        population_words=words,
        merged=np.flatnonzero(several),
        starts=np.concatenate([[0], np.cumsum(size[rows[first[several]]])]).astype(np.int64),
        members=of(members),
        name_keyed=name_keyed,
        id_order=id_order,
    )
    return table, rejected


def _in_row_order(chosen: np.ndarray, record_of_row: np.ndarray) -> np.ndarray:
    """The records ``chosen`` (a bool per record), in the order of their rows: read off the rows in order, not
    sorted (rows are each row of the file once; a sort of a million cost 0.06 s)."""
    return record_of_row[chosen[record_of_row]]


def group_roots(keys: Sequence[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """For each record, the smallest of ``labels`` (distinct integers, e.g. row numbers) in its group:
    records sharing a code in any of ``keys`` (int64 per record, -1 for none), transitively. Each pass
    gives every record the smallest label among the records it shares a key with; at the fixed point each
    group carries its smallest, as the union-find (cleanroom.unionfind) roots it."""
    label = np.asarray(labels, dtype=np.int64).copy()
    ceiling = int(label.max()) + 1 if len(label) else 0
    while True:
        new = label.copy()
        for codes in keys:
            has = codes >= 0
            held = codes[has]
            if not len(held):
                continue
            smallest = np.full(int(held.max()) + 1, ceiling, dtype=np.int64)
            np.minimum.at(smallest, held, label[has])
            new[has] = np.minimum(new[has], smallest[held])
        if np.array_equal(new, label):
            return label
        label = new


def _codes(column: pa.Array, present: np.ndarray) -> np.ndarray:
    """An integer per distinct value (-1 where ``present`` is false)."""
    codes = pc.dictionary_encode(column).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes[~present] = -1
    return codes


def identity_groups(ids: np.ndarray, present: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For records of 16-byte identities (``present`` where they have one): an integer per distinct identity
    (-1 where none); each record's smallest of ``labels`` among the records of its identity (``group_roots``
    of these codes alone); and the records that have one, sorted by it (by its first 8 bytes as a big-endian
    integer, as protocol.continuous searches identities). By one sort of those 8 bytes: a hash of a million
    16-byte values cost three times as much."""
    at = np.flatnonzero(present)
    prefix = id_words(ids)[:, 0]
    present_prefix = prefix[at]
    by_prefix = np.argsort(present_prefix, kind="stable")
    order, ordered = at[by_prefix], present_prefix[by_prefix]
    held = ids[order]
    tie = ordered[1:] == ordered[:-1]
    if not (held[1:][tie] == held[:-1][tie]).all():  # two identities share their first 8 bytes: sort on all 16
        order = at[np.lexsort((id_words(ids[at])[:, 1], present_prefix))]
        held = ids[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = held[1:] != held[:-1]
    codes = np.full(len(ids), -1, dtype=np.int64)
    codes[order] = np.cumsum(starts) - 1
    label = np.asarray(labels, dtype=np.int64).copy()
    if len(order):
        first = np.flatnonzero(starts)
        label[order] = np.repeat(np.minimum.reduceat(label[order], first), np.diff(np.append(first, len(order))))
    return codes, label, order


def _text_codes(parts: Sequence[Picked]) -> tuple[np.ndarray, list[str]]:
    """One code per record for its text (population, or why it was rejected), and the texts."""
    words: dict[str, int] = {}
    codes = []
    for part in parts:
        indices, texts = part.texts()
        ours = np.array([words.setdefault(w, len(words)) for w in texts], dtype=np.int32)
        codes.append(ours[indices] if len(ours) else np.zeros(0, np.int32))
    return joined(codes, np.int32), list(words)
