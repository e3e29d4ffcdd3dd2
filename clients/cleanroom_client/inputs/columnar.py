"""A clean CSV file's accounts straight from its rows' records, as columns (account_table.AccountTable).

The same accounts ``accounts.load_accounts`` builds row by row: rows that share a key are one
account (any shared key merges, transitively; the earliest row represents it), accounts in
first-row order, rejected rows with their reasons. Here the grouping is a min-label propagation
over integer key codes (NumPy), which reaches the union-find's groups and roots at its fixed point,
and only the rows of merged accounts become Python objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom_client.inputs.account_table import AccountTable, Rows
from cleanroom_client.inputs.arrowcsv import ArrowCsv
from cleanroom_client.inputs.rowdigest import digest_columns, row_digests
from cleanroom_client.inputs.rowkeys import Rejected
from cleanroom_client.inputs.rowoutcomes import RowOutcomes, rows_of


def load_table(csv: ArrowCsv, outcomes: RowOutcomes, name_column: int | None) -> tuple[AccountTable, list[Rejected], int]:
    """The file's accounts, its rejected rows and its row count; only rows the cache misses are normalised.

    Keeps only the cells normalisation reads and the name (``csv.table`` loses the other columns).
    """
    where = digest_columns(outcomes.columns)
    digests = row_digests([csv.table.column(i) for i in where], outcomes.salt)
    width = csv.table.num_columns
    used = sorted({*where, *([] if name_column is None else [name_column])})
    table = csv.table = csv.table.select(used)
    records = outcomes.digested_records(digests, lambda at: rows_of(table, at, used, width))
    names = table.column(used.index(name_column)).combine_chunks() if name_column is not None else None
    accounts, rejected = accounts_of(records, names)
    return accounts, rejected, records.num_rows


def accounts_of(records: pa.Table, names: pa.Array | None) -> tuple[AccountTable, list[Rejected]]:
    """Accounts of rows' records (rowcache.RECORDS, in row order) and their raw name cells; the rejected rows."""
    domain = records.column("domain").combine_chunks()
    name_key = records.column("name").combine_chunks()
    text = records.column("text").combine_chunks()
    has_domain, has_name = _non_empty(domain), _non_empty(name_key)
    accepted = has_domain | has_name
    refused = np.flatnonzero(~accepted)
    reasons = text.take(pa.array(refused, type=pa.int64())).to_pylist()
    rejected = [Rejected(row + 1, why) for row, why in zip(refused.tolist(), reasons, strict=True)]
    kept = np.flatnonzero(accepted)
    picked = pa.array(kept, type=pa.int64())
    populations = pc.dictionary_encode(text.take(picked))
    rows = Rows(
        kept + 1,
        domain.take(picked),
        name_key.take(picked),
        names.take(picked) if names is not None else None,
        populations.indices.to_numpy(zero_copy_only=False).astype(np.int32),
    )
    keys = [_codes(rows.domains, has_domain[kept])]
    if has_name.any():
        keys.append(_codes(rows.name_keys, has_name[kept]))
    roots = group_roots(keys, len(kept))
    first = np.flatnonzero(roots == np.arange(len(kept)))  # each account's first row, ascending
    size = np.bincount(roots, minlength=len(kept))
    several = size[first] > 1
    members = np.flatnonzero(size[roots] > 1)
    members = members[np.argsort(roots[members], kind="stable")]  # grouped by account, each in row order
    table = AccountTable(
        first=rows.take(first),
        population_words=populations.dictionary.to_pylist(),
        merged=np.flatnonzero(several),
        starts=np.concatenate([[0], np.cumsum(size[first[several]])]).astype(np.int64),
        members=rows.take(members),
    )
    return table, rejected


def group_roots(keys: Sequence[np.ndarray], count: int) -> np.ndarray:
    """For each of ``count`` rows, the first row of its group: rows sharing a code in any of ``keys``
    (int64 per row, -1 for none), transitively. Each pass gives every row the smallest label among the
    rows it shares a key with; at the fixed point each group carries its smallest row, as the union-find
    (cleanroom.unionfind) roots it."""
    label = np.arange(count, dtype=np.int64)
    while True:
        new = label.copy()
        for codes in keys:
            has = codes >= 0
            held = codes[has]
            if not len(held):
                continue
            smallest = np.full(int(held.max()) + 1, count, dtype=np.int64)
            np.minimum.at(smallest, held, label[has])
            new[has] = np.minimum(new[has], smallest[held])
        if np.array_equal(new, label):
            return label
        label = new


def _non_empty(column: pa.Array) -> np.ndarray:
    return pc.greater(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)


def _codes(column: pa.Array, present: np.ndarray) -> np.ndarray:
    """An integer per distinct value (-1 where ``present`` is false)."""
    codes = pc.dictionary_encode(column).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes[~present] = -1
    return codes
